#!/usr/bin/env bash
# Sourced by the postgres and backup services' scripts: what they read of the environment's
# secrets.json, mounted at /run/secrets/django.json, they ask the one loader for
# (dockerable/runtime/environment.py, at LOADER in their images or mounted there), so that a bad
# file or key gets the line every other reader gives. `secret KEY` prints one string, `secrets KEY`
# each item of a list, one a line (none without the key); `pg_service` the health check's libpq
# service file. A fault ends the script with the loader's line and exit 64.
readonly SECRETS=/run/secrets/django.json LOADER=/opt/dockerable/environment.py

# The loader's COMMAND [KEY] on SECRETS: its output, or its one line after this script's name.
loader() {
    local fault
    { fault="$(python3 -I -S "$LOADER" "$@" "$SECRETS" 2>&1 >&3)"; } 3>&1 && return 0
    echo "${0##*/}: ${fault:-${LOADER} failed}" >&2
    exit 64
}

secret() {
    loader value "$1"
}

secrets() {
    loader list "$1"
}

pg_service() {
    loader pg-service
}
