#!/usr/bin/env bash
# The backup service's command: `backup.sh COMMAND [ARGS]` runs backup/COMMAND, one script per
# command over backup/_lib.sh. It runs in the Dockerfile's `backup` image (the postgres image of
# the server's major, plus age and pv); docs/operations.md, Backups.
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
#   backup.sh media-names FILE|latest   the files in FILE's uploads archive, one a line (restore.sh
#                                       --drill checks the restored rows name none that is missing)
#   backup.sh resolve FILE|latest       the backup's name (latest: the newest), for restore.sh
#   backup.sh health                    exit 0 if the last backup worked and is not overdue
#   backup.sh export FILE | import FILE plain dump of the database to FILE, or FILE into an empty
#                                       database (dockerable/pg-upgrade.sh, from one major to the next)
set -Eeuo pipefail

COMMANDS="$(dirname "${BASH_SOURCE[0]}")/backup"
readonly COMMANDS

main() {
    local command="${1:-loop}" known
    shift || true
    if [[ "$command" =~ ^[a-z][a-z-]*$ && -f "${COMMANDS}/${command}" ]]; then
        exec bash "${COMMANDS}/${command}" "$@"
    fi
    known="$(find "$COMMANDS" -maxdepth 1 -type f ! -name '_*' -printf '%f\n' | sort | paste -sd ' ')"
    echo "backup.sh: unknown command '${command}' (use one of: ${known})" >&2
    exit 1
}

main "$@"
