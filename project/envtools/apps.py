"""App configuration for the environment tools."""

from django.apps import AppConfig


class EnvtoolsConfig(AppConfig):
    """Holds the newenv and checkenv management commands."""

    name = "project.envtools"
