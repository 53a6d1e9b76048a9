"""Your project's tests (tests/run): the whole site's; each app's own sit beside it."""
