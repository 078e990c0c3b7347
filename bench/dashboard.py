"""Reading a campaign at the paper's scale: 2,000 seeds, each rewritten and reviewed by four
(8,000 ballots), written in bulk (``tests/scale.py``). Times the curator's dashboard (data and
the whole page), the stats API, a chart's CSV, the reviewer's queue and the vote page, with their
query counts, and writes bench/results/dashboard-<vendor>.json. Run by `make bench`."""

import harness

ROOT = harness.ROOT
harness.configure(ROOT / "bench" / "bench-dashboard.sqlite3")

from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402
from harness import fresh_database, timed, write_results  # noqa: E402

from annotation.services import campaign_create, user_ensure  # noqa: E402
from review.dashboard import campaign_overview  # noqa: E402
from review.models import Ballot  # noqa: E402
from review.services import membership_add  # noqa: E402
from tests.scale import populate_reviewed  # noqa: E402


def main() -> None:
    fresh_database()
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    campaign = campaign_create(slug="scale", name="Scale")
    curator = user_ensure(username="curator")
    membership_add(campaign=campaign, user=curator, role="curator")
    annotators = [user_ensure(username=f"ann{i}") for i in range(4)]
    reviewers = [user_ensure(username=f"rev{i}") for i in range(4)]
    for user in annotators:
        membership_add(campaign=campaign, user=user, role="annotator")
    for user in reviewers:
        membership_add(campaign=campaign, user=user, role="reviewer")
    results: dict = {}
    timed(
        results,
        "populate_2000_seeds_8000_ballots",
        lambda: populate_reviewed(campaign, annotators=annotators, reviewers=reviewers, seeds=2000),
        count=2000,
    )
    assert Ballot.objects.filter(campaign=campaign).count() == 8000
    timed(results, "campaign_overview", lambda: campaign_overview(campaign))

    def get(client: Client, url: str) -> None:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)

    curator_client = Client()
    curator_client.force_login(curator)
    curator_client.get("/")  # session warm-up, not measured
    timed(results, "dashboard_page", lambda: get(curator_client, "/campaigns/scale/dashboard/"))
    timed(results, "stats_api", lambda: get(curator_client, "/api/v1/campaigns/scale/stats/"))
    timed(
        results,
        "dashboard_chart_csv",
        lambda: get(curator_client, "/campaigns/scale/dashboard/progress.csv"),
    )
    reviewer_client = Client()
    reviewer_client.force_login(reviewers[0])
    reviewer_client.get("/")  # session warm-up (a reviewer lands on their ballots)
    pending = Ballot.objects.filter(reviewer=reviewers[0], status="pending").first()
    timed(results, "ballot_queue_page", lambda: get(reviewer_client, "/campaigns/scale/ballots/"))
    timed(results, "vote_page", lambda: get(reviewer_client, f"/ballots/{pending.pk}/"))
    write_results("dashboard", {"seeds": 2000, "ballots": 8000, "results": results})


if __name__ == "__main__":
    main()
