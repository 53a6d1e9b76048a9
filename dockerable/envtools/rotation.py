"""What `rotatekey` and `rotatedbpassword` share: a new secret in secrets.json, the one it replaces
kept first in its fallbacks list, or the fallbacks dropped; the file replaced whole."""

import ast
import json
import os
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from dockerable.envtools.layout import existing_env
from dockerable.envtools.secret_values import fresh_value
from dockerable.runtime import environment


def write_replacing(path: Path, values: dict) -> None:
    """Write `values` as `path`'s JSON through a file beside it, owner-only from its first byte,
    that replaces it whole: a reader never sees half a file, and a failure leaves the old one."""
    fd, partial = tempfile.mkstemp(prefix=".secrets-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(values, indent=4) + "\n")
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def parsed(path: Path) -> ast.Module:
    """`path`'s syntax tree (read, not run: its secrets may not load here), or one line."""
    try:
        return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        raise CommandError(f"{path}: line {exc.lineno}: {exc.msg}") from None
    except OSError as exc:
        raise CommandError(f"{path}: {exc.strerror}") from None


class Rotation(BaseCommand):
    """Rotate KEY of an environment's secrets.json through FALLBACKS; `refusal` says why the
    environment's settings could not use the old value meanwhile, if they could not."""

    KEY = ""
    FALLBACKS = ""
    WHAT = ""  # what a value is, in messages
    NEXT = ""  # what to do once the file is written

    def refusal(self, folder: Path) -> str | None:
        """Why a new value would break the environment before it is deployed, or None."""
        raise NotImplementedError

    def add_arguments(self, parser):
        parser.add_argument("name", help="the environment under project/settings/")
        parser.add_argument(
            "--drop-fallbacks",
            action="store_true",
            help=f"remove {self.FALLBACKS} instead (no new {self.WHAT}), once nothing needs them",
        )

    def handle(self, *args, **options):
        folder = existing_env(options["name"])
        path = folder / "secrets.json"
        if not options["drop_fallbacks"]:
            why = self.refusal(folder)
            if why:
                raise CommandError(why)
        try:
            values = environment.read(path).values
        except environment.SecretsError as exc:
            raise CommandError(str(exc)) from None
        earlier = values.get(self.FALLBACKS, [])
        if options["drop_fallbacks"]:
            values.pop(self.FALLBACKS, None)
            said = f"dropped {len(earlier)} earlier {self.WHAT}(s)"
        else:
            values[self.FALLBACKS] = [values[self.KEY], *earlier]
            values[self.KEY] = fresh_value(self.KEY)
            said = f"a new {self.KEY}; the one it replaces is a fallback now, with {len(earlier)} earlier"
        write_replacing(path, values)
        self.stdout.write(f"{path}: {said}. {self.NEXT}")
