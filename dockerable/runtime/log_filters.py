"""Logging filters the settings' LOGGING uses."""

import logging


class WithoutTraceback(logging.Filter):
    """Drop the traceback of a record: for a client's bad request, the one message line says it all."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        return True
