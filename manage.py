#!/usr/bin/env python
"""Django's command-line entry point; defaults to the shared base settings."""

import os
import sys


def main():
    """Run a management command (pass --settings or DJANGO_SETTINGS_MODULE for an environment)."""
    # Base alone is enough for check, collectstatic and shell; anything that
    # needs an environment names it, as in the README.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.base")
    # pylint: disable-next=import-outside-toplevel
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line  # pylint: disable=import-outside-toplevel

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        # A settings problem (missing secret, bad variable) is the user's to fix:
        # one line naming it says more than a traceback through Django's internals.
        print(f"manage.py: configuration error: {exc}", file=sys.stderr)
        sys.exit(78)


if __name__ == "__main__":
    main()
