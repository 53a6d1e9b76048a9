"""An environment's compose files: thin ones from compose_templates/, extending the shared topology."""

import re
from pathlib import Path

from django.template import Context, Engine

from dockerable.envtools.layout import (
    BACKUP_RECIPIENTS,
    COMPOSE_FILES,
    POSTGRES_MAJOR,
    SAMPLE_ENV,
    STACK_FILE,
    pgdata_volume,
)

TEMPLATES = Path(__file__).resolve().parent / "compose_templates"
# Every thin file extends services from here; a file that does not is a full copy from before it.
SHARED_TOPOLOGY = "dockerable/compose/services.yml"
SAMPLE_NOTE = " (SAMPLE: public secrets)"
# The one-shot service that checks the environment's files before anything else starts.
PREFLIGHT = re.compile(r"^  preflight:", re.MULTILINE)
# A thin file's `service: postgres-18`, or a full file's `image: postgres:17` (before majors had names).
MAJOR = re.compile(r"service: postgres-(\d+)\b|image: postgres:(\d+)\b")


def render(name: str, domain: str, postgres: int = POSTGRES_MAJOR) -> dict[str, str]:
    """Each compose (and stack) file of environment `name`, serving `domain`, on PostgreSQL `postgres`."""
    engine = Engine()
    context = {
        "env": name,
        "domain": domain,
        "sample_note": SAMPLE_NOTE if name == SAMPLE_ENV else "",
        "postgres": postgres,
        "pgdata": pgdata_volume(postgres),
    }
    return {
        file_name: engine.from_string((TEMPLATES / file_name).read_text(encoding="utf-8")).render(
            Context(context, autoescape=False)
        )
        for file_name in (*COMPOSE_FILES, STACK_FILE)
    }


def recipients_text() -> str:
    """The backup-recipients.txt of a new environment: no key yet, and what to put there."""
    return (TEMPLATES / BACKUP_RECIPIENTS).read_text(encoding="utf-8")


def postgres_major(folder: Path) -> int:
    """The PostgreSQL major the environment's compose files run (new ones: POSTGRES_MAJOR)."""
    for file_name in COMPOSE_FILES:
        path = folder / file_name
        if path.is_file():
            match = MAJOR.search(path.read_text(encoding="utf-8"))
            if match:
                return int(match.group(1) or match.group(2))
    return POSTGRES_MAJOR


def extends_shared_topology(path: Path) -> bool:
    """True if the compose file at `path` takes its services from the shared topology."""
    return SHARED_TOPOLOGY in path.read_text(encoding="utf-8")


def has_preflight(path: Path) -> bool:
    """True if the compose file at `path` checks the environment's files first (thin files since 2026-11)."""
    return PREFLIGHT.search(path.read_text(encoding="utf-8")) is not None


def outdated(path: Path) -> str | None:
    """Why upgradeenv would rewrite the compose file at `path`, or None if it is current."""
    if not path.is_file():
        return "is missing"
    if not extends_shared_topology(path):
        return f"copies the services instead of extending {SHARED_TOPOLOGY}, so template fixes never reach it"
    if not has_preflight(path):
        return "has no preflight service, so a mistake in secrets.json or ssl/ restarts a service forever"
    return None
