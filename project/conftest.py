"""Fixtures for your apps' tests (project/<app>/tests.py): the same as tests/conftest.py's, for a
run of one app's tests alone."""

pytest_plugins = ["dockerable.testing"]
