"""The interface text: every string in the code and templates is in the catalogs, translated
into Azerbaijani, Uzbek and Russian, with the same placeholders, and the compiled .mo files
(committed, so an install needs no build step) say exactly what the .po files say."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from kitab.web.chart import build_chart, nice_top
from kitab.web.data import DayCount

WEB = Path(__file__).resolve().parents[1] / "kitab" / "web"
TRANSLATIONS = WEB / "translations"
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def source_messages() -> set[str]:
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    keywords = {"_": None, "_l": None, "gettext": None}
    return {
        message
        for _, _, message, _, _ in extract_from_dir(WEB, method_map, keywords=keywords)
        if isinstance(message, str)
    }


def catalog(language: str):
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as source:
        return read_po(source, locale=language)


def test_the_template_holds_every_string_of_the_code_and_templates():
    with (TRANSLATIONS / "messages.pot").open("rb") as source:
        template = {m.id for m in read_po(source) if m.id}
    assert template == source_messages()
    assert len(template) > 100


@pytest.mark.parametrize("language", ["az", "uz", "ru"])
def test_every_string_is_translated_with_the_same_placeholders(language):
    messages = [m for m in catalog(language) if m.id]
    assert {m.id for m in messages} == source_messages()
    for message in messages:
        assert message.string and not message.fuzzy, message.id
        assert sorted(PLACEHOLDER.findall(message.id)) == sorted(
            PLACEHOLDER.findall(message.string)
        ), message.id


def test_each_language_is_written_in_its_own_alphabet():
    cyrillic = re.compile("[а-яё]", re.IGNORECASE)
    for message in catalog("ru"):
        if message.id and re.search("[a-z]{3}", PLACEHOLDER.sub("", message.id)):
            assert cyrillic.search(message.string), message.string
    for language in ("az", "uz"):
        for message in catalog(language):
            assert not cyrillic.search(message.string or ""), message.string
    # Uzbek Latin writes oʻ and gʻ with the turned comma (U+02BB), not an apostrophe
    uzbek = " ".join(m.string for m in catalog("uz") if m.id)
    assert "oʻ" in uzbek and "gʻ" in uzbek
    assert not re.search(r"[og]['’`]", uzbek)
    assert "ə" in " ".join(m.string for m in catalog("az") if m.id)


@pytest.mark.parametrize("language", ["az", "uz", "ru", "en"])
def test_the_compiled_catalog_is_the_po_file(language):
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo").open("rb") as source:
        compiled = {m.id: m.string for m in read_mo(source) if m.id and m.string}
    written = {m.id: m.string for m in catalog(language) if m.id and m.string}
    assert compiled == written, "run: pybabel compile -d kitab/web/translations"


def test_the_chart_scale_and_bars():
    assert [nice_top(n) for n in (0, 1, 3, 7, 12, 20, 21, 480)] == [1, 1, 5, 10, 20, 20, 50, 500]
    days = [
        DayCount(date(2025, 3, d), created, updated)
        for d, created, updated in ((1, 0, 0), (2, 12, 1), (3, 0, 4))
    ]
    chart = build_chart(days, width=640, height=180)
    assert [v for _, v in chart.ticks] == [0, 10, 20]
    # plot height 150 for 20 items: 7.5 px an item; bars stack created under updated
    (created, updated) = chart.bars[1].segments
    assert (created.series, created.count, created.height) == ("created", 12, 90.0)
    assert (updated.series, updated.count, updated.height) == ("updated", 1, 7.5)
    assert created.y + created.height == 158.0 and updated.y + updated.height == created.y
    assert chart.bars[0].segments == [] and not chart.empty
    assert chart.bars[2].x + chart.bars[2].width <= chart.left + chart.plot_width
    assert build_chart([DayCount(date(2025, 3, 1))]).empty
