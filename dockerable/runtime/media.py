"""The storage of uploaded files: the environment's `media` volume (Django's FileSystemStorage),
or S3-compatible object storage when its secrets.json names a bucket; either way under names never
used before.

A stored file's URL may then be cached for a year (uWSGI and nginx say so): a file deleted and
uploaded again gets a new URL, so no browser or cache serves the old one in its place.
"""

import posixpath

from django.core.files.storage import FileSystemStorage
from django.utils.crypto import get_random_string

from dockerable.runtime import environment

# 8 of 62 characters: 47 bits, so a name comes back only after billions of uploads of one name.
PREFIX_LENGTH = 8
# How long a link to a file in object storage works.
LINK_SECONDS = 3600
# What a page may show inline; anything else is sent to be downloaded (docs/media.md). uWSGI's
# and nginx's configurations say the same.
INLINE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif")
# The policy of every answer under MEDIA_URL, on top of the site's: no script runs (sandbox).
MEDIA_POLICY = "default-src 'none'; sandbox"


class UniqueNames:
    """Each name gets a random prefix before its file name (kept whole for downloads)."""

    def get_available_name(self, name, max_length=None):
        """`name` with a random prefix on its file name, free in the storage (Django's check)."""
        folder, file_name = posixpath.split(str(name).replace("\\", "/"))
        # A prefix, not a suffix: Django shortens a name too long for max_length from its end.
        unique = posixpath.join(folder, f"{get_random_string(PREFIX_LENGTH)}_{file_name}")
        return super().get_available_name(unique, max_length)  # pylint: disable=no-member  # a mixin


class MediaStorage(UniqueNames, FileSystemStorage):
    """Uploads in the environment's `media` volume (MEDIA_ROOT), served by uWSGI or nginx."""


def protect(response, path: str):
    """`response`, Django's answer for an upload at `path` (runserver serves them in development
    mode), with the headers uWSGI and nginx give one in the other modes."""
    response["Content-Security-Policy"] = MEDIA_POLICY
    if response.status_code == 200:
        # Django's FileResponse says `inline; filename=...`; the servers say nothing of an image.
        response.headers.pop("Content-Disposition", None)
        if not path.lower().endswith(INLINE_EXTENSIONS):
            response["Content-Disposition"] = "attachment"
        response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


def media_storage(secrets) -> dict:
    """STORAGES["default"] for an environment: object storage when `secrets` (its secrets.json,
    checked by the loader) names a bucket, else the `media` volume. Named, not imported: boto3 is
    loaded only by an environment that uses it."""
    values = secrets.values
    if environment.S3_BUCKET not in values:
        return {"BACKEND": "dockerable.runtime.media.MediaStorage"}
    options = {
        "bucket_name": values[environment.S3_BUCKET],
        "access_key": values[environment.S3_ACCESS_KEY_ID],
        "secret_key": values[environment.S3_SECRET_ACCESS_KEY],
        "region_name": values.get(environment.S3_REGION),
        "endpoint_url": values.get(environment.S3_ENDPOINT_URL),
        "default_acl": None,
        "querystring_auth": True,
        "querystring_expire": LINK_SECONDS,
        "file_overwrite": False,
        "signature_version": "s3v4",
    }
    return {"BACKEND": "dockerable.runtime.s3_media.S3MediaStorage", "OPTIONS": options}
