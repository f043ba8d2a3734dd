"""ISO 5426 (extended Latin for bibliographic use), the legacy charset of UNIMARC 100$a "03".

Python has no codec for it. Its diacritics (0xC0-0xDF) are non-spacing and come *before* the
letter they sit on, the reverse of Unicode, so each is held back and emitted as a combining mark
after the next base character; NFC then composes what can be composed. Spacing characters follow
ISO-IR 53. Bytes the table does not define become U+FFFD so that `check` can report them.
"""

from __future__ import annotations

import unicodedata

_SPACING: dict[int, str] = {
    0xA1: "\u00a1", 0xA2: "\u201e", 0xA3: "\u00a3", 0xA4: "$", 0xA5: "\u00a5", 0xA6: "\u2020",
    0xA7: "\u00a7", 0xA8: "\u2032", 0xA9: "\u2018", 0xAA: "\u201c", 0xAB: "\u00ab",
    0xAC: "\u266d", 0xAD: "\u00a9", 0xAE: "\u2117", 0xAF: "\u00ae",
    0xB0: "\u02bb", 0xB1: "\u02bc", 0xB2: "\u201a", 0xB6: "\u2021", 0xB7: "\u00b7",
    0xB8: "\u2033", 0xB9: "\u2019", 0xBA: "\u201d", 0xBB: "\u00bb", 0xBC: "\u266f",
    0xBD: "\u02b9", 0xBE: "\u02ba", 0xBF: "\u00bf",
    0xE1: "\u00c6", 0xE2: "\u0110", 0xE6: "\u0132", 0xE8: "\u0141", 0xE9: "\u00d8",
    0xEA: "\u0152", 0xEC: "\u00de",
    0xF1: "\u00e6", 0xF2: "\u0111", 0xF3: "\u00f0", 0xF5: "\u0131", 0xF6: "\u0133",
    0xF8: "\u0142", 0xF9: "\u00f8", 0xFA: "\u0153", 0xFB: "\u00df", 0xFC: "\u00fe",
}  # fmt: skip

_COMBINING: dict[int, str] = {
    0xC0: "\u0309", 0xC1: "\u0300", 0xC2: "\u0301", 0xC3: "\u0302", 0xC4: "\u0303",
    0xC5: "\u0304", 0xC6: "\u0306", 0xC7: "\u0307", 0xC8: "\u0308", 0xC9: "\u0308",
    0xCA: "\u030a", 0xCB: "\u0315", 0xCC: "\u0313", 0xCD: "\u030b", 0xCE: "\u0310",
    0xCF: "\u030c", 0xD0: "\u0327", 0xD1: "\u0328", 0xD2: "\u0323", 0xD3: "\u0324",
    0xD4: "\u0325", 0xD5: "\u0333", 0xD6: "\u0332", 0xD7: "\u0326", 0xD8: "\u031c",
    0xD9: "\u032e", 0xDD: "\u0361", 0xDE: "\u0360",
}  # fmt: skip


def decode_iso5426(data: bytes) -> str:
    """Decode ISO 5426 bytes to NFC Unicode (ASCII and C0 controls pass through unchanged)."""
    if data.isascii():
        return data.decode("ascii")
    out: list[str] = []
    pending: list[str] = []  # diacritics waiting for their base letter
    for byte in data:
        if byte < 0x80:
            out.append(chr(byte))
        elif byte in _COMBINING:
            pending.append(_COMBINING[byte])
            continue
        else:
            out.append(_SPACING.get(byte, "\ufffd"))
        if pending:
            out.extend(pending)
            pending.clear()
    out.extend(pending)  # a trailing diacritic with no base: keep it rather than lose it
    return unicodedata.normalize("NFC", "".join(out))
