"""How to read a catalogue export when the file itself cannot be trusted to say."""

from __future__ import annotations

from dataclasses import dataclass

from kitab.model import Flavour


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """Overrides for what kitab would otherwise detect.

    * ``flavour``: force MARC 21 or UNIMARC instead of deciding from the records.
    * ``encoding``: force a character encoding (``"UTF-8"``, ``"MARC-8"``, ``"ISO 5426"``,
      ``"CP1251"``, ``"CP866"``, ``"KOI8-R"``, ``"ISO 8859-5"`` or any Python codec name). A
      configured encoding always wins: no detection, no warning.
    * ``key_field``: where the record's identity comes from. ``"001"`` (the default) gives
      ``<003>:<001>`` when 003 is present and ``<001>`` alone otherwise; ``"TAG$c"`` (for example
      ``"035$a"`` or ``"999$c"``) takes the first such subfield; ``"TAG"`` a control field.
    """

    flavour: Flavour | None = None
    encoding: str | None = None
    key_field: str | None = None
