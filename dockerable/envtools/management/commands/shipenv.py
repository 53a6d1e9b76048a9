"""`dockerable/run shipenv NAME`: one tar with the image and the environment, ready for a host."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from dockerable.envtools.audit import PASSED, REFUSED, audit
from dockerable.envtools.bundle import make_bundle
from dockerable.envtools.checks import require_no_errors
from dockerable.envtools.layout import existing_env, image_locks
from dockerable.envtools.signing import KEY_VARIABLE, signing_key


class Command(BaseCommand):
    """Check the environment, build and save the image, and pack both into NAME-STAMP.bundle.tar."""

    help = (
        "Make a deployable bundle of an environment: the image (docker save) and the environment "
        f"folder in one tar, signed with the SSH key {KEY_VARIABLE} names. Refuses an environment that "
        "checkenv reports errors for, and an image "
        "whose locked Python packages have a known vulnerability (pip-audit) unless told to go on."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="the environment under project/settings/")
        parser.add_argument("--output", default="dist", help="folder for the bundle (default: dist)")
        parser.add_argument(
            "--accept-vulnerabilities",
            action="store_true",
            help="ship even when pip-audit finds a known vulnerability in the image's locked packages",
        )

    def handle(self, *args, **options):
        name = options["name"]
        existing_env(name)
        key = signing_key()
        require_no_errors(name)
        self.vulnerability_gate(options["accept_vulnerabilities"])
        bundle = make_bundle(name, Path(options["output"]), key)
        self.stdout.write(
            f"Made {bundle.path} (image {bundle.image}). It holds the environment's secrets: copy it "
            "only to the host.\nOn the host, with Docker, OpenSSH and no checkout (its allowed signers "
            "naming your key for this environment):\n"
            f"  tar -xf {bundle.path.name} && {bundle.root}/deploy.sh\n"
            "Deploying a newer bundle the same way upgrades the stack and keeps the database."
        )

    def vulnerability_gate(self, accept: bool) -> None:
        """Refuse on a known vulnerability unless `accept`; say so in one line when not checked."""
        verdict = audit(image_locks())
        if verdict.state == REFUSED and not accept:
            raise CommandError(
                f"{verdict.line}; update them (dockerable/update-requirements.sh) or ship anyway "
                "with --accept-vulnerabilities"
            )
        (self.stdout if verdict.state == PASSED else self.stderr).write(verdict.line)
