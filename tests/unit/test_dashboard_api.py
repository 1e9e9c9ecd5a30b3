"""The dashboard's JSON endpoints over a seeded store (SQLite and PostgreSQL), through Flask's test client."""

import doctest
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from conftest import temporary_database
from dashboardseed import ALICE, API_TOKEN, BOB, CAROL, SUSPECT_ITEM, seeded_app
from statsmodels.stats.proportion import proportion_confint

from plugin.gold import panels
from plugin.quality import GoldAnswer

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def client(request, tmp_path_factory):
    """One seeded store per engine for the module: the endpoints only read."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('dash') / 'lsqa.sqlite3'}"
        else:
            url = stack.enter_context(temporary_database())
        yield stack.enter_context(seeded_app(url)).test_client()


def get(client, path, **kwargs):
    return client.get("/api/v1" + path, headers=AUTH, **kwargs)


def test_projects_lists_every_known_project(client):
    body = get(client, "/projects").get_json()
    assert [(p["id"], p["title"]) for p in body["projects"]] == [(1, "Vehicles"), (2, "Empty project")]


def test_timeline_points_carry_wilson_bounds_of_the_rolling_window(client):
    body = get(client, "/projects/1/timeline").get_json()
    people = {a["id"]: a for a in body["annotators"]}
    assert set(people) == {ALICE, BOB, CAROL}
    window, level = body["window"], body["confidence_level"]
    points = people[ALICE]["points"]
    assert len(points) == 60 and points[-1]["n"] == min(60, window)
    for p in points[::7]:
        k = round(p["accuracy"] * p["n"])
        lo, hi = proportion_confint(k, p["n"], alpha=1 - level, method="wilson")
        assert (p["lower"], p["upper"]) == pytest.approx((lo, hi), abs=1e-9)
    assert [p["at"] for p in points] == sorted(p["at"] for p in points)
    bob = people[BOB]
    assert bob["status"] == "requalifying" and len(bob["flags"]) == 1 and bob["flags"][0]["status"] == "open"
    assert len(bob["quiz_answers"]) == 6 and len(bob["points"]) == 30  # quiz answers are not evidence


def test_heatmap_shows_the_systematic_confusion(client):
    body = get(client, "/projects/1/heatmap").get_json()
    assert body["labels"] == ["bus", "car", "van"]
    cell = {(c["annotator_id"], c["label"]): c for c in body["cells"]}
    assert cell[(BOB, "van")]["accuracy"] == 0.0 and cell[(BOB, "van")]["n"] > 0
    assert cell[(ALICE, "bus")]["accuracy"] > 0.8


def test_gold_health_finds_the_item_good_annotators_keep_missing(client):
    body = get(client, "/projects/1/gold").get_json()
    assert (body["items_active"], body["items_retired"]) == (11, 1)
    assert body["good_annotators"] == [ALICE]
    suspects = [i["id"] for i in body["items"] if i["suspect"]]
    assert suspects == [SUSPECT_ITEM]
    rows = {i["id"]: i for i in body["items"]}
    assert sum(r["answers"] for r in rows.values()) == body["answers"] == 60 + 36 + 4
    assert rows[12]["served"] == 0 and body["exposure"]["never_served"] == 0  # item 12 is retired
    assert body["exposure"]["mean"] == pytest.approx(np.mean([rows[i]["served"] for i in range(1, 12)]))


def test_gold_never_leaves_the_store(client):
    for panel in ("timeline", "heatmap", "gold", "alerts", "annotators"):
        text = get(client, f"/projects/1/{panel}").get_data(as_text=True)
        assert "expert answer" not in text and "annotator result" not in text and "/data/" not in text


def test_alerts_are_newest_first_and_limited(client):
    body = get(client, "/projects/1/alerts").get_json()
    assert [a["kind"] for a in body["alerts"]] == ["quiz_failed", "annotator_flagged"]
    assert len(get(client, "/projects/1/alerts?limit=1").get_json()["alerts"]) == 1


@pytest.mark.parametrize("limit", ["0", "501", "x", "-1", "²", ""])
def test_alerts_bad_limit_is_a_json_400(client, limit):
    response = get(client, f"/projects/1/alerts?limit={limit}")
    assert response.status_code == 400 and "limit" in response.get_json()["error"]


@pytest.mark.parametrize("panel", ["timeline", "heatmap", "gold", "alerts", "annotators"])
@pytest.mark.parametrize("project_id", [99, 2**63, 10**30])
def test_unknown_project_is_a_json_404(client, panel, project_id):
    response = get(client, f"/projects/{project_id}/{panel}")
    assert response.status_code == 404 and response.is_json


def test_empty_project_has_empty_panels(client):
    assert get(client, "/projects/2/timeline").get_json()["annotators"] == []
    assert get(client, "/projects/2/heatmap").get_json()["cells"] == []
    gold = get(client, "/projects/2/gold").get_json()
    assert gold["items"] == [] and gold["miss_rate"] is None and gold["exposure"]["mean"] is None


def test_panels_need_the_token_or_a_session(client):
    for path in ("/projects", "/projects/1/timeline", "/projects/1/gold"):
        assert client.get("/api/v1" + path).status_code == 401


def test_panels_docstring_examples():
    result = doctest.testmod(panels, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


def test_accuracy_series_keeps_the_latest_points_with_full_windows():
    t = datetime(2024, 1, 1, tzinfo=UTC)
    answers = [GoldAnswer(str(i), t + timedelta(minutes=i), 1.0, i % 3 != 0) for i in range(30)]
    points = panels.accuracy_series(answers, window=10, confidence_level=0.9, limit=5)
    assert [p["at"] for p in points] == [a.answered_at.isoformat() for a in answers[-5:]]
    for p, end in zip(points, range(25, 30), strict=True):
        window = answers[end - 9 : end + 1]
        assert p["n"] == 10 and p["accuracy"] == sum(a.passed for a in window) / 10
    assert panels.accuracy_series([], window=10, confidence_level=0.9) == []
