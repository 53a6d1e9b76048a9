"""How the benchmark judges its runs (medians, worst tails, grid scores) and the compose file it writes."""

import json

import pytest

from tests.bench.configurations import SHIPPED, override, variants
from tests.bench.report import DEV, PROD, PROXY, Report, Run, evaluate, grid_scores, markdown
from tests.docker_stack import REPO, run


def runs(*rps_p50_p99, errors=0):
    """Runs with the given (req/s, p50, p99) and no cost figures."""
    return [Run(rps, p50, p99, errors, 1.0, 50.0) for rps, p50, p99 in rps_p50_p99]


def result(report, prefix):
    """(value, result) of the target whose name starts with `prefix`."""
    found = [t for t in report.targets if t["target"].startswith(prefix)]
    assert len(found) == 1, prefix
    return found[0]["value"], found[0]["result"]


def test_row_takes_median_throughput_and_worst_tail():
    report = Report()
    report.row(PROD, "/healthz").runs += runs((1000, 10, 20), (1200, 12, 70), (5000, 11, 22))
    row = report.rows[0]
    assert row.requests_per_second == 1200  # the 5000 outlier does not move the median
    assert row.p50_ms == 11 and row.p99_ms == 70
    assert row.worst_tail == round(70 / 12, 2)


def test_tail_target_judges_shipped_modes_only_and_errors_count_everywhere():
    report = Report()
    for name in (PROD, PROXY, DEV):
        report.row(name, "/healthz").runs += runs((1000, 10, 40))
    report.row("grid: p4 t1 no keep-alive", "/healthz").runs += runs((400, 10, 400))
    report.row("gunicorn sync (HTTP)", "/healthz").runs += runs((0, 0, 0), errors=-1)
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
    assert scores == {f"grid: {SHIPPED} (shipped)": round((1000 * 200) ** 0.5, 1),
                      "grid: p2 t1": round((1300 * 120) ** 0.5, 1)}
    evaluate(report)
    assert result(report, "shipped >= 0.95x best of grid")[1] == "PASS"
    report.row("grid: p2 t1", "/").runs[0].requests_per_second = 250
    evaluate(report)
    value, verdict = result(report, "shipped >= 0.95x best of grid")
    assert verdict == "FAIL" and value == round((1000 * 200) ** 0.5 / (1300 * 250) ** 0.5, 2)


def test_https_cost_compares_the_shipped_grid_row_with_plain_http():
    report = Report()
    report.row(PROD, "/healthz").runs += runs((800, 10, 20))  # published ports: not like with like
    report.row(f"grid: {SHIPPED} (shipped)", "/healthz").runs += runs((900, 10, 20))
    report.row("prod over plain HTTP", "/healthz").runs += runs((1000, 10, 20))
    evaluate(report)
    assert result(report, "HTTPS costs") == (0.1, "PASS")


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
    config = run("docker", "compose", "-p", "dd-bench-config", "-f", str(compose_file), "-f", str(path),
                 "config", "--format", "json")
    services = json.loads(config.stdout)["services"]
    for variant in variants():
        service = services[variant.service]
        assert not service.get("ports"), variant.service
        assert service["command"] == variant.command
        # The shipped app's mounts and environment come along through `extends`.
        assert service["environment"]["DJANGO_SETTINGS_MODULE"] == "project.settings.example.settings"
    assert services["app"]["ports"], "the shipped app still publishes its ports"
