"""The whole site, as it will run: the image builds from this checkout, and production mode of the
sample environment serves its health check and answers its home page over HTTPS."""

import pytest

from dockerable.testing import sample_site

pytestmark = pytest.mark.docker


def test_the_image_builds_and_production_mode_serves_the_site():
    with sample_site() as get:
        assert get("/healthz") == (200, '{"status": "ok", "database": "ok"}')
        # Django answers (your home page, or 404 until you have one), without a server error.
        status, body = get("/")
        assert status < 500, body[-2000:]
