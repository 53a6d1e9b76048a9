"""The two-node swarm the Swarm module deploys to: two docker:dind engines, a manager and a worker,
a registry both reach, the example stack, and the clients and load that reach it from inside.

This machine's own engine stays out of the swarm: as a manager it broke the name resolution of
the compose stacks other modules run beside this one (docs/ci.md)."""

import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import yaml

from dockerable.tests.docker_stack import (
    DOCKER0,
    HOST_DOCKER,
    REPO,
    SWARM_LABELS,
    TEST_IMAGE,
    run,
    wait_for,
)

HOST = "example.dockerable.test"
LOAD_SCRIPT = REPO / "dockerable" / "tests" / "swarm_load.py"
CLIENT_IMAGE = "python:3.14-slim"
# A docker:dind engine without TLS listens on this port of its container's address.
DIND_PORT = 2375
# The test's environment adds no published port and lets the test's clients join the app network.
# A shorter watch after each updated task, and a shorter grace for a new task's first health
# check (an environment's own overrides; app and worker tasks start in seconds here), keep the
# tests quick.
# nginx looks for a new TLS pair every second (30 by default), for the tests that replace it.
TEST_STACK_FILE = """services:
  nginx: {environment: {TLS_WATCH_INTERVAL: "1"}}
  app:
    healthcheck: {start_period: 10s}
    deploy: {update_config: {monitor: 5s, delay: 1s}}
  worker:
    healthcheck: {start_period: 10s}
    deploy: {update_config: {monitor: 5s, delay: 1s}}
networks:
  app: {attachable: true}
"""


def stack_images() -> list[str]:
    """The images the template's stack file names outright (the app's and backup's are variables)."""
    services = yaml.safe_load((REPO / "dockerable" / "swarm" / "stack.yml").read_text())["services"]
    return sorted({service["image"] for service in services.values() if "$" not in service["image"]})


class Swarm:  # pylint: disable=too-many-instance-attributes
    """Two docker:dind engines, a manager and a worker, a registry both reach; the example stack.

    Between start() and stop(), DOCKER_HOST names the manager: the module's docker commands, the
    scripts it runs and the operator's tools all drive the swarm as they would on a manager."""

    def __init__(self, root: Path):
        self.root = root
        self.suffix = uuid.uuid4().hex[:8]
        self.stack = f"dd-swarm-{self.suffix}"
        self.manager = f"dd-swarm-manager-{self.suffix}"
        self.node = f"dd-swarm-node-{self.suffix}"
        self.registry_name = f"dd-swarm-registry-{self.suffix}"
        self.registry = ""
        self.deployed = 0.0  # when the last deploy ended (seconds since the epoch)
        self.folder = root / "project" / "settings" / "example"
        self.control = Path(tempfile.mkdtemp(prefix="dockerable-swarm-"))
        self.control.chmod(0o755)
        self.env = {**os.environ, "DOCKERABLE_STACK": self.stack, "DOCKERABLE_IMAGE": TEST_IMAGE}
        self._host_was = os.environ.get("DOCKER_HOST")
        # The docker commands of the manager and of the worker node.
        self.engines = (["docker"], [*HOST_DOCKER, "exec", self.node, "docker"])

    def node_docker(self, *args, check=True):
        return host_docker("exec", self.node, "docker", *args, check=check)

    def start(self, images: list[str]):
        """The registry, both engines, `images` loaded into the manager, the swarm with its labels;
        from then on DOCKER_HOST names the manager."""
        port = free_bridge_port()
        host_docker("run", "-d", "--name", self.registry_name, "-p", f"{DOCKER0}:{port}:5000", "registry:2")
        self.registry = f"{DOCKER0}:{port}"
        # The manager sees the copy and the control folder at their own paths, so that the clients'
        # bind mounts mean what they mean on this machine.
        shared = [arg for path in (self.root, self.control) for arg in ("-v", f"{path}:{path}")]
        for name, mounts in ((self.manager, shared), (self.node, [])):
            host_docker(
                "run", "-d", "--privileged", "--name", name, "-e", "DOCKER_TLS_CERTDIR=", *mounts,
                "docker:dind", "--insecure-registry", "172.16.0.0/12",
            )  # fmt: skip
        for name in (self.manager, self.node):
            wait_for(
                lambda name=name: host_docker("exec", name, "docker", "info", check=False).returncode == 0,
                timeout=90,
                what=f"the docker:dind engine of {name}",
            )
        address = host_docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", self.manager).stdout.strip()
        self.env["DOCKER_HOST"] = os.environ["DOCKER_HOST"] = f"tcp://{address}:{DIND_PORT}"
        wait_for(
            lambda: run("docker", "info", check=False).returncode == 0, timeout=60, what="the manager's API"
        )
        self._load_images(images)
        run("docker", "swarm", "init", "--advertise-addr", address)
        manager = run("docker", "info", "--format", "{{.Swarm.NodeID}}").stdout.strip()
        labels = [arg for label in SWARM_LABELS for arg in ("--label-add", label)]
        run("docker", "node", "update", *labels, manager)
        token = run("docker", "swarm", "join-token", "-q", "worker").stdout.strip()
        self.node_docker("swarm", "join", "--token", token, f"{address}:2377")
        wait_for(
            lambda: run("docker", "node", "ls", "--format", "{{.Status}}").stdout.split() == ["Ready"] * 2,
            timeout=60,
            what="both nodes Ready",
        )
        (self.folder / "docker-stack.yml").write_text(TEST_STACK_FILE)

    @staticmethod
    def _load_images(images: list[str]):
        """This machine's `images` into the manager, in one stream (shared layers sent once)."""
        with (
            subprocess.Popen([*HOST_DOCKER, "save", *images], stdout=subprocess.PIPE) as save,
            subprocess.Popen(
                ["docker", "load", "--quiet"],
                stdin=save.stdout,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            ) as load,
        ):
            save.stdout.close()  # load's now: should load end early, save ends on a broken pipe
            _, errors = load.communicate(timeout=600)
        assert save.returncode == 0 and load.returncode == 0, errors

    def stop(self):
        """Both engines, the registry and all they held; DOCKER_HOST as it was."""
        if self._host_was is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = self._host_was
        host_docker("rm", "-f", "-v", self.manager, self.node, self.registry_name, check=False)
        shutil.rmtree(self.control, ignore_errors=True)

    def deploy_command(self, *args) -> list[str]:
        """swarm/deploy.sh of the copy, through the registry, as an operator runs it."""
        script = self.root / "dockerable" / "swarm" / "deploy.sh"
        return [str(script), str(self.folder / "docker-stack.yml"), "--registry", self.registry, *args]

    def deploy(self, *args, image=TEST_IMAGE, check=True):
        """Run deploy_command; with `check`, it must succeed."""
        result = run(
            *self.deploy_command(*args),
            env={**self.env, "DOCKERABLE_IMAGE": image},
            check=False,
            timeout=900,
        )
        if check:
            assert result.returncode == 0, result.stdout + result.stderr
        self.deployed = time.time()
        return result

    @contextlib.contextmanager
    def stack_file(self, text: str):
        """The environment's docker-stack.yml replaced by `text` until the block ends."""
        path = self.folder / "docker-stack.yml"
        kept = path.read_text()
        path.write_text(text)
        try:
            yield
        finally:
            path.write_text(kept)

    def update_state(self) -> str:
        return run(
            "docker", "service", "inspect", "--format", "{{.UpdateStatus.State}}", f"{self.stack}_app"
        ).stdout.strip()

    def history(self, *args, check=True, **env) -> subprocess.CompletedProcess:
        """swarm/deploy.sh --releases, or --rollback [RELEASE] (`args`), with `env` added to the
        environment; with `check`, it must succeed."""
        script = self.root / "dockerable" / "swarm" / "deploy.sh"
        stack_file = str(self.folder / "docker-stack.yml")
        result = run(str(script), stack_file, *args, env={**self.env, **env}, check=False, timeout=600)
        if check:
            assert result.returncode == 0, result.stdout + result.stderr
        return result

    def build(self, tag: str) -> str:
        """The copy's image as it is now, under `tag`, built on the manager as an operator would."""
        dockerfile = self.root / "dockerable" / "Dockerfile"
        run(
            "docker", "build", "--quiet", f"--file={dockerfile}", f"--tag={tag}", str(self.root), timeout=1200
        )
        return tag

    def client(self, *args, stack="", folder=None, host=HOST, check=True) -> subprocess.CompletedProcess:
        """curl from a container on a stack's app network (this one's by default), trusting the
        environment's certificate."""
        folder = folder or self.folder
        return run(
            "docker",
            "run",
            "--rm",
            "--network",
            f"{stack or self.stack}_app",
            "-v",
            f"{folder / 'ssl' / 'server.crt'}:/ca.crt:ro",
            "nginx:1.30",
            "sh",
            "-c",
            f'curl -sS --cacert /ca.crt --resolve {host}:443:"$(getent hosts nginx | cut -d" " -f1)" '
            + " ".join(args),
            check=check,
        )

    def page(self, path="/") -> str:
        return self.client(f"https://{HOST}{path}").stdout

    @contextlib.contextmanager
    def load(self, path="/", expect="", clients=8, linger=2, *, verify=True, post_every=None):  # pylint: disable=too-many-arguments
        """Clients requesting `path` until `linger` seconds after the block ends; yields a dict
        that gets the outcome (its "after" figures: the requests started within the block).
        `verify`: trust only the sample's certificate (after the ACME test, nginx serves Pebble's).
        `post_every`: POST a new key there every that many seconds (the outcome's "queued" lists
        those answered 200). Loads may run side by side, each in its own container."""
        name = f"dd-swarm-load-{uuid.uuid4().hex[:8]}"
        (self.control / "mark").unlink(missing_ok=True)
        shutil.copy(self.folder / "ssl" / "server.crt", self.control / "ca.crt")
        shutil.copy(LOAD_SCRIPT, self.control / "load.py")
        config = {
            "address": "nginx",
            "host": HOST,
            "path": path,
            "ca": "/control/ca.crt" if verify else None,
            "clients": clients,
            "stop": f"/control/{name}.stop",
            "mark": "/control/mark",
            "expect": expect,
            "name": name,
            "post_every": post_every,
        }
        (self.control / f"{name}.json").write_text(json.dumps(config))
        run(
            "docker",
            "run",
            "--detach",
            f"--name={name}",
            f"--network={self.stack}_app",
            "-v",
            f"{self.control}:/control",
            CLIENT_IMAGE,
            "python",
            "/control/load.py",
            f"/control/{name}.json",
        )
        outcome: dict = {}
        try:
            time.sleep(3)
            (self.control / "mark").touch()
            yield outcome
            time.sleep(linger)
        finally:
            (self.control / f"{name}.stop").touch()
            run("docker", "wait", name, timeout=60, check=False)
            outcome.update(json.loads(run("docker", "logs", name).stdout.strip().splitlines()[-1]))
            run("docker", "rm", "-f", name, check=False)
            if failures(outcome):
                # Printed whole: pytest shortens a long assertion message, but shows what a test printed.
                print("nginx says:", *self.nginx_problems(), sep="\n")

    def nginx_problems(self) -> list[str]:
        """nginx's lines of the last minutes about failed requests."""
        # `docker service logs` has been seen to hang past a task's end: what it said by then is enough.
        try:
            logs = run("docker", "service", "logs", "--raw", "--since", "10m", f"{self.stack}_nginx",
                       check=False, timeout=60)  # fmt: skip
            said = logs.stdout + logs.stderr
        except subprocess.TimeoutExpired as cut:
            parts = [part for part in (cut.stdout, cut.stderr) if part]
            said = "".join(part if isinstance(part, str) else part.decode(errors="replace") for part in parts)
        lines = said.splitlines()
        return [
            line for line in lines if any(word in line for word in ("upstream", "resolve", '"status":50'))
        ][-40:]

    def running_image(self, service: str) -> str:
        """The image the service's spec runs, with its digest."""
        spec = "{{.Spec.TaskTemplate.ContainerSpec.Image}}"
        return run("docker", "service", "inspect", "--format", spec, f"{self.stack}_{service}").stdout.strip()

    def running_tasks(self, service: str) -> list[dict]:
        lines = run(
            "docker",
            "service",
            "ps",
            "--filter",
            "desired-state=running",
            "--format",
            "{{json .}}",
            f"{self.stack}_{service}",
        ).stdout.splitlines()
        return [json.loads(line) for line in lines]

    def app_task(self) -> tuple[list[str], str]:
        """One running app task: the docker command of the node it is on, and its container."""
        return self.task_of("app")

    def task_of(self, service: str) -> tuple[list[str], str]:
        """One running task of `service`: the docker command of the node it is on, and its container."""
        task_filter = f"label=com.docker.swarm.service.name={self.stack}_{service}"
        manager, worker = self.engines
        docker = manager if run(*manager, "ps", "-q", "--filter", task_filter).stdout else worker
        return docker, run(*docker, "ps", "-q", "--filter", task_filter).stdout.split()[0]

    @contextlib.contextmanager
    def stopped(self, docker: list[str], container: str):
        """The task's uWSGI processes (master, routers, workers) stopped by SIGSTOP until the block
        ends: a task stuck whole, whose socket still takes connections that nobody answers. Not
        `docker pause`: the cgroup freezer can fail to freeze a busy container ("unable to
        freeze"). Not every process: a health check's, there for a moment, may be gone by SIGCONT."""
        # From the node's own PID namespace (docker top's PIDs: the docker:dind container's), as
        # uWSGI may be the task's init, which ignores SIGSTOP sent from inside the task's container.
        # Workers rename themselves; their command line stays uWSGI's.
        listed = run(*docker, "top", container, "-eo", "pid,args").stdout.splitlines()[1:]
        pids = [
            pid
            for pid, args in (line.split(maxsplit=1) for line in listed)
            if args.split()[0].endswith("uwsgi")
        ]
        assert len(pids) >= 2, listed  # the master and a worker at least
        signal_all = on_node(self, docker, "sh", "-c", 'kill -s "$0" "$@"')
        run(*signal_all, "STOP", *pids)
        try:
            yield
        finally:
            run(*signal_all, "CONT", *pids)

    def wait_for_app_tasks(self, count: int = 2, replaced: frozenset = frozenset()):
        """Until `count` app tasks run, none of them among the task IDs `replaced`."""

        def settled() -> bool:
            tasks = self.running_tasks("app")
            states = [task["CurrentState"].split()[0] for task in tasks]
            return states == ["Running"] * count and not replaced & {task["ID"] for task in tasks}

        wait_for(settled, timeout=120, what=f"{count} app tasks running")

    def psql(self, query: str, stack: str = "", folder: Path | None = None) -> str:
        """psql in a stack's database (this one's by default; another's with its environment's folder)."""
        service = f"{stack or self.stack}_postgres"
        container = run(
            "docker", "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={service}"
        ).stdout.split()[0]
        values = json.loads(((folder or self.folder) / "secrets.json").read_text())
        login = [f"--username={values['DB_USER']}", f"--dbname={values['DB_NAME']}"]
        return run("docker", "exec", container, "psql", *login, "-Atc", query).stdout


def on_node(swarm: Swarm, docker: list[str], *command: str) -> list[str]:
    """`command` run on the node (the docker:dind container itself) whose engine `docker` drives."""
    node = swarm.manager if docker == swarm.engines[0] else swarm.node
    return [*HOST_DOCKER, "exec", node, *command]


@contextlib.contextmanager
def unreachable(swarm: Swarm, docker: list[str], container: str):
    """The task's uWSGI port takes no new connection until the block ends, as when its address
    outlives it or its node is cut off: the SYNs dropped in the task's own network namespace
    (entered from its node: the task has no capability to change its firewall)."""
    pid = run(*docker, "inspect", "--format", "{{.State.Pid}}", container).stdout.strip()
    firewall = on_node(swarm, docker, "nsenter", f"--target={pid}", "--net", "iptables")
    rule = ["INPUT", "-p", "tcp", "--dport", "3031", "--syn", "-j", "DROP"]
    run(*firewall, "-I", *rule)
    try:
        yield
    finally:
        run(*firewall, "-D", *rule)


def unused_secrets(stack: str) -> set[str]:
    """The secrets labelled as the stack's own that none of its services uses (there must be some)."""
    own = f"label=com.docker.stack.namespace={stack}"
    names = set(run("docker", "secret", "ls", "--filter", own, "--format", "{{.Name}}").stdout.split())
    assert any("_django-" in name for name in names), names
    services = run("docker", "service", "ls", "--filter", own, "--format", "{{.Name}}").stdout.split()
    used = run(
        "docker", "service", "inspect", *services,
        "--format", "{{range .Spec.TaskTemplate.ContainerSpec.Secrets}}{{.SecretName}} {{end}}",
    ).stdout.split()  # fmt: skip
    return names - set(used)


def host_docker(*args, check=True):
    """docker on this machine's engine, where the two nodes and the registry run."""
    return run(*HOST_DOCKER, *args, check=check)


def free_bridge_port() -> int:
    """A port free on the docker0 address, for the registry that both nodes reach."""
    with socket.socket() as sock:
        sock.bind((DOCKER0, 0))
        return sock.getsockname()[1]


def failures(outcome: dict) -> dict:
    """A load's answers other than 200, by status."""
    return {key: count for key, count in outcome["counts"].items() if key != "200"}
