"""kitab web over real HTTP: a conflict made by a real sync against the Omeka S sandbox, the
pages served by waitress on 127.0.0.1, and a requests session playing the cataloguer.

What is checked: every page refuses anonymous requests and every POST without a CSRF token;
a viewer cannot resolve; sessions expire and die with logout; bad input gets a clear page in
the reader's language and never a 500; the pages show what the record and the state say.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import lxml.html
import pytest
import requests
from targets import RECORDS, OmekaTarget, Target, by_control
from test_sync import edit_export, run_sync, set_title

from kitab.sync.conflicts import ConflictStore
from kitab.sync.state import StateStore
from kitab.web.server import RunningWeb, start
from kitab.web.users import UserStore

PASSWORD = "Qorqud-1988-boylar"
REPOSITORY_TITLE = "Kitabi Dədə Qorqud : boylar"
CATALOGUE_TITLE = "Kitabi Dədə Qorqud : oğuznamə"


@dataclass
class Site:
    """A target with one open conflict on 000101's title, and the web pages over it."""

    target: Target
    web: RunningWeb
    store: StateStore
    conflict_id: int

    @property
    def url(self) -> str:
        return self.web.url

    def close(self) -> None:
        self.web.stop()
        self.store.close()


def open_site(target: Target, tmp_path: Path) -> Site:
    assert target.push().outcome == "ok"
    set_title(target, by_control(target.items())["000101"], REPOSITORY_TITLE)
    edit_export(target, "dastanlar /", "oğuznamə /")
    _, pushed = run_sync(target, tmp_path / "pulled")
    assert pushed.outcome == "conflicts"
    config = target.config
    store = StateStore(config.state_path)
    users = UserStore(store)
    users.add("aynur", PASSWORD, "cataloguer")
    users.add("kamran", PASSWORD, "viewer")
    (conflict,) = ConflictStore(store).open("t")
    return Site(target, start(config, store, host="127.0.0.1", port=0), store, conflict.id)


@pytest.fixture
def site(omeka_sandbox, tmp_path, data_dir, monkeypatch):
    opened = open_site(OmekaTarget(omeka_sandbox, tmp_path, data_dir, monkeypatch), tmp_path)
    try:
        yield opened
    finally:
        opened.close()


class Client:
    """A person's browser without JavaScript: cookies, forms and their CSRF tokens."""

    def __init__(self, url: str, language: str = "en") -> None:
        self.url = url
        self.session = requests.Session()
        self.session.headers["Accept-Language"] = language

    def get(self, path: str) -> requests.Response:
        return self.session.get(self.url + path, allow_redirects=False, timeout=30)

    def post(self, path: str, data: dict, *, token_from: str | None = "/") -> requests.Response:
        if token_from is not None:
            data = {**data, "csrf_token": self.token(token_from)}
        return self.session.post(self.url + path, data=data, allow_redirects=False, timeout=30)

    def token(self, path: str) -> str:
        return page(self.get(path)).xpath("//input[@name='csrf_token']/@value")[0]

    def login(self, name: str, password: str = PASSWORD) -> requests.Response:
        return self.post("/login", {"name": name, "password": password}, token_from="/login")


def page(response: requests.Response):
    return lxml.html.fromstring(response.text)


def text(response: requests.Response) -> str:
    return " ".join(page(response).xpath("//main")[0].text_content().split())


def signed_in(site: Site, name: str = "aynur", language: str = "en") -> Client:
    client = Client(site.url, language)
    response = client.login(name)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    return client


def urls(site: Site) -> tuple[list[str], list[str]]:
    """Every route of the application with its arguments filled in: (GET paths, POST paths)."""
    values = {"run_id": 1, "target": "t", "key": "000101", "conflict_id": site.conflict_id}
    gets, posts = [], []
    for rule in site.web.app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.build({name: values[name] for name in rule.arguments})[1]
        if "GET" in rule.methods:
            gets.append(path)
        if "POST" in rule.methods:
            posts.append(path)
    return gets, posts


def open_conflicts(site: Site) -> list[int]:
    return [c.id for c in ConflictStore(site.store).open()]


# -- security -----------------------------------------------------------------------------------


def test_every_page_refuses_an_anonymous_request(site):
    gets, posts = urls(site)
    assert len(gets) >= 8 and len(posts) >= 4  # the routes are really enumerated
    anonymous = Client(site.url)
    for path in gets:
        response = anonymous.get(path)
        if path == "/login":
            assert response.status_code == 200
            continue
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next="), path
    for path in posts:
        if path == "/login":
            continue
        response = anonymous.session.post(site.url + path, data={"choice": "catalogue"})
        assert response.status_code == 401, path
    assert open_conflicts(site) == [site.conflict_id]
    # the style sheet is the one thing served to everyone (the login page needs it)
    assert anonymous.get("/static/kitab.css").status_code == 200


def test_every_post_without_a_csrf_token_is_refused_and_changes_nothing(site):
    client = signed_in(site)
    _, posts = urls(site)
    for path in posts:
        data = {"choice": "catalogue", "language": "ru", "name": "aynur", "password": PASSWORD}
        response = client.post(path, data, token_from=None)
        assert response.status_code == 400, path
        assert "This form has expired or did not come from these pages" in text(response)
        forged = client.post(path, {**data, "csrf_token": "forged"}, token_from=None)
        assert forged.status_code == 400, path
    assert open_conflicts(site) == [site.conflict_id]
    assert UserStore(site.store).language("aynur") is None
    assert client.get("/").status_code == 200  # logout without a token did not log out


def test_a_viewer_sees_no_resolve_form_and_cannot_resolve(site):
    viewer = signed_in(site, "kamran")
    conflicts = viewer.get("/conflicts")
    assert conflicts.status_code == 200
    assert not page(conflicts).xpath("//form[contains(@action, '/conflicts/')]")
    assert "Only cataloguers may resolve conflicts." in text(conflicts)
    response = viewer.post(
        f"/conflicts/{site.conflict_id}", {"choice": "catalogue"}, token_from="/conflicts"
    )
    assert response.status_code == 403
    assert "Only cataloguers may resolve conflicts" in text(response)
    assert open_conflicts(site) == [site.conflict_id]


def test_a_wrong_password_or_unknown_name_is_refused_alike(site):
    for name, password in (("aynur", "wrong password"), ("nobody", PASSWORD)):
        response = Client(site.url).login(name, password)
        assert response.status_code == 401
        assert "The name or the password is not right." in text(response)


def test_login_sends_only_to_pages_of_this_site(site):
    for target, expected in (
        ("/conflicts", "/conflicts"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
    ):
        client = Client(site.url)
        token = client.token("/login")
        response = client.session.post(
            f"{site.url}/login",
            params={"next": target},
            data={"name": "aynur", "password": PASSWORD, "csrf_token": token},
            allow_redirects=False,
        )
        assert response.headers["Location"] == expected


def test_sessions_expire_and_end_with_logout(site):
    client = signed_in(site)
    copied = dict(client.session.cookies)
    cookie = client.session.cookies.get_dict()["kitab_session"]
    assert "HttpOnly" in client.login("aynur").headers["Set-Cookie"]
    assert "SameSite=Lax" in client.login("aynur").headers["Set-Cookie"]
    client.session.cookies.set("kitab_session", cookie)
    assert client.post("/logout", {}).status_code == 302
    stolen = Client(site.url)
    stolen.session.cookies.update(copied)
    assert stolen.get("/").status_code == 302  # the cookie from before the logout is dead

    client = signed_in(site)
    site.web.app.permanent_session_lifetime = timedelta(seconds=1)
    assert client.get("/").status_code == 200
    time.sleep(2.1)
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_no_secret_reaches_a_page(site):
    client = signed_in(site)
    secret = UserStore(site.store).secret_key()
    hashes = [row[0] for row in site.store.query("SELECT password_hash FROM web_users")]
    gets, _ = urls(site)
    for path in gets:
        body = client.get(path).text
        assert secret not in body and PASSWORD not in body
        assert not any(digest in body for digest in hashes)
        assert "key_credential" not in body


def test_security_headers_allow_no_script_and_no_framing(site):
    response = signed_in(site).get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["Cache-Control"] == "no-store"
    assert not page(response).xpath("//script")


def test_a_trusted_proxy_header_signs_people_in_with_their_configured_role(site):
    site.close()
    text_ = site.target.config_file.read_text(encoding="utf-8")
    site.target.config_file.write_text(
        text_ + '\n[web]\ntrusted_header = "X-Remote-User"\nusers = { zeynab = "viewer" }\n',
        encoding="utf-8",
    )
    config = site.target.config
    site.store = StateStore(config.state_path)
    site.web = start(config, site.store, host="127.0.0.1", port=0)
    client = Client(site.url)
    assert client.get("/").status_code == 401
    client.session.headers["X-Remote-User"] = "stranger"
    assert client.get("/").status_code == 401
    client.session.headers["X-Remote-User"] = "zeynab"
    overview = client.get("/")
    assert overview.status_code == 200
    assert page(overview).xpath("//div[@class='who']/span")[0].text == "zeynab · viewer"
    response = client.post(
        f"/conflicts/{site.conflict_id}", {"choice": "catalogue"}, token_from="/conflicts"
    )
    assert response.status_code == 403
    # passwords are not a way in when a proxy is trusted
    stranger = Client(site.url)
    assert stranger.get("/login").status_code == 401
    form = {"name": "aynur", "password": PASSWORD}
    assert stranger.post("/login", form, token_from=None).status_code == 401


# -- resolving ----------------------------------------------------------------------------------


def test_resolving_keeps_the_chosen_side_and_a_second_resolution_is_told_who_was_first(site):
    first, second = signed_in(site), signed_in(site)
    form_for_second = second.token("/conflicts")  # both opened the page before anyone chose
    response = first.post(
        f"/conflicts/{site.conflict_id}", {"choice": "repository"}, token_from="/conflicts"
    )
    assert response.status_code == 302 and response.headers["Location"] == "/conflicts"
    after = first.get("/conflicts")
    assert "resolved. The next sync carries the choice to the other side." in text(after)
    assert "There are no open conflicts." in text(after)
    done = ConflictStore(site.store).get(site.conflict_id)
    assert (done.resolution, done.resolved_by) == ("repository", "aynur")

    late = second.post(
        f"/conflicts/{site.conflict_id}",
        {"choice": "catalogue", "csrf_token": form_for_second},
        token_from=None,
    )
    assert late.status_code == 409
    message = text(late)
    assert "This conflict was already resolved by aynur at" in message
    assert "kept the repository's value" in message
    assert ConflictStore(site.store).get(site.conflict_id).resolution == "repository"


def test_bad_input_gets_a_clear_page_and_never_a_500(site):
    client = signed_in(site)
    checks = [
        (client.get("/records/t/no-such-record"), 404, "No record “no-such-record”"),
        (client.get("/records/elsewhere/000101"), 404, "There is no target named “elsewhere”"),
        (client.get("/runs/9999"), 404, "There is no run 9999."),
        (client.get("/runs/9999/report.json"), 404, "is not kept any more"),
        (client.get("/runs/abc"), 404, "There is no such page."),
        (client.get("/no/such/page"), 404, "There is no such page."),
        (client.post("/conflicts/9999", {"choice": "catalogue"}), 404, "no conflict 9999"),
        (client.post(f"/conflicts/{site.conflict_id}", {"choice": "both"}), 409, "Choose which"),
        (
            client.post(f"/conflicts/{site.conflict_id}", {"choice": "value", "value": " \n "}),
            409,
            "Type the merged value before choosing to save it.",
        ),
        (client.post("/language", {"language": "xx"}), 400, "could not be understood"),
        (client.get("/conflicts/1"), 405, "cannot be used that way"),
        (
            client.post(f"/conflicts/{site.conflict_id}", {"value": "x" * 300_000}),
            413,
            "too large",
        ),
    ]
    for response, status, message in checks:
        assert response.status_code == status, (response.url, response.status_code)
        assert message in text(response), (response.url, text(response))
    assert open_conflicts(site) == [site.conflict_id]


def test_a_repository_refusal_leaves_the_conflict_open_with_a_message(site, monkeypatch):
    client = signed_in(site)
    monkeypatch.setenv("KITAB_TEST_OMEKA_CREDENTIAL", "a key Omeka does not know")
    response = client.post(
        f"/conflicts/{site.conflict_id}",
        {"choice": "value", "value": "Kitabi Dədə Qorqud : boylar və oğuznamə"},
        token_from="/conflicts",
    )
    assert response.status_code == 503
    assert "The repository refused or could not be reached" in text(response)
    assert "a key Omeka does not know" not in response.text
    assert open_conflicts(site) == [site.conflict_id]
    item = by_control(site.target.items())["000101"]
    assert site.target.values(item, "dcterms:title") == [REPOSITORY_TITLE]


# -- what the pages show ------------------------------------------------------------------------


def test_the_conflict_shows_base_catalogue_and_repository_side_by_side(site):
    conflicts = signed_in(site).get("/conflicts")
    (card,) = page(conflicts).xpath("//section[contains(@class, 'conflict')]")
    sides = [
        [li.text_content().strip() for li in side.xpath(".//li")]
        for side in card.xpath(".//div[@class='sides']/div")
    ]
    assert sides == [
        ["Kitabi Dədə Qorqud : dastanlar"],
        [CATALOGUE_TITLE],
        [REPOSITORY_TITLE],
    ]
    assert "dcterms:title" in card.text_content()
    assert card.xpath(".//a/@href")[0] == "/records/t/AZ-QzxMKS:000101"


def test_the_record_page_shows_the_records_mapped_fields_its_item_and_history(site):
    record = signed_in(site).get("/records/t/000101")
    assert record.status_code == 200
    tree = page(record)
    rows = {}
    for row in tree.xpath("//table[@class='fields']/tbody/tr"):
        cells = row.xpath("./td")
        rows[cells[0].text_content().strip()] = [
            [li.text_content().strip() for li in cell.xpath(".//li")] for cell in cells[1:]
        ]
    # the catalogue side now says what the export says (the edited 245 $b); the base still
    # holds the title both sides had at the last sync
    assert rows["dcterms:title"] == [[CATALOGUE_TITLE], ["Kitabi Dədə Qorqud : dastanlar"]]
    assert rows["dcterms:publisher"][0] == ["Yazıçı"]
    assert rows["dcterms:abstract"][0] == ["Oğuz qəhrəmanlıq eposunun on iki boyu."]
    assert "kitab:AZ-QzxMKS:000101" in rows["dcterms:identifier"][0]
    assert tree.xpath("//h1")[0].text_content() == "000101 (qazax-marc21.xml, record 1)"
    link = site.store.get_link("t", "AZ-QzxMKS:000101")
    item = by_control(site.target.items())["000101"]
    assert link.item_url.endswith(f"/admin/item/{item['o:id']}")
    assert tree.xpath(f"//a[@href='{link.item_url}']")
    writes = [
        [td.text_content().strip() for td in tr.xpath("./td")]
        for tr in tree.xpath(
            "//h2[text()='History of writes']/following-sibling::table[1]/tbody/tr"
        )
    ]
    # newest first: the sync's push (the title held back by the conflict), the first push
    assert [(w[1], w[2]) for w in writes] == [("update", "done"), ("create", "done")]
    assert "open" in text(record)  # the open conflict is listed and linked


def test_the_overview_shows_each_targets_figures_and_a_chart(site):
    overview = signed_in(site).get("/")
    tree = page(overview)
    figures = {
        div.xpath("./dt")[0].text_content(): div.xpath("./dd")[0].text_content().strip()
        for div in tree.xpath("//dl[@class='figures']/div")
    }
    assert figures == {
        "Items linked": str(RECORDS + 1),
        "Changes pending": "1",  # 000101, whose title waits for the conflict's resolution
        "Open conflicts": "1",
        "Failures": "0",
    }
    jobs = [a.text_content() for a in tree.xpath("//section[contains(@class,'target')]//td/a")]
    last_pull = site.store.runs(target="t", job="pull", limit=1)[0]
    last_push = site.store.runs(target="t", job="push", limit=1)[0]
    assert jobs == [f"pull #{last_pull.id}", f"push #{last_push.id}"]
    bars = tree.xpath("//svg//rect[@class='created']/title")
    assert len(bars) == 1 and bars[0].text_content().endswith(f": {RECORDS + 1} created")
    edit_export(site.target, "Oʻzbek romani", "Oʻzbek tarixiy romani")  # 000104's subject
    figures = page(signed_in(site).get("/")).xpath("//dl[@class='figures']/div/dd")
    assert figures[1].text_content().strip() == "2"


def test_scheduled_jobs_are_listed_with_their_next_run(site):
    site.close()
    config_text = site.target.config_file.read_text(encoding="utf-8")
    site.target.config_file.write_text(
        config_text + '\n[jobs.nightly]\nkind = "sync"\ntarget = "t"\nschedule = "30 2 * * *"\n',
        encoding="utf-8",
    )
    config = site.target.config
    site.store = StateStore(config.state_path)
    site.web = start(config, site.store, host="127.0.0.1", port=0)
    tree = page(signed_in(site, language="ru").get("/"))
    rows = tree.xpath("//h3[text()='Плановые задания']/following-sibling::table[1]/tbody/tr")
    (cells,) = [[td.text_content().strip() for td in row.xpath("./td")] for row in rows]
    assert cells[0] == "nightly синхронизация"
    assert "30 2 * * *" in cells[1]
    assert re.search(r"\d{2}:30:00$", cells[2])  # the next 02:30, in the pages' time zone
    assert cells[3] == "ещё не запускалось"


def test_the_run_page_lists_each_records_write_and_the_saved_report(site):
    client = signed_in(site)
    (push_run,) = site.store.runs(target="t", job="push", limit=100)[-1:]
    response = client.get(f"/runs/{push_run.id}")
    tree = page(response)
    rows = tree.xpath("//h2[text()='Writes to the repository']/following-sibling::table[1]//tr")
    cells = [[td.text_content().strip() for td in row.xpath("./td")] for row in rows[1:]]
    assert len(cells) == RECORDS + 1
    assert {(c[1], c[2]) for c in cells} == {("create", "done")}
    assert "AZ-QzxMKS:000101" in [c[0] for c in cells]
    report = client.get(f"/runs/{push_run.id}/report.json")
    assert report.status_code == 200
    assert report.json() == json.loads(Path(push_run.report).read_text(encoding="utf-8"))
    sync_push = site.store.runs(target="t", job="push", limit=1)[0]
    conflicts = page(client.get(f"/runs/{sync_push.id}")).xpath(
        "//h2[text()='Conflicts found']/following-sibling::table[1]//td"
    )
    assert [td.text_content() for td in conflicts][1:] == [
        "dcterms:title",
        CATALOGUE_TITLE,
        REPOSITORY_TITLE,
    ]


# -- languages ----------------------------------------------------------------------------------


def test_the_browsers_language_is_used_until_the_person_chooses_one(site):
    russian = signed_in(site, language="ru-RU,ru;q=0.9,en;q=0.5")
    overview = russian.get("/")
    assert page(overview).xpath("/html/@lang") == ["ru"]
    assert page(overview).xpath("//h1")[0].text_content() == "Назначения"
    assert "Связанных документов" in text(overview)
    run = site.store.runs(target="t", job="push", limit=100)[-1]
    detail = text(russian.get(f"/runs/{run.id}"))
    assert "документов создано" in detail
    # a Russian date: "27 нояб. 2026 г., 10:30:57" in the configured time zone (UTC here)
    assert re.search(r"\d{1,2} [а-я]+\.? \d{4} г\., \d{2}:\d{2}:\d{2}", detail)

    response = russian.post("/language", {"language": "az", "back": "/conflicts"})
    assert response.headers["Location"] == "/conflicts"
    conflicts = russian.get("/conflicts")
    assert page(conflicts).xpath("//h1")[0].text_content() == "Açıq ziddiyyətlər"
    assert "Kataloqdakı dəyəri saxla" in conflicts.text

    uzbek = signed_in(site, "kamran", language="uz")
    assert "Ziddiyatlarni faqat katalogchilar hal qila oladi." in text(uzbek.get("/conflicts"))
    assert "Ochiq ziddiyatlar" in text(uzbek.get("/conflicts"))
    english = signed_in(site, "kamran", language="de-DE")
    assert page(english.get("/")).xpath("//h1")[0].text_content() == "Targets"


def test_numbers_follow_the_locale(site):
    from flask_babel import format_decimal

    with site.web.app.test_request_context(headers={"Accept-Language": "ru"}):
        assert format_decimal(12345) == "12\xa0345"
    with site.web.app.test_request_context(headers={"Accept-Language": "az"}):
        assert format_decimal(12345) == "12.345"


# -- the command line ---------------------------------------------------------------------------


def test_kitab_web_adduser_then_serve(site):
    config = str(site.target.config_file)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "kitab", "web"]
    short = subprocess.run(
        [*command, "adduser", "leyla", "--role", "cataloguer", "-c", config],
        env={**env, "KITAB_WEB_PASSWORD": "short"},
        capture_output=True,
        text=True,
    )
    assert short.returncode == 2 and "at least 8 characters" in short.stderr
    added = subprocess.run(
        [*command, "adduser", "leyla", "--role", "cataloguer", "-c", config],
        env={**env, "KITAB_WEB_PASSWORD": PASSWORD},
        capture_output=True,
        text=True,
    )
    assert added.returncode == 0 and added.stdout == "leyla: added as cataloguer\n"
    assert PASSWORD not in added.stdout + added.stderr
    server = subprocess.Popen(
        [*command, "-c", config, "--port", "0"], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        line = server.stdout.readline()
        url = re.match(r"kitab web at (http://127\.0\.0\.1:\d+) \(waitress\)", line).group(1)
        client = Client(url)
        assert client.login("leyla").status_code == 302
        assert client.get("/conflicts").status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=10)


# -- the web tables on PostgreSQL ---------------------------------------------------------------


def test_people_languages_and_the_signing_key_on_postgresql():
    from pg import Unavailable, start_server

    try:
        server = start_server()
    except Unavailable as error:
        pytest.skip(str(error))
    try:
        with StateStore(server.new_database()) as store:
            users = UserStore(store)
            assert users.add("aynur", PASSWORD, "cataloguer") is True
            assert users.add("aynur", PASSWORD + "!", "viewer") is False  # new password, role
            assert users.check("aynur", PASSWORD) is None
            assert users.check("aynur", PASSWORD + "!") == users.get("aynur")
            assert users.get("aynur").role == "viewer" and users.get("aynur").epoch == 1
            users.end_sessions("aynur")
            assert users.get("aynur").epoch == 2
            users.set_language("aynur", "az")
            users.set_language("aynur", "uz")
            assert users.language("aynur") == "uz"
            key = users.secret_key()
            assert len(key) == 64 and UserStore(store).secret_key() == key
    finally:
        server.stop()
