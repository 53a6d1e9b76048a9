"""Error reports to Sentry, or to any service that takes its protocol, when secrets.json names a
SENTRY_DSN: unhandled exceptions of views and tasks, with the request id, and no personal data."""

import os

from dockerable.runtime import request_id


def _with_request_id(event, hint):  # pylint: disable=unused-argument
    """The request id as a tag, so that a report leads to the log lines of its request."""
    current = request_id.current()
    if current:
        event.setdefault("tags", {})["request_id"] = current
    return event


def error_reports(secrets, environment: str) -> bool:
    """Start reporting if `secrets` has a SENTRY_DSN; whether it does. The release is the image's
    tag a deploy gave it (DOCKERABLE_RELEASE: a bundle's or a Swarm release's), else the SDK's guess."""
    dsn = secrets.get("SENTRY_DSN", "")
    if not dsn:
        return False
    # Only here: a process of an environment with no DSN never loads the SDK.
    import sentry_sdk  # pylint: disable=import-outside-toplevel

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=os.environ.get("DOCKERABLE_RELEASE") or None,
        # No personal data: no user, no client address, no cookie, no request body (a password
        # form's), no query's values, no local variables (a view's may hold a password); headers
        # but those the SDK's denylist names (Authorization among them). Errors only, no traces.
        data_collection={
            "user_info": False,
            "cookies": {"mode": "off"},
            "http_headers": {"request": {"mode": "denylist"}},
            "http_bodies": [],
            "url_query_params": {"mode": "off"},
            "database_query_data": False,
            "stack_frame_variables": False,
        },
        traces_sample_rate=None,
        before_send=_with_request_id,
    )
    return True
