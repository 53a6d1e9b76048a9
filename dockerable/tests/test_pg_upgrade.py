"""PostgreSQL 17 to 18 on real Docker: pg-upgrade.sh moves the data, keeps 17's volume, rolls back."""

import shutil

import pytest

from dockerable.envtools.bundle import BUILD_FILE
from dockerable.envtools.compose import database_text, postgres_major, render
from dockerable.envtools.layout import COMPOSE_FILES, DATABASE_FILE
from dockerable.tests.conftest import unique_project
from dockerable.tests.docker_stack import Stack, free_port, run
from dockerable.tests.http_client import request, sign_fixturebook
from dockerable.tests.reformat import reformatted_compose

pytestmark = pytest.mark.docker

HOST = "example.dockerable.test"


@pytest.fixture(scope="module")
def stack(test_image, checkout):  # pylint: disable=unused-argument
    """The example environment's production stack as an environment made before 18 has it: on 17."""
    example = checkout / "project" / "settings" / "example"
    write_files(example, 17)
    stack = Stack(
        example / "docker-compose.yml",
        unique_project("dd-pgup"),
        HTTPS_PORT=free_port(),
        HTTP_PORT=free_port(),
    )
    try:
        stack.up()
        yield stack
    finally:
        stack.down(volumes=True)
        for volume in ("pgdata", "pgdata-18", "pg-upgrade"):
            run("docker", "volume", "rm", "-f", f"{stack.project}_{volume}", check=False)


def write_files(folder, major):
    for name, text in render("example", HOST, major).items():
        (folder / name).write_text(text)


def pg_upgrade(stack, *args):
    """dockerable/pg-upgrade.sh of the stack's checkout, as an operator runs it."""
    script = stack.folder.parents[2] / "dockerable" / "pg-upgrade.sh"
    env = {**stack.env, "COMPOSE_PROJECT_NAME": stack.project}
    return run(str(script), str(stack.compose_file), *args, env=env, check=False, timeout=600)


def server_major(stack) -> str:
    return stack.psql("SHOW server_version_num").strip()[:2]


def entries(stack) -> str:
    return stack.psql("COPY (SELECT * FROM fixturebook_entry ORDER BY id) TO STDOUT")


def volume_exists(stack, volume) -> bool:
    return run("docker", "volume", "inspect", f"{stack.project}_{volume}", check=False).returncode == 0


def files_major(stack) -> set[str]:
    """The major the environment's database.yml names, and the data volume Compose mounts by it."""
    volumes = run("docker", "compose", "-f", str(stack.compose_file), "config", "--volumes", env=stack.env)
    return {str(postgres_major(stack.folder))} | ({"pgdata", "pgdata-18"} & set(volumes.stdout.split()))


def serves(stack, text):
    page = request("GET", stack.url("/"), ca_file=stack.folder / "ssl" / "server.crt", server_name=HOST)
    return page.status == 200 and text in page.text


def test_upgrade_moves_every_row_to_18_keeps_17_and_rolls_back(stack):
    for text in ("before the upgrade", "vor dem Upgrade, äöü"):
        sign_fixturebook(stack.url(), stack.folder / "ssl" / "server.crt", HOST, text)
    assert server_major(stack) == "17"
    before = entries(stack)

    # A grant to a role that pg_dump does not carry: loading into 18 fails, and 17 serves on.
    stack.psql("CREATE ROLE reporting; GRANT SELECT ON fixturebook_entry TO reporting")
    result = pg_upgrade(stack, "--yes")
    assert result.returncode != 0
    assert "the upgrade failed; " + stack.project + " runs PostgreSQL 17 on pgdata as before" in result.stderr
    assert server_major(stack) == "17" and entries(stack) == before
    assert files_major(stack) == {"17", "pgdata"}
    assert not volume_exists(stack, "pgdata-18") and not volume_exists(stack, "pg-upgrade")
    assert serves(stack, "vor dem Upgrade")

    stack.psql("REVOKE ALL ON fixturebook_entry FROM reporting; DROP ROLE reporting")
    result = pg_upgrade(stack, "--yes")
    assert result.returncode == 0, result.stderr
    assert server_major(stack) == "18"
    assert entries(stack) == before
    assert files_major(stack) == {"18", "pgdata-18"}
    assert volume_exists(stack, "pgdata") and not volume_exists(stack, "pg-upgrade")
    assert serves(stack, "vor dem Upgrade")
    # The backup service now runs the backup image of 18 (its client tools dump an 18 server). Asked
    # of the container, not of its image's name, which a module beside this one may have built again.
    assert "(PostgreSQL) 18." in stack.exec("backup", "pg_dump", "--version").stdout
    # A second run has nothing to do.
    assert "already runs PostgreSQL 18" in pg_upgrade(stack, "--yes").stdout

    sign_fixturebook(stack.url(), stack.folder / "ssl" / "server.crt", HOST, "written on 18")
    result = pg_upgrade(stack, "--rollback", "--yes")
    assert result.returncode == 0, result.stderr
    assert server_major(stack) == "17"
    assert entries(stack) == before  # 17 as the upgrade left it: what 18 wrote stays in pgdata-18
    assert files_major(stack) == {"17", "pgdata"}
    assert serves(stack, "vor dem Upgrade")


def test_files_ahead_of_the_data_stop_a_deploy_and_the_upgrade_moves_the_data(stack):
    """A bundle made after upgrading in the checkout, deployed where the data is still on 17."""
    write_files(stack.folder, 17)
    stack.up()
    run("docker", "volume", "rm", "-f", f"{stack.project}_pgdata-18")
    before = entries(stack)
    write_files(stack.folder, 18)

    result = pg_upgrade(stack, "--check")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"pg-upgrade.sh: the data of {stack.project} is on PostgreSQL 17 (volume {stack.project}_pgdata) "
        f"and these files run 18: move it first with pg-upgrade.sh {stack.compose_file} --yes"
    ]
    result = pg_upgrade(stack, "--yes")
    assert result.returncode == 0, result.stderr
    assert server_major(stack) == "18" and entries(stack) == before
    assert pg_upgrade(stack, "--check").returncode == 0


def test_files_written_otherwise_read_the_same_and_a_renamed_project_is_refused(stack):
    """pg-upgrade.sh reads no compose file's text: Compose says which volume the files mount."""
    write_files(stack.folder, 17)
    before = {name: (stack.folder / name).read_text() for name in (*COMPOSE_FILES, DATABASE_FILE)}
    for name, text in before.items():
        (stack.folder / name).write_text(reformatted_compose(text))
    try:
        assert files_major(stack) == {"17", "pgdata"}
        result = pg_upgrade(stack, "--rollback", "--yes")
        assert (result.returncode, result.stderr.strip()) == (
            1, f"pg-upgrade.sh: {stack.folder.name} runs PostgreSQL 17: nothing to roll back"
        )  # fmt: skip
        assert pg_upgrade(stack, "--check").returncode == 0
        # A project the files name otherwise than the rule (COMPOSE_PROJECT_NAME, else
        # dockerable-<env>): its volumes are not the ones the rule names, so nothing is done.
        production = stack.folder / "docker-compose.yml"
        renamed = production.read_text().replace('"name": "dockerable-example"', '"name": "shop"')
        assert renamed != production.read_text()
        production.write_text(renamed)
        script = stack.folder.parents[2] / "dockerable" / "pg-upgrade.sh"
        result = run(str(script), str(production), "--yes", env=stack.env, check=False, timeout=600)
        assert (result.returncode, result.stderr.strip()) == (
            1, f"pg-upgrade.sh: {production} names its compose project otherwise than "
            f"dockerable-{stack.folder.name}: set COMPOSE_PROJECT_NAME to its name",
        )  # fmt: skip
        assert (stack.folder / DATABASE_FILE).read_text() == reformatted_compose(before[DATABASE_FILE])
    finally:
        for name, text in before.items():
            (stack.folder / name).write_text(text)


def test_files_from_before_database_yml_are_checked_but_not_switched(stack):
    write_files(stack.folder, 17)
    (stack.folder / DATABASE_FILE).unlink()
    production = stack.folder / "docker-compose.yml"
    shared = "{file: ../../../dockerable/compose/services.yml, service: %s-17}"
    text = production.read_text()
    production.write_text(
        text.replace("{file: database.yml, service: postgres}", shared % "postgres").replace(
            "{file: database.yml, service: backup}", shared % "backup"
        )
    )
    try:
        assert pg_upgrade(stack, "--check").returncode == 0
        result = pg_upgrade(stack, "--yes")
        assert (result.returncode, result.stderr.strip()) == (
            1, f"pg-upgrade.sh: {stack.folder / DATABASE_FILE} is missing: run dockerable/run upgradeenv "
            f"{stack.folder.name} first (docs/environments.md)",
        )  # fmt: skip
    finally:
        write_files(stack.folder, 17)


def test_on_a_bundles_host_a_major_whose_images_are_missing_is_refused_before_anything_stops(stack, tmp_path):
    """A bundle's host cannot build: switching to a major whose images no bundle brought there says
    so in one line, and leaves the file and the running stack as they were."""
    checkout = stack.folder.parents[2]
    # The layout of an unpacked bundle (shipenv): the host scripts at its top, no Dockerfile.
    for script in ("pg-upgrade.sh", "release-history.sh"):
        shutil.copy2(checkout / "dockerable" / script, tmp_path / script)
    shutil.copytree(checkout / "dockerable" / "compose", tmp_path / "dockerable" / "compose")
    shutil.copy2(checkout / BUILD_FILE, tmp_path / BUILD_FILE)
    folder = tmp_path / "project" / "settings" / "example"
    shutil.copytree(stack.folder, folder)
    write_files(folder, 18)
    running = stack.compose("ps", "--quiet").stdout.split()
    env = {**stack.env, "COMPOSE_PROJECT_NAME": stack.project, "DOCKERABLE_BACKUP_IMAGE": "dd-not-here"}
    assert volume_exists(stack, "pgdata")
    result = run(
        str(tmp_path / "pg-upgrade.sh"), str(folder / "docker-compose.yml"), "--rollback", "--yes",
        env=env, check=False, timeout=600,
    )  # fmt: skip
    assert (result.returncode, result.stderr.strip()) == (
        1, "pg-upgrade.sh: not on this host, and a bundle's host cannot build them: dd-not-here:database-17 "
        "dd-not-here:postgres-17; deploy a bundle of example made while it ran PostgreSQL 17 first "
        "(it brings them)",
    )  # fmt: skip
    assert (folder / DATABASE_FILE).read_text() == database_text(18)
    assert stack.compose("ps", "--quiet").stdout.split() == running


@pytest.mark.parametrize(
    "args, why",
    [
        (["--rollback"], "add --yes to confirm"),
        (["--yes", "extra"], "add --yes to confirm"),
        (["--rollback", "--yes"], "runs PostgreSQL 17: nothing to roll back"),
    ],
)
def test_bad_input_is_refused_in_one_line(stack, args, why):
    write_files(stack.folder, 17)
    result = pg_upgrade(stack, *args)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and why in result.stderr, result.stderr
