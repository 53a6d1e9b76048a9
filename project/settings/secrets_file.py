"""Kept for environment settings made before the loader moved into dockerable/: re-exports it."""

from dockerable.runtime.environment import SECRETS_FILE_VARIABLE, Secrets, load_secrets, secrets_path

__all__ = ["SECRETS_FILE_VARIABLE", "Secrets", "load_secrets", "secrets_path"]
