"""The template's own scheduled job (project/settings/base.py's TASK_SCHEDULES): old rows pruned."""

import datetime

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
    """Finished tasks (done or failed) and schedule rows older than TASK_RESULTS_KEEP_DAYS go; idempotent."""
    days = settings.TASK_RESULTS_KEEP_DAYS
    call_command("prune_db_task_results", queue_name="*", min_age_days=days, verbosity=0)
    deleted, _ = ScheduledRun.objects.filter(due__lt=timezone.now() - datetime.timedelta(days=days)).delete()
    return deleted
