"""A local stand-in for PyPI's vulnerability feed, which this machine cannot reach: pip-audit, run
for real, reaches it as https://pypi.org through an HTTPS proxy (CONNECT) that answers itself,
with a certificate for pypi.org that the run is told to trust."""

import contextlib
import http.server
import json
import re
import socketserver
import ssl
import threading
from pathlib import Path

from dockerable.envtools.certificates import self_signed
from dockerable.tests.docker_stack import free_port

VERSION_PATH = re.compile(r"^/pypi/([^/]+)/([^/]+)/json$")
# PyPI's own format for one advisory (its JSON API's `vulnerabilities`), made up for the tests.
ADVISORY = {
    "id": "PYSEC-2026-999",
    "aliases": ["CVE-2026-99999"],
    "details": "A flaw made up for this test.",
    "fixed_in": ["99.0.1", "98.2.3"],
    "link": "https://osv.dev/vulnerability/PYSEC-2026-999",
    "source": "osv",
    "summary": None,
    "withdrawn": None,
}


class Feed(http.server.BaseHTTPRequestHandler):
    """PyPI's JSON API for one release: its `vulnerabilities`, or 404 when the server says so."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):  # pylint: disable=invalid-name
        found = VERSION_PATH.match(self.path)
        if not found or self.server.stand_in.missing:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        name, version = found.groups()
        body = json.dumps(
            {
                "info": {"name": name, "version": version},
                "vulnerabilities": self.server.stand_in.advisories.get(name, []),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


class Proxy(socketserver.StreamRequestHandler):
    """An HTTPS proxy that answers every CONNECT itself, as pypi.org, with the Feed."""

    def handle(self):
        request = self.rfile.readline().decode("latin-1")
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        if not request.startswith("CONNECT "):
            self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        with self.server.tls.wrap_socket(self.connection, server_side=True) as tls:
            Feed(tls, self.client_address, self.server)


class AdvisoryStandIn:
    """Advisories by package name (PyPI's format); `missing`: every release answered with 404, as
    this machine's network answers the real feed."""

    def __init__(self, folder: Path, advisories: dict | None = None, missing: bool = False):
        self.advisories = advisories or {}
        self.missing = missing
        key, cert = self_signed("pypi.org")
        self.ca_file = folder / "pypi-stand-in.crt"
        self.ca_file.write_bytes(cert)
        (folder / "pypi-stand-in.key").write_bytes(key)
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(self.ca_file, folder / "pypi-stand-in.key")
        self.cache = folder / "cache"

    @contextlib.contextmanager
    def serving(self):
        """The environment a pip-audit run needs to reach the stand-in, while it serves."""
        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Proxy)
        server.daemon_threads = True
        server.tls, server.stand_in = self.tls, self
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self.environment(f"http://127.0.0.1:{server.server_address[1]}")
        finally:
            server.shutdown()
            server.server_close()

    def environment(self, proxy: str) -> dict[str, str]:
        """Variables that send pip-audit's requests to `proxy`, trusting the stand-in's certificate,
        with a cache of their own (none of an earlier run's answers)."""
        return {
            "HTTPS_PROXY": proxy,
            "https_proxy": proxy,
            "NO_PROXY": "",
            "no_proxy": "",
            "REQUESTS_CA_BUNDLE": str(self.ca_file),
            "XDG_CACHE_HOME": str(self.cache),
            "PIP_CACHE_DIR": str(self.cache / "pip"),
        }


def unreachable(folder: Path) -> dict[str, str]:
    """The environment of a run whose advisory service cannot be reached: a proxy nobody listens on."""
    return AdvisoryStandIn(folder).environment(f"http://127.0.0.1:{free_port()}")
