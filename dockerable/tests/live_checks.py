"""What the compose stacks' tests check while a stack changes under them: load through its front that
counts every answer, a user signed in through the admin's form, a password-reset token, whether the
database's role takes a password. `get(stack, path, method, **kwargs)` is the module's own request."""

import contextlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

from dockerable.tests.docker_stack import REPO


@contextlib.contextmanager
def load_on(stack, folder: Path, path: str, host: str):
    """Clients requesting `path` over HTTPS as `host`, trusting any certificate, until the block ends
    (swarm_load.py, on this machine); yields a dict that gets its summary."""
    config = {
        "address": "127.0.0.1",
        "port": int(stack.env["HTTPS_PORT"]),
        "host": host,
        "ca": None,
        "path": path,
        "clients": 8,  # half of them keep their connection alive
        "stop": str(folder / "stop"),
        "mark": str(folder / "mark"),
    }
    (folder / "load.json").write_text(json.dumps(config))
    summary: dict = {}
    with subprocess.Popen(
        [sys.executable, str(REPO / "dockerable" / "tests" / "swarm_load.py"), str(folder / "load.json")],
        stdout=subprocess.PIPE,
        text=True,
    ) as load:
        try:
            time.sleep(2)
            yield summary
            time.sleep(2)
        finally:
            (folder / "stop").touch()
        summary.update(json.loads(load.communicate(timeout=60)[0]))


RELOADED = r"reload: done, [1-9]\d* new workers? serving the environment's files as they are now\n"


def reload_app(stack) -> None:
    """`cmd.sh reload` in the running app: it says it reloaded, in one line."""
    said = stack.exec("app", "/dockerable/cmd.sh", "reload").stdout
    assert re.fullmatch(RELOADED, said), said


def create_superuser(stack, user: str, password: str) -> None:
    stack.compose(
        "exec", "-T", "-e", f"DJANGO_SUPERUSER_PASSWORD={password}", "app", "/dockerable/cmd.sh", "manage",
        "createsuperuser", "--noinput", "--username", user, "--email", f"{user}@example.com",
    )  # fmt: skip


def signed_in(get, stack, host: str, user: str, password: str) -> str:
    """The session cookie of `user` signed in through the admin's form, as a browser does."""
    login = get(stack, "/admin/login/")
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
    headers = {
        "Cookie": f"csrftoken={login.cookies['csrftoken']}",
        "Referer": f"https://{host}:{stack.env['HTTPS_PORT']}/admin/login/",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    form = urlencode({"csrfmiddlewaretoken": csrf, "username": user, "password": password, "next": "/admin/"})
    answer = get(stack, "/admin/login/", method="POST", body=form.encode(), headers=headers)
    assert answer.status == 302 and "sessionid" in answer.cookies, (answer.status, answer.text[:300])
    return answer.cookies["sessionid"]


def admin_page_status(get, stack, session: str) -> int:
    """200 while the session is signed in; 302 to the sign-in page once it is not."""
    return get(stack, "/admin/", headers={"Cookie": f"sessionid={session}"}).status


# A new password-reset link's token of `user` (with no token given), or whether the token given is
# still valid, in the running app's Django.
RESET_TOKEN = """
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator as tokens
user = get_user_model().objects.get(username={user!r})
token = {token!r}
print(tokens.check_token(user, token) if token else tokens.make_token(user))
"""


def reset_token(stack, user: str, token: str = "") -> str:
    code = RESET_TOKEN.format(user=user, token=token)
    # The last line: Django's shell may first say what it imported.
    said = stack.exec("app", "/dockerable/cmd.sh", "manage", "shell", "-c", code).stdout
    return said.strip().splitlines()[-1]


def role_takes(stack, password: str) -> bool:
    """Whether PostgreSQL lets the database's role in with `password`: psql in the backup service,
    over the network (PostgreSQL trusts its own 127.0.0.1)."""
    values = json.loads((stack.folder / "secrets.json").read_text())
    tried = stack.compose(
        "exec", "-T", "-e", f"PGPASSWORD={password}", "backup", "psql", "--host=postgres",
        f"--username={values['DB_USER']}", f"--dbname={values['DB_NAME']}", "-c", "", check=False,
    )  # fmt: skip
    return tried.returncode == 0
