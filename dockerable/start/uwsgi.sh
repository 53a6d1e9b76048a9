#!/usr/bin/env bash
# Roles ENV=PROD and ENV=PROXY, as the app user: `uwsgi.sh https|socket [UWSGI OPTIONS...]` runs
# uWSGI with the shared settings plus those of one front (dockerable/uwsgi.ini's [https] or
# [socket]), then the extra options. With DRAIN_SECONDS=N (the Swarm stack sets it), uWSGI goes
# on serving N seconds after SIGTERM before it stops.
set -Eeuo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Replicas would share the one socket path, each new one silently taking it over from
# the last, so a second app container of a proxy stack refuses to start.
refuse_second_proxied_app() {
    if python -c 'import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' \
            "$PROXY_SOCKET" 2>/dev/null; then
        die "another app container already serves ${PROXY_SOCKET}: proxy mode runs one app container" \
            "(set UWSGI_PROCESSES for more workers instead of --scale app)"
    fi
}

# Swarm takes a stopping task out of its DNS, waits 2 s, then sends SIGTERM; nginx asks the DNS
# again only every second or two, so requests may still arrive, and a stopping uWSGI would reset
# them. With DRAIN_SECONDS, uWSGI serves that much longer after SIGTERM.
serve_draining() {
    local pid status
    trap 'sleep "$DRAIN_SECONDS"; kill -TERM "$pid" 2>/dev/null || true' TERM
    "$@" &
    pid=$!
    # `wait` returns early when SIGTERM runs the trap: then wait again, for uWSGI's own exit.
    while :; do
        status=0
        wait "$pid" || status=$?
        kill -0 "$pid" 2>/dev/null || exit "$status"
    done
}

main() {
    local front="$1" headers routes=()
    shift
    require_drain_seconds
    if [[ "$front" == https ]]; then
        # The security headers of every response, in place of Django's own copies (nginx sends
        # them in proxy mode); first, so that the ini's own answers (413) carry them too.
        headers="$(sh /dockerable/security-headers.sh uwsgi)" || exit 64
        [[ -z "$headers" ]] || mapfile -t routes <<<"$headers"
    elif [[ "$PROXY_SOCKET" == /* ]]; then
        refuse_second_proxied_app
    fi
    # One process per core, one thread each: nothing in the benchmark's grid beat it by more
    # than noise (docs/benchmarks.md). Views that wait on slow I/O (remote APIs) want more threads.
    export UWSGI_PROCESSES="${UWSGI_PROCESSES:-$(nproc)}"
    export UWSGI_THREADS="${UWSGI_THREADS:-1}"
    # Where each worker counts its metrics for the exporter (dockerable/runtime/metrics.py): emptied
    # first, so that a restarted container's counts start again from zero, as Prometheus expects.
    export PROMETHEUS_MULTIPROC_DIR=/tmp/metrics
    rm -rf "$PROMETHEUS_MULTIPROC_DIR"
    mkdir "$PROMETHEUS_MULTIPROC_DIR"
    # uWSGI writes its log to stderr; one stream (stdout) is what log shippers expect.
    exec 2>&1
    local command=(uwsgi "${routes[@]}" --ini /dockerable/uwsgi.ini --ini "/dockerable/uwsgi.ini:${front}" "$@")
    if [[ -n "${DRAIN_SECONDS:-}" ]]; then
        serve_draining "${command[@]}"
    fi
    exec "${command[@]}"
}

main "$@"
