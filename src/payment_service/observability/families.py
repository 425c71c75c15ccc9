"""Metric families declared as data and registered on one registry (the service's own,
never the process-global one); observability/catalogue.py declares every one the service
has, and docs/metrics.md lists them all."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar, overload

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

M = TypeVar("M", Counter, Gauge, Histogram)


@dataclass(frozen=True)
class Family(Generic[M]):
    """One metric family: its kind, name, help text and label names (a histogram's buckets
    too). As a class attribute of a Families subclass it reads, on an instance, as the
    family registered on that instance's registry."""

    kind: type[M]
    name: str
    documentation: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()

    @property
    def metric_type(self) -> str:
        """The Prometheus type: counter, gauge or histogram."""
        return self.kind.__name__.lower()

    def on(self, registry: CollectorRegistry) -> M:
        """The family registered on ``registry``."""
        options: dict[str, Any] = {"buckets": self.buckets} if self.buckets else {}
        return self.kind(self.name, self.documentation, self.labels, registry=registry, **options)

    @overload
    def __get__(self, instance: None, owner: type[Families]) -> Family[M]: ...

    @overload
    def __get__(self, instance: Families, owner: type[Families]) -> M: ...

    def __get__(self, instance: Families | None, owner: type[Families]) -> Family[M] | M:
        # Families.__init__ puts the registered family in the instance's __dict__, which
        # wins over this (non-data) descriptor: reads after that are plain attribute reads.
        if instance is None:
            return self
        raise AttributeError(f"{self.name} is registered by Families.__init__, not yet run")


def counter(name: str, documentation: str, *labels: str) -> Family[Counter]:
    return Family(Counter, name, documentation, labels)


def gauge(name: str, documentation: str, *labels: str) -> Family[Gauge]:
    return Family(Gauge, name, documentation, labels)


def histogram(
    name: str, documentation: str, *labels: str, buckets: tuple[float, ...]
) -> Family[Histogram]:
    return Family(Histogram, name, documentation, labels, buckets)


class Families:
    """A set of metric families, declared as class attributes (``events = counter(...)``).

    Building an instance registers each on the registry, in the order declared, and the
    instance reads each as a plain attribute (``self.events.labels(...)``) typed as the
    Counter, Gauge or Histogram it is.
    """

    declared: ClassVar[tuple[Family[Any], ...]] = ()
    _attributes: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found = {
            attribute: value
            for klass in reversed(cls.__mro__)
            for attribute, value in vars(klass).items()
            if isinstance(value, Family)
        }
        for attribute, family in found.items():
            if inspect.getattr_static(cls, attribute) is not family:
                raise TypeError(f"{cls.__name__}.{attribute} hides the family {family.name}")
        cls._attributes = tuple(found)
        cls.declared = tuple(found.values())

    def __init__(self, registry: CollectorRegistry) -> None:
        for attribute, family in zip(self._attributes, self.declared, strict=True):
            setattr(self, attribute, family.on(registry))
