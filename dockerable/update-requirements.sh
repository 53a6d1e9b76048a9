#!/usr/bin/env bash
# Regenerates the hashed locks from their hand-edited inputs, with uv (pinned in tests/requirements.in):
#   dockerable/requirements.in and project/requirements.in (yours)
#                              -> requirements.txt                  what the image installs (Python 3.14)
#   tests/requirements.in      -> tests/requirements.txt            the test suite's virtualenv
#   the same, Django 6.x       -> tests/requirements-django6.txt    the fast tier on the next Django
#   dockerable/devtools.in     -> dockerable/requirements-devtools.txt   the dev container's additions
#   dockerable/tools.in        -> dockerable/requirements-tools.txt     the host-side commands' (dockerable/run)
# Without arguments only what the inputs changed moves; `--upgrade` moves every pin to its newest release.
set -Eeuo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly UV=.venv/bin/uv

compile() {
    "$UV" pip compile --quiet --generate-hashes --custom-compile-command dockerable/update-requirements.sh "$@"
}

main() {
    [[ -x "$UV" ]] || { echo "update-requirements.sh: ${UV} is missing: run tests/run once first" >&2; exit 64; }
    compile --python-version 3.14 dockerable/requirements.in project/requirements.in -o requirements.txt "$@"
    # The host's virtualenvs never run uWSGI (the image does): without it they need no C compiler.
    compile --universal --python-version 3.11 --constraint requirements.txt --no-emit-package uwsgi \
        tests/requirements.in -o tests/requirements.txt "$@"
    compile --universal --python-version 3.12 --override tests/django6.txt --no-emit-package uwsgi \
        tests/requirements.in -o tests/requirements-django6.txt "$@"
    compile --python-version 3.14 --constraint requirements.txt dockerable/devtools.in \
        -o dockerable/requirements-devtools.txt "$@"
    compile --python-version 3.14 --constraint requirements.txt dockerable/tools.in \
        -o dockerable/requirements-tools.txt "$@"
}

main "$@"
