"""The redirect from plain HTTP to HTTPS, aimed at the port HTTPS is published on."""

from django.conf import settings
from django.http import HttpResponsePermanentRedirect
from django.http.request import split_domain_port
from django.middleware.security import SecurityMiddleware


class HttpsPortRedirectMiddleware:
    """Just before Django's SecurityMiddleware, which makes the same decision, from the same
    settings. Production mode publishes HTTP and HTTPS on ports of the host's choosing (HTTP_PORT,
    HTTPS_PORT): Django's redirect keeps the request's port, so a browser would speak TLS to the
    plain HTTP port. Django's stays in MIDDLEWARE: its headers, and `check --deploy` asks for it."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.security = SecurityMiddleware(get_response)

    def __call__(self, request):
        redirect = self.security.process_request(request)
        if redirect is None or self.security.redirect_host:
            return self.get_response(request)
        # get_host() has passed ALLOWED_HOSTS in the call above; only its port is replaced.
        domain, _ = split_domain_port(request.get_host())
        port = str(settings.HTTPS_PORT)
        host = domain if port == "443" else f"{domain}:{port}"
        answer = HttpResponsePermanentRedirect(f"https://{host}{request.get_full_path()}")
        return self.security.process_response(request, answer)
