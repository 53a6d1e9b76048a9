"""Django's metrics as the middleware counts them (labels bounded whatever a client sends, the
database's queries counted), and the exporter's page summing what several processes counted
through prometheus_client's multiprocess files, as uWSGI's workers and its mule do."""

import contextlib
import datetime
import os
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import urllib.request

import pytest
from cryptography import x509
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpResponse
from django.test import Client
from django.urls import path
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from dockerable.envtools.certificates import self_signed
from dockerable.runtime.metrics import MetricsMiddleware
from dockerable.runtime.metrics_exporter import CertificateCollector, served_certificate_expiry
from dockerable.runtime.metrics_files import compact
from dockerable.tests.docker_stack import REPO, free_port, wait_for
from dockerable.tests.metric_checks import samples, value


def fine(request, **kwargs):  # pylint: disable=unused-argument
    return HttpResponse("fine")


urlpatterns = [path("fine/", fine, name="fine"), path("also/<int:number>/", fine, name="also-fine")]


def count(view: str, method: str, status: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "django_http_requests_total", {"view": view, "method": method, "status": status}
        )
        or 0
    )


@pytest.mark.urls(__name__)
def test_requests_are_counted_by_view_name_never_by_path_or_an_unknown_method():
    client = Client()
    before = {
        key: count(*key)
        for key in (
            ("fine", "GET", "200"),
            ("also-fine", "GET", "200"),
            ("unresolved", "GET", "404"),
            ("fine", "other", "200"),
        )
    }
    client.get("/fine/", secure=True)
    for number in range(3):  # three paths, one view
        client.get(f"/also/{number}/", secure=True)
    client.get("/no-such-page/", secure=True)
    client.generic("BREW", "/fine/", secure=True)
    assert {key: count(*key) - value for key, value in before.items()} == {
        ("fine", "GET", "200"): 1,
        ("also-fine", "GET", "200"): 3,
        ("unresolved", "GET", "404"): 1,
        ("fine", "other", "200"): 1,
    }
    assert not any(
        sample.labels.get("method") == "BREW" or "/also/" in sample.labels.get("view", "")
        for family in REGISTRY.collect()
        for sample in family.samples
    )
    latency = REGISTRY.get_sample_value("django_http_request_duration_seconds_count", {"view": "also-fine"})
    assert latency >= 3


def test_metrics_off_leaves_the_middleware_out(settings):
    settings.METRICS = False
    with pytest.raises(MiddlewareNotUsed):
        MetricsMiddleware(lambda request: HttpResponse("fine"))


@pytest.mark.docker
@pytest.mark.django_db
def test_the_probe_and_its_database_query_are_counted():
    queries = REGISTRY.get_sample_value("django_db_queries_total")
    probes = count("healthz", "GET", "200")
    assert Client().get("/healthz").status_code == 200
    assert count("healthz", "GET", "200") == probes + 1
    assert REGISTRY.get_sample_value("django_db_queries_total") == queries + 1


# Two processes counting into one folder, as two uWSGI workers do; a third serves the page, as the mule.
WORKER = textwrap.dedent(
    """
    import django, os
    os.environ["DJANGO_SETTINGS_MODULE"] = "dockerable.tests.settings"
    django.setup()
    from dockerable.runtime.metrics import REQUESTS
    REQUESTS.labels("fine", "GET", "200").inc(int(os.environ["TIMES"]))
    """
)
EXPORTER = textwrap.dedent(
    """
    import django, os
    os.environ["DJANGO_SETTINGS_MODULE"] = "dockerable.tests.settings"
    django.setup()
    import dockerable.runtime.metrics_exporter as exporter
    exporter.EXPORTER_PORT = int(os.environ["PORT"])
    exporter.STATS_SOCKET = "/nonexistent/uwsgi-stats.sock"
    exporter.serve()
    """
)


def test_the_exporter_sums_what_every_process_counted_and_says_what_it_could_not_read(tmp_path):
    # From the checkout's folder, which `python -c` puts first on its path (PYTHONPATH left as it is:
    # a project's may name where its own packages are).
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for times in (2, 5):
        subprocess.run([sys.executable, "-c", WORKER], env={**env, "TIMES": str(times)}, check=True, cwd=REPO)
    port = free_port()
    exporter = subprocess.Popen(  # noqa: S603  # pylint: disable=consider-using-with
        [sys.executable, "-c", EXPORTER],
        env={**env, "PORT": str(port), "DB_HOST": "127.0.0.1", "DB_PORT": "1"},
        cwd=REPO,
    )
    try:

        def page():
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()  # noqa: S310
            except OSError:
                return None

        exported = samples(wait_for(page, timeout=30, what="the exporter's page"))
    finally:
        exporter.terminate()
        exporter.wait(10)
    assert value(exported, "django_http_requests_total", view="fine", method="GET", status="200") == 7
    # No uWSGI and no database here: each says so in a series of its own, and the page is served.
    assert value(exported, "uwsgi_up") == 0
    assert value(exported, "dockerable_database_up") == 0


@contextlib.contextmanager
def tls_server(tmp_path, cert_pem: bytes, key_pem: bytes):
    """A TLS server on loopback with that certificate, completing handshakes until the block ends."""
    (tmp_path / "server.crt").write_bytes(cert_pem)
    (tmp_path / "server.key").write_bytes(key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "server.crt", tmp_path / "server.key")
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
                with context.wrap_socket(raw, server_side=True):
                    pass
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()
    finally:
        stop.set()
        listener.close()


@pytest.mark.parametrize("days", [30, -2])
def test_the_served_certificates_expiry_is_read_from_the_handshake_expired_or_not(tmp_path, days):
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=10)
    key_pem, cert_pem = self_signed("example.dockerable.test", days=10 + days, not_before=start)
    expires = x509.load_pem_x509_certificate(cert_pem).not_valid_after_utc.timestamp()
    with tls_server(tmp_path, cert_pem, key_pem) as address:
        assert served_certificate_expiry(address, "example.dockerable.test") == expires
        exported = {
            sample.name: sample.value
            for family in CertificateCollector(address, "example.dockerable.test").collect()
            for sample in family.samples
        }
    assert exported["dockerable_certificate_up"] == 1
    assert abs(exported["dockerable_certificate_expiry_days"] - days) < 0.01
    # Nothing listening: the scrape says so, and goes on.
    assert [
        sample.value for family in CertificateCollector(address, "x").collect() for sample in family.samples
    ] == [0]


# A worker's counts: requests and their latency (a histogram); with WAIT, alive until its stdin closes.
COUNTING = textwrap.dedent(
    """
    import django, os, sys
    os.environ["DJANGO_SETTINGS_MODULE"] = "dockerable.tests.settings"
    django.setup()
    from prometheus_client import Gauge
    from dockerable.runtime.metrics import LATENCY, REQUESTS
    for seconds in (0.003, 0.2, 7.0)[: int(os.environ["TIMES"])]:
        REQUESTS.labels("fine", "GET", "200").inc()
        LATENCY.labels("fine").observe(seconds)
    # A user's gauge, summed over the processes running: a process gone counts no more.
    Gauge("open_carts", "Carts open.", multiprocess_mode="livesum").set(int(os.environ["TIMES"]))
    if os.environ.get("WAIT"):
        print("counted", flush=True)
        sys.stdin.read()
    """
)


def test_the_files_of_processes_that_are_gone_are_archived_with_every_count_kept(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}

    def counted(times: int) -> None:
        command = [sys.executable, "-c", COUNTING]
        subprocess.run(command, env={**env, "TIMES": str(times)}, check=True, cwd=REPO)  # noqa: S603

    def page() -> str:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(tmp_path))
        return generate_latest(registry).decode()

    def files() -> list[str]:
        return sorted(path.name for path in tmp_path.iterdir())

    living = subprocess.Popen(  # noqa: S603  # pylint: disable=consider-using-with
        [sys.executable, "-c", COUNTING], env={**env, "TIMES": "1", "WAIT": "1"}, cwd=REPO,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert living.stdout.readline() == "counted\n"
        counted(2)
        counted(3)
        assert value(samples(page()), "open_carts") == 6
        assert compact(str(tmp_path), alive=lambda pid: True) == 0  # nothing gone: nothing changes
        before = samples(page())
        assert compact(str(tmp_path)) == 6  # two processes gone, a counter, a histogram and a gauge each
        # The same page (sums in another order: approx), but the gauge of the processes gone.
        assert samples(page()) == pytest.approx({**before, ("open_carts", ()): 1.0})
        own = [f"counter_{living.pid}.db", f"gauge_livesum_{living.pid}.db", f"histogram_{living.pid}.db"]
        assert files() == sorted(["counter_archive.db", "histogram_archive.db", *own])
        # Later ones add to the archive; the living process's files are its own still.
        counted(3)
        assert compact(str(tmp_path)) == 3 and compact(str(tmp_path)) == 0
        exported = samples(page())
        assert value(exported, "django_http_requests_total", view="fine", method="GET", status="200") == 9
        assert value(exported, "django_http_request_duration_seconds_count", view="fine") == 9
        assert value(exported, "django_http_request_duration_seconds_bucket", view="fine", le="0.005") == 4
        assert value(exported, "django_http_request_duration_seconds_bucket", view="fine", le="5.0") == 7
        assert files() == sorted(["counter_archive.db", "histogram_archive.db", *own])
    finally:
        living.stdin.close()
        living.wait(10)
    # Gone too now: only the archives are left, with every count.
    assert compact(str(tmp_path)) == 3
    assert files() == ["counter_archive.db", "histogram_archive.db"]
    assert value(samples(page()), "django_http_requests_total", view="fine", method="GET", status="200") == 9
