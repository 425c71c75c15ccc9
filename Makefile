# Every target bootstraps what it needs; a fresh machine needs only python3, make and git
# (plus npm for buf, used by `make lint`).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BUF := node_modules/.bin/buf
PROTOS := $(wildcard protos/payments/v1/*.proto)
PYTEST_ARGS ?=

.PHONY: run test chaos lint lint-client generate api-docs check-api-docs migrate check-generated check-stubs check-paths check-deploy buf-breaking clean

$(STAMP): requirements-dev.lock pyproject.toml generated/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e generated -e .
	touch $@

$(BUF): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## run: the service on its embedded default (SQLite file, in-memory cache, localstripe on loopback)
run: $(STAMP)
	$(BIN)/python tools/run_dev.py

## test: unit, integration and end-to-end tests (SQLite always; PostgreSQL and Redis when reachable)
test: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

## chaos: faults under load, on private PostgreSQL/Redis/localstripe (tests/chaos; not in `make test`)
chaos: $(STAMP)
	$(BIN)/pytest -m chaos tests/chaos $(PYTEST_ARGS)

## lint: ruff, mypy strict, import-linter, buf lint (ruff also on the hand-written client)
lint: $(STAMP) $(BUF) lint-client
	$(BIN)/ruff check src tests migrations tools bench
	$(BIN)/ruff format --check src tests migrations tools bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BUF) lint

## lint-client: ruff on the hand-written client in generated/ (ruff's config skips generated/)
lint-client: $(STAMP)
	$(BIN)/ruff check generated/payments_client
	$(BIN)/ruff format --check generated/payments_client

## generate: regenerate generated/ from protos/ (never edit generated/ by hand)
generate: $(STAMP)
	rm -rf generated/payments/v1/*_pb2*.py generated/payments/v1/*_pb2*.pyi
	$(BIN)/python -m grpc_tools.protoc -I protos \
		--python_out=generated --pyi_out=generated \
		--grpc_python_out=generated --mypy_grpc_out=generated \
		--plugin=protoc-gen-mypy_grpc=$(BIN)/protoc-gen-mypy_grpc \
		$(PROTOS)

## check-generated: fails when generated/ is not what `make generate` makes
check-generated: generate
	git diff --exit-code --stat -- generated
	test -z "$$(git status --porcelain -- generated)"

## api-docs: write docs/api.md from the protos' comments (tools/api_docs.py)
api-docs: $(STAMP)
	$(BIN)/python tools/api_docs.py

## check-api-docs: fails when docs/api.md is not what `make api-docs` writes
check-api-docs: $(STAMP)
	$(BIN)/python tools/api_docs.py --check

## check-stubs: generated/ installs alone in a clean venv and a client can use it
check-stubs:
	rm -rf .run/stubs-venv
	$(PYTHON) -m venv .run/stubs-venv
	.run/stubs-venv/bin/pip install --quiet --disable-pip-version-check ./generated
	.run/stubs-venv/bin/python -c "import grpc; from payments.v1 import payment_service_pb2 as pb, payment_service_pb2_grpc as rpc, refund_service_pb2_grpc, subscription_service_pb2_grpc, invoice_service_pb2_grpc; rpc.PaymentServiceStub(grpc.insecure_channel('127.0.0.1:1')); print('stubs install alone:', pb.Payment(amount=1050).amount)"
	.run/stubs-venv/bin/python -c "import grpc, payments_client as c; from payments.v1 import payment_service_pb2_grpc as rpc; rpc.PaymentServiceStub(c.channel('127.0.0.1:1', token_provider=lambda: 't')); c.aio_channel; print('client installs alone:', c.from_status(grpc.StatusCode.NOT_FOUND, 'gone').__class__.__name__)"

## buf-breaking: compare protos with the previous commit's (BREAKING_AGAINST=<buf input> to override)
# buf.yaml is at the root (module protos/); a previous commit that still has the
# old layout (protos/buf.yaml, module ".") is read from its protos/ subdirectory.
BREAKING_AGAINST ?=
buf-breaking: $(BUF)
	@if [ -n '$(BREAKING_AGAINST)' ]; then \
		$(BUF) breaking --against '$(BREAKING_AGAINST)'; \
	elif git rev-parse -q --verify HEAD~1 >/dev/null && git cat-file -e HEAD~1:buf.yaml 2>/dev/null; then \
		$(BUF) breaking --against '.git#ref=HEAD~1'; \
	elif git rev-parse -q --verify HEAD~1 >/dev/null && git cat-file -e HEAD~1:protos/buf.yaml 2>/dev/null; then \
		$(BUF) breaking --against '.git#ref=HEAD~1,subdir=protos'; \
	elif [ "$$(git rev-parse --is-shallow-repository)" = true ]; then \
		echo "buf breaking: shallow clone, no previous commit to compare with (fetch more history)"; exit 1; \
	else echo "buf breaking: no previous commit with protos; nothing to compare"; fi

## check-paths: fails when src/, tests/, tools/ or bench/ refer to a path outside the repository
check-paths:
	$(PYTHON) tools/check_no_outside_paths.py

## check-deploy: promtool checks the alert rules; the Kubernetes manifests validate (offline)
# against the schemas of the oldest and newest Kubernetes we support. promtool is in
# Debian's prometheus package; kubernetes-validate (schemas vendored in the package) lives
# in a venv of its own, from deploy/requirements-check.lock.
DEPLOY_VENV := .run/deploy-venv
KUBERNETES_VERSIONS := 1.29.0 1.37.0
$(DEPLOY_VENV)/.installed: deploy/requirements-check.lock
	$(PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/pip install --quiet --disable-pip-version-check -r deploy/requirements-check.lock
	touch $@

check-deploy: $(DEPLOY_VENV)/.installed
	promtool check rules deploy/prometheus/alerts.yaml
	for version in $(KUBERNETES_VERSIONS); do \
		$(DEPLOY_VENV)/bin/kubernetes-validate --strict --quiet -k $$version deploy/kubernetes/*.yaml || exit 1; \
	done
	@echo "deploy files valid (Kubernetes $(KUBERNETES_VERSIONS))"

## migrate: upgrade the configured database (PAYMENT_DATABASE_URL) to the newest schema
migrate: $(STAMP)
	$(BIN)/payment-service migrate

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache .pytest_cache
