"""The benchmark suite is held to the linters the template is held to."""

from tests.linters import pylint, shellcheck


def test_pylint_passes_on_the_bench_and_its_tests():
    result = pylint("bench", tests=True)
    assert result.returncode == 0, result.stdout


def test_the_bench_script_is_clean_under_shellcheck():
    result = shellcheck("bench/run")
    assert result.returncode == 0, result.stdout + result.stderr
