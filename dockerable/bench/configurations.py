"""What the suite compares: the uWSGI grid and the baselines, as extra services of the prod stack.

Every variant runs at the same time as the shipped `app`, as its own service of the same
compose project (same image, same database), so the rounds can alternate between them
without restarting anything: the ratios are taken side by side.
"""

import configparser
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
GUNICORN_IMAGE = "dockerable-bench-gunicorn:latest"
GRANIAN_IMAGE = "dockerable-bench-granian:latest"
# The shipped default (cmd.sh): one process per core, one thread each.
WORKERS = os.cpu_count() or 1
THREADS = 1
SHIPPED = f"p{WORKERS} t{THREADS}"
# The Swarm stack's app: this many tasks, with proxy mode's workers shared between them.
SWARM_REPLICAS = 2
SWARM_PROCESSES = max(1, WORKERS // SWARM_REPLICAS)
BOTH = ("/healthz", "/")
# The rows the targets compare with the shipped settings (report.py).
PLAIN_HTTP = "prod over plain HTTP"
NO_HEADERS = "prod, no security headers (reference)"
NO_FASTROUTER = "prod, router straight to the workers (reference)"
GUNICORN = "gunicorn sync (HTTP)"
GRANIAN = "Granian (HTTPS, access log)"
NO_METRICS = "prod, no metrics (reference)"
QUIET_LOG = "prod, errors-only request log (reference)"
WITHOUT_THREE = "prod without body reading, request log and metrics (reference)"
# Without keep-alive, saying so lets clients reconnect cleanly instead of counting read errors.
CLOSE = "--add-header=Connection: close"


@dataclass(frozen=True)
class Variant:
    """One extra service of the prod stack: a row label, its command and what else differs from `app`."""

    name: str
    service: str
    command: list[str]
    base_url: str
    endpoints: tuple[str, ...] = BOTH
    extra: dict = field(default_factory=dict)


def uwsgi(*options: str) -> list[str]:
    """cmd.sh with extra uWSGI options (--option=value: some options take an optional value)."""
    return ["/dockerable/cmd.sh", *options]


def grid_variant(label: str, service: str, *options: str, **kwargs) -> Variant:
    """A grid row: the shipped command with `options` appended, on HTTPS port 443."""
    return Variant(f"grid: {label}", service, uwsgi(*options), f"https://{service}", **kwargs)


def without_cmd_sh() -> dict:
    """What a variant started as plain `uwsgi` needs: cmd.sh's variables, and to run as the app
    user (the bench makes the sample's secrets readable in place)."""
    return {
        "user": "10001:10001",
        "environment": {"UWSGI_PROCESSES": str(WORKERS), "UWSGI_THREADS": str(THREADS)},
    }


def https_front(**replace: str) -> list[str]:
    """The shipped [https] section of uwsgi.ini as command-line options, some replaced.

    A variant that differs in one option, and cannot drift from the rest of the file.
    """
    ini = configparser.ConfigParser(
        delimiters=("=",), comment_prefixes=(";",), interpolation=None, strict=False
    )
    ini.read_string((REPO / "dockerable" / "uwsgi.ini").read_text())
    paths = {"$(SSL_CERT)": "/ssl/server.crt", "$(SSL_KEY)": "/ssl/server.key"}
    arguments = []
    for key, value in {**dict(ini["https"]), **replace}.items():
        for placeholder, path in paths.items():
            value = value.replace(placeholder, path)
        # On the command line a flag takes no value (`--http-auto-chunked`, not `=true`).
        arguments.append(f"--{key}" if value == "true" else f"--{key}={value}")
    return arguments


def variants() -> list[Variant]:
    """The grid (processes x threads, keep-alive, offload threads, socket kind) and the baselines."""
    double, quadruple = WORKERS * 2, WORKERS * 4
    return [
        # The shipped settings again, under the same conditions as the rest of the grid
        # (no published ports, started together): the grid compares like with like.
        grid_variant(f"{SHIPPED} (shipped)", "grid-shipped"),
        *(
            grid_variant(f"p{WORKERS} t{threads}", f"grid-t{threads}", f"--threads={threads}")
            for threads in (1, 2, 4)
            if threads != THREADS
        ),
        # The default before this grid: two processes per core, one thread each.
        grid_variant(f"p{double} t1", "grid-double-t1", f"--processes={double}", "--threads=1"),
        grid_variant(f"p{double} t2", "grid-double-t2", f"--processes={double}", "--threads=2"),
        grid_variant(f"p{quadruple} t1", "grid-quadruple-t1", f"--processes={quadruple}", "--threads=1"),
        grid_variant(f"{SHIPPED} no keep-alive", "grid-no-keepalive", "--http-keepalive=0", CLOSE),
        grid_variant(f"{SHIPPED} offload 0", "grid-offload-0", "--offload-threads=0"),
        grid_variant(f"{SHIPPED} offload 2", "grid-offload-2", "--offload-threads=2"),
        # Socket kinds, started without cmd.sh, which always loads the shipped [https] section.
        # The (fast)router reaching the workers over an abstract UNIX socket instead of the shipped
        # TCP on loopback:
        Variant(
            f"grid: {SHIPPED} router over a UNIX socket",
            "grid-router-unix",
            ["uwsgi", "--ini", "/dockerable/uwsgi.ini", *https_front(socket="@grid-router-unix")],
            "https://grid-router-unix",
            extra=without_cmd_sh(),
        ),
        # No router: the workers terminate TLS themselves. uWSGI 2.0's https-socket has no keep-alive.
        Variant(
            f"grid: {SHIPPED} https-socket",
            "grid-https-socket",
            [
                "uwsgi",
                "--ini",
                "/dockerable/uwsgi.ini",
                "--https-socket=:443,/ssl/server.crt,/ssl/server.key",
                CLOSE,
            ],
            "https://grid-https-socket",
            extra=without_cmd_sh(),
        ),
        # Not a setting but a choice: uWSGI logging only 4xx/5xx, not every request (each line
        # passes through Docker's logging driver). Shows what the shipped request log costs.
        Variant(
            QUIET_LOG,
            "quiet-log",
            uwsgi("--disable-logging", "--log-4xx", "--log-5xx"),
            "https://quiet-log",
            endpoints=("/healthz",),
        ),
        # The shipped settings with an empty list of security headers: what the headers cost.
        Variant(
            NO_HEADERS,
            "no-headers",
            uwsgi(),
            "https://no-headers",
            endpoints=("/healthz",),
            extra={"environment": {"SECURITY_HEADERS": "/dev/null"}},
        ),
        # The shipped settings with Django's metrics off (DJANGO_METRICS): what counting every
        # request for Prometheus costs (the exporter idles: nothing scrapes it meanwhile).
        Variant(
            NO_METRICS,
            "no-metrics",
            uwsgi(),
            "https://no-metrics",
            endpoints=("/healthz",),
            extra={"environment": {"DJANGO_METRICS": "false"}},
        ),
        # The shipped settings with the router handing requests straight to the workers, not
        # through the fastrouter that reads each body first: what that protection costs.
        Variant(
            NO_FASTROUTER,
            "no-fastrouter",
            uwsgi("--http-use-socket=0"),
            "https://no-fastrouter",
            endpoints=("/healthz",),
        ),
        # All three at once: the same server with none of what production mode adds to each
        # request, to set beside Granian (which has none of them either).
        Variant(
            WITHOUT_THREE,
            "without-three",
            uwsgi("--http-use-socket=0", "--disable-logging", "--log-4xx", "--log-5xx"),
            "https://without-three",
            endpoints=("/healthz",),
            extra={"environment": {"DJANGO_METRICS": "false"}},
        ),
        # The same shipped settings with a plain-HTTP router beside the HTTPS one.
        Variant(
            PLAIN_HTTP, "plain-http", uwsgi("--http=:8080"), "http://plain-http:8080", endpoints=("/healthz",)
        ),
        # The framework-free ceiling: the same uWSGI settings, a 12-byte WSGI app.
        Variant(
            "bare WSGI hello (uWSGI HTTPS)",
            "hello",
            uwsgi("--module=hello:application", "--pythonpath=/bench"),
            "https://hello",
            endpoints=("/healthz",),
            extra={"volumes": [f"{HERE}:/bench:ro"]},
        ),
        # gunicorn sync workers, same app and worker count, as other templates run it: plain
        # HTTP behind their proxy (sync workers do not keep connections alive).
        Variant(
            GUNICORN,
            "gunicorn",
            [
                "python",
                "-m",
                "gunicorn",
                "project.wsgi:application",
                "--workers",
                str(WORKERS),
                "--worker-class",
                "sync",
                "--bind",
                "0.0.0.0:8000",
                "--access-logfile",
                "-",
            ],
            "http://gunicorn:8000",
            endpoints=("/healthz",),
            extra={
                "image": GUNICORN_IMAGE,
                "user": "10001:10001",
                "healthcheck": {
                    "test": [
                        "CMD",
                        "python",
                        "-c",
                        "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')",
                    ],
                    "start_interval": "1s",
                },
            },
        ),
        # Granian, the fastest Python server, under production mode's conditions: the same app and
        # worker count, one thread each, HTTPS with the same certificate, every request logged.
        Variant(
            GRANIAN,
            "granian",
            [
                "python",
                "-m",
                "granian",
                "--interface",
                "wsgi",
                "--host",
                "0.0.0.0",  # noqa: S104
                "--port",
                "8443",
                "--workers",
                str(WORKERS),
                "--blocking-threads",
                str(THREADS),
                "--ssl-certificate",
                "/ssl/server.crt",
                "--ssl-keyfile",
                "/ssl/server.key",
                "--access-log",
                "project.wsgi:application",
            ],
            "https://granian:8443",
            extra={
                "image": GRANIAN_IMAGE,
                "user": "10001:10001",
                "healthcheck": {
                    "test": [
                        "CMD",
                        "python",
                        "-c",
                        "import ssl, urllib.request; urllib.request.urlopen('https://127.0.0.1:8443/healthz',"
                        " context=ssl._create_unverified_context())",
                    ],
                    "start_interval": "1s",
                },
            },
        ),
    ]


# Healthchecks keep their fast start-up probes, then probe hourly instead of every 10-30 s:
# with some 20 containers up, their probes (a Python start each) would land inside other
# configurations' runs as random CPU bursts.
QUIET_HEALTHCHECK = {"interval": "1h"}


def quiet(services: list[str]) -> str:
    """Compose YAML that only slows the healthchecks of `services` once they are healthy."""
    lines = ["services:"]
    for service in services:
        lines += [f"  {service}:", f"    healthcheck: {json.dumps(QUIET_HEALTHCHECK)}"]
    return "\n".join(lines) + "\n"


def override(compose_file: Path, all_variants: list[Variant]) -> str:
    """Compose YAML adding each variant as a copy of `app` that publishes no port (JSON values are YAML)."""
    lines = [quiet(["postgres", "app"]).rstrip("\n")]
    for variant in all_variants:
        healthcheck = {**variant.extra.get("healthcheck", {}), **QUIET_HEALTHCHECK}
        extra = {**variant.extra, "healthcheck": healthcheck}
        lines += [
            f"  {variant.service}:",
            f"    extends: {json.dumps({'file': str(compose_file), 'service': 'app'})}",
            # Only `app` publishes: the load comes from inside the network.
            "    ports: !reset []",
            # `$$`: Compose would otherwise read uWSGI's ${PATH_INFO} as a variable of its own.
            f"    command: {json.dumps(variant.command).replace('$', '$$')}",
        ]
        lines += [f"    {key}: {json.dumps(value)}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"
