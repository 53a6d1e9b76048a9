#!/usr/bin/env bash
# The image's command. Chooses what runs from the environment:
#   ENV=DEV            -> Django's runserver on 0.0.0.0:8000, reloading on code changes
#                         (under debugpy on DEBUGPY_PORT when that is set)
#   ENV=PROD (default) -> uWSGI: HTTPS on 443, HTTP on 80 redirecting to HTTPS
#   ENV=PROXY          -> uWSGI behind nginx: the uwsgi protocol on a UNIX socket, no TLS
#                         (or on PROXY_SOCKET=:3031, TCP, where nginx is on another host: Swarm)
#   cmd.sh manage ARGS -> `python manage.py ARGS` (the migrate service uses this)
#   cmd.sh check       -> checks the environment's files for the mode ENV names, then exits
#                         (the preflight service, which runs before anything else starts)
# In PROD and PROXY modes, arguments are extra uWSGI options applied after the
# shipped ones (e.g. `cmd.sh --processes 8`); with DRAIN_SECONDS=N (the Swarm stack sets it),
# uWSGI goes on serving N seconds after SIGTERM before it stops.
# Started as root (as the compose files do), it first copies the environment's
# secrets.json and TLS files (0600 and owned by the host user) into a
# private tmpfs for the app user, then drops to that user: no Django code runs as
# root, and the host files and folders keep their modes. Started as the app user it uses them in place.
set -Eeuo pipefail

readonly APP_USER=app
readonly PRIVATE_DIR=/run/dockerable
# Proxy mode: nginx mounts the same volume at /run/uwsgi and connects here (Swarm: a TCP port
# on an overlay network that only nginx and the app join).
PROXY_SOCKET="${PROXY_SOCKET:-/run/uwsgi/app.sock}"
readonly PROXY_SOCKET
readonly SETTINGS_ROOT=/app

die() {
    echo "cmd.sh: $*" >&2
    exit 64
}

require_settings_module() {
    [[ -n "${DJANGO_SETTINGS_MODULE:-}" ]] \
        || die "DJANGO_SETTINGS_MODULE is not set (e.g. project.settings.example.settings)"
}

# The secrets.json beside the environment's settings.py, unless DJANGO_SECRETS_FILE names one.
secrets_source() {
    local module_dir
    module_dir="${SETTINGS_ROOT}/$(dirname "${DJANGO_SETTINGS_MODULE//.//}")"
    echo "${DJANGO_SECRETS_FILE:-${module_dir}/secrets.json}"
}

require_known_env() {
    case "${ENV:-PROD}" in
        DEV | PROD | PROXY) ;;
        *) die "unknown ENV='${ENV}' (use DEV for runserver, PROD for uWSGI HTTPS, PROXY behind nginx)" ;;
    esac
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

# The file parses, and holds each key the services read: where the postgres service would stop
# on it at every restart. The one loader, with the standard library only: as root, no app code.
require_valid_secrets() {
    local fault
    fault="$(python -I -S "${SETTINGS_ROOT}/dockerable/runtime/environment.py" check "$1" 2>&1)" || die "$fault"
}

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

# The command that runs ARGS as the app user (as is, when this already is the app user).
as_app() {
    if [[ "$(id -u)" == 0 ]]; then
        echo setpriv --reuid="$APP_USER" --regid="$APP_USER" --clear-groups --inh-caps=-all --
    fi
}

# exec the long-running process as the app user, so that it is the container's
# main process and receives SIGTERM from `docker stop` directly.
exec_as_app() {
    local prefix
    read -ra prefix <<<"$(as_app)"
    exec "${prefix[@]}" "$@"
}

require_drain_seconds() {
    [[ "${DRAIN_SECONDS:-0}" =~ ^[0-9]{1,2}$ ]] \
        || die "DRAIN_SECONDS='${DRAIN_SECONDS}' is not a whole number of seconds under 100"
}

# Swarm takes a stopping task out of its DNS, waits 2 s, then sends SIGTERM; nginx asks the DNS
# again only every second or two, so requests may still arrive, and a stopping uWSGI would reset
# them. With DRAIN_SECONDS (the stack sets it), uWSGI serves that much longer after SIGTERM.
serve_draining() {
    local prefix pid status
    read -ra prefix <<<"$(as_app)"
    trap 'sleep "$DRAIN_SECONDS"; kill -TERM "$pid" 2>/dev/null || true' TERM
    "${prefix[@]}" "$@" &
    pid=$!
    # `wait` returns early when SIGTERM runs the trap: then wait again, for uWSGI's own exit.
    while :; do
        status=0
        wait "$pid" || status=$?
        kill -0 "$pid" 2>/dev/null || exit "$status"
    done
}

run_manage() {
    require_settings_module
    require_readable_code
    prepare_private_files no
    exec_as_app python /app/manage.py "$@"
}

# DEBUGPY_PORT (the dev container sets it): runserver under debugpy, for an editor to attach.
run_dev() {
    local debugger=()
    if [[ -n "${DEBUGPY_PORT:-}" ]]; then
        python -c 'import debugpy' 2>/dev/null \
            || die "DEBUGPY_PORT is set but this image has no debugpy: use the dev container's image (.devcontainer/)"
        debugger=(-m debugpy --listen "0.0.0.0:${DEBUGPY_PORT}")
    fi
    require_readable_code
    prepare_private_files no
    exec_as_app python "${debugger[@]}" /app/manage.py runserver "0.0.0.0:8000"
}

# uWSGI with the shared settings plus those of one front ([https] or [socket]).
run_uwsgi() {
    local front="$1" headers routes=()
    shift
    require_drain_seconds
    if [[ "$front" == https ]]; then
        # The security headers of every response, in place of Django's own copies (nginx sends
        # them in proxy mode); first, so that the ini's own answers (413) carry them too.
        headers="$(sh /dockerable/security-headers.sh uwsgi)" || exit 64
        [[ -z "$headers" ]] || mapfile -t routes <<<"$headers"
    fi
    # One process per core, one thread each: nothing in the benchmark's grid beat it by more
    # than noise (docs/benchmarks.md). Views that wait on slow I/O (remote APIs) want more threads.
    export UWSGI_PROCESSES="${UWSGI_PROCESSES:-$(nproc)}"
    export UWSGI_THREADS="${UWSGI_THREADS:-1}"
    # uWSGI writes its log to stderr; one stream (stdout) is what log shippers expect.
    exec 2>&1
    local command=(uwsgi "${routes[@]}" --ini /dockerable/uwsgi.ini --ini "/dockerable/uwsgi.ini:${front}" "$@")
    if [[ -n "${DRAIN_SECONDS:-}" ]]; then
        serve_draining "${command[@]}"
    fi
    exec_as_app "${command[@]}"
}

run_prod() {
    SSL_CERT="${SSL_CERT:-/ssl/server.crt}"
    SSL_KEY="${SSL_KEY:-/ssl/server.key}"
    prepare_private_files yes
    # TLS 1.2+ and Mozilla intermediate's key exchange groups, for uWSGI's HTTPS.
    export OPENSSL_CONF=/dockerable/openssl.cnf
    export SSL_CERT SSL_KEY
    run_uwsgi https "$@"
}

# Replicas would share the one socket path, each new one silently taking it over from
# the last, so a second app container of a proxy stack refuses to start.
refuse_second_proxied_app() {
    if python -c 'import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' \
            "$PROXY_SOCKET" 2>/dev/null; then
        die "another app container already serves ${PROXY_SOCKET}: proxy mode runs one app container" \
            "(set UWSGI_PROCESSES for more workers instead of --scale app)"
    fi
}

run_proxied() {
    prepare_private_files no
    if [[ "$PROXY_SOCKET" != /* ]]; then
        export PROXY_SOCKET
        run_uwsgi socket "$@"
    fi
    refuse_second_proxied_app
    if [[ "$(id -u)" == 0 ]]; then
        # A volume that did not start as a copy of the image's folder (a bind mount, say).
        install -d -m 0755 -o "$APP_USER" -g "$APP_USER" "$(dirname "$PROXY_SOCKET")"
    fi
    export PROXY_SOCKET
    run_uwsgi socket "$@"
}

# The preflight service: each mistake in the environment's files that would stop a service at
# every one of its restarts, said once, in one line, before any such service has started.
# Proxy mode also checks nginx's files when they are mounted (SECURITY_HEADERS, TLS_SOURCE).
run_check() {
    require_settings_module
    require_known_env
    require_drain_seconds
    require_valid_secrets "$(secrets_source)"
    case "${ENV:-PROD}" in
        PROD)
            sh /dockerable/security-headers.sh check || exit 64
            require_matching_key "${SSL_CERT:-/ssl/server.crt}" "${SSL_KEY:-/ssl/server.key}" ;;
        PROXY)
            if [[ -n "${SECURITY_HEADERS:-}" ]]; then
                sh /dockerable/security-headers.sh check || exit 64
            fi
            case "${TLS_SOURCE:-acme}" in
                acme) ;;
                files) require_matching_key /ssl/server.crt /ssl/server.key ;;
                *) die "unknown TLS_SOURCE='${TLS_SOURCE}' (use acme or files)" ;;
            esac ;;
    esac
    echo "cmd.sh: the environment's files are fine for ENV=${ENV:-PROD}"
}

main() {
    case "${1:-}" in
        manage) shift; run_manage "$@" ;;
        check) run_check; exit 0 ;;
    esac
    require_settings_module
    require_known_env
    case "${ENV:-PROD}" in
        DEV) run_dev ;;
        PROD) run_prod "$@" ;;
        PROXY) run_proxied "$@" ;;
    esac
}

main "$@"
