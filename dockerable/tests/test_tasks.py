"""Background tasks below the stacks: the same task code on Django 5.2 (the backport) and 6 (django.tasks);
the schedules' settings, due times and exactly-once queueing (on the suite's PostgreSQL). The worker
itself is tested in each mode's stack (test_*_stack.py, test_swarm.py)."""

import concurrent.futures
import datetime
import logging
import subprocess
import sys
import threading
from importlib import import_module

import django
import pytest
from django.contrib.sessions.models import Session
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from dockerable.tasks.models import ScheduledRun
from dockerable.tasks.schedules import Schedule, queue_due, schedules
from dockerable.tests.docker_stack import REPO
from dockerable.tests.fixture.fixturebook.tasks import record_run

PRUNE = "dockerable.tasks.jobs.prune"
RECORD_RUN = "dockerable.tests.fixture.fixturebook.tasks.record_run"

# The fixture app's task on SQLite in memory: queued, then run by django-tasks-db's loop.
SCRIPT = """
import django
from django.conf import settings
settings.configure(
    INSTALLED_APPS=["django.contrib.contenttypes", "django_tasks", "django_tasks_db",
                    "dockerable.tests.fixture.fixturebook"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    TASKS={"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}},
    USE_TZ=True,
)
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django_tasks_db.management.commands.db_worker import Worker
from dockerable.tests.fixture.fixturebook.models import TaskRun
from dockerable.tests.fixture.fixturebook import tasks
from dockerable.tests.fixture.fixturebook.tasks import record_run
result = record_run.enqueue("k")
Worker(queue_names=["*"], interval=0, batch=True, backend_name="default", startup_delay=False,
       max_tasks=None, worker_id="w").run()
result.refresh()
print(tasks.task.__module__, result.status, TaskRun.objects.filter(key="k").count())
"""


def test_the_same_task_code_runs_on_this_django_through_the_database_queue():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # The decorator Django's own on 6 (it makes the backend's Task), the backport's on 5.2.
    framework = "django.tasks.base" if django.VERSION >= (6, 0) else "django_tasks.base"
    assert done.stdout.split() == [framework, "SUCCESSFUL", "1"], done.stdout


# Each mistake in settings.TASK_SCHEDULES, and what the one line says of it.
BAD_SCHEDULES = [
    ([1], "settings.TASK_SCHEDULES is not a dict"),
    ({"nightly": "0 3 * * *"}, "['nightly']: is not a dict"),
    ({"nightly": {"task": PRUNE, "cron": "0 3 * * *", "when": 1}}, "unknown key 'when'"),
    ({"nightly": {"task": PRUNE}}, "give either 'cron' or 'every'"),
    ({"nightly": {"task": PRUNE, "cron": "0 3 * * *", "every": 60}}, "give either 'cron' or 'every'"),
    ({"nightly": {"task": PRUNE, "cron": "0 25 * * *"}}, "'cron' '0 25 * * *' is not a cron expression"),
    ({"nightly": {"task": PRUNE, "every": "60"}}, "'every' '60' is not a whole number of seconds"),
    ({"nightly": {"task": PRUNE, "every": 0}}, "'every' 0 is not a whole number of seconds"),
    ({"nightly": {"task": PRUNE, "every": 60, "grace": -1}}, "'grace' -1 is not a whole number"),
    ({"nightly": {"task": PRUNE, "every": 60, "kwargs": {"at": object()}}}, "'kwargs' is not JSON"),
    ({"nightly": {"task": PRUNE, "every": 60, "kwargs": [1]}}, "'kwargs' is not a dict"),
    ({"nightly": {"task": "project.nothing.here", "every": 60}}, "'task' 'project.nothing.here' cannot be"),
    ({"nightly": {"task": "django.utils.timezone.now", "every": 60}}, "is not a task (decorate it"),
]


@pytest.mark.parametrize(("declared", "said"), BAD_SCHEDULES)
def test_each_mistake_in_a_schedule_is_one_line_naming_the_job_and_key(settings, declared, said):
    settings.TASK_SCHEDULES = declared
    with pytest.raises(ImproperlyConfigured) as raised:
        schedules()
    line = str(raised.value)
    assert said in line and "\n" not in line, line
    # `migrate` (so `up`) runs the system checks: it stops on the same line.
    with pytest.raises(SystemCheckError) as stopped:
        call_command("check")
    assert line in str(stopped.value)


def test_the_shipped_schedules_load():
    assert [schedule.name for schedule in schedules()] == ["prune-task-results"]


@pytest.mark.parametrize(
    ("when", "now", "due"),
    [
        ({"every": 10}, "2026-12-03T07:00:09.999+00:00", "2026-12-03T07:00:00+00:00"),
        ({"every": 10}, "2026-12-03T07:00:10+00:00", "2026-12-03T07:00:10+00:00"),
        ({"cron": "*/5 * * * *"}, "2026-12-03T07:00:00+00:00", "2026-12-03T07:00:00+00:00"),
        ({"cron": "*/5 * * * *"}, "2026-12-03T07:04:59.5+00:00", "2026-12-03T07:00:00+00:00"),
        ({"cron": "17 4 * * *"}, "2026-12-03T04:16:00+00:00", "2026-12-02T04:17:00+00:00"),
    ],
)
def test_the_latest_due_time_counts_now_itself(when, now, due):
    schedule = Schedule("job", PRUNE, **when)
    assert schedule.latest_due(datetime.datetime.fromisoformat(now)) == datetime.datetime.fromisoformat(due)


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_a_due_time_is_queued_once_however_many_workers_look_at_once():
    job = Schedule(
        "tick", "dockerable.tests.fixture.fixturebook.tasks.record_run", every=10, kwargs={"key": "t"}
    )
    now = datetime.datetime(2026, 12, 3, 7, 0, 4, tzinfo=datetime.UTC)
    barrier = threading.Barrier(8)

    def look():
        barrier.wait()
        try:
            return queue_due([job], now)
        finally:
            connection.close()

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        queued = [found for found in pool.map(lambda _: look(), range(8)) if found]
    assert queued == [[("tick", now.replace(second=0))]]
    assert DBTaskResult.objects.count() == 1
    run = ScheduledRun.objects.get()
    assert str(run.task_id) == str(DBTaskResult.objects.get().id)
    # The next due time is a new run; one past its grace is none.
    assert queue_due([job], now + datetime.timedelta(seconds=10)) == [("tick", now.replace(second=10))]
    late = Schedule("late", job.task, every=60, kwargs={"key": "t"}, grace=5)
    assert not queue_due([late], now + datetime.timedelta(seconds=6))


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_a_job_whose_task_fails_to_queue_is_logged_once_and_the_others_still_queue(caplog):
    good = Schedule("good", RECORD_RUN, every=10, kwargs={"key": "g"})
    broken = Schedule("broken", RECORD_RUN, every=10, kwargs={"key": object()})  # refused by enqueue()
    now = datetime.datetime(2026, 12, 3, 7, 0, 4, tzinfo=datetime.UTC)
    failing: set[str] = set()
    with caplog.at_level(logging.INFO, "dockerable.tasks"):
        for later in (0, 10):
            when = now + datetime.timedelta(seconds=later)
            assert queue_due([broken, good], when, failing) == [("good", when.replace(second=later))]
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == [f"schedule broken: its task {RECORD_RUN} fails to queue"]
    assert failing == {"broken"}
    assert sorted(ScheduledRun.objects.values_list("name", flat=True)) == ["good", "good"]


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_a_failed_task_is_listed_in_the_admin_with_its_traceback(admin_client):
    failed = record_run.enqueue(key="never", seconds="soon")  # time.sleep("soon") raises TypeError
    Worker(
        queue_names=["*"], interval=0, batch=True, backend_name="default",
        startup_delay=False, max_tasks=None, worker_id="test",
    ).run()  # fmt: skip
    listed = admin_client.get(
        "/admin/django_tasks_database/dbtaskresult/", {"status__exact": "FAILED"}, secure=True
    ).content.decode()
    assert str(failed.id) in listed and "record_run" in listed
    shown = admin_client.get(
        f"/admin/django_tasks_database/dbtaskresult/{failed.id}/change/", secure=True
    ).content.decode()
    assert "TypeError" in shown and "Traceback (most recent call last)" in shown, shown[-3000:]


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_the_nightly_prune_removes_old_results_and_schedule_rows_and_expired_sessions(settings):
    settings.TASK_RESULTS_KEEP_DAYS = 30
    now = timezone.now()
    old, recent = now - datetime.timedelta(days=31), now - datetime.timedelta(days=29)
    results = {when: record_run.enqueue(f"prune-{when.isoformat()}").id for when in (old, recent)}
    for when, task_id in results.items():
        DBTaskResult.objects.filter(id=task_id).update(status="SUCCESSFUL", started_at=when, finished_at=when)
    waiting = record_run.enqueue("prune-waiting").id  # not finished: kept however old
    DBTaskResult.objects.filter(id=waiting).update(enqueued_at=old)
    ScheduledRun.objects.bulk_create(ScheduledRun(name="nightly", due=when) for when in (old, recent))
    store = import_module(settings.SESSION_ENGINE).SessionStore
    sessions = {}
    for name, expiry in (("expired", -60), ("valid", 3600)):
        session = store()
        session["user"] = name
        session.set_expiry(expiry)
        session.create()
        sessions[name] = session.session_key
    assert import_module(PRUNE.rsplit(".", 1)[0]).prune.call() == 1
    kept = {str(task_id) for task_id in DBTaskResult.objects.values_list("id", flat=True)}
    assert kept >= {results[recent], waiting}
    assert not DBTaskResult.objects.filter(id=results[old]).exists()
    assert list(ScheduledRun.objects.values_list("due", flat=True)) == [recent]
    left = Session.objects.filter(session_key__in=sessions.values()).values_list("session_key", flat=True)
    assert list(left) == [sessions["valid"]]
