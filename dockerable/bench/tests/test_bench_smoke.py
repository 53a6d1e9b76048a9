"""The benchmark machinery, run for a few seconds so that it cannot rot unnoticed (shape, never speed)."""

import json
import subprocess
import sys

import pytest

from dockerable.tests.docker_stack import REPO

pytestmark = pytest.mark.docker

TARGETS = 26


def test_bench_smoke_prints_the_table_and_writes_json(tmp_path, test_image):  # pylint: disable=unused-argument
    output = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "dockerable.bench.suite", "--smoke", "--seconds", "2", "--json", str(output)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    table = [line for line in result.stdout.splitlines() if line.startswith("|")]
    assert table[0] == (
        "| configuration | endpoint | req/s | p50 ms | p99 ms | p99/p50 "
        "| worst round p99/p50 | errors | CPU s | peak MB |"
    )
    row = [cell.strip() for cell in table[2].split("|")[1:-1]]
    assert row[:2] == ["prod (uWSGI HTTPS)", "/healthz"]
    assert float(row[2]) > 0 and float(row[5]) >= 1 and float(row[6]) >= 1
    assert row[7] == "0" and float(row[8]) > 0 and float(row[9]) > 0
    verdicts = ("PASS |", "FAIL |", "n/a |")
    results = [line.rsplit("|", 2)[1].strip() for line in table if line.endswith(verdicts)]
    assert len(results) == TARGETS
    report = json.loads(output.read_text())
    assert report["meta"]["smoke"] is True
    first = report["rows"][0]
    assert first["requests_per_second"] > 0 and first["errors"] == 0 and len(first["runs"]) == 1
    # wrk's script reported its quantiles, which become a histogram of every request (the pooled
    # percentiles come from it).
    (only,) = first["runs"]
    assert sum(only["histogram"].values()) == only["requests"] > 0
    assert first["p50_ms"] <= first["p99_ms"]
    assert len(report["targets"]) == TARGETS
