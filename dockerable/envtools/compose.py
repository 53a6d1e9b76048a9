"""An environment's compose files: thin ones from compose_templates/, extending the shared topology."""

from pathlib import Path

import yaml
from django.template import Context, Engine

from dockerable.envtools.layout import (
    BACKUP_RECIPIENTS,
    COMPOSE_FILES,
    DATABASE_FILE,
    DEV_COMPOSE_FILE,
    POSTGRES_MAJOR,
    POSTGRES_MAJORS,
    SAMPLE_ENV,
    STACK_FILE,
    pgdata_volume,
)

TEMPLATES = Path(__file__).resolve().parent / "compose_templates"
# dockerable/compose: each major's database.yml, which an environment gets a copy of.
SHARED = Path(__file__).resolve().parents[1] / "compose"
PRODUCTION_COMPOSE_FILE = COMPOSE_FILES[0]
# Every thin file extends services from here; a file that does not is a full copy from before it.
SHARED_TOPOLOGY = "dockerable/compose/services.yml"
SAMPLE_NOTE = " (SAMPLE: public secrets)"
# The one-shot service that checks the environment's files before anything else starts.
PREFLIGHT = "preflight"
# Where the app keeps uploads (MEDIA_ROOT), in every mode.
MEDIA_VOLUME = "media"
# The service that runs the background tasks, in every mode; development mode's mail catcher; the
# cache of the other modes.
WORKER, MAIL, CACHE = "worker", "mail", "cache"
# database.yml's postgres service extends `postgres-18`, as a thin file's did before it; a full
# file's ran `image: postgres:17`.
POSTGRES_PREFIX, POSTGRES_IMAGE, BACKUP_PREFIX = "postgres-", "postgres", "backup-"


class ComposeLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """YAML as Compose reads it: its `!reset` and `!override` tags are values like any other."""


def _untagged(loader: ComposeLoader, node: yaml.Node):
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


ComposeLoader.add_constructor("!reset", _untagged)
ComposeLoader.add_constructor("!override", _untagged)


def _section(path: Path, key: str) -> dict:
    """A top-level mapping of a compose file, parsed; ValueError with one line if it is not YAML."""
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=ComposeLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ValueError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    found = document.get(key) if isinstance(document, dict) else None
    return found if isinstance(found, dict) else {}


def services(path: Path) -> dict[str, dict]:
    """The services a compose file defines, parsed; ValueError with one line if it is not YAML."""
    return {name: spec for name, spec in _section(path, "services").items() if isinstance(spec, dict)}


def extended(spec: dict) -> tuple[str | None, str]:
    """The file and service a service extends (file None: the same file; service "": none)."""
    extends = spec.get("extends")
    if isinstance(extends, str):
        return None, extends
    if isinstance(extends, dict):
        return extends.get("file"), str(extends.get("service", ""))
    return None, ""


def runs_backups(spec: dict) -> bool:
    """True if a production compose file's service is the backup service: it extends database.yml's
    `backup`, or (before database.yml) the shared topology's backup-<major>."""
    file, parent = extended(spec)
    return parent.startswith(BACKUP_PREFIX) or (Path(str(file)).name == DATABASE_FILE and parent == "backup")


def _major(spec: dict) -> int | None:
    _, parent = extended(spec)
    if parent.startswith(POSTGRES_PREFIX) and parent.removeprefix(POSTGRES_PREFIX).isdigit():
        return int(parent.removeprefix(POSTGRES_PREFIX))
    name, _, tag = str(spec.get("image", "")).partition(":")
    if name == POSTGRES_IMAGE and tag.isdigit():
        return int(tag)
    return None


def render(name: str, domain: str, postgres: int = POSTGRES_MAJOR) -> dict[str, str]:
    """Each compose (and stack) file of environment `name`, serving `domain`, and its database.yml
    for PostgreSQL `postgres`."""
    engine = Engine()
    context = {"env": name, "domain": domain, "sample_note": SAMPLE_NOTE if name == SAMPLE_ENV else ""}
    texts = {
        file_name: engine.from_string((TEMPLATES / file_name).read_text(encoding="utf-8")).render(
            Context(context, autoescape=False)
        )
        for file_name in (*COMPOSE_FILES, STACK_FILE)
    }
    return {**texts, DATABASE_FILE: database_text(postgres)}


def database_text(major: int) -> str:
    """An environment's database.yml for PostgreSQL `major`: the template's copy, as it is."""
    return (SHARED / f"database-{major}.yml").read_text(encoding="utf-8")


def recipients_text() -> str:
    """The backup-recipients.txt of a new environment: no key yet, and what to put there."""
    return (TEMPLATES / BACKUP_RECIPIENTS).read_text(encoding="utf-8")


def postgres_major(folder: Path) -> int:
    """The PostgreSQL major the environment runs: its database.yml's, else (before it) its compose
    files'; new ones: POSTGRES_MAJOR."""
    for file_name in (DATABASE_FILE, *COMPOSE_FILES):
        path = folder / file_name
        if path.is_file():
            try:
                majors = [_major(spec) for spec in services(path).values()]
            except ValueError:
                continue
            for major in majors:
                if major:
                    return major
    return POSTGRES_MAJOR


def extends_shared_topology(found: dict[str, dict]) -> bool:
    """True if some service of a compose file takes its definition from the shared topology."""
    return any(Path(str(extended(spec)[0])).as_posix().endswith(SHARED_TOPOLOGY) for spec in found.values())


def outdated(path: Path) -> str | None:
    """Why upgradeenv would rewrite the compose file at `path`, or None if it is current."""
    if not path.is_file():
        return "is missing"
    try:
        found = services(path)
    except ValueError as exc:
        return str(exc).removeprefix(f"{path}: ")
    faults = (
        (
            not extends_shared_topology(found),
            f"copies the services instead of extending {SHARED_TOPOLOGY}, so template fixes never reach it",
        ),
        (
            PREFLIGHT not in found,
            "has no preflight service, so a mistake in secrets.json or ssl/ restarts a service forever",
        ),
        (WORKER not in found, f"has no {WORKER} service, so the tasks the app queues never run"),
        (
            path.name != DEV_COMPOSE_FILE and CACHE not in found,
            f"has no {CACHE} service, so each process of the app caches alone",
        ),
        (
            path.name == DEV_COMPOSE_FILE and MAIL not in found,
            f"has no {MAIL} service, so the mail development mode sends goes nowhere",
        ),
        (
            MEDIA_VOLUME not in _section(path, "volumes"),
            f"has no {MEDIA_VOLUME} volume, so an upload fails on the app's read-only filesystem",
        ),
        (
            path.name == PRODUCTION_COMPOSE_FILE and extended(found.get("postgres", {}))[0] != DATABASE_FILE,
            f"names its PostgreSQL major itself instead of taking its postgres service from {DATABASE_FILE}, "
            "the one file dockerable/pg-upgrade.sh switches",
        ),
        (
            any(pgdata_volume(major) not in _section(path, "volumes") for major in POSTGRES_MAJORS),
            "does not declare every PostgreSQL major's data volume "
            f"({', '.join(pgdata_volume(major) for major in POSTGRES_MAJORS)}), "
            "which dockerable/pg-upgrade.sh moves between",
        ),
    )
    return next((why for faulty, why in faults if faulty), None)
