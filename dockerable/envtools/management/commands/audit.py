"""`dockerable/run audit`: the image's locked Python packages against the published advisories."""

from django.core.management.base import BaseCommand, CommandError

from dockerable.envtools.audit import NOT_CHECKED, PASSED, audit
from dockerable.envtools.layout import image_locks

# Not checked is not a pass: its own exit status, so that CI fails on it as on a finding.
EXIT_STATUS = {PASSED: 0, NOT_CHECKED: 2}


class Command(BaseCommand):
    """Run pip-audit on the image's locks; exit 0 (no known vulnerability), 1 (some) or 2 (not checked)."""

    help = (
        "Check the image's locked Python packages (requirements.txt, uWSGI's lock) against the published "
        "advisories with pip-audit: exit 0 when none is known, 1 when some are, 2 when the "
        "advisory service could not be asked about every package."
    )

    def handle(self, *args, **options):
        verdict = audit(image_locks())
        if verdict.state != PASSED:
            raise CommandError(verdict.line, returncode=EXIT_STATUS.get(verdict.state, 1))
        self.stdout.write(verdict.line)
