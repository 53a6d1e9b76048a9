"""Settings for the template's unit tests: base, with the database that conftest.py starts."""

from project.settings.base import *  # noqa: F401,F403  pylint: disable=wildcard-import,unused-wildcard-import

ALLOWED_HOSTS = ["testserver"]
# No collectstatic before unit tests: plain storage instead of the manifest.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# The suite's own app at /, ahead of the project's pages, whatever apps the project has.
INSTALLED_APPS = [*INSTALLED_APPS, "dockerable.tests.fixture.fixturebook"]  # noqa: F405
ROOT_URLCONF = "dockerable.tests.urls"
# As install_fixture_app gives the stacks: its admin pages run an inline script.
SITE_CSP_BY_PATH = {"/admin/": SITE_CSP + "; script-src 'self' 'unsafe-inline'"}  # noqa: F405
