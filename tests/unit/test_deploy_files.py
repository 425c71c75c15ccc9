"""The alert rules and the Grafana dashboard use only metrics docs/metrics.md lists (which
the catalogue test holds the running service to), and every dashboard query is PromQL
promtool accepts (`make check-deploy` runs `promtool check rules` on the alerts too)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.db import real_services_required
from tests.support.metrics_catalogue import REPO_ROOT, documented_metrics, series_names

ALERTS = REPO_ROOT / "deploy" / "prometheus" / "alerts.yaml"
DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "dashboard.json"

_STRINGS = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPINGS = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", re.IGNORECASE
)
_NAMES = re.compile(r"(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "inf", "nan", "group_left", "group_right"}
)
# Grafana's variables, as a query reaches Prometheus.
_GRAFANA = {"$__rate_interval": "5m", "$__interval": "1m", "$job": ".*"}


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression reads (label names, functions and keywords out)."""
    bare = _GROUPINGS.sub(" ", _RANGES.sub(" ", _MATCHERS.sub(" ", _STRINGS.sub(" ", expr))))
    return {name for name in _NAMES.findall(bare) if name.lower() not in _KEYWORDS}


def alert_expressions() -> dict[str, str]:
    rules = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return {rule["alert"]: rule["expr"] for group in rules["groups"] for rule in group["rules"]}


def dashboard_expressions() -> dict[str, str]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    found = {}
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            found[f"{panel['title']} / {target['refId']}"] = target["expr"]
    return found


def test_the_name_reader_sees_metrics_and_nothing_else() -> None:
    expr = (
        'sum by (route) (rate(stripe_rate_limited_total{job=~"$job",route="/v1/x"}[5m]))'
        " / on (route) group_left max(db_pool_connections) > bool 0 unless up offset 5m"
    )
    assert metric_names(expr) == {"stripe_rate_limited_total", "db_pool_connections", "up"}


@pytest.mark.parametrize(
    ("where", "expressions"),
    [("alerts.yaml", alert_expressions()), ("dashboard.json", dashboard_expressions())],
)
def test_every_metric_used_is_documented(where: str, expressions: dict[str, str]) -> None:
    documented = series_names(documented_metrics())
    assert expressions, f"no expressions in {where}"
    for name, expr in expressions.items():
        used = metric_names(expr)
        assert used, f"{where}: {name} reads no metric: {expr}"
        assert used <= set(documented), (
            f"{where}: {name} uses {sorted(used - set(documented))}, not in docs/metrics.md"
        )


def test_the_alerts_cover_what_operations_page_on() -> None:
    used = {name for expr in alert_expressions().values() for name in metric_names(expr)}
    for needed in (
        "reconciler_oldest_unresolved_age_seconds",  # stuck payments
        "stripe_webhook_backlog_events",  # dead webhooks
        "stripe_webhook_backlog_oldest_age_seconds",  # webhook lag
        "stripe_request_errors_total",  # Stripe error rate
        "reconciler_last_pass_timestamp_seconds",  # reconciler not running
    ):
        assert needed in used, needed


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        message = "promtool is not installed (Debian package prometheus)"
        if real_services_required():
            pytest.fail(f"REQUIRE_REAL_SERVICES=1 and {message}")
        pytest.skip(message)
    records = []
    for index, expr in enumerate(dashboard_expressions().values()):
        for variable, value in _GRAFANA.items():
            expr = expr.replace(variable, value)
        records.append({"record": f"dashboard:query_{index}", "expr": expr})
    rules = tmp_path / "dashboard-rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": records}]}))
    checked = subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
