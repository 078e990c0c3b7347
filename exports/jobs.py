"""Services that start background jobs: validate, create the queued release and enqueue its job
once the transaction commits.

They sit above ``tasks`` (which call ``services``), outside the services package, so the one
direction services <- tasks <- jobs holds without an import cycle."""

from dataclasses import asdict
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from annotation.models import Campaign, Role
from core import access
from core.errors import Conflict, ValidationFailed
from core.jobs import enqueue_on_commit
from core.transitions import EventKind, event_record
from review.stats import releasable_queryset

from .models import Release
from .services.build import release_check
from .services.selection import ReleaseParameters
from .tasks import record_enqueue_failure, run_release


def release_start(*, campaign: Campaign, actor: Any, parameters: ReleaseParameters) -> Release:
    """Queue a release job (curators only) and start it once the transaction commits.

    Raises NotAllowed (not a curator), ValidationFailed (bad parameters, too few eligible
    rewrites, missing answers, samples without a CodeArena task type) and Conflict (the name is
    taken)."""

    access.require(actor, campaign, role=Role.CURATOR, missing="No such campaign.")
    parameters.validate()
    if parameters.size is not None and not parameters.allow_smaller:
        eligible = releasable_queryset(campaign).count()
        if eligible < parameters.size:
            raise ValidationFailed(
                f"Only {eligible} accepted, uncontaminated rewrites are eligible, fewer than size "
                f"{parameters.size}. Accept more rewrites, lower the size, or allow a smaller "
                "release.",
                details={"errors": {"size": [f"at most {eligible} are eligible"]}},
            )
    # Missing answers and samples without a CodeArena task type refuse the release now, naming
    # them, rather than a queued job failing later (the build checks again).
    release_check(campaign=campaign, parameters=parameters)
    taken = Conflict(
        f"A release named {parameters.name!r} already exists in {campaign.slug}; "
        "choose another name."
    )
    with transaction.atomic():
        if Release.objects.filter(campaign=campaign, name=parameters.name).exists():
            raise taken
        try:
            with transaction.atomic():
                release = Release.objects.create(
                    campaign=campaign,
                    name=parameters.name,
                    parameters=asdict(parameters),
                    created_by=actor,
                    message="waiting for a worker",
                    enqueued_at=timezone.now(),
                )
        except IntegrityError as exc:  # the same name, started at the same moment
            raise taken from exc
        event_record(
            campaign=campaign,
            actor=actor,
            kind=EventKind.RELEASE_QUEUED,
            obj=release,
            to_state=Release.Status.QUEUED,
            data=asdict(parameters),
        )
        # The broker down: the release stays queued, noted, and the sweep enqueues it later.
        enqueue_on_commit(run_release, release.pk, on_failure=record_enqueue_failure(release.pk))
    return release
