"""The uploads' storage (dockerable/runtime/media.py): a name is never given twice, and the
environment's secrets.json picks the volume or object storage; runserver's answers for them; the
restore drill's check of them (uploads_drill.py)."""

import contextlib
import io
import json
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.http import Http404, HttpResponseNotFound
from django.test import RequestFactory
from django.views.static import serve

from dockerable.runtime.csp import ContentSecurityPolicyMiddleware
from dockerable.runtime.environment import parse
from dockerable.runtime.media import PREFIX_LENGTH, MediaStorage, media_storage
from dockerable.runtime.s3_media import S3MediaStorage
from dockerable.runtime.uploads_drill import main
from dockerable.tests.fixture.fixturebook.models import Entry


def test_the_same_name_saved_again_gets_a_new_name_ending_in_the_files(tmp_path):
    storage = MediaStorage(location=tmp_path)
    names = {storage.save("avatars/me.png", ContentFile(b"x")) for _ in range(20)}
    assert len(names) == 20
    for name in names:
        folder, _, file_name = name.rpartition("/")
        assert folder == "avatars" and file_name.endswith("_me.png") and len(file_name) == PREFIX_LENGTH + 7


def test_a_deleted_name_is_not_given_again(tmp_path):
    storage = MediaStorage(location=tmp_path)
    first = storage.save("report.pdf", ContentFile(b"x"))
    storage.delete(first)
    assert storage.save("report.pdf", ContentFile(b"y")) != first


def test_a_long_name_is_shortened_from_its_end_and_keeps_its_prefix(tmp_path):
    storage = MediaStorage(location=tmp_path)
    names = {storage.save("d/" + "a" * 200 + ".txt", ContentFile(b"x"), max_length=60) for _ in range(5)}
    assert len(names) == 5
    assert all(len(name) <= 60 and name.endswith(".txt") and name[2 + PREFIX_LENGTH] == "_" for name in names)


def secrets(**values):
    sample = {"SECRET_KEY": "k", "DB_NAME": "d", "DB_USER": "u", "DB_PASSWORD": "p"}
    return parse(Path("secrets.json"), json.dumps({**sample, **values}))


def test_an_environment_without_a_bucket_keeps_uploads_in_its_volume():
    assert media_storage(secrets()) == {"BACKEND": "dockerable.runtime.media.MediaStorage"}


def test_a_bucket_in_secrets_json_moves_uploads_to_private_object_storage_behind_signed_links():
    chosen = media_storage(
        secrets(MEDIA_S3_BUCKET="uploads", MEDIA_S3_ACCESS_KEY_ID="id", MEDIA_S3_SECRET_ACCESS_KEY="key")
    )
    assert chosen["BACKEND"] == "dockerable.runtime.s3_media.S3MediaStorage"
    options = chosen["OPTIONS"]
    assert (options["bucket_name"], options["access_key"], options["secret_key"]) == ("uploads", "id", "key")
    assert options["querystring_auth"] and options["default_acl"] is None and not options["file_overwrite"]
    storage = S3MediaStorage(**options)
    assert storage.get_object_parameters("a/page.html")["ContentDisposition"] == "attachment"
    assert "ContentDisposition" not in storage.get_object_parameters("a/PHOTO.JPG")


def test_runserver_answers_for_uploads_carry_the_headers_the_servers_give_them(tmp_path):
    # Development mode: runserver's static view serves /media/ (project/urls.py) through the middleware.
    (tmp_path / "page.html").write_bytes(b"<script>document.title='ran'</script>")
    (tmp_path / "photo.png").write_bytes(b"\x89PNG")

    def serve_upload(request):
        try:
            return serve(request, request.path.removeprefix("/media/"), document_root=tmp_path)
        except Http404:
            return HttpResponseNotFound()

    middleware = ContentSecurityPolicyMiddleware(serve_upload)
    page, photo, missing = (
        middleware(RequestFactory().get(f"/media/{name}")) for name in ("page.html", "photo.png", "x")
    )
    for answer in (page, photo, missing):
        assert answer["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert page["Content-Disposition"] == "attachment" and "Content-Disposition" not in photo
    assert "immutable" in page["Cache-Control"] and "immutable" in photo["Cache-Control"]
    assert missing.status_code == 404 and "Cache-Control" not in missing
    # Any other answer keeps the site's policy.
    other = middleware(RequestFactory().get("/mediation/photo.png"))
    policies = other.get("Content-Security-Policy", "") + other.get("Content-Security-Policy-Report-Only", "")
    assert policies and "sandbox" not in policies


@pytest.mark.docker
@pytest.mark.django_db
def test_the_drills_check_names_the_files_the_rows_hold_that_the_archive_lacks(settings):
    for number in range(8):
        Entry.objects.create(text=f"entry {number}", picture=f"fixturebook/{number}.png")
    Entry.objects.create(text="no picture")
    listing = "fixturebook/0.png\nfixturebook/1.png\nunnamed/extra.bin\n"
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert main(io.StringIO(listing)) == 1
    assert printed.getvalue() == (
        "the database names 8 uploaded files, 6 of them not in the backup: fixturebook/2.png, "
        "fixturebook/3.png, fixturebook/4.png, fixturebook/5.png, fixturebook/6.png and 1 more\n"
    )
    every = "".join(f"fixturebook/{number}.png\n" for number in range(8))
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert main(io.StringIO(every)) == 0
    assert printed.getvalue().startswith("uploads: the database names 8 uploaded files, all in the backup")
    # Uploads in object storage are not in the backup: said, not failed.
    bucket = secrets(MEDIA_S3_BUCKET="uploads", MEDIA_S3_ACCESS_KEY_ID="id", MEDIA_S3_SECRET_ACCESS_KEY="key")
    settings.STORAGES = {**settings.STORAGES, "default": media_storage(bucket)}
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert main(io.StringIO("")) == 0
    assert "not checked" in printed.getvalue()
