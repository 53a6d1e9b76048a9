# shellcheck shell=bash
# A stack's release history, kept in the swarm itself so that any manager reads it, sourced by
# swarm/deploy.sh after release-history.sh (docs/swarm.md, Releases and rollback). Each deploy or
# rollback that ends with its release serving adds one Swarm config, <stack>_release-<UTC time in
# ns>, whose labels hold the history's line (dockerable.deployed, .release, .image, .source) and
# the stack's name (dockerable.releases-of). The caller sets STACK and defines running_image().

# Records that release $1 (image $2, made from $3) serves now.
swarm_record() {
    local nanoseconds
    nanoseconds="$(date -u +%s%N)"
    docker config create --label "dockerable.releases-of=${STACK}" --label "dockerable.release=$1" \
        --label "dockerable.image=$2" --label "dockerable.source=$3" \
        --label "dockerable.deployed=$(date -u -d "@${nanoseconds:0:-9}" +%FT%TZ)" \
        "${STACK}_release-${nanoseconds}" - <<<"$1" >/dev/null \
        || die "$1 serves, but the swarm did not record it: a later rollback will not find it"
}

# The stack's records, oldest first, as the history's lines.
swarm_history() {
    local names label format=""
    for label in deployed release image source; do
        format+="{{index .Spec.Labels \"dockerable.${label}\"}}"$'\t'
    done
    mapfile -t names < <(docker config ls --filter "label=dockerable.releases-of=${STACK}" --format '{{.Name}}' | sort)
    ((${#names[@]} == 0)) || docker config inspect --format "${format%$'\t'}" "${names[@]}"
}

# release-history.sh's DEPLOYS from the swarm's records, and CURRENT: the release the app runs
# (the one Swarm went back to, after it rolled a release back by itself).
read_swarm_deploys() {
    local line release image running
    mapfile -t DEPLOYS < <(swarm_history | latest_of)
    ((${#DEPLOYS[@]} > 0)) || die "no release of ${STACK} is recorded in the swarm (each deploy records its own)"
    running="$(running_image)"
    CURRENT=""
    for line in "${DEPLOYS[@]}"; do
        IFS=$'\t' read -r _ release image _ <<<"$line"
        [[ "$image" != "$running" ]] || CURRENT="$release"
    done
}

# Forgets the releases older than the newest KEEP_RELEASES, never the running one, and removes
# their images from this engine (each node prunes its own: docs/swarm.md).
swarm_prune() {
    local release image records i
    read_swarm_deploys
    for ((i = 0; i < ${#DEPLOYS[@]} - KEEP_RELEASES; i++)); do
        IFS=$'\t' read -r _ release image _ <<<"${DEPLOYS[i]}"
        [[ "$release" != "$CURRENT" ]] || continue
        mapfile -t records < <(docker config ls --quiet --filter "label=dockerable.releases-of=${STACK}" \
            --filter "label=dockerable.release=${release}")
        ((${#records[@]} == 0)) || docker config rm "${records[@]}" >/dev/null
        docker image rm "$image" >/dev/null 2>&1 || true
    done
}
