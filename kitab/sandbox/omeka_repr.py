"""JSON-LD representations of resources, shaped as Omeka S 4.0 answers (notes 1.4 and 1.6).

Why anonymity is a parameter here: the same item looks different to a keyed caller and to an
anonymous one — private values, private media and private item sets simply are not there.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from kitab.sandbox.omeka_files import THUMBNAILED
from kitab.sandbox.omeka_store import USER, iso
from kitab.sandbox.omeka_vocab import (
    BASE_TEMPLATE_ID,
    BASE_TEMPLATE_LABEL,
    BASE_TEMPLATE_PROPERTIES,
    CLASS_BY_ID,
    PROPERTY_BY_ID,
    Term,
    Vocabulary,
)

TYPES = {"items": "o:Item", "media": "o:Media", "item_sets": "o:ItemSet"}
THUMBNAIL_SIZES = ("large", "medium", "square")
DATE_TYPE = "http://www.w3.org/2001/XMLSchema#dateTime"


def stamp(value: str | None) -> dict[str, str] | None:
    return {"@value": iso(value), "@type": DATE_TYPE} if value else None


@dataclass
class Renderer:
    db: sqlite3.Connection
    root: str  # http://127.0.0.1:PORT
    anonymous: bool

    @property
    def api(self) -> str:
        return f"{self.root}/api"

    @property
    def context(self) -> str:
        return f"{self.root}/api-context"

    def ref(self, kind: str, ident: int | None) -> dict[str, Any] | None:
        if ident is None:
            return None
        return {"@id": f"{self.api}/{kind}/{ident}", "o:id": ident}

    # --- resources ---------------------------------------------------------------------------

    def resource(self, row: sqlite3.Row) -> dict[str, Any]:
        kind = row["resource_type"]
        body = self._base(row)
        if kind == "items":
            body.update(self._item_part(row))
        elif kind == "media":
            body.update(self._media_part(row))
        else:
            body["o:is_open"] = bool(row["is_open"])
            body["o:items"] = {"@id": f"{self.api}/items?item_set_id={row['id']}"}
        body.update(self.values(row["id"], row["resource_template_id"]))
        return body

    def _base(self, row: sqlite3.Row) -> dict[str, Any]:
        kind = row["resource_type"]
        class_id = row["resource_class_id"]
        rtype: str | list[str] = TYPES[kind]
        if class_id in CLASS_BY_ID:
            rtype = [TYPES[kind], CLASS_BY_ID[class_id].term]
        return {
            "@context": self.context,
            "@id": f"{self.api}/{kind}/{row['id']}",
            "@type": rtype,
            "o:id": row["id"],
            "o:is_public": bool(row["is_public"]),
            "o:owner": self.ref("users", row["owner_id"]),
            "o:resource_class": self.ref("resource_classes", class_id),
            "o:resource_template": self.ref("resource_templates", row["resource_template_id"]),
            "o:thumbnail": None,
            "o:title": row["title"],
            "thumbnail_display_urls": self._display_urls(row),
            "o:created": stamp(row["created"]),
            "o:modified": stamp(row["modified"]),
        }

    def media_rows(self, item_id: int) -> list[sqlite3.Row]:
        """Media in Omeka's order: position ascending, NULL (added later) first."""
        sql = "SELECT * FROM resource WHERE item_id = ?"
        if self.anonymous:
            sql += " AND is_public = 1"
        return self.db.execute(sql + " ORDER BY position ASC, id ASC", (item_id,)).fetchall()

    def primary_media(self, row: sqlite3.Row) -> sqlite3.Row | None:
        media = self.media_rows(row["id"])
        chosen = [m for m in media if m["id"] == row["primary_media_id"]]
        return (chosen or media or [None])[0]

    def _display_urls(self, row: sqlite3.Row) -> dict[str, str | None]:
        media = row if row["resource_type"] == "media" else None
        if row["resource_type"] == "items":
            media = self.primary_media(row)
        if media is None:
            return dict.fromkeys(THUMBNAIL_SIZES)
        return self.thumbnail_urls(media) or dict.fromkeys(
            THUMBNAIL_SIZES, self._fallback_thumbnail(media["media_type"])
        )

    def _fallback_thumbnail(self, media_type: str | None) -> str:
        top = (media_type or "").split("/")[0]
        name = top if top in ("image", "video", "audio") else "default"
        return f"{self.root}/application/asset/thumbnails/{name}.png"

    def thumbnail_urls(self, media: sqlite3.Row) -> dict[str, str]:
        """Derivative URLs Omeka would give; the sandbox does not render the JPEGs."""
        if not media["filename"] or not (media["media_type"] or "").startswith(THUMBNAILED):
            return {}
        storage = media["filename"].rsplit(".", 1)[0]
        return {size: f"{self.root}/files/{size}/{storage}.jpg" for size in THUMBNAIL_SIZES}

    def _item_part(self, row: sqlite3.Row) -> dict[str, Any]:
        media = self.media_rows(row["id"])
        primary = self.primary_media(row)
        set_sql = (
            "SELECT s.item_set_id AS id FROM item_item_set s JOIN resource r "
            "ON r.id = s.item_set_id WHERE s.item_id = ?"
        )
        if self.anonymous:
            set_sql += " AND r.is_public = 1"
        sets = self.db.execute(set_sql + " ORDER BY s.item_set_id", (row["id"],)).fetchall()
        sites = self.db.execute(
            "SELECT site_id FROM item_site WHERE item_id = ? ORDER BY site_id", (row["id"],)
        ).fetchall()
        return {
            "o:primary_media": self.ref("media", primary["id"]) if primary else None,
            "o:media": [self.ref("media", m["id"]) for m in media],
            "o:item_set": [self.ref("item_sets", s["id"]) for s in sets],
            "o:site": [self.ref("sites", s["site_id"]) for s in sites],
        }

    def _media_part(self, row: sqlite3.Row) -> dict[str, Any]:
        filename = row["filename"]
        return {
            "o:ingester": row["ingester"],
            "o:renderer": row["renderer"],
            "o:item": self.ref("items", row["item_id"]),
            "o:source": row["source"],
            "o:media_type": row["media_type"],
            "o:sha256": row["sha256"],
            "o:size": row["size"],
            "o:filename": filename,
            "o:lang": row["lang"],
            "o:alt_text": row["alt_text"],
            "o:original_url": f"{self.root}/files/original/{filename}" if filename else None,
            "o:thumbnail_urls": self.thumbnail_urls(row) or [],
            "data": json.loads(row["data"]) if row["data"] else [],
        }

    # --- values ------------------------------------------------------------------------------

    def values(self, resource_id: int, template_id: int | None) -> dict[str, list[dict]]:
        """Grouped by term: the template's properties first, in its order, then the rest."""
        sql = "SELECT * FROM value WHERE resource_id = ?"
        if self.anonymous:
            sql += " AND is_public = 1"
        grouped: dict[int, list[dict[str, Any]]] = {}
        for value in self.db.execute(sql + " ORDER BY id", (resource_id,)):
            grouped.setdefault(value["property_id"], []).append(self.value(value))
        order = [pid for pid, _ in BASE_TEMPLATE_PROPERTIES] if template_id else []
        ordered = [pid for pid in order if pid in grouped]
        ordered += [pid for pid in grouped if pid not in order]
        return {PROPERTY_BY_ID[pid].term: grouped[pid] for pid in ordered}

    def value(self, value: sqlite3.Row) -> dict[str, Any]:
        prop = PROPERTY_BY_ID[value["property_id"]]
        body: dict[str, Any] = {
            "type": value["type"],
            "property_id": prop.id,
            "property_label": prop.label,
            "is_public": bool(value["is_public"]),
        }
        if value["type"] == "literal":
            body["@value"] = value["value"]
        elif value["type"] == "uri":
            body["@id"] = value["uri"]
            if value["value"] is not None:
                body["o:label"] = value["value"]
        else:
            target = self.db.execute(
                "SELECT id, resource_type, title FROM resource WHERE id = ?",
                (value["value_resource_id"],),
            ).fetchone()
            kind = target["resource_type"] if target else "resources"
            body.update(
                {
                    "@id": f"{self.api}/{kind}/{value['value_resource_id']}",
                    "value_resource_id": value["value_resource_id"],
                    "value_resource_name": kind,
                    "url": None,
                    "display_title": (target["title"] if target else None) or "[Untitled]",
                }
            )
        if value["lang"]:
            body["@language"] = value["lang"]
        return body

    # --- vocabulary, templates, users, sites -------------------------------------------------

    def vocabulary(self, vocab: Vocabulary) -> dict[str, Any]:
        return {
            "@context": self.context,
            "@id": f"{self.api}/vocabularies/{vocab.id}",
            "@type": "o:Vocabulary",
            "o:id": vocab.id,
            "o:namespace_uri": vocab.namespace_uri,
            "o:prefix": vocab.prefix,
            "o:label": vocab.label,
            "o:comment": vocab.comment,
            "o:owner": None,
        }

    def term(self, term: Term, kind: str) -> dict[str, Any]:
        return {
            "@context": self.context,
            "@id": f"{self.api}/{kind}/{term.id}",
            "@type": "o:Property" if kind == "properties" else "o:ResourceClass",
            "o:id": term.id,
            "o:local_name": term.local_name,
            "o:label": term.label,
            "o:comment": term.comment,
            "o:term": term.term,
            "o:vocabulary": self.ref("vocabularies", term.vocabulary.id),
        }

    def template(self) -> dict[str, Any]:
        return {
            "@context": self.context,
            "@id": f"{self.api}/resource_templates/{BASE_TEMPLATE_ID}",
            "@type": "o:ResourceTemplate",
            "o:id": BASE_TEMPLATE_ID,
            "o:label": BASE_TEMPLATE_LABEL,
            "o:owner": None,
            "o:resource_class": None,
            "o:title_property": None,
            "o:description_property": None,
            "o:resource_template_property": [
                {
                    "o:property": self.ref("properties", pid),
                    "o:alternate_label": alternate,
                    "o:alternate_comment": None,
                    "o:data_type": [],
                    "o:is_required": False,
                    "o:is_private": False,
                    "o:default_lang": None,
                }
                for pid, alternate in BASE_TEMPLATE_PROPERTIES
            ],
        }

    def user(self, created: str) -> dict[str, Any]:
        return {
            "@context": self.context,
            "@id": f"{self.api}/users/{USER['id']}",
            "@type": "o:User",
            "o:id": USER["id"],
            "o:name": USER["name"],
            "o:email": USER["email"],
            "o:created": stamp(created),
            "o:role": USER["role"],
            "o:is_active": True,
        }

    def site(self, row: sqlite3.Row) -> dict[str, Any]:
        return {
            "@context": self.context,
            "@id": f"{self.api}/sites/{row['id']}",
            "@type": "o:Site",
            "o:id": row["id"],
            "o:slug": row["slug"],
            "o:theme": row["theme"],
            "o:title": row["title"],
            "o:summary": row["summary"],
            "o:owner": self.ref("users", USER["id"]),
            "o:created": stamp(row["created"]),
            "o:modified": stamp(row["modified"]),
            "o:is_public": bool(row["is_public"]),
            "o:assign_new_items": bool(row["assign_new_items"]),
            "o:page": [],
            "o:navigation": [],
            "o:item_pool": [],
            "o:item_set": [],
            "o:site_permission": [],
        }
