"""What the suite checks of the services' logs outside development mode: each line about a request
is one JSON object (Django's, uWSGI's and nginx's alike), joined by the request's id, and no service
reports an error while nothing goes wrong."""

import json
import re

from dockerable.tests.docker_stack import run

# PostgreSQL's ERROR, FATAL and PANIC, nginx's [error] and above, and any other plain line saying so.
PLAIN_ERROR = re.compile(r"\b(ERROR|FATAL|PANIC)\b|\[(error|crit|alert|emerg)\]|\berror\b")

# What PostgreSQL answers, as FATAL, to a connection while its entrypoint's first start runs: its
# own state, not an error.
SERVER_STATES = ("the database system is starting up", "the database system is shutting down")


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


def error_lines(stack) -> list[str]:
    """Every line of the stack's services that reports an error ("service: line"), after checking
    that each running container's last health check passed (one-off jobs, exited, have none to run)."""
    for container in stack.containers(all_states=False):
        health = json.loads(run("docker", "inspect", "-f", "{{json .State.Health}}", container).stdout)
        assert health is None or health["Log"][-1]["ExitCode"] == 0, (container, health)
    problems = []
    for service in stack.services():
        for line in stack.logs(service).splitlines():
            if line.startswith("{"):
                bad = json.loads(line).get("level") in ("ERROR", "CRITICAL")
            else:
                bad = PLAIN_ERROR.search(line) and not any(state in line for state in SERVER_STATES)
            if bad:
                problems.append(f"{service}: {line}")
    return problems
