"""Which language a page speaks, and the words for kitab's own codes in it.

The person's own choice (kept in the state store) comes first, then the browser's
Accept-Language, then English. Dates are shown in the configured time zone and formatted for
the language by Babel, as are numbers (12 345 in Russian, 12.345 in Azerbaijani).
"""

from __future__ import annotations

from datetime import date

from babel.dates import format_skeleton
from flask import current_app, g, request
from flask_babel import format_datetime, format_decimal, get_locale
from flask_babel import lazy_gettext as _l

from kitab.web.data import parse_time

#: language code → its own name, as a speaker of it would look for it in a list
LANGUAGES = {"az": "Azərbaycanca", "uz": "Oʻzbekcha", "ru": "Русский", "en": "English"}


def select_locale() -> str:
    user = g.get("user")
    if user is not None:
        chosen = current_app.extensions["kitab"].users.language(user.name)
        if chosen in LANGUAGES:
            return chosen
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


def when(text: str | None) -> str:
    """A state-store timestamp for people, in their language and the library's time zone."""
    if not text:
        return ""
    try:
        return format_datetime(parse_time(text), "medium")
    except ValueError:
        return text


def day(value: date) -> str:
    """A day as "4 Mar" / "4 мар." / "Mar 4", for the chart's labels."""
    return format_skeleton("MMMd", value, locale=get_locale())


def current_language() -> str:
    return str(get_locale() or "en")


def number(value: int | float | None) -> str:
    return "" if value is None else format_decimal(value)


JOB_NAMES = {
    "push": _l("push"),
    "pull": _l("pull"),
    "relink": _l("relink"),
    "sync": _l("sync"),
    "harvest": _l("harvest"),
    "export": _l("export"),
}
OUTCOMES = {
    "ok": _l("succeeded"),
    "failed": _l("failed"),
    "conflicts": _l("conflicts"),
    "running": _l("running"),
    "interrupted": _l("interrupted"),
    "error": _l("error"),
    "skipped": _l("skipped"),
}
ACTIONS = {
    "create": _l("create"),
    "update": _l("update"),
    "resume": _l("resume"),
    "withdraw": _l("withdraw"),
    "unchanged": _l("unchanged"),
    "skip": _l("skip"),
}
WRITE_STATUS = {"intent": _l("not confirmed"), "done": _l("done"), "failed": _l("failed")}
COUNTS = {
    "create": _l("items created"),
    "resume": _l("interrupted creations finished"),
    "update": _l("items updated"),
    "withdraw": _l("items withdrawn"),
    "unchanged": _l("records unchanged"),
    "skip": _l("records skipped"),
    "failed": _l("records failed"),
    "files_sent": _l("files sent"),
    "items_changed": _l("items changed in the repository"),
    "items_checked": _l("items checked in the repository"),
    "records_pulled": _l("records pulled"),
    "fields_pulled": _l("fields pulled"),
    "linked": _l("records linked"),
    "not_in_repository": _l("records not in the repository"),
    "items_without_record": _l("items without a record"),
    "items_listed": _l("items listed"),
}
RESOLUTIONS = {
    "catalogue": _l("kept the catalogue's value"),
    "repository": _l("kept the repository's value"),
    "value": _l("entered a merged value"),
}
SERIES = {
    "created": _l("created"),
    "updated": _l("updated"),
    "pulled": _l("pulled back to the catalogue"),
}
ROLES = {"viewer": _l("viewer"), "cataloguer": _l("cataloguer")}


def label(table: dict, code: str | None) -> str:
    """The word for one of kitab's codes; an unknown code is shown as it is."""
    if code is None:
        return ""
    return str(table.get(code, code))
