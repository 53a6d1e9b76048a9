"""The Content-Security-Policy of every answer Django makes: the site's, or its path's; an
upload's (development mode) with the headers the servers give one."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from dockerable.runtime import media

ENFORCED = "Content-Security-Policy"
REPORT_ONLY = "Content-Security-Policy-Report-Only"


def policy_setting(name: str, value) -> str:
    """`value`, a policy the setting `name` holds, once it is one header's worth of text."""
    if not isinstance(value, str) or any(char in value for char in "\r\n"):
        raise ImproperlyConfigured(f"{name} must be a policy on one line (a str), not {value!r}")
    return value


def path_policies() -> list[tuple[str, str]]:
    """SITE_CSP_BY_PATH as (prefix, policy), longest prefix first."""
    by_path = getattr(settings, "SITE_CSP_BY_PATH", {})
    if not isinstance(by_path, dict):
        raise ImproperlyConfigured(f"SITE_CSP_BY_PATH must be a dict of path: policy, not {by_path!r}")
    for prefix, policy in by_path.items():
        if not isinstance(prefix, str) or not prefix.startswith("/"):
            raise ImproperlyConfigured(f"SITE_CSP_BY_PATH: {prefix!r} is not a path starting with /")
        policy_setting(f"SITE_CSP_BY_PATH[{prefix!r}]", policy)
    return sorted(by_path.items(), key=lambda item: len(item[0]), reverse=True)


class ContentSecurityPolicyMiddleware:
    """First in MIDDLEWARE, so that every answer Django makes has it (redirects, errors, /healthz).

    Sends SITE_CSP, or the policy of the longest SITE_CSP_BY_PATH
    prefix the path starts with (the admin of a third-party app that needs inline scripts, say),
    as Content-Security-Policy-Report-Only when SITE_CSP_REPORT_ONLY (DEBUG by
    default: development mode reports what production would block, and blocks nothing). An
    answer that carries a policy already (a view's own) keeps it. An empty policy sends none.
    The servers add their copy only to the answers they make themselves (static files).
    An answer under MEDIA_URL (runserver serving uploads) gets the uploads' own (media.protect).
    """

    def __init__(self, get_response):
        self.get_response = get_response
        if not hasattr(settings, "SITE_CSP"):
            raise ImproperlyConfigured("SITE_CSP is not set (project/settings/base.py sets it)")
        self.default = policy_setting("SITE_CSP", settings.SITE_CSP)
        self.by_path = path_policies()
        report_only = getattr(settings, "SITE_CSP_REPORT_ONLY", settings.DEBUG)
        self.header = REPORT_ONLY if report_only else ENFORCED
        media_url = getattr(settings, "MEDIA_URL", "") or ""
        # A path of this site's only: an empty MEDIA_URL, or another origin's, names none of its answers.
        self.media_prefix = media_url if media_url.startswith("/") and media_url != "/" else None

    def __call__(self, request):
        response = self.get_response(request)
        if self.media_prefix and request.path.startswith(self.media_prefix):
            return media.protect(response, request.path)
        if ENFORCED in response or REPORT_ONLY in response:
            return response
        path = request.path
        policy = next((policy for prefix, policy in self.by_path if path.startswith(prefix)), self.default)
        if policy:
            response[self.header] = policy
        return response
