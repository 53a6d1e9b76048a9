"""`cmd.sh dbpassword`: the last step of a database password rotation (docs/security.md). When the
app could connect only with one of DB_PASSWORD_FALLBACKS, the role gets DB_PASSWORD, sent as a
SCRAM verifier made here, so that the password itself reaches no server log; nothing to do
otherwise. One line either way."""

import sys

import django
import psycopg
from django.db import OperationalError, connection
from psycopg import sql


def main() -> int:
    """Set the role's password if it must change; 0, or 1 and one line when the database is out of reach."""
    django.setup()
    settings = connection.settings_dict
    try:
        connection.ensure_connection()
    except OperationalError as exc:
        print(f"dbpassword: cannot connect to the database: {exc}".strip(), file=sys.stderr)
        return 1
    raw: psycopg.Connection = connection.connection
    if raw.info.password == settings["PASSWORD"]:
        print(f"dbpassword: the role {settings['USER']} has DB_PASSWORD already")
        return 0
    verifier = raw.pgconn.encrypt_password(settings["PASSWORD"].encode(), settings["USER"].encode())
    raw.execute(sql.SQL("ALTER ROLE CURRENT_USER PASSWORD {}").format(sql.Literal(verifier.decode())))
    print(f"dbpassword: the role {settings['USER']} has DB_PASSWORD now (it connected with a fallback)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
