#!/usr/bin/env bash
# Sourced by the postgres and backup services' scripts: the environment's secrets.json, mounted at
# /run/secrets/django.json (perl and JSON::PP ship in the postgres image; jq does not). `secret KEY`
# prints one string, `secrets KEY` each string of a list, one a line (none without the key). A
# missing or empty string, or a list that is not one of strings, ends the script with one line.
readonly SECRETS=/run/secrets/django.json

# KEY, and "list" for a list: its value, or one line and exit 64.
read_secret() {
    [[ -f "$SECRETS" ]] || {
        echo "${0##*/}: ${SECRETS} is not a file: mount the environment's secrets.json there" >&2
        exit 64
    }
    perl -MJSON::PP -0777 -e '
        my ($key, $kind, $name, $script) = @ARGV[0 .. 3];
        my $all = eval { decode_json(<STDIN>) };
        ref $all eq "HASH" or die "$script: $name is not a JSON object: ", ($@ =~ s/ at -e .*//sr || "no object"), "\n";
        my $value = $all->{$key};
        if ($kind eq "list") {
            my $list = $value // [];
            ref $list eq "ARRAY" && !grep { !defined $_ || ref $_ || !length $_ || /\n/ } @$list
                or die "$script: $name has no list of non-empty strings for key $key\n";
            print map { "$_\n" } @$list;
            exit 0;
        }
        defined $value && !ref $value && length $value
            or die "$script: $name has no non-empty string for key $key\n";
        print $value' "$1" "$2" "the environment's secrets.json" "${0##*/}" <"$SECRETS" || exit 64
}

secret() {
    read_secret "$1" string
}

secrets() {
    read_secret "$1" list
}
