"""List filters of the annotation API (django-filter): one error shape for bad values, and each
filter documented in the OpenAPI schema."""

import django_filters

from .models import Assignment


class AssignmentFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=Assignment.Status.choices, help_text="Only assignments in this status."
    )

    class Meta:
        model = Assignment
        fields = ["status"]
