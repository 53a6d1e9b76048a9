"""The dev container: its compose files bring the development stack up, with a debugger to attach to."""

import json
import socket

import pytest

from dockerable.tests.conftest import unique_project
from dockerable.tests.docker_stack import REPO, Stack, free_port, run, wait_for
from dockerable.tests.http_client import request

pytestmark = pytest.mark.docker

CONFIG = json.loads((REPO / ".devcontainer" / "devcontainer.json").read_text())
LAUNCH = json.loads((REPO / ".vscode" / "launch.json").read_text())


@pytest.fixture(scope="module")
def devcontainer(test_image, checkout):  # pylint: disable=unused-argument
    """The stack exactly as a devcontainer client starts it: the files devcontainer.json names."""
    files = [checkout / ".devcontainer" / name for name in CONFIG["dockerComposeFile"]]
    stack = Stack(
        files[0],
        unique_project("dd-devcontainer"),
        DEV_PORT=free_port(),
        DB_PORT=free_port(),
        DEBUGPY_HOST_PORT=free_port(),
    )
    stack.extra_files = files[1:]
    with stack.running(*CONFIG["runServices"]):
        yield stack
    run("docker", "image", "rm", "-f", f"{stack.project}-devtools:latest", check=False)


def dap_initialize(port: int) -> dict:
    """Send the Debug Adapter Protocol's first request, as an editor attaching does; return the reply."""
    body = json.dumps(
        {
            "seq": 1,
            "type": "request",
            "command": "initialize",
            "arguments": {"adapterID": "debugpy", "clientID": "tests"},
        }
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        data = b""
        while True:
            header, _, rest = data.partition(b"\r\n\r\n")
            if header and len(rest) >= int(header.split(b":")[1]):
                message = json.loads(rest[: int(header.split(b":")[1])])
                if message.get("type") == "response":
                    return message
                data = rest[int(header.split(b":")[1]) :]
                continue
            chunk = sock.recv(65536)
            if not chunk:
                raise AssertionError(f"debugpy closed the connection; got {data!r}")
            data += chunk


def test_the_named_service_runs_runserver_over_a_writable_checkout(devcontainer):
    config = json.loads(devcontainer.compose("config", "--format", "json").stdout)
    service = config["services"][CONFIG["service"]]
    assert set(CONFIG["runServices"]) <= set(config["services"])
    workspace = next(mount for mount in service["volumes"] if mount["target"] == CONFIG["workspaceFolder"])
    assert not workspace.get("read_only")
    response = request("GET", devcontainer.url("/healthz", "DEV_PORT"))
    assert response.status == 200


def test_the_editor_tools_are_in_the_dev_container_image(devcontainer):
    interpreter = CONFIG["customizations"]["vscode"]["settings"]["python.defaultInterpreterPath"]
    result = devcontainer.exec("app", interpreter, "-c", "import debugpy, pylint, pylint_django")
    assert result.returncode == 0
    home = devcontainer.exec("app", "sh", "-c", "getent passwd app | cut -d: -f6").stdout.strip()
    assert home == "/home/app"


def test_a_debugger_attaches_to_runserver_as_launch_json_says(devcontainer):
    (attach,) = LAUNCH["configurations"]
    assert attach["request"] == "attach" and attach["connect"]["port"] == 5678
    assert attach["pathMappings"][0]["remoteRoot"] == CONFIG["workspaceFolder"]
    port = int(devcontainer.env["DEBUGPY_HOST_PORT"])
    reply = wait_for(lambda: dap_initialize(port), timeout=30, what="debugpy to answer initialize")
    assert reply["command"] == "initialize" and reply["success"] is True, reply


def test_the_production_image_refuses_a_debugger_port(test_image):
    result = run(
        "docker",
        "run",
        "--rm",
        "-e",
        "ENV=DEV",
        "-e",
        "DEBUGPY_PORT=5678",
        "-e",
        "DJANGO_SETTINGS_MODULE=project.settings.example.settings",
        test_image,
        check=False,
    )
    assert result.returncode == 64
    assert "DEBUGPY_PORT is set but this image has no debugpy" in result.stderr
