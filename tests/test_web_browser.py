"""kitab web in a real headless browser: Debian's Chromium driven by Playwright.

A cataloguer signs in (in Azerbaijani, JavaScript turned off), resolves a conflict produced by a
real sync against the DSpace sandbox with a merged value, and the next sync carries that value
into the repository item (read by raw REST) and the pulled MARC record. Then the main pages are
photographed in each language; with KITAB_SCREENSHOTS=docs/screenshots they are kept there.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from targets import DSpaceTarget, OmekaTarget, by_control
from test_sync import pulled_records, run_sync
from test_web import PASSWORD, open_site

from kitab.sync.conflicts import ConflictStore

sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(
        "Debian's chromium is not installed (make test installs it as root: "
        "apt-get install chromium); the browser tests cannot run",
        allow_module_level=True,
    )

ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--metrics-recording-only",
]
MERGED = "Kitabi Dədə Qorqud : oğuznamə boyları"


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


def sign_in(page, url: str, name: str, button: str) -> None:
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name=button).click()


def test_a_cataloguer_resolves_a_conflict_in_the_browser_and_sync_carries_it(
    browser, dspace_sandbox, tmp_path, data_dir, monkeypatch
):
    target = DSpaceTarget(dspace_sandbox, tmp_path, data_dir, monkeypatch)
    site = open_site(target, tmp_path)
    try:
        context = browser.new_context(locale="az-AZ", java_script_enabled=False)
        page = context.new_page()
        page.goto(f"{site.url}/conflicts")
        assert "/login" in page.url
        assert page.locator("h1").inner_text() == "Daxil ol"
        sign_in(page, site.url, "aynur", "Daxil ol")
        assert page.url == f"{site.url}/conflicts"
        assert page.locator("h1").inner_text() == "Açıq ziddiyyətlər"

        card = page.locator(f"#conflict-{site.conflict_id}")
        assert card.locator(".sides > div").all_inner_texts() == [
            "Əvvəl (son sinxronlaşdırma)\nKitabi Dədə Qorqud : dastanlar",
            "Kataloq\nKitabi Dədə Qorqud : oğuznamə",
            "Repozitori\nKitabi Dədə Qorqud : boylar",
        ]
        card.locator("textarea").fill(MERGED)
        card.get_by_role("button", name="Birləşdirilmiş dəyəri saxla").click()
        assert page.url == f"{site.url}/conflicts"
        assert "həll edildi" in page.locator(".notice").first.inner_text()
        assert page.get_by_text("Açıq ziddiyyət yoxdur.").is_visible()
        context.close()

        done = ConflictStore(site.store).get(site.conflict_id)
        assert (done.resolution, done.resolved_by) == ("value", "aynur")
        pulled, pushed = run_sync(target, tmp_path / "pulled-after")
        assert pulled.outcome == "ok" and pushed.outcome == "ok", (
            pulled.to_dict(),
            pushed.to_dict(),
        )
        item = by_control(target.items())["000101"]
        assert target.values(item, "dc.title") == [MERGED]
        record = pulled_records(tmp_path / "pulled-after")["000101"]
        assert record.marc["245"].get_subfields("a", "b") == [
            "Kitabi Dədə Qorqud :",
            "oğuznamə boyları /",
        ]
        assert record.marc["245"].get_subfields("c") == ["tərtib edən Şamil Cəmşidov."]
    finally:
        site.close()


#: the heading of each main page in each language (checked before the picture is taken)
HEADINGS = {
    "az": ("Hədəflər", "İcralar", "000101 (qazax-marc21.xml, record 1)", "Açıq ziddiyyətlər"),
    "uz": (
        "Manzillar",
        "Ishga tushirishlar",
        "000101 (qazax-marc21.xml, record 1)",
        "Ochiq ziddiyatlar",
    ),
    "ru": ("Назначения", "Запуски", "000101 (qazax-marc21.xml, record 1)", "Открытые конфликты"),
    "en": ("Targets", "Runs", "000101 (qazax-marc21.xml, record 1)", "Open conflicts"),
}
PAGES = (
    ("overview", "/"),
    ("runs", "/runs"),
    ("record", "/records/t/000101"),
    ("conflicts", "/conflicts"),
)


def test_screenshots_of_the_main_pages_in_each_language(
    browser, omeka_sandbox, tmp_path, data_dir, monkeypatch
):
    site = open_site(OmekaTarget(omeka_sandbox, tmp_path, data_dir, monkeypatch), tmp_path)
    try:
        take_screenshots(browser, site, tmp_path)
    finally:
        site.close()


def take_screenshots(browser, site, tmp_path: Path) -> None:
    folder = Path(os.environ.get("KITAB_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    for language, headings in HEADINGS.items():
        context = browser.new_context(
            locale=language, java_script_enabled=False, viewport={"width": 1100, "height": 760}
        )
        page = context.new_page()
        page.goto(f"{site.url}/login")
        sign_in(page, site.url, "aynur", page.locator("form button").inner_text())
        for (name, path), heading in zip(PAGES, headings, strict=True):
            page.goto(site.url + path)
            assert page.locator("html").get_attribute("lang") == language
            assert page.locator("h1").inner_text() == heading
            shot = folder / f"{name}-{language}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        context.close()
