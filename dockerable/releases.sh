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
    local project lines line current time release image folder
    project="$(bundle_project "$here")"
    mapfile -t lines < <(latest_deploys "$project")
    ((${#lines[@]} > 0)) || die "no release of ${project} deployed from a bundle is recorded in $(history_file "$project")"
    IFS=$'\t' read -r _ current _ _ <<<"${lines[-1]}"
    printf '  %-20s  %-32s  %s\n' "DEPLOYED (UTC)" "RELEASE" "FOLDER"
    for line in "${lines[@]}"; do
        IFS=$'\t' read -r time release image folder <<<"$line"
        docker image inspect "$image" >/dev/null 2>&1 || folder="${folder} (image pruned: its bundle's image.tar has it)"
        printf '%s %-20s  %-32s  %s\n' "$([[ "$release" == "$current" ]] && echo '*' || echo ' ')" "$time" "$release" "$folder"
    done
}

main "$@"
