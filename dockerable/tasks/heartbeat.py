"""The worker's heartbeat: a file its loop touches while it polls or runs a task (dockerable/tasks/worker.py),
and, run as a script, the container's health check that reads it. Standard library only: it runs alone."""

import os
import sys
import time

# On the container's own /tmp, a tmpfs (compose/services.yml, swarm/stack.yml).
HEARTBEAT = "/tmp/dockerable-worker-heartbeat"  # noqa: S108
# Seconds the file may go untouched before the worker counts as stuck.
STALE_AFTER = 30


def fresh() -> int:
    """0 if the loop beat within STALE_AFTER seconds (database or not: an outage is no reason to restart)."""
    try:
        age = time.time() - os.stat(HEARTBEAT).st_mtime
    except OSError:
        print("heartbeat: the worker has not started polling yet", file=sys.stderr)
        return 1
    if age > STALE_AFTER:
        print(f"heartbeat: the worker's loop last beat {age:.0f} s ago", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(fresh())
