"""Background tasks: the worker that runs the queue django-tasks-db keeps in PostgreSQL (docs/tasks.md)."""
