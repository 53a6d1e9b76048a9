"""An environment's compose files: thin ones from compose_templates/, extending the shared topology."""

from pathlib import Path

from django.template import Context, Engine

from project.envtools.layout import COMPOSE_FILES, SAMPLE_ENV

TEMPLATES = Path(__file__).resolve().parent / "compose_templates"
# Every thin file extends services from here; a file that does not is a full copy from before it.
SHARED_TOPOLOGY = "dockerable/compose/services.yml"
SAMPLE_NOTE = " (SAMPLE: public secrets)"


def render(name: str, domain: str) -> dict[str, str]:
    """The text of each compose file of environment `name` serving `domain`."""
    engine = Engine()
    context = {"env": name, "domain": domain, "sample_note": SAMPLE_NOTE if name == SAMPLE_ENV else ""}
    return {
        file_name: engine.from_string((TEMPLATES / file_name).read_text(encoding="utf-8")).render(
            Context(context, autoescape=False)
        )
        for file_name in COMPOSE_FILES
    }


def extends_shared_topology(path: Path) -> bool:
    """True if the compose file at `path` takes its services from the shared topology."""
    return SHARED_TOPOLOGY in path.read_text(encoding="utf-8")
