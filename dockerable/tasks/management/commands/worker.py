"""`manage.py worker`: runs the task queue (the worker service's command, docs/tasks.md)."""

import os
import socket

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, run_with_reloader
from django.utils.crypto import get_random_string
from django_tasks_db.management.commands import db_worker

from dockerable.tasks.schedules import schedules
from dockerable.tasks.worker import Worker


def worker_id() -> str:
    """The container's name (its hostname) and a random part: unique, and says where a task ran."""
    return f"{socket.gethostname()[:40]}-{get_random_string(12)}"


class Command(db_worker.Command):
    """django-tasks-db's db_worker, whose tasks come back to the queue when their worker dies."""

    help = "Run the background worker: every queue unless --queue-name says otherwise"

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        # Every queue: a task sent to a queue no worker names would otherwise wait forever, unseen.
        parser.set_defaults(queue_name="*", worker_id=worker_id())

    def handle(self, *args, **options) -> None:  # pylint: disable=arguments-differ
        self.configure_logging(options["verbosity"])
        try:
            schedules()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        worker = Worker(
            queue_names=options["queue_name"].split(","),
            interval=options["interval"],
            batch=options["batch"],
            backend_name=options["backend_name"],
            startup_delay=options["startup_delay"],
            max_tasks=options["max_tasks"],
            worker_id=options["worker_id"],
        )
        if options["reload"] and not options["batch"]:
            # The reloader's child runs the loop; only it answers SIGTERM (as db_worker does).
            if os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
                worker.configure_signals()
            run_with_reloader(worker.run)
        else:
            worker.configure_signals()
            worker.run()
