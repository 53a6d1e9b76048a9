"""Combining several benchmark runs' JSON reports: rounds line up, and what cannot line up is refused."""

import json

import pytest

from dockerable.bench import suite
from dockerable.bench.combine import combine
from dockerable.bench.configurations import GUNICORN
from dockerable.bench.report import PROD, Report, Run


def report(rounds, *, seconds=3, smoke=False, build_s=50.0, edits=(1.0,)):
    """A report of PROD and GUNICORN on /healthz: `rounds` is [(prod req/s, gunicorn req/s), ...]."""
    made = Report(
        meta={
            "date": "today",
            "machine": "here",
            "seconds": seconds,
            "rounds": len(rounds),
            "smoke": smoke,
            "seed": 1,
        }
    )
    for prod, gunicorn in rounds:
        made.row(PROD, "/healthz").runs.append(Run(prod, 0, 1.0, 50.0, 100, {10_000: 99, 20_000: 1}))
        made.row(GUNICORN, "/healthz").runs.append(Run(gunicorn, 0, 1.0, 50.0, 100, {15_000: 100}))
    made.measures["cold_build_s"] = build_s
    made.worst_of("dev_edit_to_served_s", list(edits))
    return made


def write(path, made):
    path.write_text(json.dumps(made.as_dict()))
    return path


def test_rounds_of_every_run_pair_up_and_every_sample_counts(tmp_path):
    first = write(tmp_path / "a.json", report([(1300, 1000), (1200, 1000)], build_s=40.0, edits=(1.2, 0.9)))
    second = write(tmp_path / "b.json", report([(650, 500), (2000, 1000)], build_s=45.0, edits=(1.9,)))
    combined = combine([first, second])
    assert combined.meta["rounds"] == 4
    assert combined.round_ratios(PROD, GUNICORN) == {0: 1.3, 1: 1.2, 2: 1.3, 3: 2.0}
    assert combined.samples["dev_edit_to_served_s"] == [1.2, 0.9, 1.9]
    assert combined.measures["dev_edit_to_served_s"] == 1.9  # the worst sample of all
    assert combined.measures["cold_build_s"] == 45.0  # the last run's
    assert combined.find(PROD, "/healthz").histogram == {10_000: 396, 20_000: 4}


def test_the_command_prints_the_combined_verdict_and_writes_json(tmp_path, capsys):
    files = [write(tmp_path / f"{name}.json", report([(1300, 1000)] * 2)) for name in "ab"]
    output = tmp_path / "combined.json"
    assert suite.main(["--combine", *map(str, files), "--json", str(output)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("2 runs of the suite combined: Measured today, today on here; 4 rounds")
    assert "| prod >= 1.2x gunicorn sync on /healthz req/s | 1.3 | PASS |" in printed
    assert json.loads(output.read_text())["meta"]["combined"] == [str(path) for path in files]


@pytest.mark.parametrize(
    "second, message",
    [
        (
            report([(1300, 1000)], smoke=True),
            "b.json: a --smoke report (one configuration, one round); combine full runs",
        ),
        (report([(1300, 1000)], seconds=10), "b.json: its seconds (10) differs from "),
        (
            Report(meta={"date": "today", "machine": "here", "seconds": 3, "rounds": 1, "smoke": False}),
            "b.json: its configurations differ from ",
        ),
        ("{not json", "b.json: not a benchmark report (invalid JSON: "),
        ('{"rows": []}', "b.json: not a benchmark report of this suite (at KeyError('measures'))"),
    ],
)
def test_what_cannot_line_up_is_refused_in_one_line_naming_the_file(tmp_path, capsys, second, message):
    first = write(tmp_path / "a.json", report([(1300, 1000)]))
    path = tmp_path / "b.json"
    if isinstance(second, str):
        path.write_text(second)
    else:
        write(path, second)
    assert suite.main(["--combine", str(first), str(path)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and captured.out == "", captured
    assert lines[0].startswith(f"dockerable/bench/run: error: {tmp_path}/")
    assert message in lines[0]


def test_one_report_alone_is_not_a_combination(tmp_path, capsys):
    only = write(tmp_path / "a.json", report([(1300, 1000)]))
    assert suite.main(["--combine", str(only)]) == 2
    assert (
        capsys.readouterr().err.strip() == "dockerable/bench/run: error: give two reports or more to combine"
    )
