#!/usr/bin/env bash
# Moves an environment's database from PostgreSQL 17 to 18, or back:
#   dockerable/pg-upgrade.sh project/settings/<env>/docker-compose.yml --yes
#   dockerable/pg-upgrade.sh project/settings/<env>/docker-compose.yml --rollback --yes
#   dockerable/pg-upgrade.sh project/settings/<env>/docker-compose.yml --check   (deploy.sh runs it)
# (the proxy mode's compose file works the same). The upgrade stops the app and worker, dumps the 17
# database, starts 18 on a new volume (pgdata-18), loads the dump into it, switches the
# environment's compose files to 18 and starts the app. The 17 volume (pgdata) is only read:
# it stays until you remove it, and --rollback switches the files back to it. On any failure
# the files and the running stack are put back on 17 and the new volume is removed.
# Where there is no 17 volume (a checkout that never ran the stack) it switches the files only;
# where the files already say 18 but the data is still on 17 (a bundle made after upgrading in
# the checkout, on a server not yet moved: deploy.sh stops there), it moves the data.
set -Eeuo pipefail

readonly FROM=17 TO=18
# The data volume of each major, as dockerable/compose/services.yml mounts it.
readonly FROM_VOLUME=pgdata TO_VOLUME=pgdata-18
readonly DUMP=/upgrade/database.dump

die() {
    echo "pg-upgrade.sh: $*" >&2
    exit 1
}

say() {
    echo "pg-upgrade.sh: $*"
}

# The major the environment's production compose file names (service: postgres-NN).
current_major() {
    sed -n 's/.*service: postgres-\([0-9][0-9]*\)}.*/\1/p' "${folder}/docker-compose.yml" | head -n 1
}

# Point the environment's compose files at one major's services and data volume.
switch_files() {
    local major="$1" volume="$2" old_major="$3" old_volume="$4" file
    for file in "${files[@]}"; do
        sed -i -e "s/service: postgres-${old_major}}/service: postgres-${major}}/" \
            -e "s/service: backup-${old_major}}/service: backup-${major}}/" \
            -e "s/\([ {]\)${old_volume}:/\1${volume}:/" "$file"
    done
}

volume_exists() {
    docker volume inspect "${project}_$1" >/dev/null 2>&1
}

# Back on 17: the files as they were, the stack up on the untouched 17 volume.
undo() {
    trap - ERR
    say "failed: putting ${project} back on PostgreSQL ${FROM}"
    switch_files "$FROM" "$FROM_VOLUME" "$TO" "$TO_VOLUME"
    "${compose[@]}" down --remove-orphans >/dev/null 2>&1 || true
    docker volume rm "${project}_${TO_VOLUME}" "${project}_pg-upgrade" >/dev/null 2>&1 || true
    "${compose[@]}" up --detach --wait || true
    die "the upgrade failed; ${project} runs PostgreSQL ${FROM} on ${FROM_VOLUME} as before"
}

upgrade() {
    volume_exists "$TO_VOLUME" \
        && die "volume ${project}_${TO_VOLUME} already exists (an earlier upgrade?): roll back, or remove it"
    # What writes to the database stops (the app, the worker, the backups); PostgreSQL 17 stays
    # up, to be dumped.
    "${compose[@]}" up --detach --wait postgres
    mapfile -t writers < <("${compose[@]}" config --services | grep -xE 'app|worker|backup')
    "${compose[@]}" stop "${writers[@]}"
    trap undo ERR
    say "dumping the PostgreSQL ${FROM} database"
    "${compose[@]}" run --rm --no-deps -T --volume "${project}_pg-upgrade:/upgrade" backup export "$DUMP"
    "${compose[@]}" stop postgres
    switch_files "$TO" "$TO_VOLUME" "$FROM" "$FROM_VOLUME"
    say "loading it into PostgreSQL ${TO} (volume ${project}_${TO_VOLUME})"
    "${compose[@]}" up --detach --wait postgres
    "${compose[@]}" run --rm --no-deps -T --volume "${project}_pg-upgrade:/upgrade" backup import "$DUMP"
    "${compose[@]}" up --detach --wait --remove-orphans
    trap - ERR
    docker volume rm "${project}_pg-upgrade" >/dev/null
    say "${project} runs PostgreSQL ${TO}; ${project}_${FROM_VOLUME} still holds the ${FROM} data" \
        "(--rollback returns to it; remove it with docker volume rm once you are sure)"
}

# Back to 17's volume as the upgrade left it: what was written on 18 since is not carried back.
rollback() {
    volume_exists "$FROM_VOLUME" || die "volume ${project}_${FROM_VOLUME} is gone: nothing to roll back to"
    "${compose[@]}" down --remove-orphans
    switch_files "$FROM" "$FROM_VOLUME" "$TO" "$TO_VOLUME"
    "${compose[@]}" up --detach --wait --remove-orphans
    say "${project} runs PostgreSQL ${FROM} again; ${project}_${TO_VOLUME} is kept (remove it by hand)"
}

main() {
    [[ $# -ge 2 ]] || die "usage: pg-upgrade.sh COMPOSE_FILE [--rollback] --yes | --check"
    local compose_file="$1" action=upgrade
    shift
    [[ -f "$compose_file" ]] || die "${compose_file}: no such compose file"
    case "$1" in
        --rollback) action=rollback && shift ;;
        --check) action=check && set -- --yes ;;
    esac
    [[ "${1:-}" == --yes && $# -eq 1 ]] \
        || die "this stops ${compose_file##*/}'s app while it moves the database: add --yes to confirm"
    folder="$(cd "$(dirname "$compose_file")" && pwd)"
    files=("${folder}/docker-compose.yml" "${folder}/docker-compose-dev.yml" "${folder}/docker-compose-proxy.yml")
    local major
    major="$(current_major)"
    # Files from before majors were named (full copies of the topology) have nothing to check.
    [[ -n "$major" || "$action" != check ]] || exit 0
    [[ -n "$major" ]] || die "${folder}/docker-compose.yml names no postgres-NN service:" \
        "run dockerable/run upgradeenv first (docs/environments.md)"
    compose=(docker compose --progress quiet -f "$compose_file")
    project="$("${compose[@]}" config --format json | sed -n 's/^ *"name": "\([^"]*\)",$/\1/p' | head -n 1)"
    [[ -n "$project" ]] || die "${compose_file}: cannot read its compose project name"
    if [[ "$action" == check ]]; then
        # Files that say 18 over data still on 17 would start an empty database.
        if [[ "$major" == "$TO" ]] && volume_exists "$FROM_VOLUME" && ! volume_exists "$TO_VOLUME"; then
            die "the data of ${project} is on PostgreSQL ${FROM} (volume ${project}_${FROM_VOLUME})" \
                "and these files run ${TO}: move it first with pg-upgrade.sh ${compose_file} --yes"
        fi
    elif [[ "$action" == upgrade ]]; then
        if [[ "$major" == "$TO" ]] && volume_exists "$FROM_VOLUME" && ! volume_exists "$TO_VOLUME"; then
            # The files are ahead of the data: back to the files that match it, then move both.
            switch_files "$FROM" "$FROM_VOLUME" "$TO" "$TO_VOLUME"
            major="$FROM"
        fi
        if [[ "$major" == "$TO" ]]; then
            say "${folder##*/} already runs PostgreSQL ${TO}"
        elif [[ "$major" != "$FROM" ]]; then
            die "${folder##*/} runs PostgreSQL ${major}: this command moves ${FROM} to ${TO}"
        elif ! volume_exists "$FROM_VOLUME"; then
            switch_files "$TO" "$TO_VOLUME" "$FROM" "$FROM_VOLUME"
            say "no volume ${project}_${FROM_VOLUME} here: switched the compose files to ${TO} only" \
                "(run this again where the data is, e.g. on the server after deploying them)"
        else
            upgrade
        fi
    else
        [[ "$major" == "$TO" ]] || die "${folder##*/} runs PostgreSQL ${major}: nothing to roll back"
        rollback
    fi
}

main "$@"
