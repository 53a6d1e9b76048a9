"""The unit tests' URLs: the fixture app at /, then the project's own."""

from django.urls import include, path

from project.urls import urlpatterns as project_urlpatterns

urlpatterns = [path("", include("dockerable.tests.fixture.fixturebook.urls")), *project_urlpatterns]
