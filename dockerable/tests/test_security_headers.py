"""The security headers' list (Django agrees with it; the renderer refuses a bad line); the HTTPS redirect."""

import subprocess

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware

from dockerable.runtime.csp import ContentSecurityPolicyMiddleware
from dockerable.runtime.security import HttpsPortRedirectMiddleware
from dockerable.tests.docker_stack import REPO
from dockerable.tests.security_headers import listed

RENDERER = REPO / "dockerable" / "proxy" / "security-headers.sh"


def test_what_django_sets_itself_is_what_the_list_says(rf):
    # Under runserver Django's own headers are all there is; in production the list replaces them.
    request = rf.get("/", secure=True)
    response = HttpResponse("page")
    for middleware in (SecurityMiddleware, XFrameOptionsMiddleware):
        response = middleware(lambda _request, answer=response: answer).process_response(request, response)
    ours = listed()
    django_sets = {name: value for name, value in response.headers.items() if name in ours}
    assert set(django_sets) == {
        "Strict-Transport-Security",
        "X-Content-Type-Options",
        "X-Frame-Options",
        "Referrer-Policy",
        "Cross-Origin-Opener-Policy",
    }
    assert django_sets == {name: ours[name] for name in django_sets}


@pytest.mark.parametrize(
    "https_port, host, location",
    [
        ("443", "example.test", "https://example.test/x?y=1"),
        ("443", "example.test:8080", "https://example.test/x?y=1"),
        ("8443", "example.test:8080", "https://example.test:8443/x?y=1"),
        ("8443", "[::1]:8080", "https://[::1]:8443/x?y=1"),
    ],
)
def test_the_https_redirect_goes_to_the_port_https_is_published_on(rf, settings, https_port, host, location):
    settings.SECURE_SSL_REDIRECT, settings.HTTPS_PORT = True, https_port
    settings.ALLOWED_HOSTS = ["example.test", "[::1]"]
    answer = HttpsPortRedirectMiddleware(lambda _request: HttpResponse())(rf.get("/x?y=1", HTTP_HOST=host))
    assert answer.status_code == 301 and answer["Location"] == location
    assert answer["X-Content-Type-Options"] == "nosniff"  # Django's headers, on its redirect too


def render(list_file, mode, tmp_path):
    return subprocess.run(
        ["sh", str(RENDERER), mode],
        env={
            "SECURITY_HEADERS": str(list_file),
            "SECURITY_HEADERS_INCLUDE": str(tmp_path / "headers.inc"),
            "SECURITY_HEADERS_MAP": str(tmp_path / "headers-map.conf"),
        },
        capture_output=True,
        text=True,
        check=False,
    )


def test_both_servers_send_every_listed_header_in_place_of_the_apps_but_the_apps_policy(tmp_path):
    ours = listed()
    csp = ours.pop("Content-Security-Policy")
    uwsgi = render(REPO / "dockerable" / "proxy" / "security-headers.txt", "uwsgi", tmp_path)
    assert uwsgi.returncode == 0, uwsgi.stderr
    options = uwsgi.stdout.splitlines()
    assert options == [
        *(option for name, value in ours.items()
          for option in ("--route-run", f"remheader:{name}", "--route-run", f"addheader:{name}: {value}")),
        # Only on what uWSGI serves itself: Django's answers keep their own (its path's) policy.
        "--route", "^/static/ remheader:Content-Security-Policy",
        "--route", f"^/static/ addheader:Content-Security-Policy: {csp}",
    ]  # fmt: skip
    nginx = render(REPO / "dockerable" / "proxy" / "security-headers.txt", "nginx", tmp_path)
    assert nginx.returncode == 0, nginx.stderr
    include = (tmp_path / "headers.inc").read_text().splitlines()
    assert include == [
        *(line for name, value in ours.items()
          for line in (f'add_header {name} "{value}" always;', f"uwsgi_hide_header {name};")),
        "add_header Content-Security-Policy $dockerable_csp always;",
    ]  # fmt: skip
    # The list's policy where the app sent none, enforced or report-only; else none (empty).
    assert (tmp_path / "headers-map.conf").read_text().splitlines() == [
        'map "$upstream_http_content_security_policy$upstream_http_content_security_policy_report_only" '
        "$dockerable_csp {",
        f'    "" "{csp}";',
        '    default "";',
        "}",
    ]


def test_django_sends_the_lists_policy_as_its_own(settings):
    assert listed()["Content-Security-Policy"] == settings.SITE_CSP
    # Outermost of those that answer or change an answer (the metrics' only counts them).
    answering = [
        name for name in settings.MIDDLEWARE if name != "dockerable.runtime.metrics.MetricsMiddleware"
    ]
    assert answering[0] == "dockerable.runtime.csp.ContentSecurityPolicyMiddleware"


def csp_answer(rf, path, answer=None):
    """The response the policy middleware makes of `answer` (a plain page by default) at `path`."""
    return ContentSecurityPolicyMiddleware(lambda _request: answer or HttpResponse("page"))(rf.get(path))


ADMIN_POLICY = "default-src 'self'; script-src 'self' 'unsafe-inline'"


@pytest.mark.parametrize(
    ("path", "policy"),
    [
        ("/", "default-src 'self'"),
        ("/admin", "default-src 'self'"),
        ("/admin/", ADMIN_POLICY),
        ("/admin/auth/user/", ADMIN_POLICY),
        ("/admin/docs/", "default-src 'none'"),
    ],
)
def test_the_policy_is_the_sites_or_the_longest_matching_paths(rf, settings, path, policy):
    settings.SITE_CSP, settings.SITE_CSP_REPORT_ONLY = "default-src 'self'", False
    settings.SITE_CSP_BY_PATH = {"/admin/": ADMIN_POLICY, "/admin/docs/": "default-src 'none'"}
    answer = csp_answer(rf, path)
    assert answer["Content-Security-Policy"] == policy
    assert "Content-Security-Policy-Report-Only" not in answer


def test_report_only_sends_the_same_policy_under_the_report_only_header(rf, settings):
    settings.SITE_CSP, settings.SITE_CSP_REPORT_ONLY = "default-src 'self'", True
    answer = csp_answer(rf, "/")
    assert answer["Content-Security-Policy-Report-Only"] == "default-src 'self'"
    assert "Content-Security-Policy" not in answer


def test_a_views_own_policy_is_kept_and_an_empty_one_sends_none(rf, settings):
    settings.SITE_CSP_REPORT_ONLY = False
    own = HttpResponse("page", headers={"Content-Security-Policy": "default-src 'none'"})
    assert csp_answer(rf, "/", own)["Content-Security-Policy"] == "default-src 'none'"
    settings.SITE_CSP = ""
    assert "Content-Security-Policy" not in csp_answer(rf, "/")


@pytest.mark.parametrize(
    ("name", "value", "fault"),
    [
        ("SITE_CSP", ["default-src 'self'"], "SITE_CSP must be a policy on one line"),
        ("SITE_CSP", "default-src 'self';\nscript-src *", "SITE_CSP must be a policy on one line"),
        ("SITE_CSP_BY_PATH", [("/admin/", "x")], "SITE_CSP_BY_PATH must be a dict of path: policy"),
        ("SITE_CSP_BY_PATH", {"admin/": "x"}, "SITE_CSP_BY_PATH: 'admin/' is not a path starting with /"),
        ("SITE_CSP_BY_PATH", {"/admin/": None}, "SITE_CSP_BY_PATH['/admin/'] must be a policy on one line"),
    ],
)
def test_a_bad_policy_setting_stops_the_app_with_one_line_naming_it(settings, name, value, fault):
    setattr(settings, name, value)
    with pytest.raises(ImproperlyConfigured) as refused:
        ContentSecurityPolicyMiddleware(lambda _request: HttpResponse())
    assert str(refused.value).startswith(fault) and "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("line", "fault"),
    [
        ("X-Broken", 'not "Name: value"'),
        ('Content-Security-Policy: default-src "self"', "no double quote or $"),
        ("X-Cost: $5", "no double quote or $"),
    ],
)
def test_a_bad_line_stops_with_one_line_naming_the_file_and_the_line(tmp_path, line, fault):
    list_file = tmp_path / "headers.txt"
    list_file.write_text(f"# a comment\nX-Content-Type-Options: nosniff\n{line}\n")
    for mode in ("uwsgi", "nginx"):
        result = render(list_file, mode, tmp_path)
        assert result.returncode == 64
        [message] = result.stderr.splitlines()
        assert message.startswith(f"security-headers.sh: {list_file} line 3: ") and fault in message
    assert list(tmp_path.iterdir()) == [list_file]  # no include, whole or half
