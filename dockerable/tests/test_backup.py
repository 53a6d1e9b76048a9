"""Backups on real Docker: scheduled dumps with checksums and retention, and an all-or-nothing restore."""

import datetime
import json
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest

from dockerable.tests.conftest import unique_project
from dockerable.tests.docker_stack import BACKUP_REPOSITORY, REPO, Stack, free_port, run, wait_for
from dockerable.tests.http_client import request, sign_fixturebook
from dockerable.tests.manage_cli import envtool
from dockerable.tests.media_checks import save_uploads
from dockerable.tests.metric_checks import BACKUP_METRICS, exported, value

pytestmark = pytest.mark.docker

HOST = "example.dockerable.test"
BACKUP_NAME = re.compile(r"^example-\d{8}T\d{6}Z\.dump$")
# The healthcheck probes every 2 s here instead of every minute.
FAST_HEALTHCHECK = "services:\n  backup:\n    healthcheck: {interval: 2s}\n"


@pytest.fixture(scope="module")
def prod(test_image, checkout):  # pylint: disable=unused-argument
    """The example environment's production stack, its backups in a host folder (BACKUP_DIR)."""
    backups = Path(tempfile.mkdtemp(prefix="dockerable-backups-"))
    example = checkout / "project" / "settings" / "example"
    (example / "fast-healthcheck.yml").write_text(FAST_HEALTHCHECK)
    stack = Stack(
        example / "docker-compose.yml",
        unique_project("dd-backup"),
        HTTPS_PORT=free_port(),
        HTTP_PORT=free_port(),
        BACKUP_DIR=backups,
    )
    stack.extra_files = [example / "fast-healthcheck.yml"]
    try:
        with stack.running():
            yield stack
    finally:
        shutil.rmtree(backups, ignore_errors=True)


def backup_dir(stack) -> Path:
    return Path(stack.env["BACKUP_DIR"])


def secrets(stack) -> dict:
    return json.loads((stack.folder / "secrets.json").read_text())


def entries(stack) -> str:
    """The fixture app's table, every column of every row, as PostgreSQL writes it out."""
    return stack.psql("COPY (SELECT * FROM fixturebook_entry ORDER BY id) TO STDOUT")


def restore(stack, *args):
    """dockerable/restore.sh on the stack's compose file, as an operator runs it."""
    env = {**stack.env, "COMPOSE_PROJECT_NAME": stack.project}
    return run(
        str(REPO / "dockerable" / "restore.sh"),
        str(stack.compose_file),
        *args,
        env=env,
        check=False,
        timeout=300,
    )


def uploads(stack) -> list[str]:
    """Every file in the stack's media volume: checksum, path, owner and mode."""
    every = "cd /srv/media && find . -type f -exec sha256sum {} + && find . -printf '%p %U %m\\n'"
    listing = stack.exec("app", "sh", "-c", every).stdout
    return sorted(listing.splitlines())


def back_up_now(stack) -> str:
    made = stack.exec("backup", "./backup.sh", "now").stdout
    return re.search(r"wrote (\S+)", made).group(1)


def test_a_backup_restores_every_row_into_a_new_stack(prod):
    for text in ("first entry", "zweiter Eintrag, äöü", "третья запись"):
        sign_fixturebook(prod.url(), prod.folder / "ssl" / "server.crt", HOST, text)
    save_uploads(prod)
    before, files = entries(prod), uploads(prod)
    assert before.count("\n") >= 2 and len(files) > 6
    name = back_up_now(prod)
    assert BACKUP_NAME.match(name), name
    media = name.replace(".dump", ".media.tar")
    for made in (name, media):
        checksum = (backup_dir(prod) / f"{made}.sha256").read_text()
        assert checksum.endswith(f"  {made}\n")
    listed = prod.exec("backup", "./backup.sh", "list").stdout
    assert re.search(rf"^{re.escape(name)}\t\S+\tuploads \S+$", listed, re.M), listed

    prod.down(volumes=True)  # the database and media volumes are gone; the backups were in a host folder
    prod.up()
    assert entries(prod) == "" and uploads(prod) == [". 10001 755"]
    result = restore(prod, "latest", "--yes")
    assert result.returncode == 0, result.stderr
    assert entries(prod) == before
    assert uploads(prod) == files
    page = request("GET", prod.url("/"), ca_file=prod.folder / "ssl" / "server.crt", server_name=HOST)
    assert "третья запись" in page.text
    # What the restore replaced was backed up first.
    assert any(path.name.endswith("-pre-restore.dump") for path in backup_dir(prod).iterdir())


def test_a_restore_returns_with_every_app_container_back_and_healthy(prod):
    # Two app containers (without published ports, which two cannot share), started from more
    # files than restore.sh is given: it starts the same two again, as they were, and returns
    # only once they pass their health check.
    with prod.overridden("services:\n  app:\n    ports: !reset []\n", "--scale", "app=2"):
        before = set(prod.containers("app"))
        name = back_up_now(prod)
        result = restore(prod, name, "--yes")
        assert result.returncode == 0, result.stderr
        assert set(prod.containers("app", all_states=False)) == before, result.stderr
        health = run("docker", "inspect", "-f", "{{.State.Health.Status}}", *before).stdout.split()
        assert health == ["healthy", "healthy"], health


@pytest.mark.parametrize(
    "damage, why",
    [
        ("truncated", "does not match its checksum (truncated or corrupted)"),
        ("garbage", "not a readable PostgreSQL archive"),
        ("other environment", "a backup of another environment (this one is example)"),
        ("uploads truncated", "media.tar: does not match its checksum (truncated or corrupted)"),
        ("uploads garbage", "media.tar: not a readable tar archive"),
        ("no confirmation", "restore replaces the environment's database: add --yes to confirm"),
    ],
)
def test_restore_refuses_a_bad_backup_in_one_line_and_changes_nothing(prod, damage, why):
    good = back_up_now(prod)
    folder = backup_dir(prod)
    name = "example-20200101T000000Z.dump"
    data = (folder / good).read_bytes()
    if damage == "truncated":
        (folder / name).write_bytes(data[: len(data) // 2])
        (folder / f"{name}.sha256").write_text((folder / f"{good}.sha256").read_text().replace(good, name))
    elif damage == "garbage":
        (folder / name).write_bytes(b"not a dump at all\n" * 100)
        run("sh", "-c", f"cd {folder} && sha256sum {name} > {name}.sha256")
    elif damage == "other environment":
        name = "staging-20200101T000000Z.dump"
        shutil.copy(folder / good, folder / name)
        run("sh", "-c", f"cd {folder} && sha256sum {name} > {name}.sha256")
    elif damage.startswith("uploads"):
        # A good dump beside a bad archive of the uploads: the pair is refused.
        media = name.replace(".dump", ".media.tar")
        shutil.copy(folder / good, folder / name)
        uploaded = (folder / good.replace(".dump", ".media.tar")).read_bytes()
        (folder / media).write_bytes(uploaded[: len(uploaded) // 2] if "truncated" in damage else b"x" * 4096)
        run("sh", "-c", f"cd {folder} && sha256sum {name} > {name}.sha256")
        if "garbage" in damage:
            run("sh", "-c", f"cd {folder} && sha256sum {media} > {media}.sha256")
        else:
            good_sum = (folder / f"{good.replace('.dump', '.media.tar')}.sha256").read_text()
            (folder / f"{media}.sha256").write_text(good_sum.split()[0] + f"  {media}\n")
    else:
        name = good
    before, files = entries(prod), uploads(prod)
    result = restore(prod, name, "--no" if damage == "no confirmation" else "--yes")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    named = name.replace(".dump", "") if damage.startswith("uploads") else name
    assert why in lines[0] and (damage == "no confirmation" or named in lines[0]), lines[0]
    assert entries(prod) == before and uploads(prod) == files
    assert (
        request(
            "GET", prod.url("/healthz"), ca_file=prod.folder / "ssl" / "server.crt", server_name=HOST
        ).status
        == 200
    )


def test_a_restore_that_fails_after_unpacking_the_uploads_leaves_both_as_they_were(prod):
    save_uploads(prod)
    name = back_up_now(prod)
    save_uploads(prod)
    before, files = entries(prod), uploads(prod)
    # The database the restore would restore into is held open by someone: it cannot be replaced.
    scratch = secrets(prod)["DB_NAME"] + "_restoring"
    prod.psql(f'CREATE DATABASE "{scratch}"')
    values = secrets(prod)
    prod.compose(
        "exec", "-d", "postgres", "psql", "-U", values["DB_USER"], "-d", scratch, "-c", "SELECT pg_sleep(120)"
    )  # fmt: skip
    wait_for(
        lambda: prod.psql(f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{scratch}'") == "1\n",
        timeout=30,
        what="a session on the scratch database",
    )
    try:
        result = restore(prod, name, "--yes")
    finally:
        prod.psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{scratch}'")
        prod.psql(f'DROP DATABASE IF EXISTS "{scratch}"')
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "restore failed, the database and the uploads are unchanged" in lines[0], lines
    assert entries(prod) == before and uploads(prod) == files


# As the app user: 3 MB at once, then 100 bytes every millisecond for about 20 s.
GROWING_UPLOAD = """
import time
with open("/srv/media/growing.log", "a") as upload:
    upload.write("x" * 3_000_000)
    for _ in range(15_000):
        upload.write("y" * 100)
        upload.flush()
        time.sleep(0.001)
"""


def test_a_backup_taken_while_the_app_writes_an_upload_succeeds(prod):
    prod.compose("exec", "-d", "--user", "10001:10001", "app", "python", "-c", GROWING_UPLOAD)
    size = "stat -c %s /srv/media/growing.log 2>/dev/null || echo 0"
    wait_for(lambda: int(prod.exec("app", "sh", "-c", size).stdout) > 3_000_000, timeout=30, what="an upload")
    try:
        # The archive is read at the rate limit (1 MiB a second) while the file keeps changing.
        name = back_up_now(prod)
    finally:
        # The writer ends by itself, writing into a file no longer named.
        prod.exec("app", "rm", "-f", "/srv/media/growing.log", user="10001:10001")
    assert (backup_dir(prod) / name.replace(".dump", ".media.tar")).stat().st_size > 3_000_000


def test_retention_keeps_the_newest_of_each_recent_day_week_and_month(prod):
    folder = Path(tempfile.mkdtemp(prefix="dockerable-retention-"))
    try:
        # Two backups a day over 421 days, and one of another environment.
        first = datetime.date(2025, 10, 1)
        days = [(first + datetime.timedelta(days=n)).strftime("%Y%m%d") for n in range(421)]
        assert days[-1] == "20261125"
        for day in days:
            for time in ("030000", "150000"):
                (folder / f"example-{day}T{time}Z.dump").touch()
                (folder / f"example-{day}T{time}Z.dump.sha256").touch()
        (folder / "staging-20200101T000000Z.dump").touch()
        prod.env["BACKUP_DIR"], kept_dir = str(folder), prod.env["BACKUP_DIR"]
        try:
            prod.compose("run", "--rm", "--no-deps", "-T", "backup", "prune")
        finally:
            prod.env["BACKUP_DIR"] = kept_dir
        survivors = sorted(path.name for path in folder.glob("example-*.dump"))
        daily = [f"example-202611{day}T150000Z.dump" for day in range(19, 26)]
        weekly = ["example-20261108T150000Z.dump", "example-20261115T150000Z.dump"]  # Sundays
        monthly = [f"example-2026{month}T150000Z.dump" for month in ("0630", "0731", "0831", "0930", "1031")]
        assert survivors == sorted(daily + weekly + monthly)
        assert sorted(path.name for path in folder.glob("example-*.sha256")) == [
            f"{name}.sha256" for name in survivors
        ]
        assert (folder / "staging-20200101T000000Z.dump").exists()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_backup_service_turns_unhealthy_when_a_backup_fails(prod):
    values = secrets(prod)
    container = prod.containers("backup")[0]

    def health():
        return run("docker", "inspect", "-f", "{{.State.Health.Status}}", container).stdout.strip()

    wait_for(lambda: health() == "healthy", timeout=60, what="the backup service to be healthy")
    # Its metrics page, read as Prometheus reads it: the newest backup's time, and all well.
    newest = written_at(prod, back_up_now(prod))
    page = exported(prod, url=BACKUP_METRICS)
    assert value(page, "dockerable_backup_last_success_timestamp_seconds") == newest
    assert value(page, "dockerable_backup_last_attempt_ok") == 1
    assert value(page, "dockerable_backup_overdue_after_seconds") == 86_400 + 3_600
    prod.psql(f"ALTER USER \"{values['DB_USER']}\" PASSWORD 'not-the-one-in-secrets-json'")
    try:
        failed = prod.exec("backup", "./backup.sh", "now", check=False)
        assert failed.returncode != 0
        lines = failed.stderr.strip().splitlines()
        assert len(lines) == 1 and "backup of dockerable failed" in lines[0], failed.stderr
        wait_for(lambda: health() == "unhealthy", timeout=30, what="the backup service to turn unhealthy")
        # The failure shows at once; the last good backup is still the one before.
        page = exported(prod, url=BACKUP_METRICS)
        assert value(page, "dockerable_backup_last_attempt_ok") == 0
        assert value(page, "dockerable_backup_last_success_timestamp_seconds") == newest
    finally:
        prod.psql(f"ALTER USER \"{values['DB_USER']}\" PASSWORD '{values['DB_PASSWORD']}'")
    newer = written_at(prod, back_up_now(prod))
    wait_for(lambda: health() == "healthy", timeout=30, what="the backup service to be healthy again")
    page = exported(prod, url=BACKUP_METRICS)
    assert value(page, "dockerable_backup_last_attempt_ok") == 1
    assert value(page, "dockerable_backup_last_success_timestamp_seconds") == newer > newest


def written_at(stack, backup: str) -> float:
    """When a backup's file was written, by its modification time in the backup container."""
    return float(stack.exec("backup", "stat", "-c", "%Y", f"/backups/{backup}").stdout)


def test_a_backup_writes_no_faster_than_its_rate_limit(prod):
    # Rows that do not compress, so that the dump is large enough for a limit of 2 KiB/s to show.
    prod.psql(
        "INSERT INTO fixturebook_entry (text, created) "
        "SELECT md5(random()::text) || md5(random()::text), now() FROM generate_series(1, 300)",
    )
    try:
        start = time.monotonic()
        prod.compose("exec", "-T", "-e", "BACKUP_RATE_LIMIT=2K", "backup", "./backup.sh", "now")
        elapsed = time.monotonic() - start
    finally:
        prod.psql("DELETE FROM fixturebook_entry WHERE text ~ '^[0-9a-f]{64}$'")
    newest = prod.exec("backup", "./backup.sh", "list").stdout.split()[0]
    size = (backup_dir(prod) / newest).stat().st_size
    assert size >= 16 * 1024, size
    # pv lets the first second's worth through at once; every later 2 KiB wait their second.
    assert elapsed >= size / 2048 - 1.5, (size, elapsed)
    prod.exec("backup", "./backup.sh", "verify", newest)


def test_a_bad_backup_setting_is_one_line_and_never_a_restart_loop(prod):
    refused = prod.compose(
        "exec", "-T", "-e", "BACKUP_RATE_LIMIT=fast", "backup", "./backup.sh", "now", check=False
    )
    assert refused.returncode == 1
    assert refused.stderr == (
        "backup.sh: BACKUP_RATE_LIMIT=fast: not a rate (bytes a second: 2M, 512K, or 0 for no limit)\n"
    )
    retry = prod.exec("backup", "env", "BACKUP_RETRY_FIRST=0", "./backup.sh", "now", check=False)
    assert retry.returncode == 1
    assert retry.stderr == "backup.sh: BACKUP_RETRY_FIRST=0: not a number of seconds\n"
    # The service's own loop with a bad setting: up and idle, the reason said once and in its health.
    name = prod.compose("run", "-d", "--no-deps", "-e", "BACKUP_INTERVAL=daily", "backup").stdout.strip()
    try:
        # Its line first, however loaded the machine; then long enough for a loop to show a second.
        def said() -> str:
            return run("docker", "logs", name).stderr.strip()

        wait_for(said, 60, what="the backup loop's first line")
        time.sleep(2)
        state = json.loads(run("docker", "inspect", "-f", "{{json .State}}", name).stdout)
        assert state["Running"] and state["Restarting"] is False, state
        logs = run("docker", "logs", name).stderr.strip().splitlines()
        assert logs == ["backup.sh: BACKUP_INTERVAL=daily: not a number of seconds"], logs
        health = run("docker", "exec", name, "bash", "/dockerable/backup.sh", "health", check=False)
        assert health.returncode == 1
        assert health.stdout.strip() == "last backup failed: BACKUP_INTERVAL=daily: not a number of seconds"
        assert not [f for f in os.listdir(backup_dir(prod)) if f.endswith(".partial")]
    finally:
        run("docker", "rm", "-f", "-v", name, check=False)
        back_up_now(prod)


def test_a_failed_scheduled_backup_is_tried_again_soon_not_an_interval_later(prod):
    # As under Swarm, which may start the backup service before PostgreSQL answers.
    fresh = Path(tempfile.mkdtemp(prefix="dockerable-backups-"))
    one_off = Stack(prod.compose_file, prod.project)
    one_off.env = {**prod.env, "BACKUP_DIR": str(fresh), "BACKUP_RETRY_FIRST": "5"}
    one_off.extra_files = prod.extra_files
    prod.compose("stop", "postgres")
    name = ""
    try:
        name = one_off.compose("run", "-d", "--no-deps", "backup").stdout.strip()
        status = fresh / ".status"
        wait_for(lambda: status.exists() and status.read_text().startswith("failed"), 30, what="a failure")
        prod.compose("start", "postgres")
        # The first retry comes BACKUP_RETRY_FIRST (5 s) after the failure, the next 10 s later, and
        # so on; the interval is a day.
        wait_for(lambda: status.read_text().startswith("ok"), 60, what="the retried backup to succeed")
    finally:
        if name:
            run("docker", "rm", "-f", "-v", name, check=False)
        prod.up()
        shutil.rmtree(fresh, ignore_errors=True)


def test_restore_under_load_stops_the_app_and_serves_only_whole_databases(prod):
    sign_fixturebook(prod.url(), prod.folder / "ssl" / "server.crt", HOST, "restored-under-load")
    back_up_now(prod)
    sign_fixturebook(prod.url(), prod.folder / "ssl" / "server.crt", HOST, "written-after-the-backup")
    outcomes, stop = [], threading.Event()

    def keep_requesting():
        while not stop.is_set():
            try:
                # The list from the cache: the restore must empty it too.
                page = request(
                    "GET",
                    prod.url("/cached"),
                    ca_file=prod.folder / "ssl" / "server.crt",
                    server_name=HOST,
                    timeout=5,
                )
                outcomes.append((page.status, "written-after-the-backup" in page.text))
            except OSError:
                outcomes.append(("refused", None))  # the app is stopped meanwhile
                time.sleep(0.05)

    clients = [threading.Thread(target=keep_requesting) for _ in range(4)]
    for client in clients:
        client.start()
    try:
        time.sleep(1)
        result = restore(prod, "latest", "--yes")
        wait_for(lambda: outcomes and outcomes[-1][0] == 200, timeout=60, what="the app to serve again")
        time.sleep(1)
    finally:
        stop.set()
        for client in clients:
            client.join()
    assert result.returncode == 0, result.stderr
    assert "restored" in result.stdout
    statuses = {status for status, _ in outcomes}
    assert statuses <= {200, "refused"}, statuses  # no error page from a half-restored database
    served = [after for status, after in outcomes if status == 200]
    # Before the restore the later row is served; after it, never again.
    assert served[0] is True and served[-1] is False, outcomes


def sign_with_picture(stack, picture: str) -> None:
    """A row of the fixture app naming `picture`, a file of the uploads' storage."""
    row = f"('a picture', '{picture}', now())"
    stack.psql(f"INSERT INTO fixturebook_entry (text, picture, created) VALUES {row}")


def test_the_drill_passes_a_good_backup_and_drops_its_scratch_database(prod):
    sign_with_picture(prod, save_uploads(prod)["photo.png"][0])
    back_up_now(prod)
    result = restore(prod, "latest", "--drill")
    assert result.returncode == 0, result.stderr
    assert "passes the drill" in result.stdout
    assert re.search(r"public\.fixturebook_entry: \d+ rows", result.stderr), result.stderr
    assert re.search(r"\.media\.tar: \d+ uploaded files", result.stderr), result.stderr
    assert re.search(r"uploads: the database names [1-9]\d* uploaded files, all in the backup", result.stderr)
    assert "_drill" not in prod.psql("SELECT datname FROM pg_database")


def test_the_drill_fails_a_backup_whose_rows_name_a_file_its_uploads_lack(prod):
    gone = "fixturebook/AbCdEfGh_gone.png"
    sign_with_picture(prod, gone)
    try:
        name = back_up_now(prod)
        result = restore(prod, name, "--drill")
    finally:
        prod.psql(f"DELETE FROM fixturebook_entry WHERE picture = '{gone}'")
        back_up_now(prod)  # `latest` is whole again for the tests after this one
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert re.fullmatch(
        rf"restore\.sh: {re.escape(name)}: restores, but the database names \d+ uploaded files, "
        rf"1 of them not in the backup: {gone}",
        lines[-1],
    ), result.stderr
    assert "_drill" not in prod.psql("SELECT datname FROM pg_database")


def test_the_drill_fails_a_backup_whose_schema_is_not_the_codes(prod):
    # A backup taken as if the fixture app's migration had never run.
    removed = prod.psql(
        "DELETE FROM django_migrations WHERE app = 'fixturebook' RETURNING id, app, name, applied"
    )
    try:
        name = back_up_now(prod)
    finally:
        for row in removed.splitlines()[:-1]:  # the last line is psql's "DELETE n"
            ident, app, migration, applied = row.split("|")
            prod.psql(f"INSERT INTO django_migrations VALUES ({ident}, '{app}', '{migration}', '{applied}')")
    result = restore(prod, name, "--drill")
    assert result.returncode != 0
    assert f"restore.sh: {name}: restores, but its schema is not the code's" in result.stderr
    assert "_drill" not in prod.psql("SELECT datname FROM pg_database")


def test_backup_sh_runs_one_script_per_command_and_names_them_for_an_unknown_one(prod):
    commands = prod.exec("backup", "ls", "/dockerable/backup").stdout.split()
    assert "_lib.sh" in commands and {"now", "restore", "drill", "loop", "health"} <= set(commands)
    scratch = prod.exec("backup", "./backup.sh", "drill-database").stdout
    assert scratch == f"{secrets(prod)['DB_NAME']}_drill\n"
    for bad in ("bogus", "_lib.sh", "../backup.sh"):
        refused = prod.exec("backup", "./backup.sh", bad, check=False)
        assert refused.returncode == 1
        listed = "(use one of: drill drill-clean drill-database export health import list loop media-names "
        assert refused.stderr.startswith(f"backup.sh: unknown command '{bad}' {listed}"), refused.stderr
        assert "_lib.sh" not in refused.stderr.split("(use one of:")[1]
        assert len(refused.stderr.splitlines()) == 1


def test_the_backup_container_leaves_no_anonymous_volume(prod):
    mounts = json.loads(
        run("docker", "inspect", "-f", "{{json .Mounts}}", prod.containers("backup")[0]).stdout
    )
    named = ("_backups", "_media")
    assert all(mount["Type"] != "volume" or mount["Name"].endswith(named) for mount in mounts), mounts


def age_keypair(folder: Path, name: str) -> str:
    """A new age private key in folder/name (0600); returns its public key."""
    key = folder / name
    run(
        "docker",
        "run",
        "--rm",
        "--user",
        f"{os.getuid()}:{os.getgid()}",
        "-v",
        f"{folder}:/keys",
        "--entrypoint",
        "age-keygen",
        f"{BACKUP_REPOSITORY}:postgres-18",
        "-o",
        f"/keys/{name}",
    )
    return re.search(r"^# public key: (age1\S+)$", key.read_text(), re.M).group(1)


@pytest.fixture
def encrypting(prod):
    """The environment's backup-recipients.txt names a public key; yields the folder of its private key."""
    recipients = prod.folder / "backup-recipients.txt"
    unencrypted = recipients.read_text()
    keys = Path(tempfile.mkdtemp(prefix="dockerable-age-"))
    try:
        # Written in place: the running container has this file's inode bind-mounted.
        recipients.write_text(unencrypted + age_keypair(keys, "server.key") + "\n")
        yield keys
    finally:
        recipients.write_text(unencrypted)
        shutil.rmtree(keys, ignore_errors=True)


def test_an_encrypted_backup_restores_only_with_its_private_key(prod, encrypting):
    sign_fixturebook(prod.url(), prod.folder / "ssl" / "server.crt", HOST, "encrypted-secret-row")
    save_uploads(prod)
    files = uploads(prod)
    name = back_up_now(prod)
    assert re.match(r"^example-\d{8}T\d{6}Z\.dump\.age$", name), name
    data = (backup_dir(prod) / name).read_bytes()
    assert data.startswith(b"age-encryption.org/v1\n") and b"encrypted-secret-row" not in data
    data = (backup_dir(prod) / name.replace(".dump", ".media.tar")).read_bytes()
    assert data.startswith(b"age-encryption.org/v1\n") and b"document.title" not in data
    assert "checksum good (encrypted" in prod.exec("backup", "./backup.sh", "verify", name).stdout
    age_keypair(encrypting, "wrong.key")
    sign_fixturebook(prod.url(), prod.folder / "ssl" / "server.crt", HOST, "written-after-the-backup")
    save_uploads(prod)
    before = entries(prod)
    app = prod.containers("app")[0]
    started = run("docker", "inspect", "-f", "{{.State.StartedAt}}", app).stdout

    for args, why in [
        ((), f"{name}: encrypted: give its age private key with restore.sh --identity KEYFILE"),
        (("--identity", encrypting / "missing.key"), "not a readable file (the age private key)"),
        (("--identity", encrypting / "wrong.key"), f"{name}: cannot be decrypted with the identity given"),
    ]:
        result = restore(prod, name, "--yes", *map(str, args))
        assert result.returncode != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and why in lines[0], result.stderr
        assert entries(prod) == before
        # Refused before anything stopped: the app was never restarted.
        assert run("docker", "inspect", "-f", "{{.State.StartedAt}}", app).stdout == started

    key = str(encrypting / "server.key")
    result = restore(prod, name, "--drill", "--identity", key)
    assert result.returncode == 0, result.stderr
    result = restore(prod, name, "--yes", "--identity", key)
    assert result.returncode == 0, result.stderr
    after = entries(prod)
    assert "encrypted-secret-row" in after and "written-after-the-backup" not in after
    assert uploads(prod) == files
    # The safety copy the restore took first is encrypted too.
    assert any(path.name.endswith("-pre-restore.dump.age") for path in backup_dir(prod).iterdir())


def test_checkenv_warns_when_the_last_backup_failed_or_is_overdue(prod, checkout):
    def last_backup_line():
        result = envtool("checkenv", "example", "--dev", cwd=checkout, COMPOSE_PROJECT_NAME=prod.project)
        lines = [line for line in result.stdout.splitlines() if "last backup" in line]
        assert len(lines) == 1, result.stdout
        return lines[0]

    back_up_now(prod)
    assert last_backup_line().startswith("ok") and "within its schedule" in last_backup_line()
    status = backup_dir(prod) / ".status"
    kept = status.read_text()
    try:
        # The newest backup as the service records it, two days ago under a daily schedule.
        state, _, detail = kept.split(" ", 2)
        status.write_text(f"{state} {int(time.time()) - 2 * 86400} {detail}")
        line = last_backup_line()
        assert line.startswith("WARNING") and "is overdue" in line, line
    finally:
        status.write_text(kept)
    assert "not checked" in envtool("checkenv", "example", "--dev", cwd=checkout).stdout
