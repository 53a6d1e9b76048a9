"""`python -m dockerable.envtools COMMAND [ARGS]`: the host-side commands, under the tools' settings.

`dockerable/run COMMAND` runs this in the tools image; a host virtualenv from tests/requirements.txt
runs it directly. `manage ARGS` is the project's own manage.py, for the commands that need the code
and no database (startapp, makemigrations): what they write is the host user's.
"""

import os
import sys

COMMANDS = (
    "newenv", "checkenv", "shipenv", "upgradeenv", "deploystack", "audit", "rotatekey", "rotatedbpassword"
)  # fmt: skip
USAGE = f"usage: dockerable/run {{{','.join(COMMANDS)},manage}} [ARGS] (--help after a command for its own)"


def main(argv: list[str]) -> int:
    """Run one of COMMANDS through Django's command line; anything else is one line and exit 64."""
    if argv[:1] == ["manage"]:
        os.execv(sys.executable, [sys.executable, "manage.py", *argv[1:]])
    if not argv or argv[0] not in COMMANDS:
        given = f"unknown command '{argv[0]}'; " if argv and argv[0] not in ("-h", "--help") else ""
        print(f"dockerable/run: {given}{USAGE}", file=sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 64
    # Its own settings whatever the shell exports: an environment's settings would need its secrets.
    os.environ["DJANGO_SETTINGS_MODULE"] = "dockerable.envtools.settings"
    from django.core.management import execute_from_command_line  # pylint: disable=import-outside-toplevel

    execute_from_command_line(["dockerable/run", *argv])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
