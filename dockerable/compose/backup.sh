#!/usr/bin/env bash
# The backup service's command. It runs in the Dockerfile's `backup` image (the postgres image
# of the server's major, plus age). Backups are PostgreSQL custom-format dumps named
# <env>-<UTC time>.dump, each with a .sha256 beside it, in /backups; encrypted with age to the
# public keys in the environment's backup-recipients.txt when it has any (<env>-<time>.dump.age),
# and then read back only with a private key mounted at /run/backup-identity (restore.sh --identity).
#   backup.sh loop                      a backup every BACKUP_INTERVAL seconds (the service's command)
#   backup.sh now                       one backup now
#   backup.sh list                      this environment's backups, newest first
#   backup.sh prune                     keep what the retention policy keeps, delete the rest
#   backup.sh verify FILE [--restorable] checksum, environment and archive, or one line saying why not
#   backup.sh restore FILE|latest --yes into the database, all or nothing (dockerable/restore.sh
#                                       stops the app around it and is the command to use)
#   backup.sh drill FILE|latest         into a scratch database, checked table by table (kept
#                                       for restore.sh --drill's `migrate --check`; drill-clean drops it,
#                                       drill-database names it)
#   backup.sh health                    exit 0 if the last backup worked and is not overdue
#   backup.sh export FILE | import FILE plain dump of the database to FILE, or FILE into an empty
#                                       database (dockerable/pg-upgrade.sh, from one major to the next)
set -Eeuo pipefail

# shellcheck source-path=SCRIPTDIR source=secrets.sh
source "$(dirname "${BASH_SOURCE[0]}")/secrets.sh"

readonly DIR=/backups
readonly RECIPIENTS=/run/backup-recipients.txt IDENTITY=/run/backup-identity
# Where an encrypted backup is decrypted to be read, under its own name: the container's own
# layer, gone with a one-off container (restore and drill remove it themselves).
readonly PLAIN_DIR=/tmp
readonly STATUS="${DIR}/.status"
readonly INTERVAL="${BACKUP_INTERVAL:-86400}"
# Retention: the newest backup of each of the last N days, ISO weeks and months that have one.
# Labelled backups (the safety copy a restore takes first) are never pruned: delete them by hand.
readonly KEEP_DAILY="${BACKUP_KEEP_DAILY:-7}" KEEP_WEEKLY="${BACKUP_KEEP_WEEKLY:-4}"
readonly KEEP_MONTHLY="${BACKUP_KEEP_MONTHLY:-6}"
# A backup is overdue when the last good one is older than the interval plus this.
readonly GRACE=3600
# After a failed backup the next try comes this many seconds later, then twice as long each
# time up to the interval: the database may only be starting (Swarm starts services in any order).
readonly RETRY_FIRST="${BACKUP_RETRY_FIRST:-30}"
# How fast a backup may write (pv's units: 1M is 1 MiB a second, 3.5 GiB an hour; 0: no limit).
# The server's side of the dump waits for the pipe, so the app keeps its share of the database
# and the CPU (docs/benchmarks.md). A restore's safety copy is never slowed: the app is stopped.
readonly RATE_LIMIT="${BACKUP_RATE_LIMIT:-1M}"
THROTTLE=1

die() {
    echo "backup.sh: $*" >&2
    exit 1
}

# The environment: project.settings.<env>.settings names it.
env_name() {
    local module="${DJANGO_SETTINGS_MODULE:?set DJANGO_SETTINGS_MODULE (project.settings.<env>.settings)}"
    module="${module#project.settings.}"
    echo "${module%.settings}"
}

NAME="$(env_name)"
readonly NAME
readonly PATTERN="^${NAME}-[0-9]{8}T[0-9]{6}Z(-[a-z-]+)?\.dump(\.age)?$"

connect() {
    PGHOST="${DB_HOST:-postgres}" PGUSER="$(secret DB_USER)" PGPASSWORD="$(secret DB_PASSWORD)"
    PGDATABASE="$(secret DB_NAME)" PGCONNECT_TIMEOUT=10
    export PGHOST PGUSER PGPASSWORD PGDATABASE PGCONNECT_TIMEOUT
}

# This environment's backups, newest first (the names sort by time).
backups() {
    find "$DIR" -maxdepth 1 -type f \( -name "${NAME}-*.dump" -o -name "${NAME}-*.dump.age" \) -printf '%f\n' \
        | grep -E "$PATTERN" | sort -r || true
}

# The backups retention applies to: all but the labelled ones.
prunable() {
    backups | grep -E "^${NAME}-[0-9]{8}T[0-9]{6}Z\.dump(\.age)?$" || true
}

record() {
    printf '%s %s %s\n' "$1" "$(date -u +%s)" "$2" >"${STATUS}.new" && mv "${STATUS}.new" "$STATUS"
}

# True when backup-recipients.txt names at least one public key (age skips # comments).
encrypting() {
    [[ -f "$RECIPIENTS" ]] && grep -qEv '^[[:space:]]*(#|$)' "$RECIPIENTS"
}

# The settings that must be numbers, or one line naming the one that is not.
settings_problem() {
    [[ "$INTERVAL" =~ ^[1-9][0-9]*$ ]] || { echo "BACKUP_INTERVAL=${INTERVAL}: not a number of seconds"; return; }
    [[ "$RETRY_FIRST" =~ ^[1-9][0-9]*$ ]] \
        || { echo "BACKUP_RETRY_FIRST=${RETRY_FIRST}: not a number of seconds"; return; }
    local name value
    for name in KEEP_DAILY KEEP_WEEKLY KEEP_MONTHLY; do
        value="${!name}"
        [[ "$value" =~ ^[0-9]+$ ]] || { echo "BACKUP_${name}=${value}: not a number"; return; }
    done
    [[ "$RATE_LIMIT" =~ ^[0-9]+[KMG]?$ ]] \
        || echo "BACKUP_RATE_LIMIT=${RATE_LIMIT}: not a rate (bytes a second: 2M, 512K, or 0 for no limit)"
}

# stdin to stdout, at most RATE_LIMIT bytes a second when throttling.
throttle() {
    if ((THROTTLE)) && [[ "$RATE_LIMIT" != 0 ]]; then
        pv --quiet --rate-limit "$RATE_LIMIT"
    else
        cat
    fi
}

# pg_dump, throttled, through age when encrypting; stderr carries the error of any of them.
dump_to() {
    if encrypting; then
        pg_dump --format=custom | throttle | age --encrypt --recipients-file "$RECIPIENTS" --output "$1"
    else
        pg_dump --format=custom | throttle >"$1"
    fi
}

# One backup; LABEL (optional) is added to its name, e.g. pre-restore, and keeps it from pruning.
backup_now() {
    local label="${1:+-$1}" base partial suffix="" problem
    problem="$(settings_problem)"
    if [[ -n "$problem" ]]; then
        record failed "$problem"
        die "$problem"
    fi
    connect
    encrypting && suffix=.age
    base="${NAME}-$(date -u +%Y%m%dT%H%M%SZ)${label}.dump${suffix}"
    partial="${DIR}/.${base}.partial"
    if ! dump_to "$partial" 2>"${partial}.log"; then
        local why
        why="$(tail -n 1 "${partial}.log")"
        rm -f "$partial" "${partial}.log"
        record failed "pg_dump: ${why}"
        die "backup of ${PGDATABASE} failed: ${why}"
    fi
    printf '%s  %s\n' "$(sha256sum <"$partial" | cut -d ' ' -f 1)" "$base" >"${DIR}/${base}.sha256"
    mv "$partial" "${DIR}/${base}"
    rm -f "${partial}.log"
    record ok "$base"
    echo "backup.sh: wrote ${base} ($(du -h "${DIR}/${base}" | cut -f 1))"
    [[ -n "$label" ]] || prune
}

prune() {
    local -A days=() weeks=() months=() keep=()
    local file stamp period
    for file in $(prunable); do
        stamp="${file#"${NAME}"-}"
        period="${stamp:0:8}"
        if [[ -z "${days[$period]:-}" ]]; then
            days[$period]=1
            ((${#days[@]} <= KEEP_DAILY)) && keep[$file]=1
        fi
        period="$(date -u -d "${stamp:0:4}-${stamp:4:2}-${stamp:6:2}" +%G-W%V)"
        if [[ -z "${weeks[$period]:-}" ]]; then
            weeks[$period]=1
            ((${#weeks[@]} <= KEEP_WEEKLY)) && keep[$file]=1
        fi
        period="${stamp:0:6}"
        if [[ -z "${months[$period]:-}" ]]; then
            months[$period]=1
            ((${#months[@]} <= KEEP_MONTHLY)) && keep[$file]=1
        fi
    done
    for file in $(prunable); do
        [[ -n "${keep[$file]:-}" ]] || rm -f "${DIR:?}/${file}" "${DIR:?}/${file}.sha256"
    done
}

list() {
    local file
    for file in $(backups); do
        printf '%s\t%s\n' "$file" "$(du -h "${DIR}/${file}" | cut -f 1)"
    done
}

# The backup FILE names (a name, a path under /backups, or `latest`), or one line saying why not.
resolve() {
    local file="${1##*/}"
    if [[ "$file" == latest ]]; then
        file="$(backups | head -n 1)"
        [[ -n "$file" ]] || die "no backup of ${NAME} in ${DIR}"
    fi
    echo "$file"
}

verify() {
    local file archive
    file="$(resolve "$1")"
    [[ "$file" =~ ^[a-z][a-z0-9_]*-[0-9]{8}T[0-9]{6}Z(-[a-z-]+)?\.dump(\.age)?$ ]] \
        || die "${file}: not a backup's name (<env>-<UTC time>.dump or .dump.age)"
    [[ "$file" =~ $PATTERN ]] || die "${file}: a backup of another environment (this one is ${NAME})"
    [[ -f "${DIR}/${file}" ]] || die "${file}: no such backup in ${DIR}"
    [[ -f "${DIR}/${file}.sha256" ]] || die "${file}: its checksum file ${file}.sha256 is missing"
    (cd "$DIR" && sha256sum --check --status "${file}.sha256") \
        || die "${file}: does not match its checksum (truncated or corrupted)"
    if [[ "$file" == *.age && ! -f "$IDENTITY" ]]; then
        # Without the private key, the checksum is all that can be checked.
        echo "$file"
        return
    fi
    archive="$(plain "$file")" || exit 1
    pg_restore --list "$archive" >/dev/null 2>&1 || die "${file}: not a readable PostgreSQL archive"
    echo "$file"
}

# verify FILE; with --restorable (restore.sh), an encrypted FILE also needs its private key.
check() {
    local file
    file="$(verify "$1")" || exit 1
    if [[ "${2:-}" == --restorable ]]; then
        plain "$file" >/dev/null || exit 1
    fi
    if [[ "$file" == *.age && ! -f "$IDENTITY" ]]; then
        echo "backup.sh: ${file}: checksum good (encrypted: its archive is checked only with its key)"
    else
        echo "backup.sh: ${file} is good"
    fi
}

# The path of FILE's plain archive: FILE itself, or FILE decrypted with the identity (once).
plain() {
    local file="$1" why
    if [[ "$file" != *.age ]]; then
        echo "${DIR}/${file}"
        return
    fi
    [[ -f "$IDENTITY" ]] \
        || die "${file}: encrypted: give its age private key with restore.sh --identity KEYFILE"
    local plain="${PLAIN_DIR}/${file%.age}"
    if [[ ! -f "$plain" ]]; then
        if ! why="$(age --decrypt --identity "$IDENTITY" --output "$plain" "${DIR}/${file}" 2>&1)"; then
            rm -f "$plain"
            why="${why#*age: error: }"
            die "${file}: cannot be decrypted with the identity given: ${why%%$'\n'*}"
        fi
    fi
    echo "$plain"
}

# ARCHIVE into a new database SCRATCH, in one transaction (restore and drill both start so).
# On failure: SCRATCH dropped, pg_restore's last line on stdout, and a non-zero status.
restore_into() {
    local scratch="$1" archive="$2" log
    psql --quiet --dbname=postgres -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"${scratch}\"" \
        -c "CREATE DATABASE \"${scratch}\" OWNER \"${PGUSER}\"" 2>&1 | tail -n 1
    ((PIPESTATUS[0] == 0)) || return 1
    log="$(mktemp)"
    if ! pg_restore --no-owner --exit-on-error --single-transaction --dbname="$scratch" "$archive" 2>"$log"; then
        psql --quiet --dbname=postgres -c "DROP DATABASE IF EXISTS \"${scratch}\"" || true
        tail -n 1 "$log"
        rm -f "$log"
        return 1
    fi
    rm -f "$log"
}

# Restore into a new database, then swap names in one transaction: a failure at any step
# leaves the current database as it was.
restore() {
    local file target="${1:-}" confirmed="${2:-}" scratch archive why
    [[ -n "$target" ]] || die "name the backup to restore (or latest)"
    [[ "$confirmed" == --yes ]] || die "restore replaces the database of ${NAME}: add --yes to confirm"
    file="$(verify "$target")" || exit 1
    archive="$(plain "$file")" || exit 1
    connect
    THROTTLE=0 backup_now pre-restore
    scratch="${PGDATABASE}_restoring"
    why="$(restore_into "$scratch" "$archive")" \
        || die "${file}: restore failed, the database is unchanged: ${why}"
    psql --quiet --dbname=postgres -v ON_ERROR_STOP=1 \
        -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${PGDATABASE}'" >/dev/null
    psql --quiet --dbname=postgres -v ON_ERROR_STOP=1 --single-transaction \
        -c "ALTER DATABASE \"${PGDATABASE}\" RENAME TO \"${PGDATABASE}_replaced\"" \
        -c "ALTER DATABASE \"${scratch}\" RENAME TO \"${PGDATABASE}\""
    psql --quiet --dbname=postgres -c "DROP DATABASE \"${PGDATABASE}_replaced\""
    [[ "$archive" == "${PLAIN_DIR}/"* ]] && rm -f "$archive"
    echo "backup.sh: restored ${file} into ${PGDATABASE} (the database before it is in the pre-restore backup)"
}

# The scratch database a drill restores into.
drill_database() {
    echo "$(secret DB_NAME)_drill"
}

drill() {
    local file scratch schema table rows tables=0 archive why
    file="$(verify "${1:-latest}")" || exit 1
    archive="$(plain "$file")" || exit 1
    connect
    scratch="$(drill_database)"
    why="$(restore_into "$scratch" "$archive")" || die "${file}: does not restore: ${why}"
    # Every table whose data the archive's table of contents holds must be there, and readable.
    while read -r schema table; do
        rows="$(psql --dbname="$scratch" -Atc "SELECT count(*) FROM \"${schema}\".\"${table}\"")" \
            || die "${file}: table ${schema}.${table} of its contents cannot be read after the restore"
        printf 'backup.sh: %s.%s: %s rows\n' "$schema" "$table" "$rows"
        tables=$((tables + 1))
    done < <(pg_restore --list "$archive" | awk '$4 == "TABLE" && $5 == "DATA" {print $6, $7}')
    [[ "$archive" == "${PLAIN_DIR}/"* ]] && rm -f "$archive"
    echo "backup.sh: ${file} restores: ${tables} tables into ${scratch}"
}

drill_clean() {
    connect
    psql --quiet --dbname=postgres -c "DROP DATABASE IF EXISTS \"$(drill_database)\""
}

health() {
    local state when detail
    if [[ ! -f "$STATUS" ]]; then
        echo "no backup yet"
        return 1
    fi
    read -r state when detail <"$STATUS"
    if [[ "$state" != ok ]]; then
        echo "last backup failed: ${detail}"
        return 1
    fi
    if (($(date -u +%s) - when > INTERVAL + GRACE)); then
        echo "last backup ${detail} is overdue"
        return 1
    fi
}

# From one major to the next (pg-upgrade.sh): a plain dump of the database, and that dump
# into the new server's database, which its initialisation left empty.
export_to() {
    local file="${1:?name the file to export to}"
    connect
    pg_dump --format=custom --file="${file}.partial" && mv "${file}.partial" "$file"
}

import_from() {
    local file="${1:?name the file to import}"
    connect
    pg_restore --no-owner --exit-on-error --single-transaction --dbname="$PGDATABASE" "$file"
}

# Back up when the newest backup is as old as the interval (at once, if there is none); after a
# failure, again after RETRY_FIRST seconds, doubling up to the interval.
loop() {
    trap 'exit 0' TERM INT
    local newest age problem
    problem="$(settings_problem)"
    if [[ -n "$problem" ]]; then
        # Said once and shown as unhealthy; no restart loop until the setting is fixed.
        record failed "$problem"
        echo "backup.sh: ${problem}" >&2
        sleep infinity &
        wait $!
    fi
    local retry="$RETRY_FIRST" pause
    while :; do
        newest="$(backups | head -n 1)"
        age="$INTERVAL"
        [[ -n "$newest" ]] && age=$(($(date -u +%s) - $(stat -c %Y "${DIR}/${newest}")))
        pause=$((INTERVAL - age))
        if ((age >= INTERVAL)); then
            # In a subshell, so that a failure never ends the loop (and restarts the container
            # in a loop); it is recorded for the healthcheck and tried again after `retry` seconds.
            if (backup_now); then
                retry="$RETRY_FIRST" pause="$INTERVAL"
            else
                pause="$retry" retry=$((retry * 2 < INTERVAL ? retry * 2 : INTERVAL))
            fi
        fi
        sleep "$pause" &
        wait $!
    done
}

main() {
    local command="${1:-loop}"
    shift || true
    case "$command" in
        loop) loop ;;
        now) backup_now "$@" ;;
        list) list ;;
        prune) prune ;;
        verify) check "$@" ;;
        restore) restore "$@" ;;
        drill) drill "$@" ;;
        drill-clean) drill_clean ;;
        drill-database) drill_database ;;
        health) health ;;
        export) export_to "$@" ;;
        import) import_from "$@" ;;
        *) die "unknown command '${command}' (use loop, now, list, prune, verify, restore, drill, health, export or import)" ;;
    esac
}

main "$@"
