"""The annotator's pages without a browser: log-in by username or email, password reset by
email, log-out; query counts of the queue and annotate pages; a returned rewrite shows its
comments; the preview API."""

import re

from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from annotation.services import assignment_claim_next
from review.services import rewrite_return, rewrite_submit

from .conftest import api_for, cast_panel


def test_login_by_username_or_email_reset_by_email_and_logout(world):
    user = world.annotators[0]
    user.email = "ann1@lab.example"
    user.save(update_fields=["email"])
    client = Client()
    page = client.get("/accounts/login/").content.decode()
    assert "Forgot your password?" in page and "Sign up" not in page
    for login in [user.username, "ann1@lab.example"]:
        res = client.post("/accounts/login/", {"login": login, "password": "pw-" + user.username})
        assert res.status_code == 302, login
        client.post("/accounts/logout/")
    assert client.get("/campaigns/camp/queue/").status_code == 302  # logged out
    assert client.get("/accounts/signup/").status_code in (200, 302)
    assert "closed" in client.get("/accounts/signup/", follow=True).content.decode().lower()

    client.post("/accounts/password/reset/", {"email": "ann1@lab.example"})
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ann1@lab.example"]
    link = re.search(r"https?://[^/]+(/accounts/password/reset/key/\S+)", mail.outbox[0].body)
    res = client.get(link.group(1), follow=True)
    form_url = res.redirect_chain[-1][0] if res.redirect_chain else link.group(1)
    res = client.post(
        form_url, {"password1": "N3w-long-passphrase", "password2": "N3w-long-passphrase"}
    )
    assert res.status_code == 302
    assert Client().login(username=user.username, password="N3w-long-passphrase")


def test_an_annotator_lands_on_the_queue_and_others_on_their_campaigns(world):
    annotator = Client()
    annotator.force_login(world.annotators[0])
    assert annotator.get("/").url == "/campaigns/camp/queue/"
    curator = Client()
    curator.force_login(world.curator)
    assert curator.get("/").status_code == 200


def test_queue_and_annotate_pages_use_a_fixed_handful_of_queries(world):
    world.add_seeds(14)
    client = Client()
    client.force_login(world.annotators[0])

    def queue_queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/campaigns/camp/queue/").status_code == 200
        return len(ctx.captured_queries)

    for _ in range(3):
        assignment = world.claim()
        world.draft(assignment)
    few = queue_queries()
    for _ in range(9):
        world.draft(world.claim())
    assert queue_queries() == few <= 12

    with CaptureQueriesContext(connection) as ctx:
        page = client.get(f"/assignments/{assignment.pk}/")
    assert page.status_code == 200
    assert len(ctx.captured_queries) <= 14, [q["sql"][:80] for q in ctx.captured_queries]


def test_a_returned_rewrite_opens_with_the_reviewers_comments(world):
    world.add_seeds(1)
    rewrite = world.submitted()
    cast_panel(
        rewrite,
        ["valid", "valid", "invalid", "invalid"],
        ["", "Fine by me", "Which Python version?", "Say what the input size is."],
    )
    rewrite_return(rewrite_id=rewrite.pk, actor=world.curator, note="Please answer both.")
    client = Client()
    client.force_login(world.annotators[0])
    queue = client.get("/campaigns/camp/queue/").content.decode()
    assert "Returned to you for revision" in queue and "Which Python version?" in queue
    page = client.get(f"/assignments/{rewrite.assignment_id}/").content.decode()
    for text in ["Please answer both.", "Which Python version?", "Say what the input size is."]:
        assert text in page
    assert "revision 2" in page
    # Reviewers stay anonymous to the author.
    for reviewer in world.reviewers:
        assert reviewer.username not in page


def test_preview_api_renders_counts_and_suggests_for_members_only(world, make_world):
    client = api_for(world.annotators[0])
    res = client.post(
        "/api/v1/campaigns/camp/preview/",
        {"text": '如何在 Go 中读取文件？\n\n```go\nos.ReadFile("x")\n```\n<script>x</script>'},
        format="json",
    )
    body = res.json()
    assert res.status_code == 200
    assert "<script>" not in body["html"] and "&lt;script&gt;" in body["html"]
    assert body["suggested_languages"] == ["go"] and body["suggested_natural_language"] == "zh"
    assert body["question_tokens"] > 10 and body["tokenizer"] == "o200k_base"
    stranger = make_world(slug="elsewhere").annotators[0]
    assert (
        api_for(stranger)
        .post("/api/v1/campaigns/camp/preview/", {"text": "x"}, format="json")
        .status_code
        == 404
    )


def test_another_annotators_assignment_is_404_on_the_page(world):
    world.add_seeds(1)
    theirs = assignment_claim_next(campaign=world.campaign, actor=world.annotators[1])
    client = Client()
    client.force_login(world.annotators[0])
    assert client.get(f"/assignments/{theirs.pk}/").status_code == 404
    # One rule everywhere (core.access): a member without the page's role gets 403 with the
    # error page saying which role it needs; only non-members and other annotators get 404.
    client.force_login(world.curator)
    res = client.get(f"/assignments/{theirs.pk}/")
    assert res.status_code == 403
    assert "needs the annotator role" in res.content.decode()


# --- error pages --------------------------------------------------------------------------------

LAYOUT = '<header class="topbar">'


def test_next_seed_at_the_cap_opens_an_open_seed_or_says_to_finish_or_skip_one(make_world):
    # Changed with issue 12: Next seed first opens the oldest untouched open seed, and at the
    # cap with every open seed started it goes back to the queue saying so (the API's claim
    # stays a 409 at the cap).
    world = make_world(slug="capped", max_active_assignments=2)
    world.add_seeds(5)
    annotator = world.annotators[0]
    held = [world.claim(annotator) for _ in range(2)]
    client = Client()
    client.force_login(annotator)
    res = client.post("/campaigns/capped/next/")
    assert res.status_code == 302 and res.url == f"/assignments/{held[0].pk}/"
    for assignment in held:
        world.draft(assignment)
    res = client.post("/campaigns/capped/next/", follow=True)
    assert res.redirect_chain == [("/campaigns/capped/queue/", 302)]
    page = res.content.decode()
    assert LAYOUT in page and annotator.username in page  # the site's layout, signed in
    assert "You have 2 open seeds, the most this campaign allows; finish or skip one" in page
    # Nothing was claimed.
    assert world.campaign.assignments.filter(annotator=annotator, status="active").count() == 2
    assert api_for(annotator).post("/api/v1/campaigns/capped/assignments/next/").status_code == 409
    # Once one is done the button claims again.
    rewrite_submit(assignment_id=held[0].pk, actor=annotator)
    res = client.post("/campaigns/capped/next/")
    assert res.status_code == 302 and res.url.startswith("/assignments/")
    assert res.url not in {f"/assignments/{a.pk}/" for a in held}


def test_a_page_refused_for_the_role_is_a_403_page_naming_the_role(world):
    client = Client()
    client.force_login(world.annotators[0])
    res = client.get("/campaigns/camp/dashboard/")
    assert res.status_code == 403
    page = res.content.decode()
    assert LAYOUT in page
    assert "needs the curator role" in page and "camp" in page
    assert "Your role does not allow this" in page


def test_an_unknown_url_is_a_404_page_in_the_layout(world):
    client = Client()
    client.force_login(world.annotators[0])
    res = client.get("/no/such/page/")
    assert res.status_code == 404
    page = res.content.decode()
    assert LAYOUT in page, page[:300]
    assert "There is no such page" in page
    assert '<a href="/">' in page
    # And a page for an object that does not exist: the same layout, 404.
    res = client.get("/assignments/999999/")
    assert res.status_code == 404 and LAYOUT in res.content.decode()


def test_the_annotate_page_never_says_saved_before_its_script_has_run(world):
    """Without the script (it failed to load, or is blocked) the state says nothing is saved;
    the script replaces it once it has read the draft."""
    world.add_seeds(1)
    assignment = world.claim()
    client = Client()
    client.force_login(assignment.annotator)
    html = client.get(f"/assignments/{assignment.pk}/").content.decode()
    state = html[
        html.index('id="save-state"') : html.index("</span>", html.index('id="save-state"'))
    ]
    assert 'data-state="loading"' in state and "nothing is saved" in state
    assert "Saved" not in state
