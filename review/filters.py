"""List filters of the review API (django-filter): one error shape for bad values, and each
filter documented in the OpenAPI schema."""

from typing import Any

import django_filters
from django.db.models import QuerySet

from annotation.models import Rewrite

from .models import Ballot

ALL = "all"


class BallotFilter(django_filters.FilterSet):
    """Pending ballots unless asked otherwise; ``all`` lists every ballot."""

    status = django_filters.ChoiceFilter(
        choices=[*Ballot.Status.choices, (ALL, "All")],
        method="filter_status",
        help_text="pending (the default), cast, closed or all.",
    )

    class Meta:
        model = Ballot
        fields = ["status"]

    def filter_status(self, queryset: QuerySet[Ballot], name: str, value: str) -> QuerySet[Ballot]:
        return queryset if value == ALL else queryset.filter(status=value)

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not self.form.cleaned_data.get("status"):
            queryset = queryset.filter(status=Ballot.Status.PENDING)
        return super().filter_queryset(queryset)


class RewriteFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=Rewrite.Status.choices, help_text="Only rewrites in this status."
    )

    class Meta:
        model = Rewrite
        fields = ["status"]
