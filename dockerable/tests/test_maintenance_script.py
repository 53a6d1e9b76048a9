"""dockerable/maintenance.sh's refusals, each one line and exit 1, before it asks the engine
anything (the page itself: test_proxy_stack.py)."""

import os
import subprocess
from pathlib import Path

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


@pytest.mark.parametrize("layout", ["checkout", "bundle"])
def test_a_symlinked_environment_folder_names_the_stack_it_is_linked_as(tmp_path, layout):
    """The stack's default name is the folder's name as the path gives it (swarm/deploy.sh's,
    which deploys it): not its target's, which would send maintenance mode to no stack."""
    scripts = tmp_path / "dockerable" if layout == "checkout" else tmp_path
    (tmp_path / "dockerable" / "swarm").mkdir(parents=True)
    (scripts / SCRIPT.name).write_bytes(SCRIPT.read_bytes())
    (scripts / SCRIPT.name).chmod(0o755)
    stack_rule = REPO / "dockerable" / "swarm" / "stack.sh"
    (tmp_path / "dockerable" / "swarm" / stack_rule.name).write_bytes(stack_rule.read_bytes())
    (tmp_path / "elsewhere" / "prod-2026").mkdir(parents=True)
    (tmp_path / "elsewhere" / "prod-2026" / "docker-stack.yml").write_text("services: {}\n")
    (tmp_path / "project" / "settings").mkdir(parents=True)
    (tmp_path / "project" / "settings" / "prod").symlink_to(tmp_path / "elsewhere" / "prod-2026")
    stack_file = tmp_path / "project" / "settings" / "prod" / "docker-stack.yml"
    result = subprocess.run(
        [str(scripts / SCRIPT.name), str(stack_file), "status"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": os.environ["PATH"]},
    )
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, result
    assert f"{stack_file}: no service dockerable-prod_nginx here" in result.stderr, result.stderr


def test_the_stack_name_rule_is_written_once():
    """Every script that names a stack asks swarm/stack.sh."""
    spelled = [
        path.relative_to(REPO)
        for path in (REPO / "dockerable").rglob("*.sh")
        if "DOCKERABLE_STACK:-" in path.read_text()
    ]
    assert spelled == [Path("dockerable/swarm/stack.sh")]
    for script in ("swarm/deploy.sh", "swarm/restore.sh", "maintenance.sh"):
        assert 'STACK="$(stack_name ' in (REPO / "dockerable" / script).read_text(), script
