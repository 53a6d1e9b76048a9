"""Uploads in a running stack: stored by the app in its `media` volume, then fetched as a visitor
would, through whichever server the mode puts in front (uWSGI or nginx)."""

import base64
import json
import uuid

from dockerable.testing import SampleSite
from dockerable.tests.checkers import opened_in_browser
from dockerable.tests.docker_stack import REPO

# A page and a drawing that each run a script if a browser lets them (the title says so), and an
# image that a page may show inline (1x1 transparent PNG).
UPLOADS = {
    "page.html": b"<!doctype html><title>not run</title><script>document.title='ran'</script>",
    "drawing.svg": (
        b'<svg xmlns="http://www.w3.org/2000/svg"><title>not run</title>'
        b"<script>document.title='ran'</script></svg>"
    ),
    "photo.png": base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
    ),
}
INLINE = {"photo.png"}
# What a file of the image must never reach: /app/manage.py, from /srv/media. (Development mode's
# error page names settings: the file's whole text is what must not come back.)
MANAGE_PY = (REPO / "manage.py").read_bytes()
ESCAPES = [
    "/media/../../app/manage.py",
    "/media/..%2f..%2fapp/manage.py",
    "/media/%2e%2e/%2e%2e/app/manage.py",
]


def save_uploads(stack) -> dict[str, str]:
    """Store each of UPLOADS twice through the app's default storage: {file name: [stored names]}."""
    encoded = json.dumps({name: base64.b64encode(content).decode() for name, content in UPLOADS.items()})
    code = (
        "import base64, json; from django.core.files.base import ContentFile; "
        "from django.core.files.storage import default_storage as s; "
        f"files = json.loads({json.dumps(encoded)}); "
        "print(json.dumps({n: [s.save(n, ContentFile(base64.b64decode(b))) for _ in range(2)] "
        "for n, b in files.items()}))"
    )
    result = stack.exec("app", "/dockerable/cmd.sh", "manage", "shell", "-c", code)
    return json.loads(result.stdout.strip().splitlines()[-1])


def served_problems(stack, get, name: str, stored: str) -> list[str]:
    """What is wrong with upload `name`, stored as `stored`: its file in the volume, its answer."""
    problems = []
    owner = stack.exec("app", "stat", "-c", "%u %a", f"/srv/media/{stored}").stdout.split()
    if owner != ["10001", "644"]:
        problems.append(f"{stored} is owned and moded {owner} in the volume, not the app user's 644")
    answer = get(stack, f"/media/{stored}")
    headers = {key.lower(): value for key, value in answer.header_lines}
    if answer.status != 200 or answer.body != UPLOADS[name]:
        problems.append(f"/media/{stored}: {answer.status}, not the file")
    policies = [value for key, value in answer.header_lines if key.lower() == "content-security-policy"]
    if not any("sandbox" in policy and "default-src 'none'" in policy for policy in policies):
        problems.append(f"/media/{stored}: no sandboxing policy among {policies}")
    disposition = headers.get("content-disposition")
    if (disposition is None) != (name in INLINE) or disposition not in (None, "attachment"):
        problems.append(f"/media/{stored}: Content-Disposition {disposition!r}")
    if headers.get("x-content-type-options") != "nosniff":
        problems.append(f"/media/{stored}: no nosniff")
    if "immutable" not in headers.get("cache-control", ""):
        problems.append(f"/media/{stored}: Cache-Control {headers.get('cache-control')!r}")
    return problems


def form_upload_problems(stack, get, site: SampleSite) -> list[str]:
    """What is wrong with a picture posted through the fixture app's form by `site` (a browser at
    the stack), then served back as a visitor's `get(stack, path)` fetches it: [] when nothing is."""
    text = f"a picture {uuid.uuid4().hex}"
    status, _ = site.post_form("/", {"text": text}, {"picture": ("photo.png", UPLOADS["photo.png"])})
    status, page = site("/") if status == 200 else (status, "")
    entry = next((item for item in page.split("<li") if text in item), "")
    source = entry.partition('<img src="/media/')[2].partition('"')[0]
    if status != 200 or not source:
        return [f"the form at / answered {status}; no picture in the entry {entry!r}"]
    return served_problems(stack, get, "photo.png", source)


def upload_problems(stack, get, port: str = "HTTPS_PORT") -> list[str]:
    """What is wrong with how `stack` stores and serves uploads (`get(stack, path)` fetches as a
    visitor, at its `port`): [] when nothing is."""
    problems = []
    stored = save_uploads(stack)
    for name, (first, second) in stored.items():
        if first == second or not first.endswith("_" + name):
            problems.append(f"{name} stored as {first} then {second}: not a new name ending in the file's")
        problems += served_problems(stack, get, name, first)
    for path in ["/media/", "/media/no-such-file.png"]:
        answer = get(stack, path)
        cache = answer.headers.get("cache-control", "")
        if answer.status != 404 or "immutable" in cache:
            problems.append(f"{path}: {answer.status} with Cache-Control {cache!r}")
    for path in ESCAPES:
        answer = get(stack, path)
        if answer.status == 200 or MANAGE_PY in answer.body:
            problems.append(f"{path}: {answer.status}, a file outside the media folder")
    for seen in opened_in_browser(stack, [f"/media/{stored[name][0]}" for name in UPLOADS], port):
        if seen["ran"]:
            problems.append(f"{seen['url']}: its script ran in the browser")
    return problems
