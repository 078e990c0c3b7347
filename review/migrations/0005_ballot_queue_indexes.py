"""The reviewer queues as indexes: pending ballots oldest first (also each reviewer's load when
a panel is chosen), every ballot of a reviewer by age, and cast ballots newest first (issue 18).
Indexes only: no data changes."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0013_claim_queue"),
        ("review", "0004_stats_snapshot"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="ballot",
            index=models.Index(
                condition=models.Q(("status", "pending")),
                fields=["campaign", "reviewer", "created_at", "id"],
                name="ballot_pending_queue",
            ),
        ),
        migrations.AddIndex(
            model_name="ballot",
            index=models.Index(
                fields=["campaign", "reviewer", "created_at", "id"],
                name="ballot_reviewer_created",
            ),
        ),
        migrations.AddIndex(
            model_name="ballot",
            index=models.Index(
                condition=models.Q(("status", "cast")),
                fields=["campaign", "reviewer", "cast_at", "id"],
                name="ballot_cast_recent",
            ),
        ),
    ]
