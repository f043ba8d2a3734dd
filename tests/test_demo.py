"""`make demo` runs in CI too: its output is checked step by step, not only its exit code."""

import subprocess
import sys


def test_the_demo_runs_the_whole_cycle_and_says_what_happened(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "kitab.demo", "--workdir", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "district: registered dc.description.edition, dc.subject.udc" in out
    assert "district: push ok: 11 create, 6 files_sent" in out  # the restricted map held back
    assert "restricted, not uploaded (DSpace access is not managed by kitab): qazax-1935.tif" in out
    assert "gallery: push ok: 11 create, 7 files_sent" in out
    assert "scan matches no record: " in out and "unsorted-017.png" in out
    assert "requests that wrote something: DSpace 0, Omeka S 0" in out
    # the DSpace title edit and the Omeka subject come back as MARC
    assert "=245  10$aOʻtkan kunlar :$btarixiy roman /$cAbdulla Qodiriy." in out
    assert "=650  \\4$aOğuz eposu." in out
    second_sync = out.split("=== 8.")[1].split("=== 9.")[0]
    assert "records_pulled" not in second_sync and "conflict" not in second_sync
    assert second_sync.count("11 unchanged") == 2
    assert "[marc21] (everything): 8 new" in out  # the MARC 21 records
    assert "[oai_dc] (everything): 11 new" in out  # every record, UNIMARC included
    assert "everything it started is stopped" in out
    assert (tmp_path / "demo" / "harvested-marc21.xml").is_file()
