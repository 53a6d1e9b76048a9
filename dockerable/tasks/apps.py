"""The template's tasks app: its `worker` management command, and the schedules' table and check."""

from django.apps import AppConfig
from django.core import checks
from django.core.exceptions import ImproperlyConfigured


def check_schedules(app_configs=None, **kwargs) -> list[checks.Error]:  # pylint: disable=unused-argument
    """settings.TASK_SCHEDULES, as the worker reads it: `migrate` (so `up`) stops on a mistake."""
    from dockerable.tasks.schedules import schedules  # pylint: disable=import-outside-toplevel

    try:
        schedules()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="dockerable_tasks.E001")]
    return []


class TasksConfig(AppConfig):
    """Installed by project/settings/base.py."""

    name = "dockerable.tasks"
    label = "dockerable_tasks"
    verbose_name = "Background tasks"

    def ready(self) -> None:
        checks.register(check_schedules)
