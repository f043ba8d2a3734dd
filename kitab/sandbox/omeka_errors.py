"""The ways the Omeka S API says no: JSON ``{"errors": …}`` bodies, or Laminas' HTML pages."""

from __future__ import annotations

import json
from typing import Any

ADAPTERS = {
    "items": "ItemAdapter",
    "media": "MediaAdapter",
    "item_sets": "ItemSetAdapter",
    "sites": "SiteAdapter",
    "users": "UserAdapter",
    "properties": "PropertyAdapter",
    "resource_classes": "ResourceClassAdapter",
    "resource_templates": "ResourceTemplateAdapter",
    "vocabularies": "VocabularyAdapter",
    "api_resources": "ApiResourceAdapter",
}
ENTITIES = {
    "items": "Item",
    "media": "Media",
    "item_sets": "ItemSet",
    "sites": "Site",
    "users": "User",
    "properties": "Property",
    "resource_classes": "ResourceClass",
    "resource_templates": "ResourceTemplate",
    "vocabularies": "Vocabulary",
    "resources": "Resource",
}


class ApiError(Exception):
    """An answer with a JSON error body; ``errors`` is what goes under the ``errors`` key."""

    def __init__(self, status: int, errors: dict[str, Any]) -> None:
        super().__init__(json.dumps(errors))
        self.status = status
        self.errors = errors


class HtmlError(Exception):
    """Laminas answering with an HTML page instead of JSON (404 on /api/, 405, DELETE's 500)."""

    def __init__(self, status: int, title: str) -> None:
        super().__init__(title)
        self.status = status
        self.title = title


def not_found(resource: str, ident: Any) -> ApiError:
    """``ident`` keeps its JSON type: "9999" from a URL, 9999 from a request body."""
    entity = ENTITIES.get(resource, "Resource")
    criteria = json.dumps({"id": ident}, separators=(",", ":"))
    return ApiError(
        404, {"error": f"Omeka\\Entity\\{entity} entity with criteria {criteria} not found"}
    )


def denied(operation: str, resource: str) -> ApiError:
    adapter = ADAPTERS.get(resource, "AbstractAdapter")
    return ApiError(
        403,
        {
            "error": f"Permission denied for the current user to {operation} the "
            f"Omeka\\Api\\Adapter\\{adapter} resource."
        },
    )


def validation(errors: dict[str, list[Any]]) -> ApiError:
    return ApiError(422, errors)


def html_page(status: int, title: str) -> bytes:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Omeka S: {title}</title></head><body><h1>{title}</h1>"
        f"<p>{status}</p></body></html>\n"
    ).encode()
