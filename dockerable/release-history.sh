# shellcheck shell=bash
# The host's record of an environment's releases deployed from bundles, sourced by a bundle's
# deploy.sh, releases.sh and rollback.sh (docs/operations.md, Releases and rollback). One line per
# deploy, appended once the stack is healthy, in
# ${DOCKERABLE_STATE_DIR:-/var/lib/dockerable}/<compose project>/releases.tsv:
#   UTC time <TAB> release <TAB> image <TAB> the unpacked bundle's folder
# The caller defines die().

# The environment of the bundle in folder $1: its one folder under project/settings.
bundle_env_name() {
    local folders
    mapfile -t folders < <(find "$1/project/settings" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null)
    ((${#folders[@]} == 1)) || die "$1/project/settings must hold one environment folder: is this an unpacked bundle?"
    echo "${folders[0]}"
}

# Its compose project: the name its compose files give it, unless COMPOSE_PROJECT_NAME says another.
bundle_project() {
    local env
    env="$(bundle_env_name "$1")" || return 1
    echo "${COMPOSE_PROJECT_NAME:-dockerable-${env}}"
}

history_file() {
    echo "${DOCKERABLE_STATE_DIR:-/var/lib/dockerable}/$1/releases.tsv"
}

# Before a deploy changes anything: the history of project $1 can be written, and how many
# releases keep their image is a number; or one line why not.
require_history() {
    local file
    KEEP_RELEASES="${DOCKERABLE_KEEP_RELEASES:-5}"
    [[ "$KEEP_RELEASES" =~ ^[1-9][0-9]*$ ]] \
        || die "DOCKERABLE_KEEP_RELEASES=${KEEP_RELEASES}: must be a whole number, 1 or more"
    file="$(history_file "$1")"
    { mkdir -p "${file%/*}" && touch "$file"; } 2>/dev/null || die "${file}: cannot write the release history;" \
        "make ${file%/*/*} writable by whoever deploys (docs/operations.md, Releases and rollback)," \
        "or name another folder with DOCKERABLE_STATE_DIR"
}

# Appends a deploy of release $2 (image $3, bundle folder $4) to project $1's history.
record_release() {
    printf '%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$2" "$3" "$4" >>"$(history_file "$1")"
}

# Project $1's releases, each once, by its latest deploy, newest last: the history's own lines.
latest_deploys() {
    local file lines release kept=() i
    local -A seen=()
    file="$(history_file "$1")"
    [[ -s "$file" ]] || return 0
    mapfile -t lines <"$file"
    for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
        IFS=$'\t' read -r _ release _ _ <<<"${lines[i]}"
        [[ -z "${seen[$release]:-}" ]] || continue
        seen[$release]=1
        kept=("${lines[i]}" "${kept[@]}")
    done
    printf '%s\n' "${kept[@]}"
}

# The latest deploy of each release of project $1 into DEPLOYS (oldest first), the running
# release into CURRENT; ends the script (the caller's `die`) in one line when none is recorded.
read_deploys() {
    mapfile -t DEPLOYS < <(latest_deploys "$1")
    ((${#DEPLOYS[@]} > 0)) || die "no release of $1 deployed from a bundle is recorded in $(history_file "$1")"
    # shellcheck disable=SC2034  # read by the scripts that source this
    IFS=$'\t' read -r _ CURRENT _ _ <<<"${DEPLOYS[-1]}"
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
