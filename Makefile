# Hookline: the two commands are `make run` and `make test`. Both need only Rust and Python 3.

PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
export SAM_CLI_TELEMETRY := 0

.PHONY: run test venv browser lint-template bench cost clean

## make run: local stack (moto + resources from template.yaml) and the API on 127.0.0.1:8080
run: venv
	cargo run -p hookline-local --bin hookline-local

## make test: format, lints, unit and integration tests (against a moto server and headless
## Chromium for the console), template checks
test: venv browser
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	cargo test --workspace --locked
	$(MAKE) lint-template

lint-template: venv $(SAM_VENV)/.installed
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM_VENV)/bin/sam validate --lint -t template.yaml --region us-east-1

## Headless Chromium for the console's browser tests: Debian's packages, installed when missing
## (as root; otherwise the tests say what to install).
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing chromium and chromium-driver (Debian packages) for the console tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else \
	    echo "the console tests need chromium and chromium-driver: apt-get install chromium chromium-driver (as root)" >&2; \
	    exit 1; \
	  fi; \
	fi

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

## make bench: the delivery function's figures (release binary, moto, loopback receiver), then
## ingest + delivery together on the release api and delivery binaries (CPU µs per delivered
## event), then the cost lines of a short `make cost` run (BENCH_COST_EVENTS events)
BENCH_DELIVERIES ?= 2000
BENCH_COST_EVENTS ?= 200
bench: venv
	cargo build --release -p hookline-delivery --bin hookline-delivery -p hookline-api --bin hookline-api -p hookline-local --bin hookline-cost
	cargo run -p hookline-local --bin hookline-bench -- --deliveries $(BENCH_DELIVERIES)
	@echo; echo "cost ($(BENCH_COST_EVENTS) events; make cost for the table):"
	@out=$$(COST_EVENTS=$(BENCH_COST_EVENTS) COST_COMMON_EVENTS=$(BENCH_COST_EVENTS) cargo run -q --release -p hookline-local --bin hookline-cost 2>/dev/null) \
	  && printf '%s\n' "$$out" | tail -n 2

## make cost: $ per million deliveries at AWS list prices (local/prices.json), measured by
## running COST_EVENTS events of a realistic mix, and the common case, through the real code
## (release build: the Lambda durations it bills are measured)
COST_EVENTS ?= 1000
cost: venv
	COST_EVENTS=$(COST_EVENTS) cargo run --release -p hookline-local --bin hookline-cost
