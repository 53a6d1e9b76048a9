#!/usr/bin/env bash
# The postgres service's entrypoint. The database name, user and password have one source of
# truth, the environment's secrets.json: read them as root into the variables the official
# image initialises the database with, then hand over to that image's own entrypoint.
set -Eeuo pipefail

readonly SECRETS=/run/secrets/django.json

die() {
    echo "postgres-entrypoint.sh: $*" >&2
    exit 64
}

# One non-empty string of secrets.json (perl and JSON::PP ship in the postgres image; jq does not).
secret() {
    perl -MJSON::PP -0777 -e '
        my ($key, $name) = @ARGV[0, 1];
        my $all = eval { decode_json(<STDIN>) };
        ref $all eq "HASH" or die "postgres-entrypoint.sh: $name is not a JSON object: ", ($@ =~ s/ at -e .*//sr || "no object"), "\n";
        my $value = $all->{$key};
        defined $value && !ref $value && length $value
            or die "postgres-entrypoint.sh: $name has no non-empty string for key $key\n";
        print $value' "$1" "the environment's secrets.json" <"$SECRETS" || exit 64
}

main() {
    [[ -f "$SECRETS" ]] || die "${SECRETS} is not a file: mount the environment's secrets.json there"
    POSTGRES_DB="$(secret DB_NAME)"
    POSTGRES_USER="$(secret DB_USER)"
    POSTGRES_PASSWORD="$(secret DB_PASSWORD)"
    export POSTGRES_DB POSTGRES_USER POSTGRES_PASSWORD
    exec docker-entrypoint.sh postgres "$@"
}

main "$@"
