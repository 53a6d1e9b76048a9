#!/usr/bin/env bash
# Deploys an unpacked bundle made by `dockerable/run shipenv NAME` (no source checkout needed):
#   tar -xf NAME-STAMP.bundle.tar && dockerable-NAME-STAMP/deploy.sh
#   ... dockerable-NAME-STAMP/deploy.sh --swarm [--registry HOST:PORT]   to Docker Swarm instead
# First checks the bundle's signature against the host's allowed signers (DOCKERABLE_ALLOWED_SIGNERS,
# default /etc/dockerable/allowed_signers) and every file against what was signed. Then loads the
# bundle's image into Docker, brings the environment's production stack up and waits until it is
# healthy, and records the release in the host's history (release-history.sh; rollback.sh goes
# back). The database lives in the named volume of the compose project (dockerable-NAME):
# deploying a newer bundle, from any folder, replaces the containers and keeps the data.
set -Eeuo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly here
# shipenv's names for the signed list of files and its signature, and the signature's purpose.
readonly MANIFEST=SHA256SUMS SIGNATURE=SHA256SUMS.sig NAMESPACE=dockerable-bundle

die() {
    echo "deploy.sh: $*" >&2
    exit 1
}

# shellcheck source-path=SCRIPTDIR source=release-history.sh
source "${here}/release-history.sh"

# Refuses, before anything of the bundle is read or run, a bundle that is unsigned, signed by a key
# the allowed signers do not name for its environment, or whose files differ from, or are not in,
# the signed list.
verify_bundle() {
    local signers="${DOCKERABLE_ALLOWED_SIGNERS:-/etc/dockerable/allowed_signers}" env="$BUNDLE_ENV" fault line path
    local -A listed=()
    command -v ssh-keygen >/dev/null || die "ssh-keygen (OpenSSH 8.1 or later) is not installed: it checks the bundle's signature"
    [[ -f "${here}/${MANIFEST}" && -f "${here}/${SIGNATURE}" ]] \
        || die "${here} is not signed (no ${SIGNATURE}): refused; shipenv signs with DOCKERABLE_SIGNING_KEY"
    [[ -r "$signers" ]] || die "${signers}: no allowed signers file to check the bundle against" \
        "(docs/environments.md, Signed bundles; DOCKERABLE_ALLOWED_SIGNERS names another)"
    if ! fault="$(ssh-keygen -Y verify -f "$signers" -I "$env" -n "$NAMESPACE" -s "${here}/${SIGNATURE}" \
            <"${here}/${MANIFEST}" 2>&1 >/dev/null)"; then
        fault="${fault//$'\r'/}"  # OpenSSH ends its lines with CR LF
        die "the bundle's signature is not one ${signers} allows for ${env}: refused (${fault//$'\n'/; })"
    fi
    # sha256sum prints "PATH: FAILED..." for each file that differs or is missing.
    fault="$(cd "$here" && sha256sum --check --strict --quiet "$MANIFEST" 2>/dev/null)" \
        || die "${here}/${fault%%: FAILED*} differs from what was signed: refused (the bundle was altered or damaged)"
    while IFS= read -r line; do
        listed["${line#*  }"]=1
    done <"${here}/${MANIFEST}"
    while IFS= read -r -d '' path; do
        path="${path#./}"
        [[ "$path" == "$MANIFEST" || "$path" == "$SIGNATURE" || -n "${listed[$path]:-}" ]] \
            || die "${here}/${path} is not in the signed bundle: refused (unpack each bundle into a folder of its own)"
    done < <(cd "$here" && find . ! -type d -print0)
}

read_bundle() {
    [[ -r "${here}/bundle.env" ]] || die "${here}/bundle.env is missing: is this an unpacked bundle?"
    # shellcheck source=/dev/null
    source "${here}/bundle.env"
    [[ -n "${ENV_NAME:-}" && -n "${DOCKERABLE_IMAGE:-}" ]] || die "${here}/bundle.env lacks ENV_NAME or DOCKERABLE_IMAGE"
    [[ "$ENV_NAME" == "$BUNDLE_ENV" ]] || die "${here}/bundle.env names ${ENV_NAME}, its folder ${BUNDLE_ENV}: refused"
    compose_file="${here}/project/settings/${ENV_NAME}/docker-compose.yml"
    [[ -f "$compose_file" ]] || die "${compose_file} is missing"
}

# One deploy of an environment at a time on this host: an exclusive lock on a file named after
# its compose project, taken first and held until this script has ended (the kernel drops it
# with the process, even if it is killed).
take_lock() {
    local lock
    command -v flock >/dev/null || die "flock (util-linux) is not installed: it keeps deploys one at a time"
    lock="${TMPDIR:-/tmp}/dockerable-deploy-${project}.lock"
    [[ -e "$lock" ]] || (umask 022 && : >"$lock") || die "${lock}: cannot create the deploy lock"
    exec {LOCK_FD}<"$lock"
    flock --nonblock "$LOCK_FD" || die "another deploy of ${BUNDLE_ENV} (${project}) runs on this host: wait for it to end"
}

load_image() {
    command -v docker >/dev/null || die "docker is not installed on this host"
    [[ -r "${here}/image.tar" ]] || die "${here}/image.tar is missing"
    docker load --input "${here}/image.tar"
}

main() {
    local swarm=""
    if [[ "${1:-}" == --swarm ]]; then
        swarm=yes
        shift
    fi
    # The environment the bundle is for, by its folder: bundle.env is read once the signature holds.
    BUNDLE_ENV="$(bundle_env_name "$here")"
    project="$(bundle_project "$here")"
    # A swarm keeps its deploys one at a time itself (swarm/deploy.sh).
    [[ -n "$swarm" ]] || take_lock
    verify_bundle
    read_bundle
    # The release's images by the names they were built under (DOCKERABLE_BACKUP_IMAGE with a
    # backup service), and its name for error reports.
    export DOCKERABLE_IMAGE DOCKERABLE_BACKUP_IMAGE DOCKERABLE_RELEASE
    if [[ -n "$swarm" ]]; then
        # On a swarm manager: the same image and folder, deployed as a stack (docs/swarm.md).
        load_image
        exec "${here}/dockerable/swarm/deploy.sh" "${compose_file%/*}/docker-stack.yml" "$@"
    fi
    # Checked before anything changes: a deploy that could not be recorded could not be rolled back.
    require_history "$project"
    load_image
    # A bundle on a newer PostgreSQL major than the host's data stops here with what to run.
    "${here}/pg-upgrade.sh" "$compose_file" --check
    # --no-build: the image came in the bundle; there is no source here to build from.
    docker compose -f "$compose_file" up --detach --no-build --wait --remove-orphans "$@"
    record_release "$project" "$DOCKERABLE_RELEASE" "$DOCKERABLE_IMAGE" "$here"
    prune_releases "$project"
}

main "$@"
