"""dockerable/maintenance.sh's refusals, each one line and exit 1, before it asks the engine
anything (the page itself: test_proxy_stack.py)."""

import subprocess

import pytest

from dockerable.tests.docker_stack import REPO

SCRIPT = REPO / "dockerable" / "maintenance.sh"
EXAMPLE = REPO / "project" / "settings" / "example"


def refusal(*args: str) -> str:
    result = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1 and result.stdout == "", result
    assert len(result.stderr.splitlines()) == 1, result.stderr
    return result.stderr.rstrip("\n")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            (),
            "usage: maintenance.sh project/settings/<env>/docker-compose-proxy.yml|docker-stack.yml "
            "on|off|status",
        ),
        ((str(EXAMPLE / "nope.yml"), "on"), f"{EXAMPLE / 'nope.yml'}: no such compose file"),
        (
            (str(EXAMPLE / "docker-compose.yml"), "on"),
            f"{EXAMPLE / 'docker-compose.yml'} has no nginx and certbot in front of the app: maintenance "
            "mode is proxy mode's (docker-compose-proxy.yml) and Swarm's (docker-stack.yml)",
        ),
        ((str(EXAMPLE / "docker-compose-proxy.yml"), "maybe"), "unknown action 'maybe': on, off or status"),
    ],
)
def test_bad_arguments_are_refused_in_one_line(args, expected):
    assert refusal(*args) == f"maintenance.sh: {expected}"
