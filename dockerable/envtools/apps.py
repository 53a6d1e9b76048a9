"""App configuration for the environment tools."""

from django.apps import AppConfig


class EnvtoolsConfig(AppConfig):
    """Holds the host-side commands (newenv, checkenv, shipenv, upgradeenv, deploystack)."""

    name = "dockerable.envtools"
