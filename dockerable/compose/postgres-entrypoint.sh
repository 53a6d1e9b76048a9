#!/usr/bin/env bash
# The postgres service's entrypoint under Compose (Swarm's reads Swarm secrets instead: swarm/stack.yml).
# The database name, user and password have one source of truth, the environment's secrets.json:
# read them as root, through the loader, into the variables the official image initialises the
# database with, then hand over to that image's own entrypoint.
set -Eeuo pipefail

# shellcheck source-path=SCRIPTDIR source=secrets.sh
source "$(dirname "${BASH_SOURCE[0]}")/secrets.sh"

# The health check's pg_isready connects as the database's own user to its database, through
# the service "dockerable" of the file PGSERVICEFILE names (the service's environment): with
# neither, it would try the role "root", which the server logs as an error at every check.
# (An environment from before this keeps its own health check and sets no PGSERVICEFILE.)
write_health_check_service() {
    [[ -n "${PGSERVICEFILE:-}" ]] || return 0
    local service
    service="$(pg_service)"
    printf '%s\n' "$service" >"$PGSERVICEFILE"
}

main() {
    POSTGRES_DB="$(secret DB_NAME)"
    POSTGRES_USER="$(secret DB_USER)"
    POSTGRES_PASSWORD="$(secret DB_PASSWORD)"
    export POSTGRES_DB POSTGRES_USER POSTGRES_PASSWORD
    write_health_check_service
    exec docker-entrypoint.sh postgres "$@"
}

main "$@"
