"""The files the stack's secrets and configs are made from, read from Compose's model of the stack.

deploy.sh pipes `docker compose config --format json` of stack.yml and the environment's
docker-stack.yml into this (run by the release image's Python: a manager may have no other) and
reads one line per secret or config: the variable its name takes the content's hash from
(HASH_ and its key, upper case, `-` as `_`), a tab, the file. A model Swarm must not run (a mount
for uploads) is refused first, in one line. The standard library only.
"""

import json
import sys

# Django's MEDIA_ROOT (project/settings/base.py; a test keeps them equal).
MEDIA_ROOT = "/srv/media"


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


def refusal(model: dict) -> str:
    """Why Swarm must not run the stack, or "": a mount for uploads holds one node's files, which
    tasks on other nodes cannot serve (checkenv says the same)."""
    for name, service in sorted((model.get("services") or {}).items()):
        for mount in service.get("volumes") or []:
            if isinstance(mount, dict) and mount.get("target") == MEDIA_ROOT:
                return (
                    f"service {name} mounts a {mount.get('type', 'volume')} at {MEDIA_ROOT}: each node would "
                    "keep its own uploads, which app tasks on other nodes cannot serve; name a "
                    "MEDIA_S3_BUCKET in secrets.json instead (docs/media.md)"
                )
    return ""


def main() -> int:
    """Compose's JSON model on stdin; the lines out, or one line and exit 1 for anything else."""
    try:
        model = json.load(sys.stdin)
    except json.JSONDecodeError as exc:
        print(f"not Compose's JSON model of the stack: {exc}", file=sys.stderr)
        return 1
    refused = refusal(model)
    if refused:
        print(refused, file=sys.stderr)
        return 1
    print("\n".join(lines(model)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
