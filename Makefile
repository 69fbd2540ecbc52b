# The two commands of a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: test test-pinned test-postgres postgres openssl browser fmt-check clippy build docs terraform bench demo demo-destroy demo-stop clean

# Every test in the workspace with the Terraform found (see tools/ensure-terraform.sh)
# on the default SQLite engine, the registry's API suite again on PostgreSQL, then
# the Terraform-driven tests again on the pinned 1.15.5 when that is another one
# (with the Terraform 1.14+ tests, which run on the pinned 1.15.5 only).
# Ends with one line counting every test of all runs.
TEST_LOG := target/make-test.log

test: fmt-check clippy build postgres openssl browser
	mkdir -p target && : > $(TEST_LOG)
	set -o pipefail; TERRAFORM="$$(tools/ensure-terraform.sh)" $(CARGO) test --workspace 2>&1 | tee -a $(TEST_LOG)
	set -o pipefail; $(MAKE) --no-print-directory test-postgres 2>&1 | tee -a $(TEST_LOG)
	set -o pipefail; if [ "$$(tools/ensure-terraform.sh)" != "$$(tools/ensure-terraform.sh --pinned)" ]; then \
		$(MAKE) --no-print-directory test-pinned 2>&1 | tee -a $(TEST_LOG); \
	else \
		$(CARGO) test -p acceptance-tests --test terraform_1_14 2>&1 | tee -a $(TEST_LOG); fi
	@awk '/^test result:/ { passed += $$4; failed += $$6 } END { printf "%d passed, %d failed\n", passed, failed }' $(TEST_LOG)

# The registry's API suite on PostgreSQL (a throwaway cluster the tests start).
test-postgres: postgres
	PARTNER_REGISTRY_TEST_ENGINE=postgres $(CARGO) test -p partner-registry --test api

# Installs Debian's PostgreSQL server programs when they are missing.
postgres:
	@tools/ensure-postgres.sh

# Debian's openssl CLI, which the tests make RSA keys with, when missing.
openssl:
	@tools/ensure-openssl.sh

# Debian's Chromium and the npm packages of the review console's browser test
# (tests/browser/, as package-lock.json pins them); Chromium only when missing.
browser:
	@tools/ensure-chromium.sh >/dev/null
	npm ci --prefix tests/browser --prefer-offline --no-audit --no-fund

# The acceptance tests once more on the pinned Terraform 1.15.5, whatever
# Terraform the machine has on its PATH, and the tests of what only
# Terraform 1.14+ has (identity, query, actions: the terraform_1_14 target,
# which fails on an older Terraform and so runs only here).
test-pinned: build openssl
	TERRAFORM="$$(tools/ensure-terraform.sh --pinned)" $(CARGO) test -p acceptance-tests -p terraform-provider-partner --tests
	TERRAFORM="$$(tools/ensure-terraform.sh --pinned)" $(CARGO) test -p acceptance-tests --test terraform_1_14

# Benchmarks, printed as one table (figure, value, the floor or ceiling it is
# compared with, ratio): introspection against a bare warp handler, creates
# with and without group commit, the registry at 100,000 clients, and plan,
# apply and destroy of partner_client against built-in terraform_data and
# against its schema served with no provider logic (examples/schema_only).
# Figures, not pass/fail; not part of `make test`.
bench:
	$(CARGO) build --workspace --bins --release
	$(CARGO) build --release -p terraform-provider-partner --example schema_only
	@set -o pipefail; { \
		echo "| figure | value | floor or ceiling | ratio |"; \
		echo "|---|---|---|---|"; \
		$(CARGO) bench -q -p partner-registry --bench introspect | grep '^| '; \
		$(CARGO) bench -q -p partner-registry --bench writes | grep '^| '; \
		$(CARGO) bench -q -p partner-registry --bench scale | grep '^| '; \
		TERRAFORM="$$(tools/ensure-terraform.sh)" $(CARGO) bench -q -p acceptance-tests --bench plan_scale | grep '^| '; \
	}

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p acceptance-tests --test terraform_1_14 -- -D warnings

build:
	$(CARGO) build --workspace --bins

# Regenerates docs/ from the schemas' descriptions, examples/ and templates/
# (a test fails while the committed pages differ).
docs:
	$(CARGO) run --quiet -p terraform-provider-partner --bin gen-docs

# Prints the Terraform CLI the tests use, installing it if there is none.
terraform:
	@tools/ensure-terraform.sh

# Builds, starts the registry, applies examples/quickstart with real Terraform.
demo:
	tools/demo.sh up

demo-destroy:
	tools/demo.sh destroy

demo-stop:
	tools/demo.sh stop

clean:
	$(CARGO) clean
	rm -rf .tools demo
