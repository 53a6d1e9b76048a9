#!/usr/bin/env bash
# Regenerates the hashed locks from their hand-edited inputs, with uv (pinned in tests/requirements.in):
#   dockerable/requirements.in and project/requirements.in (yours)
#                              -> requirements.txt                  what the image installs; universal,
#                                                                   so a host's Python 3.11-3.14 installs it too
#   dockerable/uwsgi.in        -> dockerable/requirements-uwsgi.txt  the image's uWSGI, built in a layer of
#                                                                   its own that your dependencies never touch
#   tests/requirements.in      -> tests/requirements.txt            the test suite's virtualenv
#   the same, Django 6.x       -> tests/requirements-django6.txt    the fast tier on the next Django
#   dockerable/devtools.in     -> dockerable/requirements-devtools.txt   the dev container's additions
#   dockerable/tools.in        -> dockerable/requirements-tools.txt     the host-side commands' (dockerable/run)
# All of them or none: when one cannot be resolved, every lock is put back as it was.
# Without arguments only what the inputs changed moves; `--upgrade` moves every pin to its newest release.
set -Eeuo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly UV=.venv/bin/uv
readonly LOCKS=(requirements.txt dockerable/requirements-uwsgi.txt tests/requirements.txt
    tests/requirements-django6.txt dockerable/requirements-devtools.txt dockerable/requirements-tools.txt)
saved=""

compile() {
    "$UV" pip compile --quiet --generate-hashes --custom-compile-command dockerable/update-requirements.sh "$@"
}

# Each lock is compiled in place (uv keeps its pins as preferences, and its comments name the files
# as they are); a copy of every one waits here until all of them are written.
save_locks() {
    local lock
    saved="$(mktemp -d)"
    for lock in "${LOCKS[@]}"; do
        cp -p "$lock" "${saved}/${lock//\//%}"
    done
}

restore_locks() {
    local lock
    for lock in "${LOCKS[@]}"; do
        cp -p "${saved}/${lock//\//%}" "$lock"
    done
    echo "update-requirements.sh: a lock could not be made (above): every lock is as it was" >&2
}

compile_all() {
    # Universal from 3.11: the image's 3.14 and every Python a host's virtualenv may run.
    compile --universal --python-version 3.11 dockerable/requirements.in project/requirements.in \
        -o requirements.txt "$@"
    compile --python-version 3.14 dockerable/uwsgi.in -o dockerable/requirements-uwsgi.txt "$@"
    compile --universal --python-version 3.11 --constraint requirements.txt \
        tests/requirements.in -o tests/requirements.txt "$@"
    compile --universal --python-version 3.12 --override tests/django6.txt \
        tests/requirements.in -o tests/requirements-django6.txt "$@"
    compile --python-version 3.14 --constraint requirements.txt dockerable/devtools.in \
        -o dockerable/requirements-devtools.txt "$@"
    compile --python-version 3.14 --constraint requirements.txt dockerable/tools.in \
        -o dockerable/requirements-tools.txt "$@"
}

main() {
    [[ -x "$UV" ]] || { echo "update-requirements.sh: ${UV} is missing: run tests/run once first" >&2; exit 64; }
    save_locks
    trap 'rm -rf -- "$saved"' EXIT
    trap 'restore_locks; exit 130' INT TERM
    # Not `if ! compile_all`: errexit would be off inside it, and a failed lock would not stop it.
    trap 'restore_locks' ERR
    compile_all "$@"
    trap - ERR
}

main "$@"
