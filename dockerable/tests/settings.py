"""Settings for the template's unit tests: base, with the database that conftest.py starts."""

from project.settings.base import *  # noqa: F401,F403  pylint: disable=wildcard-import,unused-wildcard-import

ALLOWED_HOSTS = ["testserver"]
# No collectstatic before unit tests: plain storage instead of the manifest.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
