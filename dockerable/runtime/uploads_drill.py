"""The restore drill's check of uploads: every file the restored database names is in the backup.

restore.sh --drill runs it in the app's image against the drill's scratch database (DB_NAME),
`manage.py shell -c` feeding it the names in the backup's uploads archive on stdin, one a line
(backup.sh media-names). It prints one line, and exits 1 when a named file is missing.
"""

import sys

from django.apps import apps
from django.core.files.storage import FileSystemStorage, storages
from django.db import models

# How many missing names the line shows.
SHOWN = 5


def named_files(location: str) -> set[str]:
    """Every name a file field of an installed model, stored under `location`, holds in the database."""
    names: set[str] = set()
    for model in apps.get_models():
        meta = model._meta  # pylint: disable=protected-access
        if not meta.managed or meta.proxy:
            continue
        for field in meta.concrete_fields:
            if isinstance(field, models.FileField) and getattr(field.storage, "location", None) == location:
                rows = model._base_manager.values_list(field.attname, flat=True)  # pylint: disable=protected-access
                names.update(name for name in rows.iterator() if name)
    return names


def main(listing=sys.stdin) -> int:
    """The line, and 0 when every named file is in `listing` (or the uploads are not in a volume)."""
    storage = storages["default"]
    if not isinstance(storage, FileSystemStorage):
        print("uploads: in object storage, which backups do not copy (docs/media.md): not checked")
        return 0
    archived = {line.rstrip("\n") for line in listing if line.strip()}
    named = named_files(storage.location)
    missing = sorted(named - archived)
    if missing:
        more = f" and {len(missing) - SHOWN} more" if len(missing) > SHOWN else ""
        print(
            f"the database names {len(named)} uploaded files, {len(missing)} of them not in the backup: "
            f"{', '.join(missing[:SHOWN])}{more}"
        )
        return 1
    whole = f"uploads: the database names {len(named)} uploaded files, all in the backup"
    print(f"{whole} ({len(archived)} in all)")
    return 0
