"""The metrics exporter: a uWSGI mule serving /metrics on EXPORTER_PORT, a port the stack never
publishes: what every worker counted (prometheus_client's multiprocess files), uWSGI's own figures
(its stats socket), the task queue's (the database) and the served certificate's expiry, read at
each scrape (docs/observability.md)."""

import contextlib
import json
import logging
import os
import socket
import ssl
import time
from collections import Counter as Tally

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from dockerable.runtime.metrics import EXPORTER_PORT
from dockerable.runtime.metrics_files import CompactingCollector

logger = logging.getLogger(__name__)

# uWSGI's stats server (dockerable/uwsgi.ini's `stats`): JSON about its workers and sockets.
STATS_SOCKET = "/tmp/uwsgi-stats.sock"  # noqa: S108
# The workers' states uWSGI reports, each a series even at 0, so that an alert sees "no busy worker".
WORKER_STATES = ("busy", "idle", "cheap", "pause", "sig")
TASK_STATUSES = ("READY", "RUNNING", "SUCCESSFUL", "FAILED")


def read_stats(path: str = STATS_SOCKET, timeout: float = 2.0) -> dict:
    """uWSGI's stats document: it writes the JSON and closes the connection."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return json.loads(b"".join(chunks))


class UwsgiCollector:
    """Busy and idle workers, the listen queue and its overflows, the requests harakiri killed."""

    def __init__(self, path: str = STATS_SOCKET):
        self.path = path

    def collect(self):
        """The stats server's figures, read once per scrape."""
        up = GaugeMetricFamily("uwsgi_up", "1 when uWSGI's stats server answered this scrape.")
        try:
            stats = read_stats(self.path)
        except (OSError, ValueError):
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        workers = stats.get("workers", [])
        states = Tally(worker.get("status", "") for worker in workers)
        by_state = GaugeMetricFamily("uwsgi_workers", "uWSGI's workers, by state.", labels=["state"])
        for state in WORKER_STATES:
            by_state.add_metric([state], states.get(state, 0))
        yield by_state
        yield GaugeMetricFamily(
            "uwsgi_listen_queue", "Requests waiting for a free worker.", value=stats.get("listen_queue", 0)
        )
        yield CounterMetricFamily(
            "uwsgi_listen_queue_errors",
            "Connections refused because the listen queue was full.",
            value=stats.get("listen_queue_errors", 0),
        )
        yield CounterMetricFamily(
            "uwsgi_harakiri",
            "Requests killed for running past harakiri's limit.",
            value=sum(worker.get("harakiri_count", 0) for worker in workers),
        )


class TaskQueueCollector:
    """The task queue in PostgreSQL: tasks by status, the age of the oldest waiting one, and the
    database's connections; `dockerable_database_up` 0 when the database did not answer."""

    def __init__(self):
        self.answered = True

    def collect(self):
        """The queue's figures, one short query each per scrape."""
        up = GaugeMetricFamily("dockerable_database_up", "1 when the database answered this scrape.")
        try:
            figures = self.query()
        except DatabaseError as exc:
            # Once per outage, not once per scrape.
            if self.answered:
                logger.warning("metrics: the database does not answer: %s", type(exc).__name__)
            self.answered = False
            up.add_metric([], 0)
            yield up
            return
        finally:
            # One short connection per scrape rather than one held open between them.
            connection.close()
        self.answered = True
        up.add_metric([], 1)
        yield up
        counts, oldest_age, connections = figures
        tasks = GaugeMetricFamily(
            "dockerable_tasks", "Tasks in the queue's table, by status.", labels=["status"]
        )
        for status in TASK_STATUSES:
            tasks.add_metric([status], counts.get(status, 0))
        yield tasks
        yield GaugeMetricFamily(
            "dockerable_tasks_oldest_ready_age_seconds",
            "How long the oldest task due to run has waited (0 when none waits).",
            value=oldest_age,
        )
        yield GaugeMetricFamily(
            "dockerable_database_connections",
            "Connections open to the application's database.",
            value=connections,
        )

    @staticmethod
    def query() -> tuple[dict, float, int]:
        """Counts by status, the oldest due task's age, the database's open connections."""
        # Imported here: the models need the app registry, ready only after uWSGI loaded the app.
        from django.db.models import Count, Min  # pylint: disable=import-outside-toplevel
        from django_tasks_db.models import DBTaskResult  # pylint: disable=import-outside-toplevel

        counts = dict(DBTaskResult.objects.values_list("status").annotate(n=Count("id")).order_by())
        oldest = DBTaskResult.objects.ready().aggregate(oldest=Min("enqueued_at"))["oldest"]
        age = max(0.0, (timezone.now() - oldest).total_seconds()) if oldest else 0.0
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
            (connections,) = cursor.fetchone()
        return counts, age, connections


# OpenSSL's X509_V_FLAG_NO_CHECK_TIME, which Python's ssl has no name for: an expired certificate
# is still read, and counted negative.
NO_CHECK_TIME = 0x200000


def served_certificate_expiry(address: tuple[str, int], server_name: str, timeout: float = 5.0) -> float:
    """The Unix time at which the certificate served at `address` for `server_name` expires.

    What clients get, not a file that might not be the one served: the first handshake takes the
    certificate as sent; the second trusts exactly that certificate, so that Python's ssl, which
    parses only what it verified, gives its dates."""
    plain = ssl.create_default_context()
    plain.check_hostname = False
    plain.verify_mode = ssl.CERT_NONE
    der = handshake(plain, address, server_name, timeout)[1]
    pinned = ssl.create_default_context(cadata=der)
    pinned.check_hostname = False
    pinned.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN | NO_CHECK_TIME  # pylint: disable=no-member
    return ssl.cert_time_to_seconds(handshake(pinned, address, server_name, timeout)[0]["notAfter"])


def handshake(context: ssl.SSLContext, address: tuple[str, int], server_name: str, timeout: float):
    """(the peer's certificate as parsed, as DER) from one handshake, then a clean TLS close: a
    connection dropped without one makes uWSGI's router log a reset at every scrape."""
    with (
        socket.create_connection(address, timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        certificate = (tls.getpeercert(), tls.getpeercert(binary_form=True))
        with contextlib.suppress(OSError):
            tls.unwrap()
        return certificate


class CertificateCollector:
    """Days until the certificate the environment serves expires: uWSGI's own in production mode,
    nginx's in proxy mode and on Swarm, asked for the environment's DOMAIN."""

    def __init__(self, address: tuple[str, int], server_name: str):
        self.address = address
        self.server_name = server_name

    def collect(self):
        """One pair of handshakes per scrape."""
        up = GaugeMetricFamily(
            "dockerable_certificate_up", "1 when the served certificate was read this scrape."
        )
        try:
            expires = served_certificate_expiry(self.address, self.server_name)
        except (OSError, KeyError, ValueError):
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily(
            "dockerable_certificate_expiry_days",
            "Days until the served certificate expires (negative once it has).",
            value=(expires - time.time()) / 86400,
        )


def front() -> tuple[str, int]:
    """Where the site's HTTPS is served from this container: itself, or nginx in front."""
    return ("127.0.0.1", 443) if os.environ.get("ENV", "PROD") == "PROD" else ("nginx", 443)


def registry() -> CollectorRegistry:
    """What one scrape reads: the workers' files, uWSGI's stats, the queue."""
    reg = CollectorRegistry()
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if folder:
        CompactingCollector(reg, path=folder)
    else:
        # uWSGI started without dockerable/start/uwsgi.sh: the workers count each for itself.
        logger.warning("metrics: PROMETHEUS_MULTIPROC_DIR is not set: Django's counts are not exported")
    reg.register(UwsgiCollector())
    reg.register(TaskQueueCollector())
    domain = getattr(settings, "DOMAIN", "")
    if domain:
        reg.register(CertificateCollector(front(), domain))
    return reg


def serve() -> None:
    """The mule's body (dockerable/uwsgi.ini): serve until uWSGI stops the mule."""
    server, thread = start_http_server(EXPORTER_PORT, registry=registry())
    logger.info("metrics: serving on port %s", server.server_port)
    # For as long as the server runs; should it ever stop, the mule ends and uWSGI starts another.
    thread.join()
