#!/usr/bin/env bash
# pre-commit's pylint hooks: pylint from the project's own virtualenv (tests/run makes .venv), which
# holds every package of the locks, your dependencies included. pylint-django loads your settings,
# so an app of yours from PyPI must be importable where pylint runs; a linter with its own
# packages would fail on the first one. VIRTUAL_ENV names another virtualenv.
set -Eeuo pipefail

readonly VENV="${VIRTUAL_ENV:-.venv}"

if [[ ! -x "${VENV}/bin/python" ]]; then
    echo "dockerable/pylint.sh: no virtualenv at ${VENV}: run tests/run once (it makes .venv)" >&2
    exit 64
fi
exec "${VENV}/bin/python" -m pylint "$@"
