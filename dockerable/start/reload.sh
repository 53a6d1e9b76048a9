#!/usr/bin/env bash
# Role `cmd.sh reload` (in the running app container, once cmd.sh handed the environment's files
# over again): the running uWSGI loads the app anew, as the app user (docs/security.md).
set -Eeuo pipefail

exec python -m dockerable.runtime.reload
