"""The security headers' list (Django agrees with it; the renderer refuses a bad line); the HTTPS redirect."""

import subprocess

import pytest
from django.http import HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware

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
        env={"SECURITY_HEADERS": str(list_file), "SECURITY_HEADERS_INCLUDE": str(tmp_path / "headers.inc")},
        capture_output=True,
        text=True,
        check=False,
    )


def test_both_servers_get_every_listed_header_in_place_of_the_apps(tmp_path):
    ours = listed()
    uwsgi = render(REPO / "dockerable" / "proxy" / "security-headers.txt", "uwsgi", tmp_path)
    assert uwsgi.returncode == 0, uwsgi.stderr
    options = uwsgi.stdout.splitlines()
    assert options[1::2] == [
        route for name, value in ours.items() for route in (f"remheader:{name}", f"addheader:{name}: {value}")
    ]
    assert set(options[::2]) == {"--route-run"}
    nginx = render(REPO / "dockerable" / "proxy" / "security-headers.txt", "nginx", tmp_path)
    assert nginx.returncode == 0, nginx.stderr
    include = (tmp_path / "headers.inc").read_text().splitlines()
    assert include == [
        line
        for name, value in ours.items()
        for line in (f'add_header {name} "{value}" always;', f"uwsgi_hide_header {name};")
    ]


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
