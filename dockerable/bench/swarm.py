"""The Swarm stack in the suite: this engine as a one-node swarm running the example environment.

Its app runs as SWARM_REPLICAS tasks that together have as many workers as proxy mode's one
container, behind the same nginx configuration, so the rounds compare the two side by side.
"""

import contextlib
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from dockerable.bench.configurations import QUIET_HEALTHCHECK, SWARM_PROCESSES, SWARM_REPLICAS
from dockerable.bench.load import LoadResult, run_wrk
from dockerable.tests.docker_stack import DOCKER0, SWARM_LABELS, remove_stack, run

STACK = "dd-bench-swarm"
URL = "https://nginx/healthz"
# Long enough to hold a rolling update of every task (each one's start, health and watch).
UPDATE_LOAD_SECONDS = 40


def stack_file() -> str:
    """The environment's own stack file for the bench: no published port (wrk joins the app
    network), the workers split over the tasks, healthchecks quiet once healthy, a short watch."""
    quiet = json.dumps(QUIET_HEALTHCHECK)
    return f"""services:
  nginx: {{healthcheck: {quiet}}}
  postgres: {{healthcheck: {quiet}}}
  backup: {{healthcheck: {quiet}}}
  app:
    environment: {{UWSGI_PROCESSES: "{SWARM_PROCESSES}"}}
    healthcheck: {quiet}
    deploy: {{update_config: {{monitor: 5s, delay: 1s}}}}
networks:
  app: {{attachable: true}}
"""


@dataclass(frozen=True)
class SwarmStack:
    """A deployed stack, with the two things a load asks of a stack: its containers and exec."""

    name: str

    @property
    def network(self) -> str:
        """The overlay network nginx and the app share: where wrk runs."""
        return f"{self.name}_app"

    def containers(self, service: str, all_states: bool = False) -> list[str]:  # pylint: disable=unused-argument
        """IDs of the service's running task containers (a one-node swarm: all of them are here)."""
        label = f"label=com.docker.swarm.service.name={self.name}_{service}"
        return run("docker", "ps", "-q", "--filter", label).stdout.split()

    def exec(self, service: str, *args):
        """Run a command in one of the service's task containers."""
        return run("docker", "exec", self.containers(service)[0], *args)


def image_references() -> set[str]:
    """Every repository:tag this engine holds, and repository@digest where a pushed image lost its tag."""
    listing = run("docker", "image", "ls", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}")
    references = set()
    for repository, tag, digest in (line.split() for line in listing.stdout.splitlines()):
        if tag != "<none>":
            references.add(f"{repository}:{tag}")
        elif repository != "<none>" and digest != "<none>":
            references.add(f"{repository}@{digest}")
    return references


@contextlib.contextmanager
def swarm_manager(stack: str):
    """This engine as a one-node swarm manager labelled for every service of the stack named `stack`.

    However the block ends: the stack and its volumes removed, the swarm left, and what
    `swarm init` and the deploys made (docker_gwbridge, the tags of images named after the stack
    or pushed to a registry on docker0) removed with it.
    """
    state = run("docker", "info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip()
    assert state == "inactive", (
        f"this engine is already in a swarm ({state}), left untouched: a bench run cut off leaves one;"
        " if it is that, `docker stack ls`, `docker stack rm dd-bench-swarm`, `docker swarm leave --force`,"
        " `docker network rm docker_gwbridge` (dockerable/bench/README.md)"
    )
    images_before = image_references()
    # swarm init makes this bridge; leaving the swarm keeps it.
    made_gwbridge = run("docker", "network", "inspect", "docker_gwbridge", check=False).returncode != 0
    try:
        run("docker", "swarm", "init", "--advertise-addr", DOCKER0)
        manager = run("docker", "node", "ls", "-q").stdout.split()[0]
        labels = [arg for label in SWARM_LABELS for arg in ("--label-add", label)]
        run("docker", "node", "update", *labels, manager)
        yield manager
    finally:
        with contextlib.suppress(AssertionError):
            remove_stack(stack)
        run("docker", "swarm", "leave", "--force", check=False)
        if made_gwbridge:
            run("docker", "network", "rm", "docker_gwbridge", check=False)
        for volume in run("docker", "volume", "ls", "-q", "--filter", f"name={stack}_").stdout.split():
            run("docker", "volume", "rm", "-f", volume, check=False)
        # Only the stack's own and the registry's: another test process may be building images.
        made = sorted(
            reference
            for reference in image_references() - images_before
            if reference.startswith((stack, f"{DOCKER0}:"))
        )
        if made:
            run("docker", "image", "rm", "-f", *made, check=False)


def swarm_available() -> bool:
    """True when this engine is in no swarm: the suite never touches one it did not make."""
    state = run("docker", "info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip()
    return state == "inactive"


@contextlib.contextmanager
def swarm_stack(checkout: Path, image: str):
    """The example environment deployed by swarm/deploy.sh, as an operator does; all removed after."""
    folder = checkout / "project" / "settings" / "example"
    (folder / "docker-stack.yml").write_text(stack_file())
    env = {
        **os.environ,
        "DOCKERABLE_STACK": STACK,
        "DOCKERABLE_IMAGE": image,
        "APP_REPLICAS": str(SWARM_REPLICAS),
    }
    with swarm_manager(STACK):
        deploy = checkout / "dockerable" / "swarm" / "deploy.sh"
        run(str(deploy), str(folder / "docker-stack.yml"), env=env, timeout=900)
        yield SwarmStack(STACK)


def rolling_update(stack: SwarmStack, seconds: int) -> tuple[LoadResult, LoadResult, float]:
    """/healthz under load before, then during a rolling update of every app task (`--force`:
    the same image, each task replaced as a new release replaces it); and the update's seconds."""
    before = run_wrk(stack.network, URL, seconds)
    during: dict[str, LoadResult] = {}
    load = threading.Thread(
        target=lambda: during.update(result=run_wrk(stack.network, URL, UPDATE_LOAD_SECONDS))
    )
    load.start()
    time.sleep(2)
    start = time.monotonic()
    run(
        "docker",
        "service",
        "update",
        "--quiet",
        "--detach=false",
        "--force",
        f"{stack.name}_app",
        timeout=300,
    )
    took = time.monotonic() - start
    load.join()
    return before, during["result"], round(took, 1)
