"""The storage of uploaded files: Django's FileSystemStorage, under names never used before.

A stored file's URL may then be cached for a year (uWSGI and nginx say so): a file deleted and
uploaded again gets a new URL, so no browser or cache serves the old one in its place.
"""

import posixpath

from django.core.files.storage import FileSystemStorage
from django.utils.crypto import get_random_string

# 8 of 62 characters: 47 bits, so a name comes back only after billions of uploads of one name.
PREFIX_LENGTH = 8


class MediaStorage(FileSystemStorage):
    """Each name gets a random prefix before its file name (kept whole for downloads)."""

    def get_available_name(self, name, max_length=None):
        folder, file_name = posixpath.split(str(name).replace("\\", "/"))
        # A prefix, not a suffix: Django shortens a name too long for max_length from its end.
        unique = posixpath.join(folder, f"{get_random_string(PREFIX_LENGTH)}_{file_name}")
        return super().get_available_name(unique, max_length)
