"""Django's metrics in Prometheus form: requests by view, method and status, their latency, and the
database connections and queries they cost, counted by each uWSGI worker into the directory the
metrics exporter sums (dockerable/runtime/metrics_exporter.py, docs/observability.md)."""

import time

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.db.backends.signals import connection_created
from prometheus_client import Counter, Histogram

from dockerable.runtime.health import HEALTH_PATH, LIVE_PATH

# The exporter's port inside the container: never published, never proxied (docs/observability.md).
EXPORTER_PORT = 9100

# Methods beyond these are one label value, so that a client cannot make a time series per request.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Requests no URL pattern matched: the probes, answered by middleware, and everything else (404s).
PROBES = {HEALTH_PATH: "healthz", LIVE_PATH: "livez"}
UNRESOLVED = "unresolved"

REQUESTS = Counter(
    "django_http_requests_total",
    "Requests Django answered, by view, method and status.",
    ["view", "method", "status"],
)
LATENCY = Histogram(
    "django_http_request_duration_seconds",
    "Time Django took to answer, by view.",
    ["view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DB_CONNECTIONS = Counter("django_db_connections_total", "Database connections Django opened.")
DB_QUERIES = Counter("django_db_queries_total", "Database queries Django ran.")


def view_label(request) -> str:
    """The URL pattern's view name: bounded, where the path is not."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.view_name or UNRESOLVED
    return PROBES.get(request.path, UNRESOLVED)


class MetricsMiddleware:
    """First in MIDDLEWARE, so that it times and counts every answer Django makes."""

    def __init__(self, get_response):
        # DJANGO_METRICS=false (settings.METRICS): Django leaves the middleware out altogether.
        if not getattr(settings, "METRICS", True):
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request):
        start = time.perf_counter()
        response = self.get_response(request)
        view = view_label(request)
        method = request.method if request.method in METHODS else "other"
        REQUESTS.labels(view, method, str(response.status_code)).inc()
        LATENCY.labels(view).observe(time.perf_counter() - start)
        return response


def count_query(execute, sql, params, many, context):
    """A database execute wrapper: one more query, then the query."""
    DB_QUERIES.inc()
    return execute(sql, params, many, context)


def on_connection_created(sender, connection, **kwargs):  # pylint: disable=unused-argument
    """Count the connection, and its queries from now on (once per connection object)."""
    DB_CONNECTIONS.inc()
    if count_query not in connection.execute_wrappers:
        connection.execute_wrappers.append(count_query)


connection_created.connect(on_connection_created, dispatch_uid="dockerable.runtime.metrics")
