"""The guestbook's one table."""

from django.core.cache import cache
from django.core.cache.utils import make_template_fragment_key
from django.core.validators import FileExtensionValidator
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

# The image types an entry may carry: what browsers show and the media servers send inline
# (docs/media.md); anything else would be a download, not a picture on the page.
IMAGE_EXTENSIONS = ["png", "jpg", "jpeg", "gif", "webp"]


class Entry(models.Model):
    """One message left in the guestbook, with an optional image."""

    text = models.CharField(max_length=200)
    image = models.ImageField(
        upload_to="guestbook/",
        blank=True,
        width_field="image_width",
        height_field="image_height",
        validators=[FileExtensionValidator(IMAGE_EXTENSIONS)],
    )
    # Stored with the image, so that listing entries never opens their files.
    image_width = models.PositiveIntegerField(null=True, blank=True, editable=False)
    image_height = models.PositiveIntegerField(null=True, blank=True, editable=False)
    # Made by the worker after the entry is saved (tasks.py): the page shows it once it exists.
    thumbnail = models.ImageField(
        upload_to="guestbook/thumbnails/",
        blank=True,
        editable=False,
        width_field="thumbnail_width",
        height_field="thumbnail_height",
    )
    thumbnail_width = models.PositiveIntegerField(null=True, blank=True, editable=False)
    thumbnail_height = models.PositiveIntegerField(null=True, blank=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name_plural = "entries"

    def __str__(self) -> str:
        return self.text


# The page's list of entries, cached as rendered HTML (index.html's {% cache %}) until an entry changes.
ENTRIES_FRAGMENT = "guestbook-entries"


@receiver([post_save, post_delete], sender=Entry)
def forget_the_rendered_list(sender, **kwargs):  # pylint: disable=unused-argument
    """Once the change is committed (not before: a page made meanwhile would cache the old list again)."""
    transaction.on_commit(lambda: cache.delete(make_template_fragment_key(ENTRIES_FRAGMENT)))


@receiver(post_delete, sender=Entry)
def delete_image(sender, instance, **kwargs):  # pylint: disable=unused-argument
    """An entry's image and thumbnail go with it, once its deletion is committed: a deletion rolled
    back keeps them. (Backups taken before keep their copy.)"""
    for file in (instance.image, instance.thumbnail):
        if file:
            storage, name = file.storage, file.name
            transaction.on_commit(lambda storage=storage, name=name: storage.delete(name))


@receiver(pre_save, sender=Entry)
def forget_a_replaced_image(sender, instance, raw=False, update_fields=None, **kwargs):  # pylint: disable=unused-argument
    """An image replaced or cleared (in the admin): the entry's thumbnail is cleared, so that the
    worker makes the new image's (tasks.py), and the old image and thumbnail files go once the
    change is committed, as an entry's files go with it."""
    if raw or instance.pk is None or (update_fields is not None and "image" not in update_fields):
        return
    rows = Entry.objects.filter(pk=instance.pk)
    if transaction.get_connection().in_atomic_block:  # as the admin's saves are
        # A worker making the old image's thumbnail holds the row: wait for it, then see that file
        # too (read before it is committed, it would be left behind).
        rows = rows.select_for_update()
    before = rows.values_list("image", "thumbnail").first()
    if before is None or before[0] == instance.image.name:
        return
    if instance.thumbnail.name == before[1]:
        instance.thumbnail = ""
        instance.thumbnail_width = instance.thumbnail_height = None
    storage = instance.image.storage
    for name in filter(None, before):
        transaction.on_commit(lambda name=name: storage.delete(name))
