"""`dockerable/run rotatedbpassword NAME`: a new DB_PASSWORD, the one it replaces kept as a fallback
until the role has the new one (docs/security.md, Rotating secrets)."""

import ast
from pathlib import Path

from dockerable.envtools.rotation import Rotation, parsed
from dockerable.runtime import environment

# The backend that tries the fallbacks, and the DATABASES key that gives it them.
BACKEND = "dockerable.runtime.postgresql"
FALLBACKS_SETTING = "PASSWORD_FALLBACKS"


class Command(Rotation):
    """Rotate an environment's DB_PASSWORD through DB_PASSWORD_FALLBACKS in its secrets.json."""

    help = (
        "Give an environment a new DB_PASSWORD and keep the one it replaces first in "
        "DB_PASSWORD_FALLBACKS, which the app and the backups try while the role still has it; deploy, "
        "then `cmd.sh dbpassword` gives the role the new one (swarm/deploy.sh runs it). "
        "--drop-fallbacks removes the earlier passwords once it has (docs/security.md, Rotating secrets)."
    )
    KEY = "DB_PASSWORD"
    FALLBACKS = environment.DB_PASSWORD_FALLBACKS
    WHAT = "password"
    NEXT = "Deploy it, then give the role the new password (docs/security.md, Rotating secrets)."

    def refusal(self, folder: Path) -> str | None:
        # A new password the app cannot pair with the old one stops it at its next connection.
        base = folder.parent / "base.py"
        constants = (node.value for node in ast.walk(parsed(base)) if isinstance(node, ast.Constant))
        if BACKEND not in constants:
            return f'{base} does not use the backend that tries them: set DATABASES\' "ENGINE" to "{BACKEND}"'
        if not any(
            isinstance(node, ast.keyword) and node.arg == FALLBACKS_SETTING
            for node in ast.walk(parsed(folder / "settings.py"))
        ):
            return (
                f"{folder / 'settings.py'} does not give the database its fallbacks: add "
                f'{FALLBACKS_SETTING}=SECRETS.get("{self.FALLBACKS}", []) to DATABASES["default"].update(...)'
            )
        return None
