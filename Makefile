# Hookline: the two commands are `make run` and `make test`. Both need only Rust and Python 3.

PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
export SAM_CLI_TELEMETRY := 0

.PHONY: run test venv browser lint-template bench clean

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

## make bench: the delivery function's figures (release binary, moto, loopback receiver)
BENCH_DELIVERIES ?= 2000
bench: venv
	cargo build --release -p hookline-delivery --bin hookline-delivery
	cargo run -p hookline-local --bin hookline-bench -- --deliveries $(BENCH_DELIVERIES)
