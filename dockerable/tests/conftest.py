"""The template suite's fixtures: a real PostgreSQL for the unit tests (dockerable/testing.py) and the
real image for the Docker tests."""

import concurrent.futures
import os
import shutil
import stat
import tempfile
import uuid
from pathlib import Path

import pytest

# The database fixtures are dockerable/testing.py's, which your project's suite uses too.
from dockerable.testing import (  # noqa: F401  pylint: disable=unused-import
    django_db_modify_db_settings,
    postgres_server,
    require_docker,
)
from dockerable.tests.checkers import build_checker_images
from dockerable.tests.docker_stack import (
    REPO,
    TEST_IMAGE,
    TOOLS_IMAGE,
    Stack,
    build_backup_images,
    copy_checkout,
    install_fixture_app,
    run,
)
from dockerable.tests.signing_keys import allowed_signers, make_key

# Fixtures that need the engine; a test using one must say so with @pytest.mark.docker.
DOCKER_FIXTURES = frozenset({"postgres_server", "test_image", "checker_images"})


# The checker images' build, started in the background once the app's image is built when a
# selected test uses them: most of it is downloading packages, which the tests of the stacks
# before the first such test leave time for (docs/ci.md).
_CHECKERS = concurrent.futures.ThreadPoolExecutor(max_workers=1)
_checker_build: dict = {"wanted": False, "future": None}


# The modules that start stacks or run long, longest first as CI measured them (docs/ci.md), so
# that the short ones fill the processes' ends instead of a two-minute module starting last. The
# Swarm module's two nodes are docker:dind engines, so it runs beside the compose stacks.
LONGEST_FIRST = (
    "test_swarm.py",
    # No stack, but lint and two suites, at the lowest priority: long on a busy machine.
    "test_boundary.py",
    "test_proxy_stack.py",
    "test_backup.py",
    "test_prod_stack.py",
    "test_ship.py",
    "test_run.py",
    "test_pg_upgrade.py",
    "test_envtools.py",
    "test_preflight.py",
    "test_bench_smoke.py",
    "test_dev_stack.py",
)

# The images this process's session fixtures made, removed when the run ends (pytest_sessionfinish).
_made_images: set[str] = set()


def pytest_collection_modifyitems(items):
    """Keep the tiers honest: `-m "not docker"` runs with no engine, so a test that needs one says
    so. Then the longest modules first."""
    with_docker = {item.path for item in items if item.get_closest_marker("docker")}

    def rank(item) -> int:
        if item.path.name in LONGEST_FIRST:
            return LONGEST_FIRST.index(item.path.name)
        return len(LONGEST_FIRST) + (item.path in with_docker)

    items.sort(key=rank)
    for item in items:
        needs_engine = bool(
            DOCKER_FIXTURES & set(getattr(item, "fixturenames", ())) or item.get_closest_marker("django_db")
        )
        if needs_engine and not item.get_closest_marker("docker"):
            raise pytest.UsageError(f"{item.nodeid} needs the Docker engine: mark it @pytest.mark.docker")


def pytest_sessionfinish(session):
    """The session fixtures' images, removed once nothing can use them: under pytest-xdist, by
    the controlling process when every worker is done (a worker that ends first must not remove
    the image another still runs stacks of)."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["made_images"] = sorted(_made_images)
        return
    if _made_images:
        run("docker", "image", "rm", "-f", *sorted(_made_images), check=False)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):  # pylint: disable=unused-argument
    """pytest-xdist's: a worker is done; the images it made are the controlling process's to remove."""
    _made_images.update(getattr(node, "workeroutput", {}).get("made_images", ()))


def pytest_collection_finish(session):
    """Whether the tests selected (after -m and -k) use the checker images."""
    _checker_build["wanted"] = any(
        "checker_images" in getattr(item, "fixturenames", ()) for item in session.items
    )


@pytest.fixture(scope="session", autouse=True)
def bundle_signing():
    """A signing key of the session's own, which shipenv signs with, and an allowed signers file
    naming it for any environment, which deploy.sh checks bundles against (as a team's host would)."""
    with tempfile.TemporaryDirectory(prefix="dockerable-signing-") as folder:
        key = make_key(Path(folder))
        signers = allowed_signers(Path(folder) / "allowed_signers", key)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("DOCKERABLE_SIGNING_KEY", str(key))
            patch.setenv("DOCKERABLE_ALLOWED_SIGNERS", str(signers))
            yield key, signers


@pytest.fixture(scope="session")
def test_image():
    """The real image, built once per session through the build-only compose file from a copy of
    the checkout with the fixture app installed; the backup images too."""
    require_docker()
    with tempfile.TemporaryDirectory(prefix="dockerable-image-") as folder:
        root = install_fixture_app(copy_checkout(Path(folder)))
        build = Stack(root / "dockerable" / "docker-compose-build-only.yml", "dockerable-tests-build")
        build.compose("build", timeout=1200)
    _made_images.update(build_backup_images())
    if _checker_build["wanted"] and _checker_build["future"] is None:
        _checker_build["future"] = _CHECKERS.submit(build_checker_images)
    # The layers stay in the build cache, so the next session rebuilds in seconds.
    _made_images.add(TEST_IMAGE)
    return TEST_IMAGE


@pytest.fixture(scope="session")
def tools_image():
    """The tools stage, built as dockerable/run builds it; gives {"DOCKERABLE_TOOLS_IMAGE": tag} for it."""
    require_docker()
    run("docker", "build", "-q", "--target=tools", f"--tag={TOOLS_IMAGE}",
        f"--file={REPO / 'dockerable' / 'Dockerfile'}", str(REPO), timeout=1200)  # fmt: skip
    _made_images.add(TOOLS_IMAGE)
    return {"DOCKERABLE_TOOLS_IMAGE": TOOLS_IMAGE}


# A host user's uid: on a real host the environment's files are a user's, not root's, and the
# containers' root holds no capability that would let it read another user's 0600 file unasked.
HOST_USER_UID = 1000


@pytest.fixture(scope="session")
def checker_images():
    """The checkers' images (dockerable/tests/data/checkers), for the tests that use them."""
    require_docker()
    future = _checker_build["future"] or _CHECKERS.submit(build_checker_images)
    images = future.result()  # a failed build fails here, in the test that needs the images
    _made_images.update(images)
    return images


def make_private(path):
    """chmod 0600 and owned by a host user, as newenv leaves secrets and keys on a real host."""
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    if os.geteuid() == 0:  # otherwise they are already the user's who runs the tests
        os.chown(path, HOST_USER_UID, HOST_USER_UID)


@pytest.fixture(scope="module")
def checkout():
    """A private copy of this checkout, with the sample's secrets and key at mode 0600."""
    # Not under pytest's tmp_path: its 0700 folders would hide the bind-mounted
    # source from the container's app user, which an ordinary checkout does not.
    root = Path(tempfile.mkdtemp(prefix="dockerable-checkout-"))
    root.chmod(0o755)
    install_fixture_app(copy_checkout(root))
    example = root / "project" / "settings" / "example"
    make_private(example / "secrets.json")
    make_private(example / "ssl" / "server.key")
    yield root
    shutil.rmtree(root, ignore_errors=True)


def unique_project(prefix: str) -> str:
    """A compose project name no other stack on this machine uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
