"""The log format and filters the settings' LOGGING uses: one JSON object per line outside
development mode, each with the id of the request it was written for (docs/observability.md)."""

import logging

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from dockerable.runtime import request_id

# The field names uWSGI's and nginx's request lines use too (uwsgi.ini, nginx.conf.template).
FIELDS = {"levelname": "level", "name": "logger", "status_code": "status"}
# What a record may carry that no log line should: the request object of django.request's and
# django.server's records (its text is the path, which the request line has), a query's parameters.
LEFT_OUT = ("request", "server_time", "params", "sql", "duration", "alias")


def json_formatter() -> logging.Formatter:
    """time, level, logger, message, request_id, and the record's own extra fields."""
    return JsonFormatter(
        ["levelname", "name", "message"],
        rename_fields=FIELDS,
        timestamp="time",
        reserved_attrs=[*RESERVED_ATTRS, *LEFT_OUT],
    )


class WithRequestId(logging.Filter):
    """Give each record the id of the request it was written for ("" outside a request). Django
    logs a 404 or a bad Host once the middleware is done: from the request its record carries."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.current() or getattr(
            getattr(record, "request", None), "request_id", ""
        )
        return True


class ClientError(logging.Filter):
    """What a client got wrong (django.security's records: a bogus Host, a body too big) is one
    WARNING line: no traceback, and not the ERROR Django gives it, which scanners on the internet
    would raise many times a day on a server with nothing wrong (docs/observability.md)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        if record.levelno > logging.WARNING:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True
