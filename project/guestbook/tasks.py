"""The guestbook's background work: a small copy of each entry's image for the page, made by the
worker after the answer (docs/tasks.md: how to write a task that may run twice)."""

import io
from pathlib import PurePosixPath

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

try:
    from django.tasks import task
except ImportError:  # Django 5.2: the framework's backport
    from django_tasks import task

from PIL import Image

from project.guestbook.models import Entry

# The longest side of a thumbnail, in pixels (the page shows it; a click opens the whole image).
THUMBNAIL_SIDE = 320


@task()
def make_thumbnail(entry_id: int) -> str:
    """The entry's thumbnail, made once: a task may run again (its worker died mid-run), so it checks
    first, under a lock on the row, and an entry deleted meanwhile is no error. Its file's name."""
    with transaction.atomic():
        entry = Entry.objects.select_for_update().filter(pk=entry_id).first()
        if entry is None or not entry.image or entry.thumbnail:
            return ""
        with entry.image.open("rb") as source, Image.open(source) as image:
            image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
            small = io.BytesIO()
            image.convert("RGBA").save(small, "WEBP", quality=80)
        name = f"{PurePosixPath(entry.image.name).stem}.webp"
        # Saving the row (its post_save) forgets the cached list: the page shows the thumbnail next.
        entry.thumbnail.save(name, ContentFile(small.getvalue()), save=False)
        entry.save(update_fields=["thumbnail", "thumbnail_width", "thumbnail_height"])
        return entry.thumbnail.name


@receiver(post_save, sender=Entry)
def queue_thumbnail(sender, instance, **kwargs):  # pylint: disable=unused-argument
    """An image without its thumbnail yet: the worker makes it, once the row is committed (a task
    queued before would not find it). Saved again meanwhile, it is queued again: the task checks."""
    if instance.image and not instance.thumbnail:
        transaction.on_commit(lambda: make_thumbnail.enqueue(instance.pk))
