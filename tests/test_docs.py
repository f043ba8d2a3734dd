"""Every kitab.toml example in the README and docs/ loads: the manual cannot drift from the code."""

import re
from pathlib import Path

import pytest

from kitab.config import load_config

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```toml\n(.*?)```", re.S)


def examples():
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for n, block in enumerate(BLOCK.findall(page.read_text(encoding="utf-8")), 1):
            if "[catalogue]" in block:  # a whole kitab.toml, not a fragment
                yield pytest.param(block, id=f"{page.name}#{n}")


@pytest.mark.parametrize("text", list(examples()))
def test_documented_configuration_loads(text, tmp_path):
    file = tmp_path / "kitab.toml"
    file.write_text(text, encoding="utf-8")
    load_config(file)


def test_there_are_examples_to_check():
    assert len(list(examples())) >= 5
