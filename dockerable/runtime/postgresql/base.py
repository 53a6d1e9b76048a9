"""Django's PostgreSQL backend that also tries the earlier passwords of a rotation: when the server
refuses the database's PASSWORD, each of its PASSWORD_FALLBACKS in turn (docs/security.md)."""

import psycopg
from django.db.backends.postgresql import base


def refused_password(error: psycopg.OperationalError) -> bool:
    """Whether a connection failed once it had sent a password. libpq gives no SQLSTATE for a failed
    connection, and the server's message may be in its own language; a server that is down or
    unreachable never asked for one, so an outage costs no extra attempts."""
    return error.pgconn is not None and bool(error.pgconn.used_password)


class DatabaseWrapper(base.DatabaseWrapper):
    """Connects with PASSWORD, else with the first of PASSWORD_FALLBACKS the server accepts."""

    def get_new_connection(self, conn_params):
        try:
            return super().get_new_connection(conn_params)
        except psycopg.OperationalError as refused:
            if not refused_password(refused):
                raise
            for password in self.settings_dict.get("PASSWORD_FALLBACKS") or ():
                try:
                    return super().get_new_connection({**conn_params, "password": password})
                except psycopg.OperationalError as again:
                    if not refused_password(again):
                        raise
            raise
