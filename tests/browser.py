"""A real browser (Debian's Chromium under Playwright, in a container) signing in to a stack's admin."""

import json

from tests.docker_stack import REPO, run

BROWSER_IMAGE = "dockerable-tests-browser:latest"
USER, PASSWORD = "browser-admin", "a browser's password 42"


def build_browser_image() -> str:
    """The image of tests/data/browser (its layers cached after the first build)."""
    run(
        "docker",
        "build",
        "--quiet",
        "--tag",
        BROWSER_IMAGE,
        str(REPO / "tests" / "data" / "browser"),
        timeout=900,
    )
    return BROWSER_IMAGE


def admin_in_browser(stack) -> dict:
    """Make an admin in `stack`, sign in as it at https://localhost:HTTPS_PORT and visit admin pages.

    Returns the browser container's report: {"titles": [...], "problems": [...], "canary": [...]}.
    """
    stack.compose(
        "exec", "-T", "-e", f"DJANGO_SUPERUSER_PASSWORD={PASSWORD}", "app", "/dockerable/cmd.sh", "manage",
        "createsuperuser", "--noinput", "--username", USER, "--email", "admin@example.com",
    )  # fmt: skip
    base = f"https://localhost:{stack.env['HTTPS_PORT']}"
    # The host's network: the stack publishes its port on 127.0.0.1 only.
    report = run(
        "docker", "run", "--rm", "--network", "host", BROWSER_IMAGE, base, USER, PASSWORD, timeout=180
    )
    return json.loads(report.stdout)


# What the admin pages the browser visits are called; the last is the guestbook.
TITLES = [
    "Log in | Django site admin",
    "Site administration | Django site admin",
    "Add entry | Django site admin",
    "Select user to change | Django site admin",
    "Dockerable Django",
]
