"""Mail through the task queue (docs/mail.md): the backend a request's send_mail() uses queues each
message, and the worker hands it to the SMTP server, trying again later when the server fails."""

import base64
import datetime
import logging
import smtplib

from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import DatabaseError
from django.utils import timezone

try:
    from django.tasks import task
except ImportError:  # Django 5.2: the framework's backport
    from django_tasks import task

logger = logging.getLogger("dockerable.mail")

SMTP = "django.core.mail.backends.smtp.EmailBackend"
# Tries in all; the waits between them double from a minute (about 4 hours in all).
ATTEMPTS = 8


@task()
def deliver(sender: str, recipients: list[str], message: str, attempt: int = 1) -> None:
    """Hand one message (base64 of its bytes) to the SMTP server; queue a later try when it fails."""
    try:
        with get_connection(SMTP) as connection:
            connection.connection.sendmail(sender, recipients, base64.b64decode(message))
    except (smtplib.SMTPException, OSError) as exc:
        if attempt >= ATTEMPTS:
            raise
        wait = datetime.timedelta(minutes=2 ** (attempt - 1))
        logger.warning(
            "mail to %d recipient(s) not sent (%s): trying again in %s", len(recipients), exc, wait
        )
        deliver.using(run_after=timezone.now() + wait).enqueue(sender, recipients, message, attempt + 1)


class QueuedEmailBackend(BaseEmailBackend):
    """Each message becomes a `deliver` task: queued in the request's transaction, sent by a worker,
    so a slow or unreachable mail server never holds up a request."""

    def send_messages(self, email_messages) -> int:
        queued = 0
        for email in email_messages:
            recipients = email.recipients()
            if not recipients:
                continue
            raw = base64.b64encode(email.message().as_bytes(linesep="\r\n")).decode("ascii")
            try:
                deliver.enqueue(email.from_email, recipients, raw)
            except DatabaseError:
                if not self.fail_silently:
                    raise
                logger.exception("mail to %d recipient(s) not queued: the database fails", len(recipients))
                continue
            queued += 1
        return queued


class NowhereEmailBackend(BaseEmailBackend):
    """No mail server in secrets.json: each message is logged as not sent (never its text, which may
    hold a password-reset link), instead of failing a request or pretending it went."""

    def send_messages(self, email_messages) -> int:
        for email in email_messages:
            logger.error(
                "mail %r to %d recipient(s) not sent: secrets.json names no EMAIL_HOST (docs/mail.md)",
                email.subject,
                len(email.recipients()),
            )
        return 0
