#!/usr/bin/env bash
# Puts the maintenance page in front of an environment in proxy mode, takes it away, or says
# which is there (docs/operations.md, Maintenance mode):
#   dockerable/maintenance.sh project/settings/<env>/docker-compose-proxy.yml on|off|status
# While it is on, nginx answers every request but static files, uploads and ACME's challenges with
# a 503 page (Retry-After, the security headers) and none reaches the app, which may be stopped,
# migrated or replaced meanwhile. The flag is a file in the volume nginx shares with certbot, so
# it outlives restarts and deploys until it is taken away.
set -Eeuo pipefail

readonly FLAG=/var/www/acme/dockerable-maintenance

die() {
    echo "maintenance.sh: $*" >&2
    exit 1
}

# `docker compose exec` of a command in the certbot service, which writes that volume; one line
# when it cannot (the stack is not up).
in_certbot() {
    local fault
    fault="$(docker compose -f "$compose_file" exec -T certbot "$@" 2>&1 >/dev/null)" && return 0
    [[ "$1" == test && -z "$fault" ]] && return 1
    die "${compose_file}: ${fault##*$'\n'}"
}

main() {
    local services
    (($# == 2)) || die "usage: maintenance.sh project/settings/<env>/docker-compose-proxy.yml on|off|status"
    compose_file="$1"
    [[ -f "$compose_file" ]] || die "${compose_file}: no such compose file"
    command -v docker >/dev/null || die "docker is not installed on this host"
    services="$(docker compose -f "$compose_file" config --services 2>&1)" \
        || die "${compose_file}: ${services##*$'\n'}"
    grep -qx certbot <<<"$services" \
        || die "${compose_file} has no nginx and certbot in front of the app: maintenance mode is proxy mode's (docker-compose-proxy.yml)"
    case "$2" in
        on)
            in_certbot touch "$FLAG"
            echo "maintenance.sh: on: nginx answers 503 with the maintenance page; the app gets no request" ;;
        off)
            in_certbot rm -f "$FLAG"
            echo "maintenance.sh: off: requests reach the app again" ;;
        status)
            if in_certbot test -f "$FLAG"; then echo on; else echo off; fi ;;
        *) die "unknown action '$2': on, off or status" ;;
    esac
}

main "$@"
