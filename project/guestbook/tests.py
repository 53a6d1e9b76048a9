"""The guestbook's tests, as your apps' own tests look: pytest-django against the real PostgreSQL
that tests/run starts. Delete them with the app."""

import io
import re
import threading
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.urls import reverse
from django_tasks_db.models import DBTaskResult
from PIL import Image

from project.guestbook.models import Entry
from project.guestbook.tasks import make_thumbnail

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Uploads go to a folder of the test's own (MEDIA_ROOT is the container's volume)."""
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


SVG = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"


def picture(name="photo.png", image_format="PNG", size=(3, 2)) -> SimpleUploadedFile:
    data = io.BytesIO()
    Image.new("RGB", size, "teal").save(data, image_format)
    return SimpleUploadedFile(name, data.getvalue())


def test_a_posted_entry_is_saved_and_the_page_redirects_to_itself(client):
    answer = client.post(reverse("guestbook:index"), {"text": "hello from a test"})
    assert answer.status_code == 302 and answer.url == reverse("guestbook:index")
    assert list(Entry.objects.values_list("text", flat=True)) == ["hello from a test"]


def test_the_page_lists_the_newest_entry_first(client):
    Entry.objects.create(text="older")
    Entry.objects.create(text="newer")
    page = client.get(reverse("guestbook:index")).content.decode()
    assert page.index("newer") < page.index("older")


def test_the_list_comes_from_the_cache_until_an_entry_is_added(
    client, django_assert_num_queries, django_capture_on_commit_callbacks
):
    Entry.objects.create(text="first")
    assert "first" in client.get(reverse("guestbook:index")).content.decode()
    with django_assert_num_queries(0):  # the rendered list, from the cache
        assert "first" in client.get(reverse("guestbook:index")).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("guestbook:index"), {"text": "second"})
    assert "second" in client.get(reverse("guestbook:index")).content.decode()


def test_an_empty_or_too_long_entry_is_refused_and_nothing_is_saved(client):
    for text in ("", "x" * 201):
        answer = client.post(reverse("guestbook:index"), {"text": text})
        assert answer.status_code == 200 and answer.context["form"].errors
    assert not Entry.objects.exists()


def test_an_entry_with_an_image_shows_it_on_the_page_and_the_file_is_stored_whole(client, media):
    upload = picture()
    answer = client.post(reverse("guestbook:index"), {"text": "with a picture", "image": upload})
    assert answer.status_code == 302
    entry = Entry.objects.get()
    assert (entry.image_width, entry.image_height) == (3, 2)
    assert (media / entry.image.name).read_bytes() == upload.open().read()
    page = client.get(reverse("guestbook:index")).content.decode()
    assert f'<img src="/media/{entry.image.name}" alt="" width="3" height="2">' in page


@pytest.mark.parametrize(
    "upload, why",
    [
        (SimpleUploadedFile("page.png", b"<script>alert(1)</script>"), "Upload a valid image"),
        (SimpleUploadedFile("drawing.svg", SVG), "Upload a valid image"),
        (picture("photo.bmp", "PNG"), "File extension \u201cbmp\u201d is not allowed"),
        (picture("photo.png", "BMP"), "Upload a PNG, JPEG, GIF or WebP image."),
        (picture(size=(4001, 1)), "over 4000 pixels on a side"),
    ],
)
def test_an_upload_that_is_not_an_allowed_image_is_refused_and_nothing_is_kept(client, media, upload, why):
    answer = client.post(reverse("guestbook:index"), {"text": "hello", "image": upload})
    assert answer.status_code == 200
    errors = answer.context["form"].errors
    assert any(why in error for error in errors["image"]), errors
    assert not Entry.objects.exists() and not any(media.rglob("*.*"))


def test_deleting_an_entry_deletes_its_image_once_the_deletion_is_committed(
    client, media, django_capture_on_commit_callbacks
):
    client.post(reverse("guestbook:index"), {"text": "short-lived", "image": picture()})
    entry = Entry.objects.get()
    stored = media / entry.image.name
    with django_capture_on_commit_callbacks(execute=True):
        entry.delete()
        assert stored.exists()  # not before the commit
    assert not stored.exists()


@pytest.mark.docker
def test_an_image_posted_through_the_form_in_production_mode_is_served_back_byte_for_byte(site):
    content = picture().read()
    status, page = site.post_form("/", {"text": "a picture, end to end"}, {"image": ("photo.png", content)})
    assert status == 200 and "a picture, end to end" in page, page[-2000:]
    # The image itself, or the link to it once the worker made its thumbnail.
    source = re.search(r'(?:src|href)="(/media/guestbook/[^"/]+_photo\.png)"', page).group(1)
    assert site.fetch(source) == (200, content)


@pytest.mark.docker
def test_the_worker_makes_the_thumbnail_of_an_image_posted_in_production_mode(site):
    status, page = site.post_form(
        "/", {"text": "a thumbnail, end to end"}, {"image": ("large.png", picture(size=(1200, 800)).read())}
    )
    assert status == 200 and "a thumbnail, end to end" in page, page[-2000:]
    deadline = time.monotonic() + 60
    while not (made := re.search(r'<img src="(/media/guestbook/thumbnails/[^"]+_large\.webp)"', page)):
        assert time.monotonic() < deadline, "no thumbnail on the page a minute after the post"
        time.sleep(0.5)
        page = site.fetch("/")[1].decode()
    status, thumbnail = site.fetch(made.group(1))
    assert status == 200
    assert Image.open(io.BytesIO(thumbnail)).size == (320, 213)


def test_a_saved_image_queues_its_thumbnail_which_is_made_once_however_often_the_task_runs(
    client, media, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("guestbook:index"), {"text": "large", "image": picture(size=(1200, 800))})
    entry = Entry.objects.get()
    queued = DBTaskResult.objects.get()
    assert queued.task_path == "project.guestbook.tasks.make_thumbnail"
    assert queued.args_kwargs["args"] == [entry.pk]
    made = make_thumbnail.call(entry.pk)
    assert make_thumbnail.call(entry.pk) == ""  # run again (at least once): nothing more to do
    entry.refresh_from_db()
    assert entry.thumbnail.name == made and (entry.thumbnail_width, entry.thumbnail_height) == (320, 213)
    assert [path.name for path in (media / "guestbook" / "thumbnails").iterdir()] == [made.split("/")[-1]]
    page = client.get(reverse("guestbook:index")).content.decode()
    shown = f'<a href="/media/{entry.image.name}"><img src="/media/{made}" alt="" width="320" height="213">'
    assert shown in page
    # An entry deleted before its task ran: nothing to do, no error; its files go with it.
    with django_capture_on_commit_callbacks(execute=True):
        entry.delete()
    assert make_thumbnail.call(entry.pk) == ""
    assert not list((media / "guestbook").rglob("*.*"))


def test_an_image_replaced_in_the_admin_gets_its_own_thumbnail_and_the_old_files_go(
    admin_client, media, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        entry = Entry.objects.create(text="wide", image=picture("wide.png", size=(1200, 800)))
    make_thumbnail.call(entry.pk)
    change = reverse("admin:guestbook_entry_change", args=[entry.pk])
    with django_capture_on_commit_callbacks(execute=True):
        answer = admin_client.post(change, {"text": "tall", "image": picture("tall.png", size=(800, 1200))})
    assert answer.status_code == 302, answer.content.decode()[-2000:]
    entry.refresh_from_db()
    assert "tall" in entry.image.name and not entry.thumbnail
    assert DBTaskResult.objects.filter(args_kwargs__args=[entry.pk]).count() == 2  # queued again
    made = make_thumbnail.call(entry.pk)
    entry.refresh_from_db()
    assert entry.thumbnail.name == made and (entry.thumbnail_width, entry.thumbnail_height) == (213, 320)
    stored = sorted(path.relative_to(media).as_posix() for path in media.rglob("*.*"))
    assert stored == sorted([entry.image.name, made])  # the wide image and its thumbnail are gone
    # Cleared: no thumbnail, no files.
    with django_capture_on_commit_callbacks(execute=True):
        answer = admin_client.post(change, {"text": "none", "image-clear": "on"})
    assert answer.status_code == 302, answer.content.decode()[-2000:]
    entry.refresh_from_db()
    assert not entry.image and not entry.thumbnail and not list(media.rglob("*.*"))


@pytest.mark.django_db(transaction=True)
def test_an_image_replaced_while_the_worker_makes_the_old_ones_thumbnail_leaves_no_file_behind(media):
    entry = Entry.objects.create(text="wide", image=picture("wide.png", size=(1200, 800)))
    locked = threading.Event()

    def worker():
        """make_thumbnail as the worker runs it, its lock on the row taken first and held a second
        while the admin's save (below) waits on it."""
        try:
            with transaction.atomic():
                Entry.objects.select_for_update().get(pk=entry.pk)
                locked.set()
                time.sleep(1)
                make_thumbnail.call(entry.pk)
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    assert locked.wait(10)
    with transaction.atomic():  # as the admin saves a change
        changed = Entry.objects.get(pk=entry.pk)
        changed.image = picture("tall.png", size=(800, 1200))
        changed.save()
    thread.join()
    entry.refresh_from_db()
    assert "tall" in entry.image.name and not entry.thumbnail
    stored = sorted(path.relative_to(media).as_posix() for path in media.rglob("*.*"))
    assert stored == [entry.image.name]  # the wide image and the thumbnail made of it are gone
