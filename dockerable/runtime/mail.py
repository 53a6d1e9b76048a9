"""An environment's mail settings, from its secrets.json (docs/mail.md): Django's SMTP settings for
the queue's sender, development mode's mail catcher, or, with no server named, nowhere (logged)."""

from dockerable.runtime.environment import EMAIL_HOST, EMAIL_PORT, EMAIL_SECURITY

# Every message goes through the task queue; the worker speaks SMTP (dockerable/tasks/mail.py).
QUEUED = "dockerable.tasks.mail.QueuedEmailBackend"
# No server named outside development mode: each message is logged as not sent, never its text.
NOWHERE = "dockerable.tasks.mail.NowhereEmailBackend"
# The development stack's mail catcher (MailDev: its web UI on 127.0.0.1:${MAIL_PORT:-1080}).
CATCHER_HOST, CATCHER_PORT = "mail", "1025"
# The usual port of each kind of connection, when secrets.json names none.
DEFAULT_PORTS = {"starttls": "587", "tls": "465", "none": "25"}
# Seconds an SMTP conversation may stall before the worker gives up (and tries again later).
SMTP_TIMEOUT = 30


def mail_settings(secrets, development: bool, domain: str | None = None) -> dict:
    """EMAIL_* and the sender addresses, for settings.py's globals()."""
    sender = secrets.get("DEFAULT_FROM_EMAIL", f"noreply@{domain or 'localhost'}")
    addresses = {"DEFAULT_FROM_EMAIL": sender, "SERVER_EMAIL": secrets.get("SERVER_EMAIL", sender)}
    host = secrets.get(EMAIL_HOST, "")
    if not host and not development:
        return {"EMAIL_BACKEND": NOWHERE, **addresses}
    security = secrets.get(EMAIL_SECURITY, "starttls") if host else "none"
    port = secrets.get(EMAIL_PORT, DEFAULT_PORTS[security]) if host else CATCHER_PORT
    return {
        "EMAIL_BACKEND": QUEUED,
        "EMAIL_HOST": host or CATCHER_HOST,
        "EMAIL_PORT": int(port),
        "EMAIL_HOST_USER": secrets.get("EMAIL_HOST_USER", ""),
        "EMAIL_HOST_PASSWORD": secrets.get("EMAIL_HOST_PASSWORD", ""),
        "EMAIL_USE_TLS": security == "starttls",
        "EMAIL_USE_SSL": security == "tls",
        "EMAIL_TIMEOUT": SMTP_TIMEOUT,
        **addresses,
    }
