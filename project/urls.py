"""Root URL configuration (/healthz is answered by dockerable.runtime.health's middleware)."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("project.guestbook.urls")),
]
