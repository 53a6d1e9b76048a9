"""`dockerable/run rotatekey NAME`: a new SECRET_KEY, the one it replaces kept as a fallback."""

import ast
from pathlib import Path

from dockerable.envtools.rotation import Rotation, parsed
from dockerable.runtime import environment


class Command(Rotation):
    """Rotate an environment's SECRET_KEY through SECRET_KEY_FALLBACKS in its secrets.json."""

    help = (
        "Give an environment a new SECRET_KEY and keep the one it replaces first in "
        "SECRET_KEY_FALLBACKS, so that sessions, password-reset links and signed values made with it "
        "stay valid; --drop-fallbacks removes the earlier keys once those have expired. Takes effect "
        "when the app and worker restart (docs/security.md, Rotating secrets)."
    )
    KEY = "SECRET_KEY"
    FALLBACKS = environment.SECRET_KEY_FALLBACKS
    WHAT = "key"
    NEXT = (
        "Compose modes: run `cmd.sh reload` in the app's container and restart the worker; a bundle or "
        "Swarm: deploy (docs/security.md, Rotating secrets)."
    )

    def refusal(self, folder: Path) -> str | None:
        # A new key the settings do not pair with the old one signs every user out.
        settings_file = folder / "settings.py"
        targets = [
            target
            for node in parsed(settings_file).body
            if isinstance(node, (ast.Assign, ast.AnnAssign))
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        ]
        if any(isinstance(target, ast.Name) and target.id == self.FALLBACKS for target in targets):
            return None
        return (
            f"{settings_file} does not set SECRET_KEY_FALLBACKS: add "
            'SECRET_KEY_FALLBACKS = SECRETS.get("SECRET_KEY_FALLBACKS", []) under SECRET_KEY first'
        )
