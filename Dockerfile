# syntax=docker/dockerfile:1
#
# Production image of the payment service: gRPC on :50051, HTTP sidecar on :8080.
#   docker build -t payment-service .
#   docker run --rm -e PAYMENT_DATABASE_URL=postgresql+psycopg://... payment-service          # serve
#   docker run --rm -e PAYMENT_DATABASE_URL=postgresql+psycopg://... payment-service migrate  # schema
# Settings are PAYMENT_* environment variables (src/payment_service/config.py); nothing
# secret is baked in. Pin PYTHON_IMAGE to a digest in the release pipeline.
ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------
# builder: a self-contained virtualenv in /opt/venv
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /build

# Runtime dependencies first, at their locked versions: this layer is reused until
# requirements.lock changes.
COPY requirements.lock ./
RUN pip install --require-virtualenv -r requirements.lock

# Then the stubs and the service themselves: regular (non-editable) installs, no
# dependency resolution (everything they need is in requirements.lock).
COPY generated/ generated/
COPY pyproject.toml ./
COPY src/ src/
RUN pip install --require-virtualenv --no-deps ./generated . \
    && python -c "import payment_service.cli, payments.v1" \
    && test -x /opt/venv/bin/payment-service \
    && pip check

# ---------------------------------------------------------------------------
# runtime: the virtualenv, the migrations and nothing else
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ARG APP_UID=10001
RUN groupadd --system --gid "${APP_UID}" app \
    && useradd --system --uid "${APP_UID}" --gid app --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin app

COPY --from=builder /opt/venv /opt/venv

# `payment-service migrate` reads alembic.ini and migrations/ from the working directory.
# Everything under /app stays owned by root: the service user can read it, not change it.
WORKDIR /app
COPY alembic.ini ./
COPY migrations/ migrations/
COPY tools/grpc_healthcheck.py tools/grpc_healthcheck.py

ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PAYMENT_GRPC_HOST=0.0.0.0 \
    PAYMENT_HTTP_HOST=0.0.0.0

USER ${APP_UID}:${APP_UID}

EXPOSE 50051 8080

# grpc.health.v1.Health/Check for the whole server ("") on 127.0.0.1:$PAYMENT_GRPC_PORT;
# the script has its own 2 s deadline. Kubernetes uses its own gRPC probe instead.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/opt/venv/bin/python", "/app/tools/grpc_healthcheck.py"]

ENTRYPOINT ["payment-service"]
CMD ["serve"]
