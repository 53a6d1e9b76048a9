"""`cmd.sh reload`: the running uWSGI starts again on the environment's files as they are now (a
rotated secret, a changed settings.py or TLS pair) without the container restarting. Checked
first: files that do not load leave the running app alone. uWSGI's graceful reload finishes the
requests in hand, keeps its sockets open, so that nginx's requests meanwhile wait instead of failing
(production mode's HTTPS router restarts, closing its connections: docs/security.md), and loads the
app anew; this waits until every worker is a new one. One line either way."""

import os
import signal
import sys
import time

import django
from django.core import checks

from dockerable.runtime.metrics_exporter import STATS_SOCKET, read_stats

# The workers' grace to finish their requests (uwsgi.ini's worker-reload-mercy), then the app's load.
TIMEOUT_SECONDS = 120


def problem() -> str:
    """Why the environment's files would not load in a new worker ("" when they would)."""
    try:
        django.setup()
        serious = [message for message in checks.run_checks() if message.is_serious()]
    except Exception as exc:  # noqa: BLE001  # pylint: disable=broad-exception-caught
        # Whatever the settings raise is the answer.
        return f"{type(exc).__name__}: {exc}"
    return "; ".join(str(message) for message in serious)


def workers() -> tuple[int, dict[int, bool]]:
    """The master's pid, and each worker's pid with whether it accepts requests (one being respawned
    does not); (0, {}) while uWSGI is between lives."""
    try:
        stats = read_stats()
    except (OSError, ValueError):
        return 0, {}
    return stats["pid"], {worker["pid"]: bool(worker["accepting"]) for worker in stats["workers"]}


def say(line: str) -> int:
    """One line on stderr; the exit status of a reload that did not happen."""
    print(f"reload: {line}", file=sys.stderr)
    return 1


def main() -> int:
    """Check, reload, wait for the new workers; 0, or 1 and one line saying why."""
    master, before = workers()
    if not master:
        return say(f"no uWSGI answers on {STATS_SOCKET}: run it in the app's running container")
    if fault := problem():
        return say(f"nothing reloaded: the environment's files do not load: {fault}")
    count = len(before)
    named = f"{count} new worker{'s' if count != 1 else ''}"
    os.kill(master, signal.SIGHUP)
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.2)
        pid, now = workers()
        if pid and len(now) == count and all(now.values()) and not now.keys() & before.keys():
            print(f"reload: done, {named} serving the environment's files as they are now")
            return 0
    return say(f"uWSGI has not served with {named} within {TIMEOUT_SECONDS} s")


if __name__ == "__main__":
    sys.exit(main())
