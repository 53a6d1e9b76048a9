"""Run wrk inside a compose network and read its report into numbers."""

import re
import subprocess
from dataclasses import asdict, dataclass

WRK_IMAGE = "dockerable-bench-wrk:latest"
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass
class LoadResult:
    """One wrk run: throughput, latency (ms) and every kind of error."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int

    def as_dict(self) -> dict:
        """For the JSON report."""
        return asdict(self)


def milliseconds(text: str) -> float:
    """'1.23ms' -> 1.23; '850.00us' -> 0.85."""
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * UNITS[unit]


def parse(report: str) -> LoadResult:
    """The numbers of a `wrk --latency` report; errors are socket errors plus non-2xx/3xx answers."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", report).group(1))
    p50 = milliseconds(re.search(r"^\s+50%\s+(\S+)", report, re.MULTILINE).group(1))
    p99 = milliseconds(re.search(r"^\s+99%\s+(\S+)", report, re.MULTILINE).group(1))
    requests = int(re.search(r"(\d+) requests in", report).group(1))
    errors = 0
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", report)
    if socket:
        errors += sum(int(n) for n in socket.groups())
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    if bad:
        errors += int(bad.group(1))
    return LoadResult(rps, p50, p99, requests, errors)


def run_wrk(network: str, url: str, seconds: int, connections: int = 32,
            host: str = "localhost") -> LoadResult:
    """wrk with keep-alive (its default) for `seconds`, from a container on `network`."""
    command = ["docker", "run", "--rm", "--network", network, WRK_IMAGE,
               "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "--latency",
               "-H", f"Host: {host}", url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if result.returncode != 0 or "Requests/sec" not in result.stdout:
        raise RuntimeError(f"wrk against {url} failed: {result.stderr.strip() or result.stdout.strip()}")
    return parse(result.stdout)
