"""The host-side tools parse an environment's files: reformatted, they read them the same."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from dockerable.envtools.checks import mounts_recipients
from dockerable.envtools.compose import (
    database_text,
    outdated,
    postgres_major,
    runs_backups,
    services,
)
from dockerable.envtools.layout import COMPOSE_FILES, DATABASE_FILE, POSTGRES_MAJORS, declared_domain
from dockerable.tests.docker_stack import REPO
from dockerable.tests.reformat import QuotingDumper, TagKeepingLoader, reformatted_compose

EXAMPLE = REPO / "project" / "settings" / "example"
SAMPLE_DOMAIN = "example.dockerable.test"


@pytest.fixture
def reformatted(tmp_path) -> Path:
    """A copy of the example environment with every compose file and its database.yml reformatted."""
    folder = tmp_path / "example"
    shutil.copytree(EXAMPLE, folder)
    for name in (*COMPOSE_FILES, DATABASE_FILE):
        path = folder / name
        path.write_text(reformatted_compose(path.read_text()))
        assert path.read_text() != (EXAMPLE / name).read_text()
    return folder


def test_the_compose_files_read_the_same_however_written(reformatted):
    for folder in (EXAMPLE, reformatted):
        assert postgres_major(folder) == 18
        for name in COMPOSE_FILES:
            assert outdated(folder / name) is None, (folder, name)
        production = services(folder / "docker-compose.yml")
        backup = [spec for spec in production.values() if runs_backups(spec)]
        assert len(backup) == 1 and mounts_recipients(backup[0]), folder
    # Compose itself reads the rewritten file as the original.
    for name in COMPOSE_FILES:
        assert services(reformatted / name).keys() == services(EXAMPLE / name).keys()


def test_a_file_that_is_not_yaml_is_named_with_its_line(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  app:\n    image: [unclosed\n")
    reason = outdated(broken)
    assert reason is not None and reason.startswith("not valid YAML at line "), reason


def test_a_full_copy_and_a_file_without_preflight_are_still_told_apart(tmp_path):
    full = tmp_path / "docker-compose.yml"
    full.write_text(
        yaml.safe_dump({"services": {"postgres": {"image": "postgres:17"}, "app": {"image": "x"}}})
    )
    assert "copies the services" in outdated(full)
    assert postgres_major(tmp_path) == 17
    thin = yaml.load((EXAMPLE / "docker-compose.yml").read_text(), Loader=TagKeepingLoader)  # noqa: S506
    del thin["services"]["preflight"]
    full.write_text(yaml.dump(thin, Dumper=QuotingDumper))
    assert "has no preflight service" in outdated(full)


def test_the_domain_reads_the_same_however_secrets_json_is_written(tmp_path):
    values = json.loads((EXAMPLE / "secrets.json").read_text())
    assert values["DOMAIN"] == SAMPLE_DOMAIN
    # Keys in another order, other indentation, every letter of the domain escaped.
    escaped = "".join(f"\\u{ord(char):04x}" for char in SAMPLE_DOMAIN)
    body = json.dumps(dict(reversed(values.items())), indent="\t").replace(
        f'"{SAMPLE_DOMAIN}"', f'"{escaped}"'
    )
    assert escaped in body
    (tmp_path / "secrets.json").write_text(body)
    (tmp_path / "settings.py").write_text((EXAMPLE / "settings.py").read_text())
    assert declared_domain(tmp_path) == SAMPLE_DOMAIN


@pytest.mark.parametrize(
    "assignment",
    [
        "DOMAIN = 'example.dockerable.test'  # the public name",
        'DOMAIN: str = (\n    "example.dockerable.test"\n)',
        '# DOMAIN = "commented.out.test"\nDOMAIN="example.dockerable.test"',
    ],
)
def test_an_older_environment_s_domain_in_settings_py_reads_the_same_however_written(tmp_path, assignment):
    """Environments made before DOMAIN moved into secrets.json assign it in settings.py."""
    values = json.loads((EXAMPLE / "secrets.json").read_text())
    del values["DOMAIN"]
    (tmp_path / "secrets.json").write_text(json.dumps(values))
    line = 'DOMAIN = SECRETS["DOMAIN"]'
    original = (EXAMPLE / "settings.py").read_text()
    assert original.count(line) == 1
    (tmp_path / "settings.py").write_text(original.replace(line, assignment))
    assert declared_domain(tmp_path) == SAMPLE_DOMAIN


def test_no_perl_is_left():
    tracked = subprocess.run(
        ["git", "ls-files", "dockerable", "project", "tests"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    perl = {
        name
        for name in tracked
        if not name.startswith("dockerable/tests/")
        and (REPO / name).is_file()
        and re.search(r"\bperl\b", (REPO / name).read_text(errors="replace"))
    }
    assert not perl, perl


@pytest.mark.parametrize("major", POSTGRES_MAJORS)
def test_database_yml_names_its_major_however_written(tmp_path, major):
    (tmp_path / DATABASE_FILE).write_text(reformatted_compose(database_text(major)))
    assert postgres_major(tmp_path) == major


def test_no_script_reads_or_edits_yaml_or_python_as_text():
    """Shell scripts ask Compose (or the loader) instead: no sed, awk or grep over a compose file,
    Compose's model or a Python file, and no file edited in place (sed -i)."""
    text_tools = re.compile(r"\b(sed|awk|grep|perl)\b")
    structured = re.compile(r"\.(ya?ml|py)\b|--format json|\bconfig\b(?! --(volumes|services))")
    tracked = subprocess.run(
        ["git", "ls-files", "dockerable", "project", "tests", ".ci"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    shebangs = (b"#!/usr/bin/env bash", b"#!/bin/bash")
    scripts = [
        name
        for name in tracked
        if name.endswith(".sh") or (REPO / name).is_file() and (REPO / name).read_bytes().startswith(shebangs)
    ]
    assert "dockerable/pg-upgrade.sh" in scripts and "dockerable/compose/backup/export" in scripts
    offenders = [
        f"{name}:{number}: {line.strip()}"
        for name in scripts
        for number, line in enumerate((REPO / name).read_text().splitlines(), 1)
        if not line.lstrip().startswith("#")
        and (text_tools.search(line) and structured.search(line) or re.search(r"\bsed -i\b", line))
    ]
    assert not offenders, offenders
