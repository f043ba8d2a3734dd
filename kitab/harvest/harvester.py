"""An incremental OAI-PMH harvest of one source, prefix and set, the way the guidelines ask.

Identify first (for the granularity); ``from`` is the ``responseDate`` of the first answer of
the last *complete* harvest (the source's clock, never ours), truncated to that granularity and
moved back by the overlap window, because some sources index late. The new watermark is saved
only when the list has been followed to its end. While a list runs, the last token is saved
after each page, so a run that is killed resumes from there; a token the source no longer
knows (``badResumptionToken``) restarts the list with the original arguments, which is safe
because records are upserted. ``noRecordsMatch`` means nothing changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from lxml import etree

from kitab.harvest.client import OAI, HarvestError, OaiClient, OaiProtocolError, Page
from kitab.harvest.stores import Harvested, RecordError, RecordStore
from kitab.sync.state import StateStore

MAX_RESTARTS = 3


@dataclass(frozen=True, slots=True)
class Source:
    """What to harvest; ``name`` scopes the watermark (a URL works as a name too)."""

    name: str
    url: str
    prefix: str
    set: str | None = None
    overlap_hours: float = 0.0
    max_retries: int = 5
    timeout: float = 60.0


@dataclass(slots=True)
class HarvestReport:
    source: str
    prefix: str
    set: str | None
    asked_from: str | None = None
    counts: dict[str, int] = field(default_factory=dict)  # new/updated/deleted/stale/skipped
    pages: int = 0
    restarts: int = 0
    retries: int = 0
    resumed: bool = False
    complete: bool = False
    watermark: str | None = None
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # records skipped, with where they were

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "prefix": self.prefix,
            "set": self.set,
            "from": self.asked_from,
            "counts": self.counts,
            "pages": self.pages,
            "restarts": self.restarts,
            "retries": self.retries,
            "resumed": self.resumed,
            "complete": self.complete,
            "watermark": self.watermark,
            "warnings": self.warnings,
            "problems": self.problems,
        }


def watermark_scope(source: Source) -> str:
    return f"harvest:{source.name}:{source.prefix}:{source.set or ''}"


def harvest(
    source: Source,
    state: StateStore,
    records: RecordStore,
    *,
    full: bool = False,
    from_: str | None = None,
    until: str | None = None,
    sleep: Callable[[float], None] | None = None,
) -> HarvestReport:
    """Harvest one list into ``records``. HarvestError when the source fails us for good;
    whatever was stored before that stays stored, and the watermark does not move."""
    report = HarvestReport(source.name, source.prefix, source.set)
    extra = {"sleep": sleep} if sleep is not None else {}
    client = OaiClient(source.url, max_retries=source.max_retries, timeout=source.timeout, **extra)
    scope = watermark_scope(source)
    try:
        identify = client.request(verb="Identify")
        _raise_errors(identify)
        granularity = identify.root.findtext(f"{OAI}Identify/{OAI}granularity") or "YYYY-MM-DD"
        seconds = "hh" in granularity
        arguments = {"metadataPrefix": source.prefix}
        if source.set:
            arguments["set"] = source.set
        since = from_ or (None if full else state.get_watermark(scope))
        if since:
            hours = 0.0 if from_ else source.overlap_hours
            arguments["from"] = _truncate(since, seconds, hours)
            report.asked_from = arguments["from"]
        if until:
            arguments["until"] = _truncate(until, seconds, 0.0)
        _run_list(client, arguments, state, records, report, scope)
    finally:
        report.retries = client.retries
        client.close()
    return report


def _run_list(
    client: OaiClient,
    arguments: dict[str, str],
    state: StateStore,
    records: RecordStore,
    report: HarvestReport,
    scope: str,
) -> None:
    resume = _saved_resume(state, scope, arguments)
    first_date = resume["first_date"] if resume else None
    token = resume["token"] if resume else None
    report.resumed = resume is not None
    while True:
        params = {"verb": "ListRecords", **({"resumptionToken": token} if token else arguments)}
        page = client.request(**params)
        report.pages += 1
        report.warnings.extend(page.warnings)
        first_date = first_date or page.response_date
        codes = dict(page.error_codes())
        if "badResumptionToken" in codes and token:
            report.restarts += 1
            if report.restarts > MAX_RESTARTS:
                raise HarvestError(f"{page.where}: resumption tokens keep failing, gave up")
            report.warnings.append(f"{page.where}: token refused, list restarted from the start")
            token, first_date = None, None
            continue
        if "noRecordsMatch" in codes:
            break
        _raise_errors(page)
        _store_page(page, records, report)
        following = page.root.findtext(f"{OAI}ListRecords/{OAI}resumptionToken")
        following = following.strip() if following else None
        if following and following == token:
            report.warnings.append(f"{page.where}: the same token came back; list taken as ended")
            following = None
        if not following:
            break
        token = following
        state.set_watermark(
            f"{scope}:resume",
            json.dumps({"token": token, "first_date": first_date, "arguments": arguments}),
        )
    state.set_watermark(f"{scope}:resume", "")
    if first_date:
        state.set_watermark(scope, first_date)
        report.watermark = first_date
    report.complete = True


def _saved_resume(
    state: StateStore, scope: str, arguments: dict[str, str]
) -> dict[str, str] | None:
    """The token a killed run left behind, if it was for this very list."""
    saved = state.get_watermark(f"{scope}:resume")
    if not saved:
        return None
    data = json.loads(saved)
    return data if data.get("arguments") == arguments else None


def _store_page(page: Page, records: RecordStore, report: HarvestReport) -> None:
    for position, element in enumerate(page.root.iter(f"{OAI}record"), start=1):
        header = element.find(f"{OAI}header")
        identifier = header.findtext(f"{OAI}identifier") if header is not None else None
        datestamp = header.findtext(f"{OAI}datestamp") if header is not None else None
        where = f"{page.where}: record {position}"
        if header is None or not identifier or not datestamp:
            report.problems.append(f"{where}: no identifier or datestamp in the header; skipped")
            report.count("skipped")
            continue
        metadata = element.find(f"{OAI}metadata")
        children = [c for c in metadata if isinstance(c.tag, str)] if metadata is not None else []
        harvested = Harvested(
            identifier=identifier.strip(),
            datestamp=datestamp.strip(),
            deleted=header.get("status") == "deleted",
            sets=[s.text.strip() for s in header.findall(f"{OAI}setSpec") if s.text],
            metadata=children[0] if children else None,
        )
        try:
            report.count(records.upsert(harvested))
        except (RecordError, etree.XMLSyntaxError) as error:
            report.problems.append(f"{where} ({harvested.identifier}): {error}; skipped")
            report.count("skipped")


def _raise_errors(page: Page) -> None:
    for code, message in page.error_codes():
        raise OaiProtocolError(code, message, page.where)


def _truncate(value: str, seconds: bool, overlap_hours: float) -> str:
    """A datestamp in the source's granularity, moved back by the overlap window."""
    text = value.strip()
    moment = (
        datetime.strptime(text[:10], "%Y-%m-%d")
        if len(text) == 10
        else datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")
    ).replace(tzinfo=UTC) - timedelta(hours=overlap_hours)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ" if seconds else "%Y-%m-%d")
