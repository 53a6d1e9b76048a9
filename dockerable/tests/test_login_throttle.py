"""Password checks at once, against a real PostgreSQL: a login beyond the slots gets 429 without a check."""

import contextlib

import pytest
from django.db import connection

from dockerable.runtime.login_throttle import LOCK_CLASS

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

PASSWORD = "a right password 42"


@pytest.fixture(name="admin_user")
def admin_user_fixture(django_user_model):
    return django_user_model.objects.create_superuser("boss", "boss@example.com", PASSWORD)


@contextlib.contextmanager
def slots_taken(*slots):
    """Another database session holds these slots, as logins in other workers or replicas would."""
    other = connection.copy()
    try:
        with other.cursor() as cursor:
            for slot in slots:
                cursor.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_CLASS, slot])
        yield
    finally:
        # Given back before the session ends: its end frees them too, but later, on a busy server.
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock_all()")
        other.close()


def login(client, password):
    return client.post("/admin/login/?next=/admin/", {"username": "boss", "password": password}, secure=True)


def held_slots():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s", [LOCK_CLASS]
        )
        return cursor.fetchone()[0]


def test_a_login_is_checked_in_a_free_slot_and_gives_it_back(client, admin_user):  # pylint: disable=unused-argument
    wrong = login(client, "not it")
    assert wrong.status_code == 200 and b"Please enter the correct username and password" in wrong.content
    right = login(client, PASSWORD)
    assert right.status_code == 302 and right["Location"] == "/admin/"
    assert held_slots() == 0


def test_a_login_when_every_slot_is_taken_gets_429_and_is_not_checked(client, admin_user):  # pylint: disable=unused-argument
    with slots_taken(0):
        assert held_slots() == 1
        refused = login(client, PASSWORD)
        assert refused.status_code == 429
        assert refused["Retry-After"] == "2"
        assert "_auth_user_id" not in client.session
    # The slot is free again: the same login goes through.
    assert login(client, PASSWORD).status_code == 302


def test_more_slots_let_more_checks_run_at_once(client, admin_user, settings):  # pylint: disable=unused-argument
    settings.LOGIN_CHECKS_AT_ONCE = 2
    with slots_taken(0):
        assert login(client, PASSWORD).status_code == 302
    with slots_taken(0, 1):
        assert login(client, PASSWORD).status_code == 429
