"""The request id: one value per request, sent back in its answer's X-Request-ID header, set for
uWSGI's request log line (with the user's id, when the view looked the user up) and attached to
the request's Django log lines and error reports (docs/observability.md)."""

import contextvars
import json
import re
import uuid

from django.utils.functional import empty

HEADER = "X-Request-ID"
META_KEY = "HTTP_X_REQUEST_ID"
# What an id from outside (nginx's $request_id, a load balancer's, a client's) may be: anything
# else is replaced, so that no one can write quotes, spaces or a megabyte into every log line.
VALID = re.compile(r"[A-Za-z0-9._-]{8,64}")

_current: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

try:  # uWSGI's own module exists only in a process uWSGI runs
    import uwsgi  # type: ignore[import-not-found]  # pylint: disable=import-error
except ImportError:
    uwsgi = None


def current() -> str:
    """The id of the request this code runs for; empty outside a request."""
    return _current.get()


def from_request(meta: dict) -> str:
    """The id the request came with if it is a valid one, else a new one."""
    value = meta.get(META_KEY, "")
    return value if VALID.fullmatch(value) else uuid.uuid4().hex


class RequestIdMiddleware:
    """Early in MIDDLEWARE, so that every answer Django makes carries the id."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = from_request(request.META)
        request.request_id = request_id
        token = _current.set(request_id)
        if uwsgi is not None:
            uwsgi.set_logvar("request_id", request_id)
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        if uwsgi is not None:
            user_id = known_user_id(request)
            if user_id:
                uwsgi.set_logvar("user_id", user_id)
        response[HEADER] = request_id
        return response


def known_user_id(request) -> str:
    """The signed-in user's id if the request already looked the user up, else "": finding out
    would cost a session read and a query on pages that never needed the user."""
    user = getattr(request, "user", None)
    user = getattr(user, "_wrapped", user)  # AuthenticationMiddleware's lazy object, if evaluated
    if user is None or user is empty or not getattr(user, "is_authenticated", False):
        return ""
    # Escaped for uWSGI's JSON line, and short: uWSGI keeps at most 255 bytes of a log variable.
    return json.dumps(str(user.pk)[:40])[1:-1]
