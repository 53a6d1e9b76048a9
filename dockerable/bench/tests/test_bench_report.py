"""How the benchmark orders and judges its runs (blocks, paired ratios, pooled percentiles, grid scores)
and the compose file it writes."""

import json
import random

import pytest

from dockerable.bench.configurations import GUNICORN, PLAIN_HTTP, SHIPPED, override, variants
from dockerable.bench.load import histogram, parse
from dockerable.bench.report import (
    DEV,
    PROD,
    PROXY,
    SWARM,
    Report,
    Run,
    block,
    evaluate,
    grid_scores,
    markdown,
    percentile,
)
from dockerable.bench.suite import Load, round_order
from dockerable.tests.docker_stack import REPO, run


def runs(*rps_p50_p99, errors=0):
    """Runs with the given (req/s, p50, p99): 100 requests each, 98 at p50 and 2 at p99."""
    return [
        Run(rps, errors, 1.0, 50.0, 100, {int(p50 * 1000): 98, int(p99 * 1000): 2} if rps else {})
        for rps, p50, p99 in rps_p50_p99
    ]


WRK_REPORT = """Running 2s test @ https://app/healthz
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.01ms    3.10ms  41.20ms   80.00%
    Req/Sec     1.00k   120.00     1.20k    70.00%
  4000 requests in 2.00s, 1.02MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 3
Requests/sec:   1999.50
Transfer/sec:    521.00KB
quantile 0.10 998
quantile 50.00 11500
quantile 99.00 24300
quantile 100 41200
"""


def test_wrk_report_is_read_with_its_histogram_and_every_kind_of_error():
    result = parse(WRK_REPORT)
    assert result.requests_per_second == 1999.5
    assert result.requests == 4000 and result.errors == 6
    assert result.histogram == {998: 4, 11500: 1996, 24300: 1960, 41200: 40}


def test_quantiles_become_a_histogram_of_every_request():
    # Ranks 500, 990 and 1000 of 1000 requests: each rank range counts at its upper latency.
    assert histogram([(50, 10_000), (99, 12_000), (100, 90_000)], 1000) == {
        10_000: 500,
        12_000: 490,
        90_000: 10,
    }
    # Levels finer than one request add nothing twice.
    assert histogram([(0.1, 5_000), (0.2, 5_000), (50, 6_000), (100, 7_000)], 10) == {6_000: 5, 7_000: 5}


def test_wrk_report_without_quantiles_is_an_error_not_an_empty_row():
    with pytest.raises(RuntimeError, match="no quantile lines"):
        parse(WRK_REPORT.split("quantile", maxsplit=1)[0])


def test_percentile_is_the_nearest_rank_of_the_histogram():
    histogram = {1000: 98, 5000: 1, 200_000: 1}
    assert percentile(histogram, 50) == 1.0
    assert percentile(histogram, 98) == 1.0
    assert percentile(histogram, 99) == 5.0
    assert percentile(histogram, 100) == 200.0
    assert percentile({}, 99) is None


def result(report, prefix):
    """(value, result) of the target whose name starts with `prefix`."""
    found = [t for t in report.targets if t["target"].startswith(prefix)]
    assert len(found) == 1, prefix
    return found[0]["value"], found[0]["result"]


def test_row_takes_median_throughput_and_percentiles_of_every_request():
    report = Report()
    report.row(PROD, "/healthz").runs += runs((1000, 10, 20), (1200, 12, 70), (5000, 11, 22))
    row = report.rows[0]
    assert row.requests_per_second == 1200  # the 5000 outlier does not move the median
    # 300 requests: 98 at each of 10, 11 and 12 ms, then 2 each at 20, 22 and 70 ms.
    assert row.p50_ms == 11 and row.p99_ms == 22
    assert row.tail == 2.0
    assert row.worst_tail == round(70 / 12, 2)  # printed beside it


def test_a_slow_round_counts_by_the_requests_it_slowed():
    steady = Run(2000, 0, 1.0, 50.0, 6000, {10_000: 5940, 12_000: 60})
    report = Report()
    row = report.row(PROD, "/healthz")
    # A stall that delayed 40 of 24,040 requests: under 1% of them, so p99 stays steady.
    row.runs += [steady] * 4 + [Run(2000, 0, 1.0, 50.0, 40, {150_000: 40})]
    assert row.p99_ms == 12.0
    # A stall that delayed 300 (more than 1%) is the p99.
    row.runs[-1] = Run(2000, 0, 1.0, 50.0, 300, {150_000: 300})
    assert row.p99_ms == 150.0
    for name in (PROXY, DEV):
        report.row(name, "/healthz").runs += [steady]
    evaluate(report)
    assert result(report, "p99 <= 5x p50") == (15.0, "FAIL")


def test_tail_target_judges_shipped_modes_only_and_errors_count_everywhere():
    report = Report()
    for name in (PROD, PROXY, DEV):
        report.row(name, "/healthz").runs += runs((1000, 10, 40))
    report.row("grid: p4 t1 no keep-alive", "/healthz").runs += runs((400, 10, 400))
    report.row(GUNICORN, "/healthz").runs += runs((0, 0, 0), errors=-1)
    evaluate(report)
    assert result(report, "p99 <= 5x p50") == (4.0, "PASS")
    assert result(report, "zero errors") == (1, "FAIL")
    report.row(DEV, "/").runs += runs((80, 100, 600))
    evaluate(report)
    assert result(report, "p99 <= 5x p50") == (6.0, "FAIL")


def test_grid_is_scored_on_both_endpoints():
    report = Report()
    report.row(PROD, "/healthz").runs += runs((5000, 10, 20))  # not part of the grid
    report.row(PROD, "/").runs += runs((900, 100, 150))
    report.row(f"grid: {SHIPPED} (shipped)", "/healthz").runs += runs((1000, 10, 20))
    report.row(f"grid: {SHIPPED} (shipped)", "/").runs += runs((200, 100, 150))
    # Faster on /healthz, much slower on the page: worse overall.
    report.row("grid: p2 t1", "/healthz").runs += runs((1300, 8, 16))
    report.row("grid: p2 t1", "/").runs += runs((120, 150, 200))
    scores = grid_scores(report)
    assert scores == {
        f"grid: {SHIPPED} (shipped)": round((1000 * 200) ** 0.5, 1),
        "grid: p2 t1": round((1300 * 120) ** 0.5, 1),
    }
    evaluate(report)
    assert result(report, "shipped >= 0.95x each grid alternative")[1] == "PASS"
    report.row("grid: p2 t1", "/").runs[0].requests_per_second = 250
    evaluate(report)
    value, verdict = result(report, "shipped >= 0.95x each grid alternative")
    assert verdict == "FAIL" and value == round((1000 * 200) ** 0.5 / (1300 * 250) ** 0.5, 2)
    assert "(closest: grid: p2 t1)" in next(t["target"] for t in report.targets if "grid" in t["target"])


def test_ratios_are_taken_within_each_round_so_drift_cancels():
    # The machine runs at full, half and three-quarter speed in rounds 1-3, and prod does
    # 1.3x gunicorn's req/s, but for gunicorn's run in round 3, which a disturbance slowed.
    # The rounds' own ratios are 1.3, 1.3 and 1.95; the ratio of the medians is 1950 / 1000.
    report = Report()
    report.row(PROD, "/healthz").runs += runs((2600, 10, 20), (1300, 20, 40), (1950, 13, 26))
    report.row(GUNICORN, "/healthz").runs += runs((2000, 10, 20), (1000, 20, 40), (1000, 20, 40))
    assert report.rps(PROD) / report.rps(GUNICORN) == 1.95
    evaluate(report)
    assert result(report, "prod >= 1.2x gunicorn") == (1.3, "PASS")


def test_a_failed_run_leaves_its_round_out_of_the_ratios():
    report = Report()
    report.row(PROXY, "/healthz").runs += runs((1100, 10, 20), (0, 0, 0), (1200, 10, 20))
    report.row(PROD, "/healthz").runs += runs((1000, 10, 20), (1000, 10, 20), (1000, 10, 20))
    assert report.round_ratios(PROXY, PROD) == {0: 1.1, 2: 1.2}
    evaluate(report)
    assert result(report, "proxy >= 1.0x direct") == (1.15, "PASS")


def test_swarm_is_judged_against_proxy_mode_per_round_and_its_rolling_update_by_its_measures():
    report = Report()
    report.row(PROXY, "/healthz").runs += runs((1000, 10, 20), (500, 20, 40))
    report.row(PROXY, "/").runs += runs((200, 50, 100), (100, 100, 200))
    report.row(SWARM, "/healthz").runs += runs((950, 10, 20), (450, 20, 40))
    report.row(SWARM, "/").runs += runs((170, 50, 100), (85, 100, 200))
    assert block(SWARM, "/healthz") == block(PROXY, "/healthz")  # so each round runs them back to back
    report.measures.update(rolling_update_errors=0, rolling_update_p99_over_before=3.2)
    evaluate(report)
    assert result(report, "swarm >= 0.9x proxy on /healthz") == (0.93, "PASS")
    assert result(report, "swarm >= 0.9x proxy on / req/s") == (0.85, "FAIL")
    assert result(report, "zero failed requests during a Swarm rolling update") == (0, "PASS")
    assert result(report, "p99 during a Swarm rolling update") == (3.2, "FAIL")
    assert f"| {SWARM} | / | 128 |" in markdown_of(report)


def test_https_cost_compares_the_shipped_grid_row_with_plain_http():
    report = Report()
    report.row(PROD, "/healthz").runs += runs((800, 10, 20))  # published ports: not like with like
    report.row(f"grid: {SHIPPED} (shipped)", "/healthz").runs += runs((900, 10, 20))
    report.row(PLAIN_HTTP, "/healthz").runs += runs((1000, 10, 20))
    evaluate(report)
    assert result(report, "HTTPS costs") == (0.1, "PASS")


def test_each_round_runs_every_load_once_with_compared_loads_back_to_back():
    names = [PROD, GUNICORN, PROXY, f"grid: {SHIPPED} (shipped)", "grid: p2 t2", PLAIN_HTTP, DEV]
    loads = [Load(name, endpoint, None, ("app",), "") for name in names for endpoint in ("/healthz", "/")]
    orders = [round_order(loads, random.Random(seed)) for seed in range(20)]
    for order in orders:
        assert sorted(order) == list(range(len(loads)))
        blocks = [block(loads[i].configuration, loads[i].endpoint) for i in order]
        # Each block is one stretch of the round: it never resumes once another began.
        stretches = [name for index, name in enumerate(blocks) if index == 0 or blocks[index - 1] != name]
        assert len(stretches) == len(set(blocks))
    assert len({tuple(order) for order in orders}) > 1  # shuffled, not fixed
    assert block(PROD, "/healthz") == block(GUNICORN, "/healthz") == block(PROXY, "/healthz")
    assert block(f"grid: {SHIPPED} (shipped)", "/healthz") == block(PLAIN_HTTP, "/healthz")


def test_start_up_targets_judge_the_worst_sample():
    report = Report()
    report.worst_of("prod_up_to_200_s", [3.1, 5.2, 3.0])
    report.worst_of("dev_edit_to_served_s", [0.8, 1.9])
    evaluate(report)
    assert result(report, "prod up to first 200") == (5.2, "FAIL")
    assert result(report, "dev edit to served") == (1.9, "PASS")
    assert result(report, "dev up to first 200") == (None, "n/a")
    assert "| prod_up_to_200_s | 5.2 (worst of 3.1, 5.2, 3.0) |" in markdown_of(report)


def markdown_of(report):
    """markdown() with the meta it expects."""
    report.meta = {"date": "today", "machine": "here", "rounds": 1, "seconds": 1}
    return markdown(report)


@pytest.mark.docker
def test_variants_override_is_a_valid_compose_file_adding_services_without_ports(tmp_path):
    compose_file = REPO / "project" / "settings" / "example" / "docker-compose.yml"
    path = tmp_path / "variants.yml"
    path.write_text(override(compose_file, variants()))
    config = run(
        "docker",
        "compose",
        "-p",
        "dd-bench-config",
        "-f",
        str(compose_file),
        "-f",
        str(path),
        "config",
        "--format",
        "json",
    )
    services = json.loads(config.stdout)["services"]
    for variant in variants():
        service = services[variant.service]
        assert not service.get("ports"), variant.service
        # `config` prints a literal `$` escaped, as Compose files write it.
        assert service["command"] == [arg.replace("$", "$$") for arg in variant.command]
        # The shipped app's mounts and environment come along through `extends`.
        assert service["environment"]["DJANGO_SETTINGS_MODULE"] == "project.settings.example.settings"
    assert services["app"]["ports"], "the shipped app still publishes its ports"
