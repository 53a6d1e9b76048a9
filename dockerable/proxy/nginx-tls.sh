#!/bin/sh
# Runs from the nginx image's /docker-entrypoint.d before nginx starts.
# Chooses the HTTPS certificate and keeps nginx serving the current one:
#   TLS_SOURCE=acme  (default) certbot's /etc/letsencrypt/live/dockerable/
#   TLS_SOURCE=files           the environment's own /ssl/server.crt and server.key
# Until a certificate exists HTTPS refuses handshakes, while HTTP already serves
# ACME challenges. A background loop notices new files and hands nginx the new pair without a
# reload: a reload closes every idle keep-alive connection, and a client sending on one just then
# loses its request (docs/proxy.md). No Docker socket is needed for renewals.
set -eu

conf=/etc/nginx/conf.d/dockerable-tls.inc
interval="${TLS_WATCH_INTERVAL:-30}"
# Certificate and key in one file, replaced in one rename, so that a handshake never meets the new
# certificate with the old key. The workers load it at handshakes (ssl_certificate_cache), so it
# is theirs, in this container's own tmpfs.
pairs=/run/dockerable-tls
pair="$pairs/pair.pem"
recheck=5

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

# Copy the current certificate and key into $pair if nginx accepts them together (a key that does
# not match its certificate is refused here, never at a handshake). Fails if there is none yet.
install_pair() {
    [ -s "$cert" ] && [ -s "$key" ] || return 1
    # The blank line: a certificate file that does not end in a newline would run into the key.
    (umask 077 && { cat "$cert" && echo && cat "$key"; } >"$pair.new")
    # A configuration of its own (its temporary folders in this tmpfs: the defaults may be read-only).
    printf 'events {}\nhttp {\n' >"$pairs/check.conf"
    for temp in client_body proxy fastcgi uwsgi scgi; do
        printf '  %s_temp_path %s/check/%s;\n' "$temp" "$pairs" "$temp" >>"$pairs/check.conf"
    done
    printf '  server { listen 127.0.0.1:1 ssl; ssl_certificate %s; ssl_certificate_key %s; }\n}\n' \
        "$pair.new" "$pair.new" >>"$pairs/check.conf"
    if ! nginx -t -q -c "$pairs/check.conf" -g "pid $pairs/check.pid;" 2>"$pairs/check.log"; then
        rm -f "$pair.new"
        return 2
    fi
    chown nginx "$pair.new"
    mv "$pair.new" "$pair"
}

# nginx reads the pair at each handshake through a path with a variable in it (the map, in
# http's conf.d), from a cache that looks at the file again every $recheck seconds.
write_conf() {
    if [ -s "$pair" ]; then
        # shellcheck disable=SC2016 # nginx's variable, not the shell's
        printf 'ssl_certificate $dockerable_tls_pair;\nssl_certificate_key $dockerable_tls_pair;\n%s\n' \
            "ssl_certificate_cache max=8 valid=${recheck}s;" >"$conf.new"
    else
        printf '# No certificate yet: refuse TLS handshakes until there is one.\nssl_reject_handshake on;\n' >"$conf.new"
    fi
    mv "$conf.new" "$conf"
}

# Why install_pair failed (its status), in words.
refusal() {
    if [ "$1" -eq 1 ]; then
        echo "no certificate and key at $cert and $key"
    else
        # nginx's first line, without its time and process ("2026/12/04 09:26:55 [emerg] 45#45: ").
        line="$(head -n 1 "$pairs/check.log")"
        echo "nginx refuses $cert with $key: ${line#*: }"
    fi
}

fingerprint() {
    cat "$cert" "$key" 2>/dev/null | sha256sum
}

# The first certificate needs the one reload (HTTPS refused every handshake until then); later
# ones only replace the pair.
watch_certificate() {
    last="$(fingerprint)"
    while :; do
        sleep "$interval"
        now="$(fingerprint)"
        [ "$now" = "$last" ] && continue
        status=0
        install_pair || status=$?
        if [ "$status" -ne 0 ]; then
            echo "nginx-tls: $(refusal "$status"); still serving the previous one" >&2
            continue
        fi
        last="$now"
        if grep -q ssl_reject_handshake "$conf"; then
            write_conf
            if nginx -t -q 2>"$pairs/check.log" && nginx -s reload; then
                echo "nginx-tls: first certificate; nginx reloaded"
            else
                echo "nginx-tls: nginx refuses its configuration, not reloaded: $(head -n 1 "$pairs/check.log")" >&2
            fi
        else
            echo "nginx-tls: certificate changed; new connections get it within ${recheck} s, no reload"
        fi
    done
}

mkdir -p "$pairs/check"
# shellcheck disable=SC2016 # nginx's variable, not the shell's
printf 'map "" $dockerable_tls_pair { default %s; }\n' "$pair" >"${conf%.inc}.conf"
status=0
install_pair || status=$?
[ "$status" -eq 0 ] || echo "nginx-tls: $(refusal "$status"); HTTPS refuses handshakes until then" >&2
write_conf
watch_certificate &
