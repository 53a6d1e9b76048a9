"""A framework-free WSGI app: the ceiling that uWSGI's own settings allow, with no Django at all."""


def application(environ, start_response):  # pylint: disable=unused-argument
    """Answer every request with a fixed 12-byte body."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "12")])
    return [b"hello world\n"]
