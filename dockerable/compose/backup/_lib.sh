#!/usr/bin/env bash
# Sourced by every backup command (dockerable/compose/backup/*): the settings, the names and
# checks of backups, a backup and its pruning, and the scratch-database restore that restore and
# drill share. Backups are PostgreSQL custom-format dumps named <env>-<UTC time>.dump, each with
# a .sha256 beside it, in /backups; encrypted with age to the public keys in the environment's
# backup-recipients.txt when it has any (<env>-<time>.dump.age), and then read back only with a
# private key mounted at /run/backup-identity (restore.sh --identity).
# shellcheck disable=SC2034  # constants for the scripts that source this file

# shellcheck source-path=SCRIPTDIR source=../secrets.sh
source "$(dirname "${BASH_SOURCE[0]}")/../secrets.sh"

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

# The scratch database a drill restores into.
drill_database() {
    echo "$(secret DB_NAME)_drill"
}
