"""compose/services.yml and swarm/stack.yml agree on what they both define, but where a test says why.

Written twice and tested, not generated: `docker stack deploy` has no `extends`, and a generated
stack file would be one more step to rerun after every change; the two differ on purpose in
places (Swarm's secrets are mounted readable, its app answers /livez), each said below.
"""

import json
import os
import subprocess
from pathlib import Path

import yaml

from dockerable.envtools.compose import ComposeLoader
from dockerable.swarm.stack_files import MEDIA_ROOT, hash_variable, lines, refusal
from dockerable.tests.docker_stack import REPO

SERVICES = REPO / "dockerable" / "compose" / "services.yml"
STACK = REPO / "dockerable" / "swarm" / "stack.yml"
EXAMPLE_STACK = REPO / "project" / "settings" / "example" / "docker-stack.yml"
# Each compose service and the Swarm service that runs the same thing.
PAIRS = {
    "postgres-18": "postgres",
    "backup-18": "backup",
    "proxied-app": "app",
    "worker": "worker",
    "cache": "cache",
    "nginx": "nginx",
    "certbot": "certbot",
    "prometheus": "prometheus",
}
# What the two topologies set differently on purpose, and why.
DIFFERENCES = {
    ("postgres", "healthcheck"): "start_interval: compose's `up --wait` gains from 200 ms probes; "
    "deploy.sh polls every second",
    ("postgres", "environment"): "Swarm runs the stock image on secrets deploy.sh makes from the "
    "database's keys (POSTGRES_*_FILE); compose's entrypoint reads secrets.json through the loader",
    ("backup", "cap_add"): "compose reads the host user's 0600 secrets.json as root (DAC_OVERRIDE); "
    "Swarm mounts its secret readable",
    ("backup", "environment"): "Swarm sets DJANGO_SETTINGS_MODULE here; an environment's compose file "
    "sets it on its own backup service",
    ("app", "healthcheck"): "Swarm probes /livez once a task has reached the database (or for 12 s): "
    "an outage must not make it restart every app task (docs/swarm.md); compose keeps /healthz",
    ("app", "environment"): "Swarm: uWSGI on TCP for nginx on another node, DRAIN_SECONDS, and the "
    "secret and settings module that compose's environment files set",
    ("app", "cap_add"): "Swarm starts the app as its own user, its secret mounted readable; compose "
    "starts it as root to hand over the host user's 0600 files (cmd.sh)",
    ("worker", "environment"): "Swarm sets the secret and settings module that compose's environment "
    "files set; ENV is the worker's only when DEV",
    ("worker", "cap_add"): "as the app's: Swarm starts it as its own user, its secret mounted readable",
    ("nginx", "cap_add"): "compose reads the host user's 0600 key (DAC_READ_SEARCH); Swarm's secret "
    "is readable",
    ("nginx", "environment"): "Swarm: the app's tasks over TCP by DNS, TLS files from its secret and "
    "config; compose: the app's UNIX socket, TLS_SOURCE from the environment",
    ("certbot", "healthcheck"): "Swarm would replace an unhealthy certbot task, which asks the ACME "
    "server again at once (stack.yml)",
    ("certbot", "environment"): "Swarm's nginx is reached by its service name; compose's environment "
    "files set the ACME variables",
}


def load(path: Path) -> dict:
    return yaml.load(path.read_text(), Loader=ComposeLoader)["services"]  # noqa: S506


def resolved(found: dict, name: str) -> dict:
    """A service with what it `extends` in the same file under it (top-level keys)."""
    spec = dict(found[name])
    parent = spec.pop("extends", None)
    if isinstance(parent, str):
        return {**resolved(found, parent), **spec}
    return spec


def compared(spec: dict, swarm: bool) -> dict:
    """What both files express, in one shape: Swarm's limits are under deploy.resources."""
    limits = spec.get("deploy", {}).get("resources", {}).get("limits", {}) if swarm else spec
    return {
        "logging": spec.get("logging"),
        "cap_drop": spec.get("cap_drop"),
        "cap_add": sorted(spec.get("cap_add") or []),
        "read_only": spec.get("read_only"),
        "healthcheck": spec.get("healthcheck"),
        "environment": spec.get("environment"),
        "memory": limits.get("memory") if swarm else limits.get("mem_limit"),
        "pids": limits.get("pids") if swarm else limits.get("pids_limit"),
    }


def test_both_topologies_agree_but_where_a_reason_is_written():
    compose, swarm = load(SERVICES), load(STACK)
    differing = set()
    for compose_name, swarm_name in PAIRS.items():
        ours = compared(resolved(compose, compose_name), swarm=False)
        theirs = compared(swarm[swarm_name], swarm=True)
        differing |= {(swarm_name, key) for key, value in ours.items() if value != theirs[key]}
        # Even where they differ, both rotate their logs the same way and drop every capability.
        assert ours["logging"] == theirs["logging"] and ours["cap_drop"] == theirs["cap_drop"] == ["ALL"]
    assert differing == set(DIFFERENCES), sorted(differing ^ set(DIFFERENCES))


def test_the_backup_settings_and_health_checks_are_the_same_values():
    compose, swarm = load(SERVICES), load(STACK)
    backup = swarm["backup"]
    assert {
        **resolved(compose, "backup-18")["environment"],
        "DJANGO_SETTINGS_MODULE": "${DJANGO_SETTINGS_MODULE}",
    } == (backup["environment"])
    assert resolved(compose, "backup-18")["healthcheck"] == backup["healthcheck"]
    probe = dict(resolved(compose, "postgres-18")["healthcheck"])
    assert probe.pop("start_interval") == "200ms"
    assert {**probe, "start_interval": "1s"} == swarm["postgres"]["healthcheck"]


def test_deploy_derives_each_secret_and_config_s_hash_from_the_stack_file(tmp_path):
    """deploy.sh hashes the file of every entry Compose's model of the stack lists, under the
    variable the entry's name takes (stack_files.py): no list of them is kept by hand."""
    stack = yaml.load(STACK.read_text(), Loader=ComposeLoader)  # noqa: S506
    # PostgreSQL's secrets are the ones deploy.sh made at the first deploy, kept since (no file here).
    for key in ("postgres-db", "postgres-user", "postgres-password", "pg-service"):
        assert stack["secrets"].pop(key) == {"name": f"${{STACK}}_{key}-${{DATABASE_KEYS}}", "external": True}
    declared = {kind: stack[kind] for kind in ("secrets", "configs")}
    for entries in declared.values():
        for key, spec in entries.items():
            assert spec["name"] == f"${{STACK}}_{key}-${{{hash_variable(key)}}}", key
    env = {
        **os.environ,
        "STACK": "dd-agree",
        "ENV_DIR": str(REPO / "project" / "settings" / "example"),
        "DB_SECRET_FILE": str(tmp_path / "database.json"),
        "DATABASE_KEYS": "0123456789ab",
    }
    model = subprocess.run(
        ["docker", "compose", "--file", str(STACK), "--file", str(EXAMPLE_STACK)]
        + ["config", "--no-consistency", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    listed = dict(line.split("\t") for line in lines(json.loads(model)))
    wanted = {
        hash_variable(key): spec["file"].replace("${ENV_DIR}", env["ENV_DIR"])
        for entries in declared.values()
        for key, spec in entries.items()
    }
    wanted = {
        name: env["DB_SECRET_FILE"] if path == "${DB_SECRET_FILE}" else str((STACK.parent / path).resolve())
        for name, path in wanted.items()
    }
    assert listed == wanted


def test_the_stack_model_refuses_a_mount_for_uploads_at_djangos_media_root():
    from django.conf import settings  # pylint: disable=import-outside-toplevel  # the suite's settings

    assert str(settings.MEDIA_ROOT) == MEDIA_ROOT
    model = {"services": {"app": {"volumes": [{"type": "tmpfs", "target": "/tmp"}]}, "nginx": {}}}
    assert refusal(model) == ""
    model["services"]["app"]["volumes"].append({"type": "volume", "source": "media", "target": MEDIA_ROOT})
    assert refusal(model).startswith(f"service app mounts a volume at {MEDIA_ROOT}: each node would keep")
