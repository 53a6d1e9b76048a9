#!/usr/bin/env bash
# Role of swarm/deploy.sh's one-off job on nginx's node, as root, in the release's image: copies
# what nginx serves into its volumes there. The static files (old hashed names stay, for pages
# already open), and the environment's TLS certificate and key once they are shown to match, each
# file replaced in one rename: nginx's watch never reads half a file, and swaps a new pair in with
# no restart (docs/swarm.md).
set -Eeuo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly CERT=/run/tls/server.crt KEY=/run/secrets/server.key TLS=/srv/tls

# File $1 into folder $2, under the same name and mode, in one rename.
replace_into() {
    local target="$2/${1##*/}"
    cp -p "$1" "${target}.new"
    mv "${target}.new" "$target"
}

cp -a /app/static/. /srv/static/
require_matching_key "$CERT" "$KEY"
replace_into "$KEY" "$TLS"
replace_into "$CERT" "$TLS"
