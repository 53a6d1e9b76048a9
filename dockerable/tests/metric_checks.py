"""What the suite reads of the metrics: the exporter's and the backup service's pages, fetched from
inside a stack's app container (their ports are published nowhere), and a real Prometheus's
answers to a query."""

import json
import urllib.parse
from collections.abc import Callable

from prometheus_client.parser import text_string_to_metric_families

from dockerable.runtime.metrics import EXPORTER_PORT
from dockerable.tests.docker_stack import run
from dockerable.tests.http_client import request


def fetch(url: str) -> str:
    """Python's command text that prints the page at `url`."""
    return (
        "import sys, urllib.request; "
        f"page = urllib.request.urlopen({url!r}, timeout=10); "
        "sys.stdout.write(page.read().decode())"
    )


FETCH = fetch(f"http://127.0.0.1:{EXPORTER_PORT}/metrics")
# The backup service's metrics page (dockerable/compose/backup/_lib.sh), as Prometheus scrapes it.
BACKUP_METRICS = "http://backup:9100/metrics.txt"


def samples(text: str) -> dict[tuple, float]:
    """{(name, ((label, value), ...)): value} of a page in Prometheus's text format."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(exported: dict[tuple, float], name: str, **labels: str) -> float:
    """One series' value; 0 for a series not (yet) on the page, as a counter not yet counted."""
    return exported.get((name, tuple(sorted(labels.items()))), 0.0)


def exported(stack, service: str = "app", url: str = "") -> dict[tuple, float]:
    """The exporter's page of a stack's service, read from inside its container (or the page at
    `url`, read from there)."""
    return samples(stack.exec(service, "python", "-c", fetch(url) if url else FETCH).stdout)


def published(stack) -> Callable[[str], str]:
    """A compose stack's Prometheus, asked at its PROMETHEUS_PORT on 127.0.0.1: path -> body."""
    return lambda path: (
        request("GET", f"http://127.0.0.1:{stack.env['PROMETHEUS_PORT']}{path}", timeout=10).text
    )


def inside(container: str) -> Callable[[str], str]:
    """A Prometheus that publishes no port (Swarm's), asked inside its container: path -> body."""
    return lambda path: (
        run("docker", "exec", container, "wget", "-q", "-O", "-", f"http://127.0.0.1:9090{path}").stdout
    )


def api(ask: Callable[[str], str], endpoint: str, **params: str) -> dict:
    """The `data` of a Prometheus API answer (/api/v1/...)."""
    answer = json.loads(ask(f"/api/v1/{endpoint}?{urllib.parse.urlencode(params)}"))
    assert answer["status"] == "success", answer
    return answer["data"]


def query(ask: Callable[[str], str], expression: str) -> float | None:
    """The value of a PromQL expression with one result, None when it has none."""
    result = api(ask, "query", query=expression)["result"]
    assert len(result) <= 1, result
    return float(result[0]["value"][1]) if result else None
