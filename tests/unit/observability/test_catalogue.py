"""The code's metric catalogue and docs/metrics.md list the same families, with the same
types and labels; a Families set registers what it declares and reads it back typed."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram

from payment_service.observability.catalogue import every_family
from payment_service.observability.families import Families, counter, histogram
from tests.support.metrics_catalogue import documented_metrics


def test_the_catalogue_is_the_documented_table() -> None:
    declared = [family.name for family in every_family()]
    assert len(declared) == len(set(declared)), "a family is declared twice"
    documented = {
        metric.family: (metric.type, metric.labels) for metric in documented_metrics().values()
    }
    assert {
        family.name: (family.metric_type, frozenset(family.labels)) for family in every_family()
    } == documented


class _Example(Families):
    calls = counter("example_calls", "Calls, by result.", "result")
    seconds = histogram("example_seconds", "Call time.", buckets=(0.1, 1.0))


def test_a_set_registers_its_families_in_order_and_reads_them_as_attributes() -> None:
    registry = CollectorRegistry()
    example = _Example(registry)

    assert isinstance(example.calls, Counter)
    assert isinstance(example.seconds, Histogram)
    example.calls.labels("ok").inc()
    example.seconds.observe(0.5)
    assert [family.name for family in registry.collect()] == ["example_calls", "example_seconds"]
    assert registry.get_sample_value("example_calls_total", {"result": "ok"}) == 1
    assert registry.get_sample_value("example_seconds_bucket", {"le": "1.0"}) == 1
    assert _Example.declared == (_Example.calls, _Example.seconds)


def test_each_set_built_registers_its_own_families() -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    _Example(first).calls.labels("ok").inc()
    _Example(second)
    assert second.get_sample_value("example_calls_total", {"result": "ok"}) is None


def test_a_member_may_not_hide_a_family() -> None:
    with pytest.raises(TypeError, match="hides the family example_calls"):

        class _Hiding(_Example):
            def calls(self) -> None: ...  # type: ignore[override]
