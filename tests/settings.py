"""Settings for your tests: every environment's (base.py), for Django's test client, on the
database that tests/run starts (dockerable/testing.py sets it)."""

from project.settings.base import *  # noqa: F401,F403  pylint: disable=wildcard-import,unused-wildcard-import

ALLOWED_HOSTS = ["testserver"]
# The test client's requests are plain HTTP: answered, not redirected to HTTPS.
SECURE_SSL_REDIRECT = False
# Static files as they are in the checkout: no collectstatic (and its manifest) before the tests.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
