# Hookline: the two commands are `make run` and `make test`. Both need only Rust and Python 3.

PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
export SAM_CLI_TELEMETRY := 0

.PHONY: run test venv lint-template bench clean

## make run: local stack (moto + resources from template.yaml) and the API on 127.0.0.1:8080
run: venv
	cargo run -p hookline-local --bin hookline-local

## make test: format, lints, unit and integration tests (against a moto server), template checks
test: venv
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	cargo test --workspace --locked
	$(MAKE) lint-template

lint-template: venv $(SAM_VENV)/.installed
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM_VENV)/bin/sam validate --lint -t template.yaml --region us-east-1

venv: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet -r requirements-sam.txt
	touch $@

clean:
	cargo clean
	rm -rf $(VENV) $(SAM_VENV)

## make bench: the delivery function's figures (release binary, moto, loopback receiver)
BENCH_DELIVERIES ?= 2000
bench: venv
	cargo build --release -p hookline-delivery --bin hookline-delivery
	cargo run -p hookline-local --bin hookline-bench -- --deliveries $(BENCH_DELIVERIES)
