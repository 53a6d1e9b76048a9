"""An environment's secrets.json: its schema, read in one place by every script and by the settings.

The file holds what describes one environment and stays out of the image: its secrets and its
public host name (DOMAIN), which the settings, checkenv and newenv read from here.

The standard library only: cmd.sh runs this file as root before any Django code, a deploy runs
it inside the release image, and PostgreSQL's and the backups' scripts (compose/secrets.sh) in
theirs, as `python3 -I -S environment.py COMMAND ...` (main).
"""

import json
import os
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

try:
    from django.core.exceptions import ImproperlyConfigured as _SettingsError
except ImportError:  # run as a script with -S: no site-packages, no Django
    _SettingsError = ValueError

# Lets the same settings read a Docker/compose secret mounted under /run/secrets
# (or any other path) instead of the file beside settings.py.
SECRETS_FILE_VARIABLE = "DJANGO_SECRETS_FILE"
# The environment's public host name: optional only for environments made before it moved here
# from settings.py.
DOMAIN_KEY = "DOMAIN"
# Object storage for uploads (docs/media.md): all optional; a bucket needs its keys.
S3_BUCKET, S3_ENDPOINT_URL, S3_REGION = "MEDIA_S3_BUCKET", "MEDIA_S3_ENDPOINT_URL", "MEDIA_S3_REGION"
S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY = "MEDIA_S3_ACCESS_KEY_ID", "MEDIA_S3_SECRET_ACCESS_KEY"
S3_KEYS = (S3_BUCKET, S3_ENDPOINT_URL, S3_REGION, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY)
S3_REQUIRED = (S3_BUCKET, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY)
# Mail (docs/mail.md): all optional; without EMAIL_HOST, development mode's mail catcher or nowhere.
EMAIL_HOST, EMAIL_PORT, EMAIL_SECURITY = "EMAIL_HOST", "EMAIL_PORT", "EMAIL_SECURITY"
EMAIL_KEYS = (
    EMAIL_HOST,
    EMAIL_PORT,
    "EMAIL_HOST_USER",
    "EMAIL_HOST_PASSWORD",
    EMAIL_SECURITY,
    "DEFAULT_FROM_EMAIL",
    "SERVER_EMAIL",
)
# How the SMTP connection is protected: STARTTLS (port 587), TLS from the start (465), or neither
# (a relay on the same private network).
EMAIL_SECURITIES = ("starttls", "tls", "none")
# Error reports (docs/observability.md): optional; where Sentry, or a service that takes its
# protocol, receives them.
SENTRY_DSN = "SENTRY_DSN"
# Earlier SECRET_KEYs, newest first, which Django still accepts for sessions, password-reset links
# and signed values made with them (dockerable/run rotatekey; docs/security.md): a list.
SECRET_KEY_FALLBACKS = "SECRET_KEY_FALLBACKS"
# Earlier database passwords, newest first, which the app and the backups try when PostgreSQL
# refuses DB_PASSWORD, until the role has it (dockerable/run rotatedbpassword; docs/security.md).
DB_PASSWORD_FALLBACKS = "DB_PASSWORD_FALLBACKS"
# The keys that hold lists of earlier values, and what each list holds.
FALLBACK_LISTS = {SECRET_KEY_FALLBACKS: "earlier SECRET_KEYs", DB_PASSWORD_FALLBACKS: "earlier DB_PASSWORDs"}
# What the template reads from every environment's secrets.json (the settings, PostgreSQL and the
# backups): True for a key every environment must have, False for one it may leave out. A key of
# the user's own is checked where settings.py reads it: SECRETS["KEY"] or SECRETS.get("KEY", default).
TEMPLATE_KEYS = {
    "SECRET_KEY": True,
    SECRET_KEY_FALLBACKS: False,
    "DB_NAME": True,
    "DB_USER": True,
    "DB_PASSWORD": True,
    DB_PASSWORD_FALLBACKS: False,
    "DB_HOST": False,
    DOMAIN_KEY: False,
    **dict.fromkeys(S3_KEYS, False),
    **dict.fromkeys(EMAIL_KEYS, False),
    SENTRY_DSN: False,
}
# A DNS name as ALLOWED_HOSTS and a certificate take it: labels of letters, digits and inner hyphens.
HOST_NAME = re.compile(
    r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
# A bucket's name as S3 takes it: 3 to 63 lowercase letters, digits, dots and inner hyphens.
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# The keys PostgreSQL and the backups get, in a file of their own on Swarm.
DATABASE_PREFIX = "DB_"
# A script's exit status for a bad secrets file (EX_USAGE, as cmd.sh's other refusals).
EXIT_BAD_FILE = 64


class SecretsError(_SettingsError):
    """One line naming the file and, where there is one, the key at fault."""


def _sentry_dsn(value: str) -> bool:
    parts = urlsplit(value)
    project = parts.path.rstrip("/").rsplit("/", 1)[-1]
    return parts.scheme in ("http", "https") and bool(parts.hostname and parts.username) and project.isdigit()


def _storage_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.path.strip("/")


# Each key whose value has a form of its own: the test it must pass, and what it must be.
VALUE_FORMS = {
    DOMAIN_KEY: (HOST_NAME.fullmatch, "a host name such as www.example.com (no scheme, port or path)"),
    S3_BUCKET: (BUCKET_NAME.fullmatch, "a bucket name: 3 to 63 lowercase letters, digits, dots and hyphens"),
    S3_ENDPOINT_URL: (_storage_url, "the storage's URL, such as https://s3.example.com (no path)"),
    EMAIL_HOST: (HOST_NAME.fullmatch, "the mail server's host name, such as smtp.example.com (no port)"),
    EMAIL_PORT: (
        lambda value: value.isdigit() and 0 < int(value) < 65536,
        'a port number from 1 to 65535, as a string (such as "587")',
    ),
    EMAIL_SECURITY: (EMAIL_SECURITIES.__contains__, f"one of {', '.join(EMAIL_SECURITIES)}"),
    SENTRY_DSN: (_sentry_dsn, "the DSN the error service gives, such as https://KEY@o1.ingest.sentry.io/123"),
    **dict.fromkeys(
        ("DEFAULT_FROM_EMAIL", "SERVER_EMAIL"),
        (lambda value: "@" in value, 'a mail address, such as "Site <noreply@example.com>"'),
    ),
}


def _value_fault(key: str, value) -> str | None:
    if key in FALLBACK_LISTS:
        if isinstance(value, list) and all(isinstance(item, str) and item for item in value):
            return None
        return f"key {key!r} must be a list of {FALLBACK_LISTS[key]} (non-empty strings)"
    if not isinstance(value, str) or not value:
        return f"key {key!r} must be a non-empty string"
    test, form = VALUE_FORMS.get(key, (None, ""))
    if test is not None and not test(value):
        return f"key {key!r} must be {form}"
    return None


class Secrets:
    """The parsed contents of one secrets file; `secrets["KEY"]` names file and key on error."""

    def __init__(self, path: Path, values: dict):
        self.path = path
        self._values = values

    def __getitem__(self, key: str) -> str:
        if key not in self._values:
            raise SecretsError(f"{self.path}: missing key {key!r}")
        fault = _value_fault(key, self._values[key])
        if fault:
            raise SecretsError(f"{self.path}: {fault}")
        return self._values[key]

    def get(self, key: str, default: str) -> str:
        """The value of `key`, or `default` when the file does not have it."""
        return self[key] if key in self._values else default

    @property
    def values(self) -> dict:
        """Every key and value, as the file has them."""
        return dict(self._values)

    def require_template_keys(self) -> None:
        """Raise on the first fault against TEMPLATE_KEYS: every missing required key, else a bad value."""
        missing = [key for key, required in TEMPLATE_KEYS.items() if required and key not in self._values]
        if missing:
            plural = "s" if len(missing) > 1 else ""
            raise SecretsError(f"{self.path}: missing key{plural} {', '.join(map(repr, missing))}")
        for key in TEMPLATE_KEYS:
            if key in self._values:
                self[key]  # pylint: disable=pointless-statement
        if any(key in self._values for key in S3_KEYS):
            lacking = [key for key in S3_REQUIRED if key not in self._values]
            if lacking:
                raise SecretsError(
                    f"{self.path}: missing key {lacking[0]!r}: object storage for uploads needs "
                    f"{', '.join(S3_REQUIRED)}"
                )

        if EMAIL_HOST not in self._values and any(key.startswith("EMAIL_") for key in self._values):
            raise SecretsError(
                f"{self.path}: missing key {EMAIL_HOST!r}: the other EMAIL_ keys need a mail server"
            )

    @property
    def domain(self) -> str | None:
        """The environment's public host name, if the file has one."""
        return self[DOMAIN_KEY] if DOMAIN_KEY in self._values else None

    def database(self) -> dict:
        """The keys PostgreSQL and the backups read, and no other secret."""
        return {key: value for key, value in self._values.items() if key.startswith(DATABASE_PREFIX)}


def secrets_path(default: Path) -> Path:
    """The file to read: $DJANGO_SECRETS_FILE when set, else the environment's own file."""
    override = os.environ.get(SECRETS_FILE_VARIABLE)
    return Path(override) if override else Path(default)


def parse(path: Path, text: str, *, schema: bool = True) -> Secrets:
    """The secrets in `text` (the contents of `path`), checked against TEMPLATE_KEYS unless not `schema`."""
    try:
        values = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise SecretsError(f"{path}: not valid JSON at {where}: {exc.msg}") from None
    if not isinstance(values, dict):
        raise SecretsError(f'{path}: not a JSON object of "KEY": "value" pairs')
    secrets = Secrets(path, values)
    if schema:
        secrets.require_template_keys()
    return secrets


def read(path: Path, *, schema: bool = True) -> Secrets:
    """The secrets file at `path`, checked; SecretsError with one line if it cannot be used."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SecretsError(
            f"{path}: secrets file not found (set {SECRETS_FILE_VARIABLE} to use another file)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise SecretsError(f"{path}: cannot read the secrets file: {reason}") from None
    return parse(path, text, schema=schema)


def load_secrets(default: Path) -> Secrets:
    """What an environment's settings.py calls: the file beside it, or $DJANGO_SECRETS_FILE's."""
    return read(secrets_path(default))


def pg_service(secrets: Secrets) -> str:
    """A libpq service file whose service "dockerable" names the database's user and database: how
    PostgreSQL's health check (pg_isready -d service=dockerable) connects as neither root nor guesses."""
    return f"[dockerable]\nuser={secrets['DB_USER']}\ndbname={secrets['DB_NAME']}\n"


def _line_list(secrets: Secrets, key: str) -> str:
    """The list at `key`, one item a line (nothing without the key), for a script's `mapfile`."""
    items = secrets.get(key, [])
    if any("\n" in item for item in items):
        raise SecretsError(f"{secrets.path}: key {key!r} has an item with a line break")
    return "".join(f"{item}\n" for item in items)


# Each command, and whether it checks the whole schema: `value`, `list` and `pg-service` read what
# PostgreSQL and the backups need from a file that may hold the database's keys only (Swarm's).
COMMANDS = {
    "check": True,
    "database": True,
    "rotation": True,
    "value": False,
    "list": False,
    "pg-service": False,
}
# The commands that take a KEY before the PATH.
KEYED = {"value": TEMPLATE_KEYS, "list": FALLBACK_LISTS}


def _output(secrets: Secrets, command: str, key: str | None) -> str:
    if command == "database":
        # Compact and sorted, the same bytes for the same keys from release to release: Swarm
        # names the backups' secret after their hash.
        return json.dumps(secrets.database(), sort_keys=True, separators=(",", ":"))
    if command == "rotation":
        return f"{len(secrets.get(DB_PASSWORD_FALLBACKS, []))}\n"
    if command == "value":
        # As it is, no newline added: it can be a Swarm secret's content.
        return secrets[key]
    if command == "list":
        return _line_list(secrets, key)
    if command == "pg-service":
        return pg_service(secrets)
    return ""


def main(argv: list[str]) -> int:
    """`check PATH`: silent if fine; `database PATH`: the DB_ keys as JSON; `rotation PATH`: how
    many earlier database passwords it keeps (DB_PASSWORD_FALLBACKS); `value KEY PATH`: one string;
    `list KEY PATH`: one of FALLBACK_LISTS, an item a line; `pg-service PATH`: pg_service's file.
    `-` reads stdin, and a NAME after it names the file in messages. A bad file: one line, exit 64."""
    command, *rest = argv or [""]
    key = rest.pop(0) if command in KEYED and rest else None
    if command not in COMMANDS or len(rest) not in (1, 2) or (command in KEYED and key not in KEYED[command]):
        print(
            f"usage: environment.py {'|'.join(COMMANDS)} [KEY] PATH [NAME] (a KEY for value, list)",
            file=sys.stderr,
        )
        return EXIT_BAD_FILE
    source, *name = rest
    schema = COMMANDS[command]
    try:
        if source == "-":
            secrets = parse(Path(name[0] if name else "secrets.json"), sys.stdin.read(), schema=schema)
        else:
            secrets = read(Path(source), schema=schema)
        output = _output(secrets, command, key)
    except SecretsError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_FILE
    sys.stdout.write(output)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
