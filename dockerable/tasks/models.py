"""The schedules' bookkeeping: one row per job and due time, the unique pair that lets one worker queue it."""

from django.db import models


class ScheduledRun(models.Model):
    """A due time of a job in settings.TASK_SCHEDULES, queued as the task `task_id` (schedules.py)."""

    name = models.CharField(max_length=100)
    due = models.DateTimeField()
    task_id = models.UUIDField(null=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "due"], name="one_run_per_due_time")]
        ordering = ["-due"]

    def __str__(self) -> str:
        return f"{self.name} at {self.due.isoformat()}"
