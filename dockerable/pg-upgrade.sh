#!/usr/bin/env bash
# Moves an environment's database from PostgreSQL 17 to 18, or back:
#   dockerable/pg-upgrade.sh project/settings/<env>/docker-compose.yml --yes
#   dockerable/pg-upgrade.sh project/settings/<env>/docker-compose.yml --rollback --yes
#   dockerable/pg-upgrade.sh project/settings/<env>/docker-compose.yml --check   (deploy.sh runs it)
# (the proxy mode's compose file works the same). The upgrade stops the app and worker, dumps the 17
# database, starts 18 on a new volume (pgdata-18), loads the dump into it, switches the
# environment's database.yml to 18 (a copy of dockerable/compose/database-18.yml, which its compose
# files take PostgreSQL from) and starts the app. The 17 volume (pgdata) is only read: it stays
# until you remove it, and --rollback switches the file back to it. On any failure the file and
# the running stack are put back on 17 and the new volume is removed.
# Where there is no 17 volume (a checkout that never ran the stack) it switches the file only;
# where the file already says 18 but the data is still on 17 (a bundle made after upgrading in
# the checkout, on a server not yet moved: deploy.sh stops there), it moves the data.
# Nothing here reads a compose file's text: Compose says which data volume the files mount.
set -Eeuo pipefail

readonly FROM=17 TO=18
# The data volume of each major, as dockerable/compose/services.yml mounts it.
readonly FROM_VOLUME=pgdata TO_VOLUME=pgdata-18
readonly DUMP=/upgrade/database.dump
readonly DATABASE_FILE=database.yml

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly here
# shellcheck source-path=SCRIPTDIR source=release-history.sh
source "${here}/release-history.sh"

die() {
    echo "pg-upgrade.sh: $*" >&2
    exit 1
}

say() {
    echo "pg-upgrade.sh: $*"
}

# The major whose data volume the environment's compose file mounts, from Compose's list of the
# volumes its services use ("" if neither).
current_major() {
    local volumes
    volumes="$("${compose[@]}" config --volumes)" || die "${compose_file}: docker compose cannot read it"
    if grep -qxF "$TO_VOLUME" <<<"$volumes"; then
        echo "$TO"
    elif grep -qxF "$FROM_VOLUME" <<<"$volumes"; then
        echo "$FROM"
    fi
}

# Point the environment at one major: its database.yml becomes the template's file of that major,
# copied whole (dockerable/compose in a checkout; the same folder in a bundle, this script at its top).
switch_files() {
    local source="${here}/compose/database-$1.yml"
    [[ -f "$source" ]] || source="${here}/dockerable/compose/database-$1.yml"
    [[ -f "$source" ]] || die "no database-$1.yml beside this script's compose/ folder: is the checkout or bundle whole?"
    cp "$source" "${folder}/.${DATABASE_FILE}.new"
    mv "${folder}/.${DATABASE_FILE}.new" "${folder}/${DATABASE_FILE}"
}

# On a bundle's host, which has no source to build from, the images of the major database.yml
# names must be here already: a bundle brings those of the major it was made on, and an earlier
# bundle those of the data's. Says which one is missing, and fails.
require_images() {
    [[ ! -f "${here}/Dockerfile" ]] || return 0
    local image missing=()
    while IFS= read -r image; do
        docker image inspect "$image" >/dev/null 2>&1 || missing+=("$image")
    done < <("${compose[@]}" config --images postgres backup | sort -u)
    ((${#missing[@]} > 0)) || return 0
    echo "pg-upgrade.sh: not on this host, and a bundle's host cannot build them: ${missing[*]}; deploy a" \
        "bundle of ${folder##*/} made while it ran PostgreSQL $(current_major) first (it brings them)" >&2
    return 1
}

volume_exists() {
    docker volume inspect "${project}_$1" >/dev/null 2>&1
}

# Back on 17: database.yml as it was, the stack up on the untouched 17 volume.
undo() {
    trap - ERR
    say "failed: putting ${project} back on PostgreSQL ${FROM}"
    switch_files "$FROM"
    "${compose[@]}" down --remove-orphans >/dev/null 2>&1 || true
    docker volume rm "${project}_${TO_VOLUME}" "${project}_pg-upgrade" >/dev/null 2>&1 || true
    "${compose[@]}" up --detach --wait || true
    die "the upgrade failed; ${project} runs PostgreSQL ${FROM} on ${FROM_VOLUME} as before"
}

upgrade() {
    volume_exists "$TO_VOLUME" \
        && die "volume ${project}_${TO_VOLUME} already exists (an earlier upgrade?): roll back, or remove it"
    require_images || exit 1
    # What writes to the database stops (the app, the worker, the backups); PostgreSQL 17 stays
    # up, to be dumped.
    "${compose[@]}" up --detach --wait postgres
    mapfile -t writers < <("${compose[@]}" config --services | grep -xE 'app|worker|backup')
    "${compose[@]}" stop "${writers[@]}"
    trap undo ERR
    say "dumping the PostgreSQL ${FROM} database"
    "${compose[@]}" run --rm --no-deps -T --volume "${project}_pg-upgrade:/upgrade" backup export "$DUMP"
    "${compose[@]}" stop postgres
    switch_files "$TO"
    require_images
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
    switch_files "$FROM"
    require_images || { switch_files "$TO" && exit 1; }
    "${compose[@]}" down --remove-orphans
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
    project="$(compose_project "${folder##*/}")"
    compose=(docker compose --progress quiet --project-name "$project" -f "$compose_file")
    # The name the files give the project is the rule's unless their `name:` was changed: then the
    # volumes below would be another project's, so Compose's own reading is compared, not assumed.
    [[ "$(docker compose -f "$compose_file" config 2>&1)" == "$("${compose[@]}" config 2>&1)" ]] \
        || die "${compose_file} names its compose project otherwise than ${project}: set COMPOSE_PROJECT_NAME" \
            "to its name"
    local major
    major="$(current_major)"
    # Files from before majors were named (full copies of the topology) have nothing to check.
    [[ -n "$major" || "$action" != check ]] || exit 0
    [[ -n "$major" ]] || die "${compose_file} mounts neither ${FROM_VOLUME} nor ${TO_VOLUME} for PostgreSQL:" \
        "run dockerable/run upgradeenv ${folder##*/} first (docs/environments.md)"
    # Files from before database.yml name the major themselves: checked as they are, never switched.
    [[ "$action" == check || -f "${folder}/${DATABASE_FILE}" ]] \
        || die "${folder}/${DATABASE_FILE} is missing: run dockerable/run upgradeenv ${folder##*/} first" \
            "(docs/environments.md)"
    if [[ "$action" == check ]]; then
        # Files that say 18 over data still on 17 would start an empty database.
        if [[ "$major" == "$TO" ]] && volume_exists "$FROM_VOLUME" && ! volume_exists "$TO_VOLUME"; then
            die "the data of ${project} is on PostgreSQL ${FROM} (volume ${project}_${FROM_VOLUME})" \
                "and these files run ${TO}: move it first with pg-upgrade.sh ${compose_file} --yes"
        fi
    elif [[ "$action" == upgrade ]]; then
        if [[ "$major" == "$TO" ]] && volume_exists "$FROM_VOLUME" && ! volume_exists "$TO_VOLUME"; then
            # The files are ahead of the data: back to the files that match it, then move both.
            switch_files "$FROM"
            major="$FROM"
        fi
        if [[ "$major" == "$TO" ]]; then
            say "${folder##*/} already runs PostgreSQL ${TO}"
        elif ! volume_exists "$FROM_VOLUME"; then
            switch_files "$TO"
            say "no volume ${project}_${FROM_VOLUME} here: switched ${DATABASE_FILE} to ${TO} only" \
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
