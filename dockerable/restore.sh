#!/usr/bin/env bash
# Restores a backup into an environment's database and uploads, with its app and worker stopped
# meanwhile and its cache emptied, or drills it:
#   dockerable/restore.sh project/settings/<env>/docker-compose.yml latest --yes
#   dockerable/restore.sh project/settings/<env>/docker-compose.yml <env>-<UTC time>.dump --yes
#   dockerable/restore.sh project/settings/<env>/docker-compose.yml latest --drill
#   ... --identity KEYFILE              an encrypted backup (.dump.age): its age private key, for this run
# (the proxy mode's compose file works the same). The backup service checks the file first.
# A restore takes a safety backup of the current database and uploads and replaces both all or
# nothing: on any failure both are as they were, and the app is started again either way (the
# command returns once it is healthy). A drill restores into a scratch database beside it, checks
# every table and the uploads' archive, runs Django's `migrate --check` against it, checks that
# every file its rows name is in the uploads' archive, and drops it; the app keeps serving.
set -Eeuo pipefail

die() {
    echo "restore.sh: $*" >&2
    exit 1
}

# Run by the app's Python against the drill's database, the archive's names on its stdin.
readonly UPLOADS_CHECK="from dockerable.runtime.uploads_drill import main; raise SystemExit(main())"

# backup.sh COMMAND in a one-off backup container, with the mounts in run_options.
backup() {
    "${compose[@]}" run --rm --no-deps -T "${run_options[@]}" backup "$@"
}

# Whether the compose files define service $1.
defines() {
    "${compose[@]}" config --services | grep -x "$1" >/dev/null
}

restore() {
    local status=0 service count writers=() started=() scales=()
    # The uploads, writable for this run only (the service reads them): as root, the restore gives
    # each file back its owner and mode (CHOWN, FOWNER).
    if "${compose[@]}" config --volumes | grep -x media >/dev/null; then
        run_options+=(--volume media:/restore/media --cap-add CHOWN --cap-add FOWNER)
    fi
    # What writes to the database stops meanwhile: the app, and the worker (tasks, schedules).
    for service in app worker; do
        defines "$service" || continue
        count="$("${compose[@]}" ps --all --quiet "$service" | wc -l)"
        writers+=("$service")
        ((count == 0)) || { started+=("$service"); scales+=(--scale "${service}=${count}"); }
    done
    "${compose[@]}" stop "${writers[@]}"
    backup restore "$1" --yes || status=$?
    # Pages cached from the database before the restore are not the restored database's.
    if defines cache; then
        "${compose[@]}" exec -T cache valkey-cli flushall >/dev/null \
            || echo "restore.sh: warning: the cache was not emptied: pages cached before the restore" \
                "may be served for up to 5 minutes (docs/cache.md)" >&2
    fi
    # Done when they answer again (their health checks), not when their containers start; as many
    # as there were (`up` alone would scale each back to the compose file's count).
    if ((${#started[@]} > 0)); then
        "${compose[@]}" up --detach --wait --wait-timeout 180 --no-deps --no-recreate "${scales[@]}" \
            "${started[@]}" \
            || die "the app or worker did not become healthy again after the restore: docker compose logs"
    fi
    exit "$status"
}

# `on_scratch DATABASE ARGS`: manage.py ARGS in a one-off container of the app's image, on DATABASE.
on_scratch() {
    local database="$1"
    shift
    "${compose[@]}" run --rm --no-deps -T -e DB_NAME="$database" migrate /dockerable/cmd.sh manage "$@"
}

drill() {
    local scratch names found="" status=0
    scratch="$(backup drill-database)" || exit 1
    backup drill "$1" >&2 || { backup drill-clean; exit 1; }
    names="$(backup media-names "$1")" || { backup drill-clean; exit 1; }
    on_scratch "$scratch" migrate --check --noinput || status=1
    if ((status == 0)); then
        # Every file the restored rows name must be in the uploads' archive (one line either way).
        found="$(on_scratch "$scratch" shell --verbosity 0 -c "$UPLOADS_CHECK" <<<"$names")" || status=2
        found="${found##*$'\n'}"
    fi
    backup drill-clean
    ((status != 1)) || die "${1}: restores, but its schema is not the code's (migrate --check failed)"
    ((status != 2)) || die "${1}: restores, but ${found:-the check of its uploads failed}"
    echo "restore.sh: ${found}" >&2
    echo "restore.sh: ${1} passes the drill"
}

main() {
    [[ $# -ge 3 ]] || die "usage: restore.sh COMPOSE_FILE BACKUP|latest --yes|--drill [--identity KEYFILE]"
    local compose_file="$1" file="$2" action="$3"
    run_options=()
    shift 3
    [[ -f "$compose_file" ]] || die "${compose_file}: no such compose file"
    case "$action" in
        --yes | --drill) ;;
        *) die "restore replaces the environment's database: add --yes to confirm (or --drill to test it)" ;;
    esac
    if [[ "${1:-}" == --identity ]]; then
        [[ -f "${2:-}" && -r "${2:-}" ]] || die "--identity ${2:-}: not a readable file (the age private key)"
        # Read-only into this run's container only: the key is never stored on the server.
        run_options=(--volume "$(realpath "$2"):/run/backup-identity:ro")
        shift 2
    fi
    [[ $# -eq 0 ]] || die "unexpected argument '$1'"
    compose=(docker compose --progress quiet -f "$compose_file")
    # One backup throughout (`latest` named once), and a file that cannot be restored refused
    # before anything stops (its one line is backup.sh's).
    file="$(backup resolve "$file")" || exit 1
    backup verify "$file" --restorable >/dev/null || exit 1
    if [[ "$action" == --drill ]]; then
        drill "$file"
    else
        restore "$file"
    fi
}

main "$@"
