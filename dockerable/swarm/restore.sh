#!/usr/bin/env bash
# Restores a backup into a Swarm stack's database, with the stack's app and worker scaled to 0
# meanwhile and its cache emptied:
#   dockerable/swarm/restore.sh project/settings/<env>/docker-stack.yml latest --yes
#   dockerable/swarm/restore.sh project/settings/<env>/docker-stack.yml <env>-<UTC time>.dump --yes
#   ... --identity KEYFILE     an encrypted backup (.dump.age): its age private key, for this run
# On the swarm manager that runs the stack's backup task (the node labelled dockerable.db);
# DOCKERABLE_STACK names the stack, as for deploy.sh. The backup task's backup.sh does the work
# as in the compose modes: it refuses a bad file before anything stops, takes a safety backup,
# and replaces the database all or nothing. The app and worker return to their replicas however
# it ends.
set -Eeuo pipefail

# shellcheck source-path=SCRIPTDIR source=stack.sh
source "$(dirname "${BASH_SOURCE[0]}")/stack.sh"

die() {
    echo "swarm/restore.sh: $*" >&2
    exit 1
}

# The stack's backup task on this node: its volume holds the backups.
backup_task() {
    local task
    task="$(docker ps -q --filter "label=com.docker.swarm.service.name=${STACK}_backup" | head -n 1)"
    [[ -n "$task" ]] \
        || die "no task of ${STACK}_backup runs on this node: run this on the node labelled dockerable.db"
    echo "$task"
}

# Scaled to 0, the app's tasks still serve for their DRAIN_SECONDS (stack.yml) before they stop:
# a write of theirs after the pre-restore backup would be lost.
wait_app_stopped() {
    local deadline=$((SECONDS + 60))
    while docker service ps --format '{{.CurrentState}}' "${STACK}_app" | grep -q '^Running'; do
        ((SECONDS < deadline)) || die "${STACK}_app still has running tasks a minute after scaling to 0"
        sleep 1
    done
}

# Undone on exit, whatever happened: the key out of the task, the cache emptied (pages cached
# from the database before the restore are not the restored one's: a new task starts empty), the
# app and the worker back to their replicas.
# shellcheck disable=SC2329  # called by the EXIT trap
cleanup() {
    [[ -z "$identity" ]] || docker exec "$task" rm -f /run/backup-identity || true
    [[ -z "$replicas" ]] || docker service update --force --detach=false --quiet "${STACK}_cache" >/dev/null || true
    [[ -z "$replicas" ]] || docker service scale --detach=false "${STACK}_app=${replicas}" >/dev/null
    [[ -z "$workers" ]] || docker service scale --detach=false "${STACK}_worker=${workers}" >/dev/null
}

main() {
    [[ $# -ge 2 ]] || die "usage: swarm/restore.sh STACK_FILE BACKUP|latest --yes [--identity KEYFILE]"
    local stack_file="$1" file="$2" status=0
    [[ -f "$stack_file" ]] || die "${stack_file}: no such stack file"
    [[ "${3:-}" == --yes ]] || die "restore replaces the environment's database: add --yes to confirm"
    shift 3
    identity=""
    if [[ "${1:-}" == --identity ]]; then
        [[ -f "${2:-}" && -r "${2:-}" ]] || die "--identity ${2:-}: not a readable file (the age private key)"
        identity="$2"
        shift 2
    fi
    [[ $# -eq 0 ]] || die "unexpected argument '$1'"
    [[ "$(docker info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null)" == true ]] \
        || die "this Docker engine is not a swarm manager: run it on the stack's manager"
    STACK="$(stack_name "$stack_file")"
    task="$(backup_task)"
    replicas="" workers=""
    trap cleanup EXIT
    if [[ -n "$identity" ]]; then
        # Into the task for this run only (an owner-only file in its /run), never into the stack.
        docker exec -i "$task" sh -c 'umask 077 && cat >/run/backup-identity' <"$identity"
    fi
    # A file that cannot be restored is refused before anything stops (its one line is backup.sh's).
    docker exec "$task" bash /dockerable/backup.sh verify "$file" --restorable >/dev/null || exit 1
    replicas="$(docker service inspect --format '{{.Spec.Mode.Replicated.Replicas}}' "${STACK}_app")"
    # Nothing writes to the database meanwhile: neither the app nor the worker (tasks, schedules),
    # where the stack has one (deployed before it had, it has none until its next deploy).
    workers="$(docker service inspect --format '{{.Spec.Mode.Replicated.Replicas}}' "${STACK}_worker" \
        2>/dev/null || true)"
    docker service scale --detach=false "${STACK}_app=0" ${workers:+"${STACK}_worker=0"} >/dev/null
    wait_app_stopped
    docker exec "$task" bash /dockerable/backup.sh restore "$file" --yes || status=$?
    exit "$status"
}

main "$@"
