"""Who is asking: password login with a signed, expiring session cookie, or a user name set
by a trusted reverse proxy. Every page but the login form and the style sheet needs a user;
that is enforced once, before every request, so a new page cannot forget it."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from kitab.web.context import context
from kitab.web.i18n import LANGUAGES

blueprint = Blueprint("auth", __name__)

#: endpoints anyone may reach
PUBLIC = {"auth.login", "static"}


def load_user() -> Any:
    """Before every request: find the user, or send the request to the login form."""
    ctx = context()
    g.user = None
    header = ctx.config.web.trusted_header
    if header:
        g.user = ctx.header_user(request.headers.get(header))
    elif "user" in session:
        user = ctx.users.get(session["user"])
        if user is not None and user.epoch == session.get("epoch"):
            g.user = user
        else:
            session.clear()
    public = {"static"} if header else PUBLIC  # behind a proxy, there is no login form
    if g.user is not None or request.endpoint in public:
        return None
    if header:
        abort(401)
    if request.method == "GET":
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    abort(401)


def cataloguer_only(view: Callable) -> Callable:
    """Only cataloguers change anything; viewers get a clear refusal."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not g.user.can_resolve:
            abort(403)
        return view(*args, **kwargs)

    return guarded


def safe_next(target: str | None) -> str:
    """Only a path on this site: a login link must not send people elsewhere."""
    if not target:
        return url_for("pages.overview")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("pages.overview")
    return target


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Any:
    ctx = context()
    if ctx.config.web.trusted_header:
        return redirect(url_for("pages.overview"))
    error = None
    name = ""
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        user = ctx.users.check(name, request.form.get("password", ""))
        if user is not None:
            session.clear()
            session.permanent = True
            session["user"], session["epoch"] = user.name, user.epoch
            return redirect(safe_next(request.args.get("next")))
        error = _("The name or the password is not right.")
    status = 401 if error else 200
    return render_template("login.html", error=error, name=name), status


@blueprint.route("/logout", methods=["POST"])
def logout() -> Any:
    ctx = context()
    if not ctx.config.web.trusted_header:
        ctx.users.end_sessions(g.user.name)
    session.clear()
    return redirect(url_for("auth.login"))


@blueprint.route("/language", methods=["POST"])
def language() -> Any:
    chosen = request.form.get("language", "")
    if chosen not in LANGUAGES:
        abort(400)
    context().users.set_language(g.user.name, chosen)
    return redirect(safe_next(request.form.get("back")))
