#!/usr/bin/env bash
# Returns this bundle's environment to an earlier release deployed on this host: the one before
# the release running, or RELEASE (releases.sh lists them). Runs that release's own deploy.sh,
# which checks its signature again and brings its image and environment folder back; migrations
# are never run backward (docs/operations.md, Releases and rollback):
#   dockerable-NAME-STAMP/rollback.sh [RELEASE]
set -Eeuo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly here

die() {
    echo "rollback.sh: $*" >&2
    exit 1
}

# shellcheck source-path=SCRIPTDIR source=release-history.sh
source "${here}/release-history.sh"

# The folder of release $2 of project $1, or of the one deployed before the running one.
target_folder() {
    local release folder i
    read_deploys "$1"
    for ((i = ${#DEPLOYS[@]} - 1; i >= 0; i--)); do
        IFS=$'\t' read -r _ release _ folder <<<"${DEPLOYS[i]}"
        if [[ -n "$2" && "$release" == "$2" ]] || [[ -z "$2" && "$release" != "$CURRENT" ]]; then
            [[ "$release" != "$CURRENT" ]] || die "${release} is the release running already"
            echo "$folder"
            return 0
        fi
    done
    [[ -n "$2" ]] || die "only one release of $1 is recorded (${CURRENT}): there is none before it"
    die "no release ${2} of $1 is recorded: releases.sh lists those there are"
}

main() {
    (($# <= 1)) || die "usage: rollback.sh [RELEASE]"
    local project folder
    project="$(bundle_project "$here")"
    folder="$(target_folder "$project" "${1:-}")"
    [[ -x "${folder}/deploy.sh" ]] || die "${folder}/deploy.sh is gone: unpack that release's bundle there again"
    echo "rollback.sh: back to ${folder##*/}"
    exec "${folder}/deploy.sh"
}

main "$@"
