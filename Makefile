# Two commands matter: `make demo` and `make test` (see README.md). Both install what they need
# into .tools/ (git-ignored) on first use; later runs reuse it.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
TOOLS := $(CURDIR)/.tools
VENV := $(TOOLS)/venv
PY := $(VENV)/bin/python

export PATH := $(VENV)/bin:$(TOOLS)/bin:$(PATH)
export TF_CLI_CONFIG_FILE := $(TOOLS)/terraform.rc
export TFLINT_PLUGIN_DIR := $(TOOLS)/tflint-plugins
export CHECKPOINT_DISABLE := 1
export TF_IN_AUTOMATION := 1
export PYTHONDONTWRITEBYTECODE := 1

TF_DIRS := . modules/lambda-function examples/complete examples/existing-table examples/local
# Every directory whose README.md carries terraform-docs tables (configured by .terraform-docs.yml).
DOC_DIRS := $(TF_DIRS)
PY_DIRS := function examples/complete/authorizer scripts tests bench examples/agent-client

.PHONY: help demo local-stack test package tools tools-core lint fmt-check validate tflint checkov python-lint docs docs-check \
        package-check tf-test iam-lint unit agent-client dataplane faults e2e compat matrix bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

demo: tools-core ## Offline demo: apply examples/local on moto, real WebSocket clients via a local gateway, AWS's Lambda runtime, sweep, destroy
	$(PY) scripts/demo.py

local-stack: tools-core ## examples/local live until Ctrl-C, for the agent client by hand (ARGS="--identity iam --agent agent-07")
	$(PY) scripts/local_stack.py $(ARGS)

test: tools ## Everything: lint, package check, unit, faults, terraform test, 6.x schema, engine matrix, end-to-end
	@$(MAKE) lint
	@$(MAKE) package-check
	@$(MAKE) tf-test
	@$(MAKE) unit
	@$(MAKE) agent-client
	@$(MAKE) dataplane
	@$(MAKE) faults
	@$(MAKE) compat
	@$(MAKE) matrix
	@$(MAKE) e2e
	@echo "make test: all green"

check: tools-check ## Fast inner loop (~2-3 min warm): fmt, validate, tflint, ruff/mypy, docs, zip check, unit tests; `make test` proves the rest
	@$(MAKE) fmt-check validate tflint python-lint docs-check package-check
	@$(MAKE) unit
	@echo "make check: green (not the engine matrix, checkov, terraform test, data plane, faults, e2e: run make test)"

package: ## Build function/dist/{disconnect,connect,sweeper}.zip reproducibly (needs only python3)
	$(PYTHON) function/build.py

tools: ## Install the whole toolchain into .tools/
	$(PYTHON) scripts/bootstrap.py

tools-check:
	$(PYTHON) scripts/bootstrap.py venv terraform provider tflint terraform-docs

tools-core:
	$(PYTHON) scripts/bootstrap.py venv terraform provider lambda-runtime

lint: fmt-check validate tflint checkov python-lint docs-check ## Static checks

fmt-check:
	terraform fmt -check -recursive -diff .

# Offline Terraform runs (validate, tf-test, iam-lint; e2e, matrix and demo through scripts/offline.py)
# use the stand-in tree: a copy of the module in which each file naming a resource type that
# hashicorp/aws 3.39.0 lacks is replaced by its declared stand-in (scripts/standin_tree.py, SWAPS).
# tflint, checkov, fmt, docs and compat read the real files.
STANDIN_TREE = $(PY) scripts/standin_tree.py

validate:
	@tree=$$($(STANDIN_TREE)); \
	for dir in $(TF_DIRS); do \
	  echo "terraform validate $$dir (stand-in tree)"; \
	  terraform -chdir=$$tree/$$dir init -backend=false -input=false -no-color >/dev/null; \
	  terraform -chdir=$$tree/$$dir validate -no-color; \
	done

# Each module directory (not --recursive: standin/ holds stand-in files, not a module).
tflint:
	@for dir in $(TF_DIRS); do \
	  echo "tflint $$dir"; \
	  tflint --chdir=$$dir --config "$(CURDIR)/.tflint.hcl" --format compact; \
	done

checkov:
	CKV_SKIP_PACKAGE_UPDATE_CHECK=true BC_SKIP_MAPPING=TRUE $(TOOLS)/checkov/bin/checkov -d . \
	  --framework terraform --quiet --compact --skip-download --skip-path .tools

docs: ## Regenerate the Inputs/Outputs tables of every README (terraform-docs, .terraform-docs.yml)
	@for dir in $(DOC_DIRS); do terraform-docs --config "$(CURDIR)/.terraform-docs.yml" $$dir; done

docs-check: ## Fail if any README's generated tables are stale (terraform-docs --output-check)
	@for dir in $(DOC_DIRS); do \
	  terraform-docs --config "$(CURDIR)/.terraform-docs.yml" --output-check $$dir \
	    || { echo "docs-check: $$dir/README.md is stale: run \`make docs\`"; exit 1; }; \
	done

python-lint:
	$(VENV)/bin/ruff check $(PY_DIRS)
	$(VENV)/bin/ruff format --check $(PY_DIRS)
	$(VENV)/bin/mypy

package-check: ## Fail if a committed zip is not a byte-identical rebuild of its sources (function/src, the example's authorizer)
	$(PYTHON) function/build.py --check
	$(PYTHON) examples/complete/authorizer/package.py --check

tf-test: ## terraform test (mock provider) for the module and its submodule; parliament on every policy rendered; every validation rule proven
	@tree=$$($(STANDIN_TREE)); \
	terraform -chdir=$$tree/modules/lambda-function init -backend=false -input=false -no-color >/dev/null; \
	terraform -chdir=$$tree/modules/lambda-function test -no-color
	$(PY) scripts/iam_lint.py
	$(PY) -m pytest tests/validation -q

iam-lint: ## the root module's terraform tests and parliament on every IAM policy they render (as in tf-test)
	$(PY) scripts/iam_lint.py

unit: ## pytest: the function against moto (one worker per core: pytest-xdist)
	$(PY) -m pytest tests/unit -q -n auto

agent-client: ## pytest: the reference agent client's own tests (backoff, jitter, renewal, reconnects; a local server)
	$(PY) -m pytest examples/agent-client/test -q

dataplane: ## pytest: the local stand-ins (gateway, event source mappings, schedules, SigV4) against a moto server
	$(PY) -m pytest tests/dataplane -q

faults: ## pytest: fuzzing, injected throttling, load against moto server
	$(PY) -m pytest tests/faults -q -s

compat: ## hashicorp/aws 6.69.1: every argument exists, none deprecated (unless allow-listed), runtimes accepted
	$(PY) scripts/schema_compat.py $(TF_DIRS)
	$(PY) -m pytest tests/compat -q

matrix: ## Terraform 1.6.6 ... 1.15.5 and OpenTofu 1.12.6: validate, test suites, examples/local lifecycle
	$(PY) scripts/matrix.py --jobs 2

e2e: ## pytest: apply -> live WebSocket lifecycle under AWS's Lambda runtime -> no-change plan -> destroy
	$(PY) -m pytest tests/e2e -q -s

bench: tools-core ## Benchmarks against the seed handler (see BENCHMARKS.md)
	$(PY) bench/run.py

clean: ## Remove Terraform working state of examples and tests (keeps .tools/)
	find . -path ./.tools -prune -o -name .terraform -type d -print | xargs rm -rf
	find . -path ./.tools -prune -o \( -name '.terraform.lock.hcl' -o -name '*.tfstate*' \) -print | xargs rm -f
