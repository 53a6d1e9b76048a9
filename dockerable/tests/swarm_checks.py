"""Checks of a running Swarm stack for test_swarm.py: its release history, its database role."""

import json

from dockerable.tests.docker_stack import run


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
