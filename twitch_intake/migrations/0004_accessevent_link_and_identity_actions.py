"""Two more kinds of access event: a patient link issued, and an identity changed after
submission (issue 13, findings 2 and 11). Choices only: no change to the table."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("twitch_intake", "0003_rate_limit_counter"),
    ]

    operations = [
        migrations.AlterField(
            model_name="accessevent",
            name="action",
            field=models.CharField(
                choices=[
                    ("view", "Viewed the summary"),
                    ("print", "Opened the print view"),
                    ("text", "Opened the text view"),
                    ("export", "Exported FHIR"),
                    ("link", "Issued a patient link"),
                    ("identity", "Changed the patient's identity after submission"),
                ],
                max_length=16,
                verbose_name="action",
            ),
        ),
    ]
