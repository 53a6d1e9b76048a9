"""The one secrets.json loader: each fault is one line, the same line whichever script asked."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dockerable.envtools.checks import ERROR, OK, read_secrets
from dockerable.runtime import environment
from dockerable.tests.docker_stack import BACKUP_REPOSITORY, REPO, run
from dockerable.tests.manage_cli import manage

SAMPLE = json.loads((REPO / "project" / "settings" / "example" / "secrets.json").read_text())
LOADER = REPO / "dockerable" / "runtime" / "environment.py"


def without(key: str) -> str:
    return json.dumps({name: value for name, value in SAMPLE.items() if name != key})


def with_value(key: str, value) -> str:
    return json.dumps({**SAMPLE, key: value})


# Each fault: what the file holds (None: a folder where the file should be) and the line after "PATH: ".
FAULTS = {
    "no-secret-key": (without("SECRET_KEY"), "missing key 'SECRET_KEY'"),
    "no-db-name": (without("DB_NAME"), "missing key 'DB_NAME'"),
    "no-db-user": (without("DB_USER"), "missing key 'DB_USER'"),
    "no-db-password": (without("DB_PASSWORD"), "missing key 'DB_PASSWORD'"),
    "no-db-keys": ('{"SECRET_KEY": "k"}', "missing keys 'DB_NAME', 'DB_USER', 'DB_PASSWORD'"),
    "number": (with_value("DB_PASSWORD", 5), "key 'DB_PASSWORD' must be a non-empty string"),
    "empty": (with_value("SECRET_KEY", ""), "key 'SECRET_KEY' must be a non-empty string"),
    "optional-wrong-type": (with_value("DB_HOST", ["db"]), "key 'DB_HOST' must be a non-empty string"),
    "fallbacks-not-a-list": (
        with_value("SECRET_KEY_FALLBACKS", "an-earlier-key"),
        "key 'SECRET_KEY_FALLBACKS' must be a list of earlier SECRET_KEYs (non-empty strings)",
    ),
    "db-fallbacks-with-an-empty-one": (
        with_value("DB_PASSWORD_FALLBACKS", ["an-earlier-password", ""]),
        "key 'DB_PASSWORD_FALLBACKS' must be a list of earlier DB_PASSWORDs (non-empty strings)",
    ),
    "domain-with-scheme": (
        with_value("DOMAIN", "https://www.example.com/"),
        "key 'DOMAIN' must be a host name such as www.example.com (no scheme, port or path)",
    ),
    "bucket-without-keys": (
        with_value("MEDIA_S3_BUCKET", "uploads"),
        "missing key 'MEDIA_S3_ACCESS_KEY_ID': object storage for uploads needs MEDIA_S3_BUCKET, "
        "MEDIA_S3_ACCESS_KEY_ID, MEDIA_S3_SECRET_ACCESS_KEY",
    ),
    "bucket-name": (
        with_value("MEDIA_S3_BUCKET", "My_Uploads"),
        "key 'MEDIA_S3_BUCKET' must be a bucket name: 3 to 63 lowercase letters, digits, dots and hyphens",
    ),
    "endpoint-with-path": (
        with_value("MEDIA_S3_ENDPOINT_URL", "https://s3.example.com/uploads"),
        "key 'MEDIA_S3_ENDPOINT_URL' must be the storage's URL, such as https://s3.example.com (no path)",
    ),
    "mail-port": (
        json.dumps({**SAMPLE, "EMAIL_HOST": "smtp.example.com", "EMAIL_PORT": "smtp"}),
        "key 'EMAIL_PORT' must be a port number from 1 to 65535, as a string (such as \"587\")",
    ),
    "mail-without-host": (
        with_value("EMAIL_HOST_PASSWORD", "p"),
        "missing key 'EMAIL_HOST': the other EMAIL_ keys need a mail server",
    ),
    "mail-host-with-port": (
        with_value("EMAIL_HOST", "smtp.example.com:587"),
        "key 'EMAIL_HOST' must be the mail server's host name, such as smtp.example.com (no port)",
    ),
    "mail-security": (
        with_value("EMAIL_SECURITY", "ssl"),
        "key 'EMAIL_SECURITY' must be one of starttls, tls, none",
    ),
    "sentry-dsn-without-key": (
        with_value("SENTRY_DSN", "https://o1.ingest.sentry.io/123"),
        "key 'SENTRY_DSN' must be the DSN the error service gives, "
        "such as https://KEY@o1.ingest.sentry.io/123",
    ),
    "syntax": (
        '{\n  "SECRET_KEY": "x",\n  "DB_NAME" "db"\n}\n',
        "not valid JSON at line 3, column 13: Expecting ':' delimiter",
    ),
    "list": ('["SECRET_KEY"]', 'not a JSON object of "KEY": "value" pairs'),
    "unreadable": (None, "cannot read the secrets file: Is a directory"),
}
# What a stdin reader (a deploy) can be given: a file's text.
TEXT_FAULTS = [name for name, (text, _) in FAULTS.items() if text is not None]
# The faults PostgreSQL's and the backups' readers meet, asking DB_NAME, DB_USER and DB_PASSWORD in
# turn (compose/secrets.sh): the same line. (Without all three, they name the first, DB_NAME.)
DATABASE_FAULTS = ["no-db-name", "no-db-user", "no-db-password", "number", "syntax", "list", "unreadable"]
DATABASE_KEYS = ("DB_NAME", "DB_USER", "DB_PASSWORD")


@pytest.fixture(scope="module")
def faults(tmp_path_factory) -> Path:
    """A folder with one file per fault, each named after it, readable by a container's app user."""
    folder = tmp_path_factory.mktemp("faults")
    folder.chmod(0o755)
    for name, (text, _) in FAULTS.items():
        path = folder / f"{name}.json"
        if text is None:
            path.mkdir()
        else:
            path.write_text(text)
    return folder


def expected(path: Path | str, name: str) -> str:
    return f"{path}: {FAULTS[name][1]}"


@pytest.mark.parametrize("name", FAULTS)
def test_the_loader_raises_one_line_naming_file_and_key(faults, name):
    path = faults / f"{name}.json"
    with pytest.raises(environment.SecretsError) as caught:
        environment.read(path)
    assert str(caught.value) == expected(path, name)


def test_a_missing_file_says_so_and_how_to_point_elsewhere(tmp_path):
    with pytest.raises(environment.SecretsError) as caught:
        environment.read(tmp_path / "secrets.json")
    assert str(caught.value) == (
        f"{tmp_path / 'secrets.json'}: secrets file not found (set DJANGO_SECRETS_FILE to use another file)"
    )


def test_the_sample_passes_and_its_database_part_holds_the_db_keys_only():
    secrets = environment.read(REPO / "project" / "settings" / "example" / "secrets.json")
    assert secrets.database() == {key: value for key, value in SAMPLE.items() if key.startswith("DB_")}
    assert "SECRET_KEY" not in secrets.database()


@pytest.mark.parametrize("name", FAULTS)
def test_the_settings_stop_on_the_same_line(faults, name):
    path = faults / f"{name}.json"
    result = manage("check", "--settings=project.settings.example.settings", DJANGO_SECRETS_FILE=str(path))
    assert result.returncode == 78, result.stderr
    assert result.stderr.splitlines() == [f"manage.py: configuration error: {expected(path, name)}"]


@pytest.mark.parametrize("name", FAULTS)
def test_checkenv_reports_the_same_line(tmp_path, faults, name):
    folder = tmp_path / "env"
    folder.mkdir()
    source = faults / f"{name}.json"
    if source.is_dir():
        (folder / "secrets.json").mkdir()
    else:
        (folder / "secrets.json").write_bytes(source.read_bytes())
    _, findings = read_secrets(folder)
    assert [(finding.severity, finding.detail) for finding in findings] == [
        (ERROR, expected(folder / "secrets.json", name))
    ]


def test_checkenv_passes_the_sample():
    _, findings = read_secrets(REPO / "project" / "settings" / "example")
    assert [finding.severity for finding in findings] == [OK]


def script(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """The loader run as cmd.sh and the Swarm deploy run it: a file, no site-packages."""
    return subprocess.run(
        [sys.executable, "-I", "-S", str(LOADER), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize("name", FAULTS)
def test_the_script_says_the_same_line_and_exits_64(faults, name):
    path = faults / f"{name}.json"
    result = script("check", str(path))
    assert (result.returncode, result.stdout, result.stderr) == (64, "", expected(path, name) + "\n")


def test_the_script_prints_the_database_part_as_json_and_nothing_else():
    sample = REPO / "project" / "settings" / "example" / "secrets.json"
    result = script("database", "-", "named.json", stdin=sample.read_text())
    assert result.returncode == 0, result.stderr
    # The bytes Swarm's database secret is named after (docs/swarm.md): one change restarts PostgreSQL.
    password = SAMPLE["DB_PASSWORD"]
    assert result.stdout == (
        f'{{"DB_HOST":"postgres","DB_NAME":"dockerable","DB_PASSWORD":"{password}","DB_USER":"dockerable"}}'
    )
    assert script("check", str(sample)).returncode == 0
    assert script("bogus", str(sample)).returncode == 64


def test_the_script_gives_one_key_a_list_and_the_health_checks_service_file(tmp_path):
    # Swarm's backups read a file of the database's keys only: no other key is asked for.
    database = tmp_path / "database.json"
    database.write_text(json.dumps({"DB_NAME": "shop", "DB_USER": "owner", "DB_PASSWORD": "p w",
                                    "DB_PASSWORD_FALLBACKS": ["old one", "older"]}))  # fmt: skip
    assert script("value", "DB_PASSWORD", str(database)).stdout == "p w"
    assert script("list", "DB_PASSWORD_FALLBACKS", str(database)).stdout == "old one\nolder\n"
    assert script("pg-service", str(database)).stdout == "[dockerable]\nuser=owner\ndbname=shop\n"
    assert script("value", "DB_NAME", "-", "named.json", stdin=database.read_text()).stdout == "shop"
    # No fallbacks: nothing to try.
    sample = REPO / "project" / "settings" / "example" / "secrets.json"
    assert script("list", "DB_PASSWORD_FALLBACKS", str(sample)).stdout == ""
    # A missing key, an item a script could not read one a line, a key the template does not have
    # or that is not a list: one line each, exit 64.
    database.write_text(json.dumps({"DB_NAME": "shop", "DB_PASSWORD_FALLBACKS": ["two\nlines"]}))
    refusals = {
        ("value", "DB_USER"): f"{database}: missing key 'DB_USER'\n",
        ("pg-service",): f"{database}: missing key 'DB_USER'\n",
        ("list", "DB_PASSWORD_FALLBACKS"): f"{database}: key 'DB_PASSWORD_FALLBACKS' has an item with "
        "a line break\n",
    }
    for args, line in refusals.items():
        result = script(*args, str(database))
        assert (result.returncode, result.stdout, result.stderr) == (64, "", line), args
    for args in (("value", "MY_KEY"), ("list", "DB_NAME"), ("value",)):
        result = script(*args, str(database))
        assert result.returncode == 64 and result.stderr.startswith("usage: environment.py check|"), args


@pytest.mark.parametrize("name", DATABASE_FAULTS)
def test_the_database_keys_fault_with_the_same_line_as_the_whole_file(faults, name):
    path = faults / f"{name}.json"
    results = [script("value", key, str(path)) for key in DATABASE_KEYS]
    refused = next(result for result in results if result.returncode != 0)
    assert (refused.returncode, refused.stdout, refused.stderr) == (64, "", expected(path, name) + "\n")


@pytest.mark.docker
def test_the_images_preflight_and_the_swarm_deploys_reader_say_the_same_line(faults, test_image):
    """cmd.sh check (the preflight service) and the deploy's `database -` (swarm/deploy.sh), run as
    they are: in the image, as root with the app container's capabilities, and as the app user."""
    for name in FAULTS:
        result = run(
            "docker", "run", "--rm", "--network", "none", "--user", "0:0", "--cap-drop", "ALL",
            "--cap-add", "DAC_READ_SEARCH", "--volume", f"{faults}:/faults:ro",
            "--env", "ENV=DEV", "--env", "DJANGO_SETTINGS_MODULE=project.settings.example.settings",
            "--env", f"DJANGO_SECRETS_FILE=/faults/{name}.json",
            test_image, "/dockerable/cmd.sh", "check",
            check=False,
        )  # fmt: skip
        line = f"cmd.sh: {expected(f'/faults/{name}.json', name)}\n"
        assert (result.returncode, result.stderr) == (64, line)
    for name in TEXT_FAULTS:
        path = faults / f"{name}.json"
        result = run(
            "docker", "run", "--rm", "-i", "--network", "none", "--user", "10001:10001",
            "--entrypoint", "python", test_image,
            "-I", "-S", "/app/dockerable/runtime/environment.py", "database", "-", str(path),
            check=False, input_text=path.read_text(),
        )  # fmt: skip
        assert (result.returncode, result.stdout, result.stderr) == (64, "", expected(path, name) + "\n")


@pytest.mark.docker
def test_postgres_and_the_backups_say_the_same_line_in_their_images(faults, test_image):  # pylint: disable=unused-argument
    """compose/secrets.sh run as Compose runs it, through the loader: PostgreSQL's entrypoint in the
    database image (the loader mounted) and a backup command in the backup image (the loader in it),
    as root with their services' capabilities, on the file mounted where the services mount it."""
    compose_scripts = REPO / "dockerable" / "compose"
    for name in DATABASE_FAULTS:
        line = f"/run/secrets/django.json: {FAULTS[name][1]}\n"
        mount = ["--volume", f"{faults / f'{name}.json'}:/run/secrets/django.json:ro"]
        postgres = run(
            "docker", "run", "--rm", "--network", "none", "--cap-drop", "ALL",
            "--cap-add", "DAC_READ_SEARCH", "--cap-add", "CHOWN", "--cap-add", "FOWNER", *mount,
            "--volume", f"{compose_scripts}:/dockerable:ro",
            "--volume", f"{LOADER}:/opt/dockerable/environment.py:ro",
            "--entrypoint", "bash", f"{BACKUP_REPOSITORY}:database-18", "/dockerable/postgres-entrypoint.sh",
            check=False,
        )  # fmt: skip
        assert (postgres.returncode, postgres.stderr) == (64, f"postgres-entrypoint.sh: {line}"), name
        backup = run(
            "docker", "run", "--rm", "--network", "none", "--cap-drop", "ALL", "--cap-add", "DAC_OVERRIDE",
            *mount, "--env", "DJANGO_SETTINGS_MODULE=project.settings.example.settings",
            "--entrypoint", "bash", f"{BACKUP_REPOSITORY}:postgres-18",
            "/dockerable/backup.sh", "export", "/tmp/x",
            check=False,
        )  # fmt: skip
        assert (backup.returncode, backup.stderr) == (64, f"export: {line}"), name
