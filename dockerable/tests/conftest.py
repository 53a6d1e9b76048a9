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
    ENGINE_LOCK,
    REPO,
    TEST_IMAGE,
    TOOLS_IMAGE,
    TURNSTILE,
    Stack,
    build_backup_images,
    copy_checkout,
    engine_shared,
    engine_shared_until_now,
    install_fixture_app,
    run,
)

# Fixtures that need the engine; a test using one must say so with @pytest.mark.docker.
DOCKER_FIXTURES = frozenset({"postgres_server", "test_image", "checker_images"})


# The checker images' build, started in the background once the app's image is built when a
# selected test uses them: most of it is downloading packages, which the tests of the stacks
# before the first such test leave time for (docs/ci.md).
_CHECKERS = concurrent.futures.ThreadPoolExecutor(max_workers=1)
_checker_build: dict = {"wanted": False, "future": None}


# The Swarm module has the engine to itself (docker_stack.engine_exclusive): it starts first, and
# the other process meanwhile runs the modules whose Docker tests need no compose stack, or not
# until their last tests: SWARM_SAFE (their containers, if any, are on Docker's default bridge,
# which has no name resolution to break; a compose stack of theirs waits for the Swarm module to
# end), then those with no Docker test. Then the longest of the others, so that no process idles
# at the end (docs/ci.md).
SWARM_MODULE = "test_swarm.py"
SWARM_SAFE = (
    # No stack at all, but lint and two suites: its commands run at the lowest priority.
    "test_boundary.py",
    # pytest-xdist gives a process whose module has two tests or fewer a second at once.
    "test_ci.py",
    "test_image.py",
    "test_health.py",
    "test_login_throttle.py",
    "test_environment_loader.py",
    "test_tasks.py",
    "test_mail.py",
    "test_media_storage.py",
    "test_metrics.py",
    "test_envtools.py",
)
# Of those, the ones whose last tests start compose stacks: after the modules with no Docker test,
# since they may wait there for the Swarm module to end.
SWARM_SAFE_UNTIL_THEIR_END = ("test_envtools.py",)
# The modules after the Swarm module, longest first (as CI measured them: docs/ci.md), so that the
# short ones fill the processes' ends instead of a two-minute module starting last.
LONGEST_STACKS = (
    "test_proxy_stack.py",
    "test_backup.py",
    "test_prod_stack.py",
    "test_ship.py",
    "test_run.py",
    "test_pg_upgrade.py",
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
    first = [SWARM_MODULE, *(name for name in SWARM_SAFE if name not in SWARM_SAFE_UNTIL_THEIR_END)]
    then = [*SWARM_SAFE_UNTIL_THEIR_END, *LONGEST_STACKS]

    def rank(item) -> int:
        name = item.path.name
        if name in first:
            return first.index(name)
        if item.path not in with_docker:
            return len(first)
        if name in then:
            return len(first) + 1 + then.index(name)
        return len(first) + 1 + len(then)

    items.sort(key=rank)
    for item in items:
        needs_engine = bool(
            DOCKER_FIXTURES & set(getattr(item, "fixturenames", ())) or item.get_closest_marker("django_db")
        )
        if needs_engine and not item.get_closest_marker("docker"):
            raise pytest.UsageError(f"{item.nodeid} needs the Docker engine: mark it @pytest.mark.docker")


def pytest_sessionfinish(session):
    """The session fixtures' images and the engine lock's file, removed once nothing can use them:
    under pytest-xdist, by the controlling process when every worker is done (a worker that ends
    first must not remove the image another still runs stacks of)."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["made_images"] = sorted(_made_images)
        return
    if _made_images:
        run("docker", "image", "rm", "-f", *sorted(_made_images), check=False)
    # Only by a session that may have used them: a fast tier ending beside a Docker run must not
    # take the files from under that run's locks.
    if any(item.get_closest_marker("docker") for item in session.items):
        ENGINE_LOCK.unlink(missing_ok=True)
        TURNSTILE.unlink(missing_ok=True)


@pytest.fixture(scope="module", autouse=True)
def engine_share(request):
    """The engine lock, shared, for the length of a module whose Docker tests may start compose
    stacks: never while the Swarm module has the engine."""
    path = request.node.path
    if path.name in SWARM_SAFE:
        # Until its first compose stack, which waits for the lock then (Stack.compose).
        try:
            yield
        finally:
            engine_shared_until_now()
        return
    starts_stacks = path.name != SWARM_MODULE and any(
        item.path == path and item.get_closest_marker("docker") for item in request.session.items
    )
    if not starts_stacks:
        yield
        return
    with engine_shared():
        yield


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):  # pylint: disable=unused-argument
    """pytest-xdist's: a worker is done; the images it made are the controlling process's to remove."""
    _made_images.update(getattr(node, "workeroutput", {}).get("made_images", ()))


def pytest_collection_finish(session):
    """Whether the tests selected (after -m and -k) use the checker images."""
    _checker_build["wanted"] = any(
        "checker_images" in getattr(item, "fixturenames", ()) for item in session.items
    )


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
