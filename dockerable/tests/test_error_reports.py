"""The request id on every answer Django makes and on Django's JSON log lines, and error reports to
a local stand-in for Sentry (no Sentry server runs here): an HTTP endpoint that keeps the envelopes
the real SDK sends."""

import contextlib
import copy
import gzip
import http.server
import io
import json
import logging.config
import threading
from datetime import datetime
from types import SimpleNamespace
from wsgiref.util import setup_testing_defaults

import pytest
import sentry_sdk
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.http import HttpResponse
from django.test import Client
from django.urls import path
from django.utils.functional import SimpleLazyObject
from django.views.decorators.csrf import csrf_exempt

from dockerable.runtime.error_reports import error_reports
from dockerable.runtime.request_id import HEADER, known_user_id


@csrf_exempt  # posted with no form first: the error is what is tested
def boom(request):
    raise RuntimeError("a view that fails on purpose")


def fine(request):
    return HttpResponse("fine")


urlpatterns = [path("boom/", boom), path("fine/", fine)]


class Collector(http.server.BaseHTTPRequestHandler):
    """Sentry's envelope endpoint: keeps each body, unpacked, in the server's `envelopes`."""

    def do_POST(self):  # pylint: disable=invalid-name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.envelopes.append((self.path, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


@contextlib.contextmanager
def sentry_stand_in():
    """(the DSN to give, the envelopes received) while the block runs; the SDK closed after it."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    server.envelopes = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://publickey@127.0.0.1:{server.server_port}/42", server.envelopes
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init()  # no DSN: nothing more is sent
        server.shutdown()
        server.server_close()


def events(envelopes) -> list[dict]:
    """The event items of the envelopes (a header line, then item header and payload lines)."""
    found = []
    for _, body in envelopes:
        lines = body.split(b"\n")[1:]
        for header, payload in zip(lines[::2], lines[1::2], strict=False):
            if json.loads(header).get("type") == "event":
                found.append(json.loads(payload))
    return found


@pytest.mark.urls(__name__)
def test_every_answer_carries_a_request_id_a_valid_one_kept_any_other_replaced(client):
    made = client.get("/fine/", secure=True)[HEADER]
    assert len(made) == 32 and int(made, 16) >= 0
    assert client.get("/fine/")[HEADER] != made  # one per request
    assert client.get("/fine/", headers={HEADER: "lb-1234abcd.5678"})[HEADER] == "lb-1234abcd.5678"
    for bad in ('id" injected', "x" * 65, "short", "a b c d e f g h"):
        replaced = client.get("/fine/", headers={HEADER: bad})[HEADER]
        assert replaced != bad and len(replaced) == 32, bad
    assert client.get("/no-such-page/")[HEADER]  # Django's own answers too


def wsgi_post(path: str, body: bytes, **environ) -> tuple[str, dict]:
    """A POST through Django's WSGI handler, as uWSGI makes it: (status line, headers)."""
    request = {}
    setup_testing_defaults(request)
    request.update(
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "HTTP_HOST": "testserver",
            "wsgi.url_scheme": "https",
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            **environ,
        }
    )
    answer = {}

    def start_response(status, headers, exc_info=None):  # pylint: disable=unused-argument
        answer.update(status=status, headers=dict(headers))

    # As Django's test client does: no connection housekeeping (this process's connection to the
    # test database, if an earlier test opened one, is not this test's to touch).
    signals.request_started.disconnect(close_old_connections)
    try:
        b"".join(get_wsgi_application()(request, start_response))
    finally:
        signals.request_started.connect(close_old_connections)
    return answer["status"], answer["headers"]


@pytest.mark.urls(__name__)
def test_a_view_that_raises_is_reported_with_its_request_id_and_no_personal_data(monkeypatch):
    # The release's tag, as a bundle's deploy.sh or the Swarm deploy gives it.
    monkeypatch.setenv("DOCKERABLE_RELEASE", "example-0123456789ab")
    with sentry_stand_in() as (dsn, envelopes):
        assert error_reports({"SENTRY_DSN": dsn}, environment="example")
        status, headers = wsgi_post(
            "/boom/",
            b"password=password-never-sent",
            QUERY_STRING="token=query-value-never-sent",
            HTTP_X_REQUEST_ID="req-0123456789abcdef",
            HTTP_AUTHORIZATION="Bearer token-never-sent",
            HTTP_COOKIE="sessionid=session-cookie-never-sent",
            REMOTE_ADDR="203.0.113.9",
        )
        sentry_sdk.flush(timeout=10)
    assert status.startswith("500 ") and headers[HEADER] == "req-0123456789abcdef"
    found = events(envelopes)
    assert len(found) == 1, found
    event = found[0]
    assert envelopes[0][0] == "/api/42/envelope/"
    assert event["exception"]["values"][-1]["value"] == "a view that fails on purpose"
    assert event["tags"]["request_id"] == "req-0123456789abcdef"
    assert event["environment"] == "example"
    assert event["release"] == "example-0123456789ab"
    assert event["request"]["url"] == "https://testserver/boom/", event["request"]
    sent = b"".join(body for _, body in envelopes)
    never = ("session-cookie", "password", "token", "query-value")
    for secret in (*(f"{what}-never-sent".encode() for what in never), b"203.0.113.9"):
        assert secret not in sent, secret


@pytest.mark.urls(__name__)
def test_a_clients_bogus_host_is_no_report():
    with sentry_stand_in() as (dsn, envelopes):
        assert error_reports({"SENTRY_DSN": dsn}, environment="example")
        status, _ = wsgi_post("/fine/", b"", HTTP_HOST="attacker.example")
        assert status.startswith("400 ")
        # A real error after it: the stand-in has its report, and no other.
        wsgi_post("/boom/", b"")
        sentry_sdk.flush(timeout=10)
    found = events(envelopes)
    assert [event["exception"]["values"][-1]["value"] for event in found] == ["a view that fails on purpose"]


def test_without_a_dsn_nothing_starts():
    sentry_sdk.get_client().close()
    assert not error_reports({}, environment="example")
    assert sentry_sdk.get_client().transport is None


@pytest.mark.urls(__name__)
def test_django_logs_one_json_object_per_line_with_the_request_id_and_no_request_object(settings):
    assert settings.LOG_FORMAT == "json"  # outside development mode
    stream = io.StringIO()
    config = copy.deepcopy(settings.LOGGING)
    for handler in config["handlers"].values():
        handler["stream"] = stream
    logging.config.dictConfig(config)
    try:
        client = Client(raise_request_exception=False)
        missing = client.get("/no-such-page/", secure=True)
        failed = client.post("/boom/", {"password": "password-never-logged"}, secure=True)
        bogus = client.get("/fine/", secure=True, headers={"host": "attacker.example"})
    finally:
        logging.config.dictConfig(settings.LOGGING)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    by_id = {line["request_id"]: line for line in lines}
    warning, error, host = by_id[missing[HEADER]], by_id[failed[HEADER]], by_id[bogus[HEADER]]
    assert (warning["level"], warning["logger"], warning["status"]) == ("WARNING", "django.request", 404), (
        warning
    )
    assert warning["message"] == "Not Found: /no-such-page/" and datetime.fromisoformat(warning["time"])
    assert (error["level"], error["status"]) == ("ERROR", 500), error
    assert "RuntimeError: a view that fails on purpose" in error["exc_info"], error
    # A client's mistake: one WARNING line (Django's own level is ERROR), no traceback.
    assert (host["level"], host["logger"], host["status"]) == (
        "WARNING",
        "django.security.DisallowedHost",
        400,
    )
    assert "exc_info" not in host and "attacker.example" in host["message"], host
    assert not any("request" in line for line in lines), lines  # the object's text is no field
    assert "password-never-logged" not in stream.getvalue()


def test_the_user_id_for_uwsgis_line_only_when_the_request_looked_the_user_up():
    def not_looked_up():
        raise AssertionError("the user was looked up for the log")

    assert known_user_id(SimpleNamespace(user=SimpleLazyObject(not_looked_up))) == ""
    looked_up = SimpleLazyObject(lambda: SimpleNamespace(is_authenticated=True, pk=7))
    assert looked_up.is_authenticated
    assert known_user_id(SimpleNamespace(user=looked_up)) == "7"
    anonymous = SimpleLazyObject(lambda: SimpleNamespace(is_authenticated=False, pk=None))
    assert not anonymous.is_authenticated and known_user_id(SimpleNamespace(user=anonymous)) == ""
    odd = SimpleNamespace(is_authenticated=True, pk='a "quoted" key\\' + "x" * 100)
    escaped = known_user_id(SimpleNamespace(user=odd))
    assert json.loads(f'"{escaped}"') == odd.pk[:40] and len(escaped) < 255
    assert known_user_id(SimpleNamespace()) == ""
