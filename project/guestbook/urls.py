"""URLs of the guestbook."""

from django.urls import path

from project.guestbook import views

app_name = "guestbook"
urlpatterns = [path("", views.index, name="index")]
