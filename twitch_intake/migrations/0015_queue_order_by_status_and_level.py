"""The queue filtered by status or by level, read in its order from an index (issue #20).

At a million encounters a page of a rare status ("invited") or level ("routine", none yet) read
most of ``encounter_queue`` to find its 50 rows: seconds. Built concurrently, so that a clinic
with a large table keeps taking intakes while they are made.
"""

from django.conf import settings
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("twitch_intake", "0014_encounter_contact_and_patient_messages"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="encounter",
            index=models.Index(
                models.F("status"),
                models.Case(
                    models.When(
                        models.Q(
                            ("emergency_acknowledged_at__isnull", True),
                            ("level", "emergency"),
                            ("status__in", ("invited", "in_progress", "submitted")),
                        ),
                        then=models.Value(0),
                    ),
                    models.When(level="emergency", then=models.Value(1)),
                    models.When(level="priority", status="submitted", then=models.Value(2)),
                    models.When(level="priority", status="reviewed", then=models.Value(3)),
                    models.When(level="routine", status="submitted", then=models.Value(4)),
                    models.When(level="routine", status="reviewed", then=models.Value(5)),
                    default=models.Value(6),
                    output_field=models.PositiveSmallIntegerField(),
                ),
                models.OrderBy(models.F("red_flag_count"), descending=True),
                models.F("visit_at"),
                name="encounter_status_queue",
            ),
        ),
        AddIndexConcurrently(
            model_name="encounter",
            index=models.Index(
                models.F("level"),
                models.Case(
                    models.When(
                        models.Q(
                            ("emergency_acknowledged_at__isnull", True),
                            ("level", "emergency"),
                            ("status__in", ("invited", "in_progress", "submitted")),
                        ),
                        then=models.Value(0),
                    ),
                    models.When(level="emergency", then=models.Value(1)),
                    models.When(level="priority", status="submitted", then=models.Value(2)),
                    models.When(level="priority", status="reviewed", then=models.Value(3)),
                    models.When(level="routine", status="submitted", then=models.Value(4)),
                    models.When(level="routine", status="reviewed", then=models.Value(5)),
                    default=models.Value(6),
                    output_field=models.PositiveSmallIntegerField(),
                ),
                models.OrderBy(models.F("red_flag_count"), descending=True),
                models.F("visit_at"),
                name="encounter_level_queue",
            ),
        ),
        AddIndexConcurrently(
            model_name="encounter",
            index=models.Index(
                models.Case(
                    models.When(
                        models.Q(
                            ("emergency_acknowledged_at__isnull", True),
                            ("level", "emergency"),
                            ("status__in", ("invited", "in_progress", "submitted")),
                        ),
                        then=models.Value(0),
                    ),
                    models.When(level="emergency", then=models.Value(1)),
                    models.When(level="priority", status="submitted", then=models.Value(2)),
                    models.When(level="priority", status="reviewed", then=models.Value(3)),
                    models.When(level="routine", status="submitted", then=models.Value(4)),
                    models.When(level="routine", status="reviewed", then=models.Value(5)),
                    default=models.Value(6),
                    output_field=models.PositiveSmallIntegerField(),
                ),
                models.OrderBy(models.F("red_flag_count"), descending=True),
                models.F("visit_at"),
                condition=models.Q(("level__isnull", True)),
                name="encounter_unassessed_queue",
            ),
        ),
    ]
