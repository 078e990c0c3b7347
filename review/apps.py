from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "review"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core import labels

        from .models import Ballot, Decision, Invitation, ReviewHint, VoteReason

        labels.register("invitation_status", Invitation.Status)
        labels.register("decision", Decision)
        labels.register("vote_reason", VoteReason)
        labels.register("ballot_status", Ballot.Status)
        labels.register("review_hint_status", ReviewHint.Status)
