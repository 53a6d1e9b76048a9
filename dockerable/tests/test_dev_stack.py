"""Development mode on real Docker: runserver over the bind-mounted checkout, and host-side runserver."""

import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from dockerable.testing import SampleSite
from dockerable.tests.checkers import admin_problems_under_csp
from dockerable.tests.conftest import unique_project
from dockerable.tests.docker_stack import Stack, free_port, run, wait_for
from dockerable.tests.http_client import request
from dockerable.tests.log_checks import error_lines, left_idle
from dockerable.tests.media_checks import form_upload_problems, upload_problems
from dockerable.tests.security_headers import listed
from dockerable.tests.task_checks import enqueue, queued_task_problems, runs, wait_for_status

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def dev(test_image, checkout):  # pylint: disable=unused-argument
    """The example environment's development stack, up with one command from a private copy."""
    # The helpers the image needs live in /dockerable, outside the /app bind mount:
    # removing them from the mounted checkout proves the mount hides nothing needed.
    for helper in ("cmd.sh", "healthcheck.py", "uwsgi.ini"):
        (checkout / "dockerable" / helper).unlink()
    shutil.rmtree(checkout / "dockerable" / "start")
    stack = Stack(
        checkout / "project" / "settings" / "example" / "docker-compose-dev.yml",
        unique_project("dd-dev"),
        DEV_PORT=free_port(),
        DB_PORT=free_port(),
        MAIL_PORT=free_port(),
    )
    with stack.running():
        yield stack


NEW_PASSWORD = "a-new-password-9c1f"


def get(stack, path, method="GET", **kwargs):
    """GET (or `method`) from runserver on its published port."""
    return request(method, stack.url(path, "DEV_PORT"), server_name="localhost", **kwargs)


def test_no_service_logs_an_error_in_two_idle_minutes(dev):
    # First in the module, before any test makes something fail on purpose; plain text here.
    problems = error_lines(dev, since=left_idle(dev))
    assert not problems, "\n".join(problems)


def test_root_and_healthz_answer_200(dev):
    assert get(dev, "/healthz").status == 200
    page = get(dev, "/")
    assert page.status == 200 and "Dockerable Django" in page.text


def test_a_task_queued_by_a_request_runs_on_the_worker(dev):
    problems = queued_task_problems(dev, get)
    assert not problems, problems


# What Django's autoreloader (runserver's and the worker's) logs as it restarts its process.
RELOADING = "tasks.py changed, reloading."


def test_the_worker_runs_a_task_as_its_code_is_saved(dev, checkout):
    # The worker process has the module loaded: a new one would read the edited file anyway.
    assert not queued_task_problems(dev, get)
    tasks = checkout / "project" / "fixturebook" / "tasks.py"
    kept = tasks.read_text()
    edited = kept.replace("worker = socket.gethostname()", 'worker = "edited-" + socket.gethostname()')
    reloads = {service: dev.logs(service).count(RELOADING) for service in ("app", "worker")}
    tasks.write_text(edited)
    try:
        # Each reloader looks at the files every second, then starts a new process: the worker's,
        # and runserver's, which resets the connections it holds meanwhile (a busy machine takes
        # seconds). Both restarted, and runserver answering again, before the request.
        for service, before in reloads.items():
            wait_for(
                lambda service=service, before=before: dev.logs(service).count(RELOADING) > before,
                timeout=30,
                what=f"the {service} service to reload",
            )
        wait_for(lambda: get(dev, "/healthz").status == 200, timeout=60, what="runserver back after the edit")
        key = uuid.uuid4().hex
        wait_for_status(dev, enqueue(dev, get, key), "SUCCESSFUL", timeout=30)
        assert runs(dev, key)[0].startswith("edited-"), runs(dev, key)
    finally:
        tasks.write_text(kept)
        # runserver reloads on the same files: the next tests need it answering again.
        time.sleep(3)
        wait_for(lambda: get(dev, "/healthz").status == 200, timeout=60, what="runserver back after the edit")


def manage_shell(stack, code: str) -> str:
    """Python in the app container's Django shell: what it printed."""
    return stack.exec("app", "/dockerable/cmd.sh", "manage", "shell", "-c", code).stdout


def test_a_password_reset_mails_a_link_through_the_queue_that_sets_a_new_password(dev):
    address = f"{uuid.uuid4().hex[:8]}@example.com"
    users = "from django.contrib.auth.models import User; "
    manage_shell(dev, f"{users}User.objects.create_user({address!r}, {address!r}, 'an-old-password-9c1f')")
    site = SampleSite(dev.url("", "DEV_PORT").replace("127.0.0.1", "localhost"))
    status, _ = site.post_form("/accounts/password_reset/", {"email": address}, {})
    assert status == 200
    # The mail went through the queue to development mode's mail catcher; its REST API has it.
    mails = f"http://127.0.0.1:{dev.env['MAIL_PORT']}/email"

    def sent():
        listed = json.loads(request("GET", mails).text)
        return [mail for mail in listed if mail["to"][0]["address"] == address]

    mail = wait_for(sent, timeout=30, what="the mail in MailDev")[0]
    link = re.search(r"http://localhost:\d+(/accounts/reset/\S+/)", mail["text"]).group(1)
    status, page = site(link)  # the token goes into the session, and the form comes back
    assert status == 200 and "new_password1" in page, page[:500]
    uid = link.split("/")[3]
    fields = {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    status, page = site.post_form(f"/accounts/reset/{uid}/set-password/", fields, {})
    assert status == 200 and "Password reset complete" in page, page[:500]
    checked = manage_shell(
        dev, f"{users}print(User.objects.get(username={address!r}).check_password({NEW_PASSWORD!r}))"
    )
    assert checked.split()[-1] == "True", checked  # after the shell's own line about its imports


def test_debug_is_on_in_development_mode(dev):
    missing = get(dev, "/no-such-page/")
    assert missing.status == 404
    assert "Using the URLconf defined in" in missing.text  # Django's DEBUG 404 page


def test_a_reload_is_refused_in_one_line_where_runserver_serves(dev):
    refused = dev.exec("app", "/dockerable/cmd.sh", "reload", check=False)
    assert (refused.returncode, refused.stderr) == (
        64,
        "cmd.sh: ENV=DEV: runserver reads the environment's files when it starts: restart the app\n",
    )


def test_the_policy_is_production_modes_reported_only_and_the_admin_works_under_it_in_a_browser(
    dev,
    checker_images,  # pylint: disable=unused-argument
):
    page = get(dev, "/")
    # What production enforces (the list the servers send is the site's policy), reported only.
    assert page.headers["content-security-policy-report-only"] == listed()["Content-Security-Policy"]
    assert "content-security-policy" not in page.headers
    admin = get(dev, "/admin/login/")
    assert "script-src 'self' 'unsafe-inline'" in admin.headers["content-security-policy-report-only"]
    # A real browser: the admin's inline script runs under its path's policy with nothing reported,
    # and an image from another origin on the public page is reported.
    problems = admin_problems_under_csp(dev, "DEV_PORT")
    assert not problems, problems


def test_uploads_and_a_picture_posted_through_a_form_are_served_as_in_production(
    dev,
    checker_images,  # pylint: disable=unused-argument
):
    # runserver serves them (project/urls.py), with the headers uWSGI and nginx give them.
    problems = upload_problems(dev, get, "DEV_PORT")
    problems += form_upload_problems(dev, get, SampleSite(f"http://localhost:{dev.env['DEV_PORT']}"))
    assert not problems, problems


def test_a_python_change_is_served_without_a_restart(dev):
    container = dev.containers("app")[0]
    started = run("docker", "inspect", "-f", "{{.State.StartedAt}}", container).stdout
    urls = dev.folder.parents[1] / "urls.py"
    urls.write_text(
        urls.read_text()
        + (
            "\nfrom django.http import HttpResponse  # noqa: E402\n"
            "urlpatterns.append(path('live-edit/', lambda request: HttpResponse('edited-live')))\n"
        )
    )
    wait_for(
        lambda: get(dev, "/live-edit/").text == "edited-live",
        timeout=30,
        what="runserver to serve the edited urls.py",
    )
    assert run("docker", "inspect", "-f", "{{.State.StartedAt}}", container).stdout == started


def test_concurrent_clients_leave_no_database_connections_behind(dev):
    # runserver serves each connection on a thread of its own; with persistent
    # connections every finished thread left one open (90 requests: 67 left).
    # runserver's own: the worker's connections (it holds two) come from another container.
    app = dev.containers("app", all_states=False)[0]
    address = run("docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", app)

    def open_connections() -> int:
        return int(
            dev.psql(
                "SELECT count(*) FROM pg_stat_activity "
                f"WHERE usename = current_user AND client_addr = '{address.stdout.strip()}'"
            )
        )

    with concurrent.futures.ThreadPoolExecutor(30) as pool:
        statuses = list(pool.map(lambda _: get(dev, "/healthz").status, range(90)))
    assert statuses == [200] * 90
    assert wait_for(lambda: open_connections() <= 2, timeout=10, what="runserver's connections to close")


def test_runserver_on_the_host_uses_the_stacks_database(dev):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(ENV="DEV", DB_HOST="127.0.0.1", DB_PORT=dev.env["DB_PORT"])
    server = subprocess.Popen(  # pylint: disable=consider-using-with
        [
            sys.executable,
            "manage.py",
            "runserver",
            f"127.0.0.1:{port}",
            "--noreload",
            "--settings=project.settings.example.settings",
        ],
        cwd=dev.folder.parents[2],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        response = wait_for(
            lambda: request("GET", f"http://127.0.0.1:{port}/healthz"), timeout=30, what="host runserver"
        )
        assert response.status == 200, response.text
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_compose_watch_rebuilds_what_the_mount_cannot_bring(dev):
    config = json.loads(dev.compose("config", "--format", "json").stdout)
    watched = {
        Path(rule["path"]).name: rule["action"] for rule in config["services"]["app"]["develop"]["watch"]
    }
    assert watched == {"requirements.txt": "rebuild", "Dockerfile": "rebuild"}
