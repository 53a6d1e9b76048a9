#!/usr/bin/env bash
# Role ENV=DEV: Django's runserver on 0.0.0.0:8000, reloading on code changes, as the app user.
# DEBUGPY_PORT (the dev container sets it; cmd.sh checked the image has debugpy): under debugpy,
# for an editor to attach.
set -Eeuo pipefail

debugger=()
if [[ -n "${DEBUGPY_PORT:-}" ]]; then
    debugger=(-m debugpy --listen "0.0.0.0:${DEBUGPY_PORT}")
fi
exec python "${debugger[@]}" /app/manage.py runserver "0.0.0.0:8000"
