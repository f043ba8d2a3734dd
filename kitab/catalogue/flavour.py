"""Telling MARC 21 from UNIMARC by what the records contain, not by the file's name.

Each record gets a score: positive means UNIMARC, negative MARC 21. UNIMARC's evidence is a
200 title field and a 100$a that starts with an 8-digit date (its "general processing data");
MARC 21's is a 245 title and a 40-character 008. A file's flavour is decided once, from the sum
over its first records, so one odd record does not flip a whole catalogue; records that later
disagree strongly are counted and reported as a mixed file.
"""

from __future__ import annotations

from kitab.model import Flavour

#: a record scoring at least this much the other way is reported as "mixed"
STRONG = 3


def score(leader: str, fields: list[tuple[str, bytes]]) -> int:
    """Evidence for UNIMARC (> 0) or MARC 21 (< 0) in one undecoded record."""
    points = 0
    for tag, data in fields:
        if tag == "245":
            points -= 3
        elif tag == "008":
            points -= 3 if len(data) == 40 else 1
        elif tag == "200" and b"\x1fa" in data:
            points += 3
        elif tag == "100":
            start = data.find(b"\x1fa")
            value = data[start + 2 : start + 10] if start >= 0 else b""
            points += 3 if len(value) == 8 and value.isdigit() else -1 if start >= 0 else 0
        elif tag == "801":
            points += 1
        elif tag == "040":
            points -= 1
    if leader[9:10] == "a":
        points -= 1  # MARC 21's "UCS/Unicode"; undefined (blank) in UNIMARC
    return points


def decide(total: int) -> Flavour | None:
    """The flavour a summed score points to, or None when the records say nothing."""
    if total > 0:
        return Flavour.UNIMARC
    if total < 0:
        return Flavour.MARC21
    return None
