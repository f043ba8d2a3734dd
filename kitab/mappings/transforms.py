"""Value transforms a crosswalk rule can name: ISBD trimming, dates, ISBN/ISSN, language codes.

Each transform takes the text of one value and returns the text to keep, or None when the value
carries nothing worth keeping (a fill character, a blank date). They are plain functions on str,
with str methods rather than regular expressions where that is enough, because they run once per
value of every record and the crosswalk must map tens of thousands of records a second.
"""

from __future__ import annotations

from collections.abc import Callable

Transform = Callable[[str], str | None]

#: Words that end with a full stop because they are abbreviations, kept when they end a value.
#: Words of one or two letters ("J.", "ed.", "cm.", "Сб.") and words with a dot inside ("В.П.")
#: are recognised without the list; these are the common longer ones in English, Russian and the
#: region's catalogues.
ABBREVIATIONS = frozenset(
    [
        "etc",
        "eds",
        "inc",
        "ltd",
        "corp",
        "dept",
        "vol",
        "vols",
        "illus",
        "approx",
        "publ",
        "col",
        "cols",
        "fig",
        "figs",
        "pbk",
        "hbk",
        "rev",
        "comp",
        "trans",
        "repr",
        "suppl",
        "ser",
        "pts",
        "изд",
        "ред",
        "сост",
        "пер",
        "вып",
        "доп",
        "испр",
        "перераб",
        "обл",
        "илл",
        "прил",
        "тир",
        "отв",
        "гос",
        "авт",
    ]
)


def isbd_trim(text: str) -> str | None:
    """Strip ISBD punctuation from the edges of a value, as a cataloguer reading DC expects.

    A final full stop goes after a word ("Fiction." → "Fiction", "2013." → "2013") but stays
    after an initial or abbreviation ("Smith, J.", "21 cm.", "Андрущенко В.П."), because there it
    is part of the word, and an ellipsis stays whole.
    """
    text = text.strip()
    while text:
        last = text[-1]
        if (last in _MARKS and (len(text) == 1 or text[-2] == " " or last == ",")) or (
            last == "." and not text.endswith("..") and _drops_final_stop(text)
        ):
            text = text[:-1].rstrip()
        elif text[0] in _MARKS and (len(text) == 1 or text[1] == " "):
            text = text[1:].lstrip()
        else:
            return text
    return None


#: ISBD punctuation a cataloguer types between elements (" /" before the statement of
#: responsibility, " :" before other title information...). It ends a subfield in MARC 21 and
#: sometimes starts one in UNIMARC exports; at the edge of a value it is only noise. Only a mark
#: set off by a space counts (a comma needs none), so "C++" or "AC/DC" keep theirs.
_MARKS = frozenset("/:;=,+")


def _drops_final_stop(text: str) -> bool:
    body = text[:-1]
    space = body.rfind(" ")
    word = body[space + 1 :].lstrip("([\"'«")
    if not word or "." in word:
        return not word
    if len(word) <= 6 and 0 < sum(1 for ch in word if ch.isalpha()) <= 2:
        return False  # an initial or a short abbreviation ("J.", "cm.", "I︠U︡.")
    return word.lower() not in ABBREVIATIONS


def iso_date(text: str) -> str | None:
    """A publication date in ISO 8601 where the record allows it, otherwise the text as written.

    "c2013." and "[1997]" give "2013" and "1997"; "20140514" gives "2014-05-14". A date with no
    single clear year ("[197-?]", "1997-1999") is kept as the cataloguer wrote it rather than
    guessed at or lost.
    """
    trimmed = isbd_trim(text)
    if trimmed is None:
        return None
    digits = trimmed.strip("[]()")
    if len(digits) == 8 and digits.isdigit():
        month, day = int(digits[4:6]), int(digits[6:8])
        if 1 <= month <= 12 and 1 <= day <= 31:
            return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
    if len(digits) == 10 and digits[4] == "-" and digits[7] == "-":
        return digits
    written_out = _day_month_year(trimmed)
    if written_out:
        return written_out
    runs = _digit_runs(trimmed)
    if len(runs) == 1 and len(runs[0]) == 4:
        return runs[0]
    return trimmed


_MONTHS = {
    name: n
    for n, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}


def _day_month_year(text: str) -> str | None:
    """ "03 Nov 2008" → "2008-11-03", "Nov. 2008" → "2008-11": dates written out in English."""
    words = text.replace(",", " ").replace(".", " ").split()
    months = [_MONTHS[w.lower()] for w in words if w.lower() in _MONTHS]
    years = [w for w in words if len(w) == 4 and w.isdigit()]
    days = [w for w in words if len(w) <= 2 and w.isdigit() and 1 <= int(w) <= 31]
    if len(months) != 1 or len(years) != 1 or len(words) != 2 + len(days) or len(days) > 1:
        return None
    month = f"{years[0]}-{months[0]:02d}"
    return f"{month}-{int(days[0]):02d}" if days else month


def _digit_runs(text: str) -> list[str]:
    runs: list[str] = []
    current: list[str] = []
    for ch in text:
        if ch.isdigit():
            current.append(ch)
        elif current:
            runs.append("".join(current))
            current = []
    if current:
        runs.append("".join(current))
    return runs


def year(text: str) -> str | None:
    """A four-digit year from a fixed-length date position, or None for blanks and "19uu"."""
    text = text.strip()
    return text if len(text) == 4 and text.isdigit() and text != "0000" else None


def isbn(text: str) -> str | None:
    """An ISBN without hyphens, spaces or qualifiers ("978-5-9916-1662-1 (pbk.)" → 13 digits).

    ISBN-10s stay ISBN-10s: the value must still say what the record says so a write-back can
    restore it. Text that holds no ISBN-shaped number is kept trimmed rather than dropped.
    """
    text = text.strip()
    compact: list[str] = []
    for ch in text:
        if ch.isdigit() or ch in "Xx":
            compact.append(ch.upper())
        elif ch in "- ":
            continue
        else:
            break
    candidate = "".join(compact)
    if len(candidate) in (10, 13) and candidate[:-1].isdigit():
        return candidate
    return text or None


def issn(text: str) -> str | None:
    """An ISSN in its standard NNNN-NNNC form, or the text trimmed when it is not one."""
    text = text.strip()
    compact = text.replace("-", "").replace(" ", "")[:8].upper()
    if len(compact) == 8 and compact[:7].isdigit() and (compact[7].isdigit() or compact[7] == "X"):
        return f"{compact[:4]}-{compact[4:]}"
    return text or None


def language_code(text: str) -> str | None:
    """A 3-letter ISO 639-2 code as the record gives it, lowercased; fill characters give None."""
    text = text.strip().lower()
    return text if len(text) == 3 and text.isalpha() else None


def strip(text: str) -> str | None:
    """Whitespace trimmed; an empty value is no value."""
    return text.strip() or None


TRANSFORMS: dict[str, Transform] = {
    "isbd-trim": isbd_trim,
    "date": iso_date,
    "year": year,
    "isbn": isbn,
    "issn": issn,
    "lang": language_code,
    "strip": strip,
}
