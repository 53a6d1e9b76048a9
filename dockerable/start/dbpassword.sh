#!/usr/bin/env bash
# Role `cmd.sh dbpassword` (after a database password rotation, once every app task has the new
# secrets.json): the role's password becomes DB_PASSWORD, as the app user.
set -Eeuo pipefail

exec python -m dockerable.runtime.postgresql.password
