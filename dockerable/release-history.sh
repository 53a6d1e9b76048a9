# shellcheck shell=bash
# Releases and rollback, sourced by a bundle's deploy.sh, releases.sh and rollback.sh, and by
# swarm/deploy.sh (docs/operations.md and docs/swarm.md, Releases and rollback); pg-upgrade.sh
# sources it for the compose project's name. A history is
# one line per deploy, appended once the release serves:
#   UTC time <TAB> release <TAB> image <TAB> where it came from
# A bundle's host keeps it in ${DOCKERABLE_STATE_DIR:-/var/lib/dockerable}/<compose project>/releases.tsv
# (where it came from: the unpacked bundle's folder); a swarm in Swarm configs (swarm/history.sh).
# The caller defines die().

# The environment of the bundle in folder $1: its one folder under project/settings.
bundle_env_name() {
    local folders
    mapfile -t folders < <(find "$1/project/settings" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null)
    ((${#folders[@]} == 1)) || die "$1/project/settings must hold one environment folder: is this an unpacked bundle?"
    echo "${folders[0]}"
}

# Its compose project (compose_project).
bundle_project() {
    local env
    env="$(bundle_env_name "$1")" || return 1
    compose_project "$env"
}

# The compose project of environment $1: the name its compose files give it (newenv writes
# `name: dockerable-<env>`), unless COMPOSE_PROJECT_NAME says another.
compose_project() {
    echo "${COMPOSE_PROJECT_NAME:-dockerable-$1}"
}

history_file() {
    echo "${DOCKERABLE_STATE_DIR:-/var/lib/dockerable}/$1/releases.tsv"
}

# How many releases keep their image (DOCKERABLE_KEEP_RELEASES) into KEEP_RELEASES, or one line why not.
read_keep() {
    KEEP_RELEASES="${DOCKERABLE_KEEP_RELEASES:-5}"
    [[ "$KEEP_RELEASES" =~ ^[1-9][0-9]*$ ]] \
        || die "DOCKERABLE_KEEP_RELEASES=${KEEP_RELEASES}: must be a whole number, 1 or more"
}

# Before a deploy changes anything: the history of project $1 can be written, and how many
# releases keep their image is a number; or one line why not.
require_history() {
    local file
    read_keep
    file="$(history_file "$1")"
    { mkdir -p "${file%/*}" && touch "$file"; } 2>/dev/null || die "${file}: cannot write the release history;" \
        "make ${file%/*/*} writable by whoever deploys (docs/operations.md, Releases and rollback)," \
        "or name another folder with DOCKERABLE_STATE_DIR"
}

# Appends a deploy of release $2 (image $3, bundle folder $4) to project $1's history.
record_release() {
    printf '%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$2" "$3" "$4" >>"$(history_file "$1")"
}

# The history's lines on stdin, oldest first, kept for each release its latest deploy only.
latest_of() {
    local lines release kept=() i
    local -A seen=()
    mapfile -t lines
    for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
        IFS=$'\t' read -r _ release _ _ <<<"${lines[i]}"
        [[ -n "$release" && -z "${seen[$release]:-}" ]] || continue
        seen[$release]=1
        kept=("${lines[i]}" "${kept[@]}")
    done
    ((${#kept[@]} == 0)) || printf '%s\n' "${kept[@]}"
}

# Project $1's releases, each once, by its latest deploy, newest last: the history's own lines.
latest_deploys() {
    local file
    file="$(history_file "$1")"
    [[ ! -s "$file" ]] || latest_of <"$file"
}

# The latest deploy of each release of project $1 into DEPLOYS (oldest first), the running
# release into CURRENT; ends the script (the caller's `die`) in one line when none is recorded.
read_deploys() {
    mapfile -t DEPLOYS < <(latest_deploys "$1")
    ((${#DEPLOYS[@]} > 0)) || die "no release of $1 deployed from a bundle is recorded in $(history_file "$1")"
    # shellcheck disable=SC2034  # read by the scripts that source this
    IFS=$'\t' read -r _ CURRENT _ _ <<<"${DEPLOYS[-1]}"
}

# DEPLOYS as a table, the CURRENT release marked; $1 heads the last column.
print_deploys() {
    local line time release where
    printf '  %-20s  %-32s  %s\n' "DEPLOYED (UTC)" "RELEASE" "$1"
    for line in "${DEPLOYS[@]}"; do
        IFS=$'\t' read -r time release _ where <<<"$line"
        printf '%s %-20s  %-32s  %s\n' "$([[ "$release" == "$CURRENT" ]] && echo '*' || echo ' ')" "$time" "$release" "$where"
    done
}

# The line of DEPLOYS a rollback goes back to: release $1's, or without $1 the newest one that is
# not CURRENT. $2 names the history in its refusals, $3 the command that lists it.
rollback_target() {
    local release i
    for ((i = ${#DEPLOYS[@]} - 1; i >= 0; i--)); do
        IFS=$'\t' read -r _ release _ _ <<<"${DEPLOYS[i]}"
        if [[ -n "$1" && "$release" == "$1" ]] || [[ -z "$1" && "$release" != "$CURRENT" ]]; then
            [[ "$release" != "$CURRENT" ]] || die "${release} is the release running already"
            echo "${DEPLOYS[i]}"
            return 0
        fi
    done
    [[ -n "$1" ]] || die "only one release of $2 is recorded (${CURRENT}): there is none before it"
    die "no release ${1} of $2 is recorded: $3 lists those there are"
}

# Removes the images of project $1's releases older than the newest DOCKERABLE_KEEP_RELEASES;
# an image a container still uses stays.
prune_releases() {
    local lines image i
    mapfile -t lines < <(latest_deploys "$1")
    for ((i = 0; i < ${#lines[@]} - KEEP_RELEASES; i++)); do
        IFS=$'\t' read -r _ _ image _ <<<"${lines[i]}"
        docker image rm "$image" >/dev/null 2>&1 || true
    done
}
