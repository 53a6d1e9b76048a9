"""The benchmark suite: builds what it needs, runs each configuration in rounds, prints and saves the results.

Every load run is wrk with keep-alive from a container inside the stack's own
compose network (so Docker's port forwarding is not measured), bounded by
--seconds. All stacks and variants run at once, idle except the one under
load, and each round visits every configuration once, in a shuffled order that
keeps the runs a target compares back to back: figures on a shared 2-core
machine drift, and the targets are ratios taken side by side, round by round.
"""

import argparse
import contextlib
import datetime
import json
import os
import platform
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from dockerable.bench import cgroup, host_cpu
from dockerable.bench.combine import CombineError, combine
from dockerable.bench.configurations import (
    BOTH,
    GRANIAN_IMAGE,
    GUNICORN_IMAGE,
    Variant,
    override,
    quiet,
    variants,
)
from dockerable.bench.load import WRK_IMAGE, run_wrk
from dockerable.bench.login import CLIENTS, LIGHT_LOAD, login_flood
from dockerable.bench.report import (
    DEV,
    PROD,
    PROXY,
    SWARM,
    Report,
    Run,
    block,
    evaluate,
    markdown,
    percentile,
)
from dockerable.bench.swarm import SwarmStack, rolling_update, swarm_available, swarm_stack
from dockerable.tests.docker_stack import (
    Stack,
    base_image,
    build_backup_images,
    copy_checkout,
    free_port,
    install_fixture_app,
    run,
    wait_for,
)
from dockerable.tests.http_client import request
from dockerable.tests.task_checks import QUEUE_TABLE

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
APP_IMAGE = "dockerable-django:bench"
SEED_ROWS = 50
# The database the backup timings use: about a million rows of the template suite's fixture app.
BACKUP_ROWS = 1_000_000
# Pairs of /healthz runs, idle and while backups run (at the default BACKUP_RATE_LIMIT), for the
# backup's cost to the app; the median pair is judged.
BACKUP_PAIRS = 5
# Then uploads beside the database: files of random (incompressible) bytes in the volume.
MEDIA_FILES = 1000
MEDIA_FILE_KB = 256
# The upload path: a file of this size posted through the fixture app's form, over and over.
UPLOAD_KB = 100
# Tasks queued at once to time the worker by.
TASK_BACKLOG = 2000
# Start-up and edit timings are taken several times; the worst one is judged.
STARTS = 3
EDITS = 5
WARM_UP_SECONDS = 1
# Before each run the machine must be this quiet (share of all cores busy over 0.25 s): the
# last run's queued requests and closing connections are not charged to the next one.
QUIET_BELOW = 0.15
QUIET_TIMEOUT = 10


@dataclass(frozen=True)
class Load:
    """One thing each round measures: a configuration's endpoint, and the containers whose cost counts."""

    configuration: str
    endpoint: str
    stack: Stack | SwarmStack
    services: tuple[str, ...]
    url: str

    @property
    def network(self) -> str:
        """Where wrk runs: a Swarm stack's app network, or a compose project's default one."""
        if isinstance(self.stack, SwarmStack):
            return self.stack.network
        return f"{self.stack.project}_default"


def log(message: str) -> None:
    """Progress on stderr, so stdout holds only the tables."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def server_containers(load: Load) -> list[str]:
    """IDs of the containers whose CPU and memory count for `load` (every task of a Swarm service)."""
    return [
        container
        for service in load.services
        for container in load.stack.containers(service, all_states=False)
    ]


def measure(load: Load, containers: list[str], seconds: int) -> Run:
    """wrk against the load's URL from inside its network; CPU and memory of its server `containers`."""
    before = {container: cgroup.counters(container)[0] for container in containers}
    host_before = host_cpu.sample()
    result = run_wrk(load.network, load.url, seconds)
    host_after = host_cpu.sample()
    after = {container: cgroup.counters(container) for container in containers}
    cpu = sum(after[c][0] - before[c] for c in containers)
    peak = sum(after[c][1] for c in containers) / 1_048_576
    return Run(
        round(result.requests_per_second, 1),
        result.errors,
        round(cpu, 2),
        round(peak, 1),
        result.requests,
        result.histogram,
        host_cpu.steal_seconds(host_before, host_after),
    )


def round_order(loads: list[Load], order: random.Random) -> list[int]:
    """One round's order of `loads` (indices): the blocks shuffled, and each block's loads within it.

    Loads that a target compares share a block (report.block), so they run seconds apart.
    A fixed order cost the load after runserver's about a tenth of its req/s in every round
    (runserver's requests still in flight, its database connections closing).
    """
    blocks: dict[str, list[int]] = {}
    for position, load in enumerate(loads):
        blocks.setdefault(block(load.configuration, load.endpoint), []).append(position)
    groups = order.sample(list(blocks.values()), len(blocks))
    return [position for group in groups for position in order.sample(group, len(group))]


def run_rounds(report: Report, loads: list[Load], rounds: int, seconds: int, order: random.Random) -> None:
    """Each round measures every load once, in an order of its own (round_order)."""
    # The table lists the rows in the loads' order, whatever order they run in.
    for load in loads:
        report.row(load.configuration, load.endpoint)
    # Unrecorded: each worker's first requests import the views and open its database
    # connection, which would otherwise land in whichever round comes first.
    log(f"warming up {len(loads)} loads")
    for load in loads:
        run_wrk(load.network, load.url, WARM_UP_SECONDS)
    # Looked up once: nothing restarts a container between rounds.
    containers = [server_containers(load) for load in loads]
    for number in range(rounds):
        for position in round_order(loads, order):
            load = loads[position]
            if not host_cpu.wait_until_quiet(QUIET_BELOW, QUIET_TIMEOUT):
                log(f"the machine stayed above {QUIET_BELOW:.0%} busy for {QUIET_TIMEOUT}s; measuring anyway")
            log(f"round {number + 1}/{rounds}: {load.configuration} {load.endpoint}, {seconds}s of load")
            try:
                outcome = measure(load, containers[position], seconds)
            except (AssertionError, RuntimeError, OSError) as exc:
                # A configuration that fails is a run with errors -1, not an abort.
                log(f"{load.configuration} {load.endpoint} FAILED: {str(exc).splitlines()[0]}")
                outcome = Run(0.0, -1, 0.0, 0.0)
            report.row(load.configuration, load.endpoint).runs.append(outcome)


def seed(stack: Stack) -> None:
    """The ~50 rows the page endpoint renders through the ORM."""
    stack.exec(
        "app",
        "/dockerable/cmd.sh",
        "manage",
        "shell",
        "-c",
        "from project.fixturebook.models import Entry; Entry.objects.all().delete(); "
        f"Entry.objects.bulk_create(Entry(text=f'benchmark entry {{i}}') for i in range({SEED_ROWS}))",
    )


def queue_tasks(stack: Stack, count: int, prefix: str) -> None:
    """`count` of the fixture app's record_run tasks queued, as requests queue them (one row each)."""
    stack.exec(
        "app", "/dockerable/cmd.sh", "manage", "shell", "-c",
        "from project.fixturebook.tasks import record_run\n"
        f"for i in range({count}): record_run.enqueue(f'{prefix}-{{i}}')",
    )  # fmt: skip


def queued(stack: Stack) -> int:
    """Tasks not finished yet."""
    return int(stack.psql(f"SELECT count(*) FROM {QUEUE_TABLE} WHERE status IN ('READY', 'RUNNING')"))


def task_measures(stack: Stack, report: Report, seconds: int) -> None:
    """The cached list's page against the database's; tasks a second through the one worker; the
    page's req/s while that worker drains a backlog, against idle (pairs, medians)."""
    network = f"{stack.project}_default"
    log("the page with its list from the cache, and from the database")
    ratios = []
    for _ in range(BACKUP_PAIRS):
        host_cpu.wait_until_quiet(QUIET_BELOW, QUIET_TIMEOUT)
        uncached = run_wrk(network, "https://app/", seconds).requests_per_second
        cached = run_wrk(network, "https://app/cached", seconds).requests_per_second
        ratios.append(cached / uncached)
    report.measures["page_cached_over_uncached"] = round(statistics.median(ratios), 2)
    log(f"{TASK_BACKLOG} tasks through one worker")
    stack.compose("stop", "worker")
    queue_tasks(stack, TASK_BACKLOG, "bench-rate")
    stack.compose("start", "worker")
    wait_for(lambda: queued(stack) == 0, timeout=600, interval=1, what="the worker to drain its queue")
    # From the first task's start to the last one's end: the worker's own start-up left out.
    took = stack.psql(
        f"SELECT extract(epoch FROM max(finished_at) - min(started_at)) FROM {QUEUE_TABLE} "
        "WHERE args_kwargs->'args'->>0 LIKE 'bench-rate-%'"
    )
    rate = TASK_BACKLOG / float(took)
    report.measures["tasks_per_s"] = round(rate, 1)
    log("the page idle, and while the worker drains a backlog")
    ratios = []
    for number in range(BACKUP_PAIRS):
        host_cpu.wait_until_quiet(QUIET_BELOW, QUIET_TIMEOUT)
        idle = run_wrk(network, "https://app/", seconds).requests_per_second
        # Enough for the worker to be busy for the whole run, and some.
        queue_tasks(stack, int(rate * (seconds + 5)), f"bench-busy-{number}")
        busy = run_wrk(network, "https://app/", seconds).requests_per_second
        if queued(stack) == 0:
            raise RuntimeError("the worker drained its backlog before the load ended: queue more")
        wait_for(lambda: queued(stack) == 0, timeout=600, interval=1, what="the worker to drain its queue")
        ratios.append(busy / idle)
    report.measures["page_while_worker_busy_over_idle"] = round(statistics.median(ratios), 2)


def backup_measures(stack: Stack, report: Report, seconds: int) -> None:
    """A database of BACKUP_ROWS rows: backup and restore time and size; /healthz req/s while backups run."""
    values = json.loads((stack.folder / "secrets.json").read_text())
    log(f"filling the prod database with {BACKUP_ROWS:,} fixturebook rows")
    stack.exec(
        "postgres",
        "psql",
        "-U",
        values["DB_USER"],
        "-d",
        values["DB_NAME"],
        "-qc",
        "INSERT INTO fixturebook_entry (text, created) "
        f"SELECT 'benchmark row ' || n, now() FROM generate_series(1, {BACKUP_ROWS}) n",
    )
    log("backup and restore timings")
    # The dump's own time (no rate limit), then as a scheduled backup runs (the default limit).
    report.measures["backup_1m_rows_s"] = timed(
        lambda: stack.compose("exec", "-T", "-e", "BACKUP_RATE_LIMIT=0", "backup", "./backup.sh", "now")
    )
    report.measures["backup_1m_rows_rate_limited_s"] = timed(
        lambda: stack.exec("backup", "./backup.sh", "now")
    )
    newest = stack.exec("backup", "./backup.sh", "list").stdout.split()[0]
    size = int(stack.exec("backup", "stat", "-c", "%s", f"/backups/{newest}").stdout)
    report.measures["backup_1m_rows_mb"] = round(size / 1e6, 1)
    # The drill restores into a scratch database: a restore's work without touching the real one.
    report.measures["restore_1m_rows_s"] = timed(
        lambda: stack.exec("backup", "./backup.sh", "drill", "latest")
    )
    stack.exec("backup", "./backup.sh", "drill-clean")
    log(f"/healthz idle and while backups run, {BACKUP_PAIRS} pairs")
    network, url, ratios = f"{stack.project}_default", "https://app/healthz", []
    for _ in range(BACKUP_PAIRS):
        host_cpu.wait_until_quiet(QUIET_BELOW, QUIET_TIMEOUT)
        idle = run_wrk(network, url, seconds).requests_per_second
        # Backups one after another for as long as the load runs, then the one under way finishes.
        stack.compose(
            "exec",
            "--detach",
            "backup",
            "bash",
            "-c",
            "rm -f /tmp/stop /tmp/stopped; while [ ! -f /tmp/stop ]; do "
            "./backup.sh now >/dev/null 2>&1; done; touch /tmp/stopped",
        )
        busy = run_wrk(network, url, seconds).requests_per_second
        stack.exec(
            "backup",
            "bash",
            "-c",
            "touch /tmp/stop; for _ in $(seq 600); do [[ -f /tmp/stopped ]] && break; sleep 0.2; done; "
            "rm -f /tmp/stop /tmp/stopped",
        )
        ratios.append(busy / idle)
    report.measures["healthz_during_backup_over_idle"] = round(sorted(ratios)[len(ratios) // 2], 2)


def media_measures(stack: Stack, report: Report, seconds: int) -> None:
    """MEDIA_FILES files in the media volume beside the database: a backup's time at full speed and
    at the shipped rate limit, its uploads archive's size, and /healthz req/s while it runs."""
    log(f"filling the media volume with {MEDIA_FILES} files of {MEDIA_FILE_KB} KB")
    fill = (
        f"mkdir -p /srv/media/bench && for i in $(seq {MEDIA_FILES}); do "
        f"head -c {MEDIA_FILE_KB * 1024} /dev/urandom >/srv/media/bench/$i.bin; done"
    )
    stack.exec("app", "sh", "-c", fill, user="10001:10001")
    megabytes = round(MEDIA_FILES * MEDIA_FILE_KB / 1024)
    name = f"backup_1m_rows_{megabytes}mb_media"
    report.measures[f"{name}_s"] = timed(
        lambda: stack.compose("exec", "-T", "-e", "BACKUP_RATE_LIMIT=0", "backup", "./backup.sh", "now")
    )
    newest = stack.exec("backup", "./backup.sh", "list").stdout.split()[0]
    archive = f"/backups/{newest.removesuffix('.dump')}.media.tar"
    size = int(stack.exec("backup", "stat", "-c", "%s", archive).stdout)
    report.measures[f"backup_{megabytes}mb_media_archive_mb"] = round(size / 1e6, 1)
    # One backup at the shipped limit takes minutes: /healthz runs while it does, against runs
    # just before it (not pairs: it is one long backup).
    log("a backup with the uploads at the shipped rate limit, and /healthz while it runs")
    network, url = f"{stack.project}_default", "https://app/healthz"
    host_cpu.wait_until_quiet(QUIET_BELOW, QUIET_TIMEOUT)
    idle = [run_wrk(network, url, seconds).requests_per_second for _ in range(BACKUP_PAIRS)]
    began = time.monotonic()
    one_backup = "rm -f /tmp/done; ./backup.sh now >/dev/null 2>&1; touch /tmp/done"
    stack.compose("exec", "--detach", "backup", "bash", "-c", one_backup)
    time.sleep(10)  # past the dump (seconds at the limit), into the uploads' archive
    busy = [run_wrk(network, url, seconds).requests_per_second for _ in range(BACKUP_PAIRS)]
    wait_for(
        lambda: stack.exec("backup", "test", "-f", "/tmp/done", check=False).returncode == 0,
        timeout=3600,
        interval=1,
        what="the rate-limited backup with the uploads to end",
    )
    report.measures[f"{name}_rate_limited_s"] = round(time.monotonic() - began, 1)
    report.measures[f"healthz_during_{name}_backup_over_idle"] = round(
        statistics.median(busy) / statistics.median(idle), 2
    )


def upload_measures(stack: Stack, report: Report, seconds: int) -> None:
    """UPLOAD_KB files posted through the fixture app's form in production mode: uploads a second."""
    log(f"posting {UPLOAD_KB} KB files through the form")
    # The CSRF check as a browser passes it: the cookie's secret, sent back in the form.
    token, boundary = secrets.token_hex(16), secrets.token_hex(16)
    fields = {"csrfmiddlewaretoken": token, "text": "benchmark upload"}
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="picture"; filename="upload.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + os.urandom(UPLOAD_KB * 1024)
        + b"\r\n"
    )
    with tempfile.TemporaryDirectory(prefix="dockerable-bench-upload-") as folder:
        Path(folder).chmod(0o755)
        body = Path(folder) / "body"
        body.write_bytes(b"".join(parts) + f"--{boundary}--\r\n".encode())
        body.chmod(0o644)
        headers = {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Cookie": f"csrftoken={token}",
            "Origin": "https://localhost",
        }
        host_cpu.wait_until_quiet(QUIET_BELOW, QUIET_TIMEOUT)
        result = run_wrk(f"{stack.project}_default", "https://app/", seconds, body=body, headers=headers)
    # Each answer must have stored its file (a form that failed validation would answer 200).
    stored = int(stack.exec("app", "sh", "-c", "find /srv/media/fixturebook -type f | wc -l").stdout)
    if stored < result.requests:
        raise RuntimeError(f"{result.requests} uploads answered, {stored} files stored")
    report.measures[f"upload_{UPLOAD_KB}kb_per_s"] = round(result.requests_per_second, 1)
    report.measures[f"upload_{UPLOAD_KB}kb_errors"] = result.errors


def login_measures(stack: Stack, report: Report, seconds: int, https_port: int, rounds: int) -> None:
    """The page's p99 at a light load, alone and while CLIENTS clients send bad logins: the median
    of `rounds` runs each, since the p99 of one short run at 2 connections is a handful of requests."""
    log(f"the page alone and while {CLIENTS} clients send bad logins ({rounds} runs each)")
    network, url = f"{stack.project}_default", "https://app/"
    host_cpu.wait_until_quiet(QUIET_BELOW, QUIET_TIMEOUT)
    alone = [run_wrk(network, url, seconds, connections=LIGHT_LOAD) for _ in range(rounds)]
    with login_flood(https_port) as outcomes:
        wait_for(lambda: sum(outcomes.values()) >= CLIENTS, timeout=60, what="the bad logins to start")
        during = [run_wrk(network, url, seconds, connections=LIGHT_LOAD) for _ in range(rounds)]
        attempts = sum(outcomes.values())
        refused = outcomes["429"]
    failed = {outcome: count for outcome, count in outcomes.items() if outcome not in ("200", "429")}
    if failed:
        raise RuntimeError(f"the bad logins did not all get an answer: {failed}")
    alone_p99, during_p99 = ([percentile(one.histogram, 99) for one in runs] for runs in (alone, during))
    report.measures["page_p99_ms_alone"] = statistics.median(alone_p99)
    report.measures["page_p99_ms_during_login_flood"] = statistics.median(during_p99)
    report.measures["page_p99_ms_during_login_flood_worst"] = max(during_p99)
    report.measures["page_errors_during_login_flood"] = sum(result.errors for result in during)
    report.measures["bad_logins"] = attempts
    report.measures["bad_logins_refused_share"] = round(refused / attempts, 3)


def rolling_measures(stack: SwarmStack, report: Report, seconds: int) -> None:
    """/healthz before and during a rolling update of every app task: failed requests, p99 ratio."""
    host_cpu.wait_until_quiet(QUIET_BELOW, QUIET_TIMEOUT)
    log("a Swarm rolling update under load")
    before, during, took = rolling_update(stack, seconds)
    report.measures["rolling_update_s"] = took
    report.measures["rolling_update_errors"] = during.errors
    p99_before, p99_during = percentile(before.histogram, 99), percentile(during.histogram, 99)
    report.measures["rolling_update_p99_ms"] = p99_during
    report.measures["rolling_update_p99_over_before"] = round(p99_during / p99_before, 2)


def timed(action) -> float:
    """Seconds `action()` took."""
    start = time.monotonic()
    action()
    return round(time.monotonic() - start, 2)


def first_200(url: str, timeout: float = 120) -> None:
    """Poll `url` from the host until it answers 200."""
    wait_for(
        lambda: request("GET", url, server_name="localhost", timeout=2).status == 200,
        timeout=timeout,
        interval=0.05,
        what=f"{url} to answer 200",
    )


def build_images(checkout: Path, report: Report, measure_builds: bool) -> None:
    """The app image (cold build and a code-only rebuild timed), the backup and wrk images, and the
    baselines' (gunicorn, Granian)."""
    dockerfile = str(checkout / "dockerable" / "Dockerfile")
    if measure_builds:
        log("cold build of the app image (no cache)")
        report.measures["cold_build_s"] = timed(
            lambda: run(
                "docker",
                "build",
                "--no-cache",
                "-q",
                "-f",
                dockerfile,
                "-t",
                APP_IMAGE,
                str(checkout),
                timeout=1800,
            )
        )
        cold = run("docker", "image", "inspect", "-f", "{{.Id}}", APP_IMAGE).stdout.strip()
        views = checkout / "project" / "fixturebook" / "views.py"
        views.write_text(views.read_text() + "\n# one-line change for the rebuild benchmark\n")
        log("rebuild after a one-line change to a Python file")
        report.measures["code_rebuild_s"] = timed(
            lambda: run(
                "docker", "build", "-q", "-f", dockerfile, "-t", APP_IMAGE, str(checkout), timeout=1800
            )
        )
        # The rebuild took the tag: the cold image would stay behind, untagged (its layers
        # stay in the build cache).
        if run("docker", "image", "inspect", "-f", "{{.Id}}", APP_IMAGE).stdout.strip() != cold:
            run("docker", "image", "rm", cold)
        size = int(run("docker", "image", "inspect", "-f", "{{.Size}}", APP_IMAGE).stdout)
        base = int(run("docker", "image", "inspect", "-f", "{{.Size}}", base_image()).stdout)
        report.measures["image_mb"] = round(size / 1e6, 1)
        report.measures["added_over_base_mb"] = round((size - base) / 1e6, 1)
    else:
        run("docker", "build", "-q", "-f", dockerfile, "-t", APP_IMAGE, str(checkout), timeout=1800)
    build_backup_images(checkout)
    run("docker", "build", "-q", "-f", str(HERE / "Dockerfile.wrk"), "-t", WRK_IMAGE, str(HERE), timeout=900)
    # The baselines' servers: the smoke run starts none of them.
    baselines = (("Dockerfile.gunicorn", GUNICORN_IMAGE), ("Dockerfile.granian", GRANIAN_IMAGE))
    for dockerfile, image in baselines if measure_builds else ():
        run(
            "docker",
            "build",
            "-q",
            "-f",
            str(HERE / dockerfile),
            "--build-arg",
            f"APP_IMAGE={APP_IMAGE}",
            "-t",
            image,
            str(HERE),
            timeout=900,
        )


def new_stack(checkout: Path, compose_name: str, project: str, **variables) -> Stack:
    """A stack of the example environment in the bench checkout, on free loopback ports."""
    return Stack(
        checkout / "project" / "settings" / "example" / compose_name,
        project,
        DOCKERABLE_IMAGE=APP_IMAGE,
        **variables,
    )


def override_file(stack: Stack, kind: str) -> Path:
    """Where the bench writes an override of `stack`: beside its compose file, in the bench's own checkout."""
    return stack.compose_file.with_name(f".{stack.project}.{kind}.override.yml")


def production_loads(stack: Stack, smoke: bool) -> list[Load]:
    """The shipped app and, unless smoke, every variant as a service of the same project (before `up`)."""
    if smoke:
        return [Load(PROD, "/healthz", stack, ("app",), "https://app/healthz")]
    extra: list[Variant] = variants()
    path = override_file(stack, "variants")
    path.write_text(override(stack.compose_file, extra))
    stack.extra_files = [path]
    loads = [Load(PROD, endpoint, stack, ("app",), f"https://app{endpoint}") for endpoint in BOTH]
    loads += [
        Load(variant.name, endpoint, stack, (variant.service,), f"{variant.base_url}{endpoint}")
        for variant in extra
        for endpoint in variant.endpoints
    ]
    return loads


def production_start(stack: Stack, report: Report, https_port: int) -> None:
    """`up -d` (image present, database volume kept) to the first 200, as shipped: no variants."""
    stack.compose("down", "--remove-orphans")
    stack.extra_files = []
    samples = []
    for _ in range(STARTS):
        samples.append(
            timed(lambda: (stack.compose("up", "-d"), first_200(f"https://127.0.0.1:{https_port}/healthz")))
        )
        stack.compose("down")
    report.worst_of("prod_up_to_200_s", samples)


def development_start(stack: Stack, report: Report, dev_port: int) -> None:
    """Dev `up -d` to the first 200, then saves of a Python file to the first response that shows them."""
    samples = []
    for _ in range(STARTS):
        stack.compose("down")
        samples.append(
            timed(lambda: (stack.compose("up", "-d"), first_200(f"http://127.0.0.1:{dev_port}/healthz")))
        )
    report.worst_of("dev_up_to_200_s", samples)
    urls = Path(stack.compose_file).parents[2] / "urls.py"
    original = urls.read_text()
    samples = []
    try:
        for _ in range(EDITS):
            # Some time after the last reload, at a random point of runserver's 1-second polling
            # cycle: a fixed pause would hit the same point every time.
            time.sleep(random.uniform(1.5, 2.5))
            marker = f"edited-{time.time_ns()}"

            def edit_and_wait(marker=marker):
                urls.write_text(
                    original + "\nfrom django.http import HttpResponse  # noqa: E402\n"
                    "urlpatterns.append(path('bench-edit/', "
                    f"lambda r: HttpResponse('{marker}')))\n"
                )
                wait_for(
                    lambda: (
                        request(
                            "GET",
                            f"http://127.0.0.1:{dev_port}/bench-edit/",
                            server_name="localhost",
                            timeout=2,
                        ).text
                        == marker
                    ),
                    timeout=60,
                    interval=0.05,
                    what="runserver to serve the edited file",
                )

            samples.append(timed(edit_and_wait))
    finally:
        urls.write_text(original)
    report.worst_of("dev_edit_to_served_s", samples)


def quieten(stack: Stack, services: list[str]) -> None:
    """Slow the healthchecks of `services` once healthy (see configurations.QUIET_HEALTHCHECK)."""
    path = override_file(stack, "quiet")
    path.write_text(quiet(services))
    stack.extra_files = [path]


def run_suite(checkout: Path, report: Report, options) -> None:
    """Every stack up at once, the rounds, then the start-up timings one stack at a time."""
    rounds = 1 if options.smoke else options.rounds
    https_port, dev_port = free_port(), free_port()
    prod = new_stack(
        checkout, "docker-compose.yml", "dd-bench-prod", HTTPS_PORT=https_port, HTTP_PORT=free_port()
    )
    proxy = new_stack(
        checkout,
        "docker-compose-proxy.yml",
        "dd-bench-proxy",
        HTTPS_PORT=free_port(),
        HTTP_PORT=free_port(),
        TLS_SOURCE="files",
    )
    dev = new_stack(
        checkout, "docker-compose-dev.yml", "dd-bench-dev", DEV_PORT=dev_port, DB_PORT=free_port()
    )
    with contextlib.ExitStack() as running:
        loads = production_loads(prod, options.smoke)
        log(f"starting the stacks and {len(loads)} loads' services")
        running.enter_context(prod.running())
        seed(prod)
        if not options.smoke:
            quieten(proxy, ["postgres", "app", "nginx"])
            quieten(dev, ["postgres", "app"])
            running.enter_context(proxy.running("--scale", "certbot=0"))
            running.enter_context(dev.running())
            for stack in (proxy, dev):
                seed(stack)
            loads += [
                Load(PROXY, endpoint, proxy, ("app", "nginx"), f"https://nginx{endpoint}")
                for endpoint in BOTH
            ]
            loads += [Load(DEV, endpoint, dev, ("app",), f"http://app:8000{endpoint}") for endpoint in BOTH]
            if swarm_available():
                log("deploying the Swarm stack (this engine as a one-node swarm)")
                swarm = running.enter_context(swarm_stack(checkout, APP_IMAGE))
                seed(swarm)
                loads += [
                    Load(SWARM, endpoint, swarm, ("app", "nginx"), f"https://nginx{endpoint}")
                    for endpoint in BOTH
                ]
            else:
                log("this engine is in a swarm already, which the suite leaves alone: no Swarm rows")
        run_rounds(report, loads, rounds, options.seconds, random.Random(report.meta["seed"]))
        if options.smoke:
            return
        swarm_loads = [load for load in loads if load.configuration == SWARM]
        if swarm_loads:
            rolling_measures(swarm_loads[0].stack, report, options.seconds)
        # The swarm stays until the end: leaving it takes the name lookups of every container
        # still running on other networks with it (docs/troubleshooting.md).
        # Backup and start-up timings on a quiet machine: one stack at a time.
        proxy.down(volumes=True)
        dev.compose("down")
        login_measures(prod, report, options.seconds, https_port, options.rounds)
        task_measures(prod, report, options.seconds)
        backup_measures(prod, report, options.seconds)
        media_measures(prod, report, options.seconds)
        upload_measures(prod, report, options.seconds)
        # From here on, the stacks exactly as shipped.
        dev.extra_files = []
        log("prod start-up timings")
        production_start(prod, report, https_port)
        prod.down(volumes=True)
        log("dev start-up and edit timings")
        development_start(dev, report, dev_port)


def main(argv=None) -> int:
    """Parse options, run the suite, print the tables and write the JSON."""
    parser = argparse.ArgumentParser(prog="dockerable/bench/run", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3, help="length of each load run (default 3)")
    parser.add_argument(
        "--rounds", type=int, default=4, help="times each configuration is measured (default 4)"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="one short run of one configuration, no build or start-up timings (the test suite's)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=random.randrange(1_000_000),
        help="seed of the rounds' order (printed in the JSON, to repeat a run's order)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        help="where to write the JSON (default: results/latest.json; results/combined.json with --combine)",
    )
    parser.add_argument(
        "--combine",
        type=Path,
        nargs="+",
        metavar="REPORT",
        help="measure nothing: judge these runs' JSON reports as one (rounds of them all)",
    )
    options = parser.parse_args(argv)
    if options.combine:
        try:
            report = combine(options.combine)
        except CombineError as exc:
            print(f"dockerable/bench/run: error: {exc}", file=sys.stderr)
            return 2
        return publish(report, options.json or RESULTS / "combined.json")
    report = Report(
        meta={
            "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{os.cpu_count()} CPUs, {platform.machine()}, Linux {platform.release()}",
            "seconds": options.seconds,
            "rounds": 1 if options.smoke else options.rounds,
            "smoke": options.smoke,
            "seed": options.seed,
        }
    )
    started = time.monotonic()
    checkout = Path(tempfile.mkdtemp(prefix="dockerable-bench-"))
    checkout.chmod(0o755)
    try:
        # The page it measures is the template suite's fixture app's, whatever apps the project has.
        install_fixture_app(copy_checkout(checkout))
        # The sample's secrets are public; readable in place for the variants that have no cmd.sh.
        for name in ("secrets.json", "ssl/server.key"):
            (checkout / "project" / "settings" / "example" / name).chmod(0o644)
        build_images(checkout, report, measure_builds=not options.smoke)
        run_suite(checkout, report, options)
    finally:
        shutil.rmtree(checkout, ignore_errors=True)
        # Build cache keeps their layers, so the next run rebuilds them in seconds.
        for image in (APP_IMAGE, GUNICORN_IMAGE, GRANIAN_IMAGE, WRK_IMAGE):
            subprocess.run(["docker", "image", "rm", "-f", image], capture_output=True, check=False)
    report.meta["minutes"] = round((time.monotonic() - started) / 60, 1)
    return publish(report, options.json or RESULTS / "latest.json")


def publish(report: Report, path: Path) -> int:
    """Judge the targets, print the tables and write the JSON."""
    evaluate(report)
    print(markdown(report))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.as_dict(), indent=2))
    log(f"JSON written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
