"""The form that adds a guestbook entry."""

from django import forms

from project.guestbook.models import Entry


class EntryForm(forms.ModelForm):
    """Validates one new entry."""

    class Meta:
        model = Entry
        fields = ["text"]
