#!/usr/bin/env bash
# Puts the maintenance page in front of an environment in proxy mode or on Swarm, takes it away,
# or says which is there (docs/operations.md, Maintenance mode):
#   dockerable/maintenance.sh project/settings/<env>/docker-compose-proxy.yml on|off|status
#   dockerable/maintenance.sh project/settings/<env>/docker-stack.yml on|off|status
# (the latter on a swarm manager; DOCKERABLE_STACK names the stack, as for swarm/deploy.sh).
# While it is on, nginx answers every request but static files, uploads and ACME's challenges with
# a 503 page (Retry-After, the security headers) and none reaches the app, which may be stopped,
# migrated or replaced meanwhile. The flag is a file in the volume nginx shares with certbot, so
# it outlives restarts and deploys until it is taken away.
set -Eeuo pipefail

readonly WEBROOT=/var/www/acme
readonly FLAG="${WEBROOT}/dockerable-maintenance"
readonly USAGE="usage: maintenance.sh project/settings/<env>/docker-compose-proxy.yml|docker-stack.yml on|off|status"
# The stack's name is swarm/stack.sh's: under this script's folder in a checkout, under
# dockerable/ beside it in a bundle.
stack_rule="$(dirname "${BASH_SOURCE[0]}")/swarm/stack.sh"
[[ -f "$stack_rule" ]] || stack_rule="$(dirname "${BASH_SOURCE[0]}")/dockerable/swarm/stack.sh"
# shellcheck source-path=SCRIPTDIR source=swarm/stack.sh
source "$stack_rule"

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

# On Swarm the volume is on the node labelled dockerable.proxy, which may not be this one: the
# command runs there as a one-off job, in nginx's own image. Its exit status is the command's.
in_swarm_job() {
    local image state deadline=$((SECONDS + 120))
    image="$(docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "${STACK}_nginx" 2>&1)" \
        || die "${compose_file}: no service ${STACK}_nginx here (DOCKERABLE_STACK names the stack): ${image##*$'\n'}"
    job="${STACK}_maintenance-$$"
    trap 'docker service rm "$job" >/dev/null 2>&1 || true' EXIT
    # Detached: a job whose task fails would keep an attached `create` waiting for ever.
    state="$(docker service create --quiet --detach --name "$job" --mode replicated-job \
        --restart-condition none --constraint node.labels.dockerable.proxy==true --read-only \
        --cap-drop ALL --mount "type=volume,source=${STACK}_acme-webroot,target=${WEBROOT}" \
        --entrypoint "$1" "$image" "${@:2}" 2>&1)" || die "${compose_file}: ${state##*$'\n'}"
    while :; do
        state="$(docker service ps --no-trunc --format '{{.CurrentState}}|{{.Error}}' "$job")"
        state="${state%%$'\n'*}"
        # `test` says "off" with its exit status 1; any other failure is the job's.
        [[ "$1" != test || "$state" != Failed*'non-zero exit (1)'* ]] || return 1
        case "$state" in
            Complete*) return 0 ;;
            Failed* | Rejected*) die "the job on the node labelled dockerable.proxy failed: ${state#*|}" ;;
        esac
        ((SECONDS < deadline)) \
            || die "no node labelled dockerable.proxy ran the job within 2 minutes (${state%%|*})"
        sleep 1
    done
}

# Where the flag is written: the certbot service of a proxy-mode stack, or a job on the swarm.
choose_mode() {
    local services
    if [[ "${compose_file##*/}" == docker-stack.yml ]]; then
        STACK="$(stack_name "$compose_file")"
        in_flag_volume() { in_swarm_job "$@"; }
        return
    fi
    services="$(docker compose -f "$compose_file" config --services 2>&1)" \
        || die "${compose_file}: ${services##*$'\n'}"
    grep -qx certbot <<<"$services" \
        || die "${compose_file} has no nginx and certbot in front of the app: maintenance mode is proxy mode's" \
            "(docker-compose-proxy.yml) and Swarm's (docker-stack.yml)"
    in_flag_volume() { in_certbot "$@"; }
}

main() {
    (($# == 2)) || die "$USAGE"
    compose_file="$1"
    [[ -f "$compose_file" ]] || die "${compose_file}: no such compose file"
    [[ "$2" =~ ^(on|off|status)$ ]] || die "unknown action '$2': on, off or status"
    command -v docker >/dev/null || die "docker is not installed on this host"
    choose_mode
    case "$2" in
        on)
            in_flag_volume touch "$FLAG"
            echo "maintenance.sh: on: nginx answers 503 with the maintenance page; the app gets no request" ;;
        off)
            in_flag_volume rm -f "$FLAG"
            echo "maintenance.sh: off: requests reach the app again" ;;
        status)
            if in_flag_volume test -f "$FLAG"; then echo on; else echo off; fi ;;
    esac
}

main "$@"
