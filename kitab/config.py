"""``kitab.toml``: what to read, where to push it, and how.

Every key is checked when the file is loaded, and a mistake gets an error that names the key
(``targets.district.kind: expected one of dspace, omeka, saf, got 'dspac'``), so a typo never
silently becomes a default. Paths are relative to the file. Secrets never live here: the file
names the environment variable or the file outside the project that holds each one.

The reference of every key is docs/configuration.md; keep the two in step.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kitab.connectors.secrets import SecretSource

TARGET_KINDS = ("dspace", "omeka", "saf")
SCAN_STRATEGIES = ("control-number", "isbn", "856")
SCAN_FIELD = re.compile(r"^field:(\d{3})\$([0-9a-z])$")
FIELD_REF = re.compile(r"^(\d{3})(?:\$([0-9a-z]))?$")
CONFLICT_POLICIES = ("manual", "catalogue-wins", "repository-wins")


class ConfigError(Exception):
    """A mistake in kitab.toml; the message names the file and the key."""


@dataclass(frozen=True)
class Condition:
    """When a routing or rights rule applies to a record. All given parts must hold."""

    record_type: str | None = None  # leader/06 (+07), e.g. "a", "am", "as", "e"
    field: str | None = None  # "TAG" or "TAG$c"
    equals: str | None = None
    matches: re.Pattern[str] | None = None


@dataclass(frozen=True)
class Route:
    when: Condition
    container: str  # DSpace collection (handle/UUID), Omeka item set (id/label), SAF collection


@dataclass(frozen=True)
class RightsRule:
    when: Condition
    files: str = "public"  # public | private
    item: str = "public"  # public | private


@dataclass(frozen=True)
class TargetConfig:
    name: str
    kind: str
    url: str | None = None
    container: str | None = None  # collection (DSpace) / item_set (Omeka S)
    user: str | None = None
    password: SecretSource | None = None
    key_identity: SecretSource | None = None
    key_credential: SecretSource | None = None
    resource_template: str | None = None
    resource_class: str | None = None
    path: Path | None = None  # SAF output folder or .zip
    routes: tuple[Route, ...] = ()
    concurrency: int | None = None


@dataclass(frozen=True)
class CatalogueConfig:
    path: Path
    flavour: str | None = None
    encoding: str | None = None
    key_field: str | None = None
    crosswalk: str | None = None  # built-in name or path
    full_export: bool = False  # a record missing from the export was deleted


@dataclass(frozen=True)
class ScansConfig:
    path: Path
    match: tuple[str, ...] = ("control-number",)


@dataclass(frozen=True)
class OaiSet:
    """One OAI-PMH set the provider offers: the records for which ``when`` holds."""

    spec: str  # URI-unreserved characters, ``:`` between hierarchy levels
    name: str
    when: Condition


@dataclass(frozen=True)
class OaiConfig:
    """``[oai]``: how ``kitab serve`` presents the catalogue to harvesters."""

    repository_name: str = "kitab catalogue"
    repository_identifier: str = "kitab.example.org"  # a domain the library controls
    admin_emails: tuple[str, ...] = ("librarian@example.org",)
    base_url: str | None = None  # public URL of /oai when behind a proxy
    host: str = "127.0.0.1"
    port: int = 8080
    page_size: int = 100
    sets: tuple[OaiSet, ...] = ()
    links_from: tuple[str, ...] | None = None  # targets whose item URLs go in records (None: all)


JOB_KINDS = ("push", "pull", "sync", "harvest", "export")
EXPORT_FORMATS = ("marcxml", "iso2709")
#: keys a job of each kind takes besides kind, schedule, every, timezone and lease_seconds
JOB_KEYS = {
    "push": ("target",),
    "pull": ("target", "out"),
    "sync": ("target", "out"),
    "harvest": ("source",),
    "export": ("out", "format"),
}
EVERY = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d)$")
EVERY_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class JobConfig:
    """``[jobs.NAME]``: one job ``kitab run NAME`` runs now and ``kitab daemon`` on schedule."""

    name: str
    kind: str  # push | pull | sync | harvest | export
    target: str | None = None  # push, pull, sync
    source: str | None = None  # harvest: a [sources.NAME]
    out: Path | None = None  # pull/sync: folder for updated records; export: the file
    format: str = "marcxml"  # export
    schedule: str | None = None  # cron, 5 fields: minute hour day month weekday
    every: float | None = None  # seconds between runs (instead of a cron schedule)
    timezone: str | None = None  # of the cron schedule; None: the machine's
    lease_seconds: float = 60.0  # a crashed run's claims are free again after this long


@dataclass(frozen=True)
class SourceConfig:
    """``[sources.NAME]``: an OAI-PMH source ``kitab harvest NAME`` reads incrementally."""

    name: str
    url: str
    prefix: str = "oai_dc"
    set: str | None = None
    out: Path | None = None  # local record store (.jsonl or .xml)
    target: str | None = None  # push the harvested MARCXML records into this target
    overlap_hours: float = 0.0  # re-ask this much before the watermark (late-indexing sources)
    max_retries: int = 5
    timeout: float = 60.0


WEB_ROLES = ("viewer", "cataloguer")


@dataclass(frozen=True)
class WebConfig:
    """``[web]``: the cataloguers' web application (``kitab web``)."""

    host: str = "127.0.0.1"
    port: int = 8090
    session_minutes: int = 60  # a session unused this long must log in again
    timezone: str = "UTC"  # dates on the pages, e.g. "Asia/Baku", "Asia/Tashkent"
    trusted_header: str | None = None  # set by an authenticating reverse proxy: no passwords
    users: dict[str, str] = field(default_factory=dict)  # trusted-header user → role


@dataclass(frozen=True)
class Config:
    file: Path
    catalogue: CatalogueConfig
    scans: ScansConfig | None
    targets: dict[str, TargetConfig]
    rights: tuple[RightsRule, ...] = ()
    concurrency: int = 4
    state_path: Path = field(default=Path(".kitab/state.sqlite"))
    state_url: str | None = None  # [state] url: PostgreSQL shared by several workers
    state_password: SecretSource | None = None
    conflict_policy: str = "manual"
    oai: OaiConfig = field(default_factory=OaiConfig)
    sources: dict[str, SourceConfig] = field(default_factory=dict)
    web: WebConfig = field(default_factory=WebConfig)
    jobs: dict[str, JobConfig] = field(default_factory=dict)

    @property
    def state_dir(self) -> Path:
        return self.state_path.parent

    def target(self, name: str | None) -> list[TargetConfig]:
        """The named target, or all of them when ``name`` is None."""
        if name is None:
            return list(self.targets.values())
        if name not in self.targets:
            known = ", ".join(self.targets) or "none"
            raise ConfigError(f"{self.file}: no target named {name!r} (targets: {known})")
        return [self.targets[name]]


class _Table:
    """A TOML table being read: typed getters, and an error for every key nobody asked for."""

    def __init__(self, data: Any, where: str, file: Path) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{file}: {where}: expected a table, got {type(data).__name__}")
        self.data = dict(data)
        self.where = where
        self.file = file

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.file}: {self.where}.{key}: {message}".replace(": .", ": "))

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        if key not in self.data:
            return default
        value = self.data.pop(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            names = (
                kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            )
            raise self.error(key, f"expected {names}, got {value!r}")
        return value

    def require(self, key: str, kind: type | tuple[type, ...]) -> Any:
        if key not in self.data:
            raise self.error(key, "is required")
        return self.get(key, kind)

    def choice(self, key: str, choices: tuple[str, ...], default: str | None = None) -> Any:
        value = self.get(key, str, default)
        if value is not None and value not in choices:
            raise self.error(key, f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    def path(self, key: str, *, required: bool = False) -> Path | None:
        value = self.require(key, str) if required else self.get(key, str)
        return (self.file.parent / value).resolve() if value is not None else None

    def table(self, key: str) -> _Table | None:
        if key not in self.data:
            return None
        return _Table(self.data.pop(key), f"{self.where}.{key}".lstrip("."), self.file)

    def secret(self, key: str, what: str) -> SecretSource | None:
        env = self.get(f"{key}_env", str)
        file = self.path(f"{key}_file")
        if f"{key}" in self.data:
            raise self.error(
                key, f"secrets do not belong in kitab.toml: use {key}_env or {key}_file"
            )
        if env is None and file is None:
            return None
        return SecretSource(what, env=env, file=file)

    def done(self) -> None:
        if self.data:
            key = sorted(self.data)[0]
            raise self.error(key, "unknown key (see docs/configuration.md)")


def _condition(table: _Table) -> Condition:
    field_ref = table.get("field", str)
    if field_ref is not None and not FIELD_REF.match(field_ref):
        raise table.error("field", f"expected TAG or TAG$code like '650$a', got {field_ref!r}")
    pattern = table.get("matches", str)
    try:
        matches = re.compile(pattern) if pattern is not None else None
    except re.error as error:
        raise table.error("matches", f"not a valid regular expression: {error}") from None
    condition = Condition(
        record_type=table.get("record_type", str),
        field=field_ref,
        equals=table.get("equals", str),
        matches=matches,
    )
    if (condition.equals is not None or matches is not None) and field_ref is None:
        raise table.error("field", "is required with equals/matches")
    table.done()
    return condition


def _rules(parent: _Table, key: str) -> list[_Table]:
    raw = parent.get(key, list, [])
    rules = []
    for n, entry in enumerate(raw):
        rules.append(_Table(entry, f"{parent.where}.{key}[{n}]".lstrip("."), parent.file))
    return rules


def _target(name: str, table: _Table) -> TargetConfig:
    kind = table.choice("kind", TARGET_KINDS)
    if kind is None:
        raise table.error("kind", f"is required (one of {', '.join(TARGET_KINDS)})")
    routes = []
    for rule in _rules(table, "route"):
        container = rule.require("collection" if kind != "omeka" else "item_set", (str, int))
        when = _Table(rule.data.pop("when", {}), f"{rule.where}.when", rule.file)
        rule.done()
        routes.append(Route(_condition(when), str(container)))
    common: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "routes": tuple(routes),
        "concurrency": table.get("concurrency", int),
    }
    if kind == "dspace":
        target = TargetConfig(
            **common,
            url=table.require("url", str).rstrip("/"),
            container=table.require("collection", str),
            user=table.require("user", str),
            password=table.secret("password", f"DSpace password for target {name!r}"),
        )
        table.done()  # an unknown key (a typo) explains more than "missing password"
        if target.password is None:
            raise table.error("password_env", "is required (or password_file)")
    elif kind == "omeka":
        item_set = table.get("item_set", (str, int))
        target = TargetConfig(
            **common,
            url=table.require("url", str).rstrip("/"),
            container=str(item_set) if item_set is not None else None,
            key_identity=table.secret("key_identity", f"Omeka S key_identity for {name!r}"),
            key_credential=table.secret("key_credential", f"Omeka S key_credential for {name!r}"),
            resource_template=_str(table.get("resource_template", (str, int))),
            resource_class=table.get("resource_class", str),
        )
        table.done()
        if target.key_identity is None or target.key_credential is None:
            raise table.error("key_credential_env", "both API key parts are required")
    else:
        target = TargetConfig(
            **common,
            path=table.path("path", required=True),
            container=table.get("collection", str),
        )
    table.done()
    return target


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


OAI_SET_SPEC = re.compile(r"^[A-Za-z0-9\-_.!~*'()]+(?::[A-Za-z0-9\-_.!~*'()]+)*$")
OAI_REPOSITORY_ID = re.compile(r"^[a-zA-Z][a-zA-Z0-9\-]*(?:\.[a-zA-Z][a-zA-Z0-9\-]*)+$")


def _oai(table: _Table) -> OaiConfig:
    identifier = table.get("repository_identifier", str, OaiConfig.repository_identifier)
    if not OAI_REPOSITORY_ID.match(identifier):
        raise table.error("repository_identifier", f"expected a domain name, got {identifier!r}")
    emails = table.get("admin_email", (str, list), list(OaiConfig.admin_emails))
    emails = [emails] if isinstance(emails, str) else emails
    if not emails or not all(
        isinstance(e, str) and re.match(r"^\S+@(\S+\.)+\S+$", e) for e in emails
    ):
        raise table.error("admin_email", f"expected e-mail addresses, got {emails!r}")
    page_size = table.get("page_size", int, OaiConfig.page_size)
    if not 1 <= page_size <= 10000:
        raise table.error("page_size", f"expected 1 to 10000, got {page_size}")
    port = table.get("port", int, OaiConfig.port)
    if not 0 <= port <= 65535:
        raise table.error("port", f"expected 0 to 65535, got {port}")
    sets = []
    for rule in _rules(table, "set"):
        spec = rule.require("spec", str)
        if not OAI_SET_SPEC.match(spec):
            raise rule.error(
                "spec", f"not a setSpec (letters, digits, -_.!~*'() and ':'): {spec!r}"
            )
        name = rule.get("name", str, spec)
        when = _Table(rule.data.pop("when", {}), f"{rule.where}.when", rule.file)
        rule.done()
        sets.append(OaiSet(spec, name, _condition(when)))
    links_from = table.get("links_from", list)
    if links_from is not None and not all(isinstance(t, str) for t in links_from):
        raise table.error("links_from", f"expected target names, got {links_from!r}")
    base_url = table.get("base_url", str)
    config = OaiConfig(
        repository_name=table.get("repository_name", str, OaiConfig.repository_name),
        repository_identifier=identifier,
        admin_emails=tuple(emails),
        base_url=base_url.rstrip("/") if base_url else None,
        host=table.get("host", str, OaiConfig.host),
        port=port,
        page_size=page_size,
        sets=tuple(sets),
        links_from=tuple(links_from) if links_from is not None else None,
    )
    table.done()
    return config


def _job(
    name: str, table: _Table, targets: dict[str, TargetConfig], sources: dict[str, SourceConfig]
) -> JobConfig:
    """A job, checked against the targets and sources it names."""
    kind = table.choice("kind", JOB_KINDS)
    if kind is None:
        raise table.error("kind", f"is required (one of {', '.join(JOB_KINDS)})")
    for key in sorted(table.data):
        kinds = [k for k, keys in JOB_KEYS.items() if key in keys]
        if kinds and kind not in kinds:
            raise table.error(key, f"not used by a {kind} job (only by {', '.join(kinds)})")
    target = table.get("target", str)
    if kind in ("push", "pull", "sync"):
        if target is None:
            raise table.error("target", f"is required (one of {', '.join(targets)})")
        if target not in targets:
            raise table.error("target", f"no target named {target!r}")
    source = table.get("source", str)
    if kind == "harvest":
        if source is None:
            raise table.error("source", "is required (a [sources.NAME] of this file)")
        if source not in sources:
            raise table.error("source", f"no source named {source!r}")
    out = table.path("out", required=kind == "export")
    schedule, every = table.get("schedule", str), table.get("every", str)
    if schedule is not None and every is not None:
        raise table.error("every", "give either schedule (cron) or every, not both")
    zone = table.get("timezone", str)
    if zone is not None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise table.error(
                "timezone", f"not a time zone name like 'Asia/Baku': {zone!r}"
            ) from None
    if schedule is not None:
        from kitab.service.cron import crontab_trigger

        try:
            crontab_trigger(schedule, zone or "UTC")
        except ValueError as error:
            raise table.error(
                "schedule", f"not a cron schedule (minute hour day month weekday): {error}"
            ) from None
    seconds = None
    if every is not None:
        match = EVERY.match(every.strip())
        if match is None or float(match[1]) * EVERY_UNITS[match[2]] < 1:
            raise table.error(
                "every", f"expected a period like '30s', '15m', '6h', '1d', got {every!r}"
            )
        seconds = float(match[1]) * EVERY_UNITS[match[2]]
    lease = table.get("lease_seconds", (int, float), JobConfig.lease_seconds)
    if not 1 <= lease <= 86400:
        raise table.error("lease_seconds", f"expected 1 to 86400, got {lease}")
    job = JobConfig(
        name=name,
        kind=kind,
        target=target,
        source=source,
        out=out,
        format=table.choice("format", EXPORT_FORMATS, JobConfig.format),
        schedule=schedule,
        every=seconds,
        timezone=zone,
        lease_seconds=float(lease),
    )
    table.done()
    return job


def _source(name: str, table: _Table) -> SourceConfig:
    url = table.require("url", str)
    if not re.match(r"^https?://", url):
        raise table.error("url", f"expected an http(s) URL, got {url!r}")
    overlap = table.get("overlap_hours", (int, float), 0.0)
    if overlap < 0:
        raise table.error("overlap_hours", f"expected 0 or more, got {overlap}")
    retries = table.get("max_retries", int, SourceConfig.max_retries)
    if not 0 <= retries <= 100:
        raise table.error("max_retries", f"expected 0 to 100, got {retries}")
    timeout = table.get("timeout", (int, float), SourceConfig.timeout)
    if timeout <= 0:
        raise table.error("timeout", f"expected seconds above 0, got {timeout}")
    source_set = table.get("set", str)
    if source_set is not None and not OAI_SET_SPEC.match(source_set):
        raise table.error("set", f"not a setSpec: {source_set!r}")
    source = SourceConfig(
        name=name,
        url=url,
        prefix=table.get("prefix", str, SourceConfig.prefix),
        set=source_set,
        out=table.path("out"),
        target=table.get("target", str),
        overlap_hours=float(overlap),
        max_retries=retries,
        timeout=float(timeout),
    )
    table.done()
    if source.out is None and source.target is None:
        raise table.error("out", "is required (or target), or the harvest would go nowhere")
    return source


def _web(table: _Table) -> WebConfig:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    port = table.get("port", int, WebConfig.port)
    if not 0 <= port <= 65535:
        raise table.error("port", f"expected 0 to 65535, got {port}")
    minutes = table.get("session_minutes", int, WebConfig.session_minutes)
    if not 1 <= minutes <= 7 * 24 * 60:
        raise table.error("session_minutes", f"expected 1 to 10080, got {minutes}")
    zone = table.get("timezone", str, WebConfig.timezone)
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise table.error("timezone", f"not a time zone name like 'Asia/Baku': {zone!r}") from None
    header = table.get("trusted_header", str)
    if header is not None and not re.match(r"^[A-Za-z0-9-]+$", header):
        raise table.error("trusted_header", f"not an HTTP header name: {header!r}")
    users = table.get("users", dict, {})
    for name, role in users.items():
        if role not in WEB_ROLES:
            raise table.error(
                f"users.{name}", f"expected one of {', '.join(WEB_ROLES)}, got {role!r}"
            )
    config = WebConfig(
        host=table.get("host", str, WebConfig.host),
        port=port,
        session_minutes=minutes,
        timezone=zone,
        trusted_header=header,
        users=dict(users),
    )
    table.done()
    return config


def _state_url(table: _Table) -> tuple[str | None, SecretSource | None]:
    """``[state] url`` names a PostgreSQL server; its password comes from password_env or
    password_file (or libpq's own PGPASSWORD and ~/.pgpass), never from the URL itself."""
    url = table.get("url", str)
    password = table.secret("password", "PostgreSQL password of the state store")
    if url is None:
        if password is not None:
            raise table.error("password_env", "only a PostgreSQL [state] url takes a password")
        return None, None
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise table.error("url", f"expected a postgresql:// URL, got {parts.scheme or url!r}")
    if parts.password is not None or "password=" in parts.query:
        raise table.error(
            "url", "secrets do not belong in kitab.toml: use password_env or password_file"
        )
    return url, password


def load_config(file: Path | str) -> Config:
    """Read and check kitab.toml; raises ConfigError naming the key at fault."""
    file = Path(file).resolve()
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{file}: cannot read: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{file}: {error}") from None
    root = _Table(data, "", file)

    catalogue_table = root.table("catalogue")
    if catalogue_table is None:
        raise root.error("catalogue", "is required ([catalogue] path = ...)")
    catalogue = CatalogueConfig(
        path=catalogue_table.path("path", required=True),  # type: ignore[arg-type]
        flavour=catalogue_table.choice("flavour", ("marc21", "unimarc")),
        encoding=catalogue_table.get("encoding", str),
        key_field=catalogue_table.get("key_field", str),
        crosswalk=catalogue_table.get("crosswalk", str),
        full_export=catalogue_table.get("full_export", bool, False),
    )
    catalogue_table.done()

    scans = None
    scans_table = root.table("scans")
    if scans_table is not None:
        match = scans_table.get("match", (str, list), ["control-number"])
        match = [match] if isinstance(match, str) else match
        for strategy in match:
            if strategy not in SCAN_STRATEGIES and not SCAN_FIELD.match(str(strategy)):
                raise scans_table.error(
                    "match",
                    f"unknown strategy {strategy!r} (use {', '.join(SCAN_STRATEGIES)} "
                    "or field:TAG$code)",
                )
        scans = ScansConfig(
            path=scans_table.path("path", required=True),  # type: ignore[arg-type]
            match=tuple(match),
        )
        scans_table.done()

    targets_table = root.table("targets")
    targets: dict[str, TargetConfig] = {}
    if targets_table is not None:
        for name in list(targets_table.data):
            targets[name] = _target(name, targets_table.table(name))  # type: ignore[arg-type]
        targets_table.done()

    rights = []
    for rule in _rules(root, "rights"):
        files = rule.choice("files", ("public", "private"), "public")
        item = rule.choice("item", ("public", "private"), "public")
        when = _Table(rule.data.pop("when", {}), f"{rule.where}.when", rule.file)
        rule.done()
        rights.append(RightsRule(_condition(when), files=files, item=item))

    state_path = file.parent / ".kitab" / "state.sqlite"
    state_url, state_password = None, None
    state_table = root.table("state")
    if state_table is not None:
        given_path = state_table.path("path")
        state_path = given_path or state_path
        state_url, state_password = _state_url(state_table)
        if given_path is not None and state_url is not None:
            raise state_table.error("url", "give path (SQLite) or url (PostgreSQL), not both")
        state_table.done()

    concurrency = 4
    conflict_policy = "manual"
    sync_table = root.table("sync")
    if sync_table is not None:
        concurrency = sync_table.get("concurrency", int, 4)
        if not 1 <= concurrency <= 64:
            raise sync_table.error("concurrency", f"expected 1 to 64, got {concurrency}")
        conflict_policy = sync_table.choice("conflicts", CONFLICT_POLICIES, "manual")
        sync_table.done()

    oai_table = root.table("oai")
    oai = _oai(oai_table) if oai_table is not None else OaiConfig()
    sources: dict[str, SourceConfig] = {}
    sources_table = root.table("sources")
    if sources_table is not None:
        for name in list(sources_table.data):
            sources[name] = _source(name, sources_table.table(name))  # type: ignore[arg-type]
        sources_table.done()
    for source in sources.values():
        if source.target is not None and source.target not in targets:
            raise ConfigError(
                f"{file}: sources.{source.name}.target: no target named {source.target!r}"
            )
    web_table = root.table("web")
    web = _web(web_table) if web_table is not None else WebConfig()
    jobs: dict[str, JobConfig] = {}
    jobs_table = root.table("jobs")
    if jobs_table is not None:
        for name in list(jobs_table.data):
            jobs[name] = _job(name, jobs_table.table(name), targets, sources)  # type: ignore[arg-type]
        jobs_table.done()
    root.done()
    return Config(
        file=file,
        catalogue=catalogue,
        scans=scans,
        targets=targets,
        rights=tuple(rights),
        concurrency=concurrency,
        state_path=state_path,
        state_url=state_url,
        state_password=state_password,
        conflict_policy=conflict_policy,
        oai=oai,
        sources=sources,
        web=web,
        jobs=jobs,
    )
