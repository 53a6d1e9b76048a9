"""The /healthz probe: 200 when the database answers, 503 when it does not."""

from django.db import DatabaseError, connection
from django.http import JsonResponse

HEALTH_PATH = "/healthz"


def health_response() -> JsonResponse:
    """Ask the database one cheap question and report the answer as JSON."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        # Drop the broken connection now so the next probe reconnects from scratch.
        connection.close()
        return JsonResponse(
            {"status": "error", "database": "unavailable", "error": type(exc).__name__},
            status=503,
        )
    return JsonResponse({"status": "ok", "database": "ok"})


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
        return self.get_response(request)
