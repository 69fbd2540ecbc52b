# The two commands of a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: test fmt-check clippy build unit terraform demo demo-destroy clean

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

clean:
	$(CARGO) clean
	rm -rf .tools demo
