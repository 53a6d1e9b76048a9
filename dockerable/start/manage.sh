#!/usr/bin/env bash
# Role `cmd.sh manage ARGS` (the migrate service, one-off commands): manage.py as the app user.
set -Eeuo pipefail

exec python /app/manage.py "$@"
