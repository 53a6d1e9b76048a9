"""The guestbook's tests, as your apps' own tests look: pytest-django against the real PostgreSQL
that tests/run starts. Delete them with the app."""

import pytest
from django.urls import reverse

from project.guestbook.models import Entry

pytestmark = pytest.mark.django_db


def test_a_posted_entry_is_saved_and_the_page_redirects_to_itself(client):
    answer = client.post(reverse("guestbook:index"), {"text": "hello from a test"})
    assert answer.status_code == 302 and answer.url == reverse("guestbook:index")
    assert list(Entry.objects.values_list("text", flat=True)) == ["hello from a test"]


def test_the_page_lists_the_newest_entry_first(client):
    Entry.objects.create(text="older")
    Entry.objects.create(text="newer")
    page = client.get(reverse("guestbook:index")).content.decode()
    assert page.index("newer") < page.index("older")


def test_an_empty_or_too_long_entry_is_refused_and_nothing_is_saved(client):
    for text in ("", "x" * 201):
        answer = client.post(reverse("guestbook:index"), {"text": text})
        assert answer.status_code == 200 and answer.context["form"].errors
    assert not Entry.objects.exists()
