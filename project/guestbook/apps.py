"""App configuration for the sample guestbook."""

from django.apps import AppConfig


class GuestbookConfig(AppConfig):
    """The guestbook app."""

    name = "project.guestbook"
