"""Production mode on real Docker: HTTPS by uWSGI with the environment's certificate, and its data."""

import concurrent.futures
import contextlib
import http.client
import ipaddress
import json
import re
import shutil
import ssl
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography import x509

from dockerable.envtools.certificates import self_signed
from dockerable.testing import SampleSite
from dockerable.tests.checkers import (
    CERTIFICATE_FINDINGS,
    admin_problems_under_csp,
    mozilla_intermediate_findings,
    observatory_failures,
)
from dockerable.tests.conftest import make_private, unique_project
from dockerable.tests.docker_stack import REPO, SMALL_QUEUE, TEST_IMAGE, Stack, free_port, run, wait_for
from dockerable.tests.http_client import (
    answer_times_during_slow_bodies,
    oversized_post,
    request,
    sign_fixturebook,
    ssl_connection,
)
from dockerable.tests.live_checks import (
    admin_page_status,
    create_superuser,
    reload_app,
    reset_token,
    role_takes,
    signed_in,
)
from dockerable.tests.log_checks import error_lines, left_idle, request_lines
from dockerable.tests.manage_cli import envtool
from dockerable.tests.media_checks import (
    INLINE,
    UPLOADS,
    form_upload_problems,
    save_uploads,
    upload_problems,
)
from dockerable.tests.metric_checks import exported, value
from dockerable.tests.security_headers import problems_by_answer
from dockerable.tests.task_checks import QUEUE_TABLE, enqueue, queued_task_problems, runs, wait_for_status

pytestmark = pytest.mark.docker

HOST = "example.dockerable.test"
MOTO_IMAGE = "motoserver/moto:5.1.1"
# The workers' socket in production mode (uwsgi.ini's [https]): TCP on loopback, (host, port).
WORKERS_HOST, WORKERS_PORT = re.search(
    r"^socket = (\S+):(\d+)$", (REPO / "dockerable" / "uwsgi.ini").read_text(), re.M
).groups()


@pytest.fixture(scope="module")
def prod(test_image, checkout):  # pylint: disable=unused-argument
    """The example environment's production stack, up from a copy whose key is 0600."""
    stack = Stack(
        checkout / "project" / "settings" / "example" / "docker-compose.yml",
        unique_project("dd-prod"),
        HTTPS_PORT=free_port(),
        HTTP_PORT=free_port(),
    )
    with stack.running():
        yield stack


def get(stack, path, method="GET", **kwargs):
    """GET (or `method`) over HTTPS, trusting only the environment's own certificate, as HOST."""
    return request(
        method, stack.url(path), ca_file=stack.folder / "ssl" / "server.crt", server_name=HOST, **kwargs
    )


def test_the_backup_service_starts_once_the_migrations_are_done(prod):
    # First in the module: later tests recreate the backup service.
    def state(service: str) -> dict:
        container = prod.containers(service)[0]
        return json.loads(run("docker", "inspect", "-f", "{{json .State}}", container).stdout)

    migrated = datetime.fromisoformat(state("migrate")["FinishedAt"])
    assert datetime.fromisoformat(state("backup")["StartedAt"]) > migrated


def restart_app_and_worker(stack) -> None:
    """As docs/security.md says after a rotation: the app and worker read secrets.json anew."""
    stack.up("--force-recreate", "app", "worker")


def test_a_rotated_secret_key_keeps_sessions_and_reset_links_until_its_fallback_is_dropped(prod):
    password = f"rotation-{uuid.uuid4().hex}"
    create_superuser(prod, "rotation", password)
    session = signed_in(get, prod, HOST, "rotation", password)
    token = reset_token(prod, "rotation")
    assert admin_page_status(get, prod, session) == 200
    secrets_file = prod.folder / "secrets.json"
    kept = secrets_file.read_bytes()
    old_key = json.loads(kept)["SECRET_KEY"]
    try:
        rotated = envtool("rotatekey", "example", cwd=prod.folder.parents[2])
        assert rotated.returncode == 0, rotated.stderr
        values = json.loads(secrets_file.read_text())
        assert values["SECRET_KEY"] != old_key and values["SECRET_KEY_FALLBACKS"] == [old_key]
        assert secrets_file.stat().st_mode & 0o777 == 0o600
        restart_app_and_worker(prod)
        # Signed with the key before: still valid, through its fallback.
        assert admin_page_status(get, prod, session) == 200
        assert reset_token(prod, "rotation", token) == "True"
        # The fallback dropped: what the old key signed is no longer valid.
        dropped = envtool("rotatekey", "example", "--drop-fallbacks", cwd=prod.folder.parents[2])
        assert dropped.returncode == 0, dropped.stderr
        assert "SECRET_KEY_FALLBACKS" not in json.loads(secrets_file.read_text())
        restart_app_and_worker(prod)
        assert admin_page_status(get, prod, session) == 302
        assert reset_token(prod, "rotation", token) == "False"
    finally:
        secrets_file.write_bytes(kept)
        make_private(secrets_file)
        restart_app_and_worker(prod)


def test_a_rotated_database_password_reaches_the_app_the_backups_and_then_the_role(prod):
    secrets_file = prod.folder / "secrets.json"
    kept = secrets_file.read_bytes()
    old = json.loads(kept)
    root = prod.folder.parents[2]
    try:
        rotated = envtool("rotatedbpassword", "example", cwd=root)
        assert rotated.returncode == 0, rotated.stderr
        new = json.loads(secrets_file.read_text())["DB_PASSWORD"]
        prod.up("--force-recreate", "app", "worker", "backup")
        # The role still has the old password: the app and a backup get in with the fallback.
        assert role_takes(prod, old["DB_PASSWORD"]) and not role_takes(prod, new)
        assert get(prod, "/healthz").body == b'{"status": "ok", "database": "ok"}'
        prod.exec("backup", "./backup.sh", "now")
        # The role gets the new one, and the app, restarted without the fallback, connects with it.
        said = prod.exec("app", "/dockerable/cmd.sh", "dbpassword").stdout
        assert (
            said
            == f"dbpassword: the role {old['DB_USER']} has DB_PASSWORD now (it connected with a fallback)\n"
        )
        assert role_takes(prod, new) and not role_takes(prod, old["DB_PASSWORD"])
        dropped = envtool("rotatedbpassword", "example", "--drop-fallbacks", cwd=root)
        assert dropped.returncode == 0, dropped.stderr
        prod.up("--force-recreate", "app", "worker", "backup")
        assert get(prod, "/healthz").body == b'{"status": "ok", "database": "ok"}'
        prod.exec("backup", "./backup.sh", "now")
        said = prod.exec("app", "/dockerable/cmd.sh", "dbpassword").stdout
        assert said == f"dbpassword: the role {old['DB_USER']} has DB_PASSWORD already\n", said
    finally:
        prod.psql(f"ALTER ROLE CURRENT_USER PASSWORD '{old['DB_PASSWORD']}'")
        secrets_file.write_bytes(kept)
        make_private(secrets_file)
        prod.up("--force-recreate", "app", "worker", "backup")


def served_certificate(stack) -> x509.Certificate:
    pem = ssl.get_server_certificate(("127.0.0.1", int(stack.env["HTTPS_PORT"])))
    return x509.load_pem_x509_certificate(pem.encode())


# The metric files of /tmp/metrics whose writer is not running (a file is <type>_<pid>.db).
GONE_WRITERS = (
    "import glob, os; print(sorted(f for f in glob.glob('/tmp/metrics/*.db') "
    "if f.split('_')[-1][:-3].isdigit() and not os.path.exists('/proc/' + f.split('_')[-1][:-3])))"
)


def test_a_reload_leaves_its_gone_workers_counts_in_one_archive_not_a_file_each(prod):
    series = {"view": "fixturebook:cached", "method": "GET", "status": "200"}
    for _ in range(3):
        assert get(prod, "/cached?archived").status == 200
    before = value(exported(prod), "django_http_requests_total", **series)
    reload_app(prod)  # every process of uWSGI is a new one: the old ones' files are left behind
    assert get(prod, "/cached?archived").status == 200
    # The scrape archived them, and counted every request still, once.
    assert value(exported(prod), "django_http_requests_total", **series) == before + 1
    assert prod.exec("app", "python", "-c", GONE_WRITERS).stdout == "[]\n"
    listed = prod.exec("app", "ls", "/tmp/metrics").stdout.split()
    assert {"counter_archive.db", "histogram_archive.db"} <= set(listed), listed


def test_a_reload_serves_a_new_tls_pair_and_files_that_do_not_load_change_nothing(prod):
    folder = prod.folder
    names = ("secrets.json", "settings.py", "ssl/server.crt", "ssl/server.key")
    kept = {name: ((folder / name).read_bytes(), (folder / name).stat().st_mode) for name in names}
    fresh_key, fresh_cert = self_signed(HOST)
    reloads = prod.logs("app").count("binary reloading uWSGI")
    # Outside the running app container there is no uWSGI to reload.
    alone = prod.compose("run", "--rm", "--no-deps", "app", "/dockerable/cmd.sh", "reload", check=False)
    assert (alone.returncode, alone.stderr.splitlines()[-1]) == (
        1,
        "reload: no uWSGI answers on /tmp/uwsgi-stats.sock: run it in the app's running container",
    )
    try:
        (folder / "secrets.json").write_text('{"SECRET_KEY": "only this"}')
        make_private(folder / "secrets.json")
        refused = prod.exec("app", "/dockerable/cmd.sh", "reload", check=False)
        assert refused.returncode == 64, refused
        assert refused.stderr.startswith("cmd.sh: /app/project/settings/example/secrets.json: missing keys")
        (folder / "secrets.json").write_bytes(kept["secrets.json"][0])
        make_private(folder / "secrets.json")
        (folder / "settings.py").write_bytes(kept["settings.py"][0] + b"\nDEBUG = undefined_name\n")
        refused = prod.exec("app", "/dockerable/cmd.sh", "reload", check=False)
        assert (refused.returncode, refused.stderr) == (1, (
            "reload: nothing reloaded: the environment's files do not load: "
            "NameError: name 'undefined_name' is not defined\n"
        ))  # fmt: skip
        (folder / "settings.py").write_bytes(kept["settings.py"][0])
        (folder / "ssl" / "server.key").write_bytes(fresh_key)  # the certificate not yet replaced
        refused = prod.exec("app", "/dockerable/cmd.sh", "reload", check=False)
        assert (refused.returncode, refused.stderr) == (64, (
            "cmd.sh: /ssl/server.key is not the private key of /ssl/server.crt, "
            "or either is not PEM (the environment's ssl/)\n"
        ))  # fmt: skip
        assert prod.logs("app").count("binary reloading uWSGI") == reloads
        assert served_certificate(prod) == x509.load_pem_x509_certificate(kept["ssl/server.crt"][0])
        (folder / "ssl" / "server.crt").write_bytes(fresh_cert)
        # Not under load: the reload restarts uWSGI's HTTPS router too, which closes the connections
        # it holds (docs/security.md); proxy mode's test has the load.
        reload_app(prod)
        assert served_certificate(prod) == x509.load_pem_x509_certificate(fresh_cert)
        assert get(prod, "/healthz").status == 200  # verified against the new certificate
    finally:
        for name, (content, mode) in kept.items():
            (folder / name).write_bytes(content)
            (folder / name).chmod(mode)
        reload_app(prod)


def test_no_service_logs_an_error_in_two_idle_minutes(prod):
    # First in the module, before any test makes something fail on purpose. The health checks
    # above all must log nothing: pg_isready with no user tried the role of the OS user (root),
    # which the server logged as FATAL at every check, 8,640 lines a day; the check names the
    # database's own user and database. From the end of the start: a backup due as the stack starts
    # may meet the migrations (docs/observability.md).
    problems = error_lines(prod, since=left_idle(prod))
    assert not problems, "\n".join(problems)


def test_a_task_queued_by_a_request_runs_on_the_worker(prod):
    problems = queued_task_problems(prod, get)
    assert not problems, problems


def test_a_worker_killed_mid_task_has_its_task_run_again_to_its_end(prod):
    key = uuid.uuid4().hex
    task_id = enqueue(prod, get, key, seconds=6)
    killed = wait_for_status(prod, task_id, "RUNNING")
    run("docker", "kill", prod.containers("worker", all_states=False)[0])
    assert runs(prod, key) == []
    # Its restart, or another worker: the task is put back in the queue, runs again, and ends.
    prod.compose("start", "worker")
    claimed = wait_for_status(prod, task_id, "SUCCESSFUL", timeout=60)
    assert len(claimed) == 2 and claimed[0] == killed[0], claimed
    assert len(runs(prod, key)) == 1
    assert f"task {task_id} lost its worker mid-run: queued again" in prod.logs("worker")


def test_a_stopped_worker_ends_the_task_it_runs_first(prod):
    key = uuid.uuid4().hex
    task_id = enqueue(prod, get, key, seconds=4)
    wait_for_status(prod, task_id, "RUNNING")
    try:
        prod.compose("stop", "worker")
        assert len(runs(prod, key)) == 1
        assert len(wait_for_status(prod, task_id, "SUCCESSFUL", timeout=1)) == 1
    finally:
        prod.compose("start", "worker")


def test_healthz_over_https_with_the_environments_certificate(prod):
    response = get(prod, "/healthz")
    assert response.status == 200
    assert response.text == '{"status": "ok", "database": "ok"}'
    served = ssl.DER_cert_to_PEM_cert(response.peer_cert_der)
    on_disk = (prod.folder / "ssl" / "server.crt").read_text()
    assert served.strip() in on_disk
    # The key stayed 0600 on the host; the app read it without loosening that.
    assert (prod.folder / "ssl" / "server.key").stat().st_mode & 0o077 == 0


def test_http_redirects_to_https_but_only_for_a_host_the_environment_serves(prod):
    # The Host a browser sends to port 80 (the name alone), and to another port: either way the
    # redirect names the port HTTPS is published on.
    https_port = prod.env["HTTPS_PORT"]
    response = request("GET", prod.url("/x", "HTTP_PORT"), headers={"Host": HOST})
    assert response.status == 301
    assert response.headers["location"] == f"https://{HOST}:{https_port}/x"
    typed = f"localhost:{prod.env['HTTP_PORT']}"
    on_a_port = request("GET", prod.url("/x", "HTTP_PORT"), headers={"Host": typed})
    assert on_a_port.headers["location"] == f"https://localhost:{https_port}/x"
    bogus = request("GET", prod.url("/x", "HTTP_PORT"), headers={"Host": "attacker.example"})
    assert bogus.status == 400 and "location" not in bogus.headers


def test_a_body_over_10_mb_is_refused_with_413(prod):
    ca_file, too_big, refused = (
        prod.folder / "ssl" / "server.crt",
        20 * 1024 * 1024,
        "HTTP/1.1 413 Request Entity Too Large",
    )
    # A client that asks first (Expect: 100-continue) is refused before it sends its body; any
    # other once the fastrouter has read it all (nginx, in proxy mode, refuses it at once).
    assert oversized_post(prod.url("/"), ca_file, HOST, too_big, expect=True) == refused
    statuses = [oversized_post(prod.url("/"), ca_file, HOST, too_big, sent=too_big) for _ in range(3)]
    assert statuses == [refused] * 3, statuses
    assert get(prod, "/healthz").status == 200  # and the workers serve on


def test_slow_request_bodies_do_not_hold_the_workers(prod):
    # The fastrouter reads each body whole before a worker sees the request: six clients sending
    # theirs a byte a second for 30 s hold no worker (the example runs one per core).
    ca_file = prod.folder / "ssl" / "server.crt"
    answers, sent = answer_times_during_slow_bodies(prod.url("/"), ca_file, HOST, clients=6, seconds=30)
    assert sent == [30] * 6, sent
    assert len(answers) >= 40 and {status for _, status in answers} == {200}, answers
    # A worker held by a slow body would keep a page waiting for the body's 30 s; a busy machine
    # may take a second or two.
    assert max(elapsed for elapsed, _ in answers) < 5, answers


def test_collected_static_file_is_served_with_a_long_cache_lifetime(prod):
    page = get(prod, "/")
    assert page.status == 200
    # The hashed name that ManifestStaticFilesStorage gave it at build time.
    href = re.search(r'href="(/static/fixturebook/site\.[0-9a-f]{12}\.css)"', page.text).group(1)
    css = get(prod, href)
    assert css.status == 200 and b"font-family" in css.body
    max_age = int(re.search(r"max-age=(\d+)", css.headers["cache-control"]).group(1))
    assert max_age >= 86_400
    assert "expires" in css.headers
    # A name that is not there (yet) is not cached for a year.
    missing = get(prod, "/static/fixturebook/not-there-yet.css")
    assert missing.status == 404
    assert "immutable" not in missing.headers.get("cache-control", "")


def test_every_answer_carries_each_listed_security_header_once(prod):
    assert "secure" in get(prod, "/").headers["set-cookie"].lower()
    port_80 = request("GET", prod.url("/", "HTTP_PORT"), headers={"Host": HOST})
    assert problems_by_answer(lambda path: get(prod, path), port_80) == {}


def test_the_admin_works_in_a_real_browser_under_the_content_security_policy(prod, checker_images):  # pylint: disable=unused-argument
    problems = admin_problems_under_csp(prod)
    assert not problems, problems


def test_mdn_http_observatory_grades_it_a_plus(prod, checker_images):  # pylint: disable=unused-argument
    assert observatory_failures(prod, prod.folder / "ssl" / "server.crt") == {"grade": "A+"}


def test_docker_compose_exec_runs_manage_in_the_running_app(prod):
    # A second cmd.sh in the container refills the private folder the first one gave away.
    result = prod.exec("app", "/dockerable/cmd.sh", "manage", "check")
    assert "System check identified no issues" in result.stdout


def test_metrics_sum_every_workers_counts_on_a_port_published_nowhere(prod):
    since = datetime.now(UTC).isoformat()
    before = exported(prod)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:  # four connections: every worker answers some
        statuses = list(pool.map(lambda _: get(prod, "/cached?metrics").status, range(12)))
    assert statuses == [200] * 12
    assert get(prod, "/healthz?metrics").status == 200
    after = exported(prod)

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    # Counted in the workers, read by the exporter, another process (uWSGI's mule).
    assert grew("django_http_requests_total", view="fixturebook:cached", method="GET", status="200") == 12
    assert grew("django_http_request_duration_seconds_count", view="fixturebook:cached") == 12
    assert grew("django_db_queries_total") >= 1  # the probe's SELECT 1, at least
    # uWSGI's own figures: every worker idle or busy (its listen queue: the full-queue test, below).
    workers = int(prod.exec("app", "nproc").stdout)
    assert (
        value(after, "uwsgi_workers", state="idle") + value(after, "uwsgi_workers", state="busy") == workers
    )
    assert value(after, "uwsgi_up") == 1
    # The queue's figures are the database's.
    done = int(prod.psql(f"SELECT count(*) FROM {QUEUE_TABLE} WHERE status = 'SUCCESSFUL'"))
    assert (
        value(after, "dockerable_database_up"),
        value(after, "dockerable_tasks", status="SUCCESSFUL"),
    ) == (1, done)
    # The certificate clients get: the environment's own.
    served = x509.load_pem_x509_certificate((prod.folder / "ssl" / "server.crt").read_bytes())
    days = (served.not_valid_after_utc.timestamp() - time.time()) / 86400
    assert value(after, "dockerable_certificate_up") == 1
    assert abs(value(after, "dockerable_certificate_expiry_days") - days) < 0.01
    # Its handshakes close cleanly: uWSGI's router logs nothing about them at each scrape.
    logged = run("docker", "logs", "--since", since, prod.containers("app")[0]).stdout
    assert "hr_ssl" not in logged, logged
    # Published nowhere, and not a page of the site.
    published = json.loads(
        run("docker", "inspect", "-f", "{{json .NetworkSettings.Ports}}", prod.containers("app")[0]).stdout
    )
    assert {port for port, bound in published.items() if bound} == {"443/tcp", "80/tcp"}, published
    assert get(prod, "/metrics").status == 404


def test_request_log_goes_to_stdout_as_json_with_the_request_id_the_answer_carries(prod):
    answer = get(prod, "/healthz?from-the-log-test")
    request_id = answer.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id), request_id  # made by Django: none was sent
    container = prod.containers("app")[0]
    # docker logs keeps the streams apart: .stdout holds only what went to stdout.
    lines = wait_for(
        lambda: request_lines(run("docker", "logs", container).stdout, request_id),
        timeout=10,
        what="the request in the stdout log",
    )
    (line,) = lines
    assert line["logger"] == "uwsgi.request" and line["level"] == "INFO", line
    assert (line["method"], line["path"], line["status"]) == ("GET", "/healthz?from-the-log-test", 200), line
    assert isinstance(line["duration_ms"], int) and line["user_id"] == "-", line
    assert ipaddress.ip_address(line["client"]) and datetime.fromisoformat(line["time"]), line


@pytest.mark.parametrize(
    "request_line",
    [
        b'GET /quote"in-the-path HTTP/1.1',
        b"GET /?back\\slash HTTP/1.1",
        "GET /été HTTP/1.1".encode(),
        b'G"T / HTTP/1.1',
    ],
)
def test_a_request_line_json_would_need_escaped_is_refused_and_logged_as_json(prod, request_line):
    # Nobody writes a field of their own into uWSGI's JSON line: such a request gets 400, logged
    # with "-" for its method and target.
    def refused_lines() -> list[dict]:
        lines = [json.loads(line) for line in prod.logs("app").splitlines() if line.startswith("{")]
        return [line for line in lines if line.get("logger") == "uwsgi.request" and line["path"] == "-"]

    before = len(refused_lines())
    port = urlsplit(prod.url("/")).port
    with ssl_connection("127.0.0.1", port, prod.folder / "ssl" / "server.crt", HOST, 10) as tls:
        tls.sendall(request_line + f"\r\nHost: {HOST}\r\n\r\n".encode())
        assert tls.recv(64).startswith(b"HTTP/1.1 400 "), request_line
    lines = wait_for(
        lambda: refused_lines()[before:] or None, timeout=10, what="uWSGI's line about the refused request"
    )
    assert [(line["method"], line["status"]) for line in lines] == [("-", 400)], lines


def test_deploy_check_passes_with_no_warning_inside_the_container(prod):
    result = prod.exec("app", "/dockerable/cmd.sh", "manage", "check", "--deploy", "--fail-level", "WARNING")
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_no_django_process_runs_as_root(prod):
    # Real uid of every uWSGI process (master, workers, HTTP router) in the container; after a
    # reload (cmd.sh reload) the master runs again as its full path.
    script = (
        'for p in /proc/[0-9]*; do case "$(tr "\\0" "\\n" < "$p/cmdline" | head -n1)" in uwsgi | */uwsgi) '
        "awk '/^Uid:/ {print $2, $3}' \"$p/status\";; esac; done"
    )
    listing = prod.exec("app", "sh", "-c", script).stdout.split("\n")
    uids = {line for line in listing if line}
    assert uids == {"10001 10001"}, uids


def test_migrations_run_once_by_the_migrate_service(prod):
    assert "Applying fixturebook.0001_initial... OK" in prod.logs("migrate")
    assert "Running migrations" not in prod.logs("app")
    assert len(prod.containers("migrate")) == 1


# What the worker's loop logs once when the database fails (its schedules' thread says so apart).
OUTAGE = "the database fails (down"


def test_healthz_is_503_while_the_database_is_down_and_the_worker_waits_it_out(prod):
    outages = prod.logs("worker").count(OUTAGE)
    # A task whose end (its row) falls in the outage: it fails there, and must run again after.
    key, seconds = uuid.uuid4().hex, 8
    task_id = enqueue(prod, get, key, seconds=seconds)
    wait_for_status(prod, task_id, "RUNNING")
    # The task's end by its own start (the database's clock is this kernel's): the outage must cover
    # it whatever the stop or a loaded machine took (a 4 s task once wrote its row before the stop).
    started_at = prod.psql(f"SELECT extract(epoch FROM started_at) FROM {QUEUE_TABLE} WHERE id = '{task_id}'")
    task_ends = float(started_at) + seconds
    prod.compose("stop", "postgres")
    try:
        assert time.time() < task_ends - 1, "postgres took the task's whole run to stop: no outage to test"
        assert get(prod, "/healthz").status == 503
        # Pages that need it say so at once (not a 500 after a hang), and the app stays up.
        started = time.monotonic()
        assert get(prod, "/").status == 503
        assert time.monotonic() - started < 2
        # The worker polls on meanwhile, a few times, and the task reaches its end.
        time.sleep(max(6, task_ends + 1 - time.time()))
    finally:
        prod.compose("start", "postgres")
    wait_for(lambda: get(prod, "/healthz").status == 200, timeout=60, what="/healthz back to 200")
    wait_for(lambda: "the database answers again" in prod.logs("worker"), 30, what="the worker back")
    # One line for the outage, not one a poll; the worker stayed up, and runs tasks again.
    assert prod.logs("worker").count(OUTAGE) == outages + 1
    assert len(wait_for_status(prod, task_id, "SUCCESSFUL")) == 2 and len(runs(prod, key)) == 1
    worker = prod.containers("worker", all_states=False)[0]
    assert run("docker", "inspect", "-f", "{{.State.Health.Status}}", worker).stdout.strip() == "healthy"
    problems = queued_task_problems(prod, get)
    assert not problems, problems


def test_uploads_are_stored_in_the_volume_and_served_as_files_that_never_run(prod, checker_images):  # pylint: disable=unused-argument
    problems = upload_problems(prod, get)
    assert not problems, problems


def test_a_picture_posted_through_a_form_is_served_back_byte_for_byte(prod):
    trusted = ssl.create_default_context(cafile=str(prod.folder / "ssl" / "server.crt"))
    site = SampleSite(f"https://localhost:{prod.env['HTTPS_PORT']}", trusted)
    problems = form_upload_problems(prod, get, site)
    assert not problems, problems


@contextlib.contextmanager
def object_storage(prod, folder: Path):
    """A moto server on the stack's network with a bucket, for the block: yields the `docker compose`
    arguments that run `manage shell -c CODE` in an app container whose secrets.json names it."""
    moto = f"{prod.project}-moto"
    run("docker", "run", "-d", "--rm", "--name", moto, "--network", f"{prod.project}_default",
        "--network-alias", "moto", MOTO_IMAGE)  # fmt: skip
    try:
        make_bucket = (
            "import urllib.request as u; u.urlopen(u.Request('http://localhost:5000/uploads', method='PUT'))"
        )
        wait_for(
            lambda: run("docker", "exec", moto, "python3", "-c", make_bucket, check=False).returncode == 0,
            timeout=60,
            what="the moto server to make the bucket",
        )
        values = json.loads((prod.folder / "secrets.json").read_text())
        values.update(
            MEDIA_S3_BUCKET="uploads",
            MEDIA_S3_ENDPOINT_URL="http://moto:5000",
            MEDIA_S3_REGION="us-east-1",
            MEDIA_S3_ACCESS_KEY_ID="testing",
            MEDIA_S3_SECRET_ACCESS_KEY="testing",
        )
        secrets_file = folder / "secrets.json"
        secrets_file.write_text(json.dumps(values))
        secrets_file.chmod(0o644)
        folder.chmod(0o755)
        yield [
            "run", "--rm", "--no-deps", "-T", "--volume", f"{secrets_file}:/run/s3-secrets.json:ro",
            "-e", "DJANGO_SECRETS_FILE=/run/s3-secrets.json",
            "app", "/dockerable/cmd.sh", "manage", "shell", "-c",
        ]  # fmt: skip
    finally:
        run("docker", "rm", "-f", moto, check=False)


def test_with_a_bucket_in_secrets_json_uploads_go_to_object_storage(prod, tmp_path):
    code = (REPO / "dockerable" / "tests" / "data" / "s3_roundtrip.py").read_text()
    with object_storage(prod, tmp_path) as in_app:
        result = prod.compose(*in_app, code)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["backend"] == "S3MediaStorage", report
    for name, seen in report["files"].items():
        assert seen["first"] != seen["second"] and seen["first"].endswith("_" + name), seen
        link = seen["url"]
        assert link.startswith(f"http://moto:5000/uploads/{seen['first']}?") and "Signature=" in link, link
        assert seen["served"] and not seen["exists after delete"], seen
        assert seen["disposition"] == (None if name == "photo.png" else "attachment"), seen


def test_the_volumes_uploads_move_into_a_bucket_under_their_names(prod, tmp_path):
    # docs/media.md: the volume's files copied, then copied again (only what came since).
    stored = save_uploads(prod)
    count = int(prod.exec("app", "sh", "-c", "find /srv/media -type f | wc -l").stdout)
    names = {name: original for original, pair in stored.items() for name in pair}
    copy = "from dockerable.runtime.media_copy import main; raise SystemExit(main())"
    check = (
        "import json; from django.core.files.storage import storages; s = storages['default']; "
        f"print(json.dumps({{n: [s.open(n).read().hex(), s.bucket.Object(n).content_disposition] "
        f"for n in {sorted(names)!r}}}))"
    )
    with object_storage(prod, tmp_path) as in_app:
        copies = [prod.compose(*in_app, copy).stdout.strip().splitlines()[-1] for _ in range(2)]
        moved = json.loads(prod.compose(*in_app, check).stdout.strip().splitlines()[-1])
    assert copies == [
        f"copied {count} files from /srv/media into the bucket; 0 were there already",
        f"copied 0 files from /srv/media into the bucket; {count} were there already",
    ], copies
    for name, original in names.items():
        expected = [UPLOADS[original].hex(), None if original in INLINE else "attachment"]
        assert moved[name] == expected, (name, moved[name])


def test_data_survives_down_and_up_and_a_new_image(prod):
    sign_fixturebook(prod.url(), prod.folder / "ssl" / "server.crt", HOST, "written-before-down")
    uploaded = save_uploads(prod)["photo.png"][0]
    prod.down(volumes=False)
    prod.up()
    assert "written-before-down" in get(prod, "/").text
    assert get(prod, f"/media/{uploaded}").body == UPLOADS["photo.png"]
    # The second `up` ran the migrate service again, and it found nothing to do.
    assert "No migrations to apply." in prod.logs("migrate")
    # A new release: another image (its /srv/media empty, as every image's is), the same volumes.
    release = f"{TEST_IMAGE}-next"
    dockerfile = f"FROM {TEST_IMAGE}\nLABEL release=next\n"
    run("docker", "build", "--quiet", "--tag", release, "-", input_text=dockerfile)
    try:
        prod.env["DOCKERABLE_IMAGE"] = release
        prod.up()
        image = run("docker", "inspect", "-f", "{{.Config.Image}}", prod.containers("app")[0]).stdout
        assert image.strip() == release
        assert "written-before-down" in get(prod, "/").text
        assert get(prod, f"/media/{uploaded}").body == UPLOADS["photo.png"]
    finally:
        prod.env["DOCKERABLE_IMAGE"] = TEST_IMAGE
        prod.up()
        run("docker", "image", "rm", release, check=False)


def test_replicas_share_one_migration_run(prod):
    prod.down(volumes=True)
    # Replicas cannot all publish the same host ports: drop them for this check.
    with prod.overridden("services:\n  app:\n    ports: !reset []\n", "--scale", "app=3"):
        assert len(prod.containers("app")) == 3
        assert len(prod.containers("migrate")) == 1
        assert prod.logs("migrate").count("Applying fixturebook.0001_initial... OK") == 1
        assert "Running migrations" not in prod.logs("app")


def status_line(stack, path: str) -> str:
    """The first line of the answer to GET `path` on a new connection, or what happened instead."""
    try:
        with ssl_connection(
            "127.0.0.1", int(stack.env["HTTPS_PORT"]), stack.folder / "ssl" / "server.crt", HOST, 60
        ) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
            return sock.recv(4096).split(b"\r\n", 1)[0].decode() or "closed with no answer"
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"


def test_a_full_queue_to_the_workers_makes_requests_wait_and_is_logged(prod):
    with prod.overridden(SMALL_QUEUE), concurrent.futures.ThreadPoolExecutor(20) as pool:
        signal_workers(prod, "SIGSTOP")  # a worker stuck in a slow view
        try:
            answers = [pool.submit(status_line, prod, "/healthz") for _ in range(20)]
            # Longer than the kernel's first retries, which is when a connection could reach the
            # worker ahead of its request.
            time.sleep(7)
            # The exporter (not a worker) answers meanwhile, and sees the requests waiting.
            waiting = value(exported(prod), "uwsgi_listen_queue")
        finally:
            signal_workers(prod, "SIGCONT")
        assert [answer.result() for answer in answers] == ["HTTP/1.1 200 OK"] * 20
        assert waiting > 0
        assert re.search(r"listen queue of socket \S+ \(fd: \d+\) full", prod.logs("app")), prod.logs("app")[
            -2000:
        ]


def uwsgi_request(path: str) -> bytes:
    """A GET for `path` in the uwsgi protocol, as uWSGI's router sends it to the workers."""
    variables = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "REQUEST_URI": path,
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_NAME": HOST,
        "SERVER_PORT": "443",
        "HTTP_HOST": HOST,
        "HTTPS": "on",
        "REMOTE_ADDR": "127.0.0.1",
    }
    body = b"".join(
        len(item).to_bytes(2, "little") + item for pair in variables.items() for item in map(str.encode, pair)
    )
    return b"\0" + len(body).to_bytes(2, "little") + b"\0" + body


def test_the_workers_wait_for_a_request_that_reaches_them_late(prod):
    # When the workers' queue overflows, the kernel retries the router's connection and its
    # request with a growing back-off, and may complete the connection seconds before the
    # request arrives. The worker must wait for it: at uWSGI's default socket-timeout (4 s) it
    # closes such a connection unanswered.
    script = (
        "import socket, time\n"
        f"sock = socket.create_connection(({WORKERS_HOST!r}, {WORKERS_PORT}))\n"
        "time.sleep(15)\n"
        f"sock.sendall({uwsgi_request('/healthz')!r})\n"
        "print(sock.recv(4096).split(b'\\r\\n')[0].decode() or 'closed with no answer')\n"
    )
    assert prod.exec("app", "python", "-c", script).stdout.strip() == "HTTP/1.1 200 OK"


# Python run in the app container as the app user that finds the workers: the master's children
# that hold the listening socket of WORKERS_PORT (the routers do not).
FIND_WORKERS = f"""
import os, signal, time
def sockets(state):
    for line in open('/proc/net/tcp').read().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(':%04X' % {WORKERS_PORT}) and fields[3] == state:
            yield fields
def unread(fields):
    return int(fields[4].split(':')[1], 16)
def queued():
    return unread(next(sockets('0A')))
def workers():
    link = 'socket:[%s]' % next(sockets('0A'))[9]
    found = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        if open('/proc/%s/stat' % pid).read().split(')')[1].split()[1] != '1':
            continue
        if link in (os.readlink('/proc/%s/fd/%s' % (pid, fd)) for fd in os.listdir('/proc/%s/fd' % pid)):
            found.append(int(pid))
    return found
"""
# SIGSTOP the workers, wait for a request in their queue, let one worker take it and kill it
# once it has read the request, then let the others go on.
KILL_A_WORKER_MID_REQUEST = """
stopped = workers()
for pid in stopped:
    os.kill(pid, signal.SIGSTOP)
print('stopped', len(stopped), flush=True)
deadline = time.monotonic() + 20
while not queued() and time.monotonic() < deadline:
    time.sleep(0.001)
os.kill(stopped[0], signal.SIGCONT)
# Once it has read the request (nothing unread on its connection), before it answers.
while (queued() or any(unread(fields) for fields in sockets('01'))) and time.monotonic() < deadline:
    pass
os.kill(stopped[0], signal.SIGKILL)
for pid in stopped[1:]:
    os.kill(pid, signal.SIGCONT)
print('killed', flush=True)
"""


def signal_workers(stack, name: str) -> None:
    """Send signal `name` to the app's uWSGI workers, as their own user."""
    script = f"{FIND_WORKERS}\nfor pid in workers():\n    os.kill(pid, signal.{name})\n"
    stack.exec("app", "python", "-c", script, user="app")


def test_a_worker_killed_mid_request_closes_its_clients_connection_within_seconds(prod):
    # uWSGI's router sends no 502 when a worker dies before answering: it keeps the client's
    # kept-alive connection open for its next request, and closes it after the keep-alive time
    # (5 s), where uWSGI's default held it for http-timeout (75 s).
    command = prod.compose_command(
        "exec", "-T", "--user", "app", "app", "python", "-c", FIND_WORKERS + KILL_A_WORKER_MID_REQUEST
    )
    # The container's health probe may be the request that gets killed (1 in 30 s): then ours is
    # served, and the round is repeated.
    for _ in range(3):
        with subprocess.Popen(command, env=prod.env, stdout=subprocess.PIPE, text=True) as killer:
            assert killer.stdout.readline().startswith("stopped"), "the workers were not stopped"
            start = time.monotonic()
            try:
                status = get(prod, "/", timeout=30).status
            except http.client.RemoteDisconnected:
                status = None
            elapsed = time.monotonic() - start
            assert killer.stdout.readline() == "killed\n"
        if status is None:
            break
    assert status is None and elapsed < 8, (status, elapsed)
    assert "killed by signal 9" in prod.logs("app")
    assert get(prod, "/healthz").status == 200  # the worker is replaced


def test_a_bogus_host_is_one_log_line_not_a_traceback(prod):
    response = request(
        "GET",
        prod.url("/?bogus-host-check"),
        ca_file=prod.folder / "ssl" / "server.crt",
        server_name=HOST,
        headers={"Host": "attacker.example"},
    )
    assert response.status == 400

    def logged():
        text = prod.logs("app")
        return text if "Invalid HTTP_HOST header: 'attacker.example'" in text else None

    log = wait_for(logged, timeout=10, what="the DisallowedHost line in the app's log")
    assert "Traceback" not in log


def test_a_key_that_is_not_the_certificates_is_one_line_naming_both(prod, tmp_path):
    ssl_dir = tmp_path / "ssl"
    ssl_dir.mkdir()
    shutil.copy(prod.folder / "ssl" / "server.crt", ssl_dir / "server.crt")
    (ssl_dir / "server.key").write_bytes(self_signed("another.test")[0])
    result = run(
        "docker", "run", "--rm", "-e", "DJANGO_SETTINGS_MODULE=project.settings.example.settings",
        "-v", f"{prod.folder}:/app/project/settings/example:ro", "-v", f"{ssl_dir}:/ssl:ro",
        TEST_IMAGE, check=False,
    )  # fmt: skip
    assert result.returncode == 64
    assert result.stderr.strip() == (
        "cmd.sh: /ssl/server.key is not the private key of /ssl/server.crt, "
        "or either is not PEM (the environment's ssl/)"
    )


def handshake(port: int, *options: str):
    """`openssl s_client` to 127.0.0.1:port with `options`; the result says whether TLS was agreed."""
    return run(
        "openssl",
        "s_client",
        "-connect",
        f"127.0.0.1:{port}",
        "-servername",
        HOST,
        *options,
        check=False,
        input_text="",
        timeout=30,
    )


def test_tls_offers_only_mozilla_intermediate_ciphers(prod):
    port = int(prod.env["HTTPS_PORT"])
    assert handshake(port, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256").returncode == 0
    # CBC with a SHA-1 MAC, and CBC at all: in HIGH, not in the intermediate profile.
    for cipher in ("ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384"):
        assert handshake(port, "-tls1_2", "-cipher", cipher).returncode != 0, cipher


def test_sslyze_finds_nothing_against_mozilla_intermediate_but_the_sample_certificate(prod, checker_images):  # pylint: disable=unused-argument
    findings = mozilla_intermediate_findings(prod)
    assert set(findings) <= CERTIFICATE_FINDINGS, findings


def test_tls_key_exchange_is_mozilla_intermediates(prod):
    # X25519 first, as nginx offers it in proxy mode; uWSGI 2.0 alone would offer P-256 only.
    port = int(prod.env["HTTPS_PORT"])
    for group in ("X25519", "prime256v1", "secp384r1"):
        assert handshake(port, "-groups", group).returncode == 0, group
    for group in ("X448", "secp521r1"):
        assert handshake(port, "-groups", group).returncode != 0, group
    for old in ("-tls1", "-tls1_1"):
        assert handshake(port, old, "-cipher", "DEFAULT:@SECLEVEL=0").returncode != 0, old


def test_containers_run_with_no_new_privileges(prod):
    for service in ("app", "postgres", "backup"):
        status = prod.exec(service, "grep", "NoNewPrivs", "/proc/1/status").stdout.split()
        assert status == ["NoNewPrivs:", "1"], service


def test_the_apps_tmp_is_a_capped_tmpfs(prod):
    # Request bodies wait there; uncapped, a client announcing a huge one would fill memory.
    mounts = [line.split() for line in prod.exec("app", "cat", "/proc/mounts").stdout.splitlines()]
    tmp = [mount for mount in mounts if mount[1] == "/tmp"]
    assert len(tmp) == 1 and tmp[0][2] == "tmpfs" and "size=524288k" in tmp[0][3].split(","), tmp


def test_sigterm_stops_uwsgi_gracefully(prod):
    prod.compose("stop", "app")
    exit_codes = prod.compose("ps", "-a", "--format", "{{.ExitCode}}", "app").stdout.split()
    assert exit_codes and set(exit_codes) == {"0"}, exit_codes
    assert "goodbye to uWSGI" in prod.logs("app")
