"""The emergency alert's delivery, as the queue's task records it: when the mail server accepted
it, how many tries it took, and the last refusal (no patient data)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("twitch_intake", "0006_one_line_identity_fields"),
    ]

    operations = [
        migrations.AddField(
            model_name="encounter",
            name="alert_sent_at",
            field=models.DateTimeField(
                blank=True, editable=False, null=True, verbose_name="alert delivered"
            ),
        ),
        migrations.AddField(
            model_name="encounter",
            name="alert_attempts",
            field=models.PositiveIntegerField(
                db_default=0, default=0, editable=False, verbose_name="alert attempts"
            ),
        ),
        migrations.AddField(
            model_name="encounter",
            name="alert_last_error",
            field=models.CharField(
                blank=True,
                db_default="",
                default="",
                editable=False,
                max_length=255,
                verbose_name="last alert error",
            ),
        ),
    ]
