"""How fast kitab reads and maps a large catalogue, and whether its memory stays flat.

    python bench/convert.py [SIZE ...] [--flavour marc21|unimarc]   (default: 100000)

For each size, a file of that many records is built in a temporary folder by repeating the real
records of /work/shared/data (re-encoded to UTF-8 ISO 2709), then each phase runs in a fresh
process so its peak memory (ru_maxrss) is its own:

* pymarc   plain ``pymarc.MARCReader`` over the same file, for comparison;
* read     ``open_catalogue`` alone (detection, decoding, NFC, keys), records built lazily:
           what a no-op push pays;
* parse    read + every record built as a pymarc record: the figure to compare with pymarc;
* map      read + crosswalk (no output), the figure the sync engine's planner pays;
* convert  read + map + serialise as JSON Lines to /dev/null, what ``kitab convert`` does.

Figures are printed, never asserted. Target: map ≥ 20,000 records/s on one core, memory flat.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))

SOURCES = {
    "marc21": [
        "marc21-marc8-cyrillic-880-marc4j.mrc",
        "marc21-cp1251-russian-rkp-pymarc.dat",
        "marc21-utf8-alma-bu-100recs-catmandu.mrc",
        "marc21-utf8-many856-pymarc-regression45.dat",
        "marc21-utf8-indic-880-yaz-marccol5.marc",
        "marc21-utf8-cjk-880-yaz-marccol1.marc",
        "marc21-utf8-oclc-connexion-marc4j.mrc",
    ],
    "unimarc": [
        "unimarc-rusmarc-cp1251-nlr-81recs-irbis-TEST1.iso",
        "unimarc-rusmarc-utf8-856-urait.iso",
        "unimarc-utf8-greek-catmandu-dollar.mrc",
        "unimarc-utf8-sbn-italian-lf-separated-5recs.mrc",
        "unimarc-utf8-serials-sciencespo-first200.mrc",
    ],
}
PHASES = ("pymarc", "read", "parse", "map", "convert")


def build(path: Path, size: int, flavour: str) -> int:
    """Write ``size`` records to ``path`` by cycling through the real ones; returns its bytes."""
    from kitab.catalogue import ReadOptions, open_catalogue
    from kitab.catalogue.writer import iso2709_bytes
    from kitab.model import Flavour

    options = ReadOptions()
    base: list[bytes] = []
    for name in SOURCES[flavour]:
        for record in open_catalogue(DATA / name, options):
            if record.flavour is Flavour(flavour):
                base.append(iso2709_bytes(record.marc, record.flavour))
    with path.open("wb") as out:
        for n in range(size):
            out.write(base[n % len(base)])
    return path.stat().st_size


def run_phase(phase: str, path: Path) -> dict[str, float]:
    """One phase over the whole file, in this process; returns its figures."""
    import pymarc

    from kitab.catalogue import ReadOptions, open_catalogue
    from kitab.mappings import default_crosswalk, map_record
    from kitab.mappings.writers import JsonLinesWriter

    count = 0
    started = time.perf_counter()
    if phase == "pymarc":
        with path.open("rb") as stream:
            for record in pymarc.MARCReader(stream, to_unicode=True, force_utf8=True):
                count += record is not None
    else:
        catalogue = open_catalogue(path, ReadOptions(encoding="UTF-8"))
        if phase == "read":  # split, decode, key: what a no-op push needs (records built lazily)
            for _ in catalogue:
                count += 1
        elif phase == "parse":  # every record built as a pymarc record: comparable with pymarc
            for record in catalogue:
                count += record.marc is not None
        else:
            with open(os.devnull, "w", encoding="utf-8") as sink:
                writer = JsonLinesWriter(sink)
                for record in catalogue:
                    metadata = map_record(record, default_crosswalk(record.flavour))
                    if phase == "convert":
                        writer.write(record, metadata)
                    count += 1
    elapsed = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "records": count,
        "seconds": elapsed,
        "rate": count / elapsed,
        "peak_mb": peak_kb / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[100_000])
    parser.add_argument("--flavour", choices=sorted(SOURCES), default="marc21")
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:  # a child run: one phase, figures as JSON on stdout
        print(json.dumps(run_phase(args.phase, args.file)))
        return
    print(f"kitab convert bench, {args.flavour}, one process per phase (1 core each)")
    print(f"{'records':>9} {'phase':>8} {'rec/s':>9} {'seconds':>8} {'peak MB':>8}")
    with tempfile.TemporaryDirectory(prefix="kitab-bench-") as folder:
        for size in args.sizes:
            path = Path(folder) / f"{args.flavour}-{size}.mrc"
            megabytes = build(path, size, args.flavour) / 1e6
            for phase in PHASES:
                child = subprocess.run(
                    [sys.executable, __file__, "--phase", phase, "--file", str(path)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                figures = json.loads(child.stdout)
                print(
                    f"{figures['records']:>9} {phase:>8} {figures['rate']:>9,.0f} "
                    f"{figures['seconds']:>8.1f} {figures['peak_mb']:>8.1f}"
                )
            print(f"{'':>9} file: {megabytes:.1f} MB")
            path.unlink()


if __name__ == "__main__":
    main()
