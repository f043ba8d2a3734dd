"""Building the Flask application: settings, language, CSRF, security headers, error pages.

Every error a person can cause (an unknown record, a form sent twice, an expired page) gets a
page in their language saying what happened; an unexpected failure gets the same kind of page,
never a traceback.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, current_app, render_template, request
from flask_babel import Babel
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from kitab.config import Config
from kitab.sync.state import StateStore
from kitab.web import auth, i18n, pages
from kitab.web.context import WebContext
from kitab.web.users import UserStore

HERE = Path(__file__).parent

#: what the browser may load: this site's own style sheet and nothing else, no scripts at all
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def create_app(config: Config, store: StateStore) -> Flask:
    users = UserStore(store)
    app = Flask(
        __name__, template_folder=str(HERE / "templates"), static_folder=str(HERE / "static")
    )
    lifetime = timedelta(minutes=config.web.session_minutes)
    app.config.update(
        SECRET_KEY=users.secret_key(),
        PERMANENT_SESSION_LIFETIME=lifetime,
        SESSION_COOKIE_NAME="kitab_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=int(lifetime.total_seconds()),
        BABEL_TRANSLATION_DIRECTORIES=str(HERE / "translations"),
        BABEL_DEFAULT_TIMEZONE=config.web.timezone,
        MAX_CONTENT_LENGTH=256 * 1024,
    )
    app.extensions["kitab"] = WebContext(config, store, users)
    app.before_request(auth.load_user)  # first: an anonymous request is refused as such
    CSRFProtect(app)
    Babel(app, locale_selector=i18n.select_locale)
    app.register_blueprint(auth.blueprint)
    app.register_blueprint(pages.blueprint)
    app.after_request(_headers)
    app.jinja_env.filters.update(when=i18n.when, number=i18n.number, day=i18n.day)
    app.jinja_env.globals.update(
        LANGUAGES=i18n.LANGUAGES,
        label=i18n.label,
        JOB_NAMES=i18n.JOB_NAMES,
        OUTCOMES=i18n.OUTCOMES,
        ACTIONS=i18n.ACTIONS,
        WRITE_STATUS=i18n.WRITE_STATUS,
        COUNTS=i18n.COUNTS,
        RESOLUTIONS=i18n.RESOLUTIONS,
        ROLES=i18n.ROLES,
        SERIES=i18n.SERIES,
        current_language=i18n.current_language,
        targets=list(config.targets),
        target_urls={name: t.url for name, t in config.targets.items()},  # never a secret
    )
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    return app


def _headers(response: Any) -> Any:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
    return response


MESSAGES = {
    400: lambda: _("The request could not be understood."),
    401: lambda: _("You are not signed in, or your user may not use these pages."),
    403: lambda: _("Only cataloguers may resolve conflicts. Ask an administrator for the role."),
    404: lambda: _("There is no such page."),
    405: lambda: _("This page cannot be used that way."),
    413: lambda: _("What was sent is too large."),
}


def _http_error(error: HTTPException) -> Any:
    code = error.code or 500
    own = error.description if error.description != type(error).description else None
    message = own or MESSAGES.get(code, lambda: _("Something went wrong."))()
    return render_template("error.html", code=code, message=message), code


def _csrf_error(error: CSRFError) -> Any:
    message = _("This form has expired or did not come from these pages. Open the page again.")
    return render_template("error.html", code=400, message=message), 400


def _unexpected(error: Exception) -> Any:
    current_app.logger.exception("unexpected error on %s", request.path)
    message = _("Something went wrong on the server. It was logged; please tell the administrator.")
    return render_template("error.html", code=500, message=message), 500
