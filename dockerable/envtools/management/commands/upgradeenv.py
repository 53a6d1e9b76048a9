"""`dockerable/run upgradeenv NAME`: today's thin compose files, for an environment of an earlier release."""

from django.core.management.base import BaseCommand

from dockerable.envtools.compose import SHARED_TOPOLOGY
from dockerable.envtools.scaffold import upgrade_compose_files


class Command(BaseCommand):
    """Rewrite the compose files that checkenv calls outdated; keep each old one as FILE.old."""

    help = (
        "Replace the environment's compose files that are outdated (they copy the service topology, "
        "made before dockerable/compose/, or have no preflight service) by today's thin files. "
        "Each old file is kept as FILE.old."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="the environment under project/settings/")

    def handle(self, *args, **options):
        name = options["name"]
        written = upgrade_compose_files(name)
        if not written:
            self.stdout.write(
                f"Environment '{name}' already has today's thin files over {SHARED_TOPOLOGY}: nothing to do."
            )
            return
        for path in written:
            old = path.with_name(f"{path.name}.old")
            kept = f"(the old one is {old.name})" if old.exists() else "(new)"
            self.stdout.write(f"  {path.name}  {kept}")
        self.stdout.write(
            "Carry over what you had changed in the *.old files (ports, ACME_DOMAINS, extra services) as "
            "overrides in the new files, then delete the *.old files. The database and its PostgreSQL major "
            "are unchanged (docs/operations.md: dockerable/pg-upgrade.sh moves it to the next major)."
        )
