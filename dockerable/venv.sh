#!/usr/bin/env bash
# Sourced by tests/run and dockerable/tests/run: the host virtualenv both suites run in, made
# from a hashed lock on first use and reinstalled only when that lock changes.

# A Python 3.12+ for Django 6: the newest on PATH, else one that pyenv keeps.
newer_python() {
    local candidate
    for candidate in python3.14 python3.13 python3.12 python3 \
            "${PYENV_ROOT:-${HOME}/.pyenv}"/versions/3.1[2-9]*/bin/python3; do
        if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then
            echo "$candidate"
            return 0
        fi
    done
    echo "--django6 needs Python 3.12 or newer on PATH" >&2
    return 64
}

# ensure_venv VENV LOCK [PYTHON]: VENV holds exactly what LOCK pins.
ensure_venv() {
    local venv="$1" lock="$2" python="${3:-python3}"
    local stamp="${venv}/.requirements-installed"
    if [[ ! -x "${venv}/bin/python" ]]; then
        "$python" -m venv "$venv"
    fi
    if [[ ! -f "$stamp" || "$lock" -nt "$stamp" ]]; then
        "${venv}/bin/pip" install --quiet --disable-pip-version-check --require-hashes -r "$lock"
        touch "$stamp"
    fi
}
