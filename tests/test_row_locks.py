"""Row locks never block foreign-key checks (found by the soak: `make soak`).

Django creates PostgreSQL foreign keys DEFERRABLE INITIALLY DEFERRED, so an insert checks its
references at COMMIT with ``FOR KEY SHARE`` on the referenced rows. A plain ``FOR UPDATE``
conflicts with that lock: a vote holding ``FOR UPDATE`` on its rewrite and inserting an Event
(which references the campaign) deadlocked at commit with a job holding ``FOR UPDATE`` on the
campaign and inserting flags that reference the rewrite (3 of 2,205 votes answered 503 in a
soak). Our locks only serialise writers of a row and never change its key, so they are all
``FOR NO KEY UPDATE`` (``select_for_update(no_key=True)``), which FK checks pass."""

import re
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, connections, transaction

from annotation.models import Campaign, Event
from review.models import Ballot
from review.services import ballot_cast

APPS = ("core", "annotation", "quality", "review", "exports", "browser")


def test_every_row_lock_lets_foreign_key_checks_through():
    plain = []
    for app in APPS:
        for path in (Path(settings.BASE_DIR) / app).rglob("*.py"):
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if re.search(r"select_for_update\((?![^)]*no_key=True)", line):
                    plain.append(f"{path.relative_to(settings.BASE_DIR)}:{number}: {line.strip()}")
    assert not plain, "use select_for_update(no_key=True):\n" + "\n".join(plain)


@pytest.mark.postgres
def test_a_vote_commits_while_another_transaction_holds_the_campaign_row(
    postgres, make_world, transactional_db
):
    """The shape of the soak's deadlock: another transaction locks the campaign row for its
    own update (as the campaign-wide jobs do) while a reviewer votes; the vote's Event must
    not wait for it."""
    world = make_world(slug="locks")
    world.add_seeds(1)
    rewrite = world.submitted()
    ballot = Ballot.objects.filter(rewrite=rewrite).order_by("pk").first()
    locked, release = threading.Event(), threading.Event()

    def hold_campaign() -> None:
        try:
            with transaction.atomic():
                Campaign.objects.select_for_update(no_key=True).get(pk=world.campaign.pk)
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_campaign)
    holder.start()
    try:
        assert locked.wait(10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '3s'")
        try:
            ballot_cast(ballot_id=ballot.pk, actor=ballot.reviewer, decision="valid")
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = 0")
    finally:
        release.set()
        holder.join(10)
    assert Event.objects.filter(kind="ballot.cast", object_id=ballot.pk).count() == 1
