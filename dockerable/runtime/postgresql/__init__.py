"""PostgreSQL for the app: Django's backend with a password rotation's fallbacks (base.py), and the
command that gives the role its new password (password.py)."""
