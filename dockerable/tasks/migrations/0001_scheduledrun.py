"""dockerable_tasks_scheduledrun: one row per job and due time (dockerable/tasks/schedules.py)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="ScheduledRun",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100)),
                ("due", models.DateTimeField()),
                ("task_id", models.UUIDField(null=True)),
                ("created", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "ordering": ["-due"],
                "constraints": [models.UniqueConstraint(fields=("name", "due"), name="one_run_per_due_time")],
            },
        ),
    ]
