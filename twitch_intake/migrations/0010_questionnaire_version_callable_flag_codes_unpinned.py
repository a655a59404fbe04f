"""Content changes need no migration: the questionnaire version's default is a callable
(``questionnaire.current_version``, read when a row is made), and the check that pinned the flag
codes of the day (``encounter_flags_known``) goes, so that a new rule needs no migration either.
Flags are written only by ``services``, from ``triage.flag_codes()``.
"""

from django.db import migrations, models

import twitch_intake.questionnaire


class Migration(migrations.Migration):
    dependencies = [
        ("twitch_intake", "0009_encounter_queue_rank"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="encounter",
            name="encounter_flags_known",
        ),
        migrations.AlterField(
            model_name="encounter",
            name="questionnaire_version",
            field=models.CharField(
                default=twitch_intake.questionnaire.current_version,
                max_length=16,
                verbose_name="questionnaire version",
            ),
        ),
    ]
