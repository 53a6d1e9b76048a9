#!/usr/bin/env bash
# Role `cmd.sh worker [OPTIONS]` (the worker service), as the app user: runs the background tasks
# queued in PostgreSQL (`manage.py worker`, dockerable/tasks). In development mode (DEBUG) it
# restarts on code changes, as runserver does; on SIGTERM it finishes the task it runs, then exits.
set -Eeuo pipefail

exec python /app/manage.py worker "$@"
