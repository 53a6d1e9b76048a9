"""PostgreSQL 17 to 18 on real Docker: pg-upgrade.sh moves the data, keeps 17's volume, rolls back."""

import pytest

from dockerable.envtools.compose import render
from dockerable.envtools.layout import COMPOSE_FILES
from dockerable.tests.conftest import unique_project
from dockerable.tests.docker_stack import Stack, free_port, run
from dockerable.tests.http_client import request, sign_fixturebook

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
    texts = [(stack.folder / name).read_text() for name in COMPOSE_FILES]
    return {major for major in ("17", "18") if f"service: postgres-{major}}}" in texts[0]} | {
        "pgdata-18" if any("pgdata-18:" in text for text in texts) else "pgdata"
    }


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
