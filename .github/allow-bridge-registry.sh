#!/usr/bin/env bash
# On GitHub's runners, before the tests: the Swarm tests push to a plain-HTTP registry:2 on the
# Docker bridge (172.17.0.1), which their docker:dind node also pulls from, and Docker allows
# plain HTTP only to registries it is told to trust. This repository's own CI machine is set up
# the same way by ../shared/containers/setup. Merges into the runner's daemon.json, restarts Docker.
set -Eeuo pipefail

readonly CONFIG=/etc/docker/daemon.json
readonly BRIDGES=172.16.0.0/12

main() {
    local current='{}'
    [[ -s "$CONFIG" ]] && current="$(sudo cat "$CONFIG")"
    jq --arg net "$BRIDGES" '."insecure-registries" = ((."insecure-registries" // []) + [$net] | unique)' \
        <<<"$current" | sudo tee "$CONFIG" >/dev/null
    sudo systemctl restart docker
    docker info --format '{{.RegistryConfig.InsecureRegistryCIDRs}}'
}

main "$@"
