#!/usr/bin/env bash
# Lists the releases of this bundle's environment deployed on this host, newest last, the one
# running marked (docs/operations.md, Releases and rollback):
#   dockerable-NAME-STAMP/releases.sh
set -Eeuo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly here

die() {
    echo "releases.sh: $*" >&2
    exit 1
}

# shellcheck source-path=SCRIPTDIR source=release-history.sh
source "${here}/release-history.sh"

main() {
    local i image
    read_deploys "$(bundle_project "$here")"
    for i in "${!DEPLOYS[@]}"; do
        IFS=$'\t' read -r _ _ image _ <<<"${DEPLOYS[i]}"
        docker image inspect "$image" >/dev/null 2>&1 \
            || DEPLOYS[i]="${DEPLOYS[i]} (image pruned: its bundle's image.tar has it)"
    done
    print_deploys FOLDER
}

main "$@"
