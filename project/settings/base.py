"""Settings every environment shares; importable alone for check, collectstatic and shell."""

from pathlib import Path

from django.core.management.utils import get_random_secret_key

from dockerable.runtime.cache import cache_settings
from project.settings.env_vars import env_bool, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# GENERAL
# ------------------------------------------------------------------------------
# The mode cmd.sh runs in: DEV is runserver with live code; anything else is production.
ENV = env_str("ENV", "PROD")
# https://docs.djangoproject.com/en/5.2/ref/settings/#debug
# On in development mode only; DJANGO_DEBUG (strict: "0"/"false" are false)
# overrides it either way.
DEBUG = env_bool("DJANGO_DEBUG", default=ENV == "DEV")
# https://docs.djangoproject.com/en/5.2/ref/settings/#secret-key
# A throw-away key so that check/collectstatic/shell run with no environment.
# Random per process on purpose: nothing signed with it can outlive the process,
# and there is no well-known key to leak. Every environment sets its own.
SECRET_KEY = get_random_secret_key()
# https://docs.djangoproject.com/en/5.2/ref/settings/#allowed-hosts
ALLOWED_HOSTS: list[str] = []
# https://docs.djangoproject.com/en/5.2/ref/settings/#language-code
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# URLS AND WSGI
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/ref/settings/#root-urlconf
ROOT_URLCONF = "project.urls"
# https://docs.djangoproject.com/en/5.2/ref/settings/#wsgi-application
WSGI_APPLICATION = "project.wsgi.application"

# APPS
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/ref/settings/#installed-apps
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Background tasks (BACKGROUND TASKS, below): the framework, its database queue, the worker.
    "django_tasks",
    "django_tasks_db",
    "dockerable.tasks",
    "project.guestbook",
]

# MIDDLEWARE
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/topics/http/middleware/
MIDDLEWARE = [
    # Outermost, so that it counts and times every answer (docs/observability.md, "Metrics").
    "dockerable.runtime.metrics.MetricsMiddleware",
    # Then every answer Django makes carries the policy (CONTENT SECURITY POLICY, below).
    "dockerable.runtime.csp.ContentSecurityPolicyMiddleware",
    # Then every answer carries its request's id, which its error report and the servers' log lines
    # about it carry too (docs/observability.md).
    "dockerable.runtime.request_id.RequestIdMiddleware",
    # Then, so that probes from inside the container or the compose network
    # (Host: 127.0.0.1, a container IP) are answered before ALLOWED_HOSTS and
    # the HTTPS redirect would turn them away.
    "dockerable.runtime.health.HealthCheckMiddleware",
    # Django's redirect to HTTPS, aimed at HTTPS_PORT (SECURITY, below); then Django's own.
    "dockerable.runtime.security.HttpsPortRedirectMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A login beyond the password checks running at once is a 429 (PASSWORDS, below).
    "dockerable.runtime.login_throttle.LoginThrottleMiddleware",
    # Last, so that it sees the view's exception first: the database unreachable is a 503.
    "dockerable.runtime.health.DatabaseUnavailableMiddleware",
]

# DATABASES
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/ref/settings/#databases
# The engine is shared: Django's PostgreSQL backend, which also tries the earlier passwords of a
# rotation (PASSWORD_FALLBACKS); credentials come from each environment's secrets.json.
# DB_HOST/DB_PORT override where it is, so that runserver on the host can reach
# the development stack's published port without /etc/hosts edits.
DATABASES = {
    "default": {
        "ENGINE": "dockerable.runtime.postgresql",
        "NAME": "postgres",
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": env_str("DB_HOST", "postgres"),
        "PORT": env_str("DB_PORT", "5432"),
        # Reuse connections across requests instead of paying the TCP+auth
        # handshake on every one; health checks drop ones the server closed.
        # Not under runserver (ENV=DEV): it starts a thread per connection, and
        # each thread's connection would stay open after it ends, until PostgreSQL
        # refuses new clients (the benchmark hit that in seconds). Django's docs:
        # https://docs.djangoproject.com/en/5.2/ref/databases/#caveats
        "CONN_MAX_AGE": 0 if ENV == "DEV" else 60,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {"connect_timeout": 5},
    }
}
# https://docs.djangoproject.com/en/5.2/ref/settings/#default-auto-field
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# TEMPLATES
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/ref/settings/#templates
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# PASSWORDS
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/ref/settings/#auth-password-validators
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# https://docs.djangoproject.com/en/5.2/ref/settings/#authentication-backends
# A password check keeps a core busy for a good part of a second, on purpose: at most this
# many run at once in the whole environment (every worker and replica), and a login beyond
# them gets 429 at once instead of taking a worker (dockerable/runtime/login_throttle.py). One keeps
# the other workers serving pages while logins flood in; raise it with the cores you have.
AUTHENTICATION_BACKENDS = ["dockerable.runtime.login_throttle.ThrottledModelBackend"]
LOGIN_CHECKS_AT_ONCE = 1

# STATIC FILES
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/ref/settings/#static-root
# Collected into the image at build time; uWSGI serves this folder directly.
STATIC_ROOT = BASE_DIR / "static"
STATIC_URL = "/static/"
# https://docs.djangoproject.com/en/5.2/ref/contrib/staticfiles/#manifeststaticfilesstorage
# Hashed file names are what make the year-long cache lifetimes safe.
STORAGES = {
    # Uploads: files under MEDIA_ROOT, each under a name never used before (docs/media.md).
    "default": {"BACKEND": "dockerable.runtime.media.MediaStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage",
    },
}

# MEDIA (what users upload)
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/topics/files/
# The environment's `media` volume, outside /app (development mode mounts the checkout there).
# uWSGI (production mode) and nginx (proxy mode) serve it as downloads that never run script on
# this site (docs/media.md). Uploads over FILE_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) wait in /tmp, a
# 512 MB tmpfs; a request body over 10 MB is refused before Django reads it.
MEDIA_ROOT = Path("/srv/media")
MEDIA_URL = "/media/"

# CACHE (docs/cache.md)
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/topics/cache/
# Valkey, shared by every process, where the stack runs one (production, proxy and Swarm set
# CACHE_URL); each process's own memory elsewhere (development mode, tests, manage.py on the host).
# When Valkey does not answer, pages are made without it and the log says so once.
CACHES = cache_settings(env_str("CACHE_URL", ""))
# https://docs.djangoproject.com/en/5.2/topics/http/sessions/#using-cached-sessions
# Sessions read from the cache and written through to the database: a cache outage logs no one out.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# BACKGROUND TASKS (docs/tasks.md)
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/6.0/topics/tasks/
# Django's tasks framework (django.tasks; on 5.2 its backport, django_tasks) with its queue in
# PostgreSQL: the worker service runs what a request enqueues, after the answer. A task runs at
# least once: one whose worker was killed mid-run runs again, so write tasks that may.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# Jobs on a schedule, each queued exactly once per due time however many workers run:
#   name: {"task": "dotted.path.of.a.task", "cron": "minute hour day month weekday" (UTC)
#          or "every": seconds, optional "kwargs": {...}, "grace": seconds late it may still start (300)}
# A mistake here stops `migrate`, so `up`, with one line naming the job and its key.
TASK_SCHEDULES = {
    # Finished tasks and the schedules' own rows, once they are TASK_RESULTS_KEEP_DAYS old; expired sessions.
    "prune-task-results": {"task": "dockerable.tasks.jobs.prune", "cron": "17 4 * * *"},
}
TASK_RESULTS_KEEP_DAYS = 30

# SECURITY
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/ref/settings/#secure-ssl-redirect
# Production serves HTTPS only (uWSGI terminates TLS, so Django sees the
# https scheme directly); development is runserver on plain HTTP.
SECURE_SSL_REDIRECT = not DEBUG
# The host port production mode publishes HTTPS on (its compose file passes HTTPS_PORT): the
# redirect from plain HTTP goes there (dockerable/runtime/security.py), not to the HTTP port.
HTTPS_PORT = env_str("HTTPS_PORT", "443")
# https://docs.djangoproject.com/en/5.2/ref/settings/#session-cookie-secure
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
# https://docs.djangoproject.com/en/5.2/ref/settings/#secure-hsts-seconds
# One year, as `check --deploy` asks. Preload only declares consent: a domain
# enters browsers' preload lists when its owner submits it, not by this header.
SECURE_HSTS_SECONDS = 0 if DEBUG else 31_536_000
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
# https://docs.djangoproject.com/en/5.2/ref/clickjacking/
X_FRAME_OPTIONS = "DENY"

# CONTENT SECURITY POLICY (docs/security.md)
# ------------------------------------------------------------------------------
# Scripts, styles, images, fonts and form targets from this site only; no plugin, no framing, no
# <base>. An inline script or style is refused: keep them in static files (Django's admin does).
# Sent by dockerable/runtime/csp.py on every answer Django makes, in every mode; the servers send
# the same (dockerable/proxy/security-headers.txt) on the static files they serve themselves.
# An environment's settings.py may set its own.
SITE_CSP = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
# Where a path needs another policy, {prefix: policy}, the longest prefix winning; for example an
# app's admin whose pages run inline scripts:
#   {"/admin/": SITE_CSP + "; script-src 'self' 'unsafe-inline'"}
SITE_CSP_BY_PATH: dict[str, str] = {}
# Development mode reports what the policy would block (the browser's console) and blocks nothing.
SITE_CSP_REPORT_ONLY = DEBUG

# METRICS (docs/observability.md)
# ------------------------------------------------------------------------------
# Requests, latency and database queries counted for Prometheus by every uWSGI worker and served,
# with uWSGI's and the task queue's figures, on port 9100 of the app container, published nowhere.
# DJANGO_METRICS=false turns the counting off.
METRICS = env_bool("DJANGO_METRICS", default=True)

# LOGGING
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/topics/logging/
# Everything to stdout: the container runtime collects and rotates it. Outside development mode one
# JSON object per line, with the id of the request it was written for, as uWSGI's and nginx's lines
# (docs/observability.md). What a client got wrong (a bogus Host, a body too big:
# django.security.*) is one WARNING line, not an ERROR with a traceback per request.
LOG_FORMAT = "plain" if DEBUG else "json"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(levelname)s %(name)s %(message)s"},
        "json": {"()": "dockerable.runtime.logs.json_formatter"},
    },
    "filters": {
        "request_id": {"()": "dockerable.runtime.logs.WithRequestId"},
        "client_error": {"()": "dockerable.runtime.logs.ClientError"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "stream": "ext://sys.stdout",
            "filters": ["request_id"],
        },
        "console_brief": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "stream": "ext://sys.stdout",
            "filters": ["request_id", "client_error"],
        },
    },
    "loggers": {"django.security": {"handlers": ["console_brief"], "propagate": False}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
}
