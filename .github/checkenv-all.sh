#!/usr/bin/env bash
# CI's environment check: `dockerable/run checkenv` for every environment under project/settings/
# (Docker is all it needs).
# The sample is checked with --dev (its secrets are public by design). Another environment's
# secrets.json and ssl/server.key are kept out of git: write them from repository secrets in
# an earlier step to have it checked; without them it is listed as not checked, not passed.
set -Eeuo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

check() {
    local name="$1" status=0
    shift
    echo "::group::checkenv ${name}"
    dockerable/run checkenv "$name" "$@" || status=$?
    echo "::endgroup::"
    return "$status"
}

main() {
    local folder name failed=0
    for folder in project/settings/*/; do
        name="$(basename "$folder")"
        [[ -f "${folder}settings.py" ]] || continue
        if [[ "$name" == example ]]; then
            # git does not keep file modes: make the sample's private files 0600, as newenv does.
            chmod 600 "${folder}secrets.json" "${folder}ssl/server.key"
            check "$name" --dev || failed=1
        elif [[ -f "${folder}secrets.json" ]]; then
            check "$name" || failed=1
        else
            echo "::notice::${name}: not checked (its secrets.json is not in the repository; see docs/ci.md)"
        fi
    done
    exit "$failed"
}

main "$@"
