# The two commands of a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: test fmt-check clippy build terraform demo demo-destroy demo-stop clean

test: fmt-check clippy build
	TERRAFORM="$$(tools/ensure-terraform.sh)" $(CARGO) test --workspace

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

build:
	$(CARGO) build --workspace --bins

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
