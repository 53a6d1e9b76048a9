"""Checks of a running Swarm stack for test_swarm.py: its release history, its database role, a
second deploy beside a first, a page as one task renders it, a signed-in session."""

import json
import subprocess

from dockerable.tests.docker_stack import run, wait_for
from dockerable.tests.swarm_cluster import HOST
from dockerable.tests.test_prod_stack import uwsgi_request


def releases(swarm) -> list[tuple[bool, str]]:
    """swarm/deploy.sh --releases: (running?, release) each, oldest first."""
    lines = swarm.history("--releases").stdout.splitlines()[1:]
    return [(line.startswith("*"), line[2:].split()[1]) for line in lines]


def release_of(image: str) -> str:
    """The release deploy.sh names `image` by: the environment and the first 12 digits of its ID."""
    return "example-" + run("docker", "image", "inspect", "--format", "{{.Id}}", image).stdout.strip()[7:19]


def registry_tags(swarm) -> list[str]:
    """The tags of the app's image under the registry's name on the manager."""
    images = run("docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    return [image for image in images if image.startswith(f"{swarm.registry}/{swarm.stack}-app:")]


def role_takes(swarm, password: str) -> bool:
    """Whether PostgreSQL lets the database's role in with `password`: psql in the backup's task,
    over the network (PostgreSQL trusts its own 127.0.0.1)."""
    container = run(
        "docker", "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={swarm.stack}_backup"
    ).stdout.split()[0]
    values = json.loads((swarm.folder / "secrets.json").read_text())
    login = ["--host=postgres", f"--username={values['DB_USER']}", f"--dbname={values['DB_NAME']}"]
    tried = run("docker", "exec", "-e", f"PGPASSWORD={password}", container, "psql", *login, "-c", "",
                check=False)  # fmt: skip
    return tried.returncode == 0


def second_deploy_while(first: subprocess.Popen, swarm) -> subprocess.CompletedProcess:
    """A deploy started while `first` runs (once `first` holds its lock); `first` waited for."""
    lock = f"{swarm.stack}_deploy-lock"
    try:
        wait_for(
            lambda: (
                run("docker", "config", "inspect", lock, check=False).returncode == 0
                or first.poll() is not None
            ),
            timeout=120,
            what="the first deploy's lock",
        )
        assert first.poll() is None, "the first deploy ended before a second could be tried"
        second = swarm.deploy(check=False)
    finally:
        first_out, first_err = first.communicate(timeout=900)
    assert first.returncode == 0, first_out + first_err
    return second


def rendered_by(docker: list[str], container: str, path: str) -> str:
    """The page at `path` as app task `container` renders it (the uwsgi protocol, from inside it)."""
    script = (
        "import socket, sys\n"
        "with socket.create_connection(('127.0.0.1', 3031), timeout=30) as sock:\n"
        f"    sock.sendall({uwsgi_request(path)!r})\n"
        "    chunks = iter(lambda: sock.recv(65536), b'')\n"
        "    sys.stdout.buffer.write(b''.join(chunks))\n"
    )
    return run(*docker, "exec", container, "python", "-c", script).stdout


# A staff user signed in by Django's test client inside an app task: its session key.
SIGN_IN = """
from django.contrib.auth import get_user_model
from django.test import Client
user, _ = get_user_model().objects.get_or_create(username="rotation", is_staff=True, is_superuser=True)
user.set_password("rotation-" + user.username * 4)
user.save()
client = Client()
client.force_login(user)
print(client.cookies["sessionid"].value)
"""


def admin_status(swarm, session: str) -> str:
    """The status of the admin's index page through nginx with `session`: 200 signed in, 302 not."""
    return swarm.client(
        "-o /dev/null -w '%{http_code}'", f"-H 'Cookie: sessionid={session}'", f"https://{HOST}/admin/"
    ).stdout


def signed_in_session(swarm) -> str:
    """The session key of a staff user signed in inside an app task, checked through nginx."""
    docker, task = swarm.app_task()
    session = run(*docker, "exec", task, "/dockerable/cmd.sh", "manage", "shell", "-c", SIGN_IN).stdout
    session = session.split()[-1]
    assert admin_status(swarm, session) == "200"
    return session
