"""`dockerable/run deploystack NAME`: check the environment, build the image, deploy it to Docker Swarm."""

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from dockerable.envtools.bundle import build_images
from dockerable.envtools.checks import require_no_errors
from dockerable.envtools.layout import STACK_FILE, existing_env

SWARM_DEPLOY = Path("dockerable") / "swarm" / "deploy.sh"


class Command(BaseCommand):
    """Refuse an environment checkenv reports errors for; else build and run dockerable/swarm/deploy.sh."""

    help = (
        "Deploy an environment to the Docker Swarm this engine manages (docs/swarm.md): checkenv "
        "first, then the image, then dockerable/swarm/deploy.sh (migrations, a rolling update)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="the environment under project/settings/")
        parser.add_argument("--registry", help="HOST:PORT of the registry the nodes pull the image from")

    def handle(self, *args, **options):
        name = options["name"]
        folder = existing_env(name)
        require_no_errors(name)
        base = Path(settings.BASE_DIR)
        # The image the environment's production stack builds, under the name its compose file gives.
        image = build_images(folder, "app")["app"]
        command = [str(base / SWARM_DEPLOY), str(folder / STACK_FILE)]
        if options["registry"]:
            command += ["--registry", options["registry"]]
        # The script's own lines are the report (one line when it refuses); its exit status is ours.
        env = {**os.environ, "DOCKERABLE_IMAGE": image}
        sys.exit(subprocess.run(command, env=env, check=False).returncode)
