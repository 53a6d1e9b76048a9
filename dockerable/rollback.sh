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

main() {
    (($# <= 1)) || die "usage: rollback.sh [RELEASE]"
    local project line folder
    project="$(bundle_project "$here")"
    read_deploys "$project"
    line="$(rollback_target "${1:-}" "$project" releases.sh)"
    folder="${line##*$'\t'}"
    [[ -x "${folder}/deploy.sh" ]] || die "${folder}/deploy.sh is gone: unpack that release's bundle there again"
    echo "rollback.sh: back to ${folder##*/}"
    exec "${folder}/deploy.sh"
}

main "$@"
