"""Container HEALTHCHECK: GET /healthz (or the path given: /livez) on this container's server; 0 if 200."""

import contextlib
import http.client
import os
import ssl
import sys


def main() -> int:
    """Probe runserver (ENV=DEV) on 8000, uWSGI's loopback HTTP (ENV=PROXY) or its HTTPS on 443."""
    mode = os.environ.get("ENV", "PROD")
    if mode == "DEV":
        conn = http.client.HTTPConnection("127.0.0.1", 8000, timeout=4)
    elif mode == "PROXY":
        conn = http.client.HTTPConnection("127.0.0.1", 8081, timeout=4)
    else:
        # Our own server over loopback: its certificate names the public host,
        # not 127.0.0.1, so identity is not what this probe checks.
        context = ssl._create_unverified_context()  # noqa: S323  pylint: disable=protected-access
        conn = http.client.HTTPSConnection("127.0.0.1", 443, timeout=4, context=context)
    try:
        conn.request("GET", sys.argv[1] if len(sys.argv) > 1 else "/healthz")
        response = conn.getresponse()
        response.read()
        status = response.status
    except OSError as exc:
        print(f"healthcheck: {exc}", file=sys.stderr)
        return 1
    finally:
        say_goodbye(conn)
    return 0 if status == 200 else 1


def say_goodbye(conn) -> None:
    """Close at the TLS level where the server still listens (a bare close makes uWSGI log a reset)."""
    if isinstance(conn.sock, ssl.SSLSocket):
        # The server may have closed first (no keep-alive): then there is nothing left to say.
        with contextlib.suppress(OSError):
            conn.sock.unwrap()
    conn.close()


if __name__ == "__main__":
    sys.exit(main())
