"""Names and record numbers are one line of visible text (issue 13, finding 10).

Validators only: no column changes, and existing rows are not rewritten (the text summary quotes
whatever is stored).
"""

from django.db import migrations, models

import twitch_intake.validators


class Migration(migrations.Migration):
    dependencies = [
        ("twitch_intake", "0005_access_log_protection_and_date_ranges"),
    ]

    operations = [
        migrations.AlterField(
            model_name="encounter",
            name="patient_name",
            field=models.CharField(
                max_length=200,
                validators=[twitch_intake.validators.validate_one_line],
                verbose_name="patient name",
            ),
        ),
        migrations.AlterField(
            model_name="encounter",
            name="record_number",
            field=models.CharField(
                blank=True,
                help_text="The clinic's own patient number, if any.",
                max_length=64,
                validators=[twitch_intake.validators.validate_one_line],
                verbose_name="record number",
            ),
        ),
    ]
