#!/usr/bin/env bash
# Deploys an environment to Docker Swarm, lists its releases, or rolls it back (docs/swarm.md):
#   dockerable/swarm/deploy.sh project/settings/<env>/docker-stack.yml [--registry HOST:PORT]
#   dockerable/swarm/deploy.sh project/settings/<env>/docker-stack.yml --releases
#   dockerable/swarm/deploy.sh project/settings/<env>/docker-stack.yml --rollback [RELEASE]
# On a swarm manager; DOCKERABLE_STACK names the stack (default dockerable-<env>). The release is the image DOCKERABLE_IMAGE names (default
# <stack>-app:latest, what the environment's production compose file builds), tagged by its content; with --registry it is pushed
# there first, so that every node can pull it. The backup image is DOCKERABLE_BACKUP_IMAGE's (default <stack>-backup) postgres-18. Steps: static files and the TLS
# pair onto nginx's node; the stack as it runs, with any new secret or config (PostgreSQL up);
# migrations, once, by a job of the new image (a failure stops here and the running release serves
# on); then the app rolls over task by task, each new one healthy before an old one stops, and
# rolls back by itself if they are not.
# The swarm records each release that serves (swarm/history.sh); --rollback returns the app and
# the workers to the one before, or to RELEASE, by the same rolling update.
set -Eeuo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly here
readonly JOB_ATTEMPTS=5
# How long to wait, after `docker stack deploy` has, for Swarm to end the app's update.
readonly UPDATE_TIMEOUT=600

die() {
    echo "swarm/deploy.sh: $*" >&2
    exit 1
}

say() {
    echo "swarm/deploy.sh: $*"
}

# The history's shared part is beside this folder in a checkout, at the top of a bundle.
history="${here}/../release-history.sh"
[[ -f "$history" ]] || history="${here}/../../release-history.sh"
# shellcheck source-path=SCRIPTDIR source=../release-history.sh
source "$history"
# shellcheck source-path=SCRIPTDIR source=history.sh
source "${here}/history.sh"
# shellcheck source-path=SCRIPTDIR source=stack.sh
source "${here}/stack.sh"

require_manager() {
    command -v docker >/dev/null || die "docker is not installed on this host"
    [[ "$(docker info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null)" == true ]] \
        || die "this Docker engine is not a swarm manager: run it on one (docker swarm init: docs/swarm.md)"
}

# The host names of the nodes whose label $1 is "true".
labelled_nodes() {
    local nodes
    mapfile -t nodes < <(docker node ls -q)
    docker node inspect --format "{{if eq (index .Spec.Labels \"$1\") \"true\"}}{{.Description.Hostname}}{{end}}" \
        "${nodes[@]}" | sed '/^$/d'
}

# PostgreSQL's data, and nginx's static files and certificates, are each in one node's volumes:
# one node must carry each label. With two, a task could start on the other, on empty volumes.
check_labels() {
    local label why nodes
    while read -r label why; do
        mapfile -t nodes < <(labelled_nodes "$label")
        ((${#nodes[@]} > 0)) || die "no node is labelled ${label}=true:" \
            "label one (docker node update --label-add ${label}=true NODE; docs/swarm.md)"
        ((${#nodes[@]} == 1)) || die "${#nodes[@]} nodes are labelled ${label}=true (${nodes[*]}): ${why};" \
            "keep the label on one (docs/swarm.md)"
    done <<EOF
dockerable.db PostgreSQL's data is in one node's volume, and must not move to another's empty one
dockerable.proxy nginx's static files and certificates are in one node's volumes
EOF
}

# The environment's files; every one must exist before anything is deployed.
read_environment() {
    local file
    [[ -f "$stack_file" ]] || die "${stack_file}: no such stack file"
    ENV_DIR="$(cd "$(dirname "$stack_file")" && pwd)"
    ENV_NAME="$(basename "$ENV_DIR")"
    STACK="$(stack_name "$stack_file")"
    # What `docker stack deploy` labels the stack's networks, secrets and configs with.
    STACK_LABEL="com.docker.stack.namespace=${STACK}"
    DJANGO_SETTINGS_MODULE="project.settings.${ENV_NAME}.settings"
    for file in settings.py secrets.json ssl/server.crt ssl/server.key backup-recipients.txt; do
        [[ -f "${ENV_DIR}/${file}" ]] || die "${ENV_DIR}/${file} is missing"
    done
    export ENV_DIR ENV_NAME STACK DJANGO_SETTINGS_MODULE
}

# What this deploy made that must not outlive it: the lock, the database secret's file.
LOCK=""
DB_SECRET_FILE=""
clean_up() {
    [[ -z "$DB_SECRET_FILE" ]] || rm -f "$DB_SECRET_FILE"
    [[ -z "$LOCK" ]] || docker config rm "$LOCK" >/dev/null 2>&1 || true
}

# One deploy of a stack at a time, from whichever manager: a Swarm config named after the stack is
# the lock (the swarm's store makes a name once), labelled with who took it and when.
take_lock() {
    local name="${STACK}_deploy-lock" holder
    if docker config create --label "dockerable.deploy=${HOSTNAME:-?} pid $$ since $(date -u +%FT%TZ)" \
            "$name" - <<<"deploy.sh" >/dev/null 2>&1; then
        LOCK="$name"
        return 0
    fi
    holder="$(docker config inspect --format '{{index .Spec.Labels "dockerable.deploy"}}' "$name" 2>/dev/null)" \
        || die "cannot create the Swarm config ${name} that keeps deploys of ${ENV_NAME} one at a time"
    die "another deploy of ${ENV_NAME} runs (${holder:-its holder unknown}): wait for it to end;" \
        "if none runs (it was killed), remove its lock: docker config rm ${name}"
}

# PostgreSQL and the backups get only the database's keys of secrets.json (DB_*), in a file of
# their own: a change to any other secret must not restart the database. The image's loader
# (dockerable/runtime/environment.py) checks the file, before anything is tagged or pushed, and
# picks them, and says how many earlier passwords it keeps (DB_FALLBACKS). Written owner-only,
# removed on exit; Swarm keeps its copy.
database_secret() {
    local secrets="${ENV_DIR}/secrets.json" fault
    DB_SECRET_FILE="$(umask 077 && mktemp)"
    # shellcheck disable=SC2094  # the path is only a name in the loader's messages: it reads stdin
    fault="$(loader database - "$secrets" <"$secrets" 2>&1 >"$DB_SECRET_FILE")" \
        || die "${fault:-the release image could not read ${secrets}}"
    # shellcheck disable=SC2094
    DB_FALLBACKS="$(loader rotation - "$secrets" <"$secrets")"
    export DB_SECRET_FILE
}

# The release image's loader of secrets.json, on stdin, with arguments $@.
loader() {
    docker run --rm -i --pull never --network none --user 10001:10001 --entrypoint python "$SOURCE_IMAGE" \
        -I -S /app/dockerable/runtime/environment.py "$@"
}

# PostgreSQL's secrets (named after DATABASE_KEYS): its database's name, user and password, and its
# health check's libpq service file, made here from the database's keys for a stack whose
# PostgreSQL has none yet; afterwards the ones it runs with. PostgreSQL reads them only when it
# creates the database, so a new password (rotatedbpassword) must not make new ones: that would
# restart it. Not labelled as the stack's: prune_unused leaves them.
postgres_secrets() {
    local running
    running="$(docker service inspect --format \
        '{{range .Spec.TaskTemplate.ContainerSpec.Secrets}}{{if eq .File.Name "pg-service"}}{{.SecretName}}{{end}}{{end}}' \
        "${STACK}_postgres" 2>/dev/null)" || running=""
    if [[ -n "$running" ]]; then
        export DATABASE_KEYS="${running##*-}"
        return 0
    fi
    DATABASE_KEYS="$(sha256sum <"$DB_SECRET_FILE" | cut -c 1-12)"
    export DATABASE_KEYS
    keep_secret postgres-db value DB_NAME
    keep_secret postgres-user value DB_USER
    keep_secret postgres-password value DB_PASSWORD
    keep_secret pg-service pg-service
}

# The Swarm secret ${STACK}_$1-${DATABASE_KEYS}, unless it exists, of what the loader's command $2...
# prints of the database's keys.
keep_secret() {
    local name="${STACK}_${1}-${DATABASE_KEYS}" content
    shift
    docker secret inspect "$name" >/dev/null 2>&1 && return 0
    content="$(loader "$@" - "${ENV_DIR}/secrets.json" <"$DB_SECRET_FILE")" \
        || die "the release image could not read ${ENV_DIR}/secrets.json's database keys"
    printf '%s' "$content" | docker secret create "$name" - >/dev/null \
        || die "cannot make the Swarm secret ${name} of the database's keys"
}

# After the app's tasks rolled over, while secrets.json keeps earlier database passwords: the role
# gets DB_PASSWORD, by a job of image $1 (cmd.sh dbpassword; nothing to do once it has it). The
# app's tasks and the backups try the earlier ones until then.
settle_db_password() {
    ((DB_FALLBACKS > 0)) || return 0
    say "the database role's password: DB_PASSWORD"
    app_job dbpassword --network "${STACK}_db" "$1" /dockerable/cmd.sh dbpassword \
        || die "the database role did not get the new DB_PASSWORD (its last lines above): the app and the" \
            "backups use an earlier one meanwhile; deploy again"
}

# HASH_<KEY> for each secret and config of the stack (stack.yml names each `${STACK}_<key>-${HASH_<KEY>}`):
# the first 12 hex digits of its file's sha256. Which file makes which is read from Compose's
# model of the stack (the names' unset hashes only warn there), by dockerable/swarm/stack_files.py,
# which refuses a stack Swarm must not run.
hash_files() {
    local model fault reason listing name path
    docker compose version >/dev/null 2>&1 \
        || die "docker compose (the Compose plugin) is not installed: it reads ${here}/stack.yml's secrets and configs"
    fault="$(mktemp)"
    if ! model="$(docker compose --file "${here}/stack.yml" --file "$stack_file" config --no-consistency \
            --format json 2>"$fault")"; then
        reason="$(grep -v 'variable is not set' "$fault" | tail -n 1)"
        rm -f "$fault"
        die "${stack_file} does not merge over ${here}/stack.yml: ${reason:-docker compose config failed}"
    fi
    # Its one line when it refuses the stack (a mount for uploads), before anything is deployed.
    if ! listing="$(docker run --rm -i --pull never --network none --user 10001:10001 --entrypoint python \
            "$SOURCE_IMAGE" -I -S -c "$(<"${here}/stack_files.py")" <<<"$model" 2>"$fault")"; then
        reason="$(tail -n 1 "$fault")"
        rm -f "$fault"
        [[ -n "$reason" ]] || die "the release image could not read the stack's secrets and configs"
        die "${stack_file}: ${reason}"
    fi
    rm -f "$fault"
    while IFS=$'\t' read -r name path; do
        [[ -n "$name" ]] || continue
        [[ -f "$path" ]] || die "${path}: no such file, and a secret or config of the stack is made from it"
        export "${name}=$(sha256sum <"$path" | cut -c 1-12)"
    done <<<"$listing"
    # Compose's model leaves out what no service uses; `docker stack deploy` would still make it,
    # under a name no content changes. Its variable is the one still unset.
    while read -r name _; do
        [[ "$name" != HASH_* || -n "${!name:-}" ]] || die "${stack_file}: ${name} names a secret or config" \
            "no service uses: mount it in a service, or remove it"
    done < <(docker compose --file "${here}/stack.yml" --file "$stack_file" config --variables 2>/dev/null)
}

# The image to release, which must be on this engine.
source_image() {
    SOURCE_IMAGE="${DOCKERABLE_IMAGE:-${STACK}-app:latest}"
    docker image inspect "$SOURCE_IMAGE" >/dev/null 2>&1 \
        || die "image ${SOURCE_IMAGE} is not on this engine: build it first (dockerable/run deploystack ${ENV_NAME} does), or name another with DOCKERABLE_IMAGE"
}

# The first 12 hex digits of the image's ID: what names a release by its content.
content_id() {
    local id
    id="$(docker image inspect --format '{{.Id}}' "$1")"
    id="${id#sha256:}"
    echo "${id:0:12}"
}

# The release's image under a tag of its content, pushed to the registry if one is given.
release_image() {
    local image="$SOURCE_IMAGE" name tagged
    name="${image%:*}"
    name="${name##*/}"
    [[ -z "$registry" ]] || name="${registry}/${name}"
    RELEASE_IMAGE="${name}:${ENV_NAME}-$(content_id "$image")"
    docker tag "$image" "$RELEASE_IMAGE"
    BACKUP_IMAGE="${DOCKERABLE_BACKUP_IMAGE:-${STACK}-backup}:postgres-18"
    # A checkout builds it each time (the Dockerfile's backup stage; cached, so quick), so that
    # a tag built before the stage changed is never reused; a bundle brought it.
    if [[ -f "${here}/../Dockerfile" ]]; then
        docker build --quiet --target backup --build-arg PG_MAJOR=18 --tag "$BACKUP_IMAGE" \
            --build-context "backup-scripts=${here}/../compose" \
            --file "${here}/../Dockerfile" "${here}/../.." >/dev/null
    elif ! docker image inspect "$BACKUP_IMAGE" >/dev/null 2>&1; then
        die "image ${BACKUP_IMAGE} is not on this engine (the bundle's deploy.sh loads it from image.tar)"
    fi
    # Tagged by content too: the backup commands are in it, and a changed tag is what rolls the
    # backup service over to them.
    tagged="${BACKUP_IMAGE}-$(content_id "$BACKUP_IMAGE")"
    docker tag "$BACKUP_IMAGE" "$tagged"
    BACKUP_IMAGE="$tagged"
    if [[ -n "$registry" ]]; then
        docker push --quiet "$RELEASE_IMAGE" >/dev/null
        docker tag "$BACKUP_IMAGE" "${registry}/${BACKUP_IMAGE}"
        docker push --quiet "${registry}/${BACKUP_IMAGE}" >/dev/null
        BACKUP_IMAGE="${registry}/${BACKUP_IMAGE}"
    fi
    export BACKUP_IMAGE
}

# The image the app service runs now, if the stack exists.
running_image() {
    spec_image app | sed 's/@sha256:.*//' || true
}

# The image service $1 of the stack runs, as its spec names it (with the registry's digest).
spec_image() {
    docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "${STACK}_$1" 2>/dev/null
}

# `docker stack deploy` of the app and worker on image $1, the app with $2 tasks, then how the app's update ended. The
# command also fails when Swarm rolls the app's update back, which check_update reports; any other
# failure (a network, secret or service Swarm refused) stops here with the command's last line.
stack_deploy() {
    local before fault workers="${WORKER_REPLICAS:-1}" backups=1
    # No worker before the first migrations (its queue's table does not exist yet), and no backup.
    [[ "$2" != 0 ]] || workers=0 backups=0
    before="$(update_status)"
    if ! fault="$(APP_IMAGE="$1" APP_RELEASE="${1##*:}" APP_REPLICAS="$2" WORKER_REPLICAS="$workers" BACKUP_REPLICAS="$backups" docker stack deploy --detach=false --quiet --with-registry-auth \
            --compose-file "${here}/stack.yml" --compose-file "$stack_file" "$STACK" 2>&1 >/dev/null)"; then
        check_update "$before"
        die "docker stack deploy failed: $(tail -n 1 <<<"$fault")"
    fi
    check_update "$before"
}

# A one-shot job, $1, of the options, image and command that follow, tried JOB_ATTEMPTS times (the
# first may find PostgreSQL still starting); its last lines of log, and a non-zero exit, if every
# attempt failed.
run_job() {
    local name="${STACK}_$1" states deadline=$((SECONDS + 600))
    shift
    docker service rm "$name" >/dev/null 2>&1 || true
    docker service create --quiet --detach --name "$name" --mode replicated-job \
        --restart-condition on-failure --restart-max-attempts $((JOB_ATTEMPTS - 1)) --restart-delay 3s \
        --cap-drop ALL --read-only --limit-pids 512 --limit-memory "${APP_MEMORY_LIMIT:-2g}" \
        "$@" 2>/dev/null >/dev/null
    while ((SECONDS < deadline)); do
        states="$(docker service ps --format '{{.CurrentState}}' "$name")"
        if grep -q '^Complete' <<<"$states"; then
            docker service rm "$name" >/dev/null
            return 0
        fi
        (($(grep -cE '^(Failed|Rejected)' <<<"$states") < JOB_ATTEMPTS)) || break
        sleep 1
    done
    docker service logs --raw "$name" 2>&1 | grep -v 'could not be accessed on a registry' | tail -n 5 >&2
    docker service rm "$name" >/dev/null
    return 1
}

# run_job with what the app reads: its settings and secrets.
app_job() {
    local name="$1"
    shift
    run_job "$name" --env "DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE}" \
        --env DJANGO_SECRETS_FILE=/run/secrets/django.json \
        --secret "source=${STACK}_django-${HASH_DJANGO},target=django.json,uid=10001,gid=10001,mode=0400" \
        --config "source=${STACK}_settings-${HASH_SETTINGS},target=/app/project/settings/${ENV_NAME}/settings.py" \
        "$@"
}

# What nginx serves, onto its node by a job of the release image (start/nginx-files.sh): the static
# files, and the environment's TLS key and certificate through a Swarm secret and config named
# after their content. nginx mounts neither, so a new pair is no new nginx task: it swaps the
# pair in from its volume, with no restart.
nginx_files() {
    local key="${ENV_DIR}/ssl/server.key" cert="${ENV_DIR}/ssl/server.crt" secret config
    secret="${STACK}_server-key-$(sha256sum <"$key" | cut -c 1-12)"
    config="${STACK}_server-crt-$(sha256sum <"$cert" | cut -c 1-12)"
    # Labelled as the stack's own, as `docker stack deploy` labels those it makes: prune_unused.
    docker secret inspect "$secret" >/dev/null 2>&1 \
        || docker secret create --label "${STACK_LABEL}" "$secret" "$key" >/dev/null \
        || die "cannot make the Swarm secret ${secret} of ${key}"
    docker config inspect "$config" >/dev/null 2>&1 \
        || docker config create --label "${STACK_LABEL}" "$config" "$cert" >/dev/null \
        || die "cannot make the Swarm config ${config} of ${cert}"
    run_job nginx-files --user 0:0 --constraint node.labels.dockerable.proxy==true \
        --mount "type=volume,source=${STACK}_static,target=/srv/static" \
        --mount "type=volume,source=${STACK}_tls,target=/srv/tls" \
        --secret "source=${secret},target=server.key,mode=0400" \
        --config "source=${config},target=/run/tls/server.crt,mode=0444" \
        "$RELEASE_IMAGE" /dockerable/start/nginx-files.sh
}

# The stack's secrets and configs of earlier deploys that no service uses any more (an old
# SECRET_KEY, database password or TLS key among them) go once a deploy has ended: Swarm refuses
# to remove one a service uses, so each is simply tried. PostgreSQL's own secrets, the release
# records and the lock are not labelled as the stack's, and stay; PostgreSQL's one secret of
# before (${STACK}_database-*, all its keys in one file) goes once it runs on its four.
prune_unused() {
    local kind names
    for kind in secret config; do
        mapfile -t names < <(docker "$kind" ls --quiet --filter "label=${STACK_LABEL}")
        ((${#names[@]} == 0)) || docker "$kind" rm "${names[@]}" >/dev/null 2>&1 || true
    done
    mapfile -t names < <(docker secret ls --quiet --filter "name=${STACK}_database-")
    ((${#names[@]} == 0)) || docker secret rm "${names[@]}" >/dev/null 2>&1 || true
}

# When the app's last update started, and how it ended ("" if it never had one).
update_status() {
    docker service inspect --format '{{if .UpdateStatus}}{{.UpdateStatus.StartedAt}} {{.UpdateStatus.State}}{{end}}' \
        "${STACK}_app" 2>/dev/null || true
}

# update_status once Swarm has settled the update: `docker stack deploy` stops waiting on a
# service `monitor` after its tasks run, but Swarm ends an update only after its last `delay`.
settled_status() {
    local status deadline=$((SECONDS + UPDATE_TIMEOUT))
    status="$(update_status)"
    while [[ "$status" =~ \ (updating|rollback_started)$ ]] && ((SECONDS < deadline)); do
        sleep 1
        status="$(update_status)"
    done
    printf '%s\n' "$status"
}

# After stack_deploy: the update it started converged, or was rolled back (a new release that
# never became healthy). BEFORE is update_status from before it: unchanged, no update started.
check_update() {
    local before="$1" after state
    after="$(settled_status)"
    [[ "$after" != "$before" ]] || return 0
    state="${after##* }"
    case "$state" in
        "" | completed) ;;
        updating | rollback_started) die "the app's update is still ${state} after ${UPDATE_TIMEOUT} s" \
            "(docker service ps ${STACK}_app says more)" ;;
        rollback_*)
            worker_back_with_app
            die "the new release of ${ENV_NAME} failed its health check and was rolled back:" \
                "$(running_image) serves (docker service ps ${STACK}_app says more)" ;;
        *) die "the app's update is ${state} (docker service ps ${STACK}_app says more)" ;;
    esac
}

# Until the app tasks Swarm is stopping have stopped: each serves its DRAIN_SECONDS first, and
# nginx may send it a request meanwhile; once this command has named the release that serves,
# no other may answer.
wait_stopping_tasks() {
    local deadline=$((SECONDS + 120))
    while docker service ps --filter desired-state=shutdown --format '{{.CurrentState}}' "${STACK}_app" \
            | grep -q '^Running'; do
        ((SECONDS < deadline)) || die "tasks of ${STACK}_app still run two minutes after Swarm began stopping them"
        sleep 1
    done
}

# The image service $1 ran before its last update ("" if Swarm keeps no previous spec: none yet,
# or Swarm rolled that update back itself).
previous_image() {
    docker service inspect --format '{{with .PreviousSpec}}{{.TaskTemplate.ContainerSpec.Image}}{{end}}' \
        "${STACK}_$1" 2>/dev/null || true
}

# The worker back to the release the app runs, when its last update took it off that release (the
# app rolled back by Swarm): app and worker run one release.
worker_back_with_app() {
    local app
    app="$(spec_image app)"
    [[ "$(spec_image worker)" != "$app" && "$(previous_image worker)" == "$app" ]] || return 0
    docker service rollback --quiet "${STACK}_worker" >/dev/null
}

# Where the release was made: this checkout's git commit ("+changes" when its files differ from
# it), or the unpacked bundle's folder.
release_source() {
    local root commit
    root="$(cd "${here}/../.." && pwd)"
    if [[ "$(git -C "$root" rev-parse --show-toplevel 2>/dev/null)" == "$root" ]] \
            && commit="$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null)"; then
        [[ -z "$(git -C "$root" status --porcelain 2>/dev/null)" ]] || commit+="+changes"
        echo "git ${commit}"
    else
        echo "$root"
    fi
}

releases() {
    read_swarm_deploys
    print_deploys SOURCE
}

# The app and the workers back to release $1, or to the one before the release running: the
# stack deployed as it is now (its secrets, configs, settings.py), on that release's image, by the
# same rolling update as a deploy, with no migration and the backup service's image as it runs.
rollback() {
    local line release image source
    read_keep
    read_swarm_deploys
    line="$(rollback_target "$1" "$STACK" "swarm/deploy.sh ${stack_file} --releases")"
    IFS=$'\t' read -r _ release image source <<<"$line"
    SOURCE_IMAGE="$image"
    docker image inspect "$image" >/dev/null 2>&1 || docker pull --quiet "$image" >/dev/null \
        || die "image ${image} of ${release} is neither on this engine nor in its registry"
    database_secret
    postgres_secrets
    hash_files
    BACKUP_IMAGE="$(spec_image backup)"
    export BACKUP_IMAGE
    say "rolling ${ENV_NAME} back to ${release}"
    stack_deploy "$image" "${APP_REPLICAS:-2}"
    wait_stopping_tasks
    settle_db_password "$image"
    swarm_record "$release" "$image" "$source"
    swarm_prune
    prune_unused
    say "${ENV_NAME} runs ${release} again"
}

deploy() {
    local current replicas
    read_keep
    check_labels
    source_image
    database_secret
    postgres_secrets
    hash_files
    release_image
    current="$(running_image)"
    replicas="${APP_REPLICAS:-2}"
    say "static files, TLS key and certificate onto nginx's node"
    nginx_files || die "copying the static files, TLS key and certificate failed: the running release serves on"
    say "the stack with this release's secrets and configs (app still on ${current:-nothing yet})"
    if [[ -n "$current" ]]; then
        # A changed secret or settings.py rolls the running release over to it, and back if it fails.
        stack_deploy "$current" "$replicas"
    else
        stack_deploy "$RELEASE_IMAGE" 0
    fi
    say "migrations of ${RELEASE_IMAGE}"
    app_job migrate --network "${STACK}_db" "$RELEASE_IMAGE" /dockerable/cmd.sh manage migrate --noinput \
        || die "migrations of ${RELEASE_IMAGE} failed: the running release serves on, on its own image"
    say "rolling the app over to ${RELEASE_IMAGE}"
    stack_deploy "$RELEASE_IMAGE" "$replicas"
    wait_stopping_tasks
    settle_db_password "$RELEASE_IMAGE"
    swarm_record "${RELEASE_IMAGE##*:}" "$RELEASE_IMAGE" "$(release_source)"
    swarm_prune
    prune_unused
    say "${ENV_NAME} runs ${RELEASE_IMAGE}"
}

main() {
    stack_file="${1:-}"
    [[ -n "$stack_file" ]] || die "usage: swarm/deploy.sh project/settings/<env>/docker-stack.yml" \
        "[--registry HOST:PORT | --releases | --rollback [RELEASE]]"
    shift
    registry=""
    require_manager
    read_environment
    if [[ "${1:-}" == --releases ]]; then
        (($# == 1)) || die "--releases takes nothing after it"
        releases
        return
    fi
    trap clean_up EXIT
    # An interrupted deploy still removes its lock.
    trap 'exit 130' INT
    trap 'exit 143' TERM
    take_lock
    case "${1:-}" in
        "") deploy ;;
        --registry)
            registry="${2:?--registry needs HOST:PORT}"
            deploy ;;
        --rollback)
            (($# <= 2)) || die "usage: swarm/deploy.sh ${stack_file} --rollback [RELEASE]"
            rollback "${2:-}" ;;
        *) die "unknown option '$1'" ;;
    esac
}

main "$@"
