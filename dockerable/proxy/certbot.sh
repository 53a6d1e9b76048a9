#!/bin/sh
# The certbot service: obtains the environment's certificate by HTTP-01 through
# nginx's webroot, then checks twice a day and renews when it is due.
#   certbot.sh              the loop (the service's command)
#   certbot.sh renew [ARG]  one attempt now, e.g. `renew --force-renewal`
#   certbot.sh health       exit 0 if the last attempt succeeded (the healthcheck)
# Settings (the environment's compose or stack file): TLS_SOURCE (files: idle), ACME_DIRECTORY, ACME_EMAIL,
# ACME_DOMAINS (space-separated; the first names the certificate's subject), and in Swarm
# NGINX_HEALTH_URL: Swarm starts services in no order, so the first attempt waits for nginx.
set -eu

# Let's Encrypt's STAGING directory until you switch on purpose (docs/proxy.md): its
# certificates are untrusted, but its limits are generous.
# Production: https://acme-v02.api.letsencrypt.org/directory
ACME_DIRECTORY="${ACME_DIRECTORY:-https://acme-staging-v02.api.letsencrypt.org/directory}"

status_file=/var/lib/letsencrypt/dockerable-status
renewal_conf=/etc/letsencrypt/renewal/dockerable.conf

log() {
    echo "certbot.sh: $*" >&2
}

record() {
    printf '%s %s\n' "$1" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$status_file"
}

# Switching ACME_DIRECTORY (staging -> production) must not wait for expiry.
server_changed() {
    [ -f "$renewal_conf" ] && ! grep -qx "server = ${ACME_DIRECTORY}" "$renewal_conf"
}

# The domains the current certificate was issued for, sorted (asks no server).
issued_domains() {
    certbot certificates --cert-name dockerable 2>/dev/null \
        | sed -n 's/^ *Domains: //p' | tr ' ' '\n' | sort | tr '\n' ' '
}

wanted_domains() {
    echo "$ACME_DOMAINS" | tr -s ' ' '\n' | sort | tr '\n' ' '
}

# A certificate for exactly these domains from this server: `renew` decides
# locally whether it is due, and contacts the ACME server only if it is.
lineage_current() {
    [ -f "$renewal_conf" ] && ! server_changed && [ "$(issued_domains)" = "$(wanted_domains)" ]
}

# An unreachable ACME server can hang certbot for a very long time (DNS, TCP):
# bound every attempt so that a failure is reported, and retried, on time.
certbot_bounded() {
    timeout "${ATTEMPT_TIMEOUT:-300}" certbot "$@"
}

obtain() {
    if lineage_current; then
        # No random delay (up to 8 minutes without a TTY): the loop's schedule
        # already starts at a different moment on every host, and the delay would
        # outlast ATTEMPT_TIMEOUT.
        certbot_bounded renew --non-interactive --no-random-sleep-on-renew --cert-name dockerable "$@"
        return
    fi
    set -- "$@" --server "$ACME_DIRECTORY"
    for domain in $ACME_DOMAINS; do
        set -- "$@" -d "$domain"
    done
    if [ -n "${ACME_EMAIL:-}" ]; then
        set -- "$@" --email "$ACME_EMAIL"
    else
        set -- "$@" --register-unsafely-without-email
    fi
    if server_changed; then
        log "ACME_DIRECTORY changed to ${ACME_DIRECTORY}: requesting a new certificate there"
        set -- "$@" --force-renewal
    fi
    # First issuance, or new domains or server: ask for a certificate.
    certbot_bounded certonly --non-interactive --agree-tos --webroot --webroot-path /var/www/acme \
        --cert-name dockerable --keep-until-expiring "$@"
}

attempt() {
    if obtain "$@"; then
        record ok
        return 0
    fi
    record failed
    log "ERROR: certificate request to ${ACME_DIRECTORY} failed; nginx keeps serving the previous certificate"
    return 1
}

# Until nginx answers NGINX_HEALTH_URL (at most NGINX_WAIT seconds): a challenge it cannot
# serve yet would be a failed validation, and Let's Encrypt allows few of them.
wait_for_nginx() {
    [ -n "${NGINX_HEALTH_URL:-}" ] || return 0
    python3 - "$NGINX_HEALTH_URL" "${NGINX_WAIT:-300}" <<'PYTHON' || log "no answer from ${NGINX_HEALTH_URL}: trying anyway"
import sys, time, urllib.request
url, deadline = sys.argv[1], time.monotonic() + int(sys.argv[2])
while True:
    try:
        urllib.request.urlopen(url, timeout=5).close()
        sys.exit(0)
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(1)
        time.sleep(2)
PYTHON
}

# TLS_SOURCE=files: nginx serves the environment's own certificate, so nothing is asked of any
# ACME server (a laptop has no public domain) and the service stays healthy, idle.
idle() {
    log "TLS_SOURCE=files: nginx serves the environment's own certificate; no ACME request is made"
    record ok
    trap 'exit 0' TERM INT
    while :; do
        sleep 86400 &
        wait $!
    done
}

loop() {
    if [ "${TLS_SOURCE:-acme}" = files ]; then
        idle
    fi
    : "${ACME_DOMAINS:?set ACME_DOMAINS}"
    trap 'exit 0' TERM INT
    wait_for_nginx
    while :; do
        if attempt; then
            wait_seconds="${RENEW_INTERVAL:-43200}"
        else
            # Slowly: Let's Encrypt allows 5 failed validations per host per hour.
            wait_seconds="${RETRY_INTERVAL:-900}"
        fi
        sleep "$wait_seconds" &
        wait $!
    done
}

case "${1:-loop}" in
    loop) loop ;;
    renew) shift; attempt "$@" ;;
    health) read -r state _ <"$status_file" && [ "$state" = ok ] ;;
    *) log "unknown command '$1' (use loop, renew or health)"; exit 64 ;;
esac
