"""Tiny HTTP(S) client for the tests that also reports the certificate the server presented."""

import concurrent.futures
import http.client
import re
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit


@dataclass
class Response:
    """What one request got back."""

    status: int
    headers: dict
    body: bytes
    peer_cert_der: bytes | None = None
    cookies: dict = field(default_factory=dict)
    # Every header line as sent, repeats included (`headers` keeps one value per name).
    header_lines: list = field(default_factory=list)

    @property
    def text(self) -> str:
        """The body as UTF-8 text."""
        return self.body.decode("utf-8", "replace")


def tls_context(ca_file=None) -> ssl.SSLContext:
    """Verify against `ca_file` (the environment's own certificate) or not at all."""
    if ca_file is None:
        return ssl._create_unverified_context()  # pylint: disable=protected-access
    return ssl.create_default_context(cafile=str(ca_file))


def request(  # pylint: disable=too-many-arguments,too-many-locals
    method: str,
    url: str,
    *,
    ca_file=None,
    server_name="localhost",
    headers=None,
    body=None,
    timeout=10,
) -> Response:
    """Send one request; HTTPS URLs verify against `ca_file` with SNI/host `server_name`."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    peer = None
    if parts.scheme == "https":
        sock = ssl_connection(parts.hostname, parts.port, ca_file, server_name, timeout)
        # Read now: http.client drops its socket once a `Connection: close` response is read.
        peer = sock.getpeercert(binary_form=True)
        conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout)
        conn.sock = sock
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    all_headers = {"Host": f"{server_name}:{parts.port}"}
    all_headers.update(headers or {})
    try:
        conn.request(method, path, body=body, headers=all_headers)
        raw = conn.getresponse()
        payload = raw.read()
        cookies = {}
        for value in raw.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            cookies[name.strip()] = rest.split(";", 1)[0]
        lines = raw.getheaders()
        return Response(raw.status, {k.lower(): v for k, v in lines}, payload, peer, cookies, lines)
    finally:
        conn.close()


def ssl_connection(host, port, ca_file, server_name, timeout):
    """A TLS socket to host:port, verifying the certificate against `ca_file` for `server_name`."""
    raw = http.client.socket.create_connection((host, port), timeout=timeout)
    return tls_context(ca_file).wrap_socket(raw, server_hostname=server_name)


def sign_fixturebook(base_url: str, ca_file, server_name: str, text: str) -> None:
    """Write through the app as a browser would: GET the form, POST it back with its CSRF token."""
    page = request("GET", base_url + "/", ca_file=ca_file, server_name=server_name)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    port = urlsplit(base_url).port
    response = request(
        "POST",
        base_url + "/",
        ca_file=ca_file,
        server_name=server_name,
        body=urlencode({"csrfmiddlewaretoken": token, "text": text}),
        headers={
            "Cookie": f"csrftoken={page.cookies['csrftoken']}",
            "Referer": f"https://{server_name}:{port}/",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert response.status == 302, response.text[:500]


def oversized_post(  # pylint: disable=too-many-arguments
    url: str, ca_file, server_name: str, length: int, *, sent: int = 65536, expect=False
) -> str:
    """The status line a server answers a POST that announces `length` bytes with, once `sent`
    of them are sent (with `expect`, none until the server says 100 Continue): a server that
    waits for the rest answers nothing (a timeout)."""
    parts = urlsplit(url)
    head = (
        f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {server_name}\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {length}\r\n"
        + ("Expect: 100-continue\r\n" if expect else "")
        + "\r\n"
    )
    with ssl_connection(parts.hostname, parts.port, ca_file, server_name, 10) as sock:
        sock.sendall(head.encode())
        if expect:
            status = sock.recv(4096).split(b"\r\n", 1)[0].decode()
            if not status.endswith(" 100 Continue"):
                return status
        sock.sendall(b"x" * sent)
        return sock.recv(4096).split(b"\r\n", 1)[0].decode()


def answer_times_during_slow_bodies(url: str, ca_file, server_name: str, clients: int, seconds: int) -> tuple:
    """GET `url` every half second while `clients` connections each send a POST body a byte a
    second for `seconds`: ([(seconds to answer, status)], bytes each slow client got to send).

    The bodies go to the admin login, whose CSRF check reads them (the origin passes and there
    is a cookie). A GET that gets no answer within 5 s counts as 5 s and status 0.
    """
    parts = urlsplit(url)

    def send_slowly() -> int:
        sent = 0
        head = (
            f"POST /admin/login/ HTTP/1.1\r\nHost: {server_name}\r\nOrigin: https://{server_name}\r\n"
            "Cookie: csrftoken=abcdefghijklmnopqrstuvwxyzABCDEF\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {seconds + 100}\r\n\r\n"
        )
        with ssl_connection(parts.hostname, parts.port, ca_file, server_name, 10) as sock:
            sock.sendall(head.encode())
            for _ in range(seconds):
                sock.sendall(b"x")
                sent += 1
                time.sleep(1)
        return sent

    def timed_get() -> tuple:
        start = time.monotonic()
        try:
            status = request("GET", url, ca_file=ca_file, server_name=server_name, timeout=5).status
        except OSError:
            status = 0
        return time.monotonic() - start, status

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        slow = [pool.submit(send_slowly) for _ in range(clients)]
        time.sleep(2)  # every slow client has sent its headers
        answers = []
        while not all(future.done() for future in slow):
            answers.append(timed_get())
            time.sleep(0.5)
        return answers, [future.result() for future in slow]
