"""Creating, replacing, patching and deleting resources with Omeka S 4.0's semantics.

Why these semantics are worth copying exactly: they are where data gets lost. PUT is a full
replace (no ``o:media`` → every file deleted), PATCH replaces *all* values as soon as one
property is sent, a stray ``o:media`` list deletes the media it leaves out, and media added later
get no position and sort first. kitab's connector must survive all of that here before it meets
a real server.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from kitab.sandbox.omeka_errors import ApiError, not_found, validation
from kitab.sandbox.omeka_files import FileStore
from kitab.sandbox.omeka_store import USER, Transaction, now
from kitab.sandbox.omeka_vocab import (
    CLASS_BY_ID,
    PROPERTY_BY_ID,
    PROPERTY_BY_TERM,
    TITLE_PROPERTY_ID,
)

VALUE_TYPES = ("literal", "uri", "resource", "resource:item", "resource:itemset", "resource:media")
INGESTERS = ("upload", "url", "html")
DOWNLOAD_TIMEOUT = 30
SQL_FK_ERROR = (
    "SQLSTATE[23000]: Integrity constraint violation: 1452 Cannot add or update a child row: "
    "a foreign key constraint fails (`omeka`.`value`, CONSTRAINT `FK_1D7758349B6B5FBA` "
    "FOREIGN KEY (`property_id`) REFERENCES `property` (`id`) ON DELETE CASCADE)"
)


def truthy(value: Any) -> bool:
    """PHP's (bool) cast of what JSON or a form can carry."""
    return value not in (False, 0, "0", "", None, [], {})


def ident(value: Any) -> Any:
    """The id in ``{"o:id": 1}`` or a bare ``1``."""
    return value.get("o:id") if isinstance(value, dict) else value


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def has_values(data: dict[str, Any]) -> bool:
    """Does a PATCH body carry property values (which then replace *all* values)?"""
    return any(isinstance(v, list) and not k.startswith(("o:", "@")) for k, v in data.items())


@dataclass
class Writer:
    """One write request inside one transaction."""

    tx: Transaction
    files: FileStore
    uploads: dict[int, Any] = field(default_factory=dict)  # file_index → werkzeug FileStorage

    @property
    def db(self) -> sqlite3.Connection:
        return self.tx.db

    # --- shared by items, media and item sets ------------------------------------------------

    def _exists(self, kind: str, value: Any) -> int:
        rid = as_int(value)
        row = None
        if rid is not None:
            row = self.db.execute(
                "SELECT id FROM resource WHERE id = ? AND resource_type = ?", (rid, kind)
            ).fetchone()
        if row is None:
            raise not_found(kind, value)
        return rid

    def _insert(self, kind: str, **columns: Any) -> int:
        stamp = now()
        columns = {"owner_id": USER["id"], "created": stamp, "modified": stamp, **columns}
        names = ", ".join(["resource_type", *columns])
        marks = ", ".join("?" * (len(columns) + 1))
        cursor = self.db.execute(
            f"INSERT INTO resource ({names}) VALUES ({marks})", (kind, *columns.values())
        )
        return int(cursor.lastrowid)

    def _hydrate(self, rid: int, data: dict[str, Any], partial: bool) -> None:
        """Public flag, class, template and values: keys left out are reset unless partial."""
        updates: dict[str, Any] = {}
        if "o:is_public" in data or not partial:
            updates["is_public"] = int(truthy(data.get("o:is_public", True)))
        if "o:resource_class" in data or not partial:
            class_id = ident(data.get("o:resource_class"))
            if class_id is not None and as_int(class_id) not in CLASS_BY_ID:
                raise not_found("resource_classes", class_id)
            updates["resource_class_id"] = as_int(class_id)
        if "o:resource_template" in data or not partial:
            template_id = ident(data.get("o:resource_template"))
            if template_id is not None and as_int(template_id) != 1:
                raise not_found("resource_templates", template_id)
            updates["resource_template_id"] = as_int(template_id)
        if not partial or has_values(data):
            self._replace_values(rid, data)
        updates["title"] = self._title(rid)
        updates["modified"] = now()
        assignments = ", ".join(f"{name} = ?" for name in updates)
        self.db.execute(f"UPDATE resource SET {assignments} WHERE id = ?", (*updates.values(), rid))

    def _replace_values(self, rid: int, data: dict[str, Any]) -> None:
        self.db.execute("DELETE FROM value WHERE resource_id = ?", (rid,))
        for key, values in data.items():
            if key.startswith(("o:", "@")) or not isinstance(values, list):
                continue
            for value in values:
                row = self._value_row(key, value)
                if row is not None:
                    self.db.execute(
                        "INSERT INTO value (resource_id, property_id, type, value, lang, uri, "
                        "value_resource_id, is_public) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (rid, *row),
                    )

    def _value_row(self, key: str, value: Any) -> tuple | None:
        """A value to store, or None for what Omeka silently drops (no @value, unknown type)."""
        if not isinstance(value, dict) or value.get("property_id") is None:
            return None
        pid: Any = value["property_id"]
        if pid == "auto":
            if key not in PROPERTY_BY_TERM:
                return None
            pid = PROPERTY_BY_TERM[key].id
        pid = as_int(pid)
        if pid is None:
            return None
        kind = value.get("type")
        if kind not in VALUE_TYPES:
            return None
        lang = value.get("@language") or None
        public = int(truthy(value.get("is_public", True)))
        if kind == "literal":
            text = value.get("@value")
            if not isinstance(text, str | int | float) or str(text).strip() == "":
                return None
            row = (pid, kind, str(text), lang, None, None, public)
        elif kind == "uri":
            uri = value.get("@id")
            if not isinstance(uri, str) or not uri.strip():
                return None
            label = value.get("o:label")
            row = (pid, kind, label if isinstance(label, str) else None, lang, uri, None, public)
        else:
            target = as_int(value.get("value_resource_id"))
            if target is None:
                return None
            if not self.db.execute("SELECT 1 FROM resource WHERE id = ?", (target,)).fetchone():
                raise not_found("resources", target)
            row = (pid, kind, None, lang, None, target, public)
        if pid not in PROPERTY_BY_ID:
            raise ApiError(500, {"error": SQL_FK_ERROR})
        return row

    def _title(self, rid: int) -> str | None:
        row = self.db.execute(
            "SELECT v.value, t.title FROM value v LEFT JOIN resource t "
            "ON t.id = v.value_resource_id WHERE v.resource_id = ? AND v.property_id = ? "
            "ORDER BY v.id LIMIT 1",
            (rid, TITLE_PROPERTY_ID),
        ).fetchone()
        if row is None:
            return None
        return row["value"] if row["value"] is not None else row["title"]

    # --- items -------------------------------------------------------------------------------

    def create_item(self, data: dict[str, Any]) -> int:
        rid = self._insert("items")
        self._hydrate(rid, data, partial=False)
        self._item_links(rid, data, partial=False, creating=True)
        self._media_list(rid, data.get("o:media"), creating=True)
        return rid

    def update_item(self, rid: int, data: dict[str, Any], partial: bool) -> None:
        self._hydrate(rid, data, partial)
        self._item_links(rid, data, partial, creating=False)
        if "o:media" in data or not partial:
            self._media_list(rid, data.get("o:media") or [], creating=False)
        if "o:primary_media" in data:
            primary = as_int(ident(data["o:primary_media"]))
            self.db.execute("UPDATE resource SET primary_media_id = ? WHERE id = ?", (primary, rid))

    def _item_links(self, rid: int, data: dict[str, Any], partial: bool, creating: bool) -> None:
        if "o:item_set" in data or not partial:
            set_ids = [self._exists("item_sets", ident(s)) for s in data.get("o:item_set") or []]
            self.db.execute("DELETE FROM item_item_set WHERE item_id = ?", (rid,))
            self.db.executemany(
                "INSERT OR IGNORE INTO item_item_set (item_id, item_set_id) VALUES (?, ?)",
                [(rid, s) for s in set_ids],
            )
        if "o:site" in data:
            site_ids = []
            for site in data.get("o:site") or []:
                sid = as_int(ident(site))
                if (
                    sid is None
                    or not self.db.execute("SELECT 1 FROM site WHERE id = ?", (sid,)).fetchone()
                ):
                    raise not_found("sites", ident(site))
                site_ids.append(sid)
        elif creating:
            site_ids = [
                r["id"] for r in self.db.execute("SELECT id FROM site WHERE assign_new_items = 1")
            ]
        elif not partial:
            site_ids = []
        else:
            return
        self.db.execute("DELETE FROM item_site WHERE item_id = ?", (rid,))
        self.db.executemany(
            "INSERT OR IGNORE INTO item_site (item_id, site_id) VALUES (?, ?)",
            [(rid, s) for s in site_ids],
        )

    def _media_list(self, item_id: int, specs: Any, creating: bool) -> None:
        """Keep and reorder the listed media, create new ones, delete the rest (update only)."""
        specs = specs if isinstance(specs, list) else []
        kept: list[int] = []
        errors: list[dict[str, Any]] = []
        for spec in specs:
            if not isinstance(spec, dict):
                continue
            existing = as_int(spec.get("o:id"))
            if existing is not None and not creating:
                owned = self.db.execute(
                    "SELECT id FROM resource WHERE id = ? AND item_id = ?", (existing, item_id)
                ).fetchone()
                if owned:
                    kept.append(existing)
                continue
            media_id, media_errors = self._new_media(spec, item_id)
            if media_errors:
                errors.append(media_errors)
            elif media_id is not None:
                kept.append(media_id)
        if errors:
            raise validation({"o:media": errors})
        if not creating:
            owned = self.db.execute("SELECT id FROM resource WHERE item_id = ?", (item_id,))
            for doomed in [row["id"] for row in owned if row["id"] not in kept]:
                self.delete_media(doomed)
        for position, media_id in enumerate(kept, start=1):
            self.db.execute("UPDATE resource SET position = ? WHERE id = ?", (position, media_id))

    # --- media -------------------------------------------------------------------------------

    def create_media(self, data: dict[str, Any]) -> int:
        """POST /api/media: no position, so it sorts before the media created with the item."""
        item_ref = ident(data.get("o:item"))
        errors: dict[str, list[Any]] = {}
        if item_ref is None:
            errors["o:item"] = ["Media must belong to an item."]
        if data.get("o:ingester") not in INGESTERS:
            errors["o:ingester"] = ["Media must set a valid ingester."]
        if errors:
            raise validation(errors)
        item_id = self._exists("items", item_ref)
        media_id, media_errors = self._new_media(data, item_id)
        if media_errors:
            raise validation(media_errors)
        return media_id

    def update_media(self, rid: int, data: dict[str, Any], partial: bool) -> None:
        self._hydrate(rid, data, partial)
        for key, column in (("o:lang", "lang"), ("o:alt_text", "alt_text")):
            if key in data or not partial:
                self.db.execute(
                    f"UPDATE resource SET {column} = ? WHERE id = ?", (data.get(key), rid)
                )

    def _new_media(self, spec: dict[str, Any], item_id: int) -> tuple[int | None, dict]:
        ingester = spec.get("o:ingester")
        if ingester not in INGESTERS:
            return None, {"o:ingester": ["Media must set a valid ingester."]}
        columns: dict[str, Any] = {"ingester": ingester, "renderer": "file", "data": None}
        if ingester == "html":
            html = spec.get("html")
            if not isinstance(html, str) or not html.strip():
                return None, {"html": ["No HTML submitted"]}
            columns.update(renderer="html", media_type=None, data=json.dumps({"html": html}))
        else:
            stored, errors = self._upload(spec) if ingester == "upload" else self._download(spec)
            if errors:
                return None, errors
            columns.update(stored)
        columns.update(
            item_id=item_id,
            lang=spec.get("o:lang"),
            alt_text=spec.get("o:alt_text"),
            is_public=int(truthy(spec.get("o:is_public", True))),
        )
        media_id = self._insert("media", **columns)
        self._hydrate(media_id, spec, partial=False)
        return media_id, {}

    def _upload(self, spec: dict[str, Any]) -> tuple[dict[str, Any], dict]:
        if not self.uploads:
            return {}, {"error": ["No files were uploaded"]}
        index = as_int(spec.get("file_index"))
        if "file_index" not in spec or index is None:
            return {}, {"error": ["No file index was specified"]}
        upload = self.uploads.get(index)
        if upload is None:
            return {}, {"error": ["No file uploaded for the specified index"]}
        name = upload.filename or f"file{index}"
        upload.stream.seek(0)
        return self._store(upload.stream, name, source=name)

    def _download(self, spec: dict[str, Any]) -> tuple[dict[str, Any], dict]:
        url = spec.get("ingest_url")
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            return {}, {"ingest_url": ["Invalid ingest URL"]}
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as answer:
                name = PurePosixPath(urlsplit(url).path).name or "download"
                source = spec.get("o:source") or url
                return self._store(answer, name, source=source)
        except urllib.error.HTTPError as error:
            return {}, {"download": [f"Error downloading {url}: {error.code} {error.reason}"]}
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            return {}, {"download": [f"Error downloading {url}: {reason}"]}

    def _store(self, stream: BinaryIO, name: str, source: str) -> tuple[dict[str, Any], dict]:
        stored, errors = self.files.put(stream, name)
        if errors:
            return {}, {"file": errors}
        self.tx.new_files.append(stored.filename)
        return {
            "source": source,
            "media_type": stored.media_type,
            "sha256": stored.sha256,
            "size": stored.size,
            "filename": stored.filename,
        }, {}

    # --- item sets and sites -----------------------------------------------------------------

    def create_item_set(self, data: dict[str, Any]) -> int:
        rid = self._insert("item_sets", is_open=int(truthy(data.get("o:is_open", False))))
        self._hydrate(rid, data, partial=False)
        return rid

    def update_item_set(self, rid: int, data: dict[str, Any], partial: bool) -> None:
        self._hydrate(rid, data, partial)
        if "o:is_open" in data or not partial:
            is_open = int(truthy(data.get("o:is_open", False)))
            self.db.execute("UPDATE resource SET is_open = ? WHERE id = ?", (is_open, rid))

    def create_site(self, data: dict[str, Any]) -> int:
        errors: dict[str, list[Any]] = {}
        slug, title, theme = data.get("o:slug"), data.get("o:title"), data.get("o:theme")
        if not isinstance(slug, str) or not slug.strip():
            errors["o:slug"] = ["The slug cannot be empty."]
        elif self.db.execute("SELECT 1 FROM site WHERE slug = ?", (slug,)).fetchone():
            errors["o:slug"] = [f'The slug "{slug}" is already taken.']
        if not isinstance(title, str) or not title.strip():
            errors["o:title"] = ["A site must have a title."]
        if not isinstance(theme, str) or not theme.strip():
            errors["o:theme"] = ["A site must have a theme."]
        if errors:
            raise validation(errors)
        stamp = now()
        cursor = self.db.execute(
            "INSERT INTO site (slug, title, summary, theme, is_public, assign_new_items, created,"
            " modified) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                slug,
                title,
                data.get("o:summary"),
                theme,
                int(truthy(data.get("o:is_public", True))),
                int(truthy(data.get("o:assign_new_items", False))),
                stamp,
                stamp,
            ),
        )
        return int(cursor.lastrowid)

    # --- deletion ----------------------------------------------------------------------------

    def delete(self, kind: str, rid: int) -> None:
        if kind == "media":
            self.delete_media(rid)
            return
        if kind == "sites":
            self.db.execute("DELETE FROM item_site WHERE site_id = ?", (rid,))
            self.db.execute("DELETE FROM site WHERE id = ?", (rid,))
            return
        if kind == "items":
            for media in self.db.execute("SELECT id FROM resource WHERE item_id = ?", (rid,)):
                self.delete_media(media["id"])
            self.db.execute("DELETE FROM item_site WHERE item_id = ?", (rid,))
        self.db.execute(
            "DELETE FROM item_item_set WHERE item_id = ? OR item_set_id = ?", (rid, rid)
        )
        self._delete_resource(rid)

    def delete_media(self, rid: int) -> None:
        row = self.db.execute("SELECT filename FROM resource WHERE id = ?", (rid,)).fetchone()
        if row and row["filename"]:
            self.tx.doomed_files.append(row["filename"])
        self.db.execute(
            "UPDATE resource SET primary_media_id = NULL WHERE primary_media_id = ?", (rid,)
        )
        self._delete_resource(rid)

    def _delete_resource(self, rid: int) -> None:
        """Values pointing at the resource go too (Omeka's ON DELETE CASCADE)."""
        self.db.execute(
            "DELETE FROM value WHERE resource_id = ? OR value_resource_id = ?", (rid, rid)
        )
        self.db.execute("DELETE FROM resource WHERE id = ?", (rid,))
