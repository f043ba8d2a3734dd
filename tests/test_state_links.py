"""Batched link lookups: the planner fetches a page of records' links in one query."""

from __future__ import annotations

from pathlib import Path

from kitab.model import Value
from kitab.sync.state import Link, StateStore, SyncedFile


def test_get_links_returns_the_links_that_exist_across_query_chunks(tmp_path: Path) -> None:
    with StateStore(tmp_path / "state.sqlite") as store:
        for n in range(0, 1200, 2):  # every other key is linked
            store.save_link(
                Link(
                    "t",
                    f"K{n:05d}",
                    f"item-{n}",
                    f"hash-{n}",
                    {"dc.title": [Value(f"Title {n}", "uz")]},
                    files=[SyncedFile("scan.pdf", f"file-{n}", "ab" * 16, n)],
                    public=n % 4 == 0,
                )
            )
        store.save_link(Link("other", "K00001", "elsewhere", "h", {}))
        keys = [f"K{n:05d}" for n in range(1200)]
        found = store.get_links("t", keys)
        assert sorted(found) == keys[::2]
        for key in ("K00000", "K00498", "K00500", "K01198"):
            assert found[key] == store.get_link("t", key)
        assert found["K00502"].item_id == "item-502"
        assert found["K00502"].base == {"dc.title": [Value("Title 502", "uz")]}
        assert found["K00502"].files == [SyncedFile("scan.pdf", "file-502", "ab" * 16, 502)]
        assert found["K00502"].public is False
        assert store.get_links("t", []) == {}
        assert store.get_links("other", keys) == {"K00001": store.get_link("other", "K00001")}
