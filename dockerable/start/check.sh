#!/usr/bin/env bash
# Role `cmd.sh check` (the preflight service, which runs before anything else starts): each
# mistake in the environment's files that would stop a service at every one of its restarts,
# said once, in one line. Proxy mode also checks nginx's files when they are mounted
# (SECURITY_HEADERS, TLS_SOURCE). Runs as it is started (root), reading only: no app code.
set -Eeuo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_settings_module
require_known_env
require_drain_seconds
require_valid_secrets "$(secrets_source)"
case "${ENV:-PROD}" in
    PROD)
        sh /dockerable/security-headers.sh check || exit 64
        require_matching_key "${SSL_CERT:-/ssl/server.crt}" "${SSL_KEY:-/ssl/server.key}" ;;
    PROXY)
        if [[ -n "${SECURITY_HEADERS:-}" ]]; then
            sh /dockerable/security-headers.sh check || exit 64
        fi
        case "${TLS_SOURCE:-acme}" in
            acme) ;;
            files) require_matching_key /ssl/server.crt /ssl/server.key ;;
            *) die "unknown TLS_SOURCE='${TLS_SOURCE}' (use acme or files)" ;;
        esac ;;
esac
echo "cmd.sh: the environment's files are fine for ENV=${ENV:-PROD}"
