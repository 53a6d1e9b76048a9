#!/usr/bin/env bash
# Sourced by the postgres and backup services' scripts: one string of the environment's
# secrets.json, mounted at /run/secrets/django.json (perl and JSON::PP ship in the postgres
# image; jq does not). A missing or empty key ends the script with one line naming it.
readonly SECRETS=/run/secrets/django.json

secret() {
    [[ -f "$SECRETS" ]] || {
        echo "${0##*/}: ${SECRETS} is not a file: mount the environment's secrets.json there" >&2
        exit 64
    }
    perl -MJSON::PP -0777 -e '
        my ($key, $name, $script) = @ARGV[0 .. 2];
        my $all = eval { decode_json(<STDIN>) };
        ref $all eq "HASH" or die "$script: $name is not a JSON object: ", ($@ =~ s/ at -e .*//sr || "no object"), "\n";
        my $value = $all->{$key};
        defined $value && !ref $value && length $value
            or die "$script: $name has no non-empty string for key $key\n";
        print $value' "$1" "the environment's secrets.json" "${0##*/}" <"$SECRETS" || exit 64
}
