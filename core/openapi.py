"""The OpenAPI schema's view of errors: every operation documents the error responses it can
give, with the body ``core.http`` really renders for them. Kept apart from ``core.http`` because
drf-spectacular's AutoSchema reads DRF's settings on import (which name ``core.http``)."""

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent, force_instance
from rest_framework import serializers

from .http import NOT_ALLOWED_RESPONSE, NOT_FOUND_RESPONSE

# A validation error's ``errors``: field -> problems, nested as the input is (a list's items by
# index, a nested object's fields by name), or a plain list of problems.
ERROR_TREE_SCHEMA: dict[str, Any] = {
    "description": "Problems by field (nested like the input), or a list of problems",
    "oneOf": [
        {"type": "string"},
        {"type": "array", "items": {"$ref": "#/components/schemas/ErrorTree"}},
        {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/ErrorTree"}},
    ],
}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An error: a message for a person and a machine-readable code, with the "
    "problems of each field for a 400",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {"$ref": "#/components/schemas/ErrorTree"},
        # A stale draft save (409): the stored version and draft.
        "current_version": {"type": "integer"},
        "current": {
            "type": "object",
            "nullable": True,
            "properties": {
                "text": {"type": "string"},
                "difficulty": {"type": "string"},
                "programming_languages": {"type": "array", "items": {"type": "string"}},
                "natural_language": {"type": "string"},
                "subcategory": {"type": "string"},
                "checklist": {"type": "object", "additionalProperties": {"type": "boolean"}},
                "version": {"type": "integer"},
            },
        },
        # A repeated vote (409): the decision already cast.
        "decision": {"type": "string"},
        # Adjudicating into a seed with an accepted revision (409): that revision's id.
        "accepted": {"type": "integer"},
        # Inviting an address with a pending invitation (409): that invitation's id.
        "invitation": {"type": "integer"},
        # A curator's acceptance while the campaign forbids it (403): the setting.
        "setting": {"type": "string"},
        # An unknown seed of the item page (404): the id asked for.
        "seed": {"type": "integer"},
        # An answers or reference file refused (400): its bad lines.
        "lines": {"type": "array", "items": {"type": "string"}},
        # A release refused for missing answers: model -> seed ids.
        "missing": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["detail", "code"],
}
ERROR_DESCRIPTIONS = {
    "400": "The request is invalid: malformed JSON, a value out of range, a missing field "
    "(each named in 'errors')",
    "401": "Not authenticated: no, or an invalid, token or session",
    "403": NOT_ALLOWED_RESPONSE.description,
    "404": NOT_FOUND_RESPONSE.description,
    "415": "The body is not JSON (or a form, where the endpoint takes a file)",
    "429": "Too many requests: wait for the number of seconds in Retry-After",
}


def _takes_files(serializer: Any) -> bool:
    fields = getattr(serializer, "fields", {})
    return any(
        isinstance(field, serializers.FileField)
        or isinstance(getattr(field, "child", None), serializers.FileField)
        for field in fields.values()
    )


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema, with the errors each operation can answer documented as
    ``Error`` (``{"detail", "code", ...}``): 401 and 403 everywhere (authentication, roles,
    CSRF), 404 where the path names an object or the list is paginated, 400 where there is a
    body or a query, 415 with a body, 429 where the view is throttled. A 4xx an endpoint
    declares itself keeps its description and gains the body."""

    def map_parsers(self) -> list[str]:
        """A body without a file is documented as JSON only (forms are accepted too, but a form
        cannot tell an empty value from a missing one, nor a number from a string)."""
        media_types: list[str] = super().map_parsers()
        if "application/json" in media_types and not _takes_files(
            force_instance(self.get_request_serializer())  # type: ignore[no-untyped-call]
        ):
            return ["application/json"]
        return media_types

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        self.registry.register_on_missing(
            ResolvedComponent(  # type: ignore[no-untyped-call]
                name="ErrorTree",
                type=ResolvedComponent.SCHEMA,
                schema=ERROR_TREE_SCHEMA,
                object="ErrorTree",
            )
        )
        error = ResolvedComponent(  # type: ignore[no-untyped-call]
            name="Error", type=ResolvedComponent.SCHEMA, schema=ERROR_SCHEMA, object="Error"
        )
        self.registry.register_on_missing(error)
        responses: dict[str, Any] = operation.setdefault("responses", {})
        parameters = operation.get("parameters", [])
        codes = ["401", "403"]
        paginated = self._get_paginator() is not None  # type: ignore[no-untyped-call]
        if paginated or any(p["in"] == "path" for p in parameters):
            codes.append("404")
        if "requestBody" in operation or any(p["in"] == "query" for p in parameters):
            codes.append("400")
        if "requestBody" in operation:
            codes.append("415")
        if self.view.get_throttles():
            codes.append("429")
        for parameter in parameters:
            schema = parameter.get("schema", {})
            if parameter["in"] != "query":
                continue
            # A filter left empty (as a form sends it) filters nothing.
            if schema.get("format") in ("date", "date-time"):
                parameter["schema"] = {"anyOf": [schema, {"type": "string", "maxLength": 0}]}
            elif schema.get("type") == "string" and "enum" in schema and "" not in schema["enum"]:
                schema["enum"] = [*schema["enum"], ""]
            elif schema.get("type") == "array" and "enum" in schema.get("items", {}):
                items = schema["items"]
                if "" not in items["enum"]:
                    items["enum"] = [*items["enum"], ""]
        for code in codes:
            responses.setdefault(code, {"description": ERROR_DESCRIPTIONS[code]})
        for code, response in responses.items():
            if code.startswith("4") and "content" not in response:
                response["content"] = {"application/json": {"schema": error.ref}}
        operation["responses"] = dict(sorted(responses.items()))
        return operation
