"""Docker Swarm on real Docker: two docker:dind nodes, a registry, the example stack.

This machine has no IPVS, so the stack uses DNS round robin and host-mode ports, as it does
everywhere. The clients run in a container on the stack's `app` network (attachable here only),
as the test's environment publishes no port.
"""

import contextlib
import datetime
import hashlib
import html
import itertools
import json
import os
import re
import shutil
import subprocess
import tarfile
import time
import uuid
from pathlib import Path

import pytest
import yaml

from dockerable.envtools.certificates import self_signed
from dockerable.tests.docker_stack import (
    REPO,
    TEST_IMAGE,
    base_image,
    git_copy,
    remove_stack,
    run,
    wait_for,
)
from dockerable.tests.log_checks import errors_in, idle_from
from dockerable.tests.manage_cli import envtool
from dockerable.tests.media_checks import UPLOADS
from dockerable.tests.metric_checks import api, inside, query
from dockerable.tests.swarm_checks import (
    admin_status,
    registry_tags,
    release_of,
    releases,
    rendered_by,
    role_takes,
    second_deploy_while,
    signed_in_session,
)
from dockerable.tests.swarm_cluster import (
    CLIENT_IMAGE,
    HOST,
    TEST_STACK_FILE,
    Swarm,
    failures,
    host_docker,
    stack_images,
    unreachable,
    unused_secrets,
)
from dockerable.tests.task_checks import each_ran_once, ran_once_on_a_worker, runs, tick_runs, wait_for_status
from dockerable.tests.test_prod_stack import MOTO_IMAGE, uwsgi_request
from dockerable.tests.test_proxy_stack import PEBBLE_CONFIG, PEBBLE_IMAGE

pytestmark = pytest.mark.docker

# A delay after each updated task longer than the watch: `docker stack deploy` stops waiting
# seconds before Swarm ends the update, so deploy.sh must wait for Swarm's own word.
SLOW_ROLLOUT = TEST_STACK_FILE.replace("{monitor: 5s, delay: 1s}", "{monitor: 1s, delay: 5s}", 1)
# A config of the environment's own, mounted in the app: deploy.sh names it after its content as
# it does the template's.
OWN_CONFIG = (
    TEST_STACK_FILE.replace(
        "    healthcheck: {start_period: 10s}\n",
        "    healthcheck: {start_period: 10s}\n    configs: [{source: banner, target: /etc/banner.txt}]\n",
        1,
    )
    + """configs:
  banner: {name: "${STACK}_banner-${HASH_BANNER}", file: "${ENV_DIR}/banner.txt"}
"""
)


# A job every 10 s, in the environment's settings: what the rolling update's test counts the runs of.
TICK_SCHEDULE = """
TASK_SCHEDULES = {**TASK_SCHEDULES, "tick": {"task": "project.fixturebook.tasks.record_run", "every": 10,
                                             "kwargs": {"key": "tick"}}}
"""


@pytest.fixture(scope="module")
def swarm(test_image):  # pylint: disable=unused-argument
    with git_copy("dockerable-swarm-", fixture=True) as root:
        for private in ("secrets.json", "ssl/server.key"):
            (root / "project" / "settings" / "example" / private).chmod(0o600)
        cluster = Swarm(root)
        # A job every 10 s, and two workers: what the rolling update's test counts the runs of.
        settings = cluster.folder / "settings.py"
        settings.write_text(settings.read_text() + TICK_SCHEDULE)
        cluster.env["WORKER_REPLICAS"] = "2"
        # With the optional Prometheus, which scrapes each app task: every 2 s, not 15, so that its
        # test waits less (as the stack file's shorter update delays).
        cluster.env["PROMETHEUS_REPLICAS"] = "1"
        config = root / "dockerable" / "metrics" / "prometheus.yml"
        shipped = config.read_text()
        quicker = shipped.replace("scrape_interval: 15s", "scrape_interval: 2s").replace(
            "refresh_interval: 15s", "refresh_interval: 2s"
        )
        assert quicker.count(": 2s") == shipped.count("refresh_interval: 15s") + 1, shipped
        config.write_text(quicker)
        # What the stack, the builds on the manager and the module's clients and stand-ins run.
        images = {*stack_images(), TEST_IMAGE, base_image(), CLIENT_IMAGE, PEBBLE_IMAGE, MOTO_IMAGE}
        try:
            cluster.start(sorted(images))
            cluster.deploy()
            yield cluster
        finally:
            cluster.stop()


def test_the_backup_service_started_once_the_first_migrations_were_done(swarm):
    # First in the module: its tasks are the first deploy's. The nodes share this machine's clock.
    migrated = float(swarm.psql("SELECT extract(epoch FROM max(applied)) FROM django_migrations"))
    tasks = run("docker", "service", "ps", "-q", f"{swarm.stack}_backup").stdout.split()
    created = run("docker", "inspect", "--format", "{{json .CreatedAt}}", *tasks).stdout.split()
    first = min(datetime.datetime.fromisoformat(json.loads(stamp)).timestamp() for stamp in created)
    assert first > migrated, (first, migrated)


def test_the_stack_serves_https_redirects_http_and_static_from_nginx(swarm):
    assert "<h1>Dockerable Django</h1>" in swarm.page()  # the certificate checked against the sample's
    redirect = swarm.client(
        "-o /dev/null -w '%{http_code} %{redirect_url}'", f"-H 'Host: {HOST}'", "http://nginx/"
    )
    assert redirect.stdout == f"301 https://{HOST}/"
    static = swarm.client("-o /dev/null -D -", f"https://{HOST}/static/admin/css/base.css").stdout.lower()
    assert static.startswith("http/2 200") and "server: nginx" in static and "immutable" in static, static


def test_maintenance_mode_puts_nginxs_page_in_front_of_the_stack_and_takes_it_away(swarm):
    # From this machine, whose engine is not a node: the flag is written by a job on the proxy node.
    command = [str(swarm.root / "dockerable" / "maintenance.sh"), str(swarm.folder / "docker-stack.yml")]
    assert run(*command, "status", env=swarm.env).stdout == "off\n"
    try:
        assert run(*command, "on", env=swarm.env).stdout.startswith("maintenance.sh: on: ")
        answer = swarm.client("-i", f"https://{HOST}/").stdout.lower()
        assert answer.startswith("http/2 503") and "<h1>down for maintenance</h1>" in answer, answer[:300]
        assert "retry-after: 300" in answer and "cache-control: no-store" in answer, answer[:600]
        assert "strict-transport-security: " in answer, answer[:600]
        assert run(*command, "status", env=swarm.env).stdout == "on\n"
    finally:
        off = run(*command, "off", env=swarm.env, check=False)
    assert off.stdout == "maintenance.sh: off: requests reach the app again\n", off
    assert "<h1>Dockerable Django</h1>" in swarm.page()
    assert run(*command, "status", env=swarm.env).stdout == "off\n"
    # Each job removed once it has run.
    services = run("docker", "service", "ls", "--format", "{{.Name}}").stdout.split()
    assert not [name for name in services if "maintenance" in name], services


def test_prometheus_scrapes_every_app_task_and_counts_the_requests_sent(swarm):
    (container,) = run(
        "docker", "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={swarm.stack}_prometheus"
    ).stdout.split()
    ask = inside(container)

    def targets_up():
        targets = [(t["labels"]["job"], t["health"]) for t in api(ask, "targets")["activeTargets"]]
        return sorted(targets) == [("app", "up"), ("app", "up"), ("backup", "up"), ("prometheus", "up")]

    # Both app tasks, each a target of its own, found through the service's name; the backup
    # service's page, on the other overlay network it joins.
    wait_for(targets_up, timeout=90, what="Prometheus to scrape both app tasks and the backup service")
    assert query(ask, "min(dockerable_backup_last_attempt_ok)") == 1
    # A count as of now: both scraped since.
    since = time.time()
    wait_for(
        lambda: (query(ask, 'min(timestamp(up{job="app"}))') or 0) > since,
        timeout=60,
        what="a scrape of both app tasks",
    )
    selector = 'view="fixturebook:cached",method="GET",status="200"'
    before = query(ask, f"sum(django_http_requests_total{{{selector}}})") or 0
    # One curl, one connection to nginx, which spreads the requests over the app's tasks.
    urls = [f"-o /dev/null https://{HOST}/cached?swarm-{number}" for number in range(10)]
    codes = swarm.client("-w '%{http_code} '", *urls).stdout.split()
    assert codes == ["200"] * 10
    wait_for(
        lambda: query(ask, f"sum(django_http_requests_total{{{selector}}})") == before + 10,
        timeout=60,
        what="Prometheus to count the ten requests over both tasks",
    )


def test_no_service_logs_an_error_in_two_idle_minutes(swarm):
    # Before the tests that make something fail on purpose: every service's tasks, on both nodes,
    # from the end of the deploy (while the first one runs, nginx says every 2 s that no app task
    # is there yet: docs/swarm.md).
    idle_from(swarm.deployed)
    logs = {}
    for service in run("docker", "stack", "services", "--format", "{{.Name}}", swarm.stack).stdout.split():
        said = run("docker", "service", "logs", "--raw", "--since", f"{swarm.deployed:.0f}", service)
        logs[service] = said.stdout + said.stderr
    problems = errors_in(logs)
    assert not problems, "\n".join(problems)


def release_named(swarm: Swarm, service: str) -> str:
    """The DOCKERABLE_RELEASE a service of the stack gives its tasks ("" if none)."""
    environment = run(
        "docker",
        "service",
        "inspect",
        "--format",
        "{{json .Spec.TaskTemplate.ContainerSpec.Env}}",
        f"{swarm.stack}_{service}",
    ).stdout
    named = dict(entry.split("=", 1) for entry in json.loads(environment))
    return named.get("DOCKERABLE_RELEASE", "")


def test_a_rolling_update_under_load_fails_no_request_loses_no_task_and_runs_the_job_once_a_due_time(swarm):
    template = swarm.root / "project" / "fixturebook" / "templates" / "fixturebook" / "index.html"
    template.write_text(template.read_text().replace("<h1>Dockerable Django</h1>", "<h1>Release two</h1>"))
    image = swarm.build(f"{swarm.stack}-app:two")
    # Spread over both nodes as the update starts (a rolling update may end with both on one).
    assert len({task["Node"] for task in swarm.running_tasks("app")}) == 2
    workers = {task["ID"] for task in swarm.running_tasks("worker")}
    assert len(workers) == 2
    started = swarm.psql("SELECT now()").strip()
    with (
        swarm.load() as outcome,
        swarm.load(path="/tasks/enqueue", clients=1, post_every=0.1) as queue,
        swarm.stack_file(SLOW_ROLLOUT),
    ):
        # Two minutes or more, the update of the app and both workers in the middle.
        time.sleep(30)
        swarm.deploy(image=image)
        assert swarm.update_state() == "completed"  # deploy.sh reported no sooner than Swarm
        time.sleep(30)
    ended = swarm.psql("SELECT now()").strip()
    assert failures(outcome) == {} and failures(queue) == {}, (outcome, queue)
    assert outcome["counts"]["200"] > 100, outcome
    # Every task a request queued ran, once: none lost, none twice; and both workers were replaced.
    assert len(queue["queued"]) > 600, queue["counts"]
    assert each_ran_once(swarm, queue["queued"]) == {}
    assert not workers & {task["ID"] for task in swarm.running_tasks("worker")}
    # The job every 10 s ran once a due time, no gap, each claimed once and done.
    ticks = tick_runs(swarm, started, ended)
    gaps = {later[0] - earlier[0] for earlier, later in itertools.pairwise(ticks)}
    assert len(ticks) >= 11 and gaps == {10}, ticks
    assert {(claims, status) for _, claims, status in ticks} == {(1, "SUCCESSFUL")}, ticks
    tasks = swarm.running_tasks("app")
    assert len(tasks) == 2 and all(
        f"{swarm.registry}/{swarm.stack}-app:example-" in task["Image"] for task in tasks
    )
    # The worker node has the new release, pulled from the registry (by digest: no tag shows).
    spec = run(
        "docker",
        "service",
        "inspect",
        "--format",
        "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
        f"{swarm.stack}_app",
    ).stdout.strip()
    assert "@sha256:" in spec, spec  # pinned by the registry's digest, so no node can drift
    digest = spec.split("@")[1]
    assert digest in swarm.node_docker("image", "ls", "--digests", "--format", "{{.Digest}}").stdout
    # The release's tag reaches the app and the workers, whose error reports name it.
    for service in ("app", "worker"):
        assert release_named(swarm, service) == spec.split("@")[0].rsplit(":", 1)[1], service
    print("p99 before and during the update:", outcome["p99_before"], outcome["p99_after"])


def test_a_task_queued_by_a_request_runs_on_a_worker_task(swarm):
    key = uuid.uuid4().hex
    task_id = swarm.client("-fsS", "--data", f"key={key}", f"https://{HOST}/tasks/enqueue").stdout.strip()
    problems = ran_once_on_a_worker(swarm, key, task_id)
    assert not problems, problems


def test_a_worker_task_killed_mid_task_has_its_task_run_again_to_its_end(swarm):
    key = uuid.uuid4().hex
    queued = swarm.client(
        "-fsS", "--data", f"key={key}", "--data", "seconds=8", f"https://{HOST}/tasks/enqueue"
    )
    task_id = queued.stdout.strip()
    (claimer,) = wait_for_status(swarm, task_id, "RUNNING")
    # A Swarm task's hostname is its container's short id, on this node or the other.
    container = claimer.rsplit("-", 1)[0]
    if run("docker", "kill", container, check=False).returncode != 0:
        swarm.node_docker("kill", container)
    assert runs(swarm, key) == []
    claimed = wait_for_status(swarm, task_id, "SUCCESSFUL", timeout=90)
    assert len(claimed) == 2 and claimed[0] == claimer, claimed
    assert len(runs(swarm, key)) == 1


FAILING_MIGRATION = """from django.db import migrations


def fail(apps, schema_editor):
    raise RuntimeError("this migration fails on purpose")


class Migration(migrations.Migration):
    dependencies = [("fixturebook", "0003_taskrun")]
    operations = [migrations.RunPython(fail)]
"""


def test_a_failed_migration_stops_the_deploy_and_the_running_release_serves_on(swarm):
    migration = swarm.root / "project" / "fixturebook" / "migrations" / "0004_fails.py"
    migration.write_text(FAILING_MIGRATION)
    try:
        image = swarm.build(f"{swarm.stack}-app:bad-migration")
    finally:
        migration.unlink()
    before = {task["ID"] for task in swarm.running_tasks("app")}
    result = swarm.deploy(image=image, check=False)
    assert result.returncode == 1
    assert "this migration fails on purpose" in result.stderr, result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .endswith(" failed: the running release serves on, on its own image")
    )
    assert {task["ID"] for task in swarm.running_tasks("app")} == before
    assert "<h1>Release two</h1>" in swarm.page()


def test_scaling_the_app_under_load_fails_no_request(swarm):
    with swarm.load() as outcome:
        for replicas in (4, 1, 2):
            run("docker", "service", "scale", f"{swarm.stack}_app={replicas}", timeout=300)
            assert len(swarm.running_tasks("app")) == replicas
            time.sleep(3)
    assert failures(outcome) == {}, outcome


def test_a_stalled_app_task_gets_no_more_requests_while_another_is_free(swarm):
    assert len(swarm.running_tasks("app")) == 2
    docker, task = swarm.app_task()
    # Stopped for 6 s (fewer than its health check's three failures): its connections wait.
    with swarm.load(linger=0) as outcome, swarm.stopped(docker, task):
        time.sleep(6)
    # Under round robin every other request went to the stopped task, until every client waited
    # there; nginx's least_conn sends them to the free task.
    assert outcome["answered_after"] > 200, outcome
    assert failures(outcome) == {}, outcome


def test_a_database_outage_answers_503_quickly_restarts_no_app_task_and_heals_itself(swarm):
    tasks = {task["ID"] for task in swarm.running_tasks("app")}
    try:
        with swarm.load(clients=4) as outcome:
            run("docker", "service", "scale", f"{swarm.stack}_postgres=0", timeout=300)
            # A task that starts meanwhile cannot reach the database: kept out of the DNS (not yet
            # healthy) for its first 12 s (stack.yml), where /livez alone let it in at once.
            added = time.monotonic()
            run("docker", "service", "scale", "--detach", f"{swarm.stack}_app=3")
            swarm.wait_for_app_tasks(3)
            kept_out = time.monotonic() - added
            time.sleep(max(0.0, 30 - kept_out))
            during = swarm.client(
                "-o /dev/null -w '%{http_code} %{time_total}'", f"https://{HOST}/"
            ).stdout.split()
            run("docker", "service", "scale", "--detach", f"{swarm.stack}_postgres=1")
            back = time.monotonic()
            wait_for(lambda: "<h1>" in swarm.page(), timeout=60, what="pages to serve again")
            healed = time.monotonic() - back
        live = {task["ID"] for task in swarm.running_tasks("app")}
    finally:
        # The module's later tests count on two app tasks and a database.
        run("docker", "service", "scale", f"{swarm.stack}_app=2", f"{swarm.stack}_postgres=1", timeout=300)
    assert 12 <= kept_out < 30, kept_out
    # Within the database connection's timeout (5 s), not nginx's 65: with no postgres task, the
    # name lookup may be forwarded past Docker's DNS, which here took from 0.1 to 4 s.
    assert during[0] == "503" and float(during[1]) < 6, during
    assert set(outcome["counts"]) <= {"200", "503"}, outcome
    assert tasks <= live  # Swarm restarted none
    # From `scale` returning (its task scheduled) to pages again: the server's start included.
    assert healed < 30, healed


def rotated_secrets(swarm) -> dict:
    """`rotatekey example` and `rotatedbpassword example` in the swarm's checkout: its secrets.json
    after them."""
    secrets_file = swarm.folder / "secrets.json"
    old = json.loads(secrets_file.read_text())
    for command in ("rotatekey", "rotatedbpassword"):
        rotated = envtool(command, "example", cwd=swarm.root)
        assert rotated.returncode == 0, rotated.stderr
    values = json.loads(secrets_file.read_text())
    assert values["SECRET_KEY"] != old["SECRET_KEY"] and values["SECRET_KEY_FALLBACKS"] == [old["SECRET_KEY"]]
    assert values["DB_PASSWORD_FALLBACKS"] == [old["DB_PASSWORD"]]
    return values


def check_database_password_rotated(swarm, values: dict, database: set[str]):
    """After the deploy of `values`, a rotated secrets.json: the role has the new database password,
    not the old one, and PostgreSQL's task (`database`) was not replaced (the app's tasks used the
    old one until the deploy gave the role the new one); a backup runs. Then the old one goes from
    the file (the next deploy takes it out of the secret)."""
    assert role_takes(swarm, values["DB_PASSWORD"])
    assert not role_takes(swarm, values["DB_PASSWORD_FALLBACKS"][0])
    assert {task["ID"] for task in swarm.running_tasks("postgres")} == database
    (backup,) = run(
        "docker", "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={swarm.stack}_backup"
    ).stdout.split()
    run("docker", "exec", backup, "bash", "/dockerable/backup.sh", "now")
    dropped = envtool("rotatedbpassword", "example", "--drop-fallbacks", cwd=swarm.root)
    assert dropped.returncode == 0, dropped.stderr


def inspected_stack(swarm) -> str:
    """`docker inspect` of the services, the containers on this node and the app's tasks."""
    inspected = run(
        "docker", "service", "inspect", *[f"{swarm.stack}_{name}" for name in ("app", "postgres", "nginx")]
    ).stdout
    containers = run("docker", "ps", "-q", "--filter", f"label=com.docker.stack.namespace={swarm.stack}")
    inspected += run("docker", "inspect", *containers.stdout.split()).stdout
    task_ids = [task["ID"] for task in swarm.running_tasks("app")]
    return inspected + run("docker", "inspect", *task_ids).stdout


def new_tls_pair(folder: Path):
    """A new key and certificate for the environment in `folder`, as newenv makes them."""
    for name, content in zip(("server.key", "server.crt"), self_signed(HOST), strict=True):
        (folder / "ssl" / name).write_bytes(content)


def release_three(swarm) -> str:
    """A third release of the fixture app, built (to go back two from): its image."""
    template = swarm.root / "project" / "fixturebook" / "templates" / "fixturebook" / "index.html"
    template.write_text(template.read_text().replace("<h1>Release two</h1>", "<h1>Release three</h1>"))
    return swarm.build(f"{swarm.stack}-app:three")


def test_a_rotated_secret_key_and_a_new_tls_pair_roll_out_under_load_keeping_sessions_no_secret_shows(swarm):
    # A second deploy meanwhile is refused.
    session = signed_in_session(swarm)
    values = rotated_secrets(swarm)
    before = {task["ID"] for task in swarm.running_tasks("app")}
    banner = swarm.folder / "banner.txt"
    banner.write_text(f"release {uuid.uuid4().hex}\n")
    image = release_three(swarm)
    # A new TLS key and certificate: the clients trust any until the deploy has ended.
    kept = {
        service: {task["ID"] for task in swarm.running_tasks(service)} for service in ("nginx", "postgres")
    }
    new_tls_pair(swarm.folder)
    with swarm.load(verify=False) as outcome, swarm.stack_file(OWN_CONFIG):
        first = subprocess.Popen(  # pylint: disable=consider-using-with
            swarm.deploy_command(),
            env={**swarm.env, "DOCKERABLE_IMAGE": image},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        second = second_deploy_while(first, swarm)
    assert failures(outcome) == {}, outcome
    # The second was refused in one line, and the first one's lock went with it.
    lock = f"{swarm.stack}_deploy-lock"
    assert second.returncode == 1
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr
    assert lines[0].startswith("swarm/deploy.sh: another deploy of example runs ("), lines[0]
    assert lines[0].endswith(f"if none runs (it was killed), remove its lock: docker config rm {lock}")
    assert run("docker", "config", "inspect", lock, check=False).returncode != 0
    assert not before & {task["ID"] for task in swarm.running_tasks("app")}  # every task replaced
    # Signed in before the rotation, still signed in after it: the old key is a fallback. The
    # client trusts only the new certificate, which the same nginx task serves.
    assert admin_status(swarm, session) == "200"
    assert {task["ID"] for task in swarm.running_tasks("nginx")} == kept["nginx"]
    check_database_password_rotated(swarm, values, kept["postgres"])
    configs = run("docker", "config", "ls", "--format", "{{.Name}}").stdout.split()
    assert f"{swarm.stack}_banner-{hashlib.sha256(banner.read_bytes()).hexdigest()[:12]}" in configs
    # The secrets of the deploys before (the old key, database password and TLS key) are gone: each
    # secret of the stack left is one a service uses.
    assert unused_secrets(swarm.stack) == set()
    inspected = inspected_stack(swarm)
    for secret in (values["SECRET_KEY"], values["DB_PASSWORD"], *values["DB_PASSWORD_FALLBACKS"]):
        assert secret not in inspected
    assert "<h1>Release three</h1>" in swarm.page()


def test_after_swarm_rolled_a_failing_release_back_rollback_returns_to_any_kept_one_under_load(swarm):
    health = swarm.root / "dockerable" / "runtime" / "health.py"
    kept = health.read_text()
    health.write_text(
        kept.replace('JsonResponse({"status": "alive"})', 'JsonResponse({"status": "no"}, status=500)')
    )
    try:
        image = swarm.build(f"{swarm.stack}-app:unhealthy")
    finally:
        health.write_text(kept)
    tags = (TEST_IMAGE, f"{swarm.stack}-app:two", f"{swarm.stack}-app:three")
    one, two, three = (release_of(tag) for tag in tags)
    before = {task["Image"] for task in swarm.running_tasks("app")}
    with swarm.load(expect="Release three") as outcome:
        result = swarm.deploy(image=image, check=False)
    assert result.returncode == 1
    assert "failed its health check and was rolled back" in result.stderr, result.stderr
    assert failures(outcome) == {}, outcome
    assert {task["Image"] for task in swarm.running_tasks("app")} == before
    # The workers, which were healthy on it, went back too: one release runs.
    assert swarm.running_image("worker") == swarm.running_image("app")
    # The swarm recorded the releases that served, not the one that never did.
    assert releases(swarm) == [(False, one), (False, two), (True, three)]
    # To the release two back, by name, then to the one before it, under load: Swarm keeps no
    # previous spec after its own rollback, the swarm's history does.
    with swarm.load() as outcome:
        swarm.history("--rollback", one)
        assert "<h1>Dockerable Django</h1>" in swarm.page()
        assert release_named(swarm, "app") == release_named(swarm, "worker") == one
        assert swarm.running_image("worker") == swarm.running_image("app")
        assert releases(swarm) == [(False, two), (False, three), (True, one)]
        # Keeping one release forgets the others and removes their images from the manager.
        swarm.history("--rollback", DOCKERABLE_KEEP_RELEASES="1")
    assert failures(outcome) == {}, outcome
    assert "<h1>Release three</h1>" in swarm.page()
    assert release_named(swarm, "app") == release_named(swarm, "worker") == three
    assert {task["Image"] for task in swarm.running_tasks("app")} == before
    assert swarm.running_image("worker") == swarm.running_image("app")
    assert releases(swarm) == [(True, three)]
    tags = registry_tags(swarm)
    assert f"{swarm.registry}/{swarm.stack}-app:{three}" in tags
    assert not {f"{swarm.registry}/{swarm.stack}-app:{release}" for release in (one, two)} & set(tags), tags


def test_a_stack_with_no_recorded_release_has_none_to_list_or_roll_back_to(swarm):
    other = f"{swarm.stack}-none"
    for args in (["--releases"], ["--rollback"]):
        result = swarm.history(*args, check=False, DOCKERABLE_STACK=other)
        assert (result.returncode, result.stdout) == (1, ""), result
        assert result.stderr == (
            f"swarm/deploy.sh: no release of {other} is recorded in the swarm (each deploy records its own)\n"
        )
    # The rollback's lock, taken before it looked, is gone with it.
    assert not run("docker", "config", "ls", "-q", "--filter", f"name={other}").stdout.strip()


def test_a_backup_restores_into_the_stack_with_its_app_scaled_down_meanwhile(swarm):
    script = str(swarm.root / "dockerable" / "swarm" / "restore.sh")
    stack_file = str(swarm.folder / "docker-stack.yml")
    task = run(
        "docker", "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={swarm.stack}_backup"
    ).stdout.split()[0]
    swarm.psql("INSERT INTO fixturebook_entry (text, created) VALUES ('in the backup', now())")
    made = run("docker", "exec", task, "bash", "/dockerable/backup.sh", "now").stdout
    backup = re.search(r"wrote (\S+)", made).group(1)
    swarm.psql("INSERT INTO fixturebook_entry (text, created) VALUES ('written after it', now())")
    replicas = len(swarm.running_tasks("app"))

    unconfirmed = run(script, stack_file, backup, env=swarm.env, check=False)
    assert unconfirmed.returncode == 1
    assert unconfirmed.stderr.strip() == (
        "swarm/restore.sh: restore replaces the environment's database: add --yes to confirm"
    )
    missing = run(script, stack_file, "example-20200101T000000Z.dump", "--yes", env=swarm.env, check=False)
    assert missing.returncode == 1 and "no such backup" in missing.stderr, missing.stderr
    assert len(swarm.running_tasks("app")) == replicas  # refused before anything stopped

    began = time.time()
    run(script, stack_file, backup, "--yes", env=swarm.env, timeout=600)
    page = swarm.page()
    assert "in the backup" in page and "written after it" not in page
    assert len(swarm.running_tasks("app")) == replicas
    # Every app task had stopped, its DRAIN_SECONDS of serving on included, when the pre-restore
    # backup began: nothing the app wrote can have missed it.
    listed = run("docker", "exec", task, "bash", "/dockerable/backup.sh", "list").stdout
    taken = datetime.datetime.strptime(
        max(re.findall(r"-(\d{8}T\d{6}Z)-pre-restore", listed)), "%Y%m%dT%H%M%SZ"
    ).replace(tzinfo=datetime.UTC)
    stops = []
    for docker in swarm.engines:  # both nodes' containers
        stops += run(
            *docker, "events", "--since", f"{began:.0f}", "--until", f"{time.time():.0f}",
            "--filter", "event=die", "--filter", f"label=com.docker.swarm.service.name={swarm.stack}_app",
            "--format", "{{.TimeNano}}",
        ).stdout.split()  # fmt: skip
    assert len(stops) == replicas and max(int(stop) / 1e9 for stop in stops) < taken.timestamp() + 1, (
        stops,
        taken,
    )


def test_bad_input_is_refused_in_one_line_and_changes_nothing(swarm):
    spec = run("docker", "service", "inspect", f"{swarm.stack}_app").stdout
    node_ip = host_docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", swarm.node).stdout.strip()
    worker = run(
        str(swarm.root / "dockerable" / "swarm" / "deploy.sh"),
        str(swarm.folder / "docker-stack.yml"),
        env={**swarm.env, "DOCKER_HOST": f"tcp://{node_ip}:2375"},
        check=False,
    )
    assert worker.returncode == 1
    assert worker.stderr.strip() == (
        "swarm/deploy.sh: this Docker engine is not a swarm manager: "
        "run it on one (docker swarm init: docs/swarm.md)"
    )
    # The sample's public secrets are errors to checkenv: deploystack refuses before anything runs.
    refused = envtool("deploystack", "example", cwd=swarm.root, DOCKERABLE_STACK=swarm.stack)
    assert refused.returncode != 0
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "checkenv example reports" in lines[0], refused.stderr
    assert run("docker", "service", "inspect", f"{swarm.stack}_app").stdout == spec
    # Each label on one node: PostgreSQL's data and nginx's files are in that node's volumes.
    worker_id = swarm.node_docker("info", "--format", "{{.Swarm.NodeID}}").stdout.strip()
    manager_id = run("docker", "info", "--format", "{{.Swarm.NodeID}}").stdout.strip()
    for node, change, undo, expected in (
        (
            worker_id,
            "--label-add=dockerable.db=true",
            "--label-rm=dockerable.db",
            "2 nodes are labelled dockerable.db=true (",
        ),
        (
            manager_id,
            "--label-rm=dockerable.proxy",
            "--label-add=dockerable.proxy=true",
            "no node is labelled dockerable.proxy=true: label one",
        ),
    ):
        run("docker", "node", "update", change, node)
        try:
            result = swarm.deploy(check=False)
        finally:
            run("docker", "node", "update", undo, node)
        assert result.returncode == 1
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stderr.startswith(f"swarm/deploy.sh: {expected}"), result.stderr
        assert run("docker", "service", "inspect", f"{swarm.stack}_app").stdout == spec
    # Swarm stops a task whose node lost a label its service needs: nginx, back with the label.
    wait_for(
        lambda: swarm.client(f"https://{HOST}/", check=False).returncode == 0,
        timeout=60,
        what="nginx back on the relabelled node",
    )
    # A secrets.json the loader refuses: its line, before any image is tagged or pushed.
    secrets_file = swarm.folder / "secrets.json"
    kept = secrets_file.read_bytes()
    secrets_file.write_text(json.dumps({**json.loads(kept), "DB_PASSWORD": ""}))
    try:
        result = swarm.deploy(check=False)
    finally:
        secrets_file.write_bytes(kept)
    assert result.returncode == 1
    assert result.stderr == f"swarm/deploy.sh: {secrets_file}: key 'DB_PASSWORD' must be a non-empty string\n"
    assert run("docker", "service", "inspect", f"{swarm.stack}_app").stdout == spec


def test_rollbacks_the_history_cannot_make_are_refused_in_one_line_changing_nothing(swarm):
    spec = run("docker", "service", "inspect", f"{swarm.stack}_app").stdout
    ((_, running),) = releases(swarm)  # the last rollback kept one
    stack_file = swarm.folder / "docker-stack.yml"
    for args, expected in (
        (
            ("--rollback",),
            f"only one release of {swarm.stack} is recorded ({running}): there is none before it",
        ),
        (("--rollback", running), f"{running} is the release running already"),
        (
            ("--rollback", "example-0123456789ab"),
            f"no release example-0123456789ab of {swarm.stack} is recorded: "
            f"swarm/deploy.sh {stack_file} --releases lists those there are",
        ),
    ):
        refused = swarm.history(*args, check=False)
        assert (refused.returncode, refused.stderr) == (1, f"swarm/deploy.sh: {expected}\n"), args
    result = run(*swarm.deploy_command(), env={**swarm.env, "DOCKERABLE_KEEP_RELEASES": "0"}, check=False)
    assert (result.returncode, result.stderr) == (
        1, "swarm/deploy.sh: DOCKERABLE_KEEP_RELEASES=0: must be a whole number, 1 or more\n"
    )  # fmt: skip
    assert run("docker", "service", "inspect", f"{swarm.stack}_app").stdout == spec


def test_a_stack_file_deploy_sh_or_swarm_cannot_use_is_refused_in_one_line(swarm):
    release = swarm.running_image("app")

    def refusal(stack_file: str) -> str:
        """The one line deploy.sh exits 1 with, the environment's stack file being `stack_file`,
        having stopped before the migrations (and so before any release)."""
        with swarm.stack_file(stack_file):
            result = swarm.deploy(check=False)
        assert result.returncode == 1
        assert "migrations of" not in result.stdout, result.stdout
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        return result.stderr.strip()

    # A config made from a file that is not there: its line, before anything is deployed.
    assert not (swarm.folder / "gone.txt").exists()
    assert refusal(OWN_CONFIG.replace("banner", "gone").replace("BANNER", "GONE")) == (
        f"swarm/deploy.sh: {swarm.folder}/gone.txt: no such file,"
        " and a secret or config of the stack is made from it"
    )
    # One no service uses: Swarm would keep it under a name that never changes.
    (swarm.folder / "unused.txt").write_text("unused\n")
    unused = OWN_CONFIG.replace("    configs: [{source: banner, target: /etc/banner.txt}]\n", "")
    assert refusal(unused.replace("banner", "unused").replace("BANNER", "UNUSED")) == (
        f"swarm/deploy.sh: {swarm.folder}/docker-stack.yml: HASH_UNUSED names a secret or config"
        " no service uses: mount it in a service, or remove it"
    )
    # A volume for uploads: each node would keep its own files (checkenv says the same).
    with_media = TEST_STACK_FILE.replace("  app:\n", "  app:\n    volumes: ['media:/srv/media']\n")
    assert refusal(with_media + "volumes:\n  media: {}\n") == (
        f"swarm/deploy.sh: {swarm.folder}/docker-stack.yml: service app mounts a volume at /srv/media:"
        " each node would keep its own uploads, which app tasks on other nodes cannot serve;"
        " name a MEDIA_S3_BUCKET in secrets.json instead (docs/media.md)"
    )
    # What Compose accepts and Swarm refuses: `docker stack deploy`'s own line, and no success.
    line = refusal(
        TEST_STACK_FILE.replace(
            "  nginx: {", "  nginx: {deploy: {placement: {constraints: [dd-no-operator]}}, "
        )
    )
    assert line.startswith("swarm/deploy.sh: docker stack deploy failed: "), line
    assert "constraint expected one operator" in line, line
    # Swarm may have updated the services it took before the one it refused (a stack is not
    # deployed atomically); the release is the one that ran.
    assert swarm.running_image("app") == release


def acme_stack_file(acme: Path) -> str:
    """The test's stack file with certificates by ACME: Pebble as the ACME server, on the acme
    network, where nginx answers to the domain that Pebble validates."""
    stack = yaml.safe_load(TEST_STACK_FILE)
    stack["services"]["nginx"] = {
        "environment": {"TLS_SOURCE": "acme", "TLS_WATCH_INTERVAL": "1"},
        "networks": {"app": {}, "acme": {"aliases": [HOST]}},
    }
    stack["services"]["certbot"] = {
        "environment": {
            "ACME_DOMAINS": HOST,
            "ACME_DIRECTORY": "https://pebble:14000/dir",
            "REQUESTS_CA_BUNDLE": "/pebble-ca.pem",
            "ATTEMPT_TIMEOUT": "20",
            "RETRY_INTERVAL": "5",
        },
        "configs": [{"source": "pebble-ca", "target": "/pebble-ca.pem"}],
        "deploy": {"replicas": 1},
    }
    stack["services"]["pebble"] = {
        "image": PEBBLE_IMAGE,
        "command": ["-config", "/pebble.json"],
        "environment": {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"},
        "configs": [{"source": "pebble-config", "target": "/pebble.json"}],
        "networks": ["acme"],
        "deploy": {"endpoint_mode": "dnsrr", "placement": {"constraints": ["node.role == manager"]}},
    }
    stack["configs"] = {
        "pebble-ca": {"file": str(acme / "pebble-ca.pem")},
        "pebble-config": {"file": str(acme / "pebble.json")},
    }
    return yaml.safe_dump(stack, sort_keys=False)


def test_certbot_in_the_stack_gets_the_certificate_nginx_serves(swarm):
    acme = swarm.control / "acme"
    acme.mkdir()
    (acme / "pebble.json").write_text(json.dumps(PEBBLE_CONFIG))
    ca = run("docker", "run", "--rm", "--entrypoint", "cat", PEBBLE_IMAGE, "/test/certs/pebble.minica.pem")
    (acme / "pebble-ca.pem").write_text(ca.stdout)
    with swarm.stack_file(acme_stack_file(acme)):
        swarm.deploy()

        served = [wait_for(lambda: new_from_pebble(swarm, []), timeout=120, what="a certificate from Pebble")]
        health = run("docker", "service", "ps", "--format", "{{.CurrentState}}", f"{swarm.stack}_certbot")
        assert health.stdout.startswith("Running"), health.stdout
        # Forced renewals under load, each served to new connections before the next, none failing
        # a request (nginx is not reloaded: docs/proxy.md).
        docker, certbot = swarm.task_of("certbot")
        with swarm.load("/healthz", verify=False) as outcome:
            for _ in range(2):
                run(
                    *docker, "exec", certbot, "sh", "/dockerable-proxy/certbot.sh", "renew", "--force-renewal"
                )
                renewed = wait_for(
                    lambda: new_from_pebble(swarm, served), timeout=60, what="the renewal served"
                )
                served.append(renewed)
        assert failures(outcome) == {}, outcome
        assert outcome["counts"]["200"] > 100, outcome


def new_from_pebble(swarm, served: list) -> str:
    """The issuer and dates of the certificate nginx serves if Pebble issued it and it is none of
    `served`; "" if not (until certbot has one, nginx refuses every handshake)."""
    answer = swarm.client("-k -v -o /dev/null", f"https://{HOST}/healthz", check=False).stderr
    found = re.findall(r"(issuer|start date|expire date): (.*)", answer)
    from_pebble = any(key == "issuer" and "Pebble" in value for key, value in found)
    return repr(found) if from_pebble and repr(found) not in served else ""


def ship_and_deploy(swarm, env: str, image: str, stack: str) -> tuple[str, Path]:
    """shipenv ENV, then the bundle's deploy.sh --swarm from an unpacked copy on a host that never
    built its image: (the release image, the bundle's folder)."""
    shipped = envtool(
        "shipenv", env, "--output", str(swarm.control),
        cwd=swarm.root, DOCKERABLE_IMAGE=image, COMPOSE_PROJECT_NAME=stack,
    )  # fmt: skip
    assert shipped.returncode == 0, shipped.stderr
    release = re.search(r"\(image ([^)]+)\)", shipped.stdout).group(1)
    bundle = Path(re.search(r"Made (\S+)", shipped.stdout).group(1))
    host = swarm.control / "host"
    with tarfile.open(bundle) as archive:
        archive.extractall(host, filter="tar")
    run("docker", "image", "rm", release)  # the bundle brings it
    (root,) = host.iterdir()
    run(
        str(root / "deploy.sh"), "--swarm", "--registry", swarm.registry,
        env={**os.environ, "DOCKERABLE_STACK": stack}, timeout=900,
    )  # fmt: skip
    return release, root


def test_deploystack_and_a_bundle_deploy_an_environment_of_ones_own(swarm):
    domain = "staging.example.test"
    made = envtool("newenv", "staging", "--domain", domain, cwd=swarm.root, DOCKERABLE_IMAGE="unused")
    assert made.returncode == 0, made.stderr
    folder = swarm.root / "project" / "settings" / "staging"
    (folder / "docker-stack.yml").write_text(TEST_STACK_FILE)
    # Its images are the manager's, which goes with the module.
    stack = f"{swarm.stack}-staging"
    image = f"{stack}-app:latest"
    try:
        # From the checkout: checkenv passes, the image is built, the stack deploys through the registry.
        built = envtool(
            "deploystack", "staging", "--registry", swarm.registry,
            cwd=swarm.root, DOCKERABLE_STACK=stack, DOCKERABLE_IMAGE=image, COMPOSE_PROJECT_NAME=stack,
        )  # fmt: skip
        assert built.returncode == 0, built.stdout + built.stderr
        page = swarm.client(f"https://{domain}/", stack=stack, folder=folder, host=domain).stdout
        assert re.search(r"<h1>(Dockerable Django|Release \w+)</h1>", page), page  # as earlier tests left it
        swarm.psql("INSERT INTO fixturebook_entry (text, created) VALUES ('kept across stack rm', now())",
                   stack=stack, folder=folder)  # fmt: skip

        # The stack removed, then from a bundle, with no checkout: the data is still there, and the
        # bundle's image becomes the release every task runs.
        remove_stack(stack)
        release, root = ship_and_deploy(swarm, "staging", image, stack)
        release_id = run("docker", "image", "inspect", "-f", "{{.Id}}", release).stdout.strip()[7:19]
        spec = run(
            "docker", "service", "inspect", "-f", "{{.Spec.TaskTemplate.ContainerSpec.Image}}", f"{stack}_app"
        ).stdout
        assert f"/{stack}-app:staging-{release_id}@sha256:" in spec, spec
        staged = swarm.client(
            f"https://{domain}/healthz", stack=stack, folder=root / "project/settings/staging", host=domain
        )
        assert staged.stdout == '{"status": "ok", "database": "ok"}', staged.stdout
        page = swarm.client(
            f"https://{domain}/", stack=stack, folder=root / "project/settings/staging", host=domain
        ).stdout
        assert "kept across stack rm" in page, page
    finally:
        with contextlib.suppress(AssertionError):
            remove_stack(stack)
        for volume in run("docker", "volume", "ls", "-q", "--filter", f"name={stack}_").stdout.split():
            run("docker", "volume", "rm", "-f", volume, check=False)


# A picture posted through the fixture app's form, through nginx, by a browser's steps: its page
# for the CSRF cookie, then the form. curl in a container on the app network; prints the status.
POST_PICTURE = """
set -eu
ip="$(getent hosts nginx | cut -d' ' -f1)"
site="https://$HOST/"
browser() { curl -sS --cacert /control/ca.crt --resolve "$HOST:443:$ip" -b /tmp/jar -c /tmp/jar "$@"; }
browser -o /dev/null "$site"
token="$(awk '$6 == "csrftoken" {print $7}' /tmp/jar)"
browser -o /dev/null -w '%{http_code}' -H "Referer: $site" -F "csrfmiddlewaretoken=$token" \
    -F "text=$TEXT" -F "picture=@/control/photo.png" "$site"
"""


def test_with_a_bucket_a_picture_uploaded_through_one_app_task_is_served_through_every_other(swarm):
    # Object storage (the moto server) on the app network, which both nodes' tasks reach.
    moto = f"{swarm.stack}-moto"
    run("docker", "run", "-d", "--rm", "--name", moto, "--network", f"{swarm.stack}_app",
        "--network-alias", "moto", MOTO_IMAGE)  # fmt: skip
    secrets_file = swarm.folder / "secrets.json"
    kept = secrets_file.read_bytes()
    try:
        wait_for(
            lambda: swarm.client("-f -X PUT http://moto:5000/uploads", check=False).returncode == 0,
            timeout=60,
            what="the moto server to make the bucket",
        )
        secrets_file.write_text(json.dumps({
            **json.loads(kept), "MEDIA_S3_BUCKET": "uploads", "MEDIA_S3_ENDPOINT_URL": "http://moto:5000",
            "MEDIA_S3_REGION": "us-east-1", "MEDIA_S3_ACCESS_KEY_ID": "testing",
            "MEDIA_S3_SECRET_ACCESS_KEY": "testing",
        }))  # fmt: skip
        swarm.deploy()
        text = f"a picture {uuid.uuid4().hex}"
        shutil.copy(swarm.folder / "ssl" / "server.crt", swarm.control / "ca.crt")
        (swarm.control / "photo.png").write_bytes(UPLOADS["photo.png"])
        posted = run(
            "docker", "run", "--rm", "--network", f"{swarm.stack}_app", "-v", f"{swarm.control}:/control",
            "-e", f"HOST={HOST}", "-e", f"TEXT={text}",
            "nginx:1.30", "sh", "-c", POST_PICTURE,
        ).stdout  # fmt: skip
        assert posted == "302", posted
        # Each app task, on each node, shows it: its link, signed for the bucket, serves the file.
        tasks = [
            (docker, container)
            for docker in swarm.engines
            for container in run(
                *docker, "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={swarm.stack}_app"
            ).stdout.split()
        ]
        assert len(tasks) == 2, tasks
        expected = hashlib.sha256(UPLOADS["photo.png"]).hexdigest()
        for docker, container in tasks:
            page = rendered_by(docker, container, "/")
            entry = next((item for item in page.split("<li") if text in item), "")
            link = html.unescape(entry.partition('<img src="')[2].partition('"')[0])
            assert link.startswith("http://moto:5000/uploads/") and "Signature=" in link, (container, entry)
            served = swarm.client(f"'{link}' | sha256sum").stdout.split()[0]
            assert served == expected, (container, link)
    finally:
        secrets_file.write_bytes(kept)  # the next deploy, if any, goes back to no bucket
        run("docker", "rm", "-f", moto, check=False)


def test_a_task_that_takes_no_connection_costs_a_request_seconds_not_a_minute(swarm):
    # nginx gives up connecting after 1 s and sends the request to the other task; by default it
    # waited 60 s, and the load's clients (10 s) gave up first.
    docker, container = swarm.app_task()
    with swarm.load(verify=False) as outcome, unreachable(swarm, docker, container):
        time.sleep(15)
    assert failures(outcome) == {}, outcome
    assert outcome["counts"]["200"] > 100, outcome


def test_an_app_task_that_crashes_under_load_fails_no_request_it_held(swarm):
    assert len(swarm.running_tasks("app")) == 2
    docker, container = swarm.app_task()
    task = run(*docker, "inspect", "-f", '{{index .Config.Labels "com.docker.swarm.task.id"}}', container)
    with swarm.load(verify=False) as outcome:
        killed = time.monotonic()  # the load's clock too: one kernel
        run(*docker, "kill", container)  # SIGKILL, as the kernel's OOM killer or a segfault ends it
        # Through Swarm's replacement too: a task that comes, as well as one that goes.
        swarm.wait_for_app_tasks(2, replaced=frozenset({task.stdout.strip()}))
    # The requests the dead task held: nginx sends them again to the other (GET is idempotent).
    # One sent to its address in the second or two before Docker's DNS drops it waits for the
    # connect timeout (1 s), then goes to the other task, or fails if nginx's list of tasks has
    # changed meanwhile: a 504 (or 502) at once then, never a hang (docs/swarm.md).
    late = [(round(end - took - killed, 3), what, took) for end, what, took in outcome["failures"]]
    assert all(what in {"502", "504"} and 0 < begun < 5 and took < 3 for begun, what, took in late), (
        late,
        outcome,
    )
    assert outcome["counts"]["200"] > 100, outcome


def test_a_stopping_app_task_serves_on_while_nginx_may_still_send_it_requests(swarm):
    # Swarm takes a task out of its DNS 2 s before SIGTERM, and nginx may still send it requests
    # for a moment after: a uWSGI that closed at once reset them, and nginx, whose list of tasks
    # had changed meanwhile, answered 502 (docs/swarm.md).
    drain = int(yaml.safe_load((REPO / "dockerable" / "swarm" / "stack.yml").read_text())
                ["services"]["app"]["environment"]["DRAIN_SECONDS"])  # fmt: skip
    docker, container = swarm.app_task()
    script = (
        "import socket, time\n"
        "answers, end = [], time.monotonic() + float(__import__('sys').argv[1])\n"
        "while time.monotonic() < end:\n"
        "    try:\n"
        "        with socket.create_connection(('127.0.0.1', 3031), timeout=5) as sock:\n"
        f"            sock.sendall({uwsgi_request('/healthz')!r})\n"
        "            answers.append(sock.recv(4096).split(b'\\r\\n')[0].decode() or 'closed')\n"
        "    except OSError as exc:\n"
        "        answers.append(type(exc).__name__)\n"
        "    time.sleep(0.2)\n"
        "print(*sorted(set(answers)), sep='|')\n"
    )
    run(*docker, "kill", "--signal", "TERM", container)
    stopped = time.monotonic()
    answers = run(*docker, "exec", container, "python", "-c", script, str(drain - 1), check=False)
    assert answers.stdout.strip() == "HTTP/1.1 200 OK", answers
    # Then it stops by itself, gracefully, long before Swarm's SIGKILL (stop_grace_period 30 s).
    assert run(*docker, "wait", container, timeout=60).stdout.strip() == "0"
    assert time.monotonic() - stopped < drain + 10
    # Last in the module: a load started right after this kill has seen its first requests time
    # out (docs/swarm.md, "What is not there yet"). Swarm's replacement is awaited all the same.
    swarm.wait_for_app_tasks(2)
