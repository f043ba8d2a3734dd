"""``make demo``: the whole cycle against the built-in sandboxes, on a machine with nothing else.

It starts a DSpace sandbox and an Omeka S sandbox on free ports, writes a kitab.toml for the
sample catalogue in ``examples/``, and then runs the real ``kitab`` commands one after the other,
showing each command and what it printed, the way an administrator would run them. A
cataloguer's edit is made through the repository's REST API, as the web UI would make it.
Everything it starts is stopped at the end, whatever happens.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

from kitab.sandbox import dspace as dspace_sandbox
from kitab.sandbox import omeka as omeka_sandbox

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SECRETS = {
    "KITAB_DSPACE_PASSWORD": "kitab",
    "KITAB_OMEKA_KEY_IDENTITY": "kitab",
    "KITAB_OMEKA_KEY_CREDENTIAL": "kitab",
}


@dataclass
class Demo:
    workdir: Path
    dspace: dspace_sandbox.DSpaceSandbox
    omeka: omeka_sandbox.OmekaSandbox
    step_no: int = 0

    @property
    def config(self) -> Path:
        return self.workdir / "kitab.toml"

    def step(self, title: str) -> None:
        self.step_no += 1
        print(f"\n=== {self.step_no}. {title}", flush=True)

    def kitab(self, *args: str, expect: tuple[int, ...] = (0,)) -> str:
        """Run a kitab command as a user would, show it and its output, return the output."""
        shown = " ".join(shlex.quote(a) for a in args)
        print(f"$ kitab {shown}", flush=True)
        env = {**os.environ, **SECRETS, "KITAB_CONFIG": str(self.config)}
        result = subprocess.run(
            [sys.executable, "-m", "kitab", *args],
            env=env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=300,
        )
        output = (result.stdout + result.stderr).rstrip()
        if output:
            print(textwrap.indent(output, "  "), flush=True)
        if result.returncode not in expect:
            raise SystemExit(f"demo: `kitab {shown}` exited {result.returncode}")
        return output


def write_config(workdir: Path, dspace: dspace_sandbox.DSpaceSandbox, omeka_url: str) -> None:
    (workdir / "kitab.toml").write_text(
        f"""# Written by the demo; see docs/configuration.md for every key.
[catalogue]
path = "{EXAMPLES / "catalogue"}"

[scans]
path = "{EXAMPLES / "scans"}"
match = ["control-number", "856"]

[sync]
concurrency = 4

[targets.district]                       # the district's DSpace
kind = "dspace"
url = "{dspace.url}"
collection = "{dspace.collection_handle}"
user = "admin@example.org"
password_env = "KITAB_DSPACE_PASSWORD"

[targets.gallery]                        # the digital-collections Omeka S
kind = "omeka"
url = "{omeka_url}"
key_identity_env = "KITAB_OMEKA_KEY_IDENTITY"
key_credential_env = "KITAB_OMEKA_KEY_CREDENTIAL"
item_set = 1

[[rights]]                               # restricted material: files visible to staff only
when = {{ field = "506$a", matches = "(?i)restricted" }}
files = "private"
""",
        encoding="utf-8",
    )


def dspace_edit_title(dspace: dspace_sandbox.DSpaceSandbox, key: str, title: str) -> str:
    """Change an item's title the way DSpace's edit form does (CSRF, login, JSON Patch)."""
    api = dspace.api
    session = requests.Session()
    token = session.get(f"{api}/security/csrf", timeout=10).headers["DSPACE-XSRF-TOKEN"]
    login = session.post(
        f"{api}/authn/login",
        data={"user": "admin@example.org", "password": "kitab"},
        headers={"X-XSRF-TOKEN": token},
        timeout=10,
    )
    session.headers["Authorization"] = login.headers["Authorization"]
    token = login.headers.get("DSPACE-XSRF-TOKEN", token)
    found = session.get(
        f"{api}/discover/search/objects",
        params={"query": f'dc.identifier.other:"kitab:{key}"', "dsoType": "ITEM"},
        timeout=10,
    ).json()["_embedded"]["searchResult"]["_embedded"]["objects"]
    item = found[0]["_embedded"]["indexableObject"]
    old = item["metadata"]["dc.title"][0]["value"]
    response = session.patch(
        f"{api}/core/items/{item['uuid']}",
        json=[{"op": "replace", "path": "/metadata/dc.title/0/value", "value": title}],
        headers={"X-XSRF-TOKEN": token},
        timeout=10,
    )
    response.raise_for_status()
    return old


def omeka_add_subject(omeka: omeka_sandbox.OmekaSandbox, key: str, subject: str) -> None:
    """Add a subject to an item the way Omeka's item edit form does (the whole item back)."""
    keys = {"key_identity": "kitab", "key_credential": "kitab"}
    found = requests.get(
        f"{omeka.url}/api/items",
        params={
            **keys,
            "property[0][property]": "dcterms:identifier",
            "property[0][type]": "eq",
            "property[0][text]": f"kitab:{key}",
        },
        timeout=10,
    ).json()
    item = found[0]
    item.setdefault("dcterms:subject", []).append(
        {"type": "literal", "property_id": "auto", "@value": subject}
    )
    url = f"{omeka.url}/api/items/{item['o:id']}"
    requests.put(url, params=keys, json=item, timeout=10).raise_for_status()


def show_pulled(folder: Path) -> None:
    """Print the pulled records' titles and subjects, as the library system will import them."""
    from kitab.catalogue import ReadOptions, open_catalogue

    for path in sorted(folder.glob("*.mrc")):
        print(f"  {path.name}:")
        for record in open_catalogue(path, ReadOptions()):
            print(f"    001 {record.control_number}")
            for field in record.marc.get_fields("245", "650", "200", "606"):
                print(f"      {field}")


def serve_and_harvest(demo: Demo) -> None:
    port = free_port()
    env = {**os.environ, **SECRETS}
    print(f"$ kitab serve --port {port}   (in the background)")
    server = subprocess.Popen(
        [sys.executable, "-m", "kitab", "serve", "-c", str(demo.config), "--port", str(port)],
        env=env,
        cwd=demo.workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}/oai"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(base, params={"verb": "Identify"}, timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        else:
            raise SystemExit("demo: the OAI-PMH provider did not start")
        identify = requests.get(base, params={"verb": "Identify"}, timeout=10).text
        name = identify.split("<repositoryName>")[1].split("</repositoryName>")[0]
        print(f"  Identify: {name}")
        demo.kitab("harvest", base, "--prefix", "marc21", "--out", "harvested-marc21.xml")
        demo.kitab("harvest", base, "--prefix", "oai_dc", "--out", "harvested-dc.jsonl")
    finally:
        server.terminate()
        server.wait(timeout=30)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(demo: Demo) -> None:
    demo.step("The catalogue: what the library systems exported")
    demo.kitab("inspect", str(EXAMPLES / "catalogue" / "qazax-marc21.xml"))
    demo.kitab("inspect", str(EXAMPLES / "catalogue" / "toshkent-unimarc.mrc"))

    demo.step("Prepare the repositories (DSpace needs dc.subject.udc in its registry)")
    demo.kitab("setup", expect=(0, 1))
    demo.kitab("setup", "--apply")

    demo.step("Plan: what a push would do (nothing is written)")
    demo.kitab("plan", "--target", "district")

    demo.step("Push the catalogue and its scans to DSpace and Omeka S")
    demo.kitab("push")

    demo.step("Push again: nothing changed, so nothing is written")
    demo.dspace.reset_stats()
    demo.omeka.reset_stats()
    demo.kitab("push")
    print(
        f"  requests that wrote something: DSpace {demo.dspace.stats().get('writes', 0)}, "
        f"Omeka S {demo.omeka.stats().get('writes', 0)}"
    )

    demo.step("Cataloguers edit in the repositories' web UIs")
    old = dspace_edit_title(demo.dspace, "AZ-QzxMKS:000104", "Oʻtkan kunlar : tarixiy roman")
    print(f"  DSpace, 000104 dc.title: {old!r} → 'Oʻtkan kunlar : tarixiy roman'")
    omeka_add_subject(demo.omeka, "AZ-QzxMKS:000101", "Oğuz eposu")
    print("  Omeka S, 000101 dcterms:subject: + 'Oğuz eposu'")

    demo.step("Sync: the edits come back as MARC records for the library system")
    demo.kitab("sync", "--out", "pulled")
    show_pulled(demo.workdir / "pulled")

    demo.step("Sync again: both sides agree, nothing moves")
    demo.kitab("sync", "--out", "pulled-again")

    demo.step("Serve the catalogue over OAI-PMH, and harvest it as the national library would")
    serve_and_harvest(demo)


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m kitab.demo", description=__doc__)
    parser.add_argument(
        "--workdir", type=Path, default=ROOT / "demo-run", help="where its files go (emptied)"
    )
    workdir = parser.parse_args(argv).workdir.resolve()
    started = time.monotonic()
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    stops: list[Callable[[], None]] = []
    try:
        dspace = dspace_sandbox.start(workdir / "dspace-data")
        stops.append(dspace.stop)
        omeka = omeka_sandbox.start(workdir / "omeka-data")
        stops.append(omeka.stop)
        print(f"DSpace sandbox at {dspace.url}  ·  Omeka S sandbox at {omeka.url}")
        write_config(workdir, dspace, omeka.url)
        run(Demo(workdir, dspace, omeka))
    finally:
        for stop in reversed(stops):
            stop()
    print(
        f"\nDemo finished in {time.monotonic() - started:.1f} s; everything it started is stopped."
    )
    print(f"Its configuration, state and reports are in {workdir}")


if __name__ == "__main__":
    main()
