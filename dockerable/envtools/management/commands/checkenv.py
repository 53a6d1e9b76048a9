"""`dockerable/run checkenv NAME`: a table of what is wrong (or right) with an environment."""

import sys

from django.core.management.base import BaseCommand

from dockerable.envtools.checks import ERROR, run_checks
from dockerable.envtools.layout import existing_env


class Command(BaseCommand):
    """Check secrets, key, certificate, file modes, git ignores and `check --deploy`."""

    help = "Check an environment before it ships; exits non-zero if any finding is an ERROR."

    def add_arguments(self, parser):
        parser.add_argument("name", help="the environment under project/settings/")
        parser.add_argument(
            "--dev",
            action="store_true",
            help="development use only: public (sample) secrets are warnings, not errors",
        )

    def handle(self, *args, **options):
        existing_env(options["name"])
        findings = run_checks(options["name"], dev=options["dev"])
        width = max(len(finding.check) for finding in findings)
        self.stdout.write(f"{'severity':8}  {'check':{width}}  detail")
        for finding in findings:
            self.stdout.write(f"{finding.severity:8}  {finding.check:{width}}  {finding.detail}")
        errors = sum(finding.severity == ERROR for finding in findings)
        if errors:
            self.stderr.write(f"checkenv: {errors} error(s) in environment '{options['name']}'")
            sys.exit(1)
        self.stdout.write(f"checkenv: environment '{options['name']}' passes")
