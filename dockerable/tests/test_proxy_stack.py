"""Proxy mode on real Docker: nginx in front, certificates from Pebble (a real ACME server) via certbot."""

import concurrent.futures
import contextlib
import ipaddress
import json
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from cryptography import x509

from dockerable.runtime.metrics import EXPORTER_PORT
from dockerable.testing import SampleSite
from dockerable.tests.checkers import (
    CERTIFICATE_FINDINGS,
    admin_problems_under_csp,
    mozilla_intermediate_findings,
    observatory_failures,
)
from dockerable.tests.conftest import make_private, unique_project
from dockerable.tests.docker_stack import REPO, SMALL_QUEUE, Stack, free_port, run, wait_for
from dockerable.tests.http_client import (
    answer_times_during_slow_bodies,
    oversized_post,
    request,
    sign_fixturebook,
)
from dockerable.tests.live_checks import (
    admin_page_status,
    create_superuser,
    load_on,
    reload_app,
    reset_token,
    role_takes,
    signed_in,
)
from dockerable.tests.log_checks import by_logger, error_lines, left_idle, request_lines
from dockerable.tests.manage_cli import envtool
from dockerable.tests.media_checks import form_upload_problems, upload_problems
from dockerable.tests.metric_checks import FETCH, api, exported, published, query, value
from dockerable.tests.security_headers import header_problems, problems_by_answer
from dockerable.tests.task_checks import queued_task_problems

pytestmark = pytest.mark.docker

DOMAIN = "example.dockerable.test"
PEBBLE_IMAGE = "ghcr.io/letsencrypt/pebble:latest"
# Pebble's HTTP-01 checks go to port 80 of the domain: nginx, reached by its network alias.
PEBBLE_CONFIG = {
    "pebble": {
        "listenAddress": "0.0.0.0:14000",
        "managementListenAddress": "0.0.0.0:15000",
        "certificate": "/test/certs/localhost/cert.pem",
        "privateKey": "/test/certs/localhost/key.pem",
        "httpPort": 80,
        "tlsPort": 443,
        "ocspResponderURL": "",
        "externalAccountBindingRequired": False,
    }
}
OVERRIDE = """
services:
  pebble:
    image: {pebble}
    command: ["-config", "/pebble.json"]
    environment: {{PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0"}}
    volumes: ["{dir}/pebble.json:/pebble.json:ro"]
  nginx:
    environment: {{TLS_WATCH_INTERVAL: "1"}}
    networks:
      default:
        aliases: [{domain}]
  certbot:
    environment:
      ACME_DIRECTORY: https://pebble:14000/dir
      REQUESTS_CA_BUNDLE: /pebble-ca.pem
      ATTEMPT_TIMEOUT: "20"
    volumes: ["{dir}/pebble-ca.pem:/pebble-ca.pem:ro"]
    healthcheck: {{interval: 2s, start_interval: 1s}}
"""


@pytest.fixture(scope="module")
def proxy(test_image, checkout):  # pylint: disable=unused-argument
    """The example environment's proxy stack with Pebble as its ACME server (started per test step)."""
    acme = Path(tempfile.mkdtemp(prefix="dockerable-pebble-"))
    acme.chmod(0o755)
    (acme / "pebble.json").write_text(json.dumps(PEBBLE_CONFIG))
    ca = run("docker", "run", "--rm", "--entrypoint", "cat", PEBBLE_IMAGE, "/test/certs/pebble.minica.pem")
    (acme / "pebble-ca.pem").write_text(ca.stdout)
    (acme / "override.yml").write_text(OVERRIDE.format(pebble=PEBBLE_IMAGE, dir=acme, domain=DOMAIN))
    example = checkout / "project" / "settings" / "example"
    stack = Stack(
        example / "docker-compose-proxy.yml",
        unique_project("dd-proxy"),
        HTTPS_PORT=free_port(),
        HTTP_PORT=free_port(),
        TLS_SOURCE="acme",  # the environment's own certificate unless asked (the README's command)
        PROMETHEUS_PORT=free_port(),
    )
    # With the optional Prometheus (docs/observability.md), so that every test's stack has it too.
    stack.extra_files = [checkout / "dockerable" / "compose" / "metrics.yml", acme / "override.yml"]
    try:
        yield stack
    finally:
        stack.down(volumes=True)
        shutil.rmtree(acme, ignore_errors=True)


def served_certificate(stack, alpn=("h2", "http/1.1")):
    """(certificate, negotiated ALPN protocol) that nginx presents for DOMAIN."""
    context = ssl._create_unverified_context()  # pylint: disable=protected-access
    context.set_alpn_protocols(list(alpn))
    address = ("127.0.0.1", int(stack.env["HTTPS_PORT"]))
    with (
        socket.create_connection(address, timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=DOMAIN) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        return x509.load_der_x509_certificate(der), tls.selected_alpn_protocol()


def issuer(cert) -> str:
    return cert.issuer.rfc4514_string()


def get(stack, path, method="GET", **kwargs):
    return request(method, stack.url(path), server_name=DOMAIN, **kwargs)


def issued_by_pebble(stack):
    """Up with every service, once nginx serves a certificate from Pebble: (certificate, ALPN protocol)."""
    stack.up()

    def from_pebble():
        served = served_certificate(stack)
        return served if "Pebble" in issuer(served[0]) else None

    return wait_for(from_pebble, timeout=90, what="nginx to serve a certificate issued by Pebble")


def test_nginx_starts_before_any_certificate_exists(proxy):
    proxy.down(volumes=True)  # no certificate from an earlier test
    proxy.up("--scale", "certbot=0", "--scale", "pebble=0")
    redirect = request("GET", proxy.url("/x", "HTTP_PORT"), headers={"Host": DOMAIN})
    # To the port HTTPS is published on, as in production mode.
    https = f"https://{DOMAIN}:{proxy.env['HTTPS_PORT']}/x"
    assert redirect.status == 301 and redirect.headers["location"] == https
    # Only a host the environment serves is named in a redirect.
    bogus = request("GET", proxy.url("/x", "HTTP_PORT"), headers={"Host": "attacker.example"})
    assert bogus.status == 400 and "location" not in bogus.headers
    with pytest.raises(ssl.SSLError):
        served_certificate(proxy)


def test_certificate_is_issued_by_the_acme_server_and_served_over_http2(proxy):
    cert, protocol = issued_by_pebble(proxy)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert DOMAIN in names.get_values_for_type(x509.DNSName)
    assert protocol == "h2"
    curl = run(
        "curl",
        "--http2",
        "-sk",
        "--resolve",
        f"{DOMAIN}:{proxy.env['HTTPS_PORT']}:127.0.0.1",
        "-o",
        "/dev/null",
        "-w",
        "%{http_version} %{http_code}",
        f"https://{DOMAIN}:{proxy.env['HTTPS_PORT']}/healthz",
    )
    assert curl.stdout == "2 200"


def test_static_files_come_from_nginx_compressed_and_cached(proxy):
    issued_by_pebble(proxy)
    login = get(proxy, "/admin/login/")
    assert login.status == 200
    href = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', login.text).group(1)
    css = get(proxy, href, headers={"Accept-Encoding": "gzip"})
    assert css.status == 200
    assert css.headers["content-encoding"] == "gzip"
    max_age = int(re.search(r"max-age=(\d+)", css.headers["cache-control"]).group(1))
    assert max_age >= 86_400
    # uWSGI never saw it: nginx answered from the static volume.
    assert href not in proxy.logs("app")
    missing = get(proxy, "/static/admin/css/not-there-yet.css")
    assert missing.status == 404
    assert "immutable" not in missing.headers.get("cache-control", "")


def test_no_service_logs_an_error_in_two_idle_minutes(proxy):
    # Before the tests that make something fail on purpose: the certificate issued, a page served.
    issued_by_pebble(proxy)
    assert get(proxy, "/").status == 200
    problems = error_lines(proxy, since=left_idle(proxy))
    assert not problems, "\n".join(problems)


def test_django_sees_https_and_the_real_client(proxy):
    issued_by_pebble(proxy)
    page = get(proxy, "/?canonical-check")
    canonical = re.search(r'rel="canonical" href="([^"]+)"', page.text).group(1)
    assert canonical.startswith(f"https://{DOMAIN}")
    assert page.headers["server"] == "nginx"  # no version
    # Every line about a request, nginx's, uWSGI's and Django's, is a JSON object with the same
    # request id. Behind nginx uWSGI logs only what went wrong and Django warns of a page not
    # found: so ask for one. The id a client sends is not the one nginx, uWSGI and Django use.
    missing = get(proxy, "/client-address-check/", headers={"X-Request-ID": "chosen-by-the-client"})
    assert missing.status == 404
    request_id = missing.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id), request_id

    def logged() -> dict | None:
        lines = by_logger(request_lines(proxy.logs("app") + proxy.logs("nginx"), request_id))
        return lines if {"nginx.access", "uwsgi.request", "django.request"} <= set(lines) else None

    lines = wait_for(logged, timeout=10, what="nginx, uWSGI and Django to log the 404")
    (nginx,), (uwsgi,), (django,) = lines["nginx.access"], lines["uwsgi.request"], lines["django.request"]
    for line in (nginx, uwsgi):
        assert (line["method"], line["path"], line["status"]) == ("GET", "/client-address-check/", 404), line
    assert (django["level"], django["status"]) == ("WARNING", 404) and "/client-address-check/" in django[
        "message"
    ]
    # REMOTE_ADDR in uWSGI's line is the client's address, as in nginx's, not nginx's own.
    nginx_ip = run(
        "docker",
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        proxy.containers("nginx")[0],
    ).stdout.strip()
    assert uwsgi["client"] == nginx["client"] != nginx_ip and ipaddress.ip_address(uwsgi["client"]), lines
    assert "chosen-by-the-client" not in proxy.logs("app") + proxy.logs("nginx")
    # Once: the image's own access log (its nginx.conf's) is not written beside the environment's.
    assert proxy.logs("nginx").count("/client-address-check/") == 1, proxy.logs("nginx")[-2000:]


def test_no_password_session_cookie_authorization_or_secret_reaches_a_log(proxy):
    issued_by_pebble(proxy)
    password, session, token = (f"{what}-{uuid.uuid4().hex}" for what in ("password", "session", "token"))
    login = get(proxy, "/admin/login/")
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
    headers = {
        "Cookie": f"csrftoken={login.cookies['csrftoken']}; sessionid={session}",
        "Authorization": f"Bearer {token}",
        "Referer": f"https://{DOMAIN}:{urlsplit(proxy.url('/')).port}/",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    form = urlencode({"csrfmiddlewaretoken": csrf, "username": "nobody", "password": password})
    # A sign-in that fails, then an unhandled error: both carry the cookie and the header.
    assert get(proxy, "/admin/login/", method="POST", body=form, headers=headers).status == 200
    failed = get(proxy, "/boom", headers=headers)
    assert failed.status == 500
    errors = wait_for(
        lambda: by_logger(request_lines(proxy.logs("app"), failed.headers["x-request-id"])).get(
            "django.request"
        ),
        timeout=10,
        what="Django to log the error",
    )
    assert "boom at /boom" in errors[0]["message"] + errors[0].get("exc_info", ""), errors
    logs = proxy.compose("logs", "--no-color", "--no-log-prefix").stdout
    secrets = json.loads((proxy.folder / "secrets.json").read_text())
    for name, secret in {
        "the password": password,
        "the session cookie": session,
        "the Authorization header": token,
        "SECRET_KEY": secrets["SECRET_KEY"],
        "DB_PASSWORD": secrets["DB_PASSWORD"],
    }.items():
        assert secret not in logs, f"{name} is in a log"


def listening_tcp_addresses(stack, service):
    """(address, port) of every TCP socket listening in a service's container, from /proc/net."""
    tables = stack.exec(service, "cat", "/proc/net/tcp", "/proc/net/tcp6").stdout.splitlines()
    listening = []
    # Columns: sl local_address rem_address st ...; state 0A is LISTEN. The kernel writes
    # addresses as hex 32-bit words in host (little-endian) order.
    for fields in (line.split() for line in tables):
        if len(fields) > 3 and fields[3] == "0A":
            address, port = fields[1].split(":")
            words = b"".join(bytes.fromhex(address[i : i + 8])[::-1] for i in range(0, len(address), 8))
            listening.append((ipaddress.ip_address(words), int(port, 16)))
    return listening


def test_every_answer_carries_each_listed_security_header_once(proxy):
    issued_by_pebble(proxy)
    port_80 = request("GET", proxy.url("/", "HTTP_PORT"), headers={"Host": DOMAIN})
    assert problems_by_answer(lambda path: get(proxy, path), port_80) == {}


def sent(response, name: str) -> list[str]:
    """Every value of header `name` in `response`, as sent."""
    return [value for key, value in response.header_lines if key.lower() == name.lower()]


def maintenance_problems(response) -> list[str]:
    """What `response` lacks of the maintenance page: 503, Retry-After, no caching, the security headers."""
    problems = header_problems(response)
    if response.status != 503 or "<h1>Down for maintenance</h1>" not in response.text:
        problems.append(f"status {response.status}: {response.text[:80]!r}")
    for name, expected in (("Retry-After", "300"), ("Cache-Control", "no-store")):
        if sent(response, name) != [expected]:
            problems.append(f"{name}: {sent(response, name)}")
    return problems


FORM = "application/x-www-form-urlencoded"


def test_maintenance_mode_is_nginx_alone_answering_503_until_taken_away(proxy):
    issued_by_pebble(proxy)
    command = [str(proxy.folder.parents[2] / "dockerable" / "maintenance.sh"), str(proxy.compose_file)]
    env = {**proxy.env, "COMPOSE_PROJECT_NAME": proxy.project}
    port_80 = proxy.url("/", "HTTP_PORT")
    assert run(*command, "status", env=env).stdout == "off\n"
    try:
        assert run(*command, "on", env=env).stdout.startswith("maintenance.sh: on: ")
        # No application code: with the app stopped, every method still gets the page, not a 502.
        proxy.compose("stop", "app")
        answers = {
            "GET": get(proxy, "/"),
            "POST": get(proxy, "/", method="POST", body=b"text=x", headers={"Content-Type": FORM}),
            "port 80": request("GET", port_80, headers={"Host": DOMAIN}),
        }
        assert {kind: maintenance_problems(answer) for kind, answer in answers.items()} == {
            kind: [] for kind in answers
        }
        # nginx's health check is not the site's: the container stays healthy.
        assert request("GET", proxy.url("/nginx-health", "HTTP_PORT")).status == 200
        # It outlives a deploy: the app back up behind it, still not reached.
        proxy.up()
        assert run(*command, "status", env=env).stdout == "on\n"
        problems = maintenance_problems(get(proxy, "/"))
        assert not problems, problems
    finally:
        off = run(*command, "off", env=env, check=False)
        proxy.up()
    assert off.stdout == "maintenance.sh: off: requests reach the app again\n", off
    page = get(proxy, "/")
    assert page.status == 200 and "Dockerable Django" in page.text, page.status
    assert run(*command, "status", env=env).stdout == "off\n"


def test_the_admin_works_in_a_real_browser_under_the_content_security_policy(proxy, checker_images):  # pylint: disable=unused-argument
    issued_by_pebble(proxy)
    problems = admin_problems_under_csp(proxy)
    assert not problems, problems


def test_uploads_and_a_picture_posted_through_a_form_are_served_by_nginx_as_files_that_never_run(
    proxy,
    checker_images,  # pylint: disable=unused-argument
):
    issued_by_pebble(proxy)
    problems = upload_problems(proxy, get)
    # Through the fixture app's form too; nginx serves Pebble's certificate, for DOMAIN (checked above).
    untrusted = ssl._create_unverified_context()  # noqa: S323  # pylint: disable=protected-access
    site = SampleSite(f"https://localhost:{proxy.env['HTTPS_PORT']}", untrusted)
    problems += form_upload_problems(proxy, get, site)
    assert not problems, problems


def test_a_task_queued_by_a_request_runs_on_the_worker(proxy):
    issued_by_pebble(proxy)
    problems = queued_task_problems(proxy, get)
    assert not problems, problems


def test_only_nginx_reaches_the_app(proxy):
    issued_by_pebble(proxy)
    # No TCP listener on the compose network but the metrics exporter's, which runs no Django view;
    # the rest on loopback (the healthcheck's on 8081, and Docker's own DNS resolver on 127.0.0.11).
    # nginx reaches uWSGI through the socket in their shared volume.
    listening = listening_tcp_addresses(proxy, "app")
    assert (ipaddress.ip_address("127.0.0.1"), 8081) in listening
    assert [port for address, port in listening if not address.is_loopback] == [EXPORTER_PORT], listening
    assert (
        "django_http_requests_total"
        in proxy.exec("app", "python", "-c", FETCH.replace("/metrics", "/admin/")).stdout
    )
    mode = proxy.exec("app", "stat", "-c", "%F %a", "/run/uwsgi/app.sock").stdout.strip()
    assert mode == "socket 666"
    nginx = proxy.containers("nginx")[0]
    mounts = json.loads(run("docker", "inspect", "-f", "{{json .Mounts}}", nginx).stdout)
    socket_volume = next(mount for mount in mounts if mount["Destination"] == "/run/uwsgi")
    assert socket_volume["RW"] is False
    assert get(proxy, "/healthz", timeout=5).status == 200


def test_prometheus_scrapes_the_app_and_counts_the_requests_sent(proxy):
    issued_by_pebble(proxy)
    view = {"view": "fixturebook:cached", "method": "GET", "status": "200"}
    before = value(exported(proxy), "django_http_requests_total", **view)
    for _ in range(7):
        assert get(proxy, "/cached?prometheus").status == 200
    selector = ",".join(f'{label}="{text}"' for label, text in view.items())
    prometheus = published(proxy)
    # The sum over every app target, as an alert would ask it; a scrape every 15 s.
    counted = wait_for(
        lambda: query(prometheus, f"sum(django_http_requests_total{{{selector}}})") == before + 7 or None,
        timeout=60,
        what="Prometheus to scrape the seven requests",
    )
    assert counted
    # The certificate's days left, as nginx serves it to clients (Pebble's, by now).
    expires = served_certificate(proxy)[0].not_valid_after_utc.timestamp()
    exporter = exported(proxy)
    assert value(exporter, "dockerable_certificate_up") == 1
    assert abs(value(exporter, "dockerable_certificate_expiry_days") - (expires - time.time()) / 86400) < 0.01
    targets = api(prometheus, "targets")["activeTargets"]
    assert sorted((target["labels"]["job"], target["health"]) for target in targets) == [
        ("app", "up"),
        ("backup", "up"),
        ("prometheus", "up"),
    ], targets
    # The backup service's page: the last backup worked, and it is younger than the interval.
    assert query(prometheus, "min(dockerable_backup_last_attempt_ok)") == 1
    age = query(prometheus, "time() - max(dockerable_backup_last_success_timestamp_seconds)")
    assert 0 <= age < query(prometheus, "min(dockerable_backup_overdue_after_seconds)"), age
    # The starter alerts load and evaluate, and none fires (the 500 an earlier test asked for may
    # make the error rate's pending).
    rules = [rule for group in api(prometheus, "rules")["groups"] for rule in group["rules"]]
    assert len(rules) >= 8 and {rule["health"] for rule in rules} == {"ok"}, rules
    assert not [rule["name"] for rule in rules if rule["state"] == "firing"]


def test_a_second_app_container_refuses_to_take_the_socket_over(proxy):
    issued_by_pebble(proxy)
    second = proxy.compose("run", "--rm", "--no-deps", "-T", "app", check=False)
    assert second.returncode == 64, second.stdout + second.stderr
    assert (
        "cmd.sh: another app container already serves /run/uwsgi/app.sock: proxy mode runs one app "
        "container (set UWSGI_PROCESSES for more workers instead of --scale app)"
    ) in second.stderr
    # The first one still has its socket and serves through nginx.
    assert get(proxy, "/healthz", timeout=5).status == 200


def signal_worker(stack, name: str) -> None:
    """Send signal `name` to the app's uWSGI workers (the master's children), as their own user."""
    script = (
        "import os, signal\n"
        "for pid in filter(str.isdigit, os.listdir('/proc')):\n"
        "    if open(f'/proc/{pid}/stat').read().split(')')[1].split()[1] == '1':\n"
        f"        os.kill(int(pid), signal.{name})\n"
    )
    stack.exec("app", "python", "-c", script, user="app")


def test_a_full_queue_to_the_workers_gets_an_answer_from_nginx_and_is_logged(proxy):
    issued_by_pebble(proxy)
    # nginx cannot wait on a full UNIX socket.
    with proxy.overridden(SMALL_QUEUE):
        signal_worker(proxy, "SIGSTOP")  # a worker stuck in a slow view
        try:
            with concurrent.futures.ThreadPoolExecutor(20) as pool:
                answers = [pool.submit(lambda: get(proxy, "/healthz", timeout=30).status) for _ in range(20)]
                time.sleep(3)
                signal_worker(proxy, "SIGCONT")
                statuses = [answer.result() for answer in answers]
        finally:
            signal_worker(proxy, "SIGCONT")
        # Never a connection closed unanswered (request() would raise): 502 at once, or served.
        assert set(statuses) <= {200, 502} and 502 in statuses, statuses
        assert "connect() to unix:/run/uwsgi/app.sock failed (11: Resource temporarily unavailable)" in (
            proxy.logs("nginx")
        )


def test_stopping_or_recreating_the_app_under_keep_alive_load_leaves_no_request_unanswered(proxy, tmp_path):
    issued_by_pebble(proxy)
    with load_on(proxy, tmp_path, "/healthz", DOMAIN) as summary:
        proxy.compose("restart", "app")
        proxy.compose("up", "-d", "--wait", "--no-deps", "--force-recreate", "app")
    # nginx answers what the app cannot (502 while it is down); nothing is closed unanswered.
    assert set(summary["counts"]) <= {"200", "502"}, summary
    assert summary["counts"]["200"] > 100, summary


def rotated(stack, *args: str) -> None:
    """`dockerable/run ARGS example` for each command, then what docs/security.md says for proxy mode:
    the app reloads, the worker and the backup service start again on the new secrets.json."""
    root = stack.folder.parents[2]
    for command in ("rotatekey", "rotatedbpassword"):
        done = envtool(command, "example", *args, cwd=root)
        assert done.returncode == 0, done.stderr
    reload_app(stack)
    stack.up("--no-deps", "--force-recreate", "worker", "backup")


def test_the_secret_key_and_database_password_rotated_under_load_with_a_reload_fail_no_request(
    proxy, tmp_path
):
    issued_by_pebble(proxy)
    password = f"rotation-{uuid.uuid4().hex}"
    create_superuser(proxy, "reloaded", password)
    session = signed_in(get, proxy, DOMAIN, "reloaded", password)
    token = reset_token(proxy, "reloaded")
    secrets_file = proxy.folder / "secrets.json"
    kept = secrets_file.read_bytes()
    old = json.loads(kept)
    try:
        with load_on(proxy, tmp_path, "/healthz", DOMAIN) as summary:
            rotated(proxy)
            new = json.loads(secrets_file.read_text())
            # The reloaded app signs with the new key and still takes what the old one signed.
            assert admin_page_status(get, proxy, session) == 200
            assert reset_token(proxy, "reloaded", token) == "True"
            # Its new connections got in with the fallback; now the role takes the new password.
            assert role_takes(proxy, old["DB_PASSWORD"]) and not role_takes(proxy, new["DB_PASSWORD"])
            proxy.exec("backup", "./backup.sh", "now")
            proxy.exec("app", "/dockerable/cmd.sh", "dbpassword")
            assert role_takes(proxy, new["DB_PASSWORD"]) and not role_takes(proxy, old["DB_PASSWORD"])
            # Without the fallbacks, reloaded: the old key's session is gone, and the new workers'
            # connections to the database (/healthz uses one) get in with the new password alone.
            rotated(proxy, "--drop-fallbacks")
            assert admin_page_status(get, proxy, session) == 302
            proxy.exec("backup", "./backup.sh", "now")
        # The requests that came while uWSGI reloaded waited in its socket's queue.
        assert set(summary["counts"]) == {"200"} and summary["counts"]["200"] > 200, summary
    finally:
        proxy.psql(f"ALTER ROLE CURRENT_USER PASSWORD '{old['DB_PASSWORD']}'")
        secrets_file.write_bytes(kept)
        make_private(secrets_file)
        reload_app(proxy)
        proxy.up("--no-deps", "--force-recreate", "worker", "backup")


def test_the_list_is_cached_in_valkey_and_a_write_shows_at_once(proxy):
    issued_by_pebble(proxy)
    assert get(proxy, "/cached").status == 200
    assert "fixturebook-entries" in proxy.exec("cache", "valkey-cli", "--scan").stdout
    # Capped, evicting the least recently used keys, and nothing saved to disk.
    listed = proxy.exec("cache", "valkey-cli", "config", "get", "max*").stdout.split()
    config = dict(zip(listed[::2], listed[1::2], strict=True))
    assert (config["maxmemory-policy"], config["maxmemory"]) == ("allkeys-lru", str(256 * 1024 * 1024))
    assert proxy.exec("cache", "valkey-cli", "config", "get", "save").stdout.split() == ["save"]
    assert proxy.exec("cache", "valkey-cli", "config", "get", "appendonly").stdout.split() == [
        "appendonly",
        "no",
    ]
    text = f"cached-{uuid.uuid4().hex[:8]}"
    sign_fixturebook(proxy.url(), None, DOMAIN, text)
    assert text in get(proxy, "/cached").text


def test_the_cache_stopped_under_load_fails_no_request_and_is_logged_once(proxy, tmp_path):
    issued_by_pebble(proxy)
    with load_on(proxy, tmp_path, "/cached", DOMAIN) as summary:
        proxy.compose("stop", "cache")
        time.sleep(4)
        proxy.compose("start", "cache")
        # Healthy again, the same container (an `up` here could recreate it: a second outage).
        (cache,) = proxy.containers("cache")
        wait_for(
            lambda: (
                run("docker", "inspect", "-f", "{{.State.Health.Status}}", cache).stdout.strip() == "healthy"
            ),
            timeout=60,
            what="the cache healthy again",
        )
        # Past RETRY_AFTER (dockerable/runtime/cache.py): the app has tried the cache again.
        time.sleep(6)
    assert set(summary["counts"]) == {"200"}, summary
    logs = proxy.logs("app")
    assert logs.count("the cache does not answer") == 1, logs[-3000:]
    assert logs.count("the cache answers again") == 1, logs[-3000:]


def test_slow_request_bodies_do_not_hold_the_workers(proxy):
    issued_by_pebble(proxy)
    # nginx reads each body whole before the app sees the request: six clients sending theirs a
    # byte a second for 30 s hold no worker (the example runs one per core). In production mode
    # they would hold them all (docs/security.md#facing-the-internet).
    answers, sent = answer_times_during_slow_bodies(proxy.url("/"), None, DOMAIN, clients=6, seconds=30)
    assert sent == [30] * 6, sent
    assert len(answers) >= 40 and {status for _, status in answers} == {200}, answers
    # A worker held by a slow body would keep a page waiting for the body's 30 s; a busy machine
    # may take a second or two.
    assert max(elapsed for elapsed, _ in answers) < 5, answers


def test_sslyze_finds_nothing_against_mozilla_intermediate_but_the_certificate(proxy, checker_images):  # pylint: disable=unused-argument
    issued_by_pebble(proxy)
    findings = mozilla_intermediate_findings(proxy)
    assert set(findings) <= CERTIFICATE_FINDINGS, findings


def test_tls_key_exchange_is_mozilla_intermediates(proxy):
    issued_by_pebble(proxy)

    def handshake(group: str) -> int:
        return run(
            "openssl",
            "s_client",
            "-connect",
            f"127.0.0.1:{proxy.env['HTTPS_PORT']}",
            "-servername",
            DOMAIN,
            "-groups",
            group,
            check=False,
            input_text="",
            timeout=30,
        ).returncode

    assert handshake("X25519") == 0
    for group in ("X448", "secp521r1"):
        assert handshake(group) != 0, group


@contextlib.contextmanager
def http2_requests(stack, path: str):
    """curl sending GET `path` twenty times a second over one HTTP/2 connection until the block
    ends; yields a list that gets each request's status (000: none)."""
    port = stack.env["HTTPS_PORT"]
    url = f"https://{DOMAIN}:{port}{path}?[1-100000]"
    # Line-buffered: the lines of a curl stopped with SIGTERM would otherwise die in its buffer.
    command = ["stdbuf", "-oL", "curl", "--http2", "-sk", "--resolve", f"{DOMAIN}:{port}:127.0.0.1",
               "--rate", "20/s", "-o", "/dev/null", "-w", "%{http_code} %{http_version}\\n", url]  # fmt: skip
    statuses: list = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as curl:
        try:
            yield statuses
        finally:
            curl.terminate()
            statuses.extend(curl.communicate(timeout=30)[0].splitlines())


def serving_another(stack, serials: list):
    """Wait until nginx serves a certificate none of `serials` names; add its serial to them."""

    def another():
        served = served_certificate(stack)[0]
        return served if served.serial_number not in serials else None

    served = wait_for(another, timeout=30, what="nginx to serve the new certificate")
    serials.append(served.serial_number)
    return served


def test_forced_renewals_under_keep_alive_and_http2_load_fail_no_request(proxy, tmp_path):
    issued_by_pebble(proxy)
    serials = [served_certificate(proxy)[0].serial_number]
    # A reload of nginx closes idle keep-alive connections: a client sending on one just then lost
    # its request (1 in 341 in one run). Three renewals, each served before the next.
    with (
        load_on(proxy, tmp_path, "/healthz", DOMAIN) as summary,
        http2_requests(proxy, "/healthz") as over_http2,
    ):
        for _ in range(3):
            renewed = proxy.exec("certbot", "sh", "/dockerable-proxy/certbot.sh", "renew", "--force-renewal")
            assert renewed.returncode == 0, renewed.stderr
            after = serving_another(proxy, serials)
            assert "Pebble" in issuer(after)
        time.sleep(2)
    assert set(summary["counts"]) == {"200"} and summary["counts"]["200"] > 200, summary
    assert len(over_http2) > 100 and set(over_http2) == {"200 2"}, sorted(set(over_http2))
    assert proxy.logs("nginx").count("certificate changed; new connections get it") == 3


def test_renewal_failure_is_visible_and_the_site_keeps_serving(proxy):
    issued_by_pebble(proxy)
    serving, _ = served_certificate(proxy)
    proxy.compose("stop", "pebble")
    try:
        failed = proxy.exec(
            "certbot", "sh", "/dockerable-proxy/certbot.sh", "renew", "--force-renewal", check=False
        )
        assert failed.returncode != 0
        assert "ERROR: certificate request" in failed.stderr + failed.stdout
        container = proxy.containers("certbot")[0]
        wait_for(
            lambda: (
                run("docker", "inspect", "-f", "{{.State.Health.Status}}", container).stdout.strip()
                == "unhealthy"
            ),
            timeout=30,
            what="certbot's healthcheck to report the failure",
        )
        assert get(proxy, "/healthz").status == 200
        assert served_certificate(proxy)[0].serial_number == serving.serial_number
    finally:
        # A successful attempt makes certbot healthy again, for any test after this one.
        proxy.compose("start", "pebble")
        proxy.exec("certbot", "sh", "/dockerable-proxy/certbot.sh", "renew")


def test_down_and_up_reuse_the_certificate_without_the_acme_server(proxy):
    issued_by_pebble(proxy)
    serving, _ = served_certificate(proxy)
    proxy.down(volumes=False)
    # No ACME server at all: were certbot to ask one, it would fail and `up --wait` with it.
    proxy.up("--scale", "pebble=0")
    assert served_certificate(proxy)[0].serial_number == serving.serial_number
    # Its health is the last attempt's, kept in its volume: `up --wait` may end before this one.
    wait_for(
        lambda: "No renewals were attempted" in proxy.logs("certbot"),
        timeout=60,
        what="certbot to find the kept certificate not due",
    )


def test_the_readmes_command_serves_the_environments_own_certificate_graded_a_plus(proxy, checker_images):  # pylint: disable=unused-argument
    readme = (REPO / "README.md").read_text()
    assert "| proxy | `docker-compose-proxy.yml up -d --wait` |" in readme
    proxy.down(volumes=False)
    # As the README gives it, on a laptop: no TLS_SOURCE, no override, no service scaled away;
    # certbot asks no ACME server (none is reachable from here but Pebble, which is not started).
    laptop = Stack(proxy.compose_file, proxy.project, HTTPS_PORT=proxy.env["HTTPS_PORT"],
                   HTTP_PORT=proxy.env["HTTP_PORT"])  # fmt: skip
    laptop.env.pop("TLS_SOURCE", None)
    try:
        laptop.up()
        served, _ = served_certificate(laptop)
        own = x509.load_pem_x509_certificate((proxy.folder / "ssl" / "server.crt").read_bytes())
        assert served == own
        assert get(laptop, "/healthz").status == 200
        assert "no ACME request is made" in laptop.logs("certbot")
        # The sample's certificate names localhost, where Pebble's names DOMAIN only.
        assert observatory_failures(laptop, proxy.folder / "ssl" / "server.crt") == {"grade": "A+"}
        # As in production mode: a body over 10 MB is refused before it is read.
        status = oversized_post(
            laptop.url("/"), proxy.folder / "ssl" / "server.crt", DOMAIN, 20 * 1024 * 1024
        )
        assert status == "HTTP/1.1 413 Request Entity Too Large", status
    finally:
        laptop.down(volumes=False)


def test_the_environments_own_key_and_certificate_replaced_under_load_fail_no_request(proxy, tmp_path):
    proxy.down(volumes=False)
    own = Stack(proxy.compose_file, proxy.project, HTTPS_PORT=proxy.env["HTTPS_PORT"],
                HTTP_PORT=proxy.env["HTTP_PORT"], TLS_SOURCE="files", TLS_WATCH_INTERVAL="1")  # fmt: skip
    folder = proxy.folder / "ssl"
    kept = {name: (folder / name).read_bytes() for name in ("server.crt", "server.key")}
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(fresh / "server.key"), "-out", str(fresh / "server.crt"), "-days", "30",
        "-subj", f"/CN={DOMAIN}", "-addext", f"subjectAltName=DNS:{DOMAIN},DNS:localhost")  # fmt: skip
    try:
        own.up()
        serials = [served_certificate(own)[0].serial_number]
        with load_on(own, tmp_path, "/healthz", DOMAIN) as summary:
            # As a user would: the key first, written over the old one, then the certificate. In
            # between, the key matches no certificate: nginx keeps the old pair until both match.
            (folder / "server.key").write_bytes((fresh / "server.key").read_bytes())
            time.sleep(3)
            (folder / "server.crt").write_bytes((fresh / "server.crt").read_bytes())
            served = serving_another(own, serials)
            time.sleep(2)
        assert served == x509.load_pem_x509_certificate((fresh / "server.crt").read_bytes())
        assert set(summary["counts"]) == {"200"} and summary["counts"]["200"] > 200, summary
        logs = own.logs("nginx")
        assert "key values mismatch); still serving the previous one" in logs, logs[-3000:]
    finally:
        for name, content in kept.items():
            (folder / name).write_bytes(content)
        own.down(volumes=False)


def test_no_service_mounts_the_docker_socket():
    for compose_file in sorted((REPO / "project" / "settings").glob("*/docker-compose*.yml")):
        config = json.loads(
            run("docker", "compose", "-f", str(compose_file), "config", "--format", "json").stdout
        )
        for name, service in config["services"].items():
            sources = [volume.get("source", "") for volume in service.get("volumes", [])]
            assert not any("docker.sock" in source for source in sources), (compose_file, name)
