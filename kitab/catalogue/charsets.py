"""Which character encoding a record's bytes are in, and turning them into NFC Unicode.

The declaration (MARC 21 leader/09, UNIMARC 100$a/26-29) comes first, but exports lie: Alma
writes UTF-8 under a blank leader/09, Russian systems write Windows-1251 under a MARC-8 leader,
RUSMARC files claim code 89 (Windows-1251) over UTF-8 bytes. So the declaration is checked
against the bytes, and whenever the bytes win, the caller gets a note saying what was declared
and what was used, so the decision is reported rather than silent. A configured encoding is
never second-guessed.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from functools import cache

from pymarc.marc8 import MARC8ToUnicode

from kitab.catalogue.iso5426 import decode_iso5426

ASCII = "ASCII"  # a record with no 8-bit byte reads the same in every encoding
UTF8 = "UTF-8"
MARC8 = "MARC-8"
ISO5426 = "ISO 5426"
CP1251 = "CP1251"
CP866 = "CP866"
KOI8R = "KOI8-R"
ISO8859_5 = "ISO 8859-5"

#: usual name → Python codec, for the encodings Python decodes itself
_CODECS = {UTF8: "utf-8", CP1251: "cp1251", CP866: "cp866", KOI8R: "koi8_r", ISO8859_5: "iso8859_5"}
_ALIASES = {
    "utf8": UTF8, "utf-8": UTF8, "marc8": MARC8, "marc-8": MARC8, "ansel": MARC8,
    "iso5426": ISO5426, "iso-5426": ISO5426, "iso 5426": ISO5426,
    "cp1251": CP1251, "windows-1251": CP1251, "win1251": CP1251, "win-1251": CP1251,
    "cp866": CP866, "ibm866": CP866, "koi8-r": KOI8R, "koi8r": KOI8R, "koi8_r": KOI8R,
    "iso8859-5": ISO8859_5, "iso-8859-5": ISO8859_5, "iso 8859-5": ISO8859_5,
}  # fmt: skip

#: UNIMARC 100$a/26-27 and 28-29 (UNIMARC Manual, Appendix J). "89" is the RUSMARC extension
#: for Windows-1251 (seen with Windows-1251 bytes in the National Library of Russia's export).
#: 02 (ISO-IR 37, 7-bit KOI-7) and the other ISO sets have no decoder here: such records fall
#: back to detection, with a note.
UNIMARC_CHARSETS = {
    "01": "ISO 646", "02": "ISO-IR 37", "03": ISO5426, "04": "ISO 5427", "05": "ISO 5428",
    "06": "ISO 6438", "07": "ISO 10586", "08": "ISO 8957", "09": "ISO 8957", "11": "ISO 5426-2",
    "50": UTF8, "89": CP1251,
}  # fmt: skip

_CYRILLIC_CANDIDATES = (CP1251, CP866, KOI8R, ISO8859_5)
# Letter frequencies of Russian text (per cent), the yardstick for "plausible Cyrillic".
_FREQ = dict(
    zip(
        "оеаинтсрвлкмдпуяыьгзбчйхжшюцщэфъёіїєґў",
        (
            10.97,
            8.45,
            8.01,
            7.35,
            6.70,
            6.26,
            5.47,
            4.73,
            4.54,
            4.40,
            3.49,
            3.21,
            2.98,
            2.81,
            2.62,
            2.01,
            1.90,
            1.74,
            1.70,
            1.65,
            1.59,
            1.44,
            1.21,
            0.97,
            0.94,
            0.73,
            0.64,
            0.48,
            0.36,
            0.32,
            0.26,
            0.04,
            0.04,
            1.0,
            0.3,
            0.3,
            0.1,
            0.2,
        ),
        strict=True,
    )
)
_HIGH_RUN = re.compile(rb"[\x80-\xff]{2,}")
# the converter may have put a preceding diacritic after the "&": it belongs to the character
_NCR = re.compile("&([\u0300-\u036f]*)#x([0-9A-Fa-f]{2,6});")


class UndecodableError(ValueError):
    """The bytes are not text in the encoding being used."""


def canonical_name(name: str) -> str:
    """The usual name for an encoding a person typed; ValueError if Python cannot decode it."""
    key = name.strip().lower()
    if key in _ALIASES:
        return _ALIASES[key]
    try:
        return codecs.lookup(key).name.upper()
    except LookupError:
        raise ValueError(f"unknown character encoding: {name!r}") from None


def unimarc_declared(field_100a: str | None) -> tuple[str | None, str | None]:
    """(encoding, note) declared by UNIMARC 100$a/26-29; note explains a code kitab can't use."""
    if field_100a is None or len(field_100a) < 28:
        return None, "no 100$a/26-29 character set declared"
    g0, g1 = field_100a[26:28], field_100a[28:30].strip()
    if g0 == "50" or g1 == "50":
        return UTF8, None
    if g0 == "89" or g1 == "89":
        return CP1251, None
    if g0 == "03" or g1 == "03":
        return ISO5426, None
    if g0 == "01" and not g1:
        return "ISO 646", None  # plain ASCII: any high byte means the declaration is wrong
    name = UNIMARC_CHARSETS.get(g0) or UNIMARC_CHARSETS.get(g1)
    return None, f"100$a/26-29 = {field_100a[26:30]!r} ({name or 'unknown code'}) has no decoder"


def _cyrillic_score(counts: Counter[int], total_high: int, encoding: str) -> float:
    """Mean letter frequency of the high bytes read in `encoding`; uppercase counts a third."""
    codec = _CODECS[encoding]
    score = 0.0
    for byte, n in counts.items():
        char = bytes([byte]).decode(codec, errors="replace")
        freq = _FREQ.get(char.lower(), -2.0)
        score += n * (freq if char.islower() else freq / 3)
    return score / total_high


def guess_cyrillic(data: bytes) -> str | None:
    """The single-byte Cyrillic code page these bytes most plausibly are, or None.

    Cyrillic words are runs of high bytes, whereas MARC-8/ISO 5426 diacritics sit alone in
    front of ASCII letters; so most high bytes must be in runs before code pages are compared.
    """
    counts = Counter(data)
    total_high = sum(n for b, n in counts.items() if b >= 0x80)
    if total_high < 4:
        return None
    in_runs = sum(len(run) for run in _HIGH_RUN.findall(data))
    if in_runs < 0.6 * total_high:
        return None
    high_counts = Counter({b: n for b, n in counts.items() if b >= 0x80})
    scored = sorted((_cyrillic_score(high_counts, total_high, e), e) for e in _CYRILLIC_CANDIDATES)
    best_score, best = scored[-1]
    return best if best_score >= 3.0 else None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def choose_encoding(data: bytes, declared: str | None, default: str) -> tuple[str, str | None]:
    """(encoding to use, note when the bytes overrode the declaration) for one record's bytes.

    `declared` is what the record says (None when it says nothing usable); `default` is what
    the flavour implies when it says nothing (MARC-8 for MARC 21, ISO 5426 for UNIMARC).
    """
    stated = declared or default
    if data.isascii() and b"\x1b" not in data:
        return ASCII, None  # the same bytes in every encoding here: nothing to detect
    said = f"declared {declared}" if declared else "no usable declaration"
    if b"\x1b" not in data and _is_utf8(data):
        return UTF8, (None if stated == UTF8 else f"{said}, but the bytes are UTF-8: read as UTF-8")
    if stated == MARC8 and b"\x1b" in data:
        return MARC8, None
    if stated in (MARC8, UTF8, ISO5426, "ISO 646"):
        cyrillic = guess_cyrillic(data)
        if cyrillic:
            return (
                cyrillic,
                f"{said}, but the bytes read as {cyrillic} Cyrillic: read as {cyrillic}",
            )
    if stated == "ISO 646":
        return ISO5426, f"{said} (plain ASCII), but there are 8-bit bytes: read as {ISO5426}"
    if declared is None:
        return default, f"{said}: read as {default}"
    return stated, None


def _ncr(match: re.Match[str]) -> str:
    return chr(int(match.group(2), 16)) + match.group(1)


def _decode_marc8(data: bytes) -> str:
    if data.isascii() and b"\x1b" not in data and b"&#x" not in data:
        return data.decode("ascii")
    # pymarc's converter drops C0 controls, so subfields are translated one by one with one
    # converter per field: escape sequences stay in force across subfield delimiters.
    # It also writes to stderr on a truncated multibyte character; the library must stay quiet.
    converter = MARC8ToUnicode(quiet=True)
    with contextlib.redirect_stderr(io.StringIO()):
        first, *rest = data.split(b"\x1f")
        parts = [converter.translate(first)]  # indicators (or control field data)
        # the code byte is ASCII whatever set is in force: translate only the value after it
        parts.extend(p[:1].decode("latin-1") + converter.translate(p[1:]) for p in rest)
        text = "\x1f".join(parts)
    if "&#x" in text:  # MARC-8's lossless convention: characters outside it as &#xXXXX;
        text = unicodedata.normalize("NFC", _NCR.sub(_ncr, text))
    return text


def _codec_decoder(codec: str) -> Callable[[bytes], str]:
    def decode(data: bytes) -> str:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError as err:
            bad = data[err.start : err.start + 4]
            raise UndecodableError(f"byte {err.start}: {bad!r} is not {codec}") from None
        return text if text.isascii() else unicodedata.normalize("NFC", text)

    return decode


_DECODERS_BY_NAME: dict[str, Callable[[bytes], str]] = {
    MARC8: _decode_marc8,
    ISO5426: decode_iso5426,
    "ISO 646": _codec_decoder("ascii"),
    ASCII: _codec_decoder("ascii"),
    **{name: _codec_decoder(codec) for name, codec in _CODECS.items()},
}


#: Decoders for which decoding fields joined by 0x1E equals joining the decoded fields: the
#: codecs map 0x1E/0x1F to themselves and never make them part of a multibyte character, and
#: NFC does not compose across a control character. A record in one of these is decoded in one
#: call instead of one per field. MARC-8 and ISO 5426 carry escape state, so they stay per field.
_WHOLE = frozenset(_DECODERS_BY_NAME[name] for name in (*_CODECS, ASCII, "ISO 646"))


def decodes_whole(decode: Callable[[bytes], str]) -> bool:
    """Whether ``decode`` may be given a whole data area (fields and terminators) at once."""
    return decode in _WHOLE


@cache
def decoder_for(encoding: str) -> Callable[[bytes], str]:
    """A function turning one field's bytes into NFC text (0x1F delimiters kept)."""
    if encoding in _DECODERS_BY_NAME:
        return _DECODERS_BY_NAME[encoding]
    return _codec_decoder(codecs.lookup(encoding).name)
