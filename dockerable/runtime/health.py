"""Probes: /healthz (200 when the database answers, 503 when not) and /livez (the process answers).

An orchestrator restarts what its health check fails, so Swarm's check is /livez: a database
outage must make pages answer 503, not make every app task restart in a loop.
"""

import logging

from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpResponse, JsonResponse
from django.utils.deprecation import MiddlewareMixin
from django.utils.log import log_response

logger = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
LIVE_PATH = "/livez"


def health_response() -> JsonResponse:
    """Ask the database one cheap question and report the answer as JSON."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        # Drop the broken connection now so the next probe reconnects from scratch.
        connection.close()
        # Why goes to the log, not to whoever asked: the body is the same for every failure.
        logger.warning("/healthz: the database does not answer: %s", reason_of(exc))
        return JsonResponse({"status": "error", "database": "unavailable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


def reason_of(exc: Exception) -> str:
    """The error's class and the driver's first line (refused, unknown host, authentication),
    which names no password."""
    return f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"


def with_length(response: JsonResponse) -> JsonResponse:
    """Content-Length, which CommonMiddleware would add had this not answered before it.

    Without it uWSGI's HTTP router has to chunk the body, which costs more than half
    the throughput of /healthz (docs/benchmarks.md).
    """
    response["Content-Length"] = str(len(response.content))
    return response


class HealthCheckMiddleware:
    """Answer /healthz before host validation and HTTPS redirects, which probes cannot satisfy."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == HEALTH_PATH:
            return with_length(health_response())
        if request.path == LIVE_PATH:
            return with_length(JsonResponse({"status": "alive"}))
        return self.get_response(request)


class DatabaseUnavailableMiddleware(MiddlewareMixin):
    """A page that needs the database while it is unreachable: 503 at once, not a 500 and a traceback."""

    def process_exception(self, request, exception):
        """Django calls this with the view's exception; None lets other errors through."""
        if isinstance(exception, OperationalError | InterfaceError):
            # The connection is broken: the next request opens a new one.
            connection.close()
            response = HttpResponse(
                "Service temporarily unavailable: the database cannot be reached.\n",
                status=503,
                content_type="text/plain; charset=utf-8",
            )
            response["Retry-After"] = "10"
            # Django's own line for a 503, with the reason, which it would not give.
            log_response(
                "%s: %s (the database cannot be reached: %s)",
                response.reason_phrase,
                request.path,
                reason_of(exception),
                response=response,
                request=request,
            )
            return response
        return None
