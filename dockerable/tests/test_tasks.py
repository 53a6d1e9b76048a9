"""Background tasks without Docker: the same task code on Django 5.2 (the backport, django_tasks) and
on Django 6 (django.tasks), queued and run through the database backend. The worker itself, on real
PostgreSQL, is tested in each mode's stack (test_*_stack.py, test_swarm.py)."""

import subprocess
import sys

import django

from dockerable.tests.docker_stack import REPO

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
