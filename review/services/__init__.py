"""Every write of the review app: submitting, panels, votes, consensus, the revision loop,
curator decisions and campaign membership. See review/README.md for states and transitions."""

from .decisions import (
    ADJUDICATIONS,
    CLOSABLE,
    rewrite_adjudicate,
    rewrite_close,
    rewrite_reopen,
)
from .hints import HINT_LABEL, review_hint_get_or_ask
from .members import membership_add, membership_remove, membership_role_change
from .panels import (
    ballots_close,
    ballots_of_departed_close,
    panel_fill,
    panels_fill_waiting,
    rewrites_waiting_for_reviewers,
)
from .revisions import RETURNABLE, rewrite_return
from .submission import rewrite_submit
from .votes import VoteResult, ballot_cast, rewrite_tally

__all__ = [
    "ADJUDICATIONS",
    "CLOSABLE",
    "HINT_LABEL",
    "RETURNABLE",
    "VoteResult",
    "ballot_cast",
    "ballots_close",
    "ballots_of_departed_close",
    "membership_add",
    "membership_remove",
    "membership_role_change",
    "panel_fill",
    "panels_fill_waiting",
    "review_hint_get_or_ask",
    "rewrite_adjudicate",
    "rewrite_close",
    "rewrite_reopen",
    "rewrite_return",
    "rewrite_submit",
    "rewrite_tally",
    "rewrites_waiting_for_reviewers",
]
