"""Run wrk inside a compose network and read its report into numbers."""

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

WRK_IMAGE = "dockerable-bench-wrk:latest"
# The image's entrypoint runs wrk with this script (Dockerfile.wrk).
SCRIPT = "quantiles.lua"


@dataclass
class LoadResult:
    """One wrk run: throughput, every kind of error, and its requests' latencies as a histogram."""

    requests_per_second: float
    requests: int
    errors: int
    # {microseconds: requests}: percentiles of separate runs cannot be pooled, histograms can.
    histogram: dict[int, int]


def parse(report: str) -> LoadResult:
    """The numbers of a wrk report and its histogram lines; errors are socket errors plus
    non-2xx/3xx answers."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", report).group(1))
    requests = int(re.search(r"(\d+) requests in", report).group(1))
    errors = 0
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", report)
    if socket:
        errors += sum(int(n) for n in socket.groups())
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    if bad:
        errors += int(bad.group(1))
    quantiles = [
        (float(level), int(microseconds))
        for level, microseconds in re.findall(r"^quantile ([\d.]+) (\d+)$", report, re.MULTILINE)
    ]
    if requests and not quantiles:
        raise RuntimeError(f"wrk printed no quantile lines (is {SCRIPT} its --script?)")
    return LoadResult(rps, requests, errors, histogram(quantiles, requests))


def histogram(quantiles: list[tuple[float, int]], requests: int) -> dict[int, int]:
    """{microseconds: requests} from ascending (level %, microseconds) quantiles of `requests`.

    The requests ranked between two levels are counted at the upper level's latency, which
    is at most one level step (0.1%, or 0.01% above 99%) away from their own rank.
    """
    counts: dict[int, int] = {}
    counted = 0
    for level, microseconds in quantiles:
        rank = min(requests, round(level / 100 * requests))
        if rank > counted:
            counts[microseconds] = counts.get(microseconds, 0) + rank - counted
            counted = rank
    return counts


def run_wrk(  # pylint: disable=too-many-arguments
    network: str,
    url: str,
    seconds: int,
    connections: int = 32,
    host: str = "localhost",
    *,
    body: Path | None = None,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """wrk with keep-alive (its default) for `seconds`, from a container on `network`; with `body`,
    each request POSTs that file's bytes, with `headers`."""
    posting = ["-v", f"{body.parent}:/body:ro", "-e", f"WRK_BODY=/body/{body.name}"] if body else []
    extra = [option for name, value in (headers or {}).items() for option in ("-H", f"{name}: {value}")]
    command = [
        "docker",
        "run",
        "--rm",
        "--network",
        network,
        *posting,
        WRK_IMAGE,
        "-t2",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-H",
        f"Host: {host}",
        *extra,
        url,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if result.returncode != 0 or "Requests/sec" not in result.stdout:
        raise RuntimeError(f"wrk against {url} failed: {result.stderr.strip() or result.stdout.strip()}")
    return parse(result.stdout)
