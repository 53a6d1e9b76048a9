"""The template's tasks app: its `worker` management command."""

from django.apps import AppConfig


class TasksConfig(AppConfig):
    """Installed by project/settings/base.py."""

    name = "dockerable.tasks"
    label = "dockerable_tasks"
    verbose_name = "Background tasks"
