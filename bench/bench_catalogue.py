"""Read speed and memory of the catalogue room, on the real exports repeated into a big file.

usage: .venv/bin/python bench/bench_catalogue.py [--repeats N]

Prints records/s for ISO 2709 (UTF-8 only, and the mixed set with MARC-8 and code pages) and
MARCXML, and the peak traced memory for a small and a 10x larger file: a flat reader gives
nearly the same peak for both. The big file is written to a temporary folder and removed.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

from kitab.catalogue import open_catalogue

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
UTF8 = [
    "marc21-utf8-alma-bu-100recs-catmandu.mrc",
    "marc21-utf8-cjk-880-yaz-marccol1.marc",
    "marc21-utf8-many856-pymarc-regression45.dat",
    "unimarc-utf8-serials-sciencespo-first200.mrc",
]
MIXED = [
    *UTF8,
    "marc21-marc8-ansel-diacritics-marc4j-brkrtest.mrc",
    "unimarc-rusmarc-cp1251-nlr-81recs-irbis-TEST1.iso",
    "marc21-cp1251-russian-rkp-pymarc.dat",
]
XML = ["marcxml-marc21-collection-9recs-marc4j-sample1a.xml"]  # fmt: skip


def build(folder: Path, names: list[str], repeats: int, suffix: str) -> Path:
    target = folder / f"big{len(names)}x{repeats}{suffix}"
    if suffix == ".xml":
        body = (DATA / names[0]).read_text(encoding="utf-8")
        start, end = body.index("<marcxml:record>"), body.rindex("</marcxml:collection>")
        head, records, tail = body[:start], body[start:end], body[end:]
        target.write_text(head + records * repeats + tail, encoding="utf-8")
    else:
        blob = b"".join((DATA / n).read_bytes() for n in names)
        with target.open("wb") as out:
            for _ in range(repeats):
                out.write(blob)
    return target


def speed(path: Path) -> tuple[int, float, int]:
    start = time.perf_counter()
    catalogue = open_catalogue(path)
    count = sum(1 for _ in catalogue)
    return count, time.perf_counter() - start, path.stat().st_size


def peak(path: Path) -> int:
    tracemalloc.start()
    catalogue = open_catalogue(path)
    for _ in catalogue:
        pass
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return top


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50, help="copies of the real exports")
    repeats = parser.parse_args().repeats
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for label, names, suffix in (("ISO 2709 UTF-8", UTF8, ".mrc"),
                                     ("ISO 2709 mixed charsets", MIXED, ".mrc"),
                                     ("MARCXML", XML, ".xml")):  # fmt: skip
            path = build(folder, names, repeats, suffix)
            count, seconds, size = speed(path)
            print(f"{label:<24} {count:>7} records  {size / count:>6.0f} B/record  "
                  f"{count / seconds:>8.0f} records/s")  # fmt: skip
        small = build(folder, UTF8, max(1, repeats // 10), ".mrc")
        large = build(folder, UTF8, repeats, ".mrc")
        print(f"peak memory {small.stat().st_size >> 10} KiB file: {peak(small) >> 10} KiB; "
              f"{large.stat().st_size >> 10} KiB file: {peak(large) >> 10} KiB")  # fmt: skip


if __name__ == "__main__":
    main()
