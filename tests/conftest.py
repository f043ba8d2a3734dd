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
