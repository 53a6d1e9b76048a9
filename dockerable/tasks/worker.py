"""The worker's loop: django-tasks-db's, plus a lock that says it lives, the recovery of the tasks of
workers that died, the schedules' thread, a heartbeat for the health check and patience through a
database outage."""

import hashlib
import logging
import threading
import time
from pathlib import Path

import psycopg
from django.db import DatabaseError, close_old_connections, connection, connections, transaction
from django_tasks.base import TaskResultStatus
from django_tasks_db.management.commands import db_worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction

from dockerable.tasks.heartbeat import HEARTBEAT, STALE_AFTER
from dockerable.tasks.schedules import queue_due, schedules

logger = logging.getLogger("dockerable.tasks")

# Seconds between two looks for tasks whose worker is gone.
RECOVER_EVERY = 5
# Seconds between two heartbeats (the health check wants one in the last STALE_AFTER).
BEAT_EVERY = 2
# Seconds between two looks at the schedules.
TICK_EVERY = 1


def liveness_key(worker_id: str) -> int:
    """The PostgreSQL advisory lock a worker holds while it lives (64 bits, signed, as PostgreSQL's)."""
    digest = hashlib.sha256(f"dockerable-worker:{worker_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class Liveness:
    """A connection of its own, apart from Django's (which closes at will), holding the worker's lock:
    PostgreSQL lets it go the moment the process dies, however it dies."""

    def __init__(self, worker_id: str):
        self.key = liveness_key(worker_id)
        self.connection = None

    def ensure(self) -> None:
        """Hold the lock, on a new connection if the last one broke (a database restart)."""
        if self.connection is not None:
            try:
                self.connection.execute("SELECT 1")
                return
            except psycopg.Error:
                self.close()
        wrapper = connections["default"]
        raw = wrapper.get_new_connection(wrapper.get_connection_params())
        raw.autocommit = True
        raw.execute("SELECT pg_advisory_lock(%s)", [self.key])
        self.connection = raw

    def close(self) -> None:
        """Let the lock go (a clean exit)."""
        if self.connection is not None:
            try:
                self.connection.close()
            finally:
                self.connection = None


def recover_orphans(own_id: str) -> list[str]:
    """Put back in the queue each task marked running by a worker that no longer holds its lock (killed,
    or its node gone), or by this one, which runs nothing while it looks (a database outage in the
    middle of a task left it so): it runs again, so no task is lost. The ids of the tasks put back."""
    recovered = []
    running = DBTaskResult.objects.running().values_list("id", "worker_ids")
    for task_id, worker_ids in running:
        holder = worker_ids[-1] if worker_ids else ""
        with transaction.atomic(), connections["default"].cursor() as cursor:
            # Free only if its worker is gone; held for this transaction, so that it cannot start again
            # meanwhile (worker ids are never reused, but a slow start must not race the update).
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [liveness_key(holder)])
            if holder != own_id and not cursor.fetchone()[0]:
                continue
            requeued = DBTaskResult.objects.filter(
                id=task_id, status=TaskResultStatus.RUNNING, worker_ids=worker_ids
            ).update(status=TaskResultStatus.READY, started_at=None)
        if requeued:
            recovered.append(str(task_id))
    return recovered


class Worker(db_worker.Worker):
    """One worker process: claims a ready task, runs it, and polls again; recovers orphans between."""

    def __init__(self, **options):
        super().__init__(**options)
        self.liveness = Liveness(self.worker_id)
        self.polled = time.monotonic()
        self.outage_since: float | None = None
        self.recovered_at = 0.0

    def run(self) -> None:
        logger.info("worker %s: running queue(s) %s", self.worker_id, ",".join(self.queue_names))
        threading.Thread(target=self.beat, name="heartbeat", daemon=True).start()
        if found := schedules():
            # A thread of its own: a long task must not hold up a job's due time.
            threading.Thread(target=self.tick, args=(found,), name="schedules", daemon=True).start()
        try:
            while self.running:
                self.polled = time.monotonic()
                ran = self.attempt(self.poll)
                if self.batch and not ran:
                    return
                if self.max_tasks is not None and self._run_tasks >= self.max_tasks:
                    return
                if self.running and not ran:
                    if time.monotonic() - self.recovered_at >= RECOVER_EVERY:
                        self.attempt(self.recover)
                    time.sleep(self.interval)
        finally:
            self.liveness.close()

    def attempt(self, step) -> bool:
        """Run one step of the loop; the database unreachable is logged once per outage, not per poll."""
        try:
            result = step()
        except (DatabaseError, psycopg.Error) as exc:
            close_old_connections()
            self.liveness.close()
            if self.outage_since is None:
                self.outage_since = time.monotonic()
                logger.error(
                    "worker %s: the database fails (down, or not migrated yet), retrying: %s",
                    self.worker_id,
                    exc,
                )
            return False
        if self.outage_since is not None:
            logger.warning(
                "worker %s: the database answers again, after %.0f s",
                self.worker_id,
                time.monotonic() - self.outage_since,
            )
            self.outage_since = None
        return result

    def poll(self) -> bool:
        """Claim the next ready task and run it; False if there was none."""
        self.liveness.ensure()
        close_old_connections()
        tasks = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
        if not self.process_all_queues:
            tasks = tasks.filter(queue_name__in=self.queue_names)
        with exclusive_transaction(tasks.db):
            task_result = tasks.get_locked()
            if task_result is not None:
                task_result.claim(self.worker_id)
        if task_result is None:
            return False
        self.run_task(task_result)
        close_old_connections()
        return True

    def recover(self) -> bool:
        """The tasks of dead workers back to the queue (every RECOVER_EVERY seconds, when idle)."""
        self.recovered_at = time.monotonic()
        self.liveness.ensure()
        for task_id in recover_orphans(self.worker_id):
            logger.warning(
                "worker %s: task %s lost its worker mid-run: queued again", self.worker_id, task_id
            )
        return False

    def beat(self) -> None:
        """Touch the heartbeat file while the loop polls or a task runs (the container's health check)."""
        path = Path(HEARTBEAT)
        while True:
            if self.running_task or time.monotonic() - self.polled < STALE_AFTER:
                path.touch()
            time.sleep(BEAT_EVERY)

    def tick(self, found) -> None:
        """Queue each job when it is due; on its own database connection (this thread's)."""
        outage, failing = False, set()  # failing: the jobs whose task fails to queue, logged once
        while True:
            try:
                close_old_connections()
                queue_due(found, failing=failing)
                outage = False
            except (DatabaseError, psycopg.Error) as exc:
                connection.close()
                if not outage:
                    logger.error(
                        "worker %s: schedules: the database fails, retrying: %s", self.worker_id, exc
                    )
                outage = True
            time.sleep(TICK_EVERY)
