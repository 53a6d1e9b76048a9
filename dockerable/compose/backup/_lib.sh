#!/usr/bin/env bash
# Sourced by every backup command (dockerable/compose/backup/*): the settings, the names and
# checks of backups, a backup and its pruning, and the scratch-database restore that restore and
# drill share. Backups are PostgreSQL custom-format dumps named <env>-<UTC time>.dump, each with
# a .sha256 beside it, in /backups; encrypted with age to the public keys in the environment's
# backup-recipients.txt when it has any (<env>-<time>.dump.age), and then read back only with a
# private key mounted at /run/backup-identity (restore.sh --identity). Where the service mounts
# the environment's uploads (the `media` volume, at /srv/media), each backup also archives them,
# after its dump, as <env>-<time>.media.tar[.age] with its own .sha256: the same name and time,
# the same encryption and retention.
# shellcheck disable=SC2034  # constants for the scripts that source this file

# shellcheck source-path=SCRIPTDIR source=../secrets.sh
source "$(dirname "${BASH_SOURCE[0]}")/../secrets.sh"

readonly DIR=/backups
readonly RECIPIENTS=/run/backup-recipients.txt IDENTITY=/run/backup-identity
# Where an encrypted backup is decrypted to be read, under its own name: the container's own
# layer, gone with a one-off container (restore and drill remove it themselves).
readonly PLAIN_DIR=/tmp
readonly STATUS="${DIR}/.status"
# The uploads, read-only; and where restore.sh mounts them writable for a restore.
readonly MEDIA=/srv/media MEDIA_RESTORE=/restore/media
readonly INTERVAL="${BACKUP_INTERVAL:-86400}"
# Retention: the newest backup of each of the last N days, ISO weeks and months that have one.
# Labelled backups (the safety copy a restore takes first) are never pruned: delete them by hand.
readonly KEEP_DAILY="${BACKUP_KEEP_DAILY:-7}" KEEP_WEEKLY="${BACKUP_KEEP_WEEKLY:-4}"
readonly KEEP_MONTHLY="${BACKUP_KEEP_MONTHLY:-6}"
# A backup is overdue when the last good one is older than the interval plus this.
readonly GRACE=3600
# The loop's container serves METRICS_DIR's metrics.txt to Prometheus on this port (busybox
# httpd: static files only), which no stack publishes.
readonly METRICS_DIR=/tmp/backup-metrics METRICS_PORT=9100
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
    local earlier password
    # One a line: a line of several assignments fails only with its last one, and went on unset.
    PGDATABASE="$(secret DB_NAME)"
    PGUSER="$(secret DB_USER)"
    PGPASSWORD="$(secret DB_PASSWORD)"
    PGHOST="${DB_HOST:-postgres}" PGCONNECT_TIMEOUT=10
    export PGHOST PGUSER PGPASSWORD PGDATABASE PGCONNECT_TIMEOUT
    # During a password rotation the role may still have an earlier one (docs/security.md): the
    # first that the server takes. A server that takes none keeps DB_PASSWORD, and its own error.
    mapfile -t earlier < <(secrets DB_PASSWORD_FALLBACKS)
    ((${#earlier[@]} > 0)) || return 0
    psql -X -q -c '' >/dev/null 2>&1 && return 0
    for password in "${earlier[@]}"; do
        if PGPASSWORD="$password" psql -X -q -c '' >/dev/null 2>&1; then
            PGPASSWORD="$password"
            return 0
        fi
    done
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
    write_metrics
}

# The metrics page, in Prometheus's text format: when the newest backup was written (Prometheus
# computes its age), whether the last attempt worked, when a backup is overdue. Written whole,
# then moved, so that a scrape never reads half of it.
write_metrics() {
    local newest state=ok
    newest="$(backups | head -n 1)"
    [[ ! -f "$STATUS" ]] || read -r state _ <"$STATUS"
    mkdir -p "$METRICS_DIR"
    {
        metric last_success_timestamp_seconds "When the newest backup was written (none yet: absent)." \
            "${newest:+$(stat -c %Y "${DIR}/${newest}")}"
        metric last_attempt_ok "1 if the last backup worked (or none has been tried), 0 if it failed." \
            "$([[ "$state" == ok ]] && echo 1 || echo 0)"
        # Absent while BACKUP_INTERVAL is not a number (the failure says so).
        metric overdue_after_seconds "How old the newest backup may be before it is overdue." \
            "$([[ "$INTERVAL" =~ ^[0-9]+$ ]] && echo $((INTERVAL + GRACE)))"
    } >"${METRICS_DIR}/metrics.txt.new"
    mv "${METRICS_DIR}/metrics.txt.new" "${METRICS_DIR}/metrics.txt"
}

# One gauge, dockerable_backup_$1, described by $2, of value $3 (none: the series is absent).
metric() {
    printf '# HELP dockerable_backup_%s %s\n# TYPE dockerable_backup_%s gauge\n' "$1" "$2" "$1"
    [[ -z "$3" ]] || printf 'dockerable_backup_%s %s\n' "$1" "$3"
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

# stdin into FILE, throttled, through age when encrypting.
write_to() {
    if encrypting; then
        throttle | age --encrypt --recipients-file "$RECIPIENTS" --output "$1"
    else
        throttle >"$1"
    fi
}

# The media archive that goes with backup FILE: <env>-<time>.dump[.age] -> <env>-<time>.media.tar[.age].
media_of() {
    local file="${1%.age}" suffix=""
    [[ "$1" == *.age ]] && suffix=.age
    echo "${file%.dump}.media.tar${suffix}"
}

# FILE's .sha256 beside it in /backups, under NAME (the name FILE will have).
checksum() {
    printf '%s  %s\n' "$(sha256sum <"$1" | cut -d ' ' -f 1)" "$2" >"${DIR}/${2}.sha256"
}

# One step of a backup: `step WHAT COMMAND PARTIAL [EARLIER...]` runs COMMAND PARTIAL (PARTIAL a
# hidden file, renamed once whole); on failure it removes PARTIAL and the EARLIER steps' files,
# records the error for the health check and ends with one line naming WHAT.
step() {
    local what="$1" command="$2" partial="$3" why
    shift 3
    if ! "$command" "$partial" 2>"${partial}.log"; then
        why="$(tail -n 1 "${partial}.log")"
        rm -f "$partial" "${partial}.log" "$@"
        record failed "${what}: ${why}"
        die "backup of ${PGDATABASE} failed: ${what}: ${why}"
    fi
    rm -f "${partial}.log"
}

dump_to() {
    pg_dump --format=custom | write_to "$1"
}

# The uploads as they are now (numeric owners, so that a restore gives them back to the app user).
# The app keeps writing meanwhile: a file that changed or went while tar read it is taken as tar
# found it (its status 1), where a failure to read the folder ends the backup (status 2).
media_to() {
    {
        tar --create --file=- --directory="$MEDIA" --numeric-owner --exclude=./.restoring --exclude=./.replaced \
            --warning=no-file-changed --warning=no-file-removed . || (($? == 1))
    } | write_to "$1"
}

# One backup; LABEL (optional) is added to its name, e.g. pre-restore, and keeps it from pruning.
backup_now() {
    local label="${1:+-$1}" base partial suffix="" problem media
    problem="$(settings_problem)"
    if [[ -n "$problem" ]]; then
        record failed "$problem"
        die "$problem"
    fi
    connect
    encrypting && suffix=.age
    base="${NAME}-$(date -u +%Y%m%dT%H%M%SZ)${label}.dump${suffix}"
    partial="${DIR}/.${base}.partial"
    step pg_dump dump_to "$partial"
    # After the dump: a file its rows name was uploaded before it, so it is in the archive too.
    if [[ -d "$MEDIA" ]]; then
        media="$(media_of "$base")"
        step "the uploads (${MEDIA})" media_to "${DIR}/.${media}.partial" "$partial"
        checksum "${DIR}/.${media}.partial" "$media"
        mv "${DIR}/.${media}.partial" "${DIR}/${media}"
    fi
    # The dump last: a backup is listed (and restorable) once all of it is there.
    checksum "$partial" "$base"
    mv "$partial" "${DIR}/${base}"
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
        [[ -n "${keep[$file]:-}" ]] \
            || rm -f "${DIR:?}/${file}" "${DIR:?}/${file}.sha256" "${DIR:?}/$(media_of "$file")"{,.sha256}
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

# FILE in /backups matches its .sha256, or one line saying why not.
check_sum() {
    [[ -f "${DIR}/${1}.sha256" ]] || die "${1}: its checksum file ${1}.sha256 is missing"
    (cd "$DIR" && sha256sum --check --status "${1}.sha256") \
        || die "${1}: does not match its checksum (truncated or corrupted)"
}

verify() {
    local file archive media
    file="$(resolve "$1")"
    [[ "$file" =~ ^[a-z][a-z0-9_]*-[0-9]{8}T[0-9]{6}Z(-[a-z-]+)?\.dump(\.age)?$ ]] \
        || die "${file}: not a backup's name (<env>-<UTC time>.dump or .dump.age)"
    [[ "$file" =~ $PATTERN ]] || die "${file}: a backup of another environment (this one is ${NAME})"
    [[ -f "${DIR}/${file}" ]] || die "${file}: no such backup in ${DIR}"
    check_sum "$file"
    media="$(media_of "$file")"
    [[ ! -f "${DIR}/${media}" ]] || check_sum "$media"
    if [[ "$file" == *.age && ! -f "$IDENTITY" ]]; then
        # Without the private key, the checksum is all that can be checked.
        echo "$file"
        return
    fi
    archive="$(plain "$file")" || exit 1
    pg_restore --list "$archive" >/dev/null 2>&1 || die "${file}: not a readable PostgreSQL archive"
    if [[ -f "${DIR}/${media}" ]]; then
        archive="$(plain "$media")" || exit 1
        tar --list --file "$archive" >/dev/null 2>&1 || die "${media}: not a readable tar archive"
    fi
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

# ARCHIVE (a media archive) unpacked beside the uploads, on their volume, so that putting it in
# their place is renames only. On failure: nothing left behind, tar's last line on stdout.
unpack_media() {
    local staging="${MEDIA_RESTORE}/.restoring" log
    rm -rf "${staging:?}" && mkdir "$staging"
    log="$(mktemp)"
    if ! tar --extract --file "$1" --directory "$staging" --same-owner --preserve-permissions 2>"$log"; then
        rm -rf "${staging:?}"
        tail -n 1 "$log"
        rm -f "$log"
        return 1
    fi
    rm -f "$log"
}

# The unpacked uploads in place of the current ones (which go, once the new ones are there).
swap_media() {
    local root="$MEDIA_RESTORE" entry
    rm -rf "${root:?}/.replaced" && mkdir "${root}/.replaced"
    shopt -s dotglob nullglob
    for entry in "$root"/*; do
        [[ "${entry##*/}" == .restoring || "${entry##*/}" == .replaced ]] || mv "$entry" "${root}/.replaced/"
    done
    for entry in "${root}/.restoring"/*; do
        mv "$entry" "${root}/"
    done
    shopt -u dotglob nullglob
    rmdir "${root}/.restoring"
    rm -rf "${root:?}/.replaced"
}
