"""Guestbook page: lists the latest entries and accepts a new one."""

from django.shortcuts import redirect, render

from project.guestbook.forms import EntryForm
from project.guestbook.models import Entry

PAGE_SIZE = 50


def index(request):
    """GET: the latest entries; POST: add one, then redirect (so a reload does not repost)."""
    form = EntryForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        return redirect("guestbook:index")
    entries = Entry.objects.all()[:PAGE_SIZE]
    return render(request, "guestbook/index.html", {"form": form, "entries": entries})
