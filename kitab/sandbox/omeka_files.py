"""Uploaded files as Omeka S keeps them: sniffed, checked against the whitelists, stored.

Why sniff: Omeka S decides a file's media type from its bytes (PHP finfo), not from the name the
client gave, and refuses what its whitelists do not allow. kitab must see the same 422 for a
MARCXML sidecar or for garbage named ``.jpg`` that it would see from a real server.
Files are copied in chunks while hashing, so a large scan never sits in memory.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 16

# Omeka S's default whitelists (Admin → Settings → Security), trimmed to common types.
MEDIA_TYPE_WHITELIST = frozenset(
    [
        "application/msword",
        "application/ogg",
        "application/pdf",
        "application/rtf",
        "application/zip",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "audio/mpeg",
        "audio/mp4",
        "audio/ogg",
        "audio/wav",
        "audio/x-wav",
        "audio/flac",
        "audio/x-flac",
        "audio/webm",
        "image/bmp",
        "image/gif",
        "image/jp2",
        "image/jpeg",
        "image/pjpeg",
        "image/png",
        "image/tiff",
        "image/webp",
        "image/x-icon",
        "text/plain",
        "text/csv",
        "text/rtf",
        "video/mp4",
        "video/mpeg",
        "video/ogg",
        "video/quicktime",
        "video/webm",
        "video/x-msvideo",
        "video/x-matroska",
    ]
)
EXTENSION_WHITELIST = frozenset(
    [
        "aac",
        "aif",
        "aiff",
        "avi",
        "bmp",
        "csv",
        "doc",
        "docx",
        "flac",
        "gif",
        "ico",
        "j2k",
        "jp2",
        "jpe",
        "jpeg",
        "jpg",
        "m4a",
        "m4v",
        "mkv",
        "mov",
        "mp2",
        "mp3",
        "mp4",
        "mpeg",
        "mpg",
        "odp",
        "ods",
        "odt",
        "oga",
        "ogg",
        "ogv",
        "opus",
        "pdf",
        "png",
        "ppt",
        "pptx",
        "rtf",
        "tif",
        "tiff",
        "txt",
        "wav",
        "webm",
        "webp",
        "xls",
        "xlsx",
        "zip",
    ]
)
# What a media type resolves to when the client's file name has no extension.
EXTENSION_FOR_TYPE = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/tiff": "tiff",
    "image/jp2": "jp2",
    "image/webp": "webp",
    "image/bmp": "bmp",
    "application/pdf": "pdf",
    "audio/mpeg": "mp3",
    "audio/x-wav": "wav",
    "audio/ogg": "ogg",
    "audio/flac": "flac",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/webm": "webm",
    "text/plain": "txt",
    "text/xml": "xml",
    "application/zip": "zip",
}
THUMBNAILED = ("image/",)  # what the sandbox claims ImageMagick would thumbnail


def sniff(head: bytes) -> str:
    """The media type the first bytes of a file announce, as finfo would name it."""
    signatures = (
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"II*\x00", "image/tiff"),
        (b"MM\x00*", "image/tiff"),
        (b"%PDF-", "application/pdf"),
        (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "image/jp2"),
        (b"ID3", "audio/mpeg"),
        (b"fLaC", "audio/flac"),
        (b"OggS", "audio/ogg"),
        (b"\x1aE\xdf\xa3", "video/webm"),
        (b"PK\x03\x04", "application/zip"),
        (b"{\\rtf", "text/rtf"),
    )
    for magic, media_type in signatures:
        if head.startswith(magic):
            return media_type
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"WAVE", b"AVI "):
        return {b"WEBP": "image/webp", b"WAVE": "audio/x-wav", b"AVI ": "video/x-msvideo"}[
            head[8:12]
        ]
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:10] == b"qt" else "video/mp4"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06:
        return "audio/mpeg"
    return _sniff_text(head)


def _sniff_text(head: bytes) -> str:
    if not head or b"\x00" in head:
        return "application/octet-stream" if head else "application/x-empty"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # not merely a character cut at the end of the sample
            return "application/octet-stream"
        text = head[: error.start].decode("utf-8")
    if any(ord(c) < 32 and c not in "\t\r\n\f" for c in text):
        return "application/octet-stream"
    stripped = text.lstrip()
    if stripped.startswith("<?xml") or stripped.startswith("<record") or "<collection" in text:
        return "text/xml"
    return "text/plain"


def validation_errors(client_name: str, media_type: str, extension: str) -> list[str]:
    """Omeka's two messages, media type first; empty when the file may be stored."""
    errors = []
    if media_type not in MEDIA_TYPE_WHITELIST:
        errors.append(
            f'Error validating "{client_name}". '
            f'Cannot store files with the media type "{media_type}".'
        )
    if extension not in EXTENSION_WHITELIST:
        errors.append(
            f'Error validating "{client_name}". '
            f'Cannot store files with the resolved extension "{extension}".'
        )
    return errors


def resolve_extension(client_name: str, media_type: str) -> str:
    suffix = Path(client_name).suffix.lstrip(".").lower()
    return suffix or EXTENSION_FOR_TYPE.get(media_type, "")


@dataclass
class StoredFile:
    storage_id: str  # random 40-hex name, as Omeka's sha1-like storage ids
    extension: str
    media_type: str
    sha256: str
    size: int
    path: Path

    @property
    def filename(self) -> str:
        return f"{self.storage_id}.{self.extension}" if self.extension else self.storage_id


class FileStore:
    """data_dir/files/original/<40 hex>.<ext>; written through a temp name, then renamed."""

    def __init__(self, root: Path) -> None:
        self.original = root / "files" / "original"
        self.original.mkdir(parents=True, exist_ok=True)

    def path(self, filename: str) -> Path | None:
        """The stored file for a public URL name, or None (never escapes the directory)."""
        if not filename or "/" in filename or filename.startswith("."):
            return None
        candidate = self.original / filename
        return candidate if candidate.is_file() else None

    def put(self, stream: BinaryIO, client_name: str) -> tuple[StoredFile, list[str]]:
        """Copy ``stream`` in; returns the file and the validation errors (file removed then)."""
        storage_id = secrets.token_hex(20)
        temp = self.original / f".{storage_id}.part"
        digest, size, head = hashlib.sha256(), 0, b""
        with temp.open("wb") as out:
            while chunk := stream.read(CHUNK):
                if len(head) < 512:
                    head += chunk[: 512 - len(head)]
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        media_type = sniff(head)
        extension = resolve_extension(client_name, media_type)
        errors = validation_errors(client_name, media_type, extension)
        stored = StoredFile(storage_id, extension, media_type, digest.hexdigest(), size, temp)
        if errors:
            temp.unlink(missing_ok=True)
            return stored, errors
        stored.path = self.original / stored.filename
        os.replace(temp, stored.path)
        return stored, []

    def remove(self, filename: str | None) -> None:
        if filename:
            path = self.path(filename)
            if path is not None:
                path.unlink(missing_ok=True)
