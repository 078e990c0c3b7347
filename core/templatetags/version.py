"""``{% app_version %}``: the running version (config/__init__.py, through
``settings.CURATION_VERSION``), shown in every page's footer."""

from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def app_version() -> str:
    return str(settings.CURATION_VERSION)
