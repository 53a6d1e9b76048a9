"""Guestbook entries in the Django admin."""

from django.contrib import admin

from project.guestbook.models import Entry

admin.site.register(Entry)
