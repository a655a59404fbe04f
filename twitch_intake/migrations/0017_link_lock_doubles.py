"""Each lock of a link after wrong dates of birth lasts twice the one before, up to a day.

The count of locks since the date was last given right; a column with a constant default, so
adding it rewrites no row.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("twitch_intake", "0016_search_indexes")]

    operations = [
        migrations.AddField(
            model_name="encounter",
            name="dob_lockouts",
            field=models.PositiveSmallIntegerField(db_default=0, default=0, editable=False),
        ),
    ]
