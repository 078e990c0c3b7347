"""Property-based API testing with schemathesis: every operation of the published OpenAPI schema,
called in-process (WSGI) with generated valid and invalid input, as each role of a seeded
campaign (curator, annotator, reviewer, and a member of another campaign), with every check
schemathesis has: no 5xx, only documented status codes, content types and headers, bodies that
match the schema, invalid input rejected, missing auth refused, unsupported methods 405.

Seeded and derandomized, so a run is repeatable; the assertion at the end proves the volume
(>= 2,000 generated requests over the roles). Marked ``schemathesis``: deselect with
``-m "not schemathesis"``.

One allowance, stated here: ``positive_data_acceptance`` also accepts 400 for schema-valid
input. The schema describes shapes, not the campaign's state: "a member called '0'", "a release
whose baseline model has answers", "a file that is JSONL" are valid JSON Schema and still
refused, with a 400 that names the field."""

from collections import Counter
from typing import Any

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core import signals
from django.db import close_old_connections, transaction
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token
from schemathesis.config import SchemathesisConfig

from config.wsgi import application

from .conftest import World, cast_panel

pytestmark = pytest.mark.schemathesis

SEED = 20_170_017
MIN_REQUESTS = 2_000


def _config(*, coverage: bool, max_examples: int) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "suppress-health-check": ["all"],
            # Every path of a campaign names the seeded one (random slugs would all be 404s).
            "parameters": {"slug": "camp"},
            "generation": {
                "mode": "all",
                "max-examples": max_examples,
                "deterministic": True,
                "database": "none",
            },
            "phases": {"coverage": {"enabled": coverage}},
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "429"]
                },
            },
        }
    )


def _schema(config: SchemathesisConfig) -> Any:
    schema = schemathesis.openapi.from_dict(
        SchemaGenerator().get_schema(request=None, public=True), config=config
    )
    schema.app = application
    return schema


# The curator reaches every operation: the coverage phase (every boundary and every kind of
# invalid value of every parameter, deterministically) plus fuzzing. The other roles are
# mostly refused early: fuzzing alone.
CURATOR_SCHEMA = _schema(_config(coverage=True, max_examples=3))
ROLES_SCHEMA = _schema(_config(coverage=False, max_examples=8))

SEEN: Counter[str] = Counter()


def _world() -> World:
    """A campaign with sampled seeds, an accepted rewrite in a finished release, a rewrite
    under review, an active draft, and a second campaign for the outsider."""
    world = World()
    world.add_seeds(8)
    accepted = world.submitted(world.annotators[1])
    cast_panel(accepted, ["valid", "valid", "valid", "valid"])
    world.submitted(world.annotators[2])
    world.draft(world.claim(world.annotators[0]))
    return world


@pytest.fixture(scope="module")
def tokens(django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: Any) -> Any:
    """One world for the whole module, in a transaction rolled back at its end; each test runs
    in a savepoint inside it (pytest-django's ``db``), so no test sees another's changes."""
    # The WSGI app runs in this thread, on this connection: it must not close it after each
    # request (Django's test client disconnects the same handlers).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield from _world_tokens(django_db_blocker)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _world_tokens(django_db_blocker: Any) -> Any:
    with django_db_blocker.unblock(), transaction.atomic():
        world = _world()
        users = {
            "curator": world.curator,
            "annotator": world.annotators[0],
            "reviewer": world.reviewers[0],
            "outsider": World(slug="other").curator,
        }
        yield {role: Token.objects.get_or_create(user=user)[0].key for role, user in users.items()}
        transaction.set_rollback(True)


@pytest.fixture
def curator_auth(tokens: dict[str, str], db: Any, settings: Any, tmp_path: Any) -> Any:
    settings.RELEASES_DIR = tmp_path
    return {"Authorization": f"Token {tokens['curator']}"}


@pytest.fixture(params=["annotator", "reviewer", "outsider"])
def role_auth(request: Any, tokens: dict[str, str], db: Any, settings: Any, tmp_path: Any) -> Any:
    settings.RELEASES_DIR = tmp_path
    return {"Authorization": f"Token {tokens[request.param]}"}


def _call(case: Any, auth: dict[str, str]) -> None:
    response = case.call_and_validate(headers=auth)
    SEEN["requests"] += 1
    SEEN[str(response.status_code)] += 1


@CURATOR_SCHEMA.parametrize()
def test_api_as_curator(case: Any, curator_auth: dict[str, str]) -> None:
    _call(case, curator_auth)


@ROLES_SCHEMA.parametrize()
def test_api_as_other_roles(case: Any, role_auth: dict[str, str]) -> None:
    _call(case, role_auth)


def test_zz_the_run_was_big_enough(request: Any) -> None:
    """Runs after the generated tests (file order): the volume they sent, when all of them ran
    (skipped when some were deselected)."""
    generated = [
        item
        for item in request.session.items
        if item.module is request.module and item.name.startswith("test_api_")
    ]
    operations = sum(1 for _ in CURATOR_SCHEMA.get_all_operations())
    if len(generated) < 4 * operations:  # the curator and three other roles
        pytest.skip("only part of the generated tests ran in this session")
    assert SEEN["requests"] >= MIN_REQUESTS, dict(SEEN)
    assert SEEN["500"] == 0
    assert django_settings.REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] == "core.openapi.AutoSchema"
