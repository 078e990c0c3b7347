"""An annotator's open assignments as an index, read a page at a time in id order by the queue
page (issue 18). Index only: no data changes."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0013_claim_queue"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="assignment",
            index=models.Index(
                condition=models.Q(("status", "active")),
                fields=["campaign", "annotator", "id"],
                name="assignment_active_queue",
            ),
        ),
    ]
