"""The command line: parse, call the rooms, print. No logic lives here.

Exit codes: 0 success; 1 the job ran but something failed (records skipped, items not pushed,
validation errors); 2 usage or configuration error (click's own); 3 a repository or source could
not be reached or refused us.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import click

from kitab import __version__

EXIT_OK = 0
EXIT_FAILURES = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kitab")
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    envvar="KITAB_LOG_LEVEL",
    help="Log lines at this level and above (default WARNING; INFO for the daemon).",
)
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="KITAB_LOG_FILE",
    help="Log to this file, rotated at 10 MiB (5 kept), instead of standard error.",
)
@click.pass_context
def main(ctx: click.Context, log_level: str | None, log_file: Path | None) -> None:
    """Keep a library's MARC catalogue and its DSpace or Omeka S repository in step."""
    from kitab.service.logs import configure_logging

    configure_logging(log_level, log_file)
    ctx.meta["kitab.log_level"] = log_level


@main.group()
def sandbox() -> None:
    """Run a local DSpace- or Omeka-S-compatible server for trying kitab out."""


# --- catalogue commands (inspect, check, convert) -------------------------------------------


def _catalogue_options(command):
    """--json, --flavour, --encoding and --key-field, shared by inspect and check."""
    command = click.option(
        "--key-field", help="Where the record key comes from: 001 (default), 035$a, 999$c..."
    )(command)
    command = click.option(
        "--encoding", help="Force a character encoding (UTF-8, MARC-8, CP1251...): no detection."
    )(command)
    command = click.option(
        "--flavour",
        type=click.Choice(["marc21", "unimarc"], case_sensitive=False),
        help="Force the MARC flavour instead of detecting it.",
    )(command)
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(command)


def _open_catalogue(path: Path, flavour: str | None, encoding: str | None, key_field: str | None):
    from kitab.catalogue import ReadOptions, open_catalogue
    from kitab.model import Flavour

    options = ReadOptions(Flavour(flavour.lower()) if flavour else None, encoding, key_field)
    try:
        return open_catalogue(path, options)
    except ValueError as error:
        raise click.UsageError(str(error)) from None


def _main_encoding(encodings) -> str:
    """The encoding to name for a file: the commonest one that is not plain ASCII."""
    ranked = [name for name, _ in encodings.most_common() if name != "ASCII"]
    return ranked[0] if ranked else ("ASCII" if encodings else "unknown")


def _catalogue_json(path: Path, summary, problems, extra: dict | None = None) -> str:
    data = {
        "path": str(path),
        "flavour": " + ".join(summary.flavours) or None,
        "encoding": _main_encoding(summary.encodings),
        **summary.as_dict(),
        **(extra or {}),
        "problems": [p.as_dict() for p in problems],
    }
    return json.dumps(data, ensure_ascii=False, indent=2)


def _catalogue_text(path: Path, summary, problems) -> None:
    encodings = ", ".join(f"{n} ({c} records)" for n, c in summary.encodings.most_common())
    click.echo(str(path))
    click.echo(f"  flavour:  {' + '.join(summary.flavours) or 'unknown'}")
    click.echo(f"  encoding: {_main_encoding(summary.encodings)}" + (f"  [{encodings}]"))
    click.echo(
        f"  records:  {summary.records} read, {summary.skipped} skipped, "
        f"{summary.warnings} warnings, {summary.files} file(s)"
    )
    for note in summary.notes:
        click.echo(f"  note: {note}")
    for problem in problems:
        click.echo(f"  {problem}")


@main.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@_catalogue_options
def inspect(
    path: Path, as_json: bool, flavour: str | None, encoding: str | None, key_field: str | None
) -> None:
    """Say what a catalogue export is: flavour, encoding, record count, problems."""
    from kitab.catalogue import Severity

    catalogue = _open_catalogue(path, flavour, encoding, key_field)
    for _record in catalogue:
        pass
    summary, problems = catalogue.summary, catalogue.problems
    if as_json:
        click.echo(_catalogue_json(path, summary, problems))
    else:
        _catalogue_text(path, summary, problems)
    failed = any(p.severity is Severity.ERROR for p in problems)
    sys.exit(EXIT_FAILURES if failed else EXIT_OK)


@main.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@_catalogue_options
def check(
    path: Path, as_json: bool, flavour: str | None, encoding: str | None, key_field: str | None
) -> None:
    """Validate a catalogue export: no title, duplicate keys, bad text, missing fields."""
    from kitab.catalogue import check_catalogue

    catalogue = _open_catalogue(path, flavour, encoding, key_field)
    report = check_catalogue(catalogue)
    counts = {"checked": report.records, "errors": report.errors, "warnings": report.warnings}
    if as_json:
        click.echo(_catalogue_json(path, catalogue.summary, report.findings, counts))
    else:
        _catalogue_text(path, catalogue.summary, report.findings)
        click.echo(
            f"  check: {report.records} records checked, {report.errors} errors, "
            f"{report.warnings} warnings"
        )
    sys.exit(EXIT_FAILURES if report.errors else EXIT_OK)


CONVERT_FORMATS = ("dspace-json", "omeka-json", "dc-xml", "marcxml", "jsonl")


@main.command()
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--to", "fmt", type=click.Choice(CONVERT_FORMATS), required=True, help="Output format."
)
@click.option(
    "--crosswalk",
    metavar="NAME|PATH",
    help="Built-in crosswalk (marc21-dc, unimarc-dc) or a library's own file "
    "(default: the built-in for each record's flavour).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here instead of standard output (replaced only when complete).",
)
@click.option("--encoding", help="Force the records' character encoding (e.g. CP1251, MARC-8).")
@click.option(
    "--flavour",
    type=click.Choice(["marc21", "unimarc"]),
    help="Force MARC 21 or UNIMARC instead of detecting it.",
)
@click.option("--key-field", metavar="TAG[$c]", help="Where the record identity comes from.")
@click.option("--json", "as_json", is_flag=True, help="Summary on standard error as JSON.")
def convert(
    source: Path,
    fmt: str,
    crosswalk: str | None,
    output: Path | None,
    encoding: str | None,
    flavour: str | None,
    key_field: str | None,
    as_json: bool,
) -> None:
    """Convert catalogue records to repository metadata or MARCXML, streaming.

    Records that cannot be read or mapped are reported (file, position, control number) and
    left out; the exit code is then 1.
    """
    from kitab.catalogue import ReadOptions, open_catalogue
    from kitab.mappings import CrosswalkError, load_crosswalk
    from kitab.mappings.output import write_converted
    from kitab.model import Flavour

    try:
        chosen = load_crosswalk(crosswalk) if crosswalk else None
        options = ReadOptions(
            flavour=Flavour(flavour) if flavour else None, encoding=encoding, key_field=key_field
        )
        catalogue = open_catalogue(source, options)
    except (CrosswalkError, ValueError, FileNotFoundError) as error:
        raise click.UsageError(str(error)) from None
    try:
        result = write_converted(catalogue, fmt, chosen, output)
    except OSError as error:
        raise click.ClickException(f"cannot write {output or 'standard output'}: {error}") from None
    problems = [*catalogue.problems, *result.problems]
    errors = [p for p in problems if str(p.severity) == "error"]
    warnings = len(problems) - len(errors)
    if as_json:
        summary = {
            "written": result.written,
            "format": fmt,
            "output": str(output) if output else None,
            "read": catalogue.summary.as_dict(),
            "problems": [p.as_dict() for p in problems],
        }
        click.echo(json.dumps(summary, ensure_ascii=False, default=str), err=True)
    else:
        for problem in errors:
            click.echo(str(problem), err=True)
        note = f", {warnings} warnings" if warnings else ""
        click.echo(
            f"{result.written} records converted to {fmt}, {len(errors)} left out{note}"
            f" ({output or 'standard output'})",
            err=True,
        )
    sys.exit(EXIT_FAILURES if errors else EXIT_OK)


# --- sandbox commands ------------------------------------------------------------------------


@sandbox.command("dspace")
@click.option("--port", type=int, default=8080, show_default=True, help="0 picks a free port")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--data",
    "data",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("sandbox-dspace"),
    show_default=True,
    help="where items and files are kept (reused on restart)",
)
@click.option("--dspace-version", default="9.3", show_default=True, help="7.6.x, 8.x or 9.x")
@click.option("--admin-email", default="admin@example.org", show_default=True)
@click.option("--admin-password", default="kitab", show_default=True)
@click.option("--jwt-ttl", type=int, default=1800, show_default=True, help="token lifetime (s)")
def sandbox_dspace(
    port: int,
    host: str,
    data: Path,
    dspace_version: str,
    admin_email: str,
    admin_password: str,
    jwt_ttl: int,
) -> None:
    """Run a DSpace-compatible server in the foreground until Ctrl-C."""
    from kitab.sandbox.dspace import build, serve

    try:
        app, layout = build(
            data,
            version=dspace_version,
            jwt_ttl=jwt_ttl,
            admin_email=admin_email,
            admin_password=admin_password,
        )
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--dspace-version") from None
    try:
        server = serve(app, host=host, port=port)
    except OSError as error:
        app.store.close()
        click.echo(f"cannot listen on {host}:{port}: {error.strerror}", err=True)
        sys.exit(EXIT_UNAVAILABLE)
    click.echo(f"DSpace {app.flavour.label} sandbox at http://{host}:{server.port}/server/api")
    click.echo(f"  administrator: {admin_email}")
    click.echo(f"  collection: {layout.collection_handle} ({layout.collection_uuid})")
    click.echo(f"  data: {data}")
    click.echo("  Ctrl-C stops it.")
    server.wait()


@sandbox.command("omeka")
@click.option("--port", type=int, default=8081, show_default=True, help="0 picks a free port")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--data",
    "data",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("sandbox-omeka"),
    show_default=True,
    help="where items and files are kept (reused on restart)",
)
@click.option("--key-identity", default="kitab", show_default=True)
@click.option(
    "--key-credential",
    default="kitab",
    envvar="KITAB_OMEKA_SANDBOX_CREDENTIAL",
    help="API key credential (default kitab; or $KITAB_OMEKA_SANDBOX_CREDENTIAL)",
)
@click.option("--omeka-version", default="4.0.4", show_default=True, help="4.0.x, 4.1.x or 4.2.x")
def sandbox_omeka(
    port: int, host: str, data: Path, key_identity: str, key_credential: str, omeka_version: str
) -> None:
    """Run an Omeka-S-compatible server in the foreground until Ctrl-C."""
    import logging

    from kitab.sandbox.omeka import start

    # werkzeug logs every request URL, and Omeka keys travel in the query string.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:
        sb = start(
            data,
            port,
            key_identity=key_identity,
            key_credential=key_credential,
            version=omeka_version,
            host=host,
        )
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--omeka-version") from None
    except OSError as error:
        click.echo(f"cannot listen on {host}:{port}: {error.strerror}", err=True)
        sys.exit(EXIT_UNAVAILABLE)
    click.echo(f"Omeka S {omeka_version} sandbox at {sb.url}/api")
    click.echo(f"  key identity: {key_identity} (credential not shown)")
    click.echo(f"  item set: {sb.item_set_id}")
    click.echo(f"  data: {data}")
    click.echo("  Ctrl-C stops it.")
    sb.wait()


# --- sync commands (plan, push, relink) ------------------------------------------------------

config_option = click.option(
    "--config",
    "-c",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default="kitab.toml",
    envvar="KITAB_CONFIG",
    show_default=True,
    help="The kitab.toml to use.",
)
target_option = click.option("--target", "-t", help="Only this target (default: all).")
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def _load(config_path: Path):
    from kitab.config import ConfigError, load_config

    try:
        return load_config(config_path)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


def _open_state(config):
    """The state store kitab.toml names; an unreachable database or a missing password is a
    message and exit 3, never a traceback."""
    from kitab.connectors.secrets import MissingSecret
    from kitab.sync.db import StateDatabaseError
    from kitab.sync.state import StateStore

    try:
        return StateStore.open(config)
    except (StateDatabaseError, MissingSecret) as error:
        click.echo(f"kitab: state store: {error}", err=True)
        sys.exit(EXIT_UNAVAILABLE)


def _show_values(values) -> str:
    shown = " | ".join(v.value + (f" @{v.language}" if v.language else "") for v in values)
    return f'"{shown}"' if values else "(none)"


def _describe(action) -> str:
    """One line (plus detail lines) saying what an action will do, for people."""
    from kitab.sync.plan import ActionKind

    head = f"{action.kind.value:<9} {action.label}"
    lines = []
    if action.kind is ActionKind.CREATE:
        where = f" into {action.container}" if action.container else ""
        head += f"{where}, {len(action.item.metadata)} fields, {len(action.files.add)} files"
    elif action.kind in (ActionKind.SKIP, ActionKind.WITHDRAW):
        head += f": {action.reason}"
    elif action.kind is ActionKind.UPDATE:
        for change in action.changes:
            lines.append(
                f"    {change.field}: {_show_values(change.old)} → {_show_values(change.new)}"
            )
        lines.extend(f"    + file {f.name}" for f in action.files.add)
        lines.extend(f"    ~ file {new.name} (changed)" for _, new in action.files.replace)
        if action.visibility_changed:
            lines.append(f"    visibility → {'public' if action.item.public else 'private'}")
    lines.extend(f"    ! declared scan missing: {m}" for m in action.missing_scans)
    lines.extend(
        f"    ! restricted, not uploaded (DSpace access is not managed by kitab): {p.name}"
        for p in action.withheld
    )
    lines.extend(
        f"    ! {g.name} no longer in the scans folder (left in place)" for g in action.files.gone
    )
    return "\n".join([head, *lines])


def _action_json(action) -> dict:
    data = {"action": action.kind.value, "key": action.key, "record": action.label}
    if action.container:
        data["container"] = action.container
    if action.reason:
        data["reason"] = action.reason
    if action.changes:
        data["changes"] = [
            {
                "field": c.field,
                "old": [v.value for v in c.old],
                "new": [v.value for v in c.new],
            }
            for c in action.changes
        ]
    if action.files.add or action.files.replace:
        data["files_add"] = [f.name for f in action.files.add]
        data["files_replace"] = [new.name for _, new in action.files.replace]
    if action.missing_scans:
        data["missing_scans"] = action.missing_scans
    return data


@main.command()
@config_option
@target_option
@json_option
@click.option("--all", "show_all", is_flag=True, help="List unchanged records too.")
def plan(config_path: Path, target: str | None, as_json: bool, show_all: bool) -> None:
    """Show what a push would do, writing nothing anywhere."""
    from collections import Counter

    from kitab.sync.plan import ActionKind, finish_reading, planner_for
    from kitab.sync.report import RunReport

    config = _load(config_path)
    result = {}
    failed = False
    with _open_state(config) as store:
        for target_config in config.target(target):
            planner = planner_for(config, target_config, store)
            counts: Counter[str] = Counter()
            listed = []
            if not as_json:
                click.echo(f"== {target_config.name} ({target_config.kind})")
            for action in planner:
                counts[action.kind.value] += 1
                if action.kind is ActionKind.UNCHANGED and not show_all:
                    continue
                if as_json:
                    listed.append(_action_json(action))
                else:
                    click.echo(_describe(action))
            report = RunReport("plan", target_config.name)
            finish_reading(planner, report)
            failed |= bool(report.problems)
            if as_json:
                result[target_config.name] = {
                    "counts": dict(counts),
                    "actions": listed,
                    "problems": report.problems,
                    "unclaimed_scans": report.unclaimed_scans,
                }
                continue
            for problem in report.problems:
                click.echo(
                    f"bad record {problem['file']}: record {problem['record']} "
                    f"(byte {problem['offset']}): {problem['reason']}"
                )
            for scan in report.unclaimed_scans:
                click.echo(f"scan matches no record: {scan}")
            summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no records"
            click.echo(f"{target_config.name}: {summary}")
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    sys.exit(EXIT_FAILURES if failed else EXIT_OK)


@main.command()
@config_option
@target_option
@json_option
@click.option("--concurrency", "-j", type=click.IntRange(1, 64), help="Records at a time.")
def push(config_path: Path, target: str | None, as_json: bool, concurrency: int | None) -> None:
    """Create and update repository items from the catalogue and its scans."""
    from kitab.sync.engine import push as push_target

    config = _load(config_path)

    def job(target_config, store):
        progress = _Progress(enabled=not as_json, label=f"push → {target_config.name}")
        try:
            return [
                push_target(
                    config,
                    target_config,
                    store,
                    concurrency=concurrency,
                    on_outcome=progress.update,
                )
            ]
        finally:
            progress.close()

    _run_per_target(config, target, job, as_json)


@main.command()
@config_option
@click.option("--target", "-t", required=True, help="The target whose links to rebuild.")
@json_option
def relink(config_path: Path, target: str, as_json: bool) -> None:
    """Rebuild the record ↔ item links from the identities stored in the repository."""
    from kitab.sync.relink import relink as relink_target

    config = _load(config_path)
    _run_per_target(config, target, lambda t, store: [relink_target(config, t, store)], as_json)


@main.command()
@config_option
@target_option
@click.option("--apply", "apply_changes", is_flag=True, help="Register what is missing.")
def setup(config_path: Path, target: str | None, apply_changes: bool) -> None:
    """Check that each repository knows every field kitab writes (and register missing ones)."""
    from kitab.connectors.base import RepositoryError
    from kitab.connectors.secrets import MissingSecret
    from kitab.sync.setup import missing_fields, register_missing
    from kitab.sync.targets import open_repository

    config = _load(config_path)
    code = EXIT_OK
    for target_config in config.target(target):
        try:
            repository = open_repository(target_config)
            try:
                if apply_changes:
                    added = register_missing(config, target_config.kind, repository)
                    done = f"registered {', '.join(added)}" if added else "nothing to register"
                    click.echo(f"{target_config.name}: {done}")
                    continue
                missing = missing_fields(config, target_config.kind, repository)
            finally:
                repository.close()
        except (RepositoryError, MissingSecret) as error:
            click.echo(f"{target_config.name}: {error}", err=True)
            code = EXIT_UNAVAILABLE
            continue
        if missing:
            click.echo(f"{target_config.name}: missing fields: {', '.join(missing)}")
            click.echo(f"  run `kitab setup --target {target_config.name} --apply` to add them")
            code = max(code, EXIT_FAILURES)
        else:
            click.echo(f"{target_config.name}: ready")
    sys.exit(code)


def _run_per_target(config, target: str | None, job, as_json: bool) -> None:
    """Run ``job(target_config, store) -> [reports]`` per target; print; exit by outcome."""
    from kitab.connectors.base import AuthError, RepositoryError, Unavailable
    from kitab.connectors.secrets import MissingSecret
    from kitab.service.claims import claimed

    reports = []
    code = EXIT_OK
    with _open_state(config) as store:
        for target_config in config.target(target):
            try:
                with claimed(store, [f"target:{target_config.name}"]) as holder:
                    if holder is not None:
                        click.echo(
                            f"{target_config.name}: busy, {holder.owner} is working on it "
                            f"(claim {holder.claim}); nothing done",
                            err=True,
                        )
                        code = max(code, EXIT_FAILURES)
                        continue
                    produced = job(target_config, store)
            except (AuthError, Unavailable, MissingSecret) as error:
                click.echo(f"{target_config.name}: {error}", err=True)
                code = max(code, EXIT_UNAVAILABLE)
                continue
            except RepositoryError as error:
                click.echo(f"{target_config.name}: {error}", err=True)
                code = max(code, EXIT_FAILURES)
                continue
            for report in produced:
                reports.append(report)
                if report.outcome != "ok":
                    code = max(code, EXIT_FAILURES)
                if not as_json:
                    _print_summary(report)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in reports], ensure_ascii=False, indent=2))
    sys.exit(code)


out_option = click.option(
    "--out",
    "-o",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the updated MARC records (ISO 2709 and MARCXML), for overlay import.",
)


@main.command()
@config_option
@target_option
@click.option(
    "--out",
    "-o",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for the updated MARC records (ISO 2709 and MARCXML), for overlay import.",
)
@json_option
def pull(config_path: Path, target: str | None, out_dir: Path, as_json: bool) -> None:
    """Bring edits made in the repository back as updated MARC records (matched on 001)."""
    from kitab.sync.pull import pull as pull_target

    config = _load(config_path)
    _run_per_target(
        config,
        target,
        lambda t, store: [pull_target(config, t, store, out_dir)],
        as_json,
    )


@main.command(name="sync")
@config_option
@target_option
@out_option
@json_option
@click.option("--concurrency", "-j", type=click.IntRange(1, 64), help="Records at a time.")
def sync_command(
    config_path: Path, target: str | None, out_dir: Path | None, as_json: bool, concurrency
) -> None:
    """Pull repository edits, merge field by field, and push catalogue changes."""
    from kitab.sync.engine import sync as sync_target

    config = _load(config_path)
    out = out_dir or config.state_dir / "pulled"
    _run_per_target(
        config,
        target,
        lambda t, store: list(sync_target(config, t, store, out, concurrency=concurrency)),
        as_json,
    )


@main.command()
@config_option
@target_option
@json_option
def conflicts(config_path: Path, target: str | None, as_json: bool) -> None:
    """List the fields changed on both sides that wait for a cataloguer's decision."""
    from kitab.sync.conflicts import ConflictStore

    config = _load(config_path)
    with _open_state(config) as store:
        found = ConflictStore(store).open(target)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "id": c.id,
                        "target": c.target,
                        "key": c.key,
                        "record": c.label,
                        "field": c.field,
                        "base": [v.value for v in c.base],
                        "catalogue": [v.value for v in c.catalogue],
                        "repository": [v.value for v in c.repository],
                        "detected_at": c.detected_at,
                    }
                    for c in found
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    if not found:
        click.echo("no open conflicts")
    for c in found:
        click.echo(f"#{c.id} {c.target} {c.label} {c.field}")
        click.echo(f"    was:        {_show_values(c.base)}")
        click.echo(f"    catalogue:  {_show_values(c.catalogue)}")
        click.echo(f"    repository: {_show_values(c.repository)}")
    if found:
        click.echo("resolve with: kitab resolve ID --keep catalogue|repository, or --value TEXT")


@main.command()
@config_option
@click.argument("conflict_id", type=int)
@click.option("--keep", type=click.Choice(["catalogue", "repository"]), help="Keep one side.")
@click.option("--value", "values", multiple=True, help="A merged value (repeat for several).")
@click.option("--by", default=lambda: os.environ.get("USER", ""), help="Who resolves it.")
def resolve(
    config_path: Path, conflict_id: int, keep: str | None, values: tuple[str, ...], by: str
) -> None:
    """Settle one conflict; the next `kitab sync` carries the choice to the other side."""
    from kitab.connectors.base import RepositoryError
    from kitab.model import Value
    from kitab.sync.conflicts import ConflictError, ConflictStore
    from kitab.sync.targets import open_repository

    if bool(keep) == bool(values):
        raise click.UsageError("give either --keep catalogue|repository or --value TEXT")
    config = _load(config_path)
    with _open_state(config) as store:
        conflicts_store = ConflictStore(store)
        repository = None
        try:
            conflict = conflicts_store.get(conflict_id)
            if values:
                (target_config,) = config.target(conflict.target)
                repository = open_repository(target_config)
            done = conflicts_store.resolve(
                conflict_id,
                keep or "value",
                value=[Value(v) for v in values] or None,
                by=by,
                repository=repository,
            )
        except ConflictError as error:
            raise click.ClickException(str(error)) from None
        except RepositoryError as error:
            click.echo(f"{error}", err=True)
            sys.exit(EXIT_UNAVAILABLE)
        finally:
            if repository is not None:
                repository.close()
    click.echo(f"#{done.id} {done.label} {done.field}: {done.resolution} (run `kitab sync` next)")


class _Progress:
    """A record counter on standard error while a job runs (only on a terminal)."""

    def __init__(self, *, enabled: bool, label: str) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.label = label
        self.done = 0
        self.failed = 0

    def update(self, outcome) -> None:
        self.done += 1
        self.failed += outcome.status == "failed"
        if self.enabled and (self.done % 25 == 0 or outcome.status == "failed"):
            click.echo(
                f"\r{self.label}: {self.done} records, {self.failed} failed", nl=False, err=True
            )

    def close(self) -> None:
        if self.enabled:
            click.echo(f"\r{self.label}: {self.done} records, {self.failed} failed", err=True)


def _print_summary(report) -> None:
    counts = ", ".join(f"{n} {k}" for k, n in sorted(report.counts.items())) or "nothing to do"
    click.echo(f"{report.target}: {report.job} {report.outcome}: {counts}")
    for failure in report.failures:
        click.echo(f"  failed {failure['record']}: {failure['error']}")
    for conflict in report.conflicts:
        click.echo(
            f"  conflict {conflict['record']} {conflict['field']}: catalogue "
            f"{conflict['catalogue']} vs repository {conflict['repository']}"
        )
    for problem in report.problems:
        click.echo(
            f"  bad record {problem['file']}: record {problem['record']} "
            f"(byte {problem['offset']}): {problem['reason']}"
        )
    for missing in report.missing_scans:
        click.echo(
            f"  {missing['record']}: declared scans missing: {', '.join(missing['declared'])}"
        )
    for scan in report.unclaimed_scans:
        click.echo(f"  scan matches no record: {scan}")
    for note in report.notes:
        click.echo(f"  {note}")
    if report.path:
        click.echo(f"  report: {report.path}")


# --- service commands (run, daemon, status) ---


def _service_config(config_path: Path):
    """The configuration, with its secret values taught to the log scrubber."""
    from kitab.service.logs import register_secrets

    config = _load(config_path)
    register_secrets(config)
    return config


#: exit code per job outcome: a skipped run (another holds the claim) is not an error
RUN_EXIT = {"ok": EXIT_OK, "skipped": EXIT_OK, "conflicts": EXIT_FAILURES, "failed": EXIT_FAILURES}


@main.command(name="run")
@config_option
@json_option
@click.argument("job_name", metavar="JOB")
def run_command(config_path: Path, job_name: str, as_json: bool) -> None:
    """Run one job of kitab.toml ([jobs.JOB]) now, unless a run of it or on its target is going.

    Exit 0 when it went well or was skipped (already running), 1 when records failed or
    conflicts wait, 3 when the repository or source could not be reached or refused us.
    """
    from kitab.service.jobs import run_job

    config = _service_config(config_path)
    if job_name not in config.jobs:
        known = ", ".join(config.jobs) or "none configured"
        raise click.BadParameter(f"no job named {job_name!r} (jobs: {known})", param_hint="JOB")
    with _open_state(config) as store:
        run = run_job(config, job_name, store)
    if as_json:
        click.echo(json.dumps(run.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_job_run(run)
    sys.exit(RUN_EXIT.get(run.outcome, EXIT_UNAVAILABLE))


def _print_job_run(run) -> None:
    where = f" → {run.target}" if run.target else ""
    click.echo(f"{run.job} ({run.kind}{where}): {run.outcome}")
    for part, counts in run.counts.items():
        shown = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "nothing to do"
        click.echo(f"  {part}: {shown}")
    if run.message:
        click.echo(f"  {run.message}")
    for failure in run.failures:
        click.echo(f"  failed {failure['record'] or failure['part']}: {failure['error']}")
    for report in run.reports:
        click.echo(f"  report: {report}")


@main.command()
@config_option
@click.pass_context
def daemon(ctx: click.Context, config_path: Path) -> None:
    """Run the scheduled jobs of kitab.toml until SIGTERM or Ctrl-C.

    The first signal lets running jobs finish; a second one stops at once (the jobs are recorded
    as interrupted and resume safely next time). Logs at INFO unless --log-level says otherwise.
    """
    from kitab.service.logs import set_level
    from kitab.service.scheduler import Daemon, DaemonError

    if ctx.meta.get("kitab.log_level") is None:
        set_level("INFO")
    config = _service_config(config_path)
    with _open_state(config) as store:
        try:
            service = Daemon(config, store)
        except DaemonError as error:
            raise click.UsageError(str(error)) from None
        finished = service.run()
    if not finished:  # abandoned runs' threads must not hold the process open
        logging.shutdown()
        os._exit(EXIT_OK)


@main.command()
@config_option
@target_option
@json_option
@click.option("--no-pending", is_flag=True, help="Skip planning (faster on huge catalogues).")
def status(config_path: Path, target: str | None, as_json: bool, no_pending: bool) -> None:
    """Per target: last runs, items linked, changes pending, conflicts, failures, claims."""
    from kitab.config import ConfigError
    from kitab.service.status import gather_status

    config = _load(config_path)
    with _open_state(config) as store:
        try:
            found = gather_status(config, store, target=target, pending=not no_pending)
        except ConfigError as error:
            raise click.ClickException(str(error)) from None
    if as_json:
        click.echo(json.dumps(found.to_dict(), ensure_ascii=False, indent=2))
        return
    for t in found.targets:
        _print_target_status(t)
    if found.other_jobs:
        click.echo("== jobs with no target")
    for job in found.other_jobs:
        click.echo(_job_line(job))
    others = [c for c in found.claims if not any(c in t.claims for t in found.targets)]
    for claim in others:
        click.echo(f"claim {claim.name}: {claim.owner} ({claim.seconds_left:.0f}s left)")


def _job_line(job) -> str:
    schedule = job.schedule or "by hand"
    head = f"  job {job.name} ({job.kind}, {schedule})"
    if job.next_run:
        head += f", next {job.next_run}"
    last = job.last_run
    if last is None:
        return head + ": never run"
    line = f"{head}: last {last.started_at} {last.outcome}"
    shown = "; ".join(
        f"{part} " + ", ".join(f"{n} {k}" for k, n in sorted(c.items()))
        for part, c in last.counts.items()
    )
    if shown:
        line += f" ({shown})"
    if last.message:
        line += f"\n      {last.message}"
    return line


def _print_target_status(t) -> None:
    click.echo(f"== {t.name} ({t.kind})")
    click.echo(f"  items linked: {t.items_linked}")
    if t.pending is not None:
        if t.pending.error:
            click.echo(f"  changes pending: unknown ({t.pending.error})")
        else:
            detail = ", ".join(f"{n} {k}" for k, n in t.pending.by_action.items())
            click.echo(
                f"  changes pending: {t.pending.changes}" + (f" ({detail})" if detail else "")
            )
            if t.pending.bad_records:
                click.echo(f"  unreadable records in the catalogue: {t.pending.bad_records}")
    click.echo(f"  unresolved conflicts: {len(t.conflicts)}")
    for c in t.conflicts:
        click.echo(f"    #{c.id} {c.label} {c.field}")
    for job in t.jobs:
        click.echo(_job_line(job))
    for run in t.last_runs:
        counts = ", ".join(f"{n} {k}" for k, n in sorted(run.counts.items()))
        outcome = run.outcome or "did not finish"
        click.echo(
            f"  last {run.job}: {run.started_at} {outcome}" + (f" ({counts})" if counts else "")
        )
    for failure in t.failures:
        click.echo(f"    failed {failure['record']}: {failure['error']}")
    for claim in t.claims:
        since = f" since {claim.since}" if claim.since else ""
        click.echo(f"  running: {claim.name} by {claim.owner}{since}")


# --- OAI-PMH commands (harvest, serve) ---


@main.command()
@click.argument("source", required=False)
@config_option
@click.option("--prefix", "-p", help="metadataPrefix (default: the source's, or oai_dc).")
@click.option("--set", "set_spec", help="Only this set.")
@click.option("--from", "from_", help="Ask from this date instead of the stored watermark.")
@click.option("--until", help="Ask until this date.")
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Record store file: .jsonl, or .xml for MARCXML.",
)
@click.option("--full", is_flag=True, help="Ignore the watermark: harvest everything again.")
@json_option
def harvest(
    source: str | None,
    config_path: Path,
    prefix: str | None,
    set_spec: str | None,
    from_: str | None,
    until: str | None,
    out: Path | None,
    full: bool,
    as_json: bool,
) -> None:
    """Harvest an OAI-PMH source (a URL, or a [sources.NAME] of kitab.toml; none: all of them).

    Incremental: the next run asks only for what changed since the last complete run.
    """
    from kitab.harvest.client import HarvestError
    from kitab.harvest.harvester import Source
    from kitab.harvest.jobs import run, source_of
    from kitab.sync.state import StateStore

    config = _load(config_path) if config_path.exists() else None
    configured = config.sources if config is not None else {}
    jobs: list[tuple[Source, Path | None, str | None]] = []
    if source is not None and source not in configured:
        if not source.startswith(("http://", "https://")):
            known = ", ".join(configured) or "none configured"
            raise click.BadParameter(f"not a URL nor a source ({known})", param_hint="SOURCE")
        if out is None:
            raise click.UsageError("--out is required when harvesting a URL")
        jobs.append((Source(source, source, prefix or "oai_dc", set_spec), out, None))
    else:
        names = [source] if source is not None else list(configured)
        if not names:
            raise click.UsageError("give a URL, or add [sources.NAME] tables to kitab.toml")
        for name in names:
            base = source_of(configured[name])
            if prefix or set_spec:
                base = Source(
                    **{
                        **_fields(base),
                        "prefix": prefix or base.prefix,
                        "set": set_spec or base.set,
                    }
                )
            jobs.append((base, out or configured[name].out, configured[name].target))
    results, code = [], EXIT_OK
    with (
        _open_state(config) if config is not None else StateStore(Path(".kitab/state.sqlite"))
    ) as state:
        for job_source, job_out, target in jobs:
            try:
                job = run(
                    job_source,
                    state,
                    out=job_out,
                    config=config,
                    target=target,
                    full=full,
                    from_=from_,
                    until=until,
                )
            except HarvestError as error:
                click.echo(f"{job_source.name}: {error}", err=True)
                code = max(code, EXIT_UNAVAILABLE)
                continue
            except ValueError as error:
                raise click.UsageError(str(error)) from None
            results.append(job)
            failed = job.report.problems or (job.push is not None and job.push.outcome != "ok")
            code = max(code, EXIT_FAILURES if failed else EXIT_OK)
            if not as_json:
                _print_harvest(job)
    if as_json:
        click.echo(json.dumps([_harvest_json(j) for j in results], ensure_ascii=False, indent=2))
    sys.exit(code)


def _fields(source) -> dict:
    from dataclasses import asdict

    return asdict(source)


def _harvest_json(job) -> dict:
    data = job.report.to_dict()
    data["out"] = str(job.out) if job.out else None
    data["written"] = job.written
    data["push"] = job.push.to_dict() if job.push is not None else None
    return data


def _print_harvest(job) -> None:
    report = job.report
    counts = ", ".join(f"{n} {k}" for k, n in sorted(report.counts.items())) or "nothing new"
    since = f" from {report.asked_from}" if report.asked_from else " (everything)"
    scope = f"{report.prefix}" + (f" set {report.set}" if report.set else "")
    click.echo(f"{report.source} [{scope}]{since}: {counts} in {report.pages} pages")
    if report.resumed:
        click.echo("  resumed an interrupted list at its last token")
    if report.restarts:
        click.echo(f"  list restarted {report.restarts} times (tokens refused)")
    if report.retries:
        click.echo(f"  {report.retries} requests retried")
    for warning in report.warnings:
        click.echo(f"  warning: {warning}")
    for problem in report.problems:
        click.echo(f"  skipped: {problem}")
    if report.watermark:
        click.echo(f"  next run asks from {report.watermark}")
    if job.out is not None:
        click.echo(f"  {job.written} records in {job.out}")
    if job.push is not None:
        _print_summary(job.push)


@main.command()
@config_option
@click.option("--port", type=click.IntRange(0, 65535), help="Default: [oai] port (8080).")
@click.option("--host", help="Default: [oai] host (127.0.0.1).")
def serve(config_path: Path, port: int | None, host: str | None) -> None:
    """Serve the catalogue over OAI-PMH 2.0 at /oai (read-only) until Ctrl-C."""
    from kitab.harvest.server import start

    config = _load(config_path)
    if not config.catalogue.path.exists():
        raise click.ClickException(
            f"{config.file}: catalogue.path: no such file or folder: {config.catalogue.path}"
        )

    def refreshed(report) -> None:
        click.echo(
            f"index: {report.records} records read, {report.added} new, {report.changed} "
            f"changed, {report.unchanged} unchanged, {report.deleted} now deleted"
        )
        if report.deletions_held:
            click.echo("  the catalogue could not be read completely: no record marked deleted")
        for problem in report.problems:
            click.echo(f"  skipped {problem}")

    with _open_state(config) as store:
        try:
            running = start(config, store, host=host, port=port, on_refresh=refreshed)
        except OSError as error:
            click.echo(
                f"cannot listen on {host or config.oai.host}:{port}: {error.strerror}", err=True
            )
            sys.exit(EXIT_UNAVAILABLE)
        click.echo(f"OAI-PMH at {running.url} (waitress, read-only). Ctrl-C stops it.")
        running.wait()


# --- web command ---


@main.group(name="web", invoke_without_command=True)
@config_option
@click.option("--port", type=click.IntRange(0, 65535), help="Default: [web] port (8090).")
@click.option("--host", help="Default: [web] host (127.0.0.1), reachable from this machine only.")
@click.pass_context
def web(ctx: click.Context, config_path: Path, port: int | None, host: str | None) -> None:
    """The web pages for cataloguers: targets, runs, records, conflicts (until Ctrl-C).

    Add people first with `kitab web adduser NAME --role viewer|cataloguer`.
    """
    if ctx.invoked_subcommand is not None:
        return
    from kitab.web.server import start
    from kitab.web.users import UserStore

    config = _load(config_path)
    with _open_state(config) as store:
        if not config.web.trusted_header and not UserStore(store).count():
            click.echo(
                "nobody can sign in yet: add a user with "
                "`kitab web adduser NAME --role cataloguer`",
                err=True,
            )
        try:
            running = start(config, store, host=host, port=port)
        except OSError as error:
            click.echo(
                f"cannot listen on {host or config.web.host}:{port}: {error.strerror}", err=True
            )
            sys.exit(EXIT_UNAVAILABLE)
        click.echo(f"kitab web at {running.url} (waitress). Ctrl-C stops it.")
        running.wait()


@web.command("adduser")
@config_option
@click.argument("name")
@click.option(
    "--role", type=click.Choice(["viewer", "cataloguer"]), required=True, help="What they may do."
)
def web_adduser(config_path: Path, name: str, role: str) -> None:
    """Add a person who may sign in (or give them a new password or role).

    The password is read from $KITAB_WEB_PASSWORD, or asked for; never given as an argument.
    """
    from kitab.web.users import UserError, UserStore

    config = _load(config_path)
    password = os.environ.get("KITAB_WEB_PASSWORD") or click.prompt(
        f"password for {name}", hide_input=True, confirmation_prompt=True
    )
    with _open_state(config) as store:
        try:
            created = UserStore(store).add(name, password, role)
        except UserError as error:
            raise click.UsageError(str(error)) from None
    click.echo(f"{name}: {'added' if created else 'updated'} as {role}")
