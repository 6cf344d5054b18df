"""Reading Prometheus' text format the way Prometheus does (its own parser), and scraping it."""
from __future__ import annotations

import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def samples(exposition: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition: (sample name, its labels) -> value."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(exposition) for s in family.samples}


def value(exposition: str, name: str, **labels: str) -> float | None:
    """The sample `name` with exactly `labels`, or None when the exposition has none."""
    return samples(exposition).get((name, frozenset(labels.items())))


def scrape(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """GET `url` over real HTTP: the status and the body."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8")
