"""The files the stack's secrets and configs are made from, read from Compose's model of the stack.

deploy.sh pipes `docker compose config --format json` of stack.yml and the environment's
docker-stack.yml into this (run by the release image's Python: a manager may have no other) and
reads one line per secret or config: the variable its name takes the content's hash from
(HASH_ and its key, upper case, `-` as `_`), a tab, the file. The standard library only.
"""

import json
import sys


def hash_variable(key: str) -> str:
    """The variable stack.yml names a secret or config `key` with: `${STACK}_<key>-${HASH_<KEY>}`."""
    return "HASH_" + key.upper().replace("-", "_")


def lines(model: dict) -> list[str]:
    """`HASH_<KEY>\\tFILE` for each secret and config that is made from a file."""
    found = []
    for kind in ("secrets", "configs"):
        for key, spec in sorted((model.get(kind) or {}).items()):
            if isinstance(spec, dict) and spec.get("file"):
                found.append(f"{hash_variable(key)}\t{spec['file']}")
    return found


def main() -> int:
    """Compose's JSON model on stdin; the lines out, or one line and exit 1 for anything else."""
    try:
        model = json.load(sys.stdin)
    except json.JSONDecodeError as exc:
        print(f"not Compose's JSON model of the stack: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines(model)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
