"""One environment's settings: base plus the secrets and host name of its folder's secrets.json."""

from pathlib import Path

from dockerable.runtime.environment import load_secrets
from dockerable.runtime.error_reports import error_reports
from dockerable.runtime.mail import mail_settings
from dockerable.runtime.media import media_storage
from project.settings.base import *  # noqa: F401,F403  pylint: disable=wildcard-import,unused-wildcard-import
from project.settings.base import DATABASES, ENV, STORAGES
from project.settings.env_vars import env_str

# ENVIRONMENT
# ------------------------------------------------------------------------------
# $DJANGO_SECRETS_FILE points elsewhere (e.g. /run/secrets/...) when set.
SECRETS = load_secrets(Path(__file__).with_name("secrets.json"))
# The public name this environment serves (secrets.json's DOMAIN, which the tools read too);
# ssl/server.crt covers it and localhost.
DOMAIN = SECRETS["DOMAIN"]

# GENERAL
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/ref/settings/#secret-key
SECRET_KEY = SECRETS["SECRET_KEY"]
# https://docs.djangoproject.com/en/5.2/ref/settings/#secret-key-fallbacks
# Earlier keys, still accepted, so that a new SECRET_KEY logs nobody out (dockerable/run rotatekey).
SECRET_KEY_FALLBACKS = SECRETS.get("SECRET_KEY_FALLBACKS", [])
# https://docs.djangoproject.com/en/5.2/ref/settings/#allowed-hosts
# localhost stays so that the stack can be tried on this machine, as the certificate allows.
ALLOWED_HOSTS = [DOMAIN, "localhost", "127.0.0.1"]

# DATABASES
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/ref/settings/#databases
DATABASES["default"].update(
    # DB_NAME from the environment wins too: a restore drill points Django at its scratch copy.
    NAME=env_str("DB_NAME", SECRETS["DB_NAME"]),
    USER=SECRETS["DB_USER"],
    PASSWORD=SECRETS["DB_PASSWORD"],
    # Earlier passwords, tried when the server refuses DB_PASSWORD (dockerable/run rotatedbpassword).
    PASSWORD_FALLBACKS=SECRETS.get("DB_PASSWORD_FALLBACKS", []),
    # DB_HOST/DB_PORT from the environment win, for runserver on the host.
    HOST=env_str("DB_HOST", SECRETS.get("DB_HOST", "postgres")),
)

# UPLOADS
# ------------------------------------------------------------------------------
# The `media` volume, or S3-compatible object storage when secrets.json names a MEDIA_S3_BUCKET
# (docs/media.md): a Swarm stack whose app tasks run on several nodes needs the latter.
STORAGES = {**STORAGES, "default": media_storage(SECRETS)}

# MAIL
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/topics/email/
# secrets.json's EMAIL_* keys (docs/mail.md); each message goes out through the task queue. With no
# EMAIL_HOST: development mode's mail catcher (http://127.0.0.1:1080), elsewhere nowhere (logged).
globals().update(mail_settings(SECRETS, development=ENV == "DEV", domain=DOMAIN))
# Who gets a mail about each unhandled error (outside development mode): ("Name", "address") pairs.
ADMINS: list[tuple[str, str]] = []

# ERROR REPORTS
# ------------------------------------------------------------------------------
# With a SENTRY_DSN in secrets.json, unhandled exceptions go to Sentry (or a service that takes its
# protocol) with the request id, this environment's name and no personal data (docs/observability.md).
error_reports(SECRETS, environment=Path(__file__).parent.name)
