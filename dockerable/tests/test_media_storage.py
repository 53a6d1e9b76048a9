"""The uploads' storage (dockerable/runtime/media.py): a name is never given twice, and the
environment's secrets.json picks the volume or object storage."""

import json
from pathlib import Path

from django.core.files.base import ContentFile

from dockerable.runtime.environment import parse
from dockerable.runtime.media import PREFIX_LENGTH, MediaStorage, media_storage
from dockerable.runtime.s3_media import S3MediaStorage


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
