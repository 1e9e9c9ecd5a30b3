"""The dashboard: server-rendered page shells behind login; their scripts read the JSON API.

Pages: the project list, then per project the accuracy timeline, class x annotator heat map, batch
agreement, gold library health, relabel queue and alerts. Scripts, styles and charts ship in
``static/`` (no CDN, no network at run time).
"""

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)

from plugin.store.people import project_title
from webhooks.dashboard.auth import (
    configure_sessions,
    credentials_match,
    csrf_ok,
    csrf_token,
    end_current_session,
    logged_in,
    missing_settings,
    start_session,
)
from webhooks.ls_links import project_url

dashboard = Blueprint(
    "dashboard",
    __name__,
    url_prefix="/dashboard",
    static_folder="static",
    template_folder="templates",
)

# (slug, title) of each project page, in navigation order.
PAGES = (
    ("accuracy", "Accuracy"),
    ("heatmap", "Classes"),
    ("agreement", "Agreement"),
    ("gold", "Gold library"),
    ("relabel", "Relabel queue"),
    ("alerts", "Alerts"),
)
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


@dashboard.record_once
def _configure(state: Any) -> None:
    configure_sessions(state.app, state.app.extensions["lsqa"]["settings"])


@dashboard.before_request
def _require_login() -> Any:
    missing = missing_settings(current_app.extensions["lsqa"]["settings"])
    if missing:
        message = f"the dashboard is off: set {', '.join(missing)} (or their $LSQA_DASHBOARD_* variables)"
        return Response(message + "\n", status=503, mimetype="text/plain")
    if request.endpoint in ("dashboard.login", "dashboard.static") or logged_in():
        return None
    return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))


@dashboard.after_request
def _security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint != "dashboard.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@dashboard.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error, status, headers = None, 200, {}
    if request.method == "POST":
        error, status, wait = _check_login(request.form, request.remote_addr or "")
        if error is None:
            return redirect(_safe_next(request.args.get("next")))
        if wait:
            headers["Retry-After"] = str(wait)
    return render_template("dashboard/login.html", error=error, csrf=csrf_token()), status, headers


def _check_login(form: Any, client: str) -> tuple[str | None, int, int]:
    """(error or None when logged in, status, seconds to wait)."""
    throttle = current_app.extensions["lsqa"]["login_throttle"]
    attempt, wait = throttle.begin(client)
    if wait:  # checked before the password, so guessing on gets nowhere
        throttle.forget(attempt)
        return f"Too many failed logins: try again in {(wait + 59) // 60} minute(s).", 429, wait
    if not csrf_ok(form.get("csrf")):
        throttle.forget(attempt)
        return "The form expired: please try again.", 401, 0
    if credentials_match(form.get("username", ""), form.get("password", "")):
        throttle.succeeded(client)
        start_session(form["username"])
        return None, 302, 0
    return "Wrong user name or password.", 401, 0  # the attempt stays counted


@dashboard.post("/logout")
def logout() -> Any:
    if not csrf_ok(request.form.get("csrf")):
        abort(400, "missing or wrong CSRF token")
    end_current_session()
    return redirect(url_for("dashboard.login"))


@dashboard.get("/")
def projects_page() -> str:
    return render_template(
        "dashboard/page.html", page="projects", project_id=None, pages=PAGES, csrf=csrf_token()
    )


@dashboard.get("/projects/<int:project_id>/")
def project_home(project_id: int) -> Any:
    return redirect(url_for("dashboard.project_page", project_id=project_id, page=PAGES[0][0]))


@dashboard.get("/projects/<int:project_id>/<page>")
def project_page(project_id: int, page: str) -> str:
    if page not in dict(PAGES):
        abort(404)
    with current_app.extensions["lsqa"]["store"].read() as conn:
        title = project_title(conn, project_id)
    return render_template(
        "dashboard/page.html",
        page=page,
        project_id=project_id,
        project_title=title,
        project_url=project_url(project_id),
        pages=PAGES,
        csrf=csrf_token(),
    )


def _safe_next(target: str | None) -> str:
    """Only a path inside the dashboard: never an open redirect to another site."""
    if target and target.startswith("/dashboard/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("dashboard.projects_page")
