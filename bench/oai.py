"""OAI-PMH throughput and memory, provider and harvester, over a 100,000-record catalogue.

The catalogue is made from the real records in ../shared/data (each copy gets its own 001 so
every record has its own key), written to a temporary folder. ``kitab serve`` and
``kitab harvest`` run as separate processes so each side's memory is its own:

* indexing: records per second into the provider index;
* served: records per second one client (sickle, no processing) receives from ListRecords;
* harvested: records per second ``kitab harvest`` stores (parse, check, upsert, write JSONL);
* memory: the provider's RSS after indexing and after serving the whole list; the harvester's
  peak RSS; the same at a tenth of the size, so growth with the catalogue shows.

    .venv/bin/python bench/oai.py [--records 100000] [--prefix marc21]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pymarc
from sickle import Sickle

from kitab.catalogue import open_catalogue
from kitab.catalogue.writer import iso2709_bytes

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SEEDS = [
    "marcxml-marc21-collection-9recs-marc4j-sample1a.xml",
    "marc21-utf8-oclc-connexion-marc4j.mrc",
]
KITAB = [sys.executable, "-m", "kitab"]


def make_catalogue(path: Path, count: int) -> None:
    seeds = [r for name in SEEDS for r in open_catalogue(DATA / name)]
    with path.open("wb") as out:
        for n in range(count):
            seed = seeds[n % len(seeds)].marc
            marc = pymarc.Record(leader=seed.leader)
            marc.add_field(pymarc.Field(tag="001", data=f"bench{n:07d}"))
            for field in seed.fields:
                if field.tag not in ("001", "003"):
                    marc.add_field(field)
            out.write(iso2709_bytes(marc))


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+)", text, re.M)[1])  # type: ignore[index]


def run(count: int, prefix: str, work: Path) -> dict[str, float]:
    (work / "catalogue").mkdir()
    make_catalogue(work / "catalogue" / "bench.mrc", count)
    (work / "kitab.toml").write_text(
        '[catalogue]\npath = "catalogue"\n[oai]\nrepository_identifier = "bench.example.org"\n',
        encoding="utf-8",
    )
    started = time.perf_counter()
    server = subprocess.Popen(
        [*KITAB, "serve", "-c", str(work / "kitab.toml"), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=work,
    )
    try:
        url = ""
        while not url:
            line = server.stdout.readline()  # type: ignore[union-attr]
            if not line:
                raise SystemExit("kitab serve ended before serving")
            if line.startswith("OAI-PMH at "):
                url = line.split()[2]
        indexed = time.perf_counter() - started
        figures = {
            "index_rps": count / indexed,
            "provider_rss_indexed_mib": rss_kib(server.pid) / 1024,
        }

        started = time.perf_counter()
        served = sum(1 for _ in Sickle(url, max_retries=3).ListRecords(metadataPrefix=prefix))
        assert served == count, served
        figures["served_rps"] = count / (time.perf_counter() - started)
        figures["provider_rss_served_mib"] = rss_kib(server.pid) / 1024
        figures["provider_peak_mib"] = rss_kib(server.pid, "VmHWM") / 1024

        started = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        harvest = subprocess.run(
            [
                *KITAB,
                "harvest",
                url,
                "--prefix",
                prefix,
                "--out",
                str(work / "out.jsonl"),
                "-c",
                str(work / "none.toml"),
            ],
            cwd=work,
            capture_output=True,
            text=True,
            check=False,
        )
        assert harvest.returncode == 0, harvest.stderr
        figures["harvest_rps"] = count / (time.perf_counter() - started)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        figures["harvester_peak_mib"] = max(peak, before) / 1024
    finally:
        server.terminate()
        server.wait(timeout=30)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--prefix", default="marc21", choices=["marc21", "oai_dc"])
    args = parser.parse_args()
    for count in (args.records // 10, args.records):
        with tempfile.TemporaryDirectory(prefix="kitab-oai-bench-") as work:
            figures = run(count, args.prefix, Path(work))
        print(f"{count:>7} records ({args.prefix}, page size 100):")
        print(f"  provider index build   {figures['index_rps']:>9.0f} records/s")
        print(
            f"  provider served        {figures['served_rps']:>9.0f} records/s (sickle, one client)"
        )
        print(f"  kitab harvest stored   {figures['harvest_rps']:>9.0f} records/s (JSONL store)")
        print(
            f"  provider RSS           {figures['provider_rss_indexed_mib']:>9.1f} MiB after "
            f"indexing, {figures['provider_rss_served_mib']:.1f} MiB after serving the list "
            f"(peak {figures['provider_peak_mib']:.1f})"
        )
        print(f"  harvester peak RSS     {figures['harvester_peak_mib']:>9.1f} MiB")
        sys.stdout.flush()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
