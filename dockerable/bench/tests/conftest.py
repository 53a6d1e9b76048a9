"""The test suite's fixtures the bench's tests use (the real image, built once per session)."""

from dockerable.tests.conftest import test_image  # noqa: F401  pylint: disable=unused-import
