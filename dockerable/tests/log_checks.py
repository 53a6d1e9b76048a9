"""What the suite checks of the services' logs outside development mode: each line about a request
is one JSON object (Django's, uWSGI's and nginx's alike), joined by the request's id, and no service
reports an error while nothing goes wrong."""

import datetime
import json
import re
import time

from dockerable.tests.docker_stack import run

# PostgreSQL's ERROR, FATAL and PANIC, nginx's [error] and above, and any other plain line saying so.
PLAIN_ERROR = re.compile(r"\b(ERROR|FATAL|PANIC)\b|\[(error|crit|alert|emerg)\]|\berror\b")

# What PostgreSQL answers, as FATAL, to a connection while its entrypoint's first start runs: its
# own state, not an error.
SERVER_STATES = ("the database system is starting up", "the database system is shutting down")
# How long a stack is left idle before its logs are read for errors: every health check, the
# schedules' thread, certbot's loop and Prometheus's scrapes have run many times by then.
IDLE_SECONDS = 120


def request_lines(text: str, request_id: str) -> list[dict]:
    """Every line of `text` that names `request_id`, each parsed as JSON; a line that is not JSON
    fails the test, naming it."""
    parsed = []
    for line in text.splitlines():
        if request_id not in line:
            continue
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise AssertionError(f"not a JSON object ({error}): {line}") from None
    return parsed


def by_logger(lines: list[dict]) -> dict[str, list[dict]]:
    """The lines grouped by their `logger` field (nginx.access, uwsgi.request, django.request...)."""
    grouped: dict[str, list[dict]] = {}
    for line in lines:
        grouped.setdefault(line.get("logger", ""), []).append(line)
    return grouped


def error_lines(stack, since: str = "") -> list[str]:
    """Every line of the stack's services that reports an error ("service: line"), since a time if
    given, after checking that each running container's last health check passed (one-off jobs,
    exited, have none to run)."""
    for container in stack.containers(all_states=False):
        health = json.loads(run("docker", "inspect", "-f", "{{json .State.Health}}", container).stdout)
        assert health is None or health["Log"][-1]["ExitCode"] == 0, (container, health)
    return errors_in({service: stack.logs(service, since) for service in stack.services()})


def errors_in(logs: dict[str, str]) -> list[str]:
    """The lines of each service's log (by name) that report an error, as "service: line"."""
    problems = []
    for service, text in logs.items():
        for line in text.splitlines():
            if line.startswith("{"):
                bad = json.loads(line).get("level") in ("ERROR", "CRITICAL")
            else:
                bad = PLAIN_ERROR.search(line) and not any(state in line for state in SERVER_STATES)
            if bad:
                problems.append(f"{service}: {line}")
    return problems


def left_idle(stack) -> str:
    """Until the stack's newest running container has run IDLE_SECONDS; when it started (the
    idle time's start, for `docker compose logs --since`)."""
    started = run("docker", "inspect", "-f", "{{.State.StartedAt}}", *stack.containers(all_states=False))
    newest = max(started_at(line) for line in started.stdout.split())
    idle_from(newest)
    return f"{newest:.0f}"


def idle_from(start: float) -> None:
    """Until IDLE_SECONDS after `start` (seconds since the epoch)."""
    time.sleep(max(0.0, start + IDLE_SECONDS - time.time()))


def started_at(value: str) -> float:
    """A time as Docker writes it (RFC 3339, nanoseconds, Z) as seconds since the epoch."""
    seconds, _, fraction = value.rstrip("Z").partition(".")
    moment = datetime.datetime.fromisoformat(seconds).replace(tzinfo=datetime.UTC)
    return moment.timestamp() + float(f"0.{fraction or 0}")
