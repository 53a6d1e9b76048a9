"""Mail below the stacks: the settings secrets.json gives, and the queue that every message goes
through (the worker's SMTP is tested on MailDev in development mode: test_dev_stack.py)."""

import base64
import json

import pytest
from django_tasks_db.models import DBTaskResult

from dockerable.runtime import mail
from dockerable.runtime.environment import parse

SAMPLE = {"SECRET_KEY": "k", "DB_NAME": "d", "DB_USER": "u", "DB_PASSWORD": "p"}


def settings_for(values: dict, development=False) -> dict:
    return mail.mail_settings(
        parse("secrets.json", json.dumps({**SAMPLE, **values})), development, "site.test"
    )


def test_without_a_server_mail_goes_to_the_catcher_in_development_and_nowhere_elsewhere():
    assert settings_for({})["EMAIL_BACKEND"] == mail.NOWHERE
    caught = settings_for({}, development=True)
    assert (caught["EMAIL_BACKEND"], caught["EMAIL_HOST"], caught["EMAIL_PORT"]) == (
        mail.QUEUED,
        "mail",
        1025,
    )
    assert caught["DEFAULT_FROM_EMAIL"] == caught["SERVER_EMAIL"] == "noreply@site.test"


@pytest.mark.parametrize(
    ("security", "port", "tls", "ssl"),
    [(None, 587, True, False), ("tls", 465, False, True), ("none", 25, False, False)],
)
def test_a_named_server_is_reached_as_its_security_says(security, port, tls, ssl):
    values = {"EMAIL_HOST": "smtp.site.test", "EMAIL_HOST_USER": "me", "EMAIL_HOST_PASSWORD": "pw"}
    found = settings_for({**values, **({"EMAIL_SECURITY": security} if security else {})})
    assert found["EMAIL_BACKEND"] == mail.QUEUED
    assert (found["EMAIL_PORT"], found["EMAIL_USE_TLS"], found["EMAIL_USE_SSL"]) == (port, tls, ssl)
    assert (found["EMAIL_HOST_USER"], found["EMAIL_HOST_PASSWORD"]) == ("me", "pw")


@pytest.mark.docker
@pytest.mark.django_db
def test_an_unhandled_error_mails_the_admins_through_the_queue(client, settings):
    settings.ADMINS = [("Ops", "ops@example.com")]  # Django 6 takes the addresses alone too
    settings.EMAIL_BACKEND = mail.QUEUED
    settings.DEBUG = False
    client.raise_request_exception = False
    assert client.get("/boom", secure=True).status_code == 500
    queued = DBTaskResult.objects.get(task_path="dockerable.tasks.mail.deliver")
    sender, recipients, message = queued.args_kwargs["args"]
    assert sender == settings.SERVER_EMAIL and recipients == ["ops@example.com"]
    assert b"boom at /boom" in base64.b64decode(message)
