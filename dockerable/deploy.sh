#!/usr/bin/env bash
# Deploys an unpacked bundle made by `dockerable/run shipenv NAME` (no source checkout needed):
#   tar -xf NAME-*.bundle.tar && dockerable-NAME/deploy.sh
#   ... dockerable-NAME/deploy.sh --swarm [--registry HOST:PORT]   to Docker Swarm instead
# Loads the bundle's image into Docker, then brings the environment's production
# stack up and waits until it is healthy. The database lives in the named volume
# of the compose project (dockerable-NAME): deploying a newer bundle, from any
# folder, replaces the containers and keeps the data.
set -Eeuo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() {
    echo "deploy.sh: $*" >&2
    exit 1
}

read_bundle() {
    [[ -r "${here}/bundle.env" ]] || die "${here}/bundle.env is missing: is this an unpacked bundle?"
    # shellcheck source=/dev/null
    source "${here}/bundle.env"
    [[ -n "${ENV_NAME:-}" && -n "${DOCKERABLE_IMAGE:-}" ]] || die "${here}/bundle.env lacks ENV_NAME or DOCKERABLE_IMAGE"
    compose_file="${here}/project/settings/${ENV_NAME}/docker-compose.yml"
    [[ -f "$compose_file" ]] || die "${compose_file} is missing"
}

# One deploy of an environment at a time on this host: an exclusive lock on a file named after
# its compose project, held until this script and the `docker compose up` it becomes have ended
# (the kernel drops it with them, even if they are killed).
take_lock() {
    local project="${COMPOSE_PROJECT_NAME:-dockerable-${ENV_NAME}}" lock
    command -v flock >/dev/null || die "flock (util-linux) is not installed: it keeps deploys one at a time"
    lock="${TMPDIR:-/tmp}/dockerable-deploy-${project}.lock"
    [[ -e "$lock" ]] || (umask 022 && : >"$lock") || die "${lock}: cannot create the deploy lock"
    exec {LOCK_FD}<"$lock"
    flock --nonblock "$LOCK_FD" || die "another deploy of ${ENV_NAME} (${project}) runs on this host: wait for it to end"
}

load_image() {
    command -v docker >/dev/null || die "docker is not installed on this host"
    [[ -r "${here}/image.tar" ]] || die "${here}/image.tar is missing"
    docker load --input "${here}/image.tar"
}

main() {
    read_bundle
    # The release's images by the names they were built under (DOCKERABLE_BACKUP_IMAGE with a
    # backup service), and its name for error reports.
    export DOCKERABLE_IMAGE DOCKERABLE_BACKUP_IMAGE DOCKERABLE_RELEASE
    if [[ "${1:-}" == --swarm ]]; then
        # On a swarm manager: the same image and folder, deployed as a stack (docs/swarm.md), which
        # keeps its deploys one at a time itself.
        shift
        load_image
        exec "${here}/dockerable/swarm/deploy.sh" "${compose_file%/*}/docker-stack.yml" "$@"
    fi
    take_lock
    load_image
    # A bundle on a newer PostgreSQL major than the host's data stops here with what to run.
    "${here}/pg-upgrade.sh" "$compose_file" --check
    # --no-build: the image came in the bundle; there is no source here to build from.
    exec docker compose -f "$compose_file" up --detach --no-build --wait --remove-orphans "$@"
}

main "$@"
