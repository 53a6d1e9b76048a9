#!/bin/sh
# Runs from the nginx image's /docker-entrypoint.d before nginx starts.
# Chooses the HTTPS certificate and keeps nginx serving the current one:
#   TLS_SOURCE=acme  (default) certbot's /etc/letsencrypt/live/dockerable/
#   TLS_SOURCE=files           the environment's own /ssl/server.crt and server.key
# Until a certificate exists HTTPS refuses handshakes, while HTTP already serves
# ACME challenges. A background loop reloads nginx (gracefully: connections are
# not dropped) when the files change; no Docker socket is needed for renewals.
set -eu

conf=/etc/nginx/conf.d/dockerable-tls.inc
interval="${TLS_WATCH_INTERVAL:-30}"

case "${TLS_SOURCE:-acme}" in
    acme)
        cert=/etc/letsencrypt/live/dockerable/fullchain.pem
        key=/etc/letsencrypt/live/dockerable/privkey.pem ;;
    files)
        # Swarm mounts them elsewhere: the key as a secret, the certificate as a config.
        cert="${TLS_CERT:-/ssl/server.crt}"
        key="${TLS_KEY:-/ssl/server.key}" ;;
    *)
        echo "nginx-tls: unknown TLS_SOURCE='${TLS_SOURCE}' (use acme or files)" >&2
        exit 64 ;;
esac

write_conf() {
    if [ -s "$cert" ] && [ -s "$key" ]; then
        printf 'ssl_certificate %s;\nssl_certificate_key %s;\n' "$cert" "$key" >"$conf.new"
    else
        printf '# No certificate yet: refuse TLS handshakes until there is one.\nssl_reject_handshake on;\n' >"$conf.new"
        echo "nginx-tls: no certificate at $cert yet; HTTPS refuses handshakes until there is one" >&2
    fi
    mv "$conf.new" "$conf"
}

fingerprint() {
    cat "$cert" "$key" 2>/dev/null | sha256sum
}

watch_certificate() {
    last="$(fingerprint)"
    while :; do
        sleep "$interval"
        now="$(fingerprint)"
        [ "$now" = "$last" ] && continue
        write_conf
        if nginx -t -q; then
            nginx -s reload
            echo "nginx-tls: certificate changed; nginx reloaded"
            last="$now"
        else
            echo "nginx-tls: nginx rejects the new certificate; still serving the previous one" >&2
        fi
    done
}

write_conf
watch_certificate &
