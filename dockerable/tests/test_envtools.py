"""newenv, checkenv and upgradeenv on a private git checkout: what they make, refuse and report."""

import datetime
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from dockerable.envtools.certificates import self_signed
from dockerable.envtools.compose import database_text, postgres_major, render
from dockerable.envtools.layout import BACKUP_RECIPIENTS, COMPOSE_FILES, DATABASE_FILE, STACK_FILE
from dockerable.tests.advisory_stand_in import ADVISORY, AdvisoryStandIn
from dockerable.tests.docker_stack import REPO, Stack, free_port, git_copy, run
from dockerable.tests.http_client import request
from dockerable.tests.manage_cli import envtool

SAMPLE = REPO / "project" / "settings" / "example"
LEGACY = Path(__file__).resolve().parent / "data" / "legacy-environment"


@pytest.fixture(scope="module")
def repo():
    """A copy of the checkout that is a git repository of its own (for checkenv's ignore check)."""
    with git_copy("dockerable-envtools-") as root:
        yield root


@pytest.fixture(scope="module")
def staging(repo):
    """`newenv staging` in the module's checkout: (its folder, newenv's result)."""
    result = envtool("newenv", "staging", "--domain", "staging.example.test", cwd=repo)
    assert result.returncode == 0, result.stderr
    return repo / "project" / "settings" / "staging", result


def in_tools_image(repo: Path, tools: dict, *args: str, mount: str = "rw") -> subprocess.CompletedProcess:
    """ARGS in the tools image as dockerable/run runs them, with project/settings mounted `mount`."""
    settings_dir = repo / "project" / "settings"
    return run(
        "docker", "run", "--rm", "--user", f"{os.getuid()}:{os.getgid()}",
        "-v", f"{repo}:{repo}", "-v", f"{settings_dir}:{settings_dir}:{mount}", "-w", str(repo),
        tools["DOCKERABLE_TOOLS_IMAGE"], *args, check=False,
    )  # fmt: skip


def secrets_of(folder: Path) -> dict:
    return json.loads((folder / "secrets.json").read_text())


def snapshot(folder: Path) -> dict:
    """Every file under `folder` with its bytes and mode."""
    return {
        p.relative_to(folder): (p.read_bytes(), p.stat().st_mode)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def one_error_line(result) -> str:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_newenv_makes_a_complete_private_environment(staging):
    staging, result = staging
    assert "checkenv staging" in result.stdout  # it tells the next commands
    for name in (
        "__init__.py",
        "settings.py",
        "docker-compose.yml",
        "docker-compose-dev.yml",
        "secrets.json",
        "ssl/server.crt",
        "ssl/server.key",
        BACKUP_RECIPIENTS,
        STACK_FILE,
        DATABASE_FILE,
    ):
        assert (staging / name).is_file(), name
    assert (staging / "secrets.json").stat().st_mode & 0o777 == 0o600
    assert (staging / "ssl" / "server.key").stat().st_mode & 0o777 == 0o600
    ours, sample = secrets_of(staging), secrets_of(SAMPLE)
    assert set(ours) - {"_comment"} == set(sample) - {"_comment"}
    assert ours["SECRET_KEY"] != sample["SECRET_KEY"] and ours["DB_PASSWORD"] != sample["DB_PASSWORD"]
    # The host it serves is data in secrets.json: settings.py is the source's, unedited.
    assert ours["DOMAIN"] == "staging.example.test"
    assert (staging / "settings.py").read_bytes() == (SAMPLE / "settings.py").read_bytes()
    for name in ("settings.py", *COMPOSE_FILES):
        text = (staging / name).read_text()
        assert "example" not in text.replace("staging.example.test", ""), name
        assert "SAMPLE" not in text, name
    assert "name: dockerable-staging" in (staging / "docker-compose.yml").read_text()
    assert "ACME_DOMAINS: staging.example.test" in (staging / "docker-compose-proxy.yml").read_text()
    assert "ENVIRONMENT_NAME" not in (staging / "settings.py").read_text()
    cert = x509.load_pem_x509_certificate((staging / "ssl" / "server.crt").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"staging.example.test", "localhost"} <= set(names.get_values_for_type(x509.DNSName))
    for server_cert in (cert, x509.load_pem_x509_certificate((SAMPLE / "ssl" / "server.crt").read_bytes())):
        assert not server_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        assert not server_cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert (staging / "ssl" / "server.key").read_bytes() != (SAMPLE / "ssl" / "server.key").read_bytes()


@pytest.mark.docker
def test_newenv_in_the_tools_image_makes_different_secrets(repo, staging, tools_image):
    made = in_tools_image(repo, tools_image, "newenv", "other")
    assert made.returncode == 0, made.stderr
    settings_dir = repo / "project" / "settings"
    other, staging = settings_dir / "other", staging[0]
    assert secrets_of(other)["SECRET_KEY"] != secrets_of(staging)["SECRET_KEY"]
    assert secrets_of(other)["DB_PASSWORD"] != secrets_of(staging)["DB_PASSWORD"]
    assert (other / "ssl" / "server.key").stat().st_mode & 0o777 == 0o600


def test_newenv_refuses_an_existing_name_and_changes_nothing(repo, staging):
    staging, _ = staging
    before = snapshot(staging)
    line = one_error_line(envtool("newenv", "staging", cwd=repo))
    assert "already exists" in line and "staging" in line
    assert snapshot(staging) == before


def leftovers(repo) -> list[str]:
    return [p.name for p in (repo / "project" / "settings").iterdir() if p.name.endswith(".partial")]


def test_newenv_refuses_a_bad_domain_and_serves_a_host_django_accepts_by_default(repo):
    line = one_error_line(envtool("newenv", "web", "--domain", "https://web.example.com", cwd=repo))
    assert line.endswith(
        "--domain 'https://web.example.com': not a host name such as www.example.com"
        " (no scheme, port or path)"
    ), line
    assert not (repo / "project" / "settings" / "web").exists() and not leftovers(repo)
    # An underscore is fine in a package name and refused by Django in a Host header.
    made = envtool("newenv", "my_site", cwd=repo)
    assert made.returncode == 0, made.stderr
    try:
        assert secrets_of(repo / "project" / "settings" / "my_site")["DOMAIN"] == "my-site.localhost"
    finally:
        shutil.rmtree(repo / "project" / "settings" / "my_site")


def test_newenv_refuses_a_source_whose_settings_py_still_assigns_the_domain(repo):
    """An environment from before DOMAIN moved into secrets.json: a copy would serve its host."""
    old = repo / "project" / "settings" / "olden"
    shutil.copytree(SAMPLE, old)
    try:
        settings_py = old / "settings.py"
        settings_py.write_text(settings_py.read_text().replace('SECRETS["DOMAIN"]', '"olden.example.test"'))
        line = one_error_line(envtool("newenv", "newer", "--from", "olden", cwd=repo))
        assert line.endswith(
            f"{settings_py}: assigns DOMAIN a string; a copy would serve that host: make it read "
            'DOMAIN = SECRETS["DOMAIN"] (docs/environments.md), or copy another (--from)'
        ), line
        assert not (repo / "project" / "settings" / "newer").exists() and not leftovers(repo)
    finally:
        shutil.rmtree(old)


def test_newenv_refuses_a_bad_name_and_leaves_nothing(repo):
    line = one_error_line(envtool("newenv", "bad-name", cwd=repo))
    assert "'bad-name' is not a valid environment name" in line
    assert not (repo / "project" / "settings" / "bad-name").exists()
    assert "reserved" in one_error_line(envtool("newenv", "base", cwd=repo))
    assert not leftovers(repo)


@pytest.mark.docker
def test_newenv_refuses_an_unwritable_target_and_leaves_nothing(repo, tools_image):
    # Read-only even for root (CI runs as root, for whom chmod 555 is no barrier).
    settings_dir = repo / "project" / "settings"
    result = in_tools_image(repo, tools_image, "newenv", "blocked", mount="ro")
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "CommandError" in line]
    assert len(errors) == 1 and "cannot create the environment" in errors[0], result.stderr
    assert not (settings_dir / "blocked").exists() and not leftovers(repo)


ROTATIONS = [("rotatekey", "SECRET_KEY", "key"), ("rotatedbpassword", "DB_PASSWORD", "password")]


@pytest.mark.parametrize("rotation", ROTATIONS, ids=[command for command, _, _ in ROTATIONS])
def test_a_rotation_keeps_each_replaced_value_first_in_the_fallbacks_until_dropped(repo, staging, rotation):
    command, key, what = rotation
    staging, _ = staging
    secrets_file = staging / "secrets.json"
    kept = secrets_file.read_bytes()
    first = json.loads(kept)
    fallbacks = f"{key}_FALLBACKS"
    try:
        for result in (envtool(command, "staging", cwd=repo) for _ in range(2)):
            assert result.returncode == 0, result.stderr
            # What to do next: the app reads a new key without a restart.
            assert command != "rotatekey" or "`cmd.sh reload`" in result.stdout, result.stdout
        values = json.loads(secrets_file.read_text())
        second = values[fallbacks][0]
        assert values[fallbacks] == [second, first[key]]
        assert len({values[key], second, first[key]}) == 3
        # Nothing else changed, and the file is still the owner's alone.
        rest = {name: value for name, value in values.items() if not name.startswith(key)}
        assert rest == {name: value for name, value in first.items() if name != key}
        assert secrets_file.stat().st_mode & 0o777 == 0o600
        assert [path.name for path in staging.glob(".secrets-*")] == []
        # The settings read it, and checkenv passes.
        assert envtool("checkenv", "staging", cwd=repo).returncode == 0
        result = envtool(command, "staging", "--drop-fallbacks", cwd=repo)
        assert result.returncode == 0, result.stderr
        assert f"dropped 2 earlier {what}(s)" in result.stdout
        assert json.loads(secrets_file.read_text()) == {**first, key: values[key]}
    finally:
        secrets_file.write_bytes(kept)
    result = envtool(command, "nowhere", cwd=repo)
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, result.stderr


def test_rotatekey_refuses_settings_that_would_not_read_the_fallback(repo, staging):
    staging, _ = staging
    settings_file, secrets_file = staging / "settings.py", staging / "secrets.json"
    kept, secrets = settings_file.read_text(), secrets_file.read_bytes()
    # As environments made before the fallbacks: the line is not there.
    settings_file.write_text(
        "\n".join(line for line in kept.splitlines() if not line.startswith("SECRET_KEY_FALLBACKS")) + "\n"
    )
    try:
        result = envtool("rotatekey", "staging", cwd=repo)
    finally:
        settings_file.write_text(kept)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line == (
        f"CommandError: {settings_file} does not set SECRET_KEY_FALLBACKS: add "
        'SECRET_KEY_FALLBACKS = SECRETS.get("SECRET_KEY_FALLBACKS", []) under SECRET_KEY first'
    )
    assert secrets_file.read_bytes() == secrets  # nothing written


def test_newenv_from_an_environment_mid_rotation_keeps_none_of_its_earlier_values(repo):
    example = repo / "project" / "settings" / "example" / "secrets.json"
    kept = example.read_bytes()
    earlier = {"SECRET_KEY_FALLBACKS": ["an-old-key"], "DB_PASSWORD_FALLBACKS": ["an-old-password"]}
    example.write_text(json.dumps({**json.loads(kept), **earlier}))
    try:
        result = envtool("newenv", "midrotation", "--domain", "mid.example.test", cwd=repo)
    finally:
        example.write_bytes(kept)
    assert result.returncode == 0, result.stderr
    made = json.loads((repo / "project" / "settings" / "midrotation" / "secrets.json").read_text())
    assert "SECRET_KEY_FALLBACKS" not in made and "DB_PASSWORD_FALLBACKS" not in made, made
    assert envtool("checkenv", "midrotation", cwd=repo).returncode == 0


def test_the_loader_counts_the_earlier_database_passwords(tmp_path):
    secrets_file = tmp_path / "secrets.json"
    values = json.loads((SAMPLE / "secrets.json").read_text())
    loader = REPO / "dockerable" / "runtime" / "environment.py"
    for fallbacks, said in ((None, "0\n"), ([], "0\n"), (["a", "b"], "2\n")):
        extra = {} if fallbacks is None else {"DB_PASSWORD_FALLBACKS": fallbacks}
        secrets_file.write_text(json.dumps({**values, **extra}))
        counted = subprocess.run(
            [sys.executable, str(loader), "rotation", str(secrets_file)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert (counted.returncode, counted.stdout) == (0, said), counted.stderr


def test_rotatedbpassword_refuses_settings_that_would_not_try_the_fallback(repo, staging):
    staging, _ = staging
    settings_file, secrets_file = staging / "settings.py", staging / "secrets.json"
    base = staging.parent / "base.py"
    kept, kept_base, secrets = settings_file.read_text(), base.read_text(), secrets_file.read_bytes()
    lines = []
    try:
        # As environments made before the fallbacks: Django's own backend, then no fallbacks given.
        ours, django = '"dockerable.runtime.postgresql"', '"django.db.backends.postgresql"'
        base.write_text(kept_base.replace(ours, django))
        lines.append(envtool("rotatedbpassword", "staging", cwd=repo).stderr)
        base.write_text(kept_base)
        settings_file.write_text(
            "\n".join(line for line in kept.splitlines() if "PASSWORD_FALLBACKS=" not in line) + "\n"
        )
        lines.append(envtool("rotatedbpassword", "staging", cwd=repo).stderr)
    finally:
        base.write_text(kept_base)
        settings_file.write_text(kept)
    assert lines == [
        f'CommandError: {base} does not use the backend that tries them: set DATABASES\' "ENGINE" to '
        '"dockerable.runtime.postgresql"\n',
        f"CommandError: {settings_file} does not give the database its fallbacks: add "
        'PASSWORD_FALLBACKS=SECRETS.get("DB_PASSWORD_FALLBACKS", []) to DATABASES["default"].update(...)\n',
    ]
    assert secrets_file.read_bytes() == secrets  # nothing written


def test_checkenv_passes_a_new_environment(repo, staging):  # pylint: disable=unused-argument
    result = envtool("checkenv", "staging", cwd=repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ERROR" not in result.stdout
    assert "no issues in production mode" in result.stdout


def test_shipenv_refuses_a_lock_with_a_known_vulnerability_before_it_builds(repo, staging, tmp_path):  # pylint: disable=unused-argument
    image = f"dockerable-audit-test:{uuid.uuid4().hex[:8]}"
    with AdvisoryStandIn(tmp_path, {"django": [ADVISORY]}).serving() as feed:
        result = envtool(
            "shipenv", "staging", "--output", str(tmp_path / "dist"), cwd=repo, DOCKERABLE_IMAGE=image, **feed
        )
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("CommandError: pip-audit: known vulnerabilities (1): django "), line
    assert line.endswith("or ship anyway with --accept-vulnerabilities"), line
    # Refused before anything was built or written.
    assert not (tmp_path / "dist").exists()
    assert "Building" not in result.stdout + result.stderr


def test_checkenv_says_where_mail_goes_and_warns_when_nowhere(repo, staging):
    staging, _ = staging
    secrets_file = staging / "secrets.json"
    kept, original = secrets_file.read_bytes(), secrets_of(staging)
    lines = [
        line for line in envtool("checkenv", "staging", cwd=repo).stdout.splitlines() if " mail " in line
    ]
    assert len(lines) == 1 and lines[0].startswith("WARNING") and "no EMAIL_HOST" in lines[0], lines
    try:
        secrets_file.write_text(json.dumps({**original, "EMAIL_HOST": "smtp.example.com"}))
        result = envtool("checkenv", "staging", cwd=repo)
        lines = [line for line in result.stdout.splitlines() if " mail " in line]
        assert len(lines) == 1 and lines[0].startswith("ok") and "smtp.example.com" in lines[0], lines
        secrets_file.write_text(json.dumps({**original, "EMAIL_PORT": "587"}))
        result = envtool("checkenv", "staging", cwd=repo)
        assert result.returncode == 1
        assert "missing key 'EMAIL_HOST': the other EMAIL_ keys need a mail server" in result.stdout
    finally:
        secrets_file.write_bytes(kept)


def test_checkenv_warns_when_certbot_would_not_ask_for_the_domain(repo, staging):
    staging, _ = staging
    secrets_file, stack_file = staging / "secrets.json", staging / STACK_FILE
    kept_secrets, kept_stack = secrets_file.read_bytes(), stack_file.read_bytes()
    try:
        before = envtool("checkenv", "staging", cwd=repo).stdout.splitlines()
        assert not [line for line in before if line.startswith("WARNING") and " mail " not in line]
        # The host moved in secrets.json; the compose file's certbot still asks for the old one.
        secrets_file.write_text(json.dumps({**secrets_of(staging), "DOMAIN": "www.moved.test"}))
        # In the stack file, as a list.
        stack = yaml.safe_load(kept_stack)
        stack["services"]["certbot"] = {"environment": ["ACME_DOMAINS=staging.example.test other.test"]}
        stack_file.write_text(yaml.safe_dump(stack))
        result = envtool("checkenv", "staging", cwd=repo)
    finally:
        secrets_file.write_bytes(kept_secrets)
        stack_file.write_bytes(kept_stack)
    warnings = [line for line in result.stdout.splitlines() if "ACME_DOMAINS" in line]
    assert len(warnings) == 2, result.stdout
    for line, path, names in zip(
        warnings,
        (staging / "docker-compose-proxy.yml", stack_file),
        ("staging.example.test", "staging.example.test other.test"),
        strict=True,
    ):
        assert line.startswith("WARNING"), line
        assert line.endswith(
            f"{path}: certbot's ACME_DOMAINS ({names}) does not name DOMAIN (www.moved.test) of "
            "secrets.json: a certificate by ACME would not cover the host the app serves"
        ), line


def test_checkenv_reports_the_sample_secrets_as_errors(repo):
    result = envtool("checkenv", "example", cwd=repo)
    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if line.startswith("ERROR")]
    assert any("SECRET_KEY" in line and "public" in line for line in errors), result.stdout
    assert any("DB_PASSWORD" in line and "public" in line for line in errors), result.stdout


def test_checkenv_reports_each_problem_of_a_broken_environment(repo):
    assert envtool("newenv", "broken", cwd=repo).returncode == 0
    broken = repo / "project" / "settings" / "broken"
    # An expired certificate made with another key: mismatched and expired at once.
    long_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=400)
    _, expired_cert = self_signed("broken.localhost", days=30, not_before=long_ago)
    (broken / "ssl" / "server.crt").write_bytes(expired_cert)
    secrets = secrets_of(broken)
    del secrets["SECRET_KEY"]
    (broken / "secrets.json").write_text(json.dumps(secrets))
    (broken / "secrets.json").chmod(0o644)
    result = envtool("checkenv", "broken", cwd=repo)
    assert result.returncode == 1
    errors = "\n".join(line for line in result.stdout.splitlines() if line.startswith("ERROR"))
    assert "does not match" in errors, result.stdout
    assert "expired on" in errors, result.stdout
    assert "missing key 'SECRET_KEY'" in errors, result.stdout
    assert "secrets.json is mode 644" in errors, result.stdout


def test_checkenv_warns_of_a_certificate_near_expiry(repo):
    assert envtool("newenv", "soon", cwd=repo).returncode == 0
    soon = repo / "project" / "settings" / "soon"
    key, cert = self_signed("soon.localhost", days=10)
    (soon / "ssl" / "server.crt").write_bytes(cert)
    (soon / "ssl" / "server.key").write_bytes(key)
    result = envtool("checkenv", "soon", cwd=repo)
    warnings = [line for line in result.stdout.splitlines() if line.startswith("WARNING")]
    assert any("expires in" in line for line in warnings), result.stdout
    assert result.returncode == 0, result.stdout


def test_checkenv_reports_secrets_that_git_would_commit(repo):
    assert envtool("newenv", "leaky", cwd=repo).returncode == 0
    gitignore = repo / ".gitignore"
    original = gitignore.read_text()
    gitignore.write_text(original + "!project/settings/leaky/secrets.json\n")
    try:
        result = envtool("checkenv", "leaky", cwd=repo)
    finally:
        gitignore.write_text(original)
    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if line.startswith("ERROR")]
    assert any("not ignored by git" in line for line in errors), result.stdout


@pytest.mark.parametrize(
    "content, severity, detail",
    [
        (None, "ERROR", "backup-recipients.txt is missing (the backup service mounts it)"),
        ("AGE-SECRET-KEY-1QQQ\n", "ERROR", "backup-recipients.txt:1 is a PRIVATE key"),
        ("# a comment\nnot a key\n", "ERROR", "backup-recipients.txt:2 is not an age or SSH public key"),
        ("age1" + "q" * 58 + "\n", "ok", "backups are encrypted with age to 1 public key(s)"),
        ("# only comments\n", "ok", "backups are not encrypted"),
    ],
)
def test_checkenv_reads_the_backup_keys_file(repo, staging, content, severity, detail):
    recipients = staging[0] / BACKUP_RECIPIENTS
    kept = recipients.read_text()
    try:
        if content is None:
            recipients.unlink()
        else:
            recipients.write_text(content)
        result = envtool("checkenv", "staging", cwd=repo)
    finally:
        recipients.write_text(kept)
    lines = [line for line in result.stdout.splitlines() if "backup keys" in line]
    assert len(lines) == 1 and lines[0].startswith(severity) and detail in lines[0], result.stdout
    assert result.returncode == (1 if severity == "ERROR" else 0), result.stdout


def test_checkenv_validates_the_stack_file_over_the_shared_swarm_topology(repo, staging):
    stack_file = staging[0] / STACK_FILE
    kept = stack_file.read_text()
    assert "ok        swarm" in envtool("checkenv", "staging", cwd=repo).stdout
    try:
        stack_file.write_text("services:\n  nginx:\n    portz: [443]\n")
        result = envtool("checkenv", "staging", cwd=repo)
    finally:
        stack_file.write_text(kept)
    lines = [line for line in result.stdout.splitlines() if line.startswith("ERROR") and "swarm" in line]
    assert len(lines) == 1 and "Additional property portz is not allowed" in lines[0], result.stdout
    assert result.returncode == 1


def test_compose_files_are_thin_and_the_sample_is_what_newenv_writes(staging):
    staging, _ = staging
    total = sum(len((staging / name).read_text().splitlines()) for name in COMPOSE_FILES)
    assert total <= 121, total
    for name in COMPOSE_FILES:
        assert "dockerable/compose/services.yml" in (staging / name).read_text(), name
    # The sample is the template rendered for it, so the two cannot drift apart.
    for name, text in render("example", "example.dockerable.test").items():
        assert (SAMPLE / name).read_text() == text, name
    # New environments start on the current PostgreSQL major, with no backup key yet.
    assert (staging / DATABASE_FILE).read_text() == database_text(18)
    assert (staging / BACKUP_RECIPIENTS).read_text() == (SAMPLE / BACKUP_RECIPIENTS).read_text()
    assert all(line.startswith("#") for line in (SAMPLE / BACKUP_RECIPIENTS).read_text().splitlines())


@pytest.mark.docker
def test_every_mode_of_a_new_environment_resolves(staging):
    for name in COMPOSE_FILES:
        run("docker", "compose", "-f", str(staging[0] / name), "config", "--quiet")


@pytest.fixture
def legacy(repo):
    """An environment as earlier releases made it: compose files that copy the whole topology."""
    name = f"legacy{uuid.uuid4().hex[:6]}"
    assert envtool("newenv", name, cwd=repo).returncode == 0
    folder = repo / "project" / "settings" / name
    for path in LEGACY.iterdir():
        text = path.read_text().replace("example.dockerable.test", f"{name}.localhost")
        (folder / path.name).write_text(text.replace("example", name))
    # Its major was its compose files' alone then.
    (folder / DATABASE_FILE).unlink()
    return name, folder


def test_checkenv_names_the_fix_for_an_earlier_environment_and_upgradeenv_applies_it(repo, legacy):
    name, folder = legacy
    before = {file_name: (folder / file_name).read_text() for file_name in COMPOSE_FILES}
    result = envtool("checkenv", name, cwd=repo)
    assert result.returncode == 0, result.stdout  # it still works: a warning, not an error
    warnings = [line for line in result.stdout.splitlines() if line.startswith("WARNING")]
    layout = [line for line in warnings if "compose files" in line]
    assert len(layout) == 3, result.stdout
    assert all(f"run `dockerable/run upgradeenv {name}`" in line for line in layout), layout
    assert any("runs no backup service" in line for line in warnings), result.stdout

    upgraded = envtool("upgradeenv", name, cwd=repo)
    assert upgraded.returncode == 0, upgraded.stderr
    assert {file_name: (folder / f"{file_name}.old").read_text() for file_name in COMPOSE_FILES} == before
    # Its data is on PostgreSQL 17: the thin files keep it there (pg-upgrade.sh moves it on purpose).
    rendered = render(name, f"{name}.localhost", 17)
    assert {file_name: (folder / file_name).read_text() for file_name in COMPOSE_FILES} == {
        file_name: rendered[file_name] for file_name in COMPOSE_FILES
    }
    # What came after the environment is added: database.yml (on its 17), the backup keys file and
    # the Swarm stack file.
    assert (folder / DATABASE_FILE).read_text() == rendered[DATABASE_FILE] == database_text(17)
    assert (folder / BACKUP_RECIPIENTS).is_file()
    assert (folder / STACK_FILE).read_text() == rendered[STACK_FILE]
    after = envtool("checkenv", name, cwd=repo)
    assert "every mode extends dockerable/compose/services.yml" in after.stdout, after.stdout
    assert "runs no backup service" not in after.stdout
    assert "nothing to do" in envtool("upgradeenv", name, cwd=repo).stdout


def test_a_thin_environment_from_before_preflight_is_named_and_upgraded(repo):
    assert envtool("newenv", "thin", cwd=repo).returncode == 0
    folder = repo / "project" / "settings" / "thin"
    path = folder / "docker-compose.yml"
    current = path.read_text()
    # The file as newenv wrote it before the preflight service (and postgres's wait for it).
    start = current.index("  # One-shot, before anything else starts")
    older = current[:start] + current[current.index("  postgres:\n") :]
    older = older.replace("    depends_on: {preflight: {condition: service_completed_successfully}}\n", "")
    assert "preflight" not in older
    path.write_text(older)
    warnings = [
        line for line in envtool("checkenv", "thin", cwd=repo).stdout.splitlines() if "preflight" in line
    ]
    assert len(warnings) == 1 and warnings[0].startswith("WARNING"), warnings
    assert str(path) in warnings[0] and "upgradeenv thin" in warnings[0], warnings
    assert envtool("upgradeenv", "thin", cwd=repo).returncode == 0
    assert path.read_text() == current
    assert (folder / "docker-compose.yml.old").read_text() == older
    assert not (folder / "docker-compose-proxy.yml.old").exists()


def test_a_thin_environment_from_before_database_yml_is_named_and_keeps_its_major(repo):
    assert envtool("newenv", "ownmajor", cwd=repo).returncode == 0
    folder = repo / "project" / "settings" / "ownmajor"
    current = {name: (folder / name).read_text() for name in COMPOSE_FILES}
    # The files as newenv wrote them for an environment on 17 before database.yml: the major named
    # in the production file's postgres and backup services, one data volume declared.
    shared = "{file: ../../../dockerable/compose/services.yml, service: %s-17}"
    older = {
        name: text.replace("{file: database.yml, service: postgres}", shared % "postgres")
        .replace("{file: database.yml, service: backup}", shared % "backup")
        .replace("pgdata: {}, pgdata-18: {}, ", "pgdata: {}, ")
        for name, text in current.items()
    }
    assert older != current
    for name, text in older.items():
        (folder / name).write_text(text)
    (folder / DATABASE_FILE).unlink()
    assert postgres_major(folder) == 17
    checked = envtool("checkenv", "ownmajor", cwd=repo).stdout.splitlines()
    warnings = [line for line in checked if "PostgreSQL major" in line]
    assert len(warnings) == 3 and all(line.startswith("WARNING") for line in warnings), warnings
    assert "names its PostgreSQL major itself" in warnings[0] and "upgradeenv ownmajor" in warnings[0]
    assert envtool("upgradeenv", "ownmajor", cwd=repo).returncode == 0
    assert {name: (folder / name).read_text() for name in COMPOSE_FILES} == current
    assert (folder / DATABASE_FILE).read_text() == database_text(17)
    assert postgres_major(folder) == 17
    assert {name: (folder / f"{name}.old").read_text() for name in COMPOSE_FILES} == older


def test_checkenv_names_a_missing_database_yml_as_an_error(repo):
    assert envtool("newenv", "nomajor", cwd=repo).returncode == 0
    folder = repo / "project" / "settings" / "nomajor"
    (folder / DATABASE_FILE).unlink()
    result = envtool("checkenv", "nomajor", cwd=repo)
    errors = [line for line in result.stdout.splitlines() if line.startswith("ERROR")]
    assert result.returncode != 0 and len(errors) == 1, result.stdout
    assert f"{folder / DATABASE_FILE} is missing" in errors[0] and "database-<major>.yml" in errors[0], errors


def test_a_thin_environment_from_before_the_worker_is_named_and_upgraded(repo):
    assert envtool("newenv", "noworker", cwd=repo).returncode == 0
    folder = repo / "project" / "settings" / "noworker"
    path = folder / "docker-compose-dev.yml"
    current = path.read_text()
    # The file as newenv wrote it before the worker service, its last service.
    older = current[: current.index("  worker:\n")] + current[current.index("\nvolumes:") + 1 :]
    path.write_text(older)
    warnings = [
        line for line in envtool("checkenv", "noworker", cwd=repo).stdout.splitlines() if "never run" in line
    ]
    assert len(warnings) == 1 and warnings[0].startswith("WARNING"), warnings
    assert "tasks the app queues never run" in warnings[0] and "upgradeenv noworker" in warnings[0], warnings
    assert envtool("upgradeenv", "noworker", cwd=repo).returncode == 0
    assert path.read_text() == current


def test_upgradeenv_never_overwrites_a_kept_copy(repo, legacy):
    name, folder = legacy
    (folder / "docker-compose.yml.old").write_text("the user's own notes\n")
    before = snapshot(folder)
    line = one_error_line(envtool("upgradeenv", name, cwd=repo))
    assert f"{folder / 'docker-compose.yml.old'} already exists" in line
    assert snapshot(folder) == before


def test_the_backup_service_runs_the_database_servers_image():
    # pg_dump must not be older than the server it dumps: each major's backup image is built on
    # that major's postgres image.
    services = yaml.safe_load((REPO / "dockerable" / "compose" / "services.yml").read_text())["services"]
    majors = sorted(name.removeprefix("postgres-") for name in services if name.startswith("postgres-"))
    assert majors == ["17", "18"]
    for major in majors:
        assert services[f"postgres-{major}"]["build"]["target"] == "database"
        assert services[f"backup-{major}"]["build"]["target"] == "backup"
        assert services[f"postgres-{major}"]["build"]["args"] == {"PG_MAJOR": major}
        assert services[f"backup-{major}"]["build"]["args"] == {"PG_MAJOR": major}
    dockerfile = (REPO / "dockerable" / "Dockerfile").read_text()
    assert "\nFROM postgres:${PG_MAJOR} AS database\n" in dockerfile
    assert "\nFROM database AS backup\n" in dockerfile


# The capabilities each service adds back after dropping all (compose/services.yml says why);
# any other is a change to review, not to slip in.
CAPABILITIES = {
    "django": {"CHOWN", "DAC_READ_SEARCH", "FOWNER", "SETUID", "SETGID"},
    "postgres": {"CHOWN", "DAC_READ_SEARCH", "FOWNER", "SETUID", "SETGID"},
    "backup": {"DAC_OVERRIDE"},
    "nginx": {"CHOWN", "DAC_READ_SEARCH", "SETUID", "SETGID"},
    "certbot": set(),
    "cache": set(),
    "mail": set(),
}
# Services whose root filesystem stays writable, each for a reason compose/services.yml gives.
WRITABLE_ROOT = {"backup"}


@pytest.mark.docker
def test_every_service_of_every_mode_runs_with_least_privilege_and_limits():
    dockerfile = (REPO / "dockerable" / "Dockerfile").read_text().splitlines()
    (own_check,) = [line for line in dockerfile if line.startswith("HEALTHCHECK ")]
    for name in COMPOSE_FILES:
        config = json.loads(
            run("docker", "compose", "-f", str(SAMPLE / name), "config", "--format", "json").stdout
        )
        for service_name, service in config["services"].items():
            where = (name, service_name)
            assert "no-new-privileges:true" in service.get("security_opt", []), where
            assert service.get("pids_limit"), where
            assert service.get("mem_limit"), where
            assert service.get("cap_drop") == ["ALL"], where
            kind = service_name if service_name in CAPABILITIES else "django"
            assert set(service.get("cap_add", [])) == CAPABILITIES[kind], where
            assert service.get("read_only", False) is (service_name not in WRITABLE_ROOT), where
            assert ":" in service["image"].rsplit("/", 1)[-1], where  # an explicit tag
            # Background work (the worker, backups) yields the CPU to requests (docs/benchmarks.md).
            if service_name in ("worker", "dev-worker", "backup"):
                assert service.get("cpu_shares") == (128 if service_name == "backup" else 32), where
            # What others wait for being healthy is checked every second while it starts, not
            # after an image's first interval (up -d returns only then).
            for needed, condition in service.get("depends_on", {}).items():
                if condition["condition"] == "service_healthy":
                    check = config["services"][needed].get("healthcheck")
                    if check is None:  # the app's image's own HEALTHCHECK
                        assert needed in ("app", "dev-app") and "--start-interval=1s" in own_check, needed
                    else:
                        assert check.get("start_interval"), (name, needed)


# A third-party app with a deployment check of its own, as many have.
WIDGETS_APP = '''"""A third-party app's configuration, with its own deployment check."""

from django.apps import AppConfig
from django.core import checks


def advice(app_configs, **kwargs):
    return [checks.Warning("turn the widgets' safe mode on", id="widgets.W001")]


class WidgetsConfig(AppConfig):
    name = "widgets"

    def ready(self):
        checks.register(advice, checks.Tags.security, deploy=True)
'''


def deploy_line(result) -> str:
    (line,) = [line for line in result.stdout.splitlines() if "check --deploy" in line]
    return line


def test_checkenv_tells_an_apps_own_warning_from_the_templates_and_the_environment_can_silence_it(repo):
    assert envtool("newenv", "widgety", cwd=repo).returncode == 0
    (repo / "widgets").mkdir()
    (repo / "widgets" / "__init__.py").write_text("")
    (repo / "widgets" / "apps.py").write_text(WIDGETS_APP)
    settings_py = repo / "project" / "settings" / "widgety" / "settings.py"
    settings_py.write_text(settings_py.read_text() + 'INSTALLED_APPS = [*INSTALLED_APPS, "widgets"]\n')

    warned = envtool("checkenv", "widgety", cwd=repo)
    assert warned.returncode == 0, warned.stdout + warned.stderr
    line = deploy_line(warned)
    assert line.startswith("WARNING") and "(widgets.W001) turn the widgets' safe mode on" in line
    assert "add 'widgets.W001' to SILENCED_SYSTEM_CHECKS" in line

    # Django's own deployment checks stay the template's: any warning of theirs is an error.
    kept = settings_py.read_text()
    settings_py.write_text(kept + "SECURE_HSTS_SECONDS = 0\n")
    refused = envtool("checkenv", "widgety", cwd=repo)
    assert refused.returncode == 1
    assert any(line.startswith("ERROR") and "(security.W004)" in line for line in refused.stdout.splitlines())

    settings_py.write_text(kept + 'SILENCED_SYSTEM_CHECKS = ["widgets.W001"]\n')
    silenced = envtool("checkenv", "widgety", cwd=repo)
    assert silenced.returncode == 0 and deploy_line(silenced).startswith("ok"), silenced.stdout


def test_checkenv_names_settings_that_do_not_load(repo):
    assert envtool("newenv", "unloadable", cwd=repo).returncode == 0
    settings_py = repo / "project" / "settings" / "unloadable" / "settings.py"
    settings_py.write_text(settings_py.read_text() + "import no_such_module_here\n")
    result = envtool("checkenv", "unloadable", cwd=repo)
    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if line.startswith("ERROR")]
    missing = "No module named 'no_such_module_here'"
    assert any("settings" in line and missing in line for line in errors), result.stdout
    assert any("check --deploy" in line and missing in line for line in errors), result.stdout


def test_checkenv_says_where_uploads_go_and_refuses_a_volume_for_them_in_the_swarm_stack(repo, staging):
    folder, _ = staging
    stack_file, secrets_file = folder / STACK_FILE, folder / "secrets.json"
    kept_stack, kept_secrets = stack_file.read_text(), secrets_file.read_text()
    listed = envtool("checkenv", "staging", cwd=repo).stdout.splitlines()
    assert any(line.split()[:2] == ["ok", "uploads"] and "in the media volume" in line for line in listed)
    try:
        secrets_file.write_text(
            json.dumps(
                {
                    **json.loads(kept_secrets),
                    "MEDIA_S3_BUCKET": "staging-uploads",
                    "MEDIA_S3_ACCESS_KEY_ID": "AKIASTAGING",
                    "MEDIA_S3_SECRET_ACCESS_KEY": "a-staging-secret-key-of-its-own",
                }
            )
        )
        assert "in object storage, bucket staging-uploads" in envtool("checkenv", "staging", cwd=repo).stdout
        stack_file.write_text("services:\n  app:\n    volumes: ['media:/srv/media']\nvolumes:\n  media:\n")
        result = envtool("checkenv", "staging", cwd=repo)
    finally:
        stack_file.write_text(kept_stack)
        secrets_file.write_text(kept_secrets)
    lines = [line for line in result.stdout.splitlines() if line.startswith("ERROR") and "uploads" in line]
    assert len(lines) == 1 and "a volume at /srv/media holds each node's own files" in lines[0], result.stdout
    assert result.returncode == 1


def test_newenv_from_an_environment_with_a_bucket_leaves_the_buckets_keys_out(repo, staging):
    # Random keys for a bucket would fail at the first upload, and the source's would share its bucket.
    folder, _ = staging
    secrets_file = folder / "secrets.json"
    kept = secrets_file.read_text()
    bucket = {
        "MEDIA_S3_BUCKET": "staging-uploads",
        "MEDIA_S3_ACCESS_KEY_ID": "AKIASTAGING",
        "MEDIA_S3_SECRET_ACCESS_KEY": "a-staging-secret-key-of-its-own",
    }
    secrets_file.write_text(json.dumps({**json.loads(kept), **bucket}))
    try:
        result = envtool("newenv", "copied", "--from", "staging", cwd=repo)
    finally:
        secrets_file.write_text(kept)
    try:
        assert result.returncode == 0, result.stderr
        copied = secrets_of(repo / "project" / "settings" / "copied")
        assert not set(bucket) & set(copied) and "SECRET_KEY" in copied, copied
        assert f"Not copied from staging's secrets.json: {', '.join(bucket)} (its bucket" in result.stdout
        checked = envtool("checkenv", "copied", cwd=repo).stdout.splitlines()
        assert any(line.split()[:2] == ["ok", "uploads"] and "media volume" in line for line in checked)
    finally:
        shutil.rmtree(repo / "project" / "settings" / "copied", ignore_errors=True)


@pytest.mark.docker
def test_a_change_to_the_shared_topology_reaches_an_existing_environment(repo, staging):
    shared = repo / "dockerable" / "compose" / "services.yml"
    original = shared.read_text()
    assert original.count('max-file: "5"') == 1
    shared.write_text(original.replace('max-file: "5"', 'max-file: "3"'))
    stack = Stack(staging[0] / "docker-compose.yml", f"dd-topology-{uuid.uuid4().hex[:8]}")
    try:
        stack.compose("up", "-d", "--wait", "postgres")
        log_config = json.loads(
            run(
                "docker", "inspect", "-f", "{{json .HostConfig.LogConfig}}", stack.containers("postgres")[0]
            ).stdout
        )
        assert log_config["Config"]["max-file"] == "3"
    finally:
        stack.down(volumes=True)
        shared.write_text(original)


@pytest.mark.docker
def test_an_environment_from_an_earlier_release_still_runs(legacy, test_image):  # pylint: disable=unused-argument
    _, folder = legacy
    for file_name in COMPOSE_FILES:
        run("docker", "compose", "-f", str(folder / file_name), "config", "--quiet")
    stack = Stack(
        folder / "docker-compose.yml",
        f"dd-legacy-{uuid.uuid4().hex[:8]}",
        HTTPS_PORT=free_port(),
        HTTP_PORT=free_port(),
        PUBLISH_ADDRESS="127.0.0.1",
    )
    with stack.running():
        response = request(
            "GET",
            stack.url("/healthz"),
            ca_file=folder / "ssl" / "server.crt",
            server_name=secrets_of(folder)["DOMAIN"],
        )
        assert response.status == 200
