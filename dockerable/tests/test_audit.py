"""The vulnerability gate: real pip-audit runs on the image's lock against a stand-in for PyPI's
feed (a finding refuses, none passes), and every way of not getting an answer is "not checked"."""

import re

import pytest
from packaging.requirements import Requirement

from dockerable.envtools.audit import NOT_CHECKED, PASSED, REFUSED, audit
from dockerable.tests.advisory_stand_in import ADVISORY, AdvisoryStandIn, unreachable
from dockerable.tests.docker_stack import REPO
from dockerable.tests.manage_cli import envtool

LOCKS = (REPO / "requirements.txt", REPO / "dockerable" / "requirements-uwsgi.txt")
# The locks' packages that apply here (pip-audit, as pip would, leaves out the others' markers).
LOCKED = {
    required.name: str(required.specifier).removeprefix("==")
    for required in (
        Requirement(line.removesuffix(" \\"))
        for lock in LOCKS
        for line in lock.read_text().splitlines()
        if re.match(r"^[a-z0-9]", line)
    )
    if not required.marker or required.marker.evaluate()
}


def audited(monkeypatch, environment: dict):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return audit(LOCKS)


def test_a_known_vulnerability_refuses_naming_the_package_its_advisory_and_fix(tmp_path, monkeypatch):
    # uWSGI's lock too: the image installs both.
    stand_in = AdvisoryStandIn(tmp_path, {"django": [ADVISORY], "uwsgi": [{**ADVISORY, "fixed_in": []}]})
    with stand_in.serving() as environment:
        verdict = audited(monkeypatch, environment)
    assert verdict.state == REFUSED, verdict
    assert verdict.line == (
        f"pip-audit: known vulnerabilities (2): django {LOCKED['django']}: PYSEC-2026-999 "
        f"(fixed in 98.2.3, 99.0.1); uwsgi {LOCKED['uwsgi']}: PYSEC-2026-999 (no fixed release yet)"
    )


def test_a_withdrawn_advisory_or_none_passes(tmp_path, monkeypatch):
    stand_in = AdvisoryStandIn(tmp_path, {"django": [{**ADVISORY, "withdrawn": "2026-11-30T00:00:00Z"}]})
    with stand_in.serving() as environment:
        verdict = audited(monkeypatch, environment)
    assert (verdict.state, verdict.line) == (
        PASSED,
        f"pip-audit: no known vulnerability in the {len(LOCKED)} locked packages",
    )


def test_a_feed_that_knows_no_package_is_not_checked_never_a_pass(tmp_path, monkeypatch):
    # What this machine's network answers for every release; pip-audit itself says "No known
    # vulnerabilities found" and exits 0.
    with AdvisoryStandIn(tmp_path, missing=True).serving() as environment:
        verdict = audited(monkeypatch, environment)
    assert verdict.state == NOT_CHECKED, verdict
    assert verdict.line.startswith(
        "pip-audit: not checked: the advisory service had no answer for "
        f"{len(LOCKED)} of {len(LOCKED)} packages ("
    )


def test_an_unreachable_feed_is_not_checked_in_one_line(tmp_path, monkeypatch):
    verdict = audited(monkeypatch, unreachable(tmp_path))
    assert verdict.state == NOT_CHECKED, verdict
    assert verdict.line.startswith("pip-audit: not checked: ") and "\n" not in verdict.line


@pytest.mark.parametrize(
    ("feed", "status", "line"),
    [
        ({"django": [ADVISORY]}, 1, "CommandError: pip-audit: known vulnerabilities (1): django "),
        ({}, 0, None),
        (None, 2, "CommandError: pip-audit: not checked: "),
    ],
)
def test_dockerable_run_audit_exits_0_1_or_2_with_one_line(tmp_path, feed, status, line):
    if feed is None:
        result = envtool("audit", **unreachable(tmp_path))
    else:
        with AdvisoryStandIn(tmp_path, feed).serving() as environment:
            result = envtool("audit", **environment)
    assert result.returncode == status, result
    if line is None:
        assert result.stdout.startswith("pip-audit: no known vulnerability"), result
    else:
        assert result.stderr.startswith(line) and len(result.stderr.splitlines()) == 1, result.stderr
