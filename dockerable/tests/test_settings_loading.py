"""Settings: the secrets loader's errors, strict booleans, and base working with no environment."""

import json

import pytest
from django.core.exceptions import ImproperlyConfigured

from dockerable.runtime.environment import SECRETS_FILE_VARIABLE, load_secrets
from dockerable.tests.docker_stack import REPO, copy_checkout
from dockerable.tests.manage_cli import manage
from project.settings import secrets_file
from project.settings.env_vars import env_bool, parse_bool


def one_line(exc: Exception) -> str:
    """The message, asserted to be a single line."""
    message = str(exc)
    assert "\n" not in message, message
    return message


def test_missing_file_names_the_file(tmp_path):
    path = tmp_path / "secrets.json"
    with pytest.raises(ImproperlyConfigured) as caught:
        load_secrets(path)
    message = one_line(caught.value)
    assert str(path) in message and "not found" in message


def test_malformed_file_says_line_and_column(tmp_path):
    path = tmp_path / "secrets.json"
    path.write_text('{\n  "SECRET_KEY": "x",\n  "DB_NAME" "db"\n}\n')
    with pytest.raises(ImproperlyConfigured) as caught:
        load_secrets(path)
    message = one_line(caught.value)
    assert str(path) in message
    assert "line 3, column 13" in message


def test_non_object_is_refused(tmp_path):
    path = tmp_path / "secrets.json"
    path.write_text('["SECRET_KEY"]')
    with pytest.raises(ImproperlyConfigured, match="JSON object"):
        load_secrets(path)


def test_a_key_of_the_users_own_is_checked_where_the_settings_read_it(tmp_path):
    path = tmp_path / "secrets.json"
    sample = json.loads((REPO / "project" / "settings" / "example" / "secrets.json").read_text())
    path.write_text(json.dumps({**sample, "MAPS_API_KEY": ""}))
    secrets = load_secrets(path)
    assert secrets["DB_USER"] == sample["DB_USER"]
    assert secrets.get("SENTRY_DSN", "none") == "none"
    with pytest.raises(ImproperlyConfigured) as caught:
        secrets["STRIPE_KEY"]  # pylint: disable=pointless-statement
    assert one_line(caught.value) == f"{path}: missing key 'STRIPE_KEY'"
    with pytest.raises(ImproperlyConfigured, match="'MAPS_API_KEY' must be a non-empty string"):
        secrets.get("MAPS_API_KEY", "default")


def test_variable_points_the_loader_elsewhere(tmp_path, monkeypatch):
    mounted = tmp_path / "run-secrets-django.json"
    sample = json.loads((REPO / "project" / "settings" / "example" / "secrets.json").read_text())
    mounted.write_text(json.dumps({**sample, "SECRET_KEY": "from-the-mounted-secret"}))
    monkeypatch.setenv(SECRETS_FILE_VARIABLE, str(mounted))
    secrets = load_secrets(tmp_path / "does-not-exist.json")
    assert secrets["SECRET_KEY"] == "from-the-mounted-secret"
    assert secrets.path == mounted


def test_settings_made_before_the_loader_moved_still_import_it():
    assert secrets_file.load_secrets is load_secrets


@pytest.mark.parametrize("raw", ["0", "false", "False", " no ", "OFF", ""])
def test_false_spellings(raw):
    assert parse_bool("DJANGO_DEBUG", raw) is False


@pytest.mark.parametrize("raw", ["1", "true", "TRUE", "yes", "on"])
def test_true_spellings(raw):
    assert parse_bool("DJANGO_DEBUG", raw) is True


@pytest.mark.parametrize("raw", ["2", "maybe", "t", "0.0", "disabled"])
def test_unrecognised_boolean_is_an_error_naming_the_variable(raw):
    with pytest.raises(ImproperlyConfigured) as caught:
        parse_bool("DJANGO_DEBUG", raw)
    assert "DJANGO_DEBUG" in one_line(caught.value)


def test_env_bool_reads_the_environment(monkeypatch):
    monkeypatch.delenv("DOCKERABLE_TEST_FLAG", raising=False)
    assert env_bool("DOCKERABLE_TEST_FLAG", default=True) is True
    monkeypatch.setenv("DOCKERABLE_TEST_FLAG", "0")
    assert env_bool("DOCKERABLE_TEST_FLAG", default=True) is False


def test_base_alone_runs_check_and_shell():
    checked = manage("check")
    assert checked.returncode == 0, checked.stderr
    shell = manage(
        "shell", "-c", "from django.conf import settings; print(settings.SETTINGS_MODULE, settings.DEBUG)"
    )
    assert shell.returncode == 0, shell.stderr
    assert "project.settings.base False" in shell.stdout


def test_base_alone_runs_collectstatic(tmp_path):
    root = copy_checkout(tmp_path)
    collected = manage("collectstatic", "--noinput", cwd=root)
    assert collected.returncode == 0, collected.stderr
    assert (root / "static" / "staticfiles.json").is_file()
    assert (root / "static" / "admin").is_dir()


def test_environment_with_missing_key_fails_with_one_line(tmp_path):
    broken = tmp_path / "secrets.json"
    broken.write_text(json.dumps({"SECRET_KEY": "k" * 60, "DB_NAME": "d", "DB_USER": "u"}))
    result = manage("check", "--settings=project.settings.example.settings", DJANGO_SECRETS_FILE=str(broken))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(broken) in lines[0] and "'DB_PASSWORD'" in lines[0]


def test_bad_debug_value_fails_with_one_line():
    result = manage("check", DJANGO_DEBUG="ture")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines == [lines[0]] and "DJANGO_DEBUG='ture'" in lines[0]


def test_dev_mode_turns_debug_on_and_https_settings_off():
    code = (
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.SECURE_HSTS_SECONDS)"
    )
    dev = manage("shell", "-c", code, "--settings=project.settings.example.settings", ENV="DEV")
    prod = manage("shell", "-c", code, "--settings=project.settings.example.settings")
    assert last_line(dev) == ["True", "False", "False", "0"], dev.stderr
    assert last_line(prod) == ["False", "True", "True", "31536000"], prod.stderr
    forced_off = manage(
        "shell", "-c", code, "--settings=project.settings.example.settings", ENV="DEV", DJANGO_DEBUG="0"
    )
    assert last_line(forced_off)[0] == "False"


def test_runserver_does_not_keep_database_connections_but_uwsgi_does():
    code = "from django.conf import settings as s; print(s.DATABASES['default']['CONN_MAX_AGE'])"
    dev = manage("shell", "-c", code, "--settings=project.settings.example.settings", ENV="DEV")
    prod = manage("shell", "-c", code, "--settings=project.settings.example.settings")
    assert last_line(dev) == ["0"], dev.stderr
    assert last_line(prod) == ["60"], prod.stderr


def last_line(result) -> list[str]:
    """Words of the last line printed (shell prints a note about auto-imports first)."""
    return result.stdout.strip().splitlines()[-1].split()
