"""The pages: targets overview, run history, a record, and the open conflicts.

Resolving goes through :meth:`ConflictStore.resolve`, exactly as ``kitab resolve`` does; this
module only turns the form into its arguments and its refusals into messages.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _

from kitab.connectors.base import RepositoryError
from kitab.connectors.secrets import MissingSecret
from kitab.model import Value
from kitab.service.status import gather_status
from kitab.sync.conflicts import ConflictError, ConflictStore, OpenConflict
from kitab.sync.targets import open_repository
from kitab.web import data
from kitab.web.auth import cataloguer_only
from kitab.web.chart import build_chart
from kitab.web.context import context

blueprint = Blueprint("pages", __name__)


@blueprint.route("/")
def overview() -> Any:
    ctx = context()
    status = gather_status(ctx.config, ctx.store)
    charts = {
        name: build_chart(data.daily_counts(ctx.store, name, ctx.config.web.timezone))
        for name in ctx.config.targets
    }
    return render_template("overview.html", status=status, charts=charts)


@blueprint.route("/runs")
def runs() -> Any:
    ctx = context()
    target = request.args.get("target") or None
    job = request.args.get("job") or None
    found = ctx.store.runs(target=target, job=job, limit=100)
    return render_template("runs.html", runs=found, target=target, job=job)


@blueprint.route("/runs/<int:run_id>")
def run(run_id: int) -> Any:
    ctx = context()
    detail = data.run_detail(ctx.config, ctx.store, run_id)
    if detail is None:
        abort(404, _("There is no run %(id)s.", id=run_id))
    return render_template("run.html", detail=detail)


@blueprint.route("/runs/<int:run_id>/report.json")
def run_report(run_id: int) -> Any:
    ctx = context()
    found = data.get_run(ctx.store, run_id)
    path = data.report_path(ctx.config, found) if found else None
    if path is None:
        abort(404, _("The report of run %(id)s is not kept any more.", id=run_id))
    return send_file(path, mimetype="application/json", download_name=path.name)


@blueprint.route("/records")
def find() -> Any:
    """The search form's target: go to the record page for what was typed."""
    target = request.args.get("target", "")
    wanted = request.args.get("q", "").strip()
    if not wanted:
        return redirect(url_for("pages.overview"))
    return redirect(url_for("pages.record", target=target or "-", key=wanted))


@blueprint.route("/records/<target>/<path:key>")
def record(target: str, key: str) -> Any:
    ctx = context()
    target_config = ctx.target(target)
    if target_config is None:
        abort(404, _("There is no target named “%(name)s”.", name=target))
    view = data.find_record(ctx.config, target_config, ctx.store, key)
    if view is None:
        abort(
            404, _("No record “%(key)s” in the catalogue or on %(target)s.", key=key, target=target)
        )
    return render_template("record.html", view=view)


@blueprint.route("/conflicts")
def conflicts() -> Any:
    ctx = context()
    target = request.args.get("target") or None
    found = ConflictStore(ctx.store).open(target)
    return render_template("conflicts.html", conflicts=found, target=target, stale=None)


@blueprint.route("/conflicts/<int:conflict_id>", methods=["POST"])
@cataloguer_only
def resolve(conflict_id: int) -> Any:
    ctx = context()
    store = ConflictStore(ctx.store)
    try:
        conflict = store.get(conflict_id)
    except ConflictError:
        abort(404, _("There is no conflict %(id)s.", id=conflict_id))
    if conflict.resolved_at is not None:
        return _refused(conflict, None)
    choice = request.form.get("choice", "")
    values = [Value(line.strip()) for line in request.form.get("value", "").splitlines()]
    values = [v for v in values if v.value]
    if choice not in ("catalogue", "repository", "value"):
        return _refused(conflict, _("Choose which value to keep."))
    if choice == "value" and not values:
        return _refused(conflict, _("Type the merged value before choosing to save it."))
    repository = None
    try:
        if choice == "value":
            target = ctx.target(conflict.target)
            if target is None:
                return _refused(conflict, _("Its target is no longer in kitab.toml."))
            repository = open_repository(target)
        done = store.resolve(
            conflict_id,
            choice,
            value=values if choice == "value" else None,
            by=g.user.name,
            repository=repository,
        )
    except ConflictError:
        return _refused(store.get(conflict_id), _("This conflict could not be resolved."))
    except (RepositoryError, MissingSecret) as error:
        message = _("The repository refused or could not be reached: %(error)s", error=error)
        return _refused(conflict, message, status=503)
    finally:
        if repository is not None:
            repository.close()
    flash(
        _(
            "%(record)s, %(field)s: resolved. The next sync carries the choice to the other side.",
            record=done.label,
            field=done.field,
        )
    )
    return redirect(url_for("pages.conflicts"))


def _refused(conflict: OpenConflict, message: str | None, status: int = 409) -> Any:
    """The conflicts page again, with the reason this one was not resolved next to it."""
    ctx = context()
    found = ConflictStore(ctx.store).open()
    page = render_template(
        "conflicts.html", conflicts=found, target=None, stale=(conflict, message)
    )
    return page, status
