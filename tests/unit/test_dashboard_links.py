"""The dashboard leads back into Label Studio: titles, people by name, links, never a credential."""

import doctest
from contextlib import ExitStack
from datetime import timedelta

import pytest
from conftest import temporary_database
from dashboardseed import ALICE, API_TOKEN, BOB, PASSWORD, PROJECT_ID, START, USERNAME, seeded_app

from plugin.store import people
from plugin.store.relabel_tabs import save_view, tab_view_ids
from plugin.store.schema import flags, users
from plugin.store.schema_agreement import agreement_batches
from plugin.store.schema_relabel import relabel_items, relabel_projects, relabel_views
from plugin.sync import save_users
from webhooks import ls_links

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
LS_URL = "http://admin:hunter2@ls.example.org:8080/"  # credentials that must never be shown
LS = "http://ls.example.org:8080"
REVIEWER, ERIN, RELABEL_PROJECT = 104, 105, 3
FLAG_TAB, BATCH_TAB = 41, 42  # Label Studio view ids of the tabs of bob's open flag and of batch 2


def _seed_relabel_and_batch(store) -> None:
    with store.begin() as conn:
        conn.execute(users.insert().values(id=REVIEWER, email="dana@example.com", username=None))
        erin = {"id": ERIN, "email": "e@example.com", "username": "erin", "first_name": "Erin"}
        conn.execute(users.insert().values(**erin))
        conn.execute(
            relabel_projects.insert().values(
                source_project_id=PROJECT_ID,
                relabel_project_id=RELABEL_PROJECT,
                created_by_service=True,
                created_at=START,
            )
        )
        for n, (status, relabel_task, reviewer) in enumerate(
            (("corrected", 77, REVIEWER), ("queued", None, None)), start=1
        ):
            conn.execute(
                relabel_items.insert().values(
                    project_id=PROJECT_ID,
                    dedupe_key=f"k{n}",
                    source_task_id=4240 + n,
                    annotator_id=BOB,
                    reason_kind="systematic",
                    reason=f"annotator {BOB} got 'van' right in 0/5 gold answers",
                    prefill=[],
                    status=status,
                    queued_at=START,
                    relabel_project_id=RELABEL_PROJECT if relabel_task else None,
                    relabel_task_id=relabel_task,
                    corrected_by=reviewer,
                )
            )
        for kappa in (0.5, 0.2):  # batch 2 is the weak one, with a tab
            conn.execute(
                agreement_batches.insert().values(
                    project_id=PROJECT_ID,
                    source="import",
                    status="complete",
                    created_at=START,
                    task_count=40,
                    sample_size=8,
                    sample_done=8,
                    seed=1,
                    computed_at=START + timedelta(hours=1),
                    figures={"kappa": kappa, "kappa_ci": [kappa - 0.2, kappa + 0.2], "per_category": []},
                )
            )
        # flag 2: a cleared flag of bob's, whose tab is gone (the open one is flag 1, from the seed)
        conn.execute(
            flags.insert().values(
                project_id=PROJECT_ID,
                annotator_id=BOB,
                status="cleared",
                raised_at=START,
                cleared_at=START + timedelta(hours=2),
                evidence={},
            )
        )
        save_view(
            conn, PROJECT_ID, "flag:1", FLAG_TAB, "QA flag #1: bob - upper bound below threshold", [4241]
        )
        save_view(conn, PROJECT_ID, "batch:2", BATCH_TAB, "QA batch #2: low agreement", [4242])
        save_view(conn, PROJECT_ID + 1, "flag:2", 99, "QA flag #2: another project's", [1])


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def app(request, tmp_path_factory):
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('links') / 'lsqa.sqlite3'}"
        else:
            url = stack.enter_context(temporary_database())
        flask_app = stack.enter_context(seeded_app(url, LABEL_STUDIO_URL=LS_URL))
        _seed_relabel_and_batch(flask_app.extensions["lsqa"]["store"])
        yield flask_app


def get(app, path):
    response = app.test_client().get("/api/v1" + path, headers=AUTH)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "hunter2" not in text and "admin@" not in text
    return response.get_json()


def test_projects_link_to_their_data_manager(app):
    found = {p["id"]: p for p in get(app, "/projects")["projects"]}
    assert found[1]["title"] == "Vehicles" and found[1]["url"] == f"{LS}/projects/1/data"


def test_people_are_named_in_timeline_heatmap_and_annotators(app):
    for path in ("/projects/1/timeline", "/projects/1/heatmap", "/projects/1/annotators"):
        named = {a["id"]: a["name"] for a in get(app, path)["annotators"]}
        assert named[ALICE] == "alice" and named[BOB] == "bob"


def test_flags_link_to_their_tab_else_the_project_data_manager(app):
    bob = next(a for a in get(app, "/projects/1/timeline")["annotators"] if a["id"] == BOB)
    assert [(f["id"], f["status"], f["url"]) for f in bob["flags"]] == [
        (1, "open", f"{LS}/projects/1/data?tab={FLAG_TAB}"),
        (2, "cleared", f"{LS}/projects/1/data"),  # flag:2 has a tab in another project only
    ]


def test_gold_items_link_to_their_source_task(app):
    items = {i["id"]: i for i in get(app, "/projects/1/gold")["items"]}
    assert items[3]["source_task_url"] == f"{LS}/projects/9/data?task=903"  # seeded from project 9


def test_relabel_items_name_people_and_link_both_tasks(app):
    body = get(app, "/projects/1/relabel")
    corrected, queued = body["items"]
    assert corrected["reason"] == f"annotator {BOB} got 'van' right in 0/5 gold answers"  # unchanged
    assert corrected["reason_text"] == "bob got 'van' right in 0/5 gold answers"
    assert (corrected["annotator_name"], corrected["corrected_by_name"]) == ("bob", "dana@example.com")
    assert corrected["url"] == f"{LS}/projects/1/data?task=4241"
    assert corrected["relabel_url"] == f"{LS}/projects/{RELABEL_PROJECT}/data?task=77"
    assert queued["relabel_url"] is None and queued["corrected_by_name"] is None


def test_batches_link_to_their_tab_else_the_project_data_manager(app):
    batches = get(app, "/projects/1/batches")["batches"]
    assert [(b["id"], b["url"]) for b in batches] == [
        (1, f"{LS}/projects/1/data"),
        (2, f"{LS}/projects/1/data?tab={BATCH_TAB}"),
    ]


def test_tab_view_ids_are_the_project_tabs_that_exist_in_label_studio(app):
    store = app.extensions["lsqa"]["store"]
    with store.begin() as conn:
        conn.execute(
            relabel_views.insert().values(
                project_id=PROJECT_ID,
                subject="flag:9",
                view_id=None,
                title="t",
                task_ids=[],
                updated_at=START,
            )
        )
    with store.read() as conn:
        assert tab_view_ids(conn, PROJECT_ID) == {"flag:1": FLAG_TAB, "batch:2": BATCH_TAB}


def test_project_page_shows_the_title_and_links_to_label_studio(app):
    client = app.test_client()
    login = client.get("/dashboard/login")
    csrf = login.get_data(as_text=True).split('name="csrf" value="')[1].split('"')[0]
    client.post("/dashboard/login", data={"csrf": csrf, "username": USERNAME, "password": PASSWORD})
    page = client.get("/dashboard/projects/1/accuracy").get_data(as_text=True)
    assert "Vehicles" in page and f'href="{LS}/projects/1/data"' in page and "project 1<" not in page
    assert "hunter2" not in page and "admin@" not in page


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:pass@host:8080/ls/", "http://host:8080/ls"),
        ("https://token@ls.example.org", "https://ls.example.org"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("http://localhost:8080/?next=x#frag", "http://localhost:8080"),
    ],
)
def test_public_base_url_drops_credentials(url, shown):
    assert ls_links.public_base_url(url) == shown


def test_display_names_prefer_the_full_name_then_username_email_id(app):
    with app.extensions["lsqa"]["store"].read() as conn:
        assert people.display_names(conn, [ERIN, ALICE, REVIEWER, 999, None]) == {
            ERIN: "Erin",
            ALICE: "alice",
            REVIEWER: "dana@example.com",
            999: "user 999",
        }


def test_people_and_links_docstring_examples():
    for module in (people, ls_links):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0


def test_synced_users_keep_their_first_and_last_name(app):
    store = app.extensions["lsqa"]["store"]
    with store.begin() as conn:
        save_users(conn, [{"id": 106, "email": "f@example.com", "username": "fay", "first_name": "Fay"}])
        save_users(
            conn,
            [
                {
                    "id": 106,
                    "email": "f@example.com",
                    "username": "fay",
                    "first_name": "Fay",
                    "last_name": "Ng",
                }
            ],
        )
    with store.read() as conn:
        assert people.display_names(conn, [106]) == {106: "Fay Ng"}
