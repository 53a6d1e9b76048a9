"""The built image: what it must not hold, who it runs as, and cmd.sh's refusals."""

import io
import json
import os
import re
import sys
import tarfile
import uuid
from pathlib import Path

import pytest
from packaging.markers import Marker

from dockerable.tests.docker_stack import REPO, base_image, copy_checkout, git_copy, run

pytestmark = pytest.mark.docker

EXAMPLE = REPO / "project" / "settings" / "example"
# A real PEM private key: the armour line followed by base64 (not code that mentions one).
PEM_PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----\r?\n[A-Za-z0-9+/=\r\n]{64}")


def image_layers(image: str, tmp_path):
    """Yield (layer name, tarfile) for every layer of `image`, as `docker save` writes them."""
    archive = tmp_path / "image.tar"
    run("docker", "save", "-o", str(archive), image)
    with tarfile.open(archive) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))
        for layer_name in manifest[0]["Layers"]:
            data = outer.extractfile(layer_name).read()
            with tarfile.open(fileobj=io.BytesIO(data)) as layer:
                yield layer_name, layer


def base_layer_count(image: str) -> int:
    """How many of the image's layers come from the base image unchanged."""
    ours = json.loads(run("docker", "image", "inspect", "--format", "{{json .RootFS.Layers}}", image).stdout)
    base = json.loads(
        run("docker", "image", "inspect", "--format", "{{json .RootFS.Layers}}", base_image()).stdout
    )
    assert ours[: len(base)] == base, f"the image does not start from {base_image()}"
    return len(base)


HOST_SIDE_FOLDERS = ("app/tests/", "app/dockerable/tests/", "app/dockerable/bench/",
                     "app/dockerable/envtools/")  # fmt: skip
HOST_SIDE_FILES = {f"app/dockerable/{name}" for name in ("testing.py", "venv.sh", "run", "pylint.sh")}
# Packages only the host-side commands use (dockerable/requirements-tools.txt).
TOOLS_ONLY = ("/site-packages/cryptography/",)


def never_in_the_image(name: str) -> bool:
    """An environment's file, a secret, a key, git, or what only the host runs (the suites, the
    benchmark, the host-side commands and their packages)."""
    secret = "project/settings/example" in name or name.endswith(("secrets.json", ".key", "/ssl/server.crt"))
    git = "/.git/" in f"/{name}/" or name.endswith("/.git")
    host_side = name.startswith(HOST_SIDE_FOLDERS) or name in HOST_SIDE_FILES
    return secret or git or host_side or any(package in f"/{name}" for package in TOOLS_ONLY)


def test_no_environment_secret_key_git_or_host_tooling_in_any_layer(test_image, tmp_path):
    # The scan below would find the sample's key, were it anywhere in the image.
    assert PEM_PRIVATE_KEY.search((EXAMPLE / "ssl" / "server.key").read_bytes())
    skip = base_layer_count(test_image)
    forbidden_names = []
    private_keys = []
    for index, (layer_name, layer) in enumerate(image_layers(test_image, tmp_path)):
        for member in layer.getmembers():
            name = member.name
            if never_in_the_image(name):
                forbidden_names.append(f"{layer_name}: {name}")
            # Every file our own layers add is read: a key is a key whatever its name.
            if index >= skip and member.isfile():
                content = layer.extractfile(member).read()
                if PEM_PRIVATE_KEY.search(content):
                    private_keys.append(f"{layer_name}: {name}")
    assert not forbidden_names, forbidden_names
    assert not private_keys, private_keys


def test_runs_as_a_non_root_user_with_a_healthcheck(test_image):
    config = json.loads(run("docker", "image", "inspect", "--format", "{{json .Config}}", test_image).stdout)
    assert config["User"] not in ("", "root", "0", "0:0")
    assert config["Healthcheck"]["Test"][-1] == "/dockerable/healthcheck.py"
    whoami = run("docker", "run", "--rm", "--entrypoint", "id", test_image, "-u").stdout.strip()
    assert whoami == "10001"


def test_final_stage_adds_no_compiler_but_uwsgi_speaks_https(test_image):
    def compilers(image):
        return run("docker", "run", "--rm", image, "sh", "-c", "command -v gcc cc c99 || true").stdout

    # The official slim image has none; a stand-in for it may: the image must add none of its own.
    assert compilers(test_image) == compilers(base_image())
    help_text = run("docker", "run", "--rm", test_image, "uwsgi", "--help").stdout
    assert "--https " in help_text and "--http-to-https" in help_text


def cmd_sh(test_image, *docker_args):
    """Run the image's default command with extra `docker run` arguments; return the result."""
    return run("docker", "run", "--rm", *docker_args, test_image, check=False, timeout=60)


def assert_one_line_failure(result, *words):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_cmd_refuses_an_unknown_env(test_image):
    result = cmd_sh(
        test_image, "-e", "ENV=bogus", "-e", "DJANGO_SETTINGS_MODULE=project.settings.example.settings"
    )
    assert_one_line_failure(result, "ENV='bogus'")


def test_cmd_refuses_a_drain_time_that_is_not_seconds(test_image):
    settings = ["-e", "DJANGO_SETTINGS_MODULE=project.settings.example.settings"]
    folder = ["-v", f"{EXAMPLE}:/app/project/settings/example:ro"]
    proxied = ["-e", "ENV=PROXY", "-e", "PROXY_SOCKET=:3031", "-e", "DRAIN_SECONDS=5s", *settings, *folder]
    assert_one_line_failure(cmd_sh(test_image, *proxied), "DRAIN_SECONDS='5s'")
    checked = run("docker", "run", "--rm", *proxied, test_image, "/dockerable/cmd.sh", "check", check=False)
    assert_one_line_failure(checked, "DRAIN_SECONDS='5s'")


def test_cmd_refuses_a_missing_settings_module(test_image):
    assert_one_line_failure(cmd_sh(test_image), "DJANGO_SETTINGS_MODULE")
    assert_one_line_failure(cmd_sh(test_image, "-e", "ENV=DEV"), "DJANGO_SETTINGS_MODULE")


def test_cmd_refuses_a_missing_certificate(test_image):
    result = cmd_sh(
        test_image,
        "-e",
        "DJANGO_SETTINGS_MODULE=project.settings.example.settings",
        "-v",
        f"{EXAMPLE}:/app/project/settings/example:ro",
    )
    assert_one_line_failure(result, "/ssl/server.crt")


def test_the_build_refuses_a_tampered_hash(test_image, tmp_path):  # pylint: disable=unused-argument
    root = copy_checkout(tmp_path / "checkout")
    lock = root / "requirements.txt"
    text = lock.read_text()
    # Every hash of one package replaced: no file pip downloads for it can match.
    block = re.search(r"^asgiref==.*?(?=^\S)", text, re.MULTILINE | re.DOTALL).group(0)
    tampered = re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, block)
    lock.write_text(text.replace(block, tampered))
    build = run(
        "docker",
        "build",
        "--progress=plain",
        "-f",
        str(root / "dockerable" / "Dockerfile"),
        str(root),
        check=False,
        timeout=900,
    )
    assert build.returncode != 0
    assert "THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE" in build.stderr + build.stdout


def test_every_requirement_of_the_image_is_pinned_with_hashes():
    dockerfile = (REPO / "dockerable" / "Dockerfile").read_text()
    assert "pip install --require-virtualenv --require-hashes -r /tmp/requirements.txt" in dockerfile
    assert "pip install --require-virtualenv --require-hashes -r /tmp/requirements-uwsgi.txt" in dockerfile
    lock = (REPO / "requirements.txt").read_text()
    pins = {
        pin.split("[")[0].lower() for pin in re.findall(r"^([A-Za-z0-9_.\[\]-]+)==\S+ ", lock, re.MULTILINE)
    }
    assert {"django", "psycopg"} <= pins
    # Only the host-side commands make keys and certificates: their lock, not the image's.
    assert "cryptography" not in pins
    assert re.search(r"^cryptography==", (REPO / "dockerable" / "requirements-tools.txt").read_text(), re.M)
    # uWSGI, compiled, in a lock of its own that your dependencies never change.
    assert "uwsgi" not in pins
    assert re.search(
        r"^uwsgi==\S+ \\\n    --hash=sha256:",
        (REPO / "dockerable" / "requirements-uwsgi.txt").read_text(),
        re.M,
    )


def pins(path: Path) -> dict[str, str]:
    """A lock's {package: version}, markers aside."""
    return dict(re.findall(r"^([a-z0-9_.-]+)==([^\s;]+)", path.read_text(), re.MULTILINE))


# The public images production mode runs as they are: no clone builds or names them.
PULLED_IMAGES = {"valkey/valkey:8"}


def image_pins() -> dict[str, str]:
    """requirements.txt's {package: version} that the image's Python (3.14, Linux) installs."""
    image_python = {"python_full_version": "3.14.0", "python_version": "3.14", "sys_platform": "linux"}
    found = re.findall(
        r"^([a-z0-9_.-]+)==([^\s;]+)(?: ; ([^\\\n]+))?", (REPO / "requirements.txt").read_text(), re.M
    )
    return {
        name: version
        for name, version, marker in found
        if not marker or Marker(marker.strip()).evaluate(image_python)
    }


def test_the_hosts_virtualenvs_hold_the_images_packages_but_never_compile_uwsgi():
    # uWSGI, built from source, runs only in the image: the host's suites need no C compiler.
    image = image_pins()
    for lock in ("requirements.txt", "requirements-django6.txt"):
        host = pins(REPO / "tests" / lock)
        assert "uwsgi" not in host, lock
        assert not set(image) - set(host), lock
    assert image["psycopg"] == host["psycopg"]  # the image's versions, Django 6's aside


def test_a_dependency_only_rebuild_reuses_the_compiled_uwsgi(test_image, tmp_path):  # pylint: disable=unused-argument
    # A package of the user's added to requirements.txt (with its hash, as the lock script writes
    # it): the layer that compiled uWSGI comes from the cache, the one that installs the lock runs.
    root = copy_checkout(tmp_path / "checkout")
    (root / "project" / "requirements.in").write_text("six>=1.16\n")
    uv = Path(sys.executable).parent / "uv"
    added = run(str(uv), "pip", "compile", "--quiet", "--generate-hashes", "--no-header",
                "--python-version=3.14", "project/requirements.in", cwd=root).stdout  # fmt: skip
    with (root / "requirements.txt").open("a") as lock:
        # Unique, so that no build of an earlier run has this lock in its cache.
        lock.write(f"{added}# {uuid.uuid4().hex}\n")
    tag = f"dockerable-django:test-dependency-{uuid.uuid4().hex[:8]}"
    try:
        build = run("docker", "build", "--progress=plain", "--target=builder", f"--tag={tag}", "-f",
                    str(root / "dockerable" / "Dockerfile"), str(root), timeout=900)  # fmt: skip
    finally:
        run("docker", "image", "rm", "--force", tag, check=False)
    steps = step_states(build.stderr)
    uwsgi = next(step for step in steps if "-r /tmp/requirements-uwsgi.txt" in step)
    requirements = next(step for step in steps if "-r /tmp/requirements.txt" in step)
    assert steps[uwsgi] == "CACHED", build.stderr[-3000:]
    assert steps[requirements] == "DONE", build.stderr[-3000:]


def step_states(progress: str) -> dict[str, str]:
    """A plain-progress build's {RUN step: CACHED or DONE}."""
    names = dict(re.findall(r"^#(\d+) \[[^\]]*\] (RUN .*)$", progress, re.MULTILINE))
    states = {}
    for number, state in re.findall(r"^#(\d+) (CACHED|DONE)\b", progress, re.MULTILINE):
        if number in names:
            states[names[number]] = state
    return states


def images_named(*patterns: str) -> dict[str, str]:
    """{repository:tag: image ID} of this engine's images whose reference matches one of `patterns`."""
    filters = [argument for pattern in patterns for argument in ("--filter", f"reference={pattern}")]
    listing = run("docker", "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", *filters).stdout
    return dict(line.split() for line in listing.splitlines())


def clone_images(clone: Path, project: str) -> dict[str, str]:
    """The images `clone` built: its stack's (named after compose project `project`) and its tools."""
    folder = re.sub(r"[^a-z0-9]", "-", clone.name.lower())  # as dockerable/run names its image
    return images_named(f"{project}-*", f"dockerable-{folder}-tools")


def test_two_clones_on_one_engine_build_their_own_images_and_never_touch_the_others():
    # Two projects made from the template, each with its compose project (its environment's
    # `name:`, here -p) and nothing else set: no image name is shared, and building one leaves
    # every image of the other as it was.
    env = {key: value for key, value in os.environ.items() if not key.startswith("DOCKERABLE_")}
    token = uuid.uuid4().hex[:8]
    made: dict[str, dict[str, str]] = {}
    with git_copy(f"dd-clone-a{token}-") as first, git_copy(f"dd-clone-b{token}-") as second:
        clones = {f"dd-clone-a{token}": first, f"dd-clone-b{token}": second}
        try:
            for project, clone in clones.items():
                # Each clone's own code, so that the two builds cannot end as one image by chance.
                urls = clone / "project" / "urls.py"
                urls.write_text(f"{urls.read_text()}# {project}\n")
                compose_file = clone / "project" / "settings" / "example" / "docker-compose.yml"
                compose = ["docker", "compose", "-p", project, "-f", str(compose_file)]
                names = set(run(*compose, "config", "--images", env=env).stdout.split()) - PULLED_IMAGES
                assert names == {
                    f"{project}-app:latest",
                    f"{project}-backup:postgres-18",
                    f"{project}-backup:database-18",
                }
                run(*compose, "build", env=env, timeout=1200)
                # The host-side commands' image: the clone's own, named after its folder.
                run(str(clone / "dockerable" / "run"), "manage", "version", env=env, timeout=1200)
                made[project] = clone_images(clone, project)
                assert len(made[project]) == 4, made[project]
            assert not set(made[f"dd-clone-a{token}"]) & set(made[f"dd-clone-b{token}"])
            # The first clone's images, after the second built its own: the same names, the same images.
            assert clone_images(first, f"dd-clone-a{token}") == made[f"dd-clone-a{token}"]
        finally:
            references = [reference for images in made.values() for reference in images]
            run("docker", "image", "rm", "-f", *references, check=False)
