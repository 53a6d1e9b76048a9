"""Bad logins from many clients at once, while wrk measures other pages: the login throttle's measure."""

import contextlib
import http.client
import re
import threading
from collections import Counter
from urllib.parse import urlencode

from dockerable.tests.http_client import tls_context

# As many clients as in the attack the throttle answers (issue 13): 15 bad logins at a time.
CLIENTS = 15
# The connections that load the page meanwhile: ordinary traffic, not a saturating load.
LIGHT_LOAD = 2


def bad_logins(port: int, stop: threading.Event, outcomes: Counter, lock: threading.Lock) -> None:
    """One client: the login form once (its CSRF cookie and token), then wrong passwords until `stop`."""
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=tls_context(), timeout=30)
    headers = {"Host": "localhost"}
    try:
        connection.request("GET", "/admin/login/", headers=headers)
        form_page = connection.getresponse()
        body = form_page.read().decode()
        cookie = re.search(r"csrftoken=([^;]+)", form_page.getheader("Set-Cookie", "")).group(1)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)
        form = urlencode({"csrfmiddlewaretoken": token, "username": "nobody", "password": "wrong guess"})
        headers |= {
            "Cookie": f"csrftoken={cookie}",
            "Origin": "https://localhost",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        while not stop.is_set():
            connection.request("POST", "/admin/login/", body=form, headers=headers)
            response = connection.getresponse()
            response.read()
            with lock:
                outcomes[str(response.status)] += 1
    except (OSError, http.client.HTTPException, AttributeError) as exc:
        with lock:
            outcomes[f"error {type(exc).__name__}"] += 1
    finally:
        connection.close()


@contextlib.contextmanager
def login_flood(port: int, clients: int = CLIENTS):
    """`clients` threads sending bad logins to 127.0.0.1:`port` for the `with` block; yields their
    outcomes so far, {"200": n, "429": n, "error <Exception>": n}."""
    stop, outcomes, lock = threading.Event(), Counter(), threading.Lock()
    threads = [
        threading.Thread(target=bad_logins, args=(port, stop, outcomes, lock), daemon=True)
        for _ in range(clients)
    ]
    for thread in threads:
        thread.start()
    try:
        yield outcomes
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
