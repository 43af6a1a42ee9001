# labfolio — the words people use. `make dev` and `make test` work on a fresh machine: they set up what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.12 to match the Lambda runtime (python3.12): python3.12 on PATH, else pyenv's 3.12.x.
PYTHON312 ?= $(shell for p in $$(ls -d $$(pyenv root 2>/dev/null || echo $$HOME/.pyenv)/versions/3.12.*/bin/python 2>/dev/null | sort -V -r) $$(command -v python3.12); do "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null && { echo "$$p"; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
export SAM_CLI_TELEMETRY := 0
# Bytecode is compiled into the environment when it is installed, and Python may cache the project's own (the
# __pycache__ folders are ignored by git): the suite starts many interpreters (test workers, moto servers, local
# stacks, handler imports), and with PYTHONDONTWRITEBYTECODE set each compiled every module it imported again.
export UV_COMPILE_BYTECODE := 1
unexport PYTHONDONTWRITEBYTECODE

.PHONY: help venv dev postgres test test-fast lint format bench build validate deploy deploy-frontend browser clean reset-password reset-password-aws

help:
	@echo "make dev     set up and start the local stack at http://127.0.0.1:$${LABFOLIO_PORT:-8000}"
	@echo "make test    set up and run the whole suite (PostgreSQL from DATABASE_URL, or a throwaway cluster)"
	@echo "make lint    ruff + mypy          make bench   benchmarks (one BLAS thread)"
	@echo "make build   sam build            make deploy  sam deploy --guided, then make deploy-frontend"
	@echo "make deploy-frontend   upload frontend/ to the stack's bucket and invalidate CloudFront (STACK=...)"
	@echo "make reset-password ACCOUNT=<username>   operator: new password (printed), every session ended"
	@echo "make reset-password-aws ACCOUNT=<username>   the same in the deployed stack (STACK=...)"

# The virtual environment, installed exactly from uv.lock (re-synced when the lock changes).
$(BIN)/.synced: pyproject.toml uv.lock
	@test -n "$(PYTHON312)" || { echo "Python 3.12 not found: install it (pyenv install 3.12) or set PYTHON312=/path/to/python3.12"; exit 1; }
	@test -x $(BIN)/uv || { $(PYTHON312) -m venv $(VENV) && $(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION); }
	$(BIN)/uv sync --frozen --python $(BIN)/python
	@touch $@

venv: $(BIN)/.synced

dev: venv
	$(BIN)/python -m local

# Debian's chromium for the browser tests (Playwright cannot download its own browser here).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Without DATABASE_URL the tests start a throwaway PostgreSQL 15 cluster, and the fault tests always start one of
# their own (they stop it mid-transaction): make sure Debian's server tools exist.
postgres:
	@command -v pg_createcluster >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 postgresql-client-15 >/dev/null; }

# The suite runs in parallel (pytest-xdist): one worker more than the cores, as the local-stack tests spend much of
# their time waiting on queues and processes (TEST_WORKERS=1 for one process). Each worker has its own moto server,
# databases and ports; a module runs whole on one worker (loadscope), so its module-scoped stack is built once.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
XDIST = -n $(TEST_WORKERS) --dist loadscope

test: venv postgres browser
	OPENBLAS_NUM_THREADS=1 $(BIN)/pytest $(XDIST) $(PYTEST_ARGS)

test-fast: venv
	OPENBLAS_NUM_THREADS=1 $(BIN)/pytest $(XDIST) -m "unit or functional" $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy layers/common/labfolio_common functions/analysis/analysis/domain functions/portfolios/portfolios/domain

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: venv
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m bench

build: venv
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/sam build --cached --parallel

validate: venv
	$(BIN)/cfn-lint template.yaml
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/sam validate --lint
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/sam validate --region us-east-1

deploy: build
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/sam deploy --guided
	$(MAKE) deploy-frontend

# The static site after `sam deploy`: frontend/ into the stack's frontend bucket, then a CloudFront invalidation.
# Needs the AWS CLI (v2) with the same credentials and region as the deploy; STACK defaults to samconfig.toml's.
STACK ?= $(shell sed -n 's/^stack_name *= *"\(.*\)"/\1/p' samconfig.toml | head -1)
stack_output = $$(aws cloudformation describe-stacks --stack-name "$(STACK)" --query "Stacks[0].Outputs[?OutputKey=='$(1)'].OutputValue" --output text)
deploy-frontend:
	@bucket=$(call stack_output,FrontendBucketName) && distribution=$(call stack_output,DistributionId) && \
	site=$(call stack_output,SiteUrl) && test -n "$$bucket" -a "$$bucket" != None && \
	aws s3 sync frontend/ "s3://$$bucket/" --delete --exclude README.md --cache-control "public, max-age=300" && \
	aws cloudfront create-invalidation --distribution-id "$$distribution" --paths "/*" --query Invalidation.Id --output text && \
	echo "labfolio is at $$site"

# Operator's password reset (there is no email): a generated password is printed and every session of the account
# ends. The database is DATABASE_URL, else the local stack's SQLite file.
reset-password: venv
	@test -n "$(ACCOUNT)" || { echo "usage: make reset-password ACCOUNT=<username> [DATABASE_URL=...]"; exit 2; }
	PYTHONPATH=$(CURDIR)/layers/common DATABASE_URL="$${DATABASE_URL:-sqlite:///$(CURDIR)/.local/labfolio.db}" \
		$(BIN)/python -m labfolio_common.auth.reset_password "$(ACCOUNT)"

# The same in a deployed stack, whose database is private to its VPC: the migrate function (inside it) resets the
# password and answers the invoker alone. Needs the AWS CLI (v2) with the deploy's credentials and region.
reset-password-aws:
	@test -n "$(ACCOUNT)" || { echo "usage: make reset-password-aws ACCOUNT=<username> [STACK=...]"; exit 2; }
	@function=$$(aws cloudformation describe-stack-resource --stack-name "$(STACK)" --logical-resource-id MigrateFunction \
		--query StackResourceDetail.PhysicalResourceId --output text) && \
	payload=$$(python3 -c 'import json, sys; print(json.dumps({"operator": "reset-password", "username": sys.argv[1]}))' "$(ACCOUNT)") && \
	answer=$$(umask 077 && mktemp) && \
	aws lambda invoke --function-name "$$function" --cli-binary-format raw-in-base64-out --payload "$$payload" "$$answer" > /dev/null && \
	python3 -c 'import json, sys; a = json.load(open(sys.argv[1])); e = a.get("error") or a.get("errorMessage"); print("error: " + e if e else "password of %r reset; %d session(s) ended\nnew password: %s" % (a["username"], a["sessions_ended"], a["password"])); sys.exit(1 if e else 0)' "$$answer"; \
	status=$$?; rm -f "$$answer"; exit $$status

clean:
	rm -rf .aws-sam .pytest_cache .ruff_cache .mypy_cache
