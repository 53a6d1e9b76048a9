"""`dockerable/run rotatekey NAME`: a new SECRET_KEY, the one it replaces kept as a fallback."""

import ast
import json
import os
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.core.management.utils import get_random_secret_key

from dockerable.envtools.layout import existing_env
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


def sets_fallbacks(settings_file: Path) -> bool:
    """Whether the environment's settings.py assigns SECRET_KEY_FALLBACKS at its top level (parsed,
    not run: its secrets may not load here)."""
    try:
        tree = ast.parse(settings_file.read_text(encoding="utf-8"), filename=str(settings_file))
    except SyntaxError as exc:
        raise CommandError(f"{settings_file}: line {exc.lineno}: {exc.msg}") from None
    targets = [
        target
        for node in tree.body
        if isinstance(node, (ast.Assign, ast.AnnAssign))
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
    ]
    return any(isinstance(target, ast.Name) and target.id == "SECRET_KEY_FALLBACKS" for target in targets)


class Command(BaseCommand):
    """Rotate an environment's SECRET_KEY through SECRET_KEY_FALLBACKS in its secrets.json."""

    help = (
        "Give an environment a new SECRET_KEY and keep the one it replaces first in "
        "SECRET_KEY_FALLBACKS, so that sessions, password-reset links and signed values made with it "
        "stay valid; --drop-fallbacks removes the earlier keys once those have expired. Takes effect "
        "when the app and worker restart (docs/security.md, Rotating secrets)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="the environment under project/settings/")
        parser.add_argument(
            "--drop-fallbacks",
            action="store_true",
            help="remove SECRET_KEY_FALLBACKS instead (no new key): what they signed stops being valid",
        )

    def handle(self, *args, **options):
        folder = existing_env(options["name"])
        path = folder / "secrets.json"
        if not options["drop_fallbacks"] and not sets_fallbacks(folder / "settings.py"):
            # A new key the settings do not pair with the old one signs every user out.
            raise CommandError(
                f"{folder / 'settings.py'} does not set SECRET_KEY_FALLBACKS: add "
                'SECRET_KEY_FALLBACKS = SECRETS.get("SECRET_KEY_FALLBACKS", []) under SECRET_KEY first'
            )
        try:
            values = environment.read(path).values
        except environment.SecretsError as exc:
            raise CommandError(str(exc)) from None
        earlier = values.get(environment.SECRET_KEY_FALLBACKS, [])
        if options["drop_fallbacks"]:
            values.pop(environment.SECRET_KEY_FALLBACKS, None)
            said = f"dropped {len(earlier)} earlier key(s)"
        else:
            values[environment.SECRET_KEY_FALLBACKS] = [values["SECRET_KEY"], *earlier]
            values["SECRET_KEY"] = get_random_secret_key()
            said = f"a new SECRET_KEY; the one it replaces is a fallback now, with {len(earlier)} earlier"
        write_replacing(path, values)
        self.stdout.write(
            f"{path}: {said}. Restart the app and the worker to use it (docs/security.md, Rotating secrets)."
        )
