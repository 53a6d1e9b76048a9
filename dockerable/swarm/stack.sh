# shellcheck shell=bash
# The name of an environment's Swarm stack, one rule for swarm/deploy.sh, swarm/restore.sh and
# maintenance.sh, which source this: DOCKERABLE_STACK, else dockerable-<the environment folder's
# name>, its compose project's name (on one host, a stack finds that project's volumes). The name
# as the path gives it, as the settings module's: a symlinked folder is the environment it is
# linked as, not its target's.

# The stack of the environment whose stack file is $1 (the file exists).
stack_name() {
    local folder
    folder="$(cd "$(dirname "$1")" && pwd)"
    echo "${DOCKERABLE_STACK:-dockerable-${folder##*/}}"
}
