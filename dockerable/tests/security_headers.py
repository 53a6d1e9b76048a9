"""The list of security headers every response must carry (dockerable/proxy/security-headers.txt)."""

import re

from dockerable.tests.docker_stack import REPO

LIST = REPO / "dockerable" / "proxy" / "security-headers.txt"


def listed() -> dict[str, str]:
    """{name: value} of the list, as the servers read it."""
    lines = [line for line in LIST.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return dict(line.split(": ", 1) for line in lines)


def header_problems(response) -> list[str]:
    """Each listed header that `response` lacks, sends with another value, or sends more than once."""
    problems = []
    for name, value in listed().items():
        sent = [v for k, v in response.header_lines if k.lower() == name.lower()]
        if sent != [value]:
            problems.append(f"{name}: {sent or 'missing'}")
    return problems


def problems_by_answer(fetch, port_80) -> dict[str, list[str]]:
    """{kind of answer: header_problems} for each kind that has any: a page, a static file, /healthz,
    a 404, a 404 under /static/ (each GET over HTTPS by `fetch(path)`) and `port_80`'s redirect."""
    page = fetch("/")
    css = re.search(r'href="(/static/fixturebook/site\.[0-9a-f]{12}\.css)"', page.text).group(1)
    answers = {
        "page": page,
        "static file": fetch(css),
        "/healthz": fetch("/healthz"),
        "404": fetch("/not-there/"),
        "static 404": fetch("/static/not-there.css"),
        "port 80": port_80,
    }
    found = {kind: header_problems(answer) for kind, answer in answers.items()}
    return {kind: problems for kind, problems in found.items() if problems}
