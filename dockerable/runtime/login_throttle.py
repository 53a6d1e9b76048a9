"""At most LOGIN_CHECKS_AT_ONCE password checks at a time in the environment; a login beyond them gets 429.

A password check is slow on purpose (PBKDF2 keeps a core busy for a good part of a second), so a
flood of logins, right or wrong, would otherwise hold every worker and stall every other page.
Each check holds a PostgreSQL advisory lock, which all app processes and replicas share and which
PostgreSQL releases if the process dies; a login that finds every lock taken is refused at once,
before any hashing (docs/security.md).
"""

import contextlib

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.db import connection
from django.http import HttpResponse
from django.utils.deprecation import MiddlewareMixin

# The first key of this template's advisory locks (any 32-bit number no other code uses).
LOCK_CLASS = 0x44446A4C


class LoginThrottled(Exception):
    """Every password-check slot is taken: the login is refused without checking the password."""


@contextlib.contextmanager
def password_check_slot():
    """Hold one of the LOGIN_CHECKS_AT_ONCE slots for the length of the block, or raise LoginThrottled."""
    with connection.cursor() as cursor:
        for slot in range(settings.LOGIN_CHECKS_AT_ONCE):
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_CLASS, slot])
            if cursor.fetchone()[0]:
                break
        else:
            raise LoginThrottled
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, slot])


class ThrottledModelBackend(ModelBackend):
    """Django's username and password backend, one slot per check."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        with password_check_slot():
            return super().authenticate(request, username=username, password=password, **kwargs)


class LoginThrottleMiddleware(MiddlewareMixin):
    """Answer a throttled login 429 with Retry-After, rather than a 500 or a misleading "wrong password"."""

    def process_exception(self, request, exception):  # pylint: disable=unused-argument
        """The view's LoginThrottled, as 429; any other exception is not this middleware's."""
        if not isinstance(exception, LoginThrottled):
            return None
        message = "Too many sign-ins at this moment: try again in a few seconds.\n"
        response = HttpResponse(message, status=429, content_type="text/plain")
        response["Retry-After"] = "2"
        return response
