from typing import Any

from ..models import Campaign, Event


def event_record(
    *,
    campaign: Campaign | int,
    actor: Any,
    kind: str,
    obj: Any,
    from_state: str = "",
    to_state: str = "",
    data: dict[str, Any] | None = None,
) -> Event:
    """Append one audit row. Call inside the transaction of the change it records."""
    return Event.objects.create(
        campaign_id=campaign if isinstance(campaign, int) else campaign.pk,
        actor=actor if getattr(actor, "pk", None) else None,
        kind=kind,
        object_type=type(obj)._meta.model_name,
        object_id=obj.pk,
        from_state=from_state,
        to_state=to_state,
        data=data or {},
    )


def events_record_bulk(events: list[Event]) -> None:
    """Append many prepared (unsaved) audit rows in one statement."""
    Event.objects.bulk_create(events, batch_size=1000)
