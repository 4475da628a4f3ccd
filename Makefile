# Hookline: the two commands are `make run` and `make test`. Both need only Rust and Python 3.

PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
export SAM_CLI_TELEMETRY := 0

.PHONY: run test venv browser lint-template build bench cost chaos clean

## make run: local stack (moto + resources from template.yaml) and the API on 127.0.0.1:8080
run: venv
	cargo run -p hookline-local --bin hookline-local

## make test: format, lints, unit and integration tests (against a moto server and headless
## Chromium for the console), template checks. (The deployable build is `make build`: not yet
## in make test, whose CI time it would double; issue 15.)
test: venv browser
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	cargo test --workspace --locked
	$(MAKE) lint-template

## The template is linted twice: as written (the optional parts off) and as a copy with them on
## (StaticEgressIps "true", an AlarmTopicArn named), so both shapes a deployment can take are
## checked (cfn-lint's --parameters does not switch Conditions).
ON_TEMPLATE_FLIPS := -e '/^  StaticEgressIps:/,/Default:/ s/Default: "false"/Default: "true"/' \
	-e '/^  AlarmTopicArn:/,/Default:/ s/Default: ""/Default: "arn:aws:sns:us-east-1:123456789012:hookline-alarms"/'
lint-template: venv $(SAM_VENV)/.installed
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM_VENV)/bin/sam validate --lint -t template.yaml --region us-east-1
	@dir=$$(mktemp -d) && trap 'rm -rf "$$dir"' EXIT && \
	  sed $(ON_TEMPLATE_FLIPS) template.yaml > "$$dir/template.yaml" && \
	  flips=$$(diff template.yaml "$$dir/template.yaml" | grep -c '^>') && \
	  if [ "$$flips" != 2 ]; then echo "lint-template: expected 2 defaults flipped, got $$flips" >&2; exit 1; fi && \
	  echo "linting with StaticEgressIps=true and an AlarmTopicArn" && \
	  $(VENV)/bin/cfn-lint "$$dir/template.yaml" && \
	  $(SAM_VENV)/bin/sam validate --lint -t "$$dir/template.yaml" --region us-east-1

## make build: the three functions exactly as `sam build` builds them for `sam deploy` (BuildMethod
## rust-cargolambda: cargo-lambda and zig from .venv-sam, release, arm64, into the workspace's
## target dir or CARGO_TARGET_DIR), then each bootstrap checked to be an arm64 ELF, sizes printed.
## The arm64 standard library comes from rustup; where it cannot be had (offline), the same
## cargo-lambda build is made for x86_64 instead, saying so, to prove the code builds.
LAMBDA_TARGET := aarch64-unknown-linux-gnu
LAMBDA_FUNCTIONS := ApiFunction:hookline-api DeliveryFunction:hookline-delivery AlertFunction:hookline-alert
build: $(SAM_VENV)/.installed
	@export PATH="$(abspath $(SAM_VENV))/bin:$$PATH"; \
	if rustup target list --installed | grep -qx $(LAMBDA_TARGET) || rustup target add $(LAMBDA_TARGET); then \
	  sam build --template template.yaml && \
	  for f in $(LAMBDA_FUNCTIONS); do \
	    b=.aws-sam/build/$${f%%:*}/bootstrap; \
	    if [ ! -s "$$b" ]; then echo "build: $$b is missing" >&2; exit 1; fi; \
	    machine=$$(od -An -tx1 -j18 -N2 "$$b" | tr -d ' '); \
	    if [ "$$machine" != b700 ]; then echo "build: $$b is not an arm64 ELF (e_machine $$machine)" >&2; exit 1; fi; \
	    echo "$$b: arm64, $$(stat -c %s "$$b") bytes"; \
	  done; \
	else \
	  echo "build: WARNING: rustup cannot install the $(LAMBDA_TARGET) standard library here (offline?)," >&2; \
	  echo "build: so sam build cannot make the arm64 bootstraps; building the same functions for x86_64 with cargo-lambda to prove the code builds. Not deployable as is (the template says arm64)." >&2; \
	  for f in $(LAMBDA_FUNCTIONS); do cargo lambda build --release --x86-64 --bin $${f##*:} || exit 1; done; \
	  dir=$$(cargo metadata --no-deps --format-version 1 | $(PYTHON) -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/lambda; \
	  for f in $(LAMBDA_FUNCTIONS); do \
	    b=$$dir/$${f##*:}/bootstrap; \
	    if [ ! -s "$$b" ]; then echo "build: $$b is missing" >&2; exit 1; fi; \
	    echo "$$b: x86_64, $$(stat -c %s "$$b") bytes"; \
	  done; \
	fi

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
## event; BENCH_BATCH events a request), then the cost lines of a short `make cost` run
## (BENCH_COST_EVENTS events)
BENCH_DELIVERIES ?= 2000
BENCH_BATCH ?= 100
BENCH_COST_EVENTS ?= 200
bench: venv
	cargo build --release -p hookline-delivery --bin hookline-delivery -p hookline-api --bin hookline-api -p hookline-local --bin hookline-cost
	cargo run -p hookline-local --bin hookline-bench -- --deliveries $(BENCH_DELIVERIES) --batch $(BENCH_BATCH)
	@echo; echo "cost ($(BENCH_COST_EVENTS) events; make cost for the table):"
	@out=$$(COST_EVENTS=$(BENCH_COST_EVENTS) COST_COMMON_EVENTS=$(BENCH_COST_EVENTS) cargo run -q --release -p hookline-local --bin hookline-cost 2>/dev/null) \
	  && printf '%s\n' "$$out" | tail -n 2

## make cost: $ per million deliveries at AWS list prices (local/prices.json), measured by
## running COST_EVENTS events of a realistic mix, and the common case, through the real code
## (release build: the Lambda durations it bills are measured)
COST_EVENTS ?= 1000
cost: venv
	COST_EVENTS=$(COST_EVENTS) cargo run --release -p hookline-local --bin hookline-cost

## make chaos: CHAOS_EVENTS events (fan-out 1-3, three tenants, some filtered out) through the
## real code against moto while a tenth of the AWS calls fail (throttled, 500, cut, stalled,
## answer lost after the write), receivers misbehave (5xx, slow, 429, 410, cut, an outage) and
## function instances are killed every few seconds; then every delivery is checked. Ends with
## `chaos: accepted A, delivered D, failed F, alerted L, duplicates U, lost X`; fails unless
## nothing was lost. The functions' metric lines (stdout in Lambda) are left out of its output.
CHAOS_EVENTS ?= 10000
chaos: venv
	cargo build --release -p hookline-local --bin hookline-chaos
	@out=$$(CHAOS_EVENTS=$(CHAOS_EVENTS) cargo run -q --release -p hookline-local --bin hookline-chaos); rc=$$?; \
	  printf '%s\n' "$$out" | grep -v '^{"Function":'; exit $$rc
