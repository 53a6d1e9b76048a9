"""What the suite checks of background tasks in every mode: a request queues the fixture app's task
(fixturebook/tasks.py: each run to its end writes a row) and the worker service runs it. What ran,
and where, is read from PostgreSQL, never from the app."""

import json
import uuid
from urllib.parse import urlencode

from dockerable.tests.docker_stack import wait_for

# django-tasks-db's queue: one row per task, its status and the workers that claimed it.
QUEUE_TABLE = "django_tasks_database_dbtaskresult"


def enqueue(stack, get, key: str, seconds: float = 0) -> str:
    """Queue record_run(key, seconds) through the app's URL, as a request; the task's id.
    `get(stack, path, method=, body=, headers=)` is the test module's way to reach the app."""
    response = get(
        stack,
        "/tasks/enqueue",
        method="POST",
        body=urlencode({"key": key, "seconds": seconds}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status == 200, (response.status, response.text[:500])
    return response.text.strip()


def runs(stack, key: str) -> list[str]:
    """The containers (hostnames) that ran record_run(key) to its end, one per run."""
    return stack.psql(f"SELECT worker FROM fixturebook_taskrun WHERE key = '{key}' ORDER BY id").split()


def task(stack, task_id: str) -> tuple[str, list[str]]:
    """A queued task's status and the ids of the workers that claimed it, in order."""
    status, _, worker_ids = (
        stack.psql(f"SELECT status, worker_ids FROM {QUEUE_TABLE} WHERE id = '{task_id}'")
        .strip()
        .partition("|")
    )
    return status, json.loads(worker_ids or "[]")


def wait_for_status(stack, task_id: str, status: str, timeout: float = 60) -> list[str]:
    """Wait until the task has `status`; the workers that claimed it."""
    wait_for(lambda: task(stack, task_id)[0] == status, timeout, 0.2, f"task {task_id} to be {status}")
    return task(stack, task_id)[1]


def queued_task_problems(stack, get) -> list[str]:
    """A task queued by a request runs once, to its end, on a worker: the one process that claimed it
    (the app claims none; a worker's id starts with its container's hostname)."""
    key = uuid.uuid4().hex
    return ran_once_on_a_worker(stack, key, enqueue(stack, get, key))


def ran_once_on_a_worker(stack, key: str, task_id: str) -> list[str]:
    """What is wrong with how task `task_id`, record_run(key), ran: nothing if once, by its one claimer."""
    claimed = wait_for_status(stack, task_id, "SUCCESSFUL", timeout=60)
    ran = runs(stack, key)
    if len(claimed) != 1 or len(ran) != 1 or not claimed[0].startswith(f"{ran[0][:40]}-"):
        return [f"claimed by {claimed}, ran on {ran}: not once, on the worker that claimed it"]
    return []


def each_ran_once(stack, keys: list[str]) -> dict:
    """Once the queue is empty: the keys of record_run's tasks that did not run exactly once, and
    how many times each did."""
    wait_for(
        lambda: stack.psql(f"SELECT count(*) FROM {QUEUE_TABLE} WHERE status <> 'SUCCESSFUL'") == "0\n",
        timeout=60,
        what="the queue drained",
    )
    listed = "', '".join(keys)
    counted = stack.psql(
        f"SELECT key, count(*) FROM fixturebook_taskrun WHERE key IN ('{listed}') GROUP BY key"
    )
    runs = {key: int(count) for key, count in (line.split("|") for line in counted.split())}
    return {key: runs.get(key, 0) for key in keys if runs.get(key, 0) != 1}


def tick_runs(stack, started: str, ended: str) -> list[tuple[int, int, str]]:
    """The `tick` job's due times between two instants: (epoch seconds, claims, status) each."""
    rows = stack.psql(
        "SELECT extract(epoch FROM due)::int, jsonb_array_length(worker_ids), status "
        f"FROM dockerable_tasks_scheduledrun JOIN {QUEUE_TABLE} ON {QUEUE_TABLE}.id = task_id "
        f"WHERE name = 'tick' AND due > '{started}' AND due < '{ended}' ORDER BY due"
    ).split()
    return [(int(due), int(claims), status) for due, claims, status in (row.split("|") for row in rows)]
