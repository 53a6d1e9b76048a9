"""Uploads in S3-compatible object storage (django-storages), for environments whose secrets.json
names a bucket (dockerable.runtime.media.media_storage)."""

from storages.backends.s3 import S3Storage

from dockerable.runtime.media import INLINE_EXTENSIONS, UniqueNames


class S3MediaStorage(UniqueNames, S3Storage):  # pylint: disable=abstract-method  # as S3Storage itself
    """Uploads in a private bucket, each read through a link signed for an hour (LINK_SECONDS), from the
    storage's own origin; anything but an image is stored to be downloaded, not shown."""

    def get_object_parameters(self, name):
        parameters = super().get_object_parameters(name)
        if not name.lower().endswith(INLINE_EXTENSIONS):
            parameters["ContentDisposition"] = "attachment"
        return parameters
