"""The template's own scheduled job (project/settings/base.py's TASK_SCHEDULES): old rows pruned."""

import contextlib
import datetime
from importlib import import_module

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

try:
    from django.tasks import task
except ImportError:  # Django 5.2: the framework's backport
    from django_tasks import task

from dockerable.tasks.models import ScheduledRun


@task()
def prune() -> int:
    """Finished tasks (done or failed) and schedule rows older than TASK_RESULTS_KEEP_DAYS go, and
    expired sessions; idempotent. The schedule rows deleted."""
    days = settings.TASK_RESULTS_KEEP_DAYS
    call_command("prune_db_task_results", queue_name="*", min_age_days=days, verbosity=0)
    deleted, _ = ScheduledRun.objects.filter(due__lt=timezone.now() - datetime.timedelta(days=days)).delete()
    clear_expired_sessions()
    return deleted


def clear_expired_sessions() -> None:
    """What `manage.py clearsessions` does: Django never deletes an expired session by itself, so the
    session table would grow for as long as the site runs. Nothing to do for a session engine that
    stores nothing (signed cookies)."""
    if not apps.is_installed("django.contrib.sessions"):
        return
    with contextlib.suppress(NotImplementedError):
        import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
