"""Copies the uploads of the environment's `media` volume into the bucket its secrets.json names,
under the same names, so that the rows naming them find them there (docs/media.md, moving to object
storage). Run in a one-off container of the app's image, which mounts the volume:

    docker compose -f project/settings/NAME/docker-compose.yml run --rm --no-deps app /dockerable/cmd.sh \\
        manage shell -c "from dockerable.runtime.media_copy import main; raise SystemExit(main())"

A file already in the bucket is left as it is, so a second run copies only what came since.
"""

import os
import sys
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages

# What a restore leaves beside the uploads for a moment (dockerable/compose/backup/_lib.sh).
RESTORE_FOLDERS = {".restoring", ".replaced"}


def volume_names(root: Path) -> list[str]:
    """Every file under `root`, as the storage names it (relative, `/`-separated)."""
    names = []
    for folder, subfolders, files in os.walk(root):
        if Path(folder) == root:
            subfolders[:] = [name for name in subfolders if name not in RESTORE_FOLDERS]
        names += [(Path(folder) / name).relative_to(root).as_posix() for name in files]
    return sorted(names)


def main() -> int:
    """Copy; one line saying what was copied, or why nothing could be (exit 1)."""
    bucket = storages["default"]
    if isinstance(bucket, FileSystemStorage):
        print(
            "secrets.json names no MEDIA_S3_BUCKET: there is no bucket to copy the uploads to",
            file=sys.stderr,
        )
        raise SystemExit(1)
    volume = FileSystemStorage(location=settings.MEDIA_ROOT)
    copied = kept = 0
    for name in volume_names(Path(settings.MEDIA_ROOT)):
        if bucket.exists(name):
            kept += 1
            continue
        with volume.open(name) as content:
            # _save keeps the name (save() would give it a new one) and sets the object's headers.
            bucket._save(name, content)  # pylint: disable=protected-access
        copied += 1
    print(f"copied {copied} files from {settings.MEDIA_ROOT} into the bucket; {kept} were there already")
    return 0
