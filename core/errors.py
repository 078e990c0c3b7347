"""Domain errors. Services raise these; ``core.http`` maps them to API and page responses (one
table of statuses) and ``core.management`` turns them into a command's error message."""

from typing import Any


class DomainError(Exception):
    """Base class. ``message`` is for a person; ``details`` is machine-readable context."""

    code = "domain_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class NotFound(DomainError):
    """The object does not exist or is outside the actor's campaigns (shown as 404)."""

    code = "not_found"


class NotAllowed(DomainError):
    """The actor's role does not permit the operation (403)."""

    code = "not_allowed"


class InvalidTransition(DomainError):
    """The object is not in a state that allows the operation (409)."""

    code = "invalid_transition"


class StaleVersion(DomainError):
    """A draft save was based on an older version than the stored one (409)."""

    code = "stale_version"


class Conflict(DomainError):
    """The operation collides with existing data, e.g. a repeated vote (409)."""

    code = "conflict"


class ValidationFailed(DomainError):
    """Input is incomplete or invalid (400); ``details['errors']`` maps each field to its
    problems."""

    code = "validation_failed"


class Gone(DomainError):
    """The link or object existed but has expired, e.g. an invitation link (410)."""

    code = "gone"


class Throttled(DomainError):
    """Too many requests for a limit the campaign set, e.g. calls to its model per minute
    (429); ``details['retry_after']`` is in seconds when known."""

    code = "throttled"


class Unavailable(DomainError):
    """An outside service the operation needs did not answer usefully: the campaign's model
    endpoint is down, timed out or answered nonsense (503). Nothing was changed."""

    code = "unavailable"
