"""Jobs on a schedule (settings.TASK_SCHEDULES), each queued exactly once per due time however many
workers look: a due time is a row under a unique (name, due) constraint, inserted in the transaction
that queues the task, so that one worker wins and the others find it there (docs/tasks.md)."""

import datetime
import json
import logging
from dataclasses import dataclass, field

import psycopg
from cronsim import CronSim, CronSimError
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger("dockerable.tasks")

# Seconds after its due time that a job is still queued (a deploy, a restart, every worker busy);
# only the latest due time is ever queued, so a long outage means one run, not a burst.
DEFAULT_GRACE = 300
KEYS = {"task", "cron", "every", "kwargs", "grace"}


@dataclass(frozen=True)
class Schedule:
    """One job: its task's dotted path, when (a cron expression in UTC, or every N seconds), its kwargs."""

    name: str
    task: str
    cron: str | None = None
    every: int | None = None
    kwargs: dict = field(default_factory=dict)
    grace: int = DEFAULT_GRACE

    def latest_due(self, now: datetime.datetime) -> datetime.datetime:
        """The last due time at or before `now`."""
        if self.every:
            epoch = int(now.timestamp()) // self.every * self.every
            return datetime.datetime.fromtimestamp(epoch, datetime.UTC)
        # CronSim's reverse iteration starts before its time, not at it: `now` itself may be due.
        return next(CronSim(self.cron, now + datetime.timedelta(microseconds=1), reverse=True))


def _fault(name, message: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"settings.TASK_SCHEDULES[{name!r}]: {message}")


def _schedule(name, spec) -> Schedule:
    """One entry, checked; ImproperlyConfigured with one line naming the entry and key at fault."""
    if not isinstance(spec, dict):
        raise _fault(name, "is not a dict")
    if unknown := sorted(set(spec) - KEYS):
        raise _fault(name, f"unknown key {unknown[0]!r} (use {', '.join(sorted(KEYS))})")
    if ("cron" in spec) == ("every" in spec):
        raise _fault(name, "give either 'cron' or 'every', not both or neither")
    if "cron" in spec:
        try:
            CronSim(str(spec["cron"]), timezone.now())
        except CronSimError as exc:
            raise _fault(name, f"'cron' {spec['cron']!r} is not a cron expression: {exc}") from None
    every = spec.get("every")
    if every is not None and (not isinstance(every, int) or isinstance(every, bool) or every < 1):
        raise _fault(name, f"'every' {every!r} is not a whole number of seconds above 0")
    grace = spec.get("grace", DEFAULT_GRACE)
    if not isinstance(grace, int) or isinstance(grace, bool) or grace < 1:
        raise _fault(name, f"'grace' {grace!r} is not a whole number of seconds above 0")
    kwargs = spec.get("kwargs", {})
    try:
        json.dumps(kwargs)
    except TypeError:
        raise _fault(name, "'kwargs' is not JSON (a task's arguments are stored as JSON)") from None
    if not isinstance(kwargs, dict):
        raise _fault(name, "'kwargs' is not a dict")
    try:
        task = import_string(str(spec.get("task", "")))
    except ImportError as exc:
        raise _fault(name, f"'task' {spec.get('task')!r} cannot be imported: {exc}") from None
    if not callable(getattr(task, "enqueue", None)):
        raise _fault(name, f"'task' {spec['task']!r} is not a task (decorate it with @task())")
    return Schedule(name, spec["task"], spec.get("cron"), every, kwargs, grace)


def schedules() -> list[Schedule]:
    """settings.TASK_SCHEDULES, each entry checked (the first fault raises ImproperlyConfigured)."""
    declared = getattr(settings, "TASK_SCHEDULES", {})
    if not isinstance(declared, dict):
        raise ImproperlyConfigured("settings.TASK_SCHEDULES is not a dict of {name: schedule}")
    return [_schedule(name, spec) for name, spec in declared.items()]


def queue_due(
    found: list[Schedule], now: datetime.datetime | None = None, failing: set[str] | None = None
) -> list[tuple[str, datetime.datetime]]:
    """Queue each job whose latest due time is within its grace and not queued yet; what was queued,
    (name, due time) pairs. A job whose task fails to queue is logged (once while it fails, the
    names in `failing`) and the others go on; a database error stops the round (the caller's)."""
    now = now or timezone.now()
    failing = set() if failing is None else failing
    queued = []
    for schedule in found:
        try:
            due = _queue(schedule, now)
        except (DatabaseError, psycopg.Error):
            raise
        except Exception:  # pylint: disable=broad-exception-caught
            # A task that no longer queues (renamed, its arguments refused) must not stop the others.
            if schedule.name not in failing:
                logger.exception("schedule %s: its task %s fails to queue", schedule.name, schedule.task)
            failing.add(schedule.name)
            continue
        failing.discard(schedule.name)
        if due is not None:
            queued.append((schedule.name, due))
    return queued


def _queue(schedule: Schedule, now: datetime.datetime) -> datetime.datetime | None:
    """The job's latest due time if this call queued it; None if not due, too late, or queued already."""
    due = schedule.latest_due(now)
    if (now - due).total_seconds() > schedule.grace:
        return None
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO dockerable_tasks_scheduledrun (name, due, created) VALUES (%s, %s, now()) "
            "ON CONFLICT (name, due) DO NOTHING RETURNING id",
            [schedule.name, due],
        )
        row = cursor.fetchone()
        if row is None:
            return None
        result = import_string(schedule.task).enqueue(**schedule.kwargs)
        cursor.execute(
            "UPDATE dockerable_tasks_scheduledrun SET task_id = %s WHERE id = %s",
            [str(result.id), row[0]],
        )
    logger.info("schedule %s: task %s queued for %s", schedule.name, result.id, due.isoformat())
    return due
