#!/usr/bin/env bash
# The postgres service's entrypoint. The database name, user and password have one source of
# truth, the environment's secrets.json: read them as root into the variables the official
# image initialises the database with, then hand over to that image's own entrypoint.
set -Eeuo pipefail

# shellcheck source-path=SCRIPTDIR source=secrets.sh
source "$(dirname "${BASH_SOURCE[0]}")/secrets.sh"

main() {
    POSTGRES_DB="$(secret DB_NAME)"
    POSTGRES_USER="$(secret DB_USER)"
    POSTGRES_PASSWORD="$(secret DB_PASSWORD)"
    export POSTGRES_DB POSTGRES_USER POSTGRES_PASSWORD
    exec docker-entrypoint.sh postgres "$@"
}

main "$@"
