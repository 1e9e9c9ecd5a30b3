"""``GET /api/v1/projects/<id>/report``: the project's QA report from its live gold answers.

Same keys as ``lsqa audit``'s report.json (see plugin/offline/report.py); only derived figures,
never the expert answers.
"""

from flask import current_app, jsonify

from plugin.offline.live import UnknownProject, live_report
from webhooks.api import api, require_token


@api.get("/projects/<int:project_id>/report")
@require_token
def project_report(project_id: int):  # type: ignore[no-untyped-def]
    with current_app.extensions["lsqa"]["store"].read() as conn:
        try:
            report = live_report(conn, project_id)
        except UnknownProject as exc:
            return jsonify(error=str(exc)), 404
    return jsonify(report)
