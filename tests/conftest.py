"""Fixtures for your tests: pytest-django's database is a real PostgreSQL, started in Docker for
the run and removed after it (dockerable/testing.py, the template's)."""

pytest_plugins = ["dockerable.testing"]
