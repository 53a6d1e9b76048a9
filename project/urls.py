"""Root URL configuration (/healthz is answered by dockerable.runtime.health's middleware)."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    # Password reset by mail (docs/mail.md): Django's own views, in the admin's templates; the admin's
    # login page links to the first.
    path("admin/password_reset/", auth_views.PasswordResetView.as_view(), name="admin_password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("", include("project.guestbook.urls")),
    # Uploads under runserver (development mode) only: static() adds nothing unless DEBUG.
    *static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT),
]
