"""What a newcomer reads: a front-door README, docs whose links resolve, no figures in code comments,
and a benchmark suite that can be deleted without breaking anything."""

import json
import re
from pathlib import Path

import pytest
import yaml

from dockerable.tests.docker_stack import REPO, run

README = REPO / "README.md"
DOCUMENTS = [README, *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# Measurements and dates belong in docs/benchmarks.md, not in code comments.
DATED_FIGURE = re.compile(r"\b20\d\d-\d\d-\d\d\b|req/s|\btests/bench\b")
CODE = ("*.py", "*.sh", "*.ini", "*.yml", "*.template", "*.conf", "Dockerfile", "run")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in path.read_text().splitlines() if line.startswith("#")}


def test_the_readme_is_a_front_door():
    assert len(README.read_text()) <= 12_000
    text = README.read_text()
    for command in ("docker-compose-dev.yml up", "tests/run", "newenv", "checkenv", "shipenv", "upgradeenv"):
        assert command in text, command


def test_every_relative_link_in_the_docs_resolves():
    checked = 0
    for document in DOCUMENTS:
        for target in LINK.findall(document.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            file_part, _, anchor = target.partition("#")
            path = (document.parent / file_part).resolve() if file_part else document
            assert path.exists(), f"{document.relative_to(REPO)}: {target} does not exist"
            if anchor:
                assert anchor in anchors(path), f"{document.relative_to(REPO)}: no heading for #{anchor}"
            checked += 1
    assert checked >= 20, checked


def test_no_code_comment_holds_a_dated_figure():
    roots = [REPO / "project", REPO / "dockerable", REPO / "tests", REPO / ".ci", REPO / "manage.py"]
    files = {
        path
        for root in roots
        for pattern in CODE
        for path in ([root] if root.is_file() else root.rglob(pattern))
    }
    offenders = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in sorted(files)
        if "migrations" not in path.parts
        and "data" not in path.parts
        # The benchmark's own words are its units (req/s), not a figure in a comment.
        and not path.is_relative_to(REPO / "dockerable" / "bench")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if DATED_FIGURE.search(line) and path != Path(__file__)
    ]
    assert not offenders, offenders


# The top level of the template's shape. A project may add its own files there; the template
# adds nothing but these, and keeps its own suite and benchmark under dockerable/.
TOP_LEVEL = {
    "manage.py", "project", "dockerable", "requirements.txt", ".dockerignore", ".gitignore", ".vscode",
    "README.md", "tests", "docs", ".ci", ".devcontainer", ".github", "pyproject.toml",
    ".pre-commit-config.yaml",
}  # fmt: skip


@pytest.mark.tree
def test_the_template_keeps_its_suite_and_benchmark_under_dockerable():
    tracked = run("git", "ls-files", cwd=REPO).stdout.split()
    top = {name.split("/")[0] for name in tracked}
    assert top >= TOP_LEVEL and "bench" not in top, sorted(top - TOP_LEVEL)
    for name in ("dockerable/tests/run", "dockerable/tests/pytest.ini", "dockerable/testing.py", "tests/run"):
        assert name in tracked, name
    # The project's suite uses the template's test support (dockerable/testing.py), never its suite.
    for name in tracked:
        if name.startswith(("tests/", "project/")) and name.endswith(".py"):
            text = (REPO / name).read_text()
            assert "dockerable.tests" not in text and "dockerable.bench" not in text, name


@pytest.mark.tree
def test_the_template_names_the_sample_app_only_to_delete_it():
    # Its stacks and benchmark serve the suite's own fixture app (dockerable/tests/fixture/).
    sample = "guest" + "book"  # spelled apart, so that this file is not a match itself
    naming = sorted(
        str(path.relative_to(REPO))
        for path in (REPO / "dockerable").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and sample in path.read_text(errors="replace")
    )
    assert naming == ["dockerable/tests/docker_stack.py"], naming


def test_the_log_shipping_example_replaces_the_template_s_logging_whole(tmp_path):
    """docs/observability.md's other-driver example, merged with the sample environment as an
    environment's own lines would be: its services log through that driver with only its options."""
    text = (REPO / "docs" / "observability.md").read_text()
    section = text.split("## Shipping logs elsewhere\n", 1)[1].split("\n## ", 1)[0]
    example = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    shipped = yaml.safe_load(example)["x-ship"]
    (tmp_path / "ship.yml").write_text(example)
    compose_file = REPO / "project" / "settings" / "example" / "docker-compose.yml"
    merged = run(
        "docker",
        "compose",
        "-f",
        str(compose_file),
        "-f",
        str(tmp_path / "ship.yml"),
        "config",
        "--format",
        "json",
    ).stdout
    services = json.loads(merged)["services"]
    for name in ("app", "worker"):
        assert services[name]["logging"] == shipped, services[name]["logging"]
    # The services the example leaves alone keep the template's rotated json-file.
    assert services["postgres"]["logging"]["driver"] == "json-file"
    assert services["postgres"]["logging"]["options"]["max-size"] == "10m"
