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
    local line time release image folder
    read_deploys "$(bundle_project "$here")"
    printf '  %-20s  %-32s  %s\n' "DEPLOYED (UTC)" "RELEASE" "FOLDER"
    for line in "${DEPLOYS[@]}"; do
        IFS=$'\t' read -r time release image folder <<<"$line"
        docker image inspect "$image" >/dev/null 2>&1 || folder="${folder} (image pruned: its bundle's image.tar has it)"
        printf '%s %-20s  %-32s  %s\n' "$([[ "$release" == "$CURRENT" ]] && echo '*' || echo ' ')" "$time" "$release" "$folder"
    done
}

main "$@"
