#!/usr/bin/env bash
# The image's command: hands the environment's private files to the app user, drops to that
# user, and execs the start script of the role asked for (dockerable/start/):
#   ENV=DEV            -> runserver.sh: Django's runserver on 0.0.0.0:8000, reloading on code changes
#   ENV=PROD (default) -> uwsgi.sh https: uWSGI, HTTPS on 443, HTTP on 80 redirecting to HTTPS
#   ENV=PROXY          -> uwsgi.sh socket: uWSGI behind nginx, the uwsgi protocol on a UNIX socket,
#                         no TLS (or on PROXY_SOCKET=:3031, TCP, where nginx is on another host: Swarm)
#   cmd.sh manage ARGS -> manage.sh: `python manage.py ARGS` (the migrate service uses this)
#   cmd.sh dbpassword  -> dbpassword.sh: the database role gets DB_PASSWORD, the last step of a
#                         password rotation (docs/security.md)
#   cmd.sh reload      -> reload.sh: in the running app container (`docker compose exec`), hands the
#                         environment's files over again and has uWSGI load the app anew, with no
#                         restart: a rotated secret, a new TLS pair (docs/security.md)
#   cmd.sh worker      -> worker.sh: the background tasks' worker (the worker service), reloading
#                         on code changes when ENV=DEV
#   cmd.sh check       -> check.sh: the environment's files for the mode ENV names, then exits
#                         (the preflight service, which runs before anything else starts)
# In PROD and PROXY modes, arguments are extra uWSGI options applied after the shipped ones
# (e.g. `cmd.sh --processes 8`).
# Started as root (as the compose files do), it first copies the environment's secrets.json and
# TLS files (0600 and owned by the host user) into a private tmpfs for the app user: no Django
# code runs as root, and the host files and folders keep their modes. Started as the app user,
# it uses them in place.
set -Eeuo pipefail
# shellcheck source-path=SCRIPTDIR source=start/lib.sh
source /dockerable/start/lib.sh

readonly START=/dockerable/start
# Proxy mode: nginx mounts the same volume at /run/uwsgi and connects here (Swarm: a TCP port
# on an overlay network that only nginx and the app join).
export PROXY_SOCKET="${PROXY_SOCKET:-/run/uwsgi/app.sock}"

# As root: copy one host-owned file into the private dir, readable by the app user only.
hand_over() {
    local source="$1" name="$2"
    [[ -r "$source" ]] || die "cannot read ${source}"
    install -m 0400 -o "$APP_USER" -g "$APP_USER" "$source" "${PRIVATE_DIR}/${name}" \
        || die "cannot copy ${source} to ${PRIVATE_DIR}"
}

prepare_private_files() {
    local with_tls="$1" secrets
    secrets="$(secrets_source)"
    [[ -e "$secrets" ]] || die "secrets file ${secrets} not found (is the environment folder mounted?)"
    if [[ "$with_tls" == yes ]]; then
        require_matching_key "$SSL_CERT" "$SSL_KEY"
    fi
    if [[ "$(id -u)" != 0 ]]; then
        return 0
    fi
    # Root's until it is filled: root holds no DAC_OVERRIDE (compose/services.yml) to write into
    # a folder the app user owns, as it does once a first cmd.sh ran (`docker compose exec`).
    install -d -m 0700 "$PRIVATE_DIR"
    chown root:root "$PRIVATE_DIR"
    hand_over "$secrets" secrets.json
    export DJANGO_SECRETS_FILE="${PRIVATE_DIR}/secrets.json"
    if [[ "$with_tls" == yes ]]; then
        hand_over "$SSL_CERT" server.crt
        hand_over "$SSL_KEY" server.key
        SSL_CERT="${PRIVATE_DIR}/server.crt" SSL_KEY="${PRIVATE_DIR}/server.key"
    fi
    chown "${APP_USER}:${APP_USER}" "$PRIVATE_DIR"
}

# The checkout is bind-mounted in development mode: fail clearly if it is private.
require_readable_code() {
    if [[ "$(id -u)" == 0 ]] && ! setpriv --reuid="$APP_USER" --regid="$APP_USER" --clear-groups \
            test -r /app/manage.py; then
        die "the app user (uid 10001) cannot read /app/manage.py: make the checkout readable (chmod -R a+rX)"
    fi
}

# DEBUGPY_PORT (the dev container sets it) asks for runserver under debugpy: refused at once, before
# anything else, by an image that has none.
require_debugger() {
    if [[ -n "${DEBUGPY_PORT:-}" ]] && ! python -c 'import debugpy' 2>/dev/null; then
        die "DEBUGPY_PORT is set but this image has no debugpy: use the dev container's image (.devcontainer/)"
    fi
}

# exec a start script as the app user (as is, when this already is the app user): it, then the
# process it execs, is the container's main process and receives SIGTERM from `docker stop`.
exec_as_app() {
    if [[ "$(id -u)" == 0 ]]; then
        exec setpriv --reuid="$APP_USER" --regid="$APP_USER" --clear-groups --inh-caps=-all -- "$@"
    fi
    exec "$@"
}

# The environment's ssl/, unless SSL_CERT and SSL_KEY name other files.
default_tls_files() {
    SSL_CERT="${SSL_CERT:-/ssl/server.crt}"
    SSL_KEY="${SSL_KEY:-/ssl/server.key}"
}

start_production() {
    default_tls_files
    prepare_private_files yes
    # TLS 1.2+ and Mozilla intermediate's key exchange groups, for uWSGI's HTTPS.
    export OPENSSL_CONF=/dockerable/openssl.cnf
    export SSL_CERT SSL_KEY
    exec_as_app "${START}/uwsgi.sh" https "$@"
}

start_proxied() {
    prepare_private_files no
    if [[ "$PROXY_SOCKET" == /* && "$(id -u)" == 0 ]]; then
        # A volume that did not start as a copy of the image's folder (a bind mount, say).
        install -d -m 0755 -o "$APP_USER" -g "$APP_USER" "$(dirname "$PROXY_SOCKET")"
    fi
    exec_as_app "${START}/uwsgi.sh" socket "$@"
}

main() {
    case "${1:-}" in
        check) exec "${START}/check.sh" ;;
        manage)
            shift
            require_settings_module
            require_readable_code
            prepare_private_files no
            exec_as_app "${START}/manage.sh" "$@" ;;
        dbpassword)
            require_settings_module
            prepare_private_files no
            exec_as_app "${START}/dbpassword.sh" ;;
        reload)
            require_settings_module
            require_known_env
            [[ "${ENV:-PROD}" != DEV ]] \
                || die "ENV=DEV: runserver reads the environment's files when it starts: restart the app"
            # Before anything changes: the running app keeps its copies when the new file is wrong.
            require_valid_secrets "$(secrets_source)"
            if [[ "${ENV:-PROD}" == PROD ]]; then
                default_tls_files
                prepare_private_files yes
            else
                prepare_private_files no
            fi
            exec_as_app "${START}/reload.sh" ;;
        worker)
            shift
            require_settings_module
            require_known_env
            [[ "${ENV:-PROD}" != DEV ]] || require_readable_code
            prepare_private_files no
            exec_as_app "${START}/worker.sh" "$@" ;;
    esac
    require_settings_module
    require_known_env
    case "${ENV:-PROD}" in
        DEV)
            require_debugger
            require_readable_code
            prepare_private_files no
            exec_as_app "${START}/runserver.sh" ;;
        PROD) start_production "$@" ;;
        PROXY) start_proxied "$@" ;;
    esac
}

main "$@"
