#!/bin/sh
# The list of security headers (security-headers.txt, one "Name: value" a line) for a server to
# send, each in place of the app's own copy so that every header is sent once:
#   security-headers.sh          nginx: writes the include each HTTPS location of the template
#                                uses (run from the nginx image's /docker-entrypoint.d)
#   security-headers.sh uwsgi    uWSGI's --route-run options, one a line (cmd.sh, production mode)
#   security-headers.sh check    only checks the list (cmd.sh check, the preflight service)
# A line that is not "Name: value", or a value holding a double quote or `$` (neither server
# would send it as written), stops the container with one line naming the file and the line.
set -eu

list="${SECURITY_HEADERS:-$(dirname "$0")/security-headers.txt}"
include="${SECURITY_HEADERS_INCLUDE:-/etc/nginx/conf.d/security-headers.inc}"

fail() {
    echo "security-headers.sh: ${list} line $1: $2" >&2
    exit 64
}

# Calls `$1 NAME VALUE` for each header of the list.
each_header() {
    number=0
    while IFS= read -r line || [ -n "$line" ]; do
        number=$((number + 1))
        case "$line" in '' | '#'*) continue ;; esac
        case "$line" in *'"'* | *'$'*) fail "$number" 'a header may hold no double quote or $' ;; esac
        name="${line%%: *}"
        case "$name" in '' | "$line" | *[!A-Za-z0-9-]*) fail "$number" 'not "Name: value"' ;; esac
        "$1" "$name" "${line#*: }"
    done <"$list"
}

nginx_lines() {
    printf 'add_header %s "%s" always;\nuwsgi_hide_header %s;\n' "$1" "$2" "$1"
}

uwsgi_options() {
    printf '%s\n' --route-run "remheader:$1" --route-run "addheader:$1: $2"
}

[ -r "$list" ] || fail 0 'cannot read the file'
case "${1:-nginx}" in
    nginx)
        each_header : # the whole list checked first: a bad line leaves no file behind
        each_header nginx_lines >"${include}.new"
        mv "${include}.new" "$include" ;;
    uwsgi) each_header uwsgi_options ;;
    check) each_header : ;;
    *) echo "usage: security-headers.sh [nginx|uwsgi|check]" >&2; exit 64 ;;
esac
