"""Root URL configuration (/healthz is answered by dockerable.runtime.health's middleware)."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("project.guestbook.urls")),
    # Uploads under runserver (development mode) only: static() adds nothing unless DEBUG.
    *static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT),
]
