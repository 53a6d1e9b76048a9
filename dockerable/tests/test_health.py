"""Probes against a real PostgreSQL: /healthz 200 or 503, /livez without it, 503 pages while it is away."""

import contextlib

import pytest
from django.db import connection

from dockerable.tests.docker_stack import free_port

# Against a real PostgreSQL, which the suite runs in a container.
pytestmark = pytest.mark.docker


@pytest.mark.django_db
def test_healthz_is_200_with_json_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.django_db
def test_healthz_says_its_length_so_servers_need_not_chunk_it(client):
    response = client.get("/healthz")
    assert response["Content-Length"] == str(len(response.content))


@pytest.mark.django_db
def test_healthz_answers_any_host_so_probes_are_not_turned_away(client):
    response = client.get("/healthz", HTTP_HOST="172.18.0.5:443")
    assert response.status_code == 200


@contextlib.contextmanager
def database_unreachable():
    """Django pointed at a port where nothing listens: a real refused connection."""
    original_port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = str(free_port())
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["PORT"] = original_port


@pytest.mark.django_db(transaction=True)
def test_healthz_is_503_when_the_database_does_not_answer(client, caplog):
    with database_unreachable():
        response = client.get("/healthz")
    assert response.status_code == 503
    # Nothing about the database's software for whoever asked; the log says what failed.
    assert response.json() == {"status": "error", "database": "unavailable"}
    assert "/healthz: the database does not answer: OperationalError: " in caplog.text
    assert "Connection refused" in caplog.text  # the driver's reason, not only its class
    # And it recovers as soon as the database is back.
    assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_the_fixture_app_saves_and_lists_entries(client):
    response = client.post("/", {"text": "hello from the tests"}, secure=True)
    assert response.status_code == 302
    page = client.get("/", secure=True)
    assert "hello from the tests" in page.content.decode()


@pytest.mark.django_db(transaction=True)
def test_livez_answers_without_the_database_and_pages_that_need_it_are_503(client, caplog):
    with database_unreachable():
        live = client.get("/livez", HTTP_HOST="10.0.1.7:8081")
        page = client.get("/", secure=True)
    # Swarm's health check: the process answers, so an outage restarts no task.
    assert live.status_code == 200 and live.json() == {"status": "alive"}
    assert live["Content-Length"] == str(len(live.content))
    # A page that needs the database: 503 with Retry-After, not a 500.
    assert page.status_code == 503 and page["Retry-After"] == "10"
    assert "database cannot be reached" in page.content.decode()
    # One line for the page, with the driver's reason, which Django's own line would not give.
    said = [record for record in caplog.records if record.name == "django.request"]
    assert len(said) == 1 and said[0].levelname == "ERROR", caplog.text
    assert (
        said[0]
        .getMessage()
        .startswith("Service Unavailable: / (the database cannot be reached: OperationalError: ")
    ), said[0].getMessage()
    assert "Connection refused" in said[0].getMessage()
    assert client.get("/", secure=True).status_code == 200
