"""Curators decide on the model's classification (issue 16): accept a suggestion as another
subcategory than the model's, place by hand the seeds the model could not, and find every such
decision on the seed's item page."""

from typing import Any

import pytest
from django.test import Client

from annotation.models import Event, Seed, SeedSuggestion, Subcategory
from annotation.services import seed_suggestions_accept, seeds_classify_by_hand
from core.errors import Conflict, NotFound, ValidationFailed

from .conftest import World, api_for
from .fake_openai import FakeOpenAI
from .test_assist_classify import (  # noqa: F401 - fixtures
    _fresh_limits,
    classify,
    configure,
    fake,
    first_subcategory,
    suggested,
    unclassified,
)
from .test_assist_classify import world as world  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db(transaction=True)


def another_subcategory(world: World, than: Subcategory) -> Subcategory:
    other = Subcategory.objects.filter(campaign=world.campaign).exclude(pk=than.pk).first()
    assert other is not None
    return other


def test_a_suggestion_is_accepted_as_the_subcategory_the_curator_chose(
    world: World,
    suggested: list[SeedSuggestion],  # noqa: F811 - the fixture
) -> None:
    model_choice = first_subcategory(world)
    instead = another_subcategory(world, model_choice)
    first, second = suggested[0], suggested[1]
    outcome = seed_suggestions_accept(
        campaign=world.campaign,
        actor=world.curator,
        ids=[first.pk, second.pk],
        subcategories={first.pk: instead.pk, second.pk: model_choice.pk},
    )
    assert outcome.accepted == 2
    assert Seed.objects.get(pk=first.seed_id).subcategory_id == instead.pk
    assert Seed.objects.get(pk=second.seed_id).subcategory_id == model_choice.pk
    events = {
        e.object_id: e.data
        for e in Event.objects.filter(kind="seed_suggestion.accepted").order_by("id")
    }
    assert events[first.pk]["subcategory"] == instead.name
    assert events[first.pk]["suggested"] == model_choice.name
    assert events[second.pk]["subcategory"] == model_choice.name
    assert "suggested" not in events[second.pk]  # accepted as the model said


def test_a_bad_choice_changes_nothing(
    world: World,
    suggested: list[SeedSuggestion],  # noqa: F811 - the fixture
) -> None:
    foreign = World(slug="elsewhere")
    foreign_sub = Subcategory.objects.filter(campaign=foreign.campaign).first()
    assert foreign_sub is not None
    first, second = suggested[0], suggested[1]
    for choice in ({first.pk: foreign_sub.pk}, {second.pk: first_subcategory(world).pk}):
        with pytest.raises(ValidationFailed) as caught:
            seed_suggestions_accept(
                campaign=world.campaign, actor=world.curator, ids=[first.pk], subcategories=choice
            )
        assert caught.value.details["errors"]["subcategories"]
    assert not Seed.objects.filter(pk=first.seed_id, subcategory__isnull=False).exists()
    assert SeedSuggestion.objects.get(pk=first.pk).status == "suggested"
    assert not Event.objects.filter(kind="seed_suggestion.accepted").exists()


def test_the_api_and_the_page_accept_as_another_subcategory(
    world: World,
    suggested: list[SeedSuggestion],  # noqa: F811 - the fixture
) -> None:
    model_choice = first_subcategory(world)
    instead = another_subcategory(world, model_choice)
    slug = world.campaign.slug
    api = api_for(world.curator)
    url = f"/api/v1/campaigns/{slug}/seed-suggestions/accept/"
    bad = api.post(
        url, {"ids": [suggested[0].pk], "subcategories": {"x": instead.pk}}, format="json"
    )
    assert bad.status_code == 400 and "subcategories" in bad.json()["errors"]
    done = api.post(
        url,
        {"ids": [suggested[0].pk], "subcategories": {str(suggested[0].pk): instead.pk}},
        format="json",
    )
    assert done.status_code == 200, done.content
    assert Seed.objects.get(pk=suggested[0].seed_id).subcategory_id == instead.pk

    page = Client()
    page.force_login(world.curator)
    here = f"/campaigns/{slug}/seeds/classification/"
    shown = page.get(here).content.decode()
    assert f'name="subcategory-{suggested[1].pk}"' in shown
    row = suggested[1]
    response = page.post(here, {"accept_one": row.pk, f"subcategory-{row.pk}": instead.pk})
    assert response.status_code == 302
    assert Seed.objects.get(pk=row.seed_id).subcategory_id == instead.pk
    # The seed's item page tells the story: suggested, then accepted as the curator chose.
    item = page.get(f"/campaigns/{slug}/items/{row.seed_id}/").content.decode()
    assert "Suggested subcategory accepted" in item
    assert f"{instead.name}, chosen instead of the model&#x27;s {model_choice.name}" in item


def test_seeds_the_model_could_not_place_are_set_by_hand(world: World, fake: FakeOpenAI) -> None:  # noqa: F811
    seeds = unclassified(world, 2)
    configure(world, fake)
    fake.answers["classify"] = "<subcategory>Not in the taxonomy</subcategory>"
    classify(world)
    assert set(SeedSuggestion.objects.values_list("status", flat=True)) == {"unclassified"}
    sub = first_subcategory(world)
    page = Client()
    page.force_login(world.curator)
    here = f"/campaigns/{world.campaign.slug}/seeds/classification/"
    shown = page.get(here).content.decode()
    assert f'name="seed-subcategory-{seeds[0].pk}"' in shown
    empty = page.post(here, {"classify_one": seeds[0].pk})
    assert empty.status_code == 400
    response = page.post(
        here, {"classify_one": seeds[0].pk, f"seed-subcategory-{seeds[0].pk}": sub.pk}
    )
    assert response.status_code == 302
    assert Seed.objects.get(pk=seeds[0].pk).subcategory_id == sub.pk
    event = Event.objects.get(kind="seed.classified")
    assert (event.object_type, event.object_id, event.actor_id) == (
        "seed",
        seeds[0].pk,
        world.curator.pk,
    )
    assert event.data["subcategory"] == sub.name
    item = page.get(f"/campaigns/{world.campaign.slug}/items/{seeds[0].pk}/").content.decode()
    assert "Subcategory set by a curator" in item

    # All or nothing: a seed placed already, a foreign seed, an unknown subcategory.
    with pytest.raises(Conflict):
        seeds_classify_by_hand(
            campaign=world.campaign,
            actor=world.curator,
            choices={seeds[0].pk: sub.pk, seeds[1].pk: sub.pk},
        )
    with pytest.raises(NotFound):
        seeds_classify_by_hand(
            campaign=world.campaign, actor=world.curator, choices={10**9: sub.pk}
        )
    with pytest.raises(ValidationFailed):
        seeds_classify_by_hand(
            campaign=world.campaign, actor=world.curator, choices={seeds[1].pk: 10**9}
        )
    assert Seed.objects.get(pk=seeds[1].pk).subcategory_id is None
    assert Event.objects.filter(kind="seed.classified").count() == 1


def test_only_curators_place_seeds(world: World, fake: FakeOpenAI) -> None:  # noqa: F811
    seeds = unclassified(world, 1)
    sub = first_subcategory(world)
    annotator: Any = world.annotators[0]
    with pytest.raises(Exception) as caught:
        seeds_classify_by_hand(
            campaign=world.campaign, actor=annotator, choices={seeds[0].pk: sub.pk}
        )
    assert type(caught.value).__name__ in {"NotAllowed", "NotFound"}
    assert Seed.objects.get(pk=seeds[0].pk).subcategory_id is None
