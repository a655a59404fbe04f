"""Acknowledging an emergency; the queue ranks emergencies not yet submitted and sorts by red
flags.

Clinicians get the new ``acknowledge_emergency`` permission. ``red_flag_count`` (the queue's
second key: context flags never raise rank) is filled in for the rows already stored, from
their stored flags and the rules of the day; ``manage.py twitch_intake_retriage`` keeps it in
line after a rule change, as it does the level and flags.
"""

import django.db.models.deletion
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.db import migrations, models

CLINICIANS = "Clinicians"
PERMISSION = "acknowledge_emergency"


def grant_acknowledge(apps, schema_editor):
    app_config = apps.get_app_config("twitch_intake")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=CLINICIANS)
    group.permissions.add(
        Permission.objects.get(content_type__app_label="twitch_intake", codename=PERMISSION)
    )


def revoke_acknowledge(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(content_type__app_label="twitch_intake", codename=PERMISSION).delete()


def count_red_flags(apps, schema_editor):
    from twitch_intake import triage

    red = sorted(rule.code for rule in triage.rules() if rule.is_red)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "UPDATE twitch_intake_encounter SET red_flag_count = "
            "(SELECT count(*) FROM unnest(flags) AS code WHERE code = ANY(%s))",
            [red],
        )


class Migration(migrations.Migration):
    dependencies = [
        ("twitch_intake", "0011_encounter_answer_history_append_only_emergency_reported_at"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
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
                    ("acknowledge_emergency", "Can acknowledge an emergency"),
                ],
                "verbose_name": "encounter",
                "verbose_name_plural": "encounters",
            },
        ),
        migrations.RemoveIndex(
            model_name="encounter",
            name="encounter_queue",
        ),
        migrations.RemoveIndex(
            model_name="encounter",
            name="encounter_unreviewed_queue",
        ),
        migrations.AddField(
            model_name="encounter",
            name="emergency_acknowledged_at",
            field=models.DateTimeField(
                blank=True, editable=False, null=True, verbose_name="emergency acknowledged"
            ),
        ),
        migrations.AddField(
            model_name="encounter",
            name="emergency_acknowledged_by",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="emergency acknowledged by",
            ),
        ),
        migrations.AddField(
            model_name="encounter",
            name="emergency_acknowledgement",
            field=models.CharField(
                blank=True,
                choices=[
                    ("contacted", "Patient contacted"),
                    ("in_care", "Already being cared for"),
                    ("something_else", "Other (see the note)"),
                ],
                db_default="",
                default="",
                editable=False,
                max_length=16,
                verbose_name="acknowledgement",
            ),
        ),
        migrations.AddField(
            model_name="encounter",
            name="emergency_acknowledgement_note",
            field=models.TextField(
                blank=True,
                db_default="",
                default="",
                editable=False,
                verbose_name="acknowledgement note",
            ),
        ),
        migrations.AddField(
            model_name="encounter",
            name="red_flag_count",
            field=models.PositiveSmallIntegerField(
                db_default=0, default=0, verbose_name="red flag count"
            ),
        ),
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
                    ("acknowledge", "Acknowledged an emergency"),
                    ("patient", "Opened with the patient's link"),
                ],
                max_length=16,
                verbose_name="action",
            ),
        ),
        migrations.AddIndex(
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
                name="encounter_queue",
            ),
        ),
        migrations.AddIndex(
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
                condition=models.Q(("status", "submitted")),
                name="encounter_unreviewed_queue",
            ),
        ),
        migrations.AddConstraint(
            model_name="encounter",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("emergency_acknowledged_at__isnull", True),
                        ("emergency_acknowledgement", ""),
                    ),
                    models.Q(
                        ("emergency_acknowledged_at__isnull", False),
                        (
                            "emergency_acknowledgement__in",
                            ["contacted", "in_care", "something_else"],
                        ),
                    ),
                    _connector="OR",
                ),
                name="encounter_acknowledgement_complete",
            ),
        ),
        migrations.AddIndex(
            model_name="encounter",
            index=models.Index(
                condition=models.Q(
                    ("alert_sent_at__isnull", True),
                    models.Q(("alert_last_error", ""), _negated=True),
                ),
                fields=["alerted_at"],
                name="encounter_alert_failed",
            ),
        ),
        migrations.AddIndex(
            model_name="encounter",
            index=models.Index(
                condition=models.Q(
                    ("emergency_acknowledged_at__isnull", True), ("level", "emergency")
                ),
                fields=["status"],
                name="encounter_awaiting_emergency",
            ),
        ),
        migrations.RunPython(count_red_flags, migrations.RunPython.noop),
        migrations.RunPython(grant_acknowledge, revoke_acknowledge),
    ]
