"""Converting a stream of records: map each with its crosswalk and hand it to a writer.

A record that cannot be mapped (a crosswalk for the other flavour, data the engine chokes on) is
reported with its position and key and skipped; the rest of the catalogue goes through.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from kitab.catalogue.report import Problem
from kitab.mappings.crosswalk import Crosswalk, default_crosswalk
from kitab.mappings.engine import map_record
from kitab.mappings.writers import Writer
from kitab.model import Record


@dataclass(slots=True)
class ConvertResult:
    """What a conversion did: records written, and the ones it had to leave out."""

    written: int = 0
    problems: list[Problem] = field(default_factory=list)


def convert_records(
    records: Iterable[Record],
    writer: Writer,
    crosswalk: Crosswalk | None = None,
    result: ConvertResult | None = None,
) -> ConvertResult:
    """Map and write every record; ``crosswalk`` None picks the built-in for each record's flavour.

    ``result`` may be passed in so a caller can read the counts even if the stream it is reading
    fails part way.
    """
    result = result if result is not None else ConvertResult()
    for record in records:
        chosen = crosswalk or default_crosswalk(record.flavour)
        if chosen.flavour is not record.flavour:
            reason = (
                f"the record is {record.flavour.label} but crosswalk {chosen.name!r} is for "
                f"{chosen.flavour.label}"
            )
            result.problems.append(Problem(record.source, reason, key=record.key))
            continue
        try:
            metadata = map_record(record, chosen)
        except (ValueError, TypeError, IndexError, AttributeError, KeyError) as err:
            # Data no rule foresaw must not cost the rest of the catalogue its conversion.
            reason = f"cannot map with {chosen.name!r}: {type(err).__name__}: {err}"
            result.problems.append(Problem(record.source, reason, key=record.key))
            continue
        writer.write(record, metadata)
        result.written += 1
    return result
