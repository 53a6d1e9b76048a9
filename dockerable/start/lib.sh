#!/usr/bin/env bash
# Sourced by cmd.sh and the start scripts: the refusals they share, each one line and exit 64.
# shellcheck disable=SC2034  # constants for the scripts that source this file

readonly APP_USER=app
readonly PRIVATE_DIR=/run/dockerable
readonly SETTINGS_ROOT=/app

die() {
    echo "cmd.sh: $*" >&2
    exit 64
}

require_settings_module() {
    [[ -n "${DJANGO_SETTINGS_MODULE:-}" ]] \
        || die "DJANGO_SETTINGS_MODULE is not set (e.g. project.settings.example.settings)"
}

require_known_env() {
    case "${ENV:-PROD}" in
        DEV | PROD | PROXY) ;;
        *) die "unknown ENV='${ENV}' (use DEV for runserver, PROD for uWSGI HTTPS, PROXY behind nginx)" ;;
    esac
}

require_drain_seconds() {
    [[ "${DRAIN_SECONDS:-0}" =~ ^[0-9]{1,2}$ ]] \
        || die "DRAIN_SECONDS='${DRAIN_SECONDS}' is not a whole number of seconds under 100"
}

# The secrets.json beside the environment's settings.py, unless DJANGO_SECRETS_FILE names one.
secrets_source() {
    local module_dir
    module_dir="${SETTINGS_ROOT}/$(dirname "${DJANGO_SETTINGS_MODULE//.//}")"
    echo "${DJANGO_SECRETS_FILE:-${module_dir}/secrets.json}"
}

# The file parses and holds each key the services read (where the postgres service would stop
# on it at every restart): the one loader, standard library only, so no app code runs as root.
require_valid_secrets() {
    local fault
    fault="$(python -I -S "${SETTINGS_ROOT}/dockerable/runtime/environment.py" check "$1" 2>&1)" || die "$fault"
}

# One line naming both files, where uWSGI would say "unable to assign key" of its private copy.
require_matching_key() {
    local cert="$1" key="$2"
    [[ -e "$cert" ]] || die "certificate ${cert} not found (mount the environment's ssl/ at /ssl)"
    [[ -e "$key" ]] || die "private key ${key} not found (mount the environment's ssl/ at /ssl)"
    python -c 'import ssl, sys; ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(*sys.argv[1:])' \
        "$cert" "$key" 2>/dev/null \
        || die "${key} is not the private key of ${cert}, or either is not PEM (the environment's ssl/)"
}
