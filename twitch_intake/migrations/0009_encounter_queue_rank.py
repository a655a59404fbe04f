"""The clinician's queue in an explicit order: queue_rank (level by triage's rank, unreviewed first)
read from an index for the whole queue and for the unreviewed one; plain visit order by default.
"""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("twitch_intake", "0008_access_event_patient_openings"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="encounter",
            options={
                "ordering": ["visit_at"],
                "permissions": [
                    ("view_summary", "Can view a patient's answers and summary"),
                    ("review_encounter", "Can mark an encounter reviewed"),
                    ("issue_link", "Can make a patient's intake link"),
                ],
                "verbose_name": "encounter",
                "verbose_name_plural": "encounters",
            },
        ),
        migrations.RemoveIndex(
            model_name="encounter",
            name="encounter_unreviewed_queue",
        ),
        migrations.AddIndex(
            model_name="encounter",
            index=models.Index(
                models.Case(
                    models.When(level="emergency", status="submitted", then=models.Value(0)),
                    models.When(level="emergency", status="reviewed", then=models.Value(1)),
                    models.When(level="priority", status="submitted", then=models.Value(2)),
                    models.When(level="priority", status="reviewed", then=models.Value(3)),
                    models.When(level="routine", status="submitted", then=models.Value(4)),
                    models.When(level="routine", status="reviewed", then=models.Value(5)),
                    default=models.Value(6),
                    output_field=models.PositiveSmallIntegerField(),
                ),
                models.OrderBy(models.F("flag_count"), descending=True),
                models.F("visit_at"),
                name="encounter_queue",
            ),
        ),
        migrations.AddIndex(
            model_name="encounter",
            index=models.Index(
                models.Case(
                    models.When(level="emergency", status="submitted", then=models.Value(0)),
                    models.When(level="emergency", status="reviewed", then=models.Value(1)),
                    models.When(level="priority", status="submitted", then=models.Value(2)),
                    models.When(level="priority", status="reviewed", then=models.Value(3)),
                    models.When(level="routine", status="submitted", then=models.Value(4)),
                    models.When(level="routine", status="reviewed", then=models.Value(5)),
                    default=models.Value(6),
                    output_field=models.PositiveSmallIntegerField(),
                ),
                models.OrderBy(models.F("flag_count"), descending=True),
                models.F("visit_at"),
                condition=models.Q(("status", "submitted")),
                name="encounter_unreviewed_queue",
            ),
        ),
    ]
