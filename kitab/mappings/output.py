"""Where a conversion's output goes: a file replaced only once complete, or standard output.

A half-written output file is worse than none (a repository import would take it for the whole
catalogue), so files are written beside the destination under a temporary name and moved into
place at the end. MARCXML is written by the catalogue room's writer, which owns MARC output.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from kitab.catalogue import write_records
from kitab.mappings.convert import ConvertResult, convert_records
from kitab.mappings.crosswalk import Crosswalk
from kitab.mappings.writers import WRITERS
from kitab.model import Record


def write_converted(
    records: Iterable[Record], fmt: str, crosswalk: Crosswalk | None, output: Path | None
) -> ConvertResult:
    """Convert ``records`` to ``fmt`` into ``output`` (None: standard output)."""
    if fmt == "marcxml":
        return _marcxml(records, output)
    make_writer = WRITERS[fmt]
    result = ConvertResult()
    if output is None:
        stream = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", write_through=False)
        try:
            with make_writer(stream) as writer:
                convert_records(records, writer, crosswalk, result)
        finally:
            stream.flush()
            stream.detach()
        return result
    with (
        _replacing(output) as temp,
        temp.open("w", encoding="utf-8", newline="\n") as stream,
        make_writer(stream) as writer,
    ):
        convert_records(records, writer, crosswalk, result)
    return result


def _marcxml(records: Iterable[Record], output: Path | None) -> ConvertResult:
    result = ConvertResult()

    def counted() -> Iterator[Record]:
        for record in records:
            result.written += 1
            yield record

    if output is not None:
        with _replacing(output) as temp:
            write_records(counted(), temp, "marcxml")
        return result
    # The writer wants a path (it writes atomically); standard output gets a copy of a temp file.
    with tempfile.TemporaryDirectory(prefix="kitab-convert-") as folder:
        temp = Path(folder) / "records.xml"
        write_records(counted(), temp, "marcxml")
        with temp.open("rb") as source:
            shutil.copyfileobj(source, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    return result


class _replacing:
    """A fresh path beside ``target`` (in a private temporary folder), moved onto ``target`` when
    the block ends without error; removed with its folder either way."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.folder = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        self.temp = self.folder / target.name

    def __enter__(self) -> Path:
        return self.temp

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        try:
            if kind is None:
                os.replace(self.temp, self.target)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
