"""The one access check: who may see or change what, decided by campaign membership.

Every selector and service asks here, and one rule holds everywhere:

1. an object that does not exist, or that belongs to a campaign the actor is not a member of,
   is ``NotFound``: a foreign object looks exactly like a missing one (404);
2. a member without the role the operation needs gets ``NotAllowed`` (403);
3. an object owned by someone else (another annotator's assignment, another reviewer's ballot)
   is ``NotFound`` too, unless the actor holds a role that sees everyone's (``or_role``).

The roles come from the membership model named by ``settings.CURATION_MEMBERSHIP_MODEL`` (the
``AUTH_USER_MODEL`` pattern: core sits below the app that defines memberships and never imports
it). Inside a request (``AccessScopeMiddleware``) a user's roles in every campaign are read once,
in one query, and reused by the selector and the service that follow; outside one (commands,
Celery tasks, tests calling services) every check reads the database, so a membership removed a
moment ago always counts. Services that change memberships call ``forget``.

A curator may *view as* a member of their campaign (``core.view_as``): for that request the
page sees the member as ``request.user``, and ``viewing`` narrows every check of this module to
that one campaign, so the member's other campaigns look like missing ones (404) to whoever is
looking, operator or not. The middleware refuses every unsafe request while viewing (except
stopping it and logging out): the view is read-only."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from django.apps import apps
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from . import logs
from .errors import NotAllowed, NotFound

RolesByCampaign = dict[int, frozenset[str]]
T = TypeVar("T")

_scope: ContextVar[dict[int, RolesByCampaign] | None] = ContextVar("access_scope", default=None)


@dataclass(frozen=True)
class Viewing:
    """A curator (``viewer``) looking at ``campaign`` as ``member`` sees it: read-only."""

    viewer: Any
    member: Any
    campaign: Any


_viewing: ContextVar[Viewing | None] = ContextVar("access_viewing", default=None)


def viewing() -> Viewing | None:
    """The view-as of the current request, if any."""
    return _viewing.get()


def only_campaign_id() -> int | None:
    """The one campaign visible in this request (a view-as), or None: no narrowing. Selectors
    that list a user's campaigns without a campaign to check filter by it."""
    current = _viewing.get()
    return None if current is None else current.campaign.pk


class CampaignLike(Protocol):
    pk: Any
    slug: str


def _membership_model() -> Any:
    return apps.get_model(settings.CURATION_MEMBERSHIP_MODEL)


def roles_by_campaign(user: Any) -> RolesByCampaign:
    """{campaign id: roles} of ``user`` (empty for an anonymous user); one query, cached for the
    rest of the request inside an access scope."""
    user_id = getattr(user, "pk", None)
    if user_id is None:
        return {}
    cache = _scope.get()
    if cache is not None and user_id in cache:
        return _narrowed(cache[user_id])
    found: dict[int, set[str]] = {}
    for campaign_id, role in (
        _membership_model().objects.filter(user_id=user_id).values_list("campaign_id", "role")
    ):
        found.setdefault(campaign_id, set()).add(role)
    result = {campaign_id: frozenset(roles) for campaign_id, roles in found.items()}
    if cache is not None:
        cache[user_id] = result
    return _narrowed(result)


def _narrowed(result: RolesByCampaign) -> RolesByCampaign:
    """Only the viewed campaign's entry while viewing as a member."""
    only = only_campaign_id()
    if only is None:
        return result
    return {only: result[only]} if only in result else {}


def is_operator(user: Any) -> bool:
    """An operator runs the deployment: an active staff superuser."""
    return bool(
        getattr(user, "is_active", False)
        and getattr(user, "is_staff", False)
        and getattr(user, "is_superuser", False)
    )


def roles(user: Any, campaign: CampaignLike | None) -> frozenset[str]:
    """The roles ``user`` holds in ``campaign`` (empty when None or not a member). An operator
    also holds ``settings.CURATION_OPERATOR_ROLES`` (the curator's) in every campaign: they
    reach every campaign's workspace without being added to it."""
    if campaign is None:
        return frozenset()
    held = roles_by_campaign(user).get(campaign.pk, frozenset())
    only = only_campaign_id()
    if is_operator(user) and (only is None or only == campaign.pk):
        held = held | frozenset(settings.CURATION_OPERATOR_ROLES)
    return held


def forget(user_id: int | None = None) -> None:
    """Drop cached roles (of one user, or all) after a membership changed in this request."""
    cache = _scope.get()
    if cache is None:
        return
    if user_id is None:
        cache.clear()
    else:
        cache.pop(user_id, None)


def require(
    actor: Any,
    campaign: CampaignLike | None,
    *,
    role: str | None = None,
    missing: str = "Not found.",
    owner_id: int | None = None,
    or_role: str | None = None,
) -> frozenset[str]:
    """Check that ``actor`` may act on an object of ``campaign`` (None: the object does not
    exist) and return their roles there.

    Raises NotFound(``missing``) when the object does not exist, the actor is not a member of
    its campaign, or (with ``owner_id``) the object is someone else's and the actor lacks
    ``or_role``; NotAllowed when ``role`` is given and the actor holds neither it nor
    ``or_role``. When the check passes, the campaign's slug and the actor's id join the log
    context (``core.logs.bind``)."""
    held = roles(actor, campaign)
    if campaign is None or not held:
        raise NotFound(missing)
    privileged = or_role is not None and or_role in held
    if role is not None and role not in held and not privileged:
        raise NotAllowed(f"This needs the {role} role in campaign {campaign.slug!r}.")
    if owner_id is not None and owner_id != getattr(actor, "pk", None) and not privileged:
        raise NotFound(missing)
    # From here on the request's (or task's) log lines name the campaign, also for objects
    # addressed by id (/api/v1/ballots/5/). vars(): a slug deferred by ``only()`` is not worth
    # a query.
    logs.bind(campaign=vars(campaign).get("slug"), user_id=getattr(actor, "pk", None))
    return held


def require_object(
    actor: Any,
    obj: T | None,
    *,
    role: str | None = None,
    owner_field: str | None = None,
    or_role: str | None = None,
    missing: str = "Not found.",
) -> T:
    """``require`` for an object reached by id (None when it does not exist): its campaign is
    ``obj.campaign`` and, with ``owner_field`` (e.g. ``"annotator_id"``), its owner is that
    field. Returns the object; raises as ``require`` does."""
    if obj is None:
        raise NotFound(missing)
    require(
        actor,
        getattr(obj, "campaign"),  # noqa: B009 - any model with a campaign
        role=role,
        owner_id=getattr(obj, owner_field) if owner_field else None,
        or_role=or_role,
        missing=missing,
    )
    return obj


@contextmanager
def scope() -> Iterator[None]:
    """Cache roles for the duration of the block (one request)."""
    token = _scope.set({})
    try:
        yield
    finally:
        _scope.reset(token)


@contextmanager
def viewing_as(current: Viewing) -> Iterator[None]:
    """Narrow every check in the block to ``current.campaign`` (one view-as request)."""
    token = _viewing.set(current)
    try:
        yield
    finally:
        _viewing.reset(token)


class AccessScopeMiddleware:
    """Opens an access scope per request, so roles are read once per request; and, while a
    curator views as a member (``core.view_as``), serves safe requests as that member within
    that campaign and refuses the unsafe ones."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from . import view_as  # core.view_as builds on this module

        self.get_response = get_response
        self.view_as = view_as

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with scope():
            current = self.view_as.current(request)
            if current is None:
                return self.get_response(request)
            if self.view_as.passes_through(request, current):
                return self.get_response(request)  # stop viewing, log out: as themselves
            request.view_as = current  # type: ignore[attr-defined]  # the banner reads it
            request.user = current.member
            try:
                with viewing_as(current):
                    if request.method not in ("GET", "HEAD"):
                        return self.view_as.refused(request, current)
                    return self.get_response(request)
            finally:
                # The request's log line names who was looking, not whom they looked as.
                request.user = current.viewer
