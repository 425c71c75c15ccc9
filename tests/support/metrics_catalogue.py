"""docs/metrics.md read as data: the table of every metric the service exposes.

The catalogue test (scraping a running service) and the deploy files test (alerts and
dashboard use only documented metrics) both read the table from here, so the document,
the code and the deploy files cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
METRICS_DOC = REPO_ROOT / "docs" / "metrics.md"
_HEADER = "| name | type | labels | meaning |"
_TYPES = frozenset({"counter", "gauge", "histogram"})
_HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")


@dataclass(frozen=True)
class DocumentedMetric:
    name: str  # as exposed: counters end in _total
    type: str
    labels: frozenset[str]

    @property
    def family(self) -> str:
        """The family name a Prometheus text parser reports (a counter without _total)."""
        return self.name.removesuffix("_total") if self.type == "counter" else self.name

    @property
    def series(self) -> frozenset[str]:
        """Every series name a query may use for it."""
        if self.type == "histogram":
            return frozenset(self.name + suffix for suffix in _HISTOGRAM_SERIES)
        return frozenset({self.name})


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def _names(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def documented_metrics(path: Path = METRICS_DOC) -> dict[str, DocumentedMetric]:
    """The metrics table, by exposed name; raises when it is missing or malformed."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = lines.index(_HEADER) + 2  # past the header and its --- row
    found: dict[str, DocumentedMetric] = {}
    for row in lines[start:]:
        if not row.startswith("|"):
            break
        name_cell, kind, labels, meaning = _cells(row)
        names = _names(name_cell)
        if len(names) != 1 or kind not in _TYPES or not meaning:
            raise ValueError(f"{path.name}: malformed metrics row: {row}")
        metric = DocumentedMetric(names[0], kind, frozenset(_names(labels)))
        if metric.name in found:
            raise ValueError(f"{path.name}: {metric.name} is listed twice")
        if kind == "counter" and not metric.name.endswith("_total"):
            raise ValueError(f"{path.name}: counter {metric.name} must be named with _total")
        found[metric.name] = metric
    if not found:
        raise ValueError(f"{path.name}: no metrics table")
    return found


def series_names(metrics: dict[str, DocumentedMetric]) -> dict[str, DocumentedMetric]:
    """Each series name a query may use (x_bucket, x_total, ...), to its metric."""
    return {series: metric for metric in metrics.values() for series in metric.series}
