"""A record's identity: the key that ties it to its repository item forever.

Default rule (``key_field`` unset or ``"001"``): the 001 control number, prefixed with the 003
control number identifier and a colon when the record is MARC 21 and has one
(``"DE-605:HT014020783"``), since a bare 001 is only unique inside the agency that assigned it.
UNIMARC's 003 is a persistent URI rather than an agency code, so UNIMARC keys are the 001
alone. A configured ``"TAG$c"`` takes the first such subfield (``"035$a"``, ``"999$c"``), a
configured ``"TAG"`` a control field. Surrounding white space is dropped; nothing else is
changed, so the same record always gives the same key.
"""

from __future__ import annotations

import pymarc

from kitab.model import Flavour


def parse_key_field(spec: str) -> tuple[str, str | None]:
    """("035", "a") from "035$a"; ValueError when the spec is not TAG or TAG$c."""
    tag, _, code = spec.strip().partition("$")
    if len(tag) != 3 or not tag.isalnum() or len(code) > 1 or (_ and not code):
        raise ValueError(f"key field must look like 001 or 035$a, not {spec!r}")
    return tag, code or None


def _first(marc: pymarc.Record, tag: str, code: str | None) -> str | None:
    for found in marc.get_fields(tag):
        if code is None:
            value = found.data if found.is_control_field() else found.value()
        else:
            value = next((sf.value for sf in found.subfields if sf.code == code), None)
        if value and value.strip():
            return value.strip()
    return None


def record_key(marc: pymarc.Record, flavour: Flavour, key_field: str | None = None) -> str | None:
    """The record's key by the rule above, or None when the record has none."""
    if key_field and key_field.strip() != "001":
        return _first(marc, *parse_key_field(key_field))
    control = _first(marc, "001", None)
    if control is None:
        return None
    agency = _first(marc, "003", None) if flavour is Flavour.MARC21 else None
    return f"{agency}:{control}" if agency else control
