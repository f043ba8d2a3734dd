"""Push throughput against the sandboxes with network latency, and the cost of a no-op push.

    python bench/push.py [--items 1000] [--noop 100000] [--latency 50] [--targets dspace omeka]
    python bench/push.py --small          (40 items, 2,000 no-op records: well under a minute)

Each sandbox runs in its own process (so it does not share the push's interpreter lock) on a
fresh data folder, with ``latency_ms`` added to every request through its fault injector. The
catalogues are real records (examples/ and /work/shared/data) repeated with fresh control
numbers, written to a temporary folder with one small scan per record, and pushed through
``kitab.sync.engine.push`` with a kitab.toml like an administrator's:

* items/s for N new items with a scan each, at concurrency 1 and 8, and the requests per new
  item the sandbox counted (logins apart);
* a no-op push over M linked records: the links are made by a real push of the same catalogue
  (no latency, no scans) or, for large M, stored as that push would store them (see
  ``seed_links``: the sandboxes create about 100 items a second); then the push is timed and
  the sandbox's request counts read.

Figures are printed, never asserted. Targets: ≥ 6× faster at 8 than at 1; DSpace ≤ 4 requests
per new item with one file, Omeka S 1; the no-op push under 15 s with no request.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests
from pymarc import Field

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))

from kitab.catalogue import ReadOptions, open_catalogue  # noqa: E402
from kitab.catalogue.writer import iso2709_bytes  # noqa: E402
from kitab.config import load_config  # noqa: E402
from kitab.model import Flavour  # noqa: E402
from kitab.sync.digest import seal  # noqa: E402
from kitab.sync.engine import push  # noqa: E402
from kitab.sync.plan import ActionKind, planner_for  # noqa: E402
from kitab.sync.setup import register_missing  # noqa: E402
from kitab.sync.state import Link, StateStore  # noqa: E402
from kitab.sync.targets import open_repository  # noqa: E402

SOURCES = [
    ROOT / "examples" / "catalogue" / "qazax-marc21.xml",
    ROOT / "examples" / "catalogue" / "toshkent-unimarc.mrc",
    DATA / "marc21-utf8-alma-bu-100recs-catmandu.mrc",
    DATA / "marc21-cp1251-russian-rkp-pymarc.dat",
    DATA / "marc21-utf8-cjk-880-yaz-marccol1.marc",
    DATA / "unimarc-rusmarc-cp1251-nlr-81recs-irbis-TEST1.iso",
    DATA / "unimarc-utf8-sbn-italian-lf-separated-5recs.mrc",
]
SECRETS = {"KITAB_BENCH_DSPACE_PASSWORD": "kitab", "KITAB_BENCH_OMEKA": "kitab"}


# -- the sandbox, in a process of its own -------------------------------------------------------


def serve(kind: str, folder: Path) -> None:
    """Child mode: start a sandbox, say where it is on stdout, serve until stdin closes."""
    if kind == "dspace":
        from kitab.sandbox.dspace import start

        dspace = start(folder)
        info = {"url": dspace.url, "root": dspace.running.root}
        info["container"] = dspace.collection_handle
        stop = dspace.stop
    else:
        from kitab.sandbox.omeka import start as start_omeka

        omeka = start_omeka(folder)
        info = {"url": omeka.url, "root": omeka.url, "container": str(omeka.item_set_id)}
        stop = omeka.stop
    print(json.dumps(info), flush=True)
    sys.stdin.read()
    stop()


@dataclass
class Sandbox:
    kind: str
    process: subprocess.Popen[str]
    url: str
    root: str
    container: str

    @classmethod
    def start(cls, kind: str, folder: Path) -> Sandbox:
        process = subprocess.Popen(
            [sys.executable, __file__, "--serve", kind, str(folder)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        return cls(kind, process, info["url"], info["root"], info["container"])

    def latency(self, ms: int) -> None:
        requests.put(f"{self.root}/_sandbox/faults", json={"latency_ms": ms}).raise_for_status()

    def reset(self) -> None:
        requests.post(f"{self.root}/_sandbox/stats/reset").raise_for_status()

    def stats(self) -> dict[str, int]:
        return requests.get(f"{self.root}/_sandbox/stats").json()

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


# -- the catalogue ------------------------------------------------------------------------------


def real_records() -> dict[Flavour, list]:
    """The real records by flavour, as pymarc records (deleted ones left out)."""
    found: dict[Flavour, list] = {Flavour.MARC21: [], Flavour.UNIMARC: []}
    for path in SOURCES:
        for record in open_catalogue(path, ReadOptions()):
            if str(record.marc.leader)[5] != "d":
                found[record.flavour].append(record.marc)
    return found


def write_catalogue(folder: Path, prefix: str, count: int, scans: bool) -> None:
    """``count`` records cycling through the real ones, 001 = prefix + number (003 dropped, so
    the key is the 001), one MARC 21 and one UNIMARC file; with ``scans``, a small PDF each."""
    records = real_records()
    (folder / "exports").mkdir(parents=True)
    if scans:
        (folder / "scans").mkdir()
    files = {f: (folder / "exports" / f"{f.value}.mrc").open("wb") for f in Flavour}
    try:
        for n in range(count):
            flavour = Flavour.UNIMARC if n % 4 == 3 else Flavour.MARC21
            marc = records[flavour][n % len(records[flavour])]
            control = f"{prefix}{n:07d}"
            marc.remove_fields("001", "003")
            marc.add_ordered_field(Field(tag="001", data=control))
            files[flavour].write(iso2709_bytes(marc, flavour))
            if scans:
                body = (
                    b"%PDF-1.4\n% kitab bench scan " + control.encode() + b"\n" + os.urandom(2048)
                )
                (folder / "scans" / f"{control}.pdf").write_bytes(body + b"\n%%EOF\n")
    finally:
        for stream in files.values():
            stream.close()


def write_config(folder: Path, sandbox: Sandbox, scans: bool) -> Path:
    if sandbox.kind == "dspace":
        target = f"""kind = "dspace"
url = "{sandbox.url}"
collection = "{sandbox.container}"
user = "admin@example.org"
password_env = "KITAB_BENCH_DSPACE_PASSWORD"
"""
    else:
        target = f"""kind = "omeka"
url = "{sandbox.url}"
key_identity_env = "KITAB_BENCH_OMEKA"
key_credential_env = "KITAB_BENCH_OMEKA"
item_set = {sandbox.container}
"""
    scan_table = '[scans]\npath = "scans"\nmatch = ["control-number"]\n' if scans else ""
    file = folder / "kitab.toml"
    file.write_text(
        f'[catalogue]\npath = "exports"\n{scan_table}[sync]\nconcurrency = 8\n'
        f"[targets.t]\n{target}",
        encoding="utf-8",
    )
    return file


def prepare(config_file: Path, kind: str) -> None:
    """`kitab setup --apply`: register the fields the crosswalks write (DSpace)."""
    config = load_config(config_file)
    repository = open_repository(config.targets["t"])
    try:
        register_missing(config, kind, repository)
    finally:
        repository.close()


def timed_push(config_file: Path, concurrency: int) -> tuple[float, dict[str, int]]:
    config = load_config(config_file)
    with StateStore(config.state_path) as store:
        started = time.perf_counter()
        report = push(config, config.targets["t"], store, concurrency=concurrency)
        seconds = time.perf_counter() - started
    return seconds, dict(report.counts)


# -- the measurements ---------------------------------------------------------------------------


@dataclass
class Row:
    target: str
    what: str
    records: int
    seconds: float
    rate: float
    requests: int
    writes: int
    per_item: float | None
    logins: int
    counts: dict[str, int]


def new_items(sandbox: Sandbox, work: Path, items: int, concurrency: int, latency: int) -> Row:
    folder = work / f"{sandbox.kind}-new-c{concurrency}"
    write_catalogue(folder, f"C{concurrency}K", items, scans=True)
    config_file = write_config(folder, sandbox, scans=True)
    sandbox.latency(0)
    prepare(config_file, sandbox.kind)
    sandbox.latency(latency)
    sandbox.reset()
    seconds, counts = timed_push(config_file, concurrency)
    stats = sandbox.stats()
    created = counts.get("create", 0)
    requests_sent = stats["total"] - stats.get("login", 0)
    return Row(
        sandbox.kind,
        f"new, c={concurrency}",
        created,
        seconds,
        created / seconds,
        requests_sent,
        stats["writes"],
        requests_sent / created if created else None,
        stats.get("login", 0),
        counts,
    )


def seed_links(config_file: Path) -> int:
    """The links a first push leaves, written straight into the state store.

    What a no-op push reads of a link is its metadata hash, its files, its visibility and its
    source digest; a pushed record's link has the hash of the record's mapped metadata (the
    catalogue side), no files here, public visibility and the record's source digest sealed
    with those (kitab.sync.digest), and that is what is stored, from kitab's own planner.
    The item ids point nowhere: a no-op push never asks the repository about an unchanged
    record, which is what is measured (a record that did reach the network would show up in
    the sandbox's request counts)."""
    config = load_config(config_file)
    target = config.targets["t"]
    made = 0
    with StateStore(config.state_path) as store:
        for action in planner_for(config, target, store):
            if action.kind is not ActionKind.CREATE or action.item is None:
                continue
            metadata = action.item.metadata
            link = Link(target.name, action.key, f"seeded-{made}", action.metadata_hash, metadata)
            link.public, link.catalogue_base = action.item.public, dict(metadata)
            if action.source_digest is not None:  # in step, as after a create
                link.source_digest = seal(action.source_digest, link)
            store.save_link(link)
            made += 1
    return made


def noop(sandbox: Sandbox, work: Path, records: int, concurrency: int, seed: str) -> Row:
    folder = work / f"{sandbox.kind}-noop"
    write_catalogue(folder, "NOOP", records, scans=False)
    config_file = write_config(folder, sandbox, scans=False)
    sandbox.latency(0)
    prepare(config_file, sandbox.kind)
    if seed == "push":
        _, counts = timed_push(config_file, concurrency)
        seeded = f"pushed {counts.get('create', 0)}"
    else:
        seeded = f"stored {seed_links(config_file)}"
    sandbox.reset()
    seconds, counts = timed_push(config_file, concurrency)
    stats = sandbox.stats()
    return Row(
        sandbox.kind,
        f"no-op ({seeded})",
        counts.get("unchanged", 0),
        seconds,
        counts.get("unchanged", 0) / seconds,
        stats["total"] - stats.get("login", 0),
        stats["writes"],
        None,
        stats.get("login", 0),
        counts,
    )


def rows(args: argparse.Namespace, work: Path) -> Iterator[Row]:
    for kind in args.targets:
        sandbox = Sandbox.start(kind, work / f"sandbox-{kind}")
        try:
            for concurrency in args.concurrency if args.items else ():
                yield new_items(sandbox, work, args.items, concurrency, args.latency)
            if args.noop:
                seed = args.seed or ("push" if args.noop <= 5000 else "state")
                yield noop(sandbox, work, args.noop, max(args.concurrency), seed)
        finally:
            sandbox.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1000, help="new items per concurrency")
    parser.add_argument("--noop", type=int, default=100_000, help="records in the no-op push")
    parser.add_argument("--latency", type=int, default=50, help="ms added to every request")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument(
        "--targets", nargs="+", choices=("dspace", "omeka"), default=["dspace", "omeka"]
    )
    parser.add_argument(
        "--seed",
        choices=("push", "state"),
        help="how the no-op push's links are made: a real push, or stored as a push stores "
        "them (default: push up to 5,000 records; the sandboxes create ~100 items/s)",
    )
    parser.add_argument("--small", action="store_true", help="40 items, 2,000 no-op records")
    parser.add_argument("--serve", nargs=2, metavar=("KIND", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], Path(args.serve[1]))
        return
    if args.small:
        args.items, args.noop = 40, 2000
    os.environ.update(SECRETS)
    print(
        f"kitab push bench: {args.items} new items with one scan each at {args.latency} ms "
        f"latency; no-op push over {args.noop} linked records (no latency)"
    )
    print(
        f"{'target':<7} {'run':<22} {'items':>7} {'seconds':>8} {'items/s':>8} "
        f"{'requests':>8} {'writes':>7} {'req/item':>8} {'logins':>6}"
    )
    rates: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory(prefix="kitab-push-bench-") as folder:
        for row in rows(args, Path(folder)):
            per_item = f"{row.per_item:.2f}" if row.per_item is not None else "-"
            print(
                f"{row.target:<7} {row.what:<22} {row.records:>7} {row.seconds:>8.1f} "
                f"{row.rate:>8.1f} {row.requests:>8} {row.writes:>7} {per_item:>8} "
                f"{row.logins:>6}",
                flush=True,
            )
            failed = row.counts.get("failed", 0)
            if failed:
                print(f"        {failed} records failed: {row.counts}", flush=True)
            rates[row.target, row.what] = row.rate
    low, high = min(args.concurrency), max(args.concurrency)
    for kind in args.targets:
        one, many = rates.get((kind, f"new, c={low}")), rates.get((kind, f"new, c={high}"))
        if one and many and low != high:
            print(f"{kind}: concurrency {high} is {many / one:.1f}x concurrency {low}")


if __name__ == "__main__":
    main()
