"""Third-party checkers run in containers of their own (dockerable/tests/data/checkers): a real browser
(Debian's Chromium under Playwright) signing in to a stack's admin, sslyze judging its TLS, and
MDN HTTP Observatory grading its headers."""

import json
import re

from dockerable.envtools.layout import declared_domain
from dockerable.tests.docker_stack import HOST_DOCKER, REPO, run

CHECKERS = REPO / "dockerable" / "tests" / "data" / "checkers"
BROWSER_IMAGE = "dockerable-tests-browser:latest"
SSLYZE_IMAGE = "dockerable-tests-sslyze:latest"
OBSERVATORY_IMAGE = "dockerable-tests-observatory:latest"
USER, PASSWORD = "browser-admin", "a browser's password 42"

# What the pages the browser visits are called: the admin's, then the fixture app's.
TITLES = [
    "Log in | Django site admin",
    "Site administration | Django site admin",
    "Add entry | Django site admin",
    "Select user to change | Django site admin",
    "Dockerable Django",
]


def build_checker_images() -> list[str]:
    """The browser, sslyze and Observatory images (their layers cached after the first build)."""
    images = {
        BROWSER_IMAGE: "Dockerfile.browser",
        SSLYZE_IMAGE: "Dockerfile.sslyze",
        OBSERVATORY_IMAGE: "Dockerfile.observatory",
    }
    for image, dockerfile in images.items():
        run(*HOST_DOCKER, "build", "--quiet", "--tag", image, "--file", str(CHECKERS / dockerfile),
            str(CHECKERS), timeout=900)  # fmt: skip
    return list(images)


# Where runserver listens in development mode's app container (published as DEV_PORT).
RUNSERVER_PORT = 8000


def admin_in_browser(stack, port: str = "HTTPS_PORT") -> dict:
    """Make an admin in `stack`, sign in as it (https at the environment's domain; development
    mode's runserver, `port` DEV_PORT, at localhost) and visit admin pages.

    Returns the browser container's report: {"titles": [...], "problems": [...], "canary": [...],
    "inline": "ran" if the fixture admin's inline script ran}.
    """
    stack.compose(
        "exec", "-T", "-e", f"DJANGO_SUPERUSER_PASSWORD={PASSWORD}", "app", "/dockerable/cmd.sh", "manage",
        "createsuperuser", "--noinput", "--username", USER, "--email", "admin@example.com",
    )  # fmt: skip
    browser = [*browser_network(stack, port), BROWSER_IMAGE, browser_base(stack, port)]
    report = run("docker", "run", "--rm", *browser, USER, PASSWORD, timeout=180)
    return json.loads(report.stdout)


def browser_network(stack, port: str = "HTTPS_PORT") -> list[str]:
    """`docker run` options that let the browser reach `stack` at browser_base(stack, port).
    Never the host's network: there Chromium sees every bridge the engine adds for another test's
    stack, and drops its loads (net::ERR_NETWORK_CHANGED)."""
    if port == "DEV_PORT":
        # Plain HTTP is a secure context at localhost only: in the app container's network
        # namespace, where runserver listens.
        (app,) = stack.containers("app", all_states=False)
        return ["--network", f"container:{app}"]
    # On the stack's own network, at the environment's domain (its certificate's, an allowed
    # host) pointed at the container that serves it.
    service = "nginx" if "nginx" in stack.compose("config", "--services").stdout.split() else "app"
    server = stack.containers(service, all_states=False)
    network, address = run(
        "docker", "inspect", "--format",
        "{{range $name, $net := .NetworkSettings.Networks}}{{$name}} {{$net.IPAddress}}\n{{end}}",
        server[0],
    ).stdout.split("\n")[0].split()  # fmt: skip
    return ["--network", network, "--add-host", f"{declared_domain(stack.folder)}:{address}"]


def browser_base(stack, port: str = "HTTPS_PORT") -> str:
    """Where the browser finds `stack` (see browser_network)."""
    if port == "DEV_PORT":
        return f"http://localhost:{RUNSERVER_PORT}"
    return f"https://{declared_domain(stack.folder)}"


def opened_in_browser(stack, paths: list[str], port: str = "HTTPS_PORT") -> list[dict]:
    """Open each of `stack`'s `paths` in the browser, as a link to it would: [{"url", "ran",
    "download"}] (data/checkers/open_uploads.py)."""
    base = browser_base(stack, port)
    report = run(
        "docker", "run", "--rm", *browser_network(stack, port), "--entrypoint", "python", BROWSER_IMAGE,
        "/open_uploads.py", *(base + path for path in paths), timeout=180,
    )  # fmt: skip
    return json.loads(report.stdout)


def admin_problems_under_csp(stack, port: str = "HTTPS_PORT") -> list[str]:
    """What went wrong when a real browser used the admin (admin_in_browser): console and script
    errors, pages not reached, an inline script that the admin's path allows and did not run, and
    a canary the policy should have blocked (or reported) that went unreported."""
    seen = admin_in_browser(stack, port)
    problems = list(seen["problems"])
    if seen["inline"] != "ran":
        problems.append("the admin page's inline script did not run under its path's policy")
    if seen["titles"] != TITLES:
        problems.append(f"the pages seen were {seen['titles']}")
    if not any("canary.invalid" in line for line in seen["canary"]):
        problems.append(f"an image from another origin was not reported blocked: {seen['canary']}")
    return problems


def mozilla_intermediate_findings(stack) -> list[str]:
    """sslyze's findings against Mozilla's intermediate profile for the stack's HTTPS port, by name
    (e.g. "maximum_certificate_lifespan"); [] when it reports the server compliant."""
    report = run(
        "docker", "run", "--rm", "--network", "host", SSLYZE_IMAGE, "--mozilla_config=intermediate",
        f"localhost:{stack.env['HTTPS_PORT']}", check=False, timeout=300,
    ).stdout  # fmt: skip
    compliance = report.partition("COMPLIANCE AGAINST")[2]
    if not compliance:
        raise AssertionError(f"sslyze printed no compliance section:\n{report}")
    return re.findall(r"^\s+\* (\w+):", compliance, re.MULTILINE)


# What sslyze finds in a certificate the tests cannot make trusted or short-lived: the sample's
# (self-signed, ten years, so that the public sample keeps working) and Pebble's (its own CA).
CERTIFICATE_FINDINGS = {"certificate_path_validation", "maximum_certificate_lifespan"}


def observatory_failures(stack, ca_file) -> dict:
    """MDN HTTP Observatory's scan of https://localhost at the stack's ports, trusting `ca_file`
    (a certificate that names localhost, as the sample's does): {"grade": ..., test: result} for
    each of its tests that did not pass, plus the grade."""
    report = run(
        "docker", "run", "--rm", "--network", "host", "--volume", f"{ca_file}:/ca.pem:ro",
        "--env", "NODE_EXTRA_CA_CERTS=/ca.pem", "--env", "NODE_NO_WARNINGS=1", OBSERVATORY_IMAGE,
        "localhost", stack.env["HTTPS_PORT"], stack.env["HTTP_PORT"], timeout=300,
    )  # fmt: skip
    scan = json.loads(report.stdout)
    failed = {name: test["result"] for name, test in scan["tests"].items() if not test["pass"]}
    return {"grade": scan["grade"], **failed}
