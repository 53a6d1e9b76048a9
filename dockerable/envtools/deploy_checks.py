"""Django's system checks, deployment ones included, of the settings DJANGO_SETTINGS_MODULE names, as JSON.

checkenv runs `python -m dockerable.envtools.deploy_checks` in a fresh process (an environment's
settings cannot be loaded beside the tools' own) and reads one JSON list on stdout: one object per
message that SILENCED_SYSTEM_CHECKS does not silence, with its id, level name, text and object.
"""

import json
import sys

import django
from django.core import checks


def level(message: checks.CheckMessage) -> str:
    """ERROR (errors and critical ones, which `check` fails on), WARNING, or INFO (debug too)."""
    if message.is_serious():
        return "ERROR"
    return "WARNING" if message.level >= checks.WARNING else "INFO"


def messages() -> list[dict]:
    """What `manage.py check --deploy` would report, as data."""
    django.setup()
    found = checks.run_checks(include_deployment_checks=True)
    return [
        {
            "id": message.id or "",
            "level": level(message),
            "text": message.msg,
            "object": str(message.obj) if message.obj is not None else "",
        }
        for message in found
        if not message.is_silenced()
    ]


if __name__ == "__main__":
    json.dump(messages(), sys.stdout)
