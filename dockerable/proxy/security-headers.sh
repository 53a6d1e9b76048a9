#!/bin/sh
# The list of security headers (security-headers.txt, one "Name: value" a line) for a server to
# send, each in place of the app's own copy so that every header is sent once. The exception is
# the Content-Security-Policy: Django's (per path, per environment: dockerable/runtime/csp.py)
# goes through, and the list's goes only on the answers the server makes itself (static files).
#   security-headers.sh          nginx: writes the include each HTTPS location of the template
#                                uses, and the map that picks its policy (run from the nginx
#                                image's /docker-entrypoint.d)
#   security-headers.sh uwsgi    uWSGI's --route-run options (the policy's: --route for /static/),
#                                one a line (cmd.sh, production mode)
#   security-headers.sh check    only checks the list (cmd.sh check, the preflight service)
# A line that is not "Name: value", or a value holding a double quote or `$` (neither server
# would send it as written), stops the container with one line naming the file and the line.
set -eu

list="${SECURITY_HEADERS:-$(dirname "$0")/security-headers.txt}"
include="${SECURITY_HEADERS_INCLUDE:-/etc/nginx/conf.d/security-headers.inc}"
# A .conf in conf.d: the image's nginx.conf includes it at the http level, where a map must be.
csp_map="${SECURITY_HEADERS_MAP:-/etc/nginx/conf.d/security-headers-map.conf}"

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

is_csp() {
    [ "$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')" = content-security-policy ]
}

nginx_lines() {
    if is_csp "$1"; then
        # shellcheck disable=SC2016  # an nginx variable, for nginx to expand
        printf 'add_header %s $dockerable_csp always;\n' "$1"
    else
        printf 'add_header %s "%s" always;\nuwsgi_hide_header %s;\n' "$1" "$2" "$1"
    fi
}

# The list's policy where the app sent none (enforced or report-only); nginx sends no header
# whose value is empty.
nginx_csp_map() {
    if is_csp "$1"; then
        # shellcheck disable=SC2016  # nginx variables, for nginx to expand
        printf '%s\n' 'map "$upstream_http_content_security_policy$upstream_http_content_security_policy_report_only" $dockerable_csp {' \
            "    \"\" \"$2\";" '    default "";' '}'
    fi
}

uwsgi_options() {
    if is_csp "$1"; then
        # uWSGI's static-map serves /static/; anything else there is Django's 404, whose copy goes.
        printf '%s\n' --route "^/static/ remheader:$1" --route "^/static/ addheader:$1: $2"
    else
        printf '%s\n' --route-run "remheader:$1" --route-run "addheader:$1: $2"
    fi
}

[ -r "$list" ] || fail 0 'cannot read the file'
case "${1:-nginx}" in
    nginx)
        each_header : # the whole list checked first: a bad line leaves no file behind
        each_header nginx_lines >"${include}.new"
        each_header nginx_csp_map >"${csp_map}.new"
        mv "${csp_map}.new" "$csp_map"
        mv "${include}.new" "$include" ;;
    uwsgi) each_header uwsgi_options ;;
    check) each_header : ;;
    *) echo "usage: security-headers.sh [nginx|uwsgi|check]" >&2; exit 64 ;;
esac
