"""The vulnerability gate: pip-audit over the locked Python packages, read into one verdict."""

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PASSED, REFUSED, NOT_CHECKED = "passed", "refused", "not checked"
# The locks have a hash for every package, so pip-audit needs no pip and resolves nothing: it asks
# the advisory service about each pinned version. This Python's: the tools image's, or the virtualenv's.
COMMAND = (
    sys.executable,
    "-m",
    "pip_audit",
    "--require-hashes",
    "--disable-pip",
    "--format",
    "json",
    "--progress-spinner",
    "off",
)
TIMEOUT = 600


@dataclass(frozen=True)
class Verdict:
    """What the gate decided, and its one line."""

    state: str
    line: str


def finding(package: dict, vulnerability: dict) -> str:
    """`name version: ID (fixed in X)` for one of pip-audit's findings."""
    versions = vulnerability.get("fix_versions") or []
    fix = f"fixed in {', '.join(versions)}" if versions else "no fixed release yet"
    return f"{package['name']} {package['version']}: {vulnerability['id']} ({fix})"


def judge(returncode: int, stdout: str, stderr: str) -> Verdict:
    """The verdict on one pip-audit run (`--format json`): refused on any finding; passed only
    when the service answered for every package; otherwise not checked, never a pass."""
    try:
        packages = json.loads(stdout)["dependencies"]
        findings = [finding(package, found) for package in packages for found in package.get("vulns", [])]
        skipped = sorted(package["name"] for package in packages if "skip_reason" in package)
    except (ValueError, KeyError, TypeError):
        last = (stderr.strip().splitlines() or [f"no report, exit status {returncode}"])[-1]
        return Verdict(NOT_CHECKED, f"pip-audit: not checked: {last}")
    if findings:
        return Verdict(REFUSED, f"pip-audit: known vulnerabilities ({len(findings)}): {'; '.join(findings)}")
    if not packages:
        return Verdict(NOT_CHECKED, "pip-audit: not checked: its report lists no package")
    if skipped:
        names = ", ".join(skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        return Verdict(
            NOT_CHECKED,
            f"pip-audit: not checked: the advisory service had no answer for {len(skipped)} of "
            f"{len(packages)} packages ({names})",
        )
    return Verdict(PASSED, f"pip-audit: no known vulnerability in the {len(packages)} locked packages")


def audit(locks: tuple[Path, ...]) -> Verdict:
    """Run pip-audit on `locks` (hashed requirements files) and judge what it says."""
    files = [argument for lock in locks for argument in ("--requirement", str(lock))]
    try:
        result = subprocess.run(
            [*COMMAND, *files], capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return Verdict(NOT_CHECKED, f"pip-audit: not checked: no answer within {TIMEOUT} s")
    return judge(result.returncode, result.stdout, result.stderr)
