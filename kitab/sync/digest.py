"""Source digests: telling that a record needs nothing without mapping it.

Planning a record the ordinary way builds its pymarc record, maps it, hashes the metadata and
compares its scans, which over a large catalogue costs far more than reading its bytes. Yet the
plan is a deterministic function of a few inputs, and when none of them changed since the link
was last known to be in step, neither did the answer. A *source digest* is a hash of all of them:

* the record's source: its original ISO 2709 bytes, or for MARCXML (no bytes kept) a canonical
  serialisation of the decoded record; with its flavour and encoding, which the reader decides
  partly from other records of the file;
* the set-up it is planned under: the crosswalk (its compiled rules, so a library file's
  ``extends`` chain counts), the target's kind and containers, routing and rights rules, reading
  options and scan matching strategies, the pymarc version and the source of the kitab modules
  that read, map and plan records (so an upgrade, or an edited module, re-plans everything);
* the record's scans as matched now: each path with its size and mtime_ns, the same test the
  checksum cache trusts;

and, *sealed* into it, what the plan compares them with: the link's item, metadata hash,
visibility and files. A push stores the sealed digest only when the link it saves is in step
with the record (kitab.sync.push); planning then answers ``unchanged`` when the digest it
computes is the one stored. Whatever else happens to a link (a pull, a conflict, a relink)
either clears the digest or changes what is sealed, so the fast path falls back to the
ordinary one rather than trusting a stale answer.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from functools import cache
from importlib.metadata import version
from pathlib import Path

import kitab
from kitab.config import Config, TargetConfig
from kitab.mappings import Crosswalk
from kitab.model import Flavour, Record
from kitab.sync.state import Link

#: the modules whose code decides what a record maps to and how it is planned
_DECIDING = (
    "catalogue",
    "mappings",
    "model.py",
    "config.py",
    "sync/plan.py",
    "sync/rules.py",
    "sync/merge.py",
    "sync/digest.py",
)


@cache
def code_fingerprint() -> str:
    """kitab's and pymarc's versions and the bytes of the deciding modules (once a process)."""
    digest = hashlib.sha256(f"kitab {kitab.__version__} pymarc {version('pymarc')}".encode())
    root = Path(kitab.__file__).parent
    for name in _DECIDING:
        path = root / name
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if file.suffix in (".py", ".toml") and file.is_file():
                digest.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def setup_fingerprint(
    config: Config, target: TargetConfig, repository_kind: str, crosswalk: Crosswalk
) -> bytes:
    """Everything besides the record that its plan on this target depends on."""
    catalogue = config.catalogue
    scans = config.scans.match if config.scans is not None else None
    parts = (
        code_fingerprint(),
        repr(crosswalk),
        target.kind,
        repository_kind,
        repr(target.container),
        repr(target.routes),
        repr(config.rights),
        repr((catalogue.flavour, catalogue.encoding, catalogue.key_field, scans)),
    )
    return "\0".join(parts).encode("utf-8", "surrogatepass")


def canonical_source(record: Record) -> bytes:
    """The record's original bytes, or an unambiguous serialisation of what was decoded."""
    if record.raw is not None:
        return b"iso2709\0" + record.raw
    marc = record.marc
    fields = [
        [f.tag, f.data]
        if f.control_field
        else [f.tag, f.indicator1, f.indicator2, [[s.code, s.value] for s in f.subfields]]
        for f in marc.fields
    ]
    text = json.dumps([str(marc.leader), fields], ensure_ascii=False, separators=(",", ":"))
    return b"decoded\0" + text.encode("utf-8", "surrogatepass")


class SourceDigests:
    """Digests of records planned under one set-up; crosswalks are per flavour."""

    def __init__(self, setups: dict[Flavour, bytes]) -> None:
        self._base = {flavour: hashlib.sha256(setup) for flavour, setup in setups.items()}

    def record(self, record: Record, scans: Sequence[Path]) -> str:
        """The digest of the record, its set-up and its scans as they are now."""
        digest = self._base[record.flavour].copy()
        digest.update(f"\0{record.flavour.value}\0{record.encoding}\0".encode())
        digest.update(canonical_source(record))
        for path in scans:
            stat = os.stat(path)
            digest.update(f"\0{path}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
        return digest.hexdigest()


def seal(record_digest: str, link: Link) -> str:
    """The record's digest bound to the link state the plan compares it with."""
    files = [[f.name, f.remote_id, f.checksum, f.size] for f in link.files]
    state = json.dumps(
        [record_digest, link.item_id, link.metadata_hash, link.public, files], ensure_ascii=False
    )
    return hashlib.sha256(state.encode("utf-8", "surrogatepass")).hexdigest()
