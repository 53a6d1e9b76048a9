"""Container HEALTHCHECK: GET /healthz (or the path given) on this container's server; 0 if 200.

`healthcheck.py /livez --first /healthz --for 12` (Swarm's app): /healthz until it has answered 200
once in this container, or for the container's first 12 s at most; /livez from then on.
"""

import argparse
import contextlib
import http.client
import os
import ssl
import sys
from pathlib import Path

# In the container's own /tmp (a tmpfs under Swarm): a new container starts without it.
READY_MARK = Path("/tmp/dockerable-ready")  # noqa: S108


def connection() -> http.client.HTTPConnection:
    """runserver (ENV=DEV) on 8000, uWSGI's loopback HTTP (ENV=PROXY) or its HTTPS on 443."""
    mode = os.environ.get("ENV", "PROD")
    if mode == "DEV":
        return http.client.HTTPConnection("127.0.0.1", 8000, timeout=4)
    if mode == "PROXY":
        return http.client.HTTPConnection("127.0.0.1", 8081, timeout=4)
    # Our own server over loopback: its certificate names the public host,
    # not 127.0.0.1, so identity is not what this probe checks.
    context = ssl._create_unverified_context()  # noqa: S323  pylint: disable=protected-access
    return http.client.HTTPSConnection("127.0.0.1", 443, timeout=4, context=context)


def answers(path: str) -> bool:
    """True if this container's server answers `path` with 200."""
    conn = connection()
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        status = response.status
    except OSError as exc:
        print(f"healthcheck: {exc}", file=sys.stderr)
        return False
    finally:
        say_goodbye(conn)
    if status != 200:
        print(f"healthcheck: {path} answered {status}", file=sys.stderr)
    return status == 200


def say_goodbye(conn) -> None:
    """Close at the TLS level where the server still listens (a bare close makes uWSGI log a reset)."""
    if isinstance(conn.sock, ssl.SSLSocket):
        # The server may have closed first (no keep-alive): then there is nothing left to say.
        with contextlib.suppress(OSError):
            conn.sock.unwrap()
    conn.close()


def container_age() -> float:
    """Seconds since the container's first process started."""
    with open("/proc/1/stat", encoding="ascii") as stat:
        # Field 22, after the command name in parentheses (which may hold spaces): clock ticks after boot.
        started = int(stat.read().rpartition(")")[2].split()[19]) / os.sysconf("SC_CLK_TCK")
    with open("/proc/uptime", encoding="ascii") as uptime:
        return float(uptime.read().split()[0]) - started


def ready(first: str, within: float) -> bool:
    """Whether `first` has answered 200 in this container, asking it now if not; once `within`
    seconds have passed since the start, it has had its chance: True from then on."""
    if READY_MARK.exists():
        return True
    # The age first: a probe that waits on an unreachable database is ended by Docker's timeout.
    if container_age() >= within or answers(first):
        READY_MARK.touch()
        return True
    return False


def main() -> int:
    """Probe as the arguments say; the exit status Docker reads."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default="/healthz")
    parser.add_argument("--first", help="a path to ask instead until it has answered 200 once")
    parser.add_argument("--for", dest="within", type=float, default=0.0, help="seconds at most for --first")
    args = parser.parse_args()
    if args.first and not ready(args.first, args.within):
        return 1
    return 0 if answers(args.path) else 1


if __name__ == "__main__":
    sys.exit(main())
