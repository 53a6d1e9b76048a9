"""The list of security headers every response must carry (dockerable/proxy/security-headers.txt)."""

from tests.docker_stack import REPO

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
