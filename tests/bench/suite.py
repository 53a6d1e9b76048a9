"""The benchmark suite: builds what it needs, runs each configuration in turn, prints and saves the results.

Every load run is wrk with keep-alive from a container inside the stack's own
compose network (so Docker's port forwarding is not measured), bounded by
--seconds. Figures on a shared 2-core machine are noisy: the targets are ratios
taken side by side in one run, never absolute numbers.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.bench import cgroup
from tests.bench.load import WRK_IMAGE, run_wrk
from tests.docker_stack import Stack, copy_checkout, free_port, run, wait_for
from tests.http_client import request

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
APP_IMAGE = "dockerable-django:bench"
GUNICORN_IMAGE = "dockerable-bench-gunicorn:latest"
# The shipped default (cmd.sh): 2 processes per core, 1 thread each.
WORKERS = 2 * (os.cpu_count() or 1)
SEED_ROWS = 50
# Grid of uWSGI settings tried on /healthz (extra options after the shipped ones).
GRID = {  # --option=value: some uWSGI options take an optional value and would read a separate one as a file
    f"p{WORKERS // 2} t1": [f"--processes={WORKERS // 2}", "--threads=1"],
    f"p{WORKERS} t1 (shipped)": [],
    f"p{WORKERS * 2} t1": [f"--processes={WORKERS * 2}", "--threads=1"],
    f"p{WORKERS} t2": [f"--processes={WORKERS}", "--threads=2"],
    f"p{max(WORKERS // 2, 1)} t4": [f"--processes={max(WORKERS // 2, 1)}", "--threads=4"],
    # Without keep-alive, saying so lets clients reconnect cleanly instead of failing.
    f"p{WORKERS} t1 no keep-alive": ["--http-keepalive=0", "--add-header=Connection: close"],
    f"p{WORKERS} t1 offload 0": ["--offload-threads=0"],
    f"p{WORKERS} t1 offload 2": ["--offload-threads=2"],
}


@dataclass
class Row:
    """One configuration on one endpoint."""

    configuration: str
    endpoint: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_seconds: float
    peak_mb: float


@dataclass
class Report:
    """Everything one run of the suite measured."""

    rows: list[Row] = field(default_factory=list)
    measures: dict = field(default_factory=dict)
    targets: list[dict] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def rps(self, configuration: str, endpoint: str = "/healthz") -> float | None:
        """Requests/s of one row, if it was measured."""
        for row in self.rows:
            if row.configuration == configuration and row.endpoint == endpoint:
                return row.requests_per_second
        return None


def log(message: str) -> None:
    """Progress on stderr, so stdout holds only the tables."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def override(stack: Stack, name: str, text: str) -> None:
    """Replace the stack's override file with `text` (compose YAML)."""
    path = Path(stack.workdir) / f"{name}.override.yml"
    path.write_text(text)
    stack.extra_files = [path]


def app_override(command: list[str], extra: str = "") -> str:
    """Override of the app service's command (JSON lists are valid YAML)."""
    return f"services:\n  app:\n    command: {json.dumps(command)}\n{extra}"


def measure(stack: Stack, services: list[str], configuration: str, url: str, seconds: int,
            host: str = "localhost") -> Row:
    """Run wrk against `url` from inside the network; CPU and memory of `services`' containers."""
    containers = [stack.containers(service, all_states=False)[0] for service in services]
    before = {container: cgroup.counters(container)[0] for container in containers}
    endpoint = re.sub(r"^https?://[^/]+", "", url)
    log(f"{configuration} {endpoint}: {seconds}s of load")
    result = run_wrk(f"{stack.project}_default", url, seconds, host=host)
    after = {container: cgroup.counters(container) for container in containers}
    cpu = sum(after[c][0] - before[c] for c in containers)
    peak = sum(after[c][1] for c in containers) / 1_048_576
    return Row(configuration, endpoint, round(result.requests_per_second, 1), round(result.p50_ms, 2),
               round(result.p99_ms, 2), result.errors, round(cpu, 2), round(peak, 1))


def record(report: Report, configuration: str, endpoint: str, action) -> None:
    """Add the row `action()` measures; a configuration that fails is a row with errors -1, not an abort."""
    try:
        report.rows.append(action())
    except (AssertionError, RuntimeError, OSError) as exc:
        log(f"{configuration} {endpoint} FAILED: {str(exc).splitlines()[0]}")
        report.rows.append(Row(configuration, endpoint, 0.0, 0.0, 0.0, -1, 0.0, 0.0))


def seed(stack: Stack) -> None:
    """The ~50 rows the page endpoint renders through the ORM."""
    stack.exec("app", "/dockerable/cmd.sh", "manage", "shell", "-c",
               "from project.guestbook.models import Entry; Entry.objects.all().delete(); "
               f"Entry.objects.bulk_create(Entry(text=f'benchmark entry {{i}}') for i in range({SEED_ROWS}))")


def timed(action) -> float:
    """Seconds `action()` took."""
    start = time.monotonic()
    action()
    return round(time.monotonic() - start, 2)


def first_200(url: str, timeout: float = 120) -> None:
    """Poll `url` from the host until it answers 200."""
    wait_for(lambda: request("GET", url, server_name="localhost", timeout=2).status == 200,
             timeout=timeout, interval=0.05, what=f"{url} to answer 200")


def build_images(checkout: Path, report: Report, measure_builds: bool) -> None:
    """The app image (cold build and a code-only rebuild timed), the wrk and gunicorn images."""
    dockerfile = str(checkout / "dockerable" / "Dockerfile")
    if measure_builds:
        log("cold build of the app image (no cache)")
        report.measures["cold_build_s"] = timed(lambda: run(
            "docker", "build", "--no-cache", "-q", "-f", dockerfile, "-t", APP_IMAGE, str(checkout), timeout=1800))
        views = checkout / "project" / "guestbook" / "views.py"
        views.write_text(views.read_text() + "\n# one-line change for the rebuild benchmark\n")
        log("rebuild after a one-line change to a Python file")
        report.measures["code_rebuild_s"] = timed(lambda: run(
            "docker", "build", "-q", "-f", dockerfile, "-t", APP_IMAGE, str(checkout), timeout=1800))
        size = int(run("docker", "image", "inspect", "-f", "{{.Size}}", APP_IMAGE).stdout)
        base = int(run("docker", "image", "inspect", "-f", "{{.Size}}", "python:3.13-slim").stdout)
        report.measures["image_mb"] = round(size / 1e6, 1)
        report.measures["added_over_base_mb"] = round((size - base) / 1e6, 1)
    else:
        run("docker", "build", "-q", "-f", dockerfile, "-t", APP_IMAGE, str(checkout), timeout=1800)
    run("docker", "build", "-q", "-f", str(HERE / "Dockerfile.wrk"), "-t", WRK_IMAGE, str(HERE), timeout=900)
    run("docker", "build", "-q", "-f", str(HERE / "Dockerfile.gunicorn"), "--build-arg", f"APP_IMAGE={APP_IMAGE}",
        "-t", GUNICORN_IMAGE, str(HERE), timeout=900)


def new_stack(checkout: Path, compose_name: str, project: str, **variables) -> Stack:
    """A stack of the example environment in the bench checkout, on free loopback ports."""
    stack = Stack(checkout / "project" / "settings" / "example" / compose_name, project,
                  DOCKERABLE_IMAGE=APP_IMAGE, **variables)
    stack.workdir = tempfile.mkdtemp(prefix="bench-", dir=checkout)
    return stack


def bench_production(checkout: Path, report: Report, seconds: int, smoke: bool) -> None:
    """uWSGI HTTPS as shipped, its grid, plain HTTP, the bare WSGI app and gunicorn."""
    https_port, http_port = free_port(), free_port()
    stack = new_stack(checkout, "docker-compose.yml", "dd-bench-prod", HTTPS_PORT=https_port, HTTP_PORT=http_port)
    with stack.running():
        seed(stack)
        report.rows.append(measure(stack, ["app"], "prod (uWSGI HTTPS)", "https://app/healthz", seconds))
        if smoke:
            return
        report.rows.append(measure(stack, ["app"], "prod (uWSGI HTTPS)", "https://app/", seconds))
        for name, options in GRID.items():
            def grid_run(name=name, options=options):
                if options:
                    override(stack, "grid", app_override(["/dockerable/cmd.sh", *options]))
                    stack.up("app")
                return measure(stack, ["app"], f"grid: {name}", "https://app/healthz", seconds)
            record(report, f"grid: {name}", "/healthz", grid_run)
            stack.extra_files = []
        # Same shipped settings with a plain-HTTP router beside the HTTPS one.
        override(stack, "http", app_override(["/dockerable/cmd.sh", "--http=:8080"]))
        stack.up("app")
        report.rows.append(measure(stack, ["app"], "prod over plain HTTP", "http://app:8080/healthz", seconds))
        # The framework-free ceiling: the same uWSGI settings, a 12-byte WSGI app.
        override(stack, "hello", app_override(
            ["/dockerable/cmd.sh", "--module=hello:application", "--pythonpath=/bench"],
            f"    volumes:\n      - {HERE}:/bench:ro\n"))
        stack.up("app")
        report.rows.append(measure(stack, ["app"], "bare WSGI hello (uWSGI HTTPS)", "https://app/healthz", seconds))
        # gunicorn sync workers, same app and worker count, as other templates run it:
        # plain HTTP behind their proxy (sync workers do not keep connections alive).
        override(stack, "gunicorn", f"""services:
  app:
    image: {GUNICORN_IMAGE}
    user: "10001:10001"
    command: ["python", "-m", "gunicorn", "project.wsgi:application", "--workers", "{WORKERS}", "--worker-class", "sync",
              "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
    healthcheck:
      test: ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"]
      start_interval: 1s
""")
        stack.up("app")
        report.rows.append(measure(stack, ["app"], "gunicorn sync (HTTP)", "http://app:8000/healthz", seconds))
        stack.extra_files = []
        stack.up("app")
        # Start-up: `up -d` with the image present (database volume kept) to the first 200.
        stack.compose("down")
        report.measures["prod_up_to_200_s"] = timed(lambda: (
            stack.compose("up", "-d"), first_200(f"https://127.0.0.1:{https_port}/healthz")))


def bench_proxy(checkout: Path, report: Report, seconds: int) -> None:
    """nginx in front (with the environment's own certificate), uWSGI behind it on the uwsgi socket."""
    stack = new_stack(checkout, "docker-compose-proxy.yml", "dd-bench-proxy",
                      HTTPS_PORT=free_port(), HTTP_PORT=free_port(), TLS_SOURCE="files")
    with stack.running("--scale", "certbot=0"):
        seed(stack)
        for path in ("/healthz", "/"):
            report.rows.append(measure(stack, ["app", "nginx"], "proxy (nginx -> uWSGI)", f"https://nginx{path}",
                                       seconds))


def bench_development(checkout: Path, report: Report, seconds: int) -> None:
    """runserver, for reference; also up-to-200 and edit-to-served times."""
    dev_port = free_port()
    stack = new_stack(checkout, "docker-compose-dev.yml", "dd-bench-dev", DEV_PORT=dev_port, DB_PORT=free_port())
    with stack.running():
        seed(stack)
        for path in ("/healthz", "/"):
            report.rows.append(measure(stack, ["app"], "dev (runserver)", f"http://app:8000{path}", seconds))
        stack.compose("down")
        report.measures["dev_up_to_200_s"] = timed(lambda: (
            stack.compose("up", "-d"), first_200(f"http://127.0.0.1:{dev_port}/healthz")))
        urls = checkout / "project" / "urls.py"
        original = urls.read_text()
        marker = f"edited-{time.time_ns()}"
        try:
            def edit_and_wait():
                urls.write_text(original + "\nfrom django.http import HttpResponse  # noqa: E402\n"
                                f"urlpatterns.append(path('bench-edit/', lambda r: HttpResponse('{marker}')))\n")
                wait_for(lambda: request("GET", f"http://127.0.0.1:{dev_port}/bench-edit/", server_name="localhost",
                                         timeout=2).text == marker,
                         timeout=60, interval=0.05, what="runserver to serve the edited file")
            report.measures["dev_edit_to_served_s"] = timed(edit_and_wait)
        finally:
            urls.write_text(original)


def ratio(numerator, denominator):
    """numerator / denominator, or None if either is missing."""
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 2)


def evaluate(report: Report) -> None:
    """Each target with its measured value and PASS/FAIL (n/a when not measured in this run)."""
    prod = report.rps("prod (uWSGI HTTPS)")
    grid = {row.configuration: row.requests_per_second for row in report.rows
            if row.configuration.startswith("grid:")}
    best_name = max(grid, key=grid.get) if grid else None
    https_cost = None
    plain = report.rps("prod over plain HTTP")
    if prod and plain:
        https_cost = round(1 - prod / plain, 3)
    checks = [
        ("prod >= 1.2x gunicorn sync on /healthz req/s", ratio(prod, report.rps("gunicorn sync (HTTP)")),
         lambda v: v >= 1.2),
        (f"shipped >= 0.95x best of grid ({best_name})", ratio(grid.get(f"grid: p{WORKERS} t1 (shipped)"),
                                                            grid.get(best_name)), lambda v: v >= 0.95),
        ("HTTPS costs <= 15% req/s against plain HTTP", https_cost, lambda v: v <= 0.15),
        ("proxy >= 1.0x direct on /healthz req/s", ratio(report.rps("proxy (nginx -> uWSGI)"), prod),
         lambda v: v >= 1.0),
        # A configuration that failed outright counts as errors too (its row shows -1).
        ("zero errors in every run", sum(abs(row.errors) for row in report.rows), lambda v: v == 0),
        ("p99 <= 5x p50 in every run", max((round(row.p99_ms / row.p50_ms, 2) for row in report.rows
                                             if row.p50_ms), default=None), lambda v: v <= 5),
        ("bytes added over the base image <= 60 MB", report.measures.get("added_over_base_mb"),
         lambda v: v <= 60),
        ("code-only rebuild <= 0.1x cold build", ratio(report.measures.get("code_rebuild_s"),
                                                        report.measures.get("cold_build_s")), lambda v: v <= 0.1),
        ("prod up to first 200 <= 5 s", report.measures.get("prod_up_to_200_s"), lambda v: v <= 5),
        ("dev up to first 200 <= 5 s", report.measures.get("dev_up_to_200_s"), lambda v: v <= 5),
        ("dev edit to served <= 2 s", report.measures.get("dev_edit_to_served_s"), lambda v: v <= 2),
    ]
    report.targets = [{"target": name, "value": value,
                       "result": "n/a" if value is None else ("PASS" if passes(value) else "FAIL")}
                      for name, value, passes in checks]


def markdown(report: Report) -> str:
    """The tables, as printed and as pasted into README.md."""
    lines = [f"Measured {report.meta['date']} on {report.meta['machine']}; {report.meta['seconds']} s per run, "
             f"wrk -t2 -c32 with keep-alive from inside the compose network; {WORKERS} workers everywhere.", "",
             "| configuration | endpoint | req/s | p50 ms | p99 ms | errors | CPU s | peak MB |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r.configuration} | {r.endpoint} | {r.requests_per_second:.0f} | {r.p50_ms:.2f} | "
              f"{r.p99_ms:.2f} | {r.errors} | {r.cpu_seconds:.1f} | {r.peak_mb:.0f} |" for r in report.rows]
    if report.measures:
        lines += ["", "| measure | value |", "|---|---:|"]
        lines += [f"| {name} | {value} |" for name, value in report.measures.items()]
    lines += ["", "| target | value | result |", "|---|---:|---|"]
    lines += [f"| {t['target']} | {'' if t['value'] is None else t['value']} | {t['result']} |"
              for t in report.targets]
    return "\n".join(lines)


def main(argv=None) -> int:
    """Parse options, run the suite, print the tables and write the JSON."""
    parser = argparse.ArgumentParser(prog="tests/bench/run", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each load run (default 10)")
    parser.add_argument("--smoke", action="store_true",
                        help="a few seconds on one configuration, no build timings (the test suite's check)")
    parser.add_argument("--json", type=Path, default=RESULTS / "latest.json", help="where to write the JSON")
    options = parser.parse_args(argv)
    report = Report(meta={
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} CPUs, {platform.machine()}, Linux {platform.release()}",
        "seconds": options.seconds, "smoke": options.smoke})
    checkout = Path(tempfile.mkdtemp(prefix="dockerable-bench-"))
    checkout.chmod(0o755)
    try:
        copy_checkout(checkout)
        # The sample's secrets are public; readable in place for gunicorn, which has no cmd.sh.
        for name in ("secrets.json", "ssl/server.key"):
            (checkout / "project" / "settings" / "example" / name).chmod(0o644)
        build_images(checkout, report, measure_builds=not options.smoke)
        bench_production(checkout, report, options.seconds, options.smoke)
        if not options.smoke:
            bench_proxy(checkout, report, options.seconds)
            bench_development(checkout, report, options.seconds)
    finally:
        shutil.rmtree(checkout, ignore_errors=True)
        # Build cache keeps their layers, so the next run rebuilds them in seconds.
        for image in (APP_IMAGE, GUNICORN_IMAGE, WRK_IMAGE):
            subprocess.run(["docker", "image", "rm", "-f", image], capture_output=True, check=False)
    evaluate(report)
    print(markdown(report))
    options.json.parent.mkdir(parents=True, exist_ok=True)
    options.json.write_text(json.dumps({"meta": report.meta, "rows": [vars(r) for r in report.rows],
                                        "measures": report.measures, "targets": report.targets}, indent=2))
    log(f"JSON written to {options.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
