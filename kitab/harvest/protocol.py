"""The OAI-PMH 2.0 verbs over the provider index: arguments in, a complete XML answer out.

Every argument rule of the protocol is checked before any data is read, and each mistake gets
the error code the specification names for it (a repeated or empty argument is ``badArgument``,
an unknown verb ``badVerb``...). OAI errors are answers, not exceptions for the caller: the web
layer always sends them with HTTP 200.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote

from kitab.config import OaiConfig
from kitab.harvest import tokens
from kitab.harvest.disseminate import MARC21_NS, MARC21_SCHEMA, UNIMARC_NS, UNIMARC_SCHEMA
from kitab.harvest.index import sets_text
from kitab.mappings.writers import OAI_DC_NS, xml_text
from kitab.sync.state import StateStore

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
_LOCAL_SAFE = "-_.!~*'();/?:@&=+$,"  # oai-identifier's local-identifier characters, minus %

#: verb → (required, optional, takes a resumptionToken)
VERBS: dict[str, tuple[frozenset[str], frozenset[str], bool]] = {
    "Identify": (frozenset(), frozenset(), False),
    "ListMetadataFormats": (frozenset(), frozenset({"identifier"}), False),
    "ListSets": (frozenset(), frozenset(), True),
    "GetRecord": (frozenset({"identifier", "metadataPrefix"}), frozenset(), False),
    "ListIdentifiers": (frozenset({"metadataPrefix"}), frozenset({"from", "until", "set"}), True),
    "ListRecords": (frozenset({"metadataPrefix"}), frozenset({"from", "until", "set"}), True),
}


@dataclass(frozen=True, slots=True)
class Format:
    prefix: str
    schema: str
    namespace: str
    column: str  # which stored serialisation: "dc" or "native"
    flavour: str | None  # records of this flavour only (None: every record)


FORMATS = {
    "oai_dc": Format(
        "oai_dc", "http://www.openarchives.org/OAI/2.0/oai_dc.xsd", OAI_DC_NS, "dc", None
    ),
    "marc21": Format("marc21", MARC21_SCHEMA, MARC21_NS, "native", "marc21"),
    "unimarc": Format("unimarc", UNIMARC_SCHEMA, UNIMARC_NS, "native", "unimarc"),
}

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SECONDS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


class OaiError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def stamp(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_date(name: str, value: str, *, end: bool) -> tuple[int, str]:
    """(UTC epoch seconds, granularity); a day ``until`` covers the whole day."""
    if _DAY.match(value):
        shape, granularity = "%Y-%m-%d", "day"
    elif _SECONDS.match(value):
        shape, granularity = "%Y-%m-%dT%H:%M:%SZ", "seconds"
    else:
        raise OaiError("badArgument", f"{name}={value!r} is not YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ")
    try:
        moment = datetime.strptime(value, shape).replace(tzinfo=UTC)
    except ValueError:
        raise OaiError("badArgument", f"{name}={value!r} is not a date") from None
    epoch = int(moment.timestamp())
    return (epoch + 86399 if end and granularity == "day" else epoch), granularity


class Protocol:
    """Answers OAI-PMH requests from the index in the state store. Read-only."""

    def __init__(self, oai: OaiConfig, store: StateStore, secret: bytes, base_url: str) -> None:
        self.oai = oai
        self.store = store
        self.secret = secret
        self.base_url = base_url
        self.prefix_id = f"oai:{oai.repository_identifier}:"
        self._verbs: dict[str, Callable[[dict[str, str], int], str]] = {
            "Identify": self._identify,
            "ListMetadataFormats": self._list_metadata_formats,
            "ListSets": self._list_sets,
            "GetRecord": self._get_record,
            "ListIdentifiers": self._list_identifiers,
            "ListRecords": self._list_records,
        }

    # -- identifiers ---------------------------------------------------------------------------

    def identifier(self, key: str) -> str:
        return self.prefix_id + quote(key, safe=_LOCAL_SAFE)

    def key_of(self, identifier: str) -> str:
        if not identifier.startswith(self.prefix_id) or len(identifier) == len(self.prefix_id):
            raise OaiError(
                "idDoesNotExist", f"{identifier!r} is not an identifier of this repository"
            )
        return unquote(identifier[len(self.prefix_id) :])

    # -- entry point ---------------------------------------------------------------------------

    def answer(self, args: Mapping[str, Sequence[str]], now: int) -> bytes:
        """The whole response document for one request's arguments."""
        echo: dict[str, str] = {}
        try:
            verb, single = self._check(args)
            echo = dict(single)
            body = self._verbs[verb](single, now)
        except OaiError as error:
            keep = error.code not in ("badVerb", "badArgument")
            body = f'<error code="{error.code}">{xml_text(error.message)}</error>'
            echo = echo if keep else {}
        return self._envelope(echo, body, now)

    def _envelope(self, echo: dict[str, str], body: str, now: int) -> bytes:
        attrs = "".join(f' {k}="{xml_text(v)}"' for k, v in echo.items())
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<OAI-PMH xmlns="{OAI_NS}" xmlns:xsi="{XSI}" xsi:schemaLocation="{OAI_NS} '
            'http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">\n'
            f"<responseDate>{stamp(now)}</responseDate>\n"
            f"<request{attrs}>{xml_text(self.base_url)}</request>\n"
            f"{body}\n</OAI-PMH>\n"
        ).encode()

    def _check(self, args: Mapping[str, Sequence[str]]) -> tuple[str, dict[str, str]]:
        verbs = args.get("verb", [])
        if len(verbs) != 1 or verbs[0] not in VERBS:
            shown = ", ".join(verbs) or "none"
            raise OaiError("badVerb", f"verb must be given once and be a known verb (got {shown})")
        verb = verbs[0]
        required, optional, resumable = VERBS[verb]
        single: dict[str, str] = {"verb": verb}
        for name, values in args.items():
            if name == "verb":
                continue
            if len(values) != 1:
                raise OaiError("badArgument", f"{name} is repeated")
            if name not in required | optional and not (resumable and name == "resumptionToken"):
                raise OaiError("badArgument", f"{name} is not an argument of {verb}")
            if values[0] == "":
                raise OaiError("badArgument", f"{name} is empty")
            single[name] = values[0]
        if "resumptionToken" in single:
            if len(single) != 2:
                raise OaiError("badArgument", "resumptionToken allows no other argument")
        else:
            missing = sorted(required - single.keys())
            if missing:
                raise OaiError("badArgument", f"{verb} needs {', '.join(missing)}")
        return verb, single

    # -- verbs ---------------------------------------------------------------------------------

    def _identify(self, args: dict[str, str], now: int) -> str:
        row = self.store.query("SELECT MIN(datestamp), MIN(key) FROM oai_records")[0]
        earliest = row[0] if row[0] is not None else now
        sample = self.identifier(row[1] if row[1] is not None else "000001")
        emails = "".join(f"<adminEmail>{xml_text(e)}</adminEmail>" for e in self.oai.admin_emails)
        oai_id = "http://www.openarchives.org/OAI/2.0/oai-identifier"
        return (
            "<Identify>"
            f"<repositoryName>{xml_text(self.oai.repository_name)}</repositoryName>"
            f"<baseURL>{xml_text(self.base_url)}</baseURL>"
            f"<protocolVersion>2.0</protocolVersion>{emails}"
            f"<earliestDatestamp>{stamp(earliest)}</earliestDatestamp>"
            "<deletedRecord>persistent</deletedRecord>"
            "<granularity>YYYY-MM-DDThh:mm:ssZ</granularity>"
            f'<description><oai-identifier xmlns="{oai_id}" xsi:schemaLocation="{oai_id} '
            f'{oai_id}.xsd"><scheme>oai</scheme>'
            f"<repositoryIdentifier>{self.oai.repository_identifier}</repositoryIdentifier>"
            f"<delimiter>:</delimiter><sampleIdentifier>{xml_text(sample)}</sampleIdentifier>"
            "</oai-identifier></description></Identify>"
        )

    def _list_metadata_formats(self, args: dict[str, str], now: int) -> str:
        if "identifier" in args:
            row = self._row(self.key_of(args["identifier"]), "1")
            flavours = {row[3]}
        else:
            flavours = {r[0] for r in self.store.query("SELECT DISTINCT flavour FROM oai_records")}
        formats = [f for f in FORMATS.values() if f.flavour is None or f.flavour in flavours]
        listed = "".join(
            f"<metadataFormat><metadataPrefix>{f.prefix}</metadataPrefix>"
            f"<schema>{f.schema}</schema><metadataNamespace>{f.namespace}</metadataNamespace>"
            "</metadataFormat>"
            for f in formats
        )
        return f"<ListMetadataFormats>{listed}</ListMetadataFormats>"

    def _list_sets(self, args: dict[str, str], now: int) -> str:
        if "resumptionToken" in args:
            raise OaiError("badResumptionToken", "ListSets is never split into pages here")
        if not self.oai.sets:
            raise OaiError("noSetHierarchy", "this repository has no sets")
        listed = "".join(
            f"<set><setSpec>{xml_text(s.spec)}</setSpec><setName>{xml_text(s.name)}</setName></set>"
            for s in self.oai.sets
        )
        return f"<ListSets>{listed}</ListSets>"

    def _get_record(self, args: dict[str, str], now: int) -> str:
        fmt = self._format(args["metadataPrefix"])
        key = self.key_of(args["identifier"])
        row = self._row(key, fmt.column)
        if fmt.flavour is not None and row[3] != fmt.flavour:
            raise OaiError(
                "cannotDisseminateFormat",
                f"{args['identifier']} is a {row[3]} record: ask for {row[3]} or oai_dc",
            )
        return f"<GetRecord>{self._record(row, fmt)}</GetRecord>"

    def _list_identifiers(self, args: dict[str, str], now: int) -> str:
        return self._list("ListIdentifiers", args)

    def _list_records(self, args: dict[str, str], now: int) -> str:
        return self._list("ListRecords", args)

    # -- lists ---------------------------------------------------------------------------------

    def _list(self, verb: str, args: dict[str, str]) -> str:
        if "resumptionToken" in args:
            try:
                state = tokens.decode(args["resumptionToken"], self.secret)
            except tokens.BadToken as error:
                raise OaiError("badResumptionToken", str(error)) from None
            if state.verb != verb or state.prefix not in FORMATS:
                raise OaiError("badResumptionToken", f"this token belongs to {state.verb}")
            fmt = FORMATS[state.prefix]
        else:
            fmt = self._format(args["metadataPrefix"])
            state = self._first_state(verb, fmt, args)
        where, params = self._filters(fmt, state)
        size = self.oai.page_size
        columns = "key, datestamp, deleted, flavour, sets"
        if verb == "ListRecords":
            columns += f", {fmt.column}"
        rows = self.store.query(
            f"SELECT {columns} FROM oai_records WHERE {where} AND (datestamp, key) > (?, ?) "
            "ORDER BY datestamp, key LIMIT ?",
            [*params, state.last_stamp, state.last_key, size + 1],
        )
        if not rows:
            raise OaiError("noRecordsMatch", "no records match these arguments")
        page, more = rows[:size], len(rows) > size
        if verb == "ListRecords":
            items = "".join(self._record(row, fmt) for row in page)
        else:
            items = "".join(self._header(row) for row in page)
        token = ""
        sizes = f'completeListSize="{state.total}" cursor="{state.cursor}"'
        if more:
            last = page[-1]
            following = tokens.ListState(
                **{
                    **_fields(state),
                    "last_stamp": last[1],
                    "last_key": last[0],
                    "cursor": state.cursor + len(page),
                }
            )
            token = (
                f"<resumptionToken {sizes}>{tokens.encode(following, self.secret)}"
                "</resumptionToken>"
            )
        elif state.cursor > 0:
            token = f"<resumptionToken {sizes}/>"
        return f"<{verb}>{items}{token}</{verb}>"

    def _first_state(self, verb: str, fmt: Format, args: dict[str, str]) -> tokens.ListState:
        start = end = None
        granularities = set()
        if "from" in args:
            start, granularity = _parse_date("from", args["from"], end=False)
            granularities.add(granularity)
        if "until" in args:
            end, granularity = _parse_date("until", args["until"], end=True)
            granularities.add(granularity)
        if len(granularities) > 1:
            raise OaiError("badArgument", "from and until must have the same granularity")
        if start is not None and end is not None and start > end:
            raise OaiError("badArgument", "from is later than until")
        spec = args.get("set")
        if spec is not None and not self.oai.sets:
            raise OaiError("noSetHierarchy", "this repository has no sets")
        state = tokens.ListState(verb, fmt.prefix, spec, start, end, -1, "", 0, 0)
        where, params = self._filters(fmt, state)
        total = self.store.query(f"SELECT COUNT(*) FROM oai_records WHERE {where}", params)[0][0]
        return tokens.ListState(**{**_fields(state), "total": total})

    def _filters(self, fmt: Format, state: tokens.ListState) -> tuple[str, list[object]]:
        where, params = ["1 = 1"], []
        if fmt.flavour is not None:
            where.append("flavour = ?")
            params.append(fmt.flavour)
        if state.start is not None:
            where.append("datestamp >= ?")
            params.append(state.start)
        if state.end is not None:
            where.append("datestamp <= ?")
            params.append(state.end)
        if state.set is not None:
            where.append("(instr(sets, ?) > 0 OR instr(sets, ?) > 0)")
            params.extend([sets_text([state.set]), f" {state.set}:"])
        return " AND ".join(where), params

    # -- pieces --------------------------------------------------------------------------------

    def _format(self, prefix: str) -> Format:
        if prefix not in FORMATS:
            known = ", ".join(FORMATS)
            raise OaiError(
                "cannotDisseminateFormat", f"unknown metadataPrefix {prefix!r} ({known})"
            )
        return FORMATS[prefix]

    def _row(self, key: str, column: str) -> tuple[object, ...]:
        rows = self.store.query(
            f"SELECT key, datestamp, deleted, flavour, sets, {column} FROM oai_records "
            "WHERE key = ?",
            (key,),
        )
        if not rows:
            raise OaiError("idDoesNotExist", f"no record {self.identifier(key)}")
        return rows[0]

    def _header(self, row: tuple[object, ...]) -> str:
        key, datestamp, deleted, _, sets = row[:5]
        status = ' status="deleted"' if deleted else ""
        specs = "".join(f"<setSpec>{s}</setSpec>" for s in str(sets).split())
        return (
            f"<header{status}><identifier>{xml_text(self.identifier(str(key)))}</identifier>"
            f"<datestamp>{stamp(int(datestamp))}</datestamp>{specs}</header>"  # type: ignore[call-overload]
        )

    def _record(self, row: tuple[object, ...], fmt: Format) -> str:
        if row[2]:
            return f"<record>{self._header(row)}</record>"
        payload = zlib.decompress(row[5]).decode("utf-8")  # type: ignore[arg-type]
        return f"<record>{self._header(row)}<metadata>{payload}</metadata></record>"


def _fields(state: tokens.ListState) -> dict[str, object]:
    return {name: getattr(state, name) for name in tokens.ListState.__slots__}
