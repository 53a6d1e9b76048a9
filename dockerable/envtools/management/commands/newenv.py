"""`dockerable/run newenv NAME`: a new environment folder with its own secrets and certificate."""

from django.core.management.base import BaseCommand

from dockerable.envtools.layout import SAMPLE_ENV
from dockerable.envtools.scaffold import create_environment


class Command(BaseCommand):
    """Create project/settings/NAME from an existing environment (the sample by default)."""

    help = (
        "Create project/settings/NAME: settings, a compose file per mode (extending "
        "dockerable/compose/services.yml), fresh secrets.json and a self-signed certificate for "
        "--domain and localhost. Never overwrites."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="environment name: lowercase letters, digits, underscores")
        parser.add_argument("--domain", help="the FQDN it serves (default: NAME.localhost)")
        parser.add_argument(
            "--from",
            dest="source",
            default=SAMPLE_ENV,
            help=f"environment to copy settings.py and the secrets' keys from (default: {SAMPLE_ENV})",
        )

    def handle(self, *args, **options):
        made = create_environment(options["name"], options["domain"], options["source"])
        base = made.folder.parent.parent.parent
        self.stdout.write(f"Created environment '{made.name}' for {made.domain}:")
        for path in made.files:
            mode = path.stat().st_mode & 0o777
            self.stdout.write(f"  {path.relative_to(base)}  ({mode:o})")
        if made.left_out:
            self.stdout.write(
                f"Not copied from {options['source']}'s secrets.json: {', '.join(made.left_out)} (its bucket "
                "is not this environment's; uploads go to the media volume until secrets.json names a bucket "
                "of its own: docs/media.md)"
            )
        compose = f"project/settings/{made.name}"
        steps = [
            (f"dockerable/run checkenv {made.name}", ""),
            (f"docker compose -f {compose}/docker-compose-dev.yml up", "development"),
            (f"docker compose -f {compose}/docker-compose.yml up -d", "production mode"),
            (f"docker compose -f {compose}/docker-compose-proxy.yml up -d", "proxy mode (nginx, ACME)"),
            (f"dockerable/run shipenv {made.name}", "bundle for a host"),
        ]
        width = max(len(command) for command, _ in steps)
        lines = [f"  {command:{width}}  # {why}" if why else f"  {command}" for command, why in steps]
        self.stdout.write(
            "Next:\n" + "\n".join(lines) + "\n"
            "The certificate is self-signed; replace ssl/server.crt and ssl/server.key with real ones "
            "(keep server.key mode 0600)."
        )
