"""The sample environment: copy it with `manage.py newenv NAME`, never by hand (its secrets are public)."""
