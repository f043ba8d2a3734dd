"""Preparing a repository for kitab: the metadata fields its crosswalks write must exist.

A fresh DSpace has no ``dc.subject.udc`` (most libraries in the region classify with UDC), and
DSpace refuses an item carrying an unknown field. ``kitab setup`` lists what is missing and,
with ``--apply``, registers it, as an administrator would on DSpace's registry page; ``kitab
push`` checks the same list before its first write, so a missing field stops the run once with
one clear message instead of failing every record.
"""

from __future__ import annotations

from kitab.config import Config
from kitab.connectors.base import Repository
from kitab.mappings import Crosswalk, default_crosswalk, load_crosswalk, render
from kitab.model import Flavour, Value
from kitab.sync.targets import NAMING


def crosswalks(config: Config) -> list[Crosswalk]:
    """The crosswalks a push may use: the configured one, or the default of each flavour."""
    if config.catalogue.crosswalk:
        return [load_crosswalk(config.catalogue.crosswalk)]
    flavours = [Flavour(config.catalogue.flavour)] if config.catalogue.flavour else list(Flavour)
    return [default_crosswalk(flavour) for flavour in flavours]


def crosswalk_fields(config: Config, kind: str) -> list[str]:
    """Every field name the crosswalks can write, in the target's naming."""
    neutral = {rule.to: [Value("x")] for cw in crosswalks(config) for rule in cw.rules}
    neutral["dc.identifier.other"] = [Value("x")]  # the identity always goes there
    return sorted(render(neutral, NAMING[kind]))


def missing_fields(config: Config, kind: str, repository: Repository) -> list[str]:
    """Fields the repository does not know yet ([] for repositories without a registry)."""
    check = getattr(repository, "missing_fields", None)
    return check(crosswalk_fields(config, kind)) if check is not None else []


def register_missing(config: Config, kind: str, repository: Repository) -> list[str]:
    """Register the missing fields; returns what was added."""
    missing = missing_fields(config, kind, repository)
    if missing:
        repository.register_fields(missing)  # type: ignore[attr-defined]
    return missing
