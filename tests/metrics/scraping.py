"""Reading a /metrics answer as Prometheus does: families and samples, parsed by prometheus-client."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Scrape:
    """One answer: each family's type, and every sample by name and labels."""

    text: str
    families: dict[str, str]
    samples: list[tuple[str, dict[str, str], float]]

    @classmethod
    def parse(cls, text: str) -> Scrape:
        families: dict[str, str] = {}
        samples: list[tuple[str, dict[str, str], float]] = []
        for family in text_string_to_metric_families(text):
            families[family.name] = family.type
            samples += [(s.name, dict(s.labels), float(s.value)) for s in family.samples]
        return cls(text, families, samples)

    def value(self, name: str, **labels: str) -> float:
        """The sum of ``name``'s samples whose labels include ``labels`` (0 when there is none)."""
        return sum(v for n, found, v in self.samples if n == name and labels.items() <= found.items())

    def label_values(self, name: str, label: str) -> set[str]:
        return {found[label] for n, found, _ in self.samples if n == name and label in found}

    def names(self) -> set[str]:
        return {name for name, _, _ in self.samples}


def sample_names(scrape: Scrape, families: Iterable[str]) -> set[str]:
    """The families of ``families`` that the scrape lacks."""
    return set(families) - set(scrape.families)
