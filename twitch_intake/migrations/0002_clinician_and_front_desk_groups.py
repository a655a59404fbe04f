"""The two staff roles, so a clinic only has to put people in them.

Clinicians read encounters with their answers and summaries and mark them reviewed. The front
desk creates encounters and patient links but never sees answers or summaries.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CLINICIANS = "Clinicians"
FRONT_DESK = "Front desk"

ROLES = {
    CLINICIANS: ["view_encounter", "view_summary", "review_encounter"],
    FRONT_DESK: ["view_encounter", "add_encounter", "change_encounter", "issue_link"],
}


def create_groups(apps, schema_editor):
    # Permissions are normally made after all migrations; make ours now so the groups can hold them.
    app_config = apps.get_app_config("twitch_intake")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(
            Permission.objects.filter(
                content_type__app_label="twitch_intake", codename__in=codenames
            )
        )


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("twitch_intake", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
