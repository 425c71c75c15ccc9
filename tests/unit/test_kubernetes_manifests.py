"""What the Kubernetes manifests must say beyond their schemas (`make check-deploy` validates
those): probes on the health names the server answers, the image's own command, a
non-root user with a read-only root filesystem, settings the service knows and accepts."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest
import yaml

from payment_service.api.grpc.health import LIVENESS, OVERALL
from payment_service.config import Settings
from tests.support.metrics_catalogue import REPO_ROOT

MANIFESTS = REPO_ROOT / "deploy" / "kubernetes"
DOCKERFILE = REPO_ROOT / "Dockerfile"
# What the Secret holds in production, with stand-ins of the right shape.
SECRET_STAND_INS = {
    "PAYMENT_DATABASE_URL": "postgresql+psycopg://payments@db.data:5432/payments",
    "PAYMENT_REDIS_URL": "redis://redis.data:6379/0",
    "PAYMENT_STRIPE_API_KEY": "sk_live_stand_in",
    "PAYMENT_STRIPE_WEBHOOK_SECRETS": '["whsec_stand_in"]',
    "PAYMENT_PII_ENCRYPTION_KEYS": '["k1:' + "A" * 43 + '="]',
}


def _resources() -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for path in sorted(MANIFESTS.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            found[(document["kind"], document["metadata"]["name"])] = document
    return found


RESOURCES = _resources()
DEPLOYMENT = RESOURCES[("Deployment", "payment-service")]
JOB = RESOURCES[("Job", "payment-service-migrate")]
CONFIG = RESOURCES[("ConfigMap", "payment-service")]["data"]


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def _dockerfile_instruction(name: str) -> list[str]:
    match = re.search(rf"^{name}\s+(\[.*\])\s*$", DOCKERFILE.read_text(), flags=re.MULTILINE)
    assert match, f"no {name} in the Dockerfile"
    return list(json.loads(match.group(1)))


def test_every_kind_the_deployment_needs_is_there() -> None:
    kinds = {kind for kind, _ in RESOURCES}
    assert {
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "Job",
        "NetworkPolicy",
        "ConfigMap",
        "ServiceAccount",
    } <= kinds


def test_probes_use_the_health_names_the_server_answers() -> None:
    container = _container(DEPLOYMENT)
    assert container["livenessProbe"]["grpc"] == {"port": 50051, "service": LIVENESS}
    assert container["startupProbe"]["grpc"] == {"port": 50051, "service": LIVENESS}
    assert container["readinessProbe"]["grpc"] == {"port": 50051, "service": OVERALL}


def test_the_deployment_runs_what_the_image_runs() -> None:
    container = _container(DEPLOYMENT)
    entrypoint, command = _dockerfile_instruction("ENTRYPOINT"), _dockerfile_instruction("CMD")
    assert container["command"] + container["args"] == [*entrypoint, *command]
    assert _container(JOB)["command"] + _container(JOB)["args"] == [*entrypoint, "migrate"]


@pytest.mark.parametrize("workload", [DEPLOYMENT, JOB], ids=["deployment", "migration-job"])
def test_non_root_with_a_read_only_root_filesystem(workload: dict[str, Any]) -> None:
    pod = workload["spec"]["template"]["spec"]
    app_uid = re.search(r"^ARG APP_UID=(\d+)$", DOCKERFILE.read_text(), flags=re.MULTILINE)
    assert app_uid
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == int(app_uid.group(1))
    assert pod["automountServiceAccountToken"] is False
    container = _container(workload)
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    for mount in container["volumeMounts"]:  # every writable path is an emptyDir
        assert "emptyDir" in volumes[mount["name"]], mount
    assert container["resources"]["requests"]
    assert container["resources"]["limits"]["memory"]


def test_the_settings_are_known_and_production_accepts_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    container = _container(DEPLOYMENT)
    from_secret = {e["name"] for e in container["env"] if "secretKeyRef" in e["valueFrom"]}
    assert from_secret == set(SECRET_STAND_INS)
    known = {f"PAYMENT_{name.upper()}" for name in Settings.model_fields}
    assert set(CONFIG) | from_secret <= known, sorted((set(CONFIG) | from_secret) - known)
    for name in [name for name in os.environ if name.startswith("PAYMENT_")]:
        monkeypatch.delenv(name)
    for name, value in {**CONFIG, **SECRET_STAND_INS}.items():
        monkeypatch.setenv(name, value)
    settings = Settings()  # as the pod reads them: from the environment
    assert settings.profile == "production"
    assert (settings.grpc_port, settings.http_port) == (50051, 8080)
    grace = DEPLOYMENT["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > settings.shutdown_drain_s + settings.shutdown_grace_s


def test_the_pdb_and_the_autoscaler_leave_a_replica_serving() -> None:
    pdb = RESOURCES[("PodDisruptionBudget", "payment-service")]["spec"]
    hpa = RESOURCES[("HorizontalPodAutoscaler", "payment-service")]["spec"]
    labels = DEPLOYMENT["spec"]["template"]["metadata"]["labels"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()
    assert hpa["minReplicas"] > pdb["maxUnavailable"]
    assert hpa["scaleTargetRef"]["name"] == DEPLOYMENT["metadata"]["name"]
