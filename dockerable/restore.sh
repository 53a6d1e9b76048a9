#!/usr/bin/env bash
# Restores a backup into an environment's database, with its app stopped meanwhile:
#   dockerable/restore.sh project/settings/<env>/docker-compose.yml latest --yes
#   dockerable/restore.sh project/settings/<env>/docker-compose.yml <env>-<UTC time>.dump --yes
# (the proxy mode's compose file works the same). The backup service checks the file first,
# takes a safety backup of the current database, and restores all or nothing: on any failure
# the database is as it was. The app starts again either way.
set -Eeuo pipefail

die() {
    echo "restore.sh: $*" >&2
    exit 1
}

main() {
    [[ $# -ge 3 ]] || die "usage: restore.sh COMPOSE_FILE BACKUP|latest --yes"
    local compose_file="$1" status=0
    shift
    [[ -f "$compose_file" ]] || die "${compose_file}: no such compose file"
    [[ "${2:-}" == --yes ]] || die "restore replaces the environment's database: add --yes to confirm"
    local compose=(docker compose --progress quiet -f "$compose_file")
    # A file that cannot be restored is refused before anything stops (its one line is backup.sh's).
    "${compose[@]}" run --rm --no-deps -T backup verify "$1" >/dev/null || exit 1
    "${compose[@]}" stop app
    "${compose[@]}" run --rm --no-deps -T backup restore "$@" || status=$?
    "${compose[@]}" start app
    exit "$status"
}

main "$@"
