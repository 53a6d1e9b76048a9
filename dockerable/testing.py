"""What both test suites use: commands with their output, polling, free ports, a real PostgreSQL
for pytest-django, and the sample environment's production stack for a smoke test."""

import contextlib
import http.cookiejar
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# The PostgreSQL the compose files run (dockerable/compose/services.yml).
POSTGRES_IMAGE = "postgres:18"


def run(*args, check=True, env=None, cwd=None, timeout=600, input_text=None):
    """Run a command, capturing text output; on failure the error carries that output."""
    result = subprocess.run(
        args,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
        check=False,
        input=input_text,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, args))} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
        )
    return result


def wait_for(predicate, timeout: float, interval: float = 0.25, what: str = "condition"):
    """Poll `predicate` until it returns a true value; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except OSError as exc:
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_error})")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_docker():
    """Every test that needs the engine runs on the real one: no engine is a failure, never a skip."""
    if shutil.which("docker") is None or run("docker", "info", check=False).returncode != 0:
        pytest.fail("Docker engine not reachable: install and start Docker (the README says how)")


@pytest.fixture(autouse=True)
def empty_caches():
    """Each test starts with empty caches: the tests' cache is each process's memory, and what one
    test cached must not show in the next (a write rolled back at a test's end invalidates nothing)."""
    from django.core.cache import caches  # pylint: disable=import-outside-toplevel

    for cache in caches.all(initialized_only=True):
        cache.clear()


@pytest.fixture(scope="session")
def postgres_server():
    """A throw-away PostgreSQL container published on a free 127.0.0.1 port, removed afterwards."""
    require_docker()
    name = f"dockerable-tests-pg-{uuid.uuid4().hex[:8]}"
    password = secrets.token_urlsafe(16)
    port = free_port()
    run(
        "docker", "run", "-d", "--name", name, "-e", f"POSTGRES_PASSWORD={password}",
        "-p", f"127.0.0.1:{port}:5432", POSTGRES_IMAGE,
    )  # fmt: skip
    try:
        wait_for(
            lambda: (
                run(
                    "docker",
                    "exec",
                    name,
                    "pg_isready",
                    "-U",
                    "postgres",
                    "-h",
                    "127.0.0.1",
                    "-q",
                    check=False,
                ).returncode
                == 0
            ),
            timeout=90,
            what="the test PostgreSQL to accept connections",
        )
        yield {"HOST": "127.0.0.1", "PORT": str(port), "USER": "postgres", "PASSWORD": password}
    finally:
        run("docker", "rm", "-f", "-v", name, check=False)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(postgres_server):  # pylint: disable=redefined-outer-name
    """pytest-django's hook: the test database on the container started above."""
    from django.conf import settings  # pylint: disable=import-outside-toplevel

    settings.DATABASES["default"].update(NAME="postgres", **postgres_server)


class SampleSite:
    """A running stack as a browser sees it at `base` (https://localhost:PORT), over HTTPS as
    `context` says (trusting the environment's certificate, say), keeping cookies between requests.
    Calling it GETs a path: (status, body)."""

    def __init__(self, base: str, context: ssl.SSLContext | None = None):
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=context), urllib.request.HTTPCookieProcessor(self.cookies)
        )

    def fetch(self, path: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes]:
        """One request (a POST when `data` is given), redirects followed: (status, body)."""
        request = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        try:
            with self.opener.open(request, timeout=30) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:  # an answer all the same (404, 500...)
            return error.code, error.read()

    def __call__(self, path: str) -> tuple[int, str]:
        status, body = self.fetch(path)
        return status, body.decode()

    def post_form(self, path: str, fields: dict, files: dict) -> tuple[int, str]:
        """Submit the form at `path` as a browser would: its page first (for the CSRF cookie), then a
        multipart POST of `fields` and `files` ({field: (file name, content)})."""
        self.fetch(path)
        token = next(cookie.value for cookie in self.cookies if cookie.name == "csrftoken")
        boundary = uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in {"csrfmiddlewaretoken": token, **fields}.items()
        ]
        for name, (file_name, content) in files.items():
            head = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{file_name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            )
            parts.append(head.encode() + content + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", "Referer": self.base + path}
        status, answer = self.fetch(path, body, headers)
        return status, answer.decode()


@contextlib.contextmanager
def sample_site():
    """The checkout's image built under a tag of its own, and the sample environment's production
    mode brought up on free ports of 127.0.0.1: yields a SampleSite, which GETs a path over HTTPS
    when called, (status, body), and submits forms. Everything it made is removed afterwards."""
    require_docker()
    tag = f"dockerable-django:smoke-{uuid.uuid4().hex[:8]}"
    compose_file = REPO / "project" / "settings" / "example" / "docker-compose.yml"
    https_port = free_port()
    env = {
        **os.environ,
        "DOCKERABLE_IMAGE": tag,
        "COMPOSE_PROJECT_NAME": f"dd-smoke-{uuid.uuid4().hex[:8]}",
        "PUBLISH_ADDRESS": "127.0.0.1",
        "HTTPS_PORT": str(https_port),
        "HTTP_PORT": str(free_port()),
    }
    try:
        # As the README's production command, with --build: this checkout's code, not an older image.
        run(
            "docker",
            "compose",
            "-f",
            str(compose_file),
            "up",
            "-d",
            "--wait",
            "--build",
            env=env,
            timeout=1800,
        )
        # The sample's certificate names localhost.
        trusted = ssl.create_default_context(cafile=str(compose_file.parent / "ssl" / "server.crt"))
        yield SampleSite(f"https://localhost:{https_port}", trusted)
    finally:
        run("docker", "compose", "-f", str(compose_file), "down", "-v", env=env, check=False, timeout=300)
        # The app's image and the backup image the stack built, both named after its project.
        project = f"label=com.docker.compose.project={env['COMPOSE_PROJECT_NAME']}"
        listing = ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", project]
        built = run(*listing, check=False).stdout.split()
        run("docker", "image", "rm", "-f", tag, *built, check=False)


@pytest.fixture(scope="session")
def site():
    """The sample environment's production stack (sample_site), up once for the tests that ask for it."""
    with sample_site() as stack:
        yield stack
