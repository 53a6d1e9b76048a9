"""Several runs' JSON reports judged as one: more rounds, and fresh containers in each run.

A container keeps whatever luck it had (memory layout, hash seeds) for a whole run, which
more rounds of the same run cannot average away; the runs' rounds together can.
"""

import json
from pathlib import Path

from dockerable.bench.report import Report, Run


class CombineError(Exception):
    """A report that cannot be combined; the message names the file and says why."""


def load(path: Path) -> Report:
    """A report as the suite wrote it (`--json`)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CombineError(f"{path}: cannot read it ({exc.strerror})") from exc
    except ValueError as exc:
        raise CombineError(f"{path}: not a benchmark report (invalid JSON: {exc})") from exc
    try:
        report = Report(measures=data["measures"], samples=data["samples"], meta=data["meta"])
        for row in data["rows"]:
            report.row(row["configuration"], row["endpoint"]).runs.extend(map(Run.from_dict, row["runs"]))
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise CombineError(f"{path}: not a benchmark report of this suite (at {exc!r})") from exc
    return report


def check_alike(path: Path, report: Report, first: Report, first_path: Path) -> None:
    """Refuse what would not line up: smoke runs, other settings, other machines, other rows."""
    meta = report.meta
    if meta.get("smoke"):
        raise CombineError(f"{path}: a --smoke report (one configuration, one round); combine full runs")
    for key in ("seconds", "machine"):
        if meta.get(key) != first.meta.get(key):
            raise CombineError(
                f"{path}: its {key} ({meta.get(key)}) differs from {first_path}'s ({first.meta.get(key)})"
            )
    rows = {(row.configuration, row.endpoint) for row in report.rows}
    if rows != {(row.configuration, row.endpoint) for row in first.rows}:
        raise CombineError(
            f"{path}: its configurations differ from {first_path}'s (made by another version of the suite?)"
        )
    for row in report.rows:
        if len(row.runs) != meta.get("rounds"):
            raise CombineError(
                f"{path}: {row.configuration} {row.endpoint} has {len(row.runs)} runs "
                f"for {meta.get('rounds')} rounds"
            )


def combine(paths: list[Path]) -> Report:
    """One report whose rounds are every round of `paths`, in order.

    Run i of every row stays round i, so the targets' per-round ratios pair as before.
    Timings measured several times keep every sample (the worst is judged); the other
    measures (build times, image size) are the last report's.
    """
    if len(paths) < 2:
        raise CombineError("give two reports or more to combine")
    reports = [load(path) for path in paths]
    for path, report in zip(paths[1:], reports[1:], strict=True):
        check_alike(path, report, reports[0], paths[0])
    combined = Report(
        meta={
            "date": ", ".join(report.meta["date"] for report in reports),
            "machine": reports[0].meta["machine"],
            "seconds": reports[0].meta["seconds"],
            "rounds": sum(report.meta["rounds"] for report in reports),
            "seed": ", ".join(str(report.meta.get("seed")) for report in reports),
            "smoke": False,
            "combined": [str(path) for path in paths],
        }
    )
    samples: dict[str, list] = {}
    for report in reports:
        for row in report.rows:
            combined.row(row.configuration, row.endpoint).runs.extend(row.runs)
        combined.measures.update(report.measures)
        for name, values in report.samples.items():
            samples.setdefault(name, []).extend(values)
    for name, values in samples.items():
        combined.worst_of(name, values)
    return combined
