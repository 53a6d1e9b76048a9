"""Config mistakes stop `docker compose up` at the preflight service: one line, no restart loop, no debris."""

import json
import shutil
from pathlib import Path

import pytest

from dockerable.envtools.certificates import self_signed
from dockerable.tests.conftest import make_private, unique_project
from dockerable.tests.docker_stack import Stack, free_port, wait_for

pytestmark = pytest.mark.docker

ONE_SHOTS = {"preflight", "static"}


def folder_listing(folder: Path) -> list[str]:
    """Every path under `folder`, with a slash after each directory: what `up` must not add to."""
    return sorted(f"{path.relative_to(folder)}{'/' if path.is_dir() else ''}" for path in folder.rglob("*"))


def service_states(stack) -> list[str]:
    """`SERVICE STATE` of each of the stack's containers, stopped ones too."""
    listed = stack.compose("ps", "-a", "--format", "{{.Service}} {{.State}}").stdout.split("\n")
    return [line for line in listed if line]


def settled_states(stack) -> tuple[list[str]] | None:
    """(service_states,) once no one-shot is running (a list that may be empty: nothing was
    created), else None."""
    states = service_states(stack)
    running = [line for line in states if line.split()[0] in ONE_SHOTS and line.endswith(" running")]
    return None if running else (states,)


def refused_up(checkout, compose_file: str, **variables) -> tuple[str, list[str]]:
    """`up` an environment whose files hold a mistake: its failure, and what preflight printed."""
    example = checkout / "project" / "settings" / "example"
    before = folder_listing(example)
    stack = Stack(
        example / compose_file,
        unique_project("dockerable-preflight"),
        HTTPS_PORT=free_port(),
        HTTP_PORT=free_port(),
        **variables,
    )
    try:
        result = stack.compose("up", "-d", "--wait", "--wait-timeout", "60", check=False)
        assert result.returncode != 0, "up succeeded with a broken environment"
        # A one-shot that needs no check (static's copy) may still be running when up gives up
        # on a busy machine: its end is waited for, not taken for a service left running.
        (states,) = wait_for(lambda: settled_states(stack), timeout=60, what="the one-shot services to end")
        started = [line for line in states if line and not line.endswith((" created", " exited"))]
        # Nothing but the one-shots ever ran (static copies files, needing no check), so nothing
        # is left restarting on the mistake.
        ran = [line for line in states if line.endswith(" exited") and line.split()[0] not in ONE_SHOTS]
        assert not started and not ran, states
        lines = stack.logs("preflight").strip().splitlines() if stack.containers("preflight") else []
        assert folder_listing(example) == before, "up left something in the environment folder"
        return result.stdout + result.stderr, lines
    finally:
        stack.down(volumes=True)


@pytest.fixture
def example(checkout):
    """The checkout's example folder; each test's changes to it are undone afterwards."""
    folder = checkout / "project" / "settings" / "example"
    saved = {
        path: path.read_bytes()
        for path in [
            *folder.glob("*.*"),
            *folder.glob("ssl/*"),
            checkout / "dockerable" / "proxy" / "security-headers.txt",
        ]
    }
    yield folder
    for path, data in saved.items():
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
    make_private(folder / "secrets.json")
    make_private(folder / "ssl" / "server.key")


def assert_one_line(lines: list[str], *words: str) -> None:
    assert len(lines) == 1, lines
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ('{"SECRET_KEY": "x",\n', "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({"SECRET_KEY": "x", "DB_NAME": "d", "DB_USER": "u"}), "missing key 'DB_PASSWORD'"),
    ],
)
def test_a_broken_secrets_file_stops_up_before_postgres_starts(checkout, example, text, fault):
    (example / "secrets.json").write_text(text)
    make_private(example / "secrets.json")
    _, lines = refused_up(checkout, "docker-compose.yml")
    assert_one_line(lines, "project/settings/example/secrets.json", fault)


def test_an_unknown_env_stops_up_before_the_app_loops_on_it(checkout, example):
    compose_file = example / "docker-compose.yml"
    text = compose_file.read_text()
    app = "service: app}\n    environment: *settings\n"
    assert app in text
    compose_file.write_text(text.replace(app, app.replace("*settings", "{<<: *settings, ENV: bogus}")))
    _, lines = refused_up(checkout, "docker-compose.yml")
    assert_one_line(lines, "ENV='bogus'")


def test_a_key_that_is_not_the_certificates_stops_up(checkout, example):
    (example / "ssl" / "server.key").write_bytes(self_signed("another.test")[0])
    make_private(example / "ssl" / "server.key")
    _, lines = refused_up(checkout, "docker-compose.yml")
    assert_one_line(lines, "/ssl/server.key is not the private key of /ssl/server.crt")


def test_a_bad_line_in_nginxs_headers_list_stops_proxy_mode_before_nginx_loops(checkout, example):  # pylint: disable=unused-argument
    headers = checkout / "dockerable" / "proxy" / "security-headers.txt"
    headers.write_text(headers.read_text() + "X-Broken header without a colon\n")
    _, lines = refused_up(checkout, "docker-compose-proxy.yml")
    assert_one_line(lines, "security-headers.txt line", 'not "Name: value"')


def test_proxy_mode_with_its_own_files_checks_that_the_key_matches(checkout, example):
    (example / "ssl" / "server.key").write_bytes(self_signed("another.test")[0])
    make_private(example / "ssl" / "server.key")
    _, lines = refused_up(checkout, "docker-compose-proxy.yml", TLS_SOURCE="files")
    assert_one_line(lines, "is not the private key of")


@pytest.mark.parametrize("missing", ["secrets.json", "ssl"])
def test_a_missing_file_is_refused_and_docker_creates_nothing_in_its_place(checkout, example, missing):
    path = example / missing
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()
    output, _ = refused_up(checkout, "docker-compose.yml")
    assert missing in output, output
    assert not path.exists()
