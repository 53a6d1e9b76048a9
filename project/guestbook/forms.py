"""The form that adds a guestbook entry."""

from django import forms

from project.guestbook.models import IMAGE_EXTENSIONS, Entry

# What the image's content must be (its name is checked by the model): Pillow's name for each.
IMAGE_FORMATS = {"PNG", "JPEG", "GIF", "WEBP"}
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_IMAGE_SIDE = 4000


class EntryForm(forms.ModelForm):
    """Validates one new entry, and its image if it has one."""

    class Meta:
        model = Entry
        fields = ["text", "image"]
        widgets = {
            "image": forms.ClearableFileInput(
                attrs={"accept": ",".join(f".{extension}" for extension in IMAGE_EXTENSIONS)}
            )
        }

    def clean_image(self):
        """The file is a picture Pillow read (forms.ImageField checked that): of an allowed type,
        whatever its name says, and not too large in bytes or pixels."""
        image = self.cleaned_data.get("image")
        if not image or not hasattr(image, "image"):
            return image
        if image.image.format not in IMAGE_FORMATS:
            raise forms.ValidationError("Upload a PNG, JPEG, GIF or WebP image.")
        if image.size > MAX_IMAGE_BYTES:
            raise forms.ValidationError(f"The image is over {MAX_IMAGE_BYTES // (1024 * 1024)} MB.")
        width, height = image.image.size
        if max(width, height) > MAX_IMAGE_SIDE:
            raise forms.ValidationError(f"The image is over {MAX_IMAGE_SIDE} pixels on a side.")
        return image
