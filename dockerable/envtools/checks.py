"""The checks behind `dockerable/run checkenv`: each returns findings with a severity."""

import datetime
import importlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.checks.security.base import (
    SECRET_KEY_INSECURE_PREFIX,
    SECRET_KEY_MIN_LENGTH,
    SECRET_KEY_MIN_UNIQUE_CHARACTERS,
)
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError

from dockerable.envtools import certificates
from dockerable.envtools.compose import SHARED_TOPOLOGY, outdated, runs_backups, services
from dockerable.envtools.layout import (
    BACKUP_RECIPIENTS,
    COMPOSE_FILES,
    DATABASE_FILE,
    PROXY_COMPOSE_FILE,
    SAMPLE_ENV,
    STACK_FILE,
    declared_domain,
    env_dir,
)
from dockerable.envtools.secret_values import is_secret, looks_public, sample_values
from dockerable.runtime import environment

ERROR, WARNING, OK = "ERROR", "WARNING", "ok"
EXPIRY_WARNING = datetime.timedelta(days=30)
# Django's deployment checks: the template's settings pass them all, so a warning of theirs is an
# error. Other apps' warnings are the apps' own (docs/environments.md, checkenv).
TEMPLATE_CHECKS = ("security.",)
# What the environment means to commit, and what must stay out of git.
COMMITTED_FILES = ("__init__.py", "settings.py", BACKUP_RECIPIENTS, STACK_FILE, DATABASE_FILE, *COMPOSE_FILES)
# The Swarm topology an environment's docker-stack.yml is merged over.
SWARM_STACK = "dockerable/swarm/stack.yml"
PRIVATE_FILES = ("secrets.json", "ssl/server.key")
# What age encrypts to: its own public keys, and SSH ones.
RECIPIENT_PREFIXES = ("age1", "ssh-ed25519 ", "ssh-rsa ")


@dataclass
class Finding:
    """One line of checkenv's table."""

    severity: str
    check: str
    detail: str


def read_secrets(folder: Path) -> tuple[dict, list[Finding]]:
    """The secrets file's contents (for the checks of its values), and the loader's verdict on it."""
    try:
        secrets = environment.read(folder / "secrets.json", schema=False)
    except environment.SecretsError as exc:
        return {}, [Finding(ERROR, "secrets", str(exc))]
    try:
        secrets.require_template_keys()
    except environment.SecretsError as exc:
        return secrets.values, [Finding(ERROR, "secrets", str(exc))]
    required = sum(environment.TEMPLATE_KEYS.values())
    return secrets.values, [Finding(OK, "secrets", f"the {required} keys every environment needs are there")]


def check_public_values(folder: Path, data: dict, dev: bool) -> list[Finding]:
    """No secret equals the sample's, a known default, or a value marked as a sample."""
    sample = sample_values(env_dir(SAMPLE_ENV) / "secrets.json")
    public = sorted(
        key
        for key, value in data.items()
        if is_secret(key) and isinstance(value, str) and looks_public(value, sample)
    )
    if not public:
        return [Finding(OK, "secret values", "no secret is the sample's or a known default")]
    severity = WARNING if dev else ERROR
    return [
        Finding(
            severity,
            "secret values",
            f"{key} in {folder / 'secrets.json'} is public (the sample's or a known default); "
            "make a new one (newenv does)",
        )
        for key in public
    ]


def check_secret_key(data: dict) -> list[Finding]:
    """SECRET_KEY is as long and varied as Django's deploy check asks."""
    key = data.get("SECRET_KEY")
    if not isinstance(key, str) or not key:
        return []  # Reported by read_secrets.
    if (
        len(key) < SECRET_KEY_MIN_LENGTH
        or len(set(key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS
        or key.startswith(SECRET_KEY_INSECURE_PREFIX)
    ):
        return [
            Finding(
                ERROR,
                "SECRET_KEY",
                f"too weak: needs {SECRET_KEY_MIN_LENGTH}+ characters, "
                f"{SECRET_KEY_MIN_UNIQUE_CHARACTERS}+ distinct, no '{SECRET_KEY_INSECURE_PREFIX}'",
            )
        ]
    return [Finding(OK, "SECRET_KEY", f"{len(key)} characters, {len(set(key))} distinct")]


def check_modes(folder: Path) -> list[Finding]:
    """Secret files and the key are readable by their owner only."""
    findings = []
    for name in PRIVATE_FILES:
        path = folder / name
        if not path.exists():
            continue
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            findings.append(Finding(ERROR, "file modes", f"{path} is mode {mode:o}: run chmod 600 {path}"))
    return findings or [Finding(OK, "file modes", "secrets.json and ssl/server.key are private (0600)")]


def check_certificate(folder: Path, hosts: list[str]) -> list[Finding]:
    """Certificate and key match, are in date, and cover the host names."""
    cert, key = folder / "ssl" / "server.crt", folder / "ssl" / "server.key"
    for path in (cert, key):
        if not path.is_file():
            return [Finding(ERROR, "certificate", f"{path} is missing")]
    try:
        facts = certificates.inspect(cert, key)
    except ValueError as exc:
        return [Finding(ERROR, "certificate", f"{cert} or {key} unreadable: {exc}")]
    findings = []
    if not facts.matches_key:
        findings.append(Finding(ERROR, "certificate", f"{cert} does not match {key}"))
    left = facts.not_after - datetime.datetime.now(datetime.UTC)
    if left.total_seconds() <= 0:
        findings.append(Finding(ERROR, "certificate", f"{cert} expired on {facts.not_after:%Y-%m-%d}"))
    elif left < EXPIRY_WARNING:
        findings.append(
            Finding(
                WARNING, "certificate", f"{cert} expires in {left.days} days ({facts.not_after:%Y-%m-%d})"
            )
        )
    uncovered = [host for host in hosts if not certificates.covers(facts, host)]
    if uncovered:
        findings.append(Finding(ERROR, "certificate", f"{cert} does not cover {', '.join(uncovered)}"))
    summary = f"matches its key, valid until {facts.not_after:%Y-%m-%d}, covers {', '.join(hosts)}"
    return findings or [Finding(OK, "certificate", summary)]


def check_git(folder: Path) -> list[Finding]:
    """Private files are ignored by git; the files meant to be committed are not."""

    def ignored(path: Path) -> bool:
        return (
            subprocess.run(
                ["git", "check-ignore", "-q", str(path)], cwd=folder, capture_output=True, check=False
            ).returncode
            == 0
        )

    inside = subprocess.run(
        ["git", "rev-parse", "--is-inside-work-tree"], cwd=folder, capture_output=True, text=True, check=False
    )
    if inside.returncode != 0:
        return [Finding(WARNING, "git", f"{folder} is not in a git checkout; ignore rules not checked")]
    if folder.name == SAMPLE_ENV:
        return [Finding(OK, "git", "the sample's files are committed on purpose")]
    findings = [
        Finding(ERROR, "git", f"{folder / name} is not ignored by git: it would be committed")
        for name in PRIVATE_FILES
        if (folder / name).exists() and not ignored(folder / name)
    ]
    findings += [
        Finding(WARNING, "git", f"{folder / name} is ignored by git, but is meant to be committed")
        for name in COMMITTED_FILES
        if (folder / name).exists() and ignored(folder / name)
    ]
    return findings or [Finding(OK, "git", "secrets and key are ignored; settings and compose files are not")]


def check_compose_layout(name: str, folder: Path) -> list[Finding]:
    """Each mode's compose file is there, extends the shared topology and has a preflight service."""
    fix = f"run `dockerable/run upgradeenv {name}` (it keeps the old files as *.old)"
    findings = []
    for file_name in COMPOSE_FILES:
        path = folder / file_name
        reason = outdated(path)
        if reason:
            findings.append(Finding(WARNING, "compose files", f"{path} {reason}: {fix}"))
    if not findings and not (folder / DATABASE_FILE).is_file():
        findings.append(
            Finding(
                ERROR,
                "compose files",
                f"{folder / DATABASE_FILE} is missing, and the compose files take PostgreSQL from it: "
                f"copy dockerable/compose/database-<major>.yml there, the major the data is on",
            )
        )
    return findings or [
        Finding(OK, "compose files", f"every mode extends {SHARED_TOPOLOGY} and checks its files first")
    ]


def acme_domains(spec: dict) -> list[str] | None:
    """The names a certbot service asks ACME for (its ACME_DOMAINS, map or list form), or None."""
    environment_spec = spec.get("environment") or {}
    if isinstance(environment_spec, list):
        environment_spec = dict(str(item).partition("=")[::2] for item in environment_spec)
    value = environment_spec.get("ACME_DOMAINS") if isinstance(environment_spec, dict) else None
    return str(value).split() if value else None


def check_acme_domains(folder: Path, domain: str | None) -> list[Finding]:
    """Where a certbot service lists ACME_DOMAINS (proxy mode, Swarm), DOMAIN is among them: the
    host the settings serve must be one the certificate covers."""
    findings = []
    for file_name in (PROXY_COMPOSE_FILE, STACK_FILE):
        path = folder / file_name
        try:
            certbot = services(path).get("certbot", {}) if path.is_file() else {}
        except ValueError:
            continue  # the compose files' own check names it
        names = acme_domains(certbot)
        if domain and names and domain not in names:
            findings.append(
                Finding(
                    WARNING,
                    "domain",
                    f"{path}: certbot's ACME_DOMAINS ({' '.join(names)}) does not name DOMAIN ({domain}) "
                    "of secrets.json: a certificate by ACME would not cover the host the app serves",
                )
            )
    return findings


def mounts(spec: dict) -> list[tuple[str, str]]:
    """A service's volumes as (source, target), short syntax or long."""
    found = []
    for volume in spec.get("volumes") or []:
        if isinstance(volume, dict):
            found.append((str(volume.get("source", "")), str(volume.get("target", ""))))
        else:
            parts = str(volume).split(":")
            found.append((parts[0], parts[1]) if len(parts) > 1 else ("", parts[0]))
    return found


def check_uploads(folder: Path, data: dict) -> list[Finding]:
    """Where uploads go: the `media` volume, or the bucket secrets.json names; and never a volume in
    a Swarm stack, whose app tasks on other nodes would not see the files one of them wrote."""
    path = folder / STACK_FILE
    try:
        app = services(path).get("app", {}) if path.is_file() else {}
    except ValueError:
        app = {}  # the stack's own check names it
    media_root = str(settings.MEDIA_ROOT)
    if media_root in (target for _, target in mounts(app)):
        return [
            Finding(
                ERROR,
                "uploads",
                f"{path}: a volume at {media_root} holds each node's own files, which app tasks on other "
                f"nodes cannot serve: name a {environment.S3_BUCKET} in secrets.json instead (docs/media.md)",
            )
        ]
    if environment.S3_BUCKET in data:
        return [Finding(OK, "uploads", f"in object storage, bucket {data[environment.S3_BUCKET]}")]
    return [
        Finding(
            OK,
            "uploads",
            f"in the media volume (a Swarm stack needs {environment.S3_BUCKET} in secrets.json for uploads)",
        )
    ]


def check_backups(folder: Path) -> list[Finding]:
    """Production mode runs the backup service, encrypts to public keys only, and backed up lately."""
    path = folder / "docker-compose.yml"
    if not path.is_file():
        return []
    try:
        found = services(path)
    except ValueError as exc:
        return [Finding(ERROR, "backups", str(exc))]
    backup = [spec for spec in found.values() if runs_backups(spec)]
    if not backup:
        return [
            Finding(
                WARNING,
                "backups",
                f"{path} runs no backup service: add the example's `backup` service "
                "and `backups` volume (docs/operations.md, Backups)",
            )
        ]
    findings = check_recipients(folder) if any(map(mounts_recipients, backup)) else []
    return findings + check_last_backup(path)


def mounts_recipients(spec: dict) -> bool:
    """True if a service mounts the environment's backup-recipients.txt (short or long syntax)."""
    return any(Path(source).name == BACKUP_RECIPIENTS for source, _ in mounts(spec))


def check_recipients(folder: Path) -> list[Finding]:
    """backup-recipients.txt: there (the backup service mounts it), and public age keys only."""
    path = folder / BACKUP_RECIPIENTS
    if not path.is_file():
        return [
            Finding(
                ERROR,
                "backup keys",
                f"{path} is missing (the backup service mounts it): "
                f"`dockerable/run upgradeenv {folder.name}` writes one with no key",
            )
        ]
    keys = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("AGE-SECRET-KEY-"):
            return [
                Finding(
                    ERROR,
                    "backup keys",
                    f"{path}:{number} is a PRIVATE key: remove it, keep it off the server",
                )
            ]
        if not line.startswith(RECIPIENT_PREFIXES):
            return [Finding(ERROR, "backup keys", f"{path}:{number} is not an age or SSH public key")]
        keys += 1
    if not keys:
        return [Finding(OK, "backup keys", f"backups are not encrypted (no public key in {path.name})")]
    return [Finding(OK, "backup keys", f"backups are encrypted with age to {keys} public key(s)")]


def check_last_backup(path: Path) -> list[Finding]:
    """Where the environment runs on this machine's Docker: its backup service's own health verdict."""
    command = ["docker", "compose", "-f", str(path), "exec", "-T", "backup", "bash", "backup.sh", "health"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return [Finding(OK, "last backup", "not checked: no Docker engine answers here")]
    if result.returncode == 0:
        return [Finding(OK, "last backup", "the last backup worked and is within its schedule")]
    # backup.sh health says why on stdout; no output: no running backup container here to ask.
    if not result.stdout.strip():
        return [Finding(OK, "last backup", "not checked: the backup service does not run on this machine")]
    return [Finding(WARNING, "last backup", f"{result.stdout.strip()} (see docker compose logs backup)")]


def load_settings_module(name: str):
    """Import the environment's settings as a plain module, for its ALLOWED_HOSTS and DOMAIN."""
    module_name = f"project.settings.{name}.settings"
    sys.modules.pop(module_name, None)
    return importlib.import_module(module_name)


def check_deploy(name: str) -> list[Finding]:
    """Django's system checks with the deployment ones, on the production settings, in a fresh process."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DB_")) and key != "ENV"
    }
    env.update(ENV="PROD", DJANGO_SETTINGS_MODULE=f"project.settings.{name}.settings")
    result = subprocess.run(
        [sys.executable, "-m", "dockerable.envtools.deploy_checks"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    try:
        messages = json.loads(result.stdout) if result.returncode == 0 else None
    except ValueError:
        messages = None
    if messages is None:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()] or ["(no output)"]
        return [Finding(ERROR, "check --deploy", f"the settings do not load: {lines[-1]}")]
    findings = [deploy_finding(message) for message in messages if message["level"] != "INFO"]
    return findings or [Finding(OK, "check --deploy", "no issues in production mode")]


def deploy_finding(message: dict) -> Finding:
    """An error for any error, and for a warning of Django's deployment checks (the template's
    settings pass them all); an app's own warning is a warning, which the environment may silence."""
    where = f"{message['object']}: " if message["object"] else ""
    detail = f"({message['id']}) {where}{message['text']}"
    if message["level"] == "ERROR" or message["id"].startswith(TEMPLATE_CHECKS):
        return Finding(ERROR, "check --deploy", detail)
    silence = f"once judged, add {message['id']!r} to SILENCED_SYSTEM_CHECKS in the environment's settings.py"
    return Finding(WARNING, "check --deploy", f"{detail} ({silence})")


def declared_hosts(folder: Path) -> list[str]:
    """The DOMAIN the environment declares, as a host list, for settings that do not load."""
    try:
        domain = declared_domain(folder)
    except environment.SecretsError:  # already the settings' finding
        return []
    return [domain] if domain else []


def configured_hosts(name: str, folder: Path) -> tuple[list[str], list[Finding]]:
    """DOMAIN and ALLOWED_HOSTS of the settings; if they do not load, the DOMAIN declared."""
    try:
        module = load_settings_module(name)
    except ImproperlyConfigured as exc:
        return declared_hosts(folder), [Finding(ERROR, "settings", str(exc))]
    # The settings are the user's code: whatever they raise is a finding, not a traceback.
    except Exception as exc:  # pylint: disable=broad-exception-caught
        return declared_hosts(folder), [Finding(ERROR, "settings", f"{type(exc).__name__}: {exc}")]
    hosts = dict.fromkeys([getattr(module, "DOMAIN", None), *module.ALLOWED_HOSTS])
    return [host for host in hosts if host], []


def check_stack(folder: Path) -> list[Finding]:
    """docker-stack.yml: there, and valid merged over dockerable/swarm/stack.yml (where docker runs)."""
    path = folder / STACK_FILE
    if not path.is_file():
        return [
            Finding(
                WARNING,
                "swarm",
                f"{path} is missing: `dockerable/run upgradeenv {folder.name}` writes one (docs/swarm.md)",
            )
        ]
    shared = Path(settings.BASE_DIR) / SWARM_STACK
    # Client-side only: no engine needed. The ${VARIABLES} deploy.sh sets are unset here: warnings.
    command = ["docker", "stack", "config", "-c", str(shared), "-c", str(path)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return [Finding(OK, "swarm", f"{path.name} not checked: no docker command here")]
    if result.returncode != 0:
        errors = [line for line in result.stderr.splitlines() if line.strip() and "is not set" not in line]
        last = (errors or ["(no output)"])[-1]
        return [Finding(ERROR, "swarm", f"{path} is not a valid stack over {SWARM_STACK}: {last}")]
    return [Finding(OK, "swarm", f"{path.name} is a valid stack over {SWARM_STACK}")]


def require_no_errors(name: str) -> None:
    """Refuse (one CommandError line) an environment that checkenv reports errors for."""
    errors = [finding for finding in run_checks(name) if finding.severity == ERROR]
    if errors:
        raise CommandError(
            f"checkenv {name} reports {len(errors)} error(s), first: {errors[0].detail}; "
            f"run `dockerable/run checkenv {name}` for all"
        )


def check_mail(data: dict) -> list[Finding]:
    """Where the mail the app sends goes: the SMTP server secrets.json names, or, with none, nowhere
    outside development mode (a password reset says "sent", and nothing leaves)."""
    if environment.EMAIL_HOST in data:
        port = data.get(environment.EMAIL_PORT, "its usual port")
        return [Finding(OK, "mail", f"through the task queue to {data[environment.EMAIL_HOST]}, {port}")]
    return [
        Finding(
            WARNING,
            "mail",
            f"no {environment.EMAIL_HOST} in secrets.json: outside development mode no mail leaves "
            "(password resets, error reports), each logged as not sent (docs/mail.md)",
        )
    ]


def run_checks(name: str, dev: bool = False) -> list[Finding]:
    """Every check on environment `name`, in the order they are printed."""
    folder = env_dir(name)
    data, findings = read_secrets(folder)
    if data:
        findings += check_public_values(folder, data, dev) + check_secret_key(data)
    findings += check_modes(folder)
    hosts, host_findings = configured_hosts(name, folder)
    findings += host_findings + check_certificate(folder, hosts)
    findings += check_acme_domains(folder, next(iter(declared_hosts(folder)), None))
    findings += check_git(folder) + check_compose_layout(name, folder) + check_backups(folder)
    findings += check_stack(folder) + check_uploads(folder, data) + check_mail(data)
    findings += check_deploy(name)
    return findings
