"""Dockerable Django: the project package (settings, URLs, WSGI entry point, apps)."""
