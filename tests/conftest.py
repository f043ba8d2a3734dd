"""Shared test fixtures: where the real records live, and the sandboxes over real HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
XSD = DATA.parent / "xsd"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.fail(f"the shared test records are missing: {DATA}")
    return DATA


@pytest.fixture
def omeka_sandbox(tmp_path: Path):
    """An Omeka S 4.0.4 sandbox over a fresh data dir (key kitab/kitab), stopped afterwards."""
    from kitab.sandbox.omeka import start

    sandbox = start(tmp_path / "omeka")
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def dspace_sandbox(tmp_path: Path):
    """A DSpace 9.3 sandbox on a fresh data dir (admin@example.org / kitab), stopped after."""
    from kitab.sandbox.dspace import start

    sandbox = start(tmp_path / "dspace")
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture(params=["dspace", "omeka"])
def target(request, tmp_path, data_dir, monkeypatch):
    """A sandbox of each kind with a kitab.toml for a copy of the sample catalogue."""
    from targets import DSpaceTarget, OmekaTarget

    sandbox = request.getfixturevalue(f"{request.param}_sandbox")
    kind = DSpaceTarget if request.param == "dspace" else OmekaTarget
    return kind(sandbox, tmp_path, data_dir, monkeypatch)
