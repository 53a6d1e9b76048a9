"""App configuration for the sample guestbook."""

from django.apps import AppConfig


class GuestbookConfig(AppConfig):
    """The guestbook app."""

    name = "project.guestbook"

    def ready(self):
        # Connects tasks.py's signal receiver: a saved image queues its thumbnail.
        from project.guestbook import tasks  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
