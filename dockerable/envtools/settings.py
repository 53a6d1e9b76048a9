"""What the environment tools run under: the project's shared settings plus the tools' own app.

Only `python -m dockerable.envtools` (and so `dockerable/run`) uses it; the app never does, so the
tools stay out of INSTALLED_APPS, and out of the image.
"""

from project.settings.base import *  # noqa: F401,F403  pylint: disable=wildcard-import,unused-wildcard-import
from project.settings.base import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "dockerable.envtools"]
