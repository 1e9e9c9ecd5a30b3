"""The webhook receiver against a real store (SQLite and PostgreSQL), through Flask's test client."""

import io
import json

import pytest
from eventfactory import payload, payload_names
from flask import jsonify
from sqlalchemy import func, select

from plugin.settings import load_settings
from plugin.store.schema import inbox
from webhooks.app import create_app

SECRET = "s3cr3t-s3cr3t-s3cr3t"


@pytest.fixture
def settings(store_url):
    env = {
        "LABEL_STUDIO_URL": "http://127.0.0.1:1",
        "LABEL_STUDIO_API_KEY": "k",
        "LSQA_WEBHOOK_SECRET": SECRET,
        "LSQA_DATABASE_URL": store_url,
    }
    return load_settings(None, env=env)


@pytest.fixture
def app(settings, store):
    app = create_app(settings, store=store)
    yield app
    app.extensions["lsqa"]["writer"].close()


@pytest.fixture
def client(app):
    return app.test_client()


def post(client, body, *, secret=SECRET, content_type="application/json", raw=None):
    data = raw if raw is not None else json.dumps(body)
    headers = {"X-LSQA-Secret": secret} if secret is not None else {}
    return client.post("/webhooks/label-studio", data=data, headers=headers, content_type=content_type)


def post_streamed(client, data: bytes, *, chunked: bool):
    """POST with the body as a stream; ``chunked`` sends no Content-Length, as a chunked request."""
    headers = {"X-LSQA-Secret": SECRET, "Content-Type": "application/json"}
    if chunked:  # werkzeug's test client still sets CONTENT_LENGTH; this header makes servers ignore it
        headers["Transfer-Encoding"] = "chunked"
    else:
        headers["Content-Length"] = str(len(data))
    # gunicorn marks its input stream as terminated; werkzeug's test client does not.
    return client.post(
        "/webhooks/label-studio",
        input_stream=io.BytesIO(data),
        headers=headers,
        environ_overrides={"wsgi.input_terminated": True},
    )


def inbox_rows(store):
    with store.inbox_read() as conn:
        return conn.execute(select(inbox.c.action, inbox.c.body, inbox.c.status)).all()


@pytest.mark.parametrize("name", payload_names())
def test_receive_accepts_every_real_body(client, store, name):
    response = post(client, payload(name))
    assert response.status_code == 200
    assert response.get_json() == {"status": "accepted"}
    assert [(a, s) for a, _, s in inbox_rows(store)] == [(name, "pending")]


def test_receive_duplicate_delivery_is_stored_once(client, store):
    body = payload("ANNOTATION_CREATED")
    assert post(client, body).get_json() == {"status": "accepted"}
    assert post(client, body).get_json() == {"status": "duplicate"}
    assert len(inbox_rows(store)) == 1


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET[:-1]])
def test_receive_wrong_or_missing_secret_is_401_and_stores_nothing(client, store, secret):
    response = post(client, payload("ANNOTATION_CREATED"), secret=secret)
    assert response.status_code == 401
    assert "X-LSQA-Secret" in response.get_json()["error"]
    assert inbox_rows(store) == []


@pytest.mark.parametrize(
    "raw", [b"{not json", b"", b"\xff\xfe\x00", b"[1, 2]", b'{"no_action": 1}', b'{"action": 5}']
)
def test_receive_malformed_json_is_400(client, store, raw):
    response = post(client, None, raw=raw)
    assert response.status_code == 400
    assert response.is_json and "error" in response.get_json()
    assert inbox_rows(store) == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_receive_wrong_content_type_is_415(client, store, content_type):
    response = post(client, payload("ANNOTATION_CREATED"), content_type=content_type)
    assert response.status_code == 415
    assert inbox_rows(store) == []


@pytest.mark.parametrize("chunked", [False, True])
def test_receive_oversized_body_is_413(store_url, store, tmp_path, chunked):
    config = tmp_path / "small.yaml"
    config.write_text("webhook:\n  max_body_bytes: 2048\n")
    env = {
        "LABEL_STUDIO_URL": "http://x",
        "LABEL_STUDIO_API_KEY": "k",
        "LSQA_WEBHOOK_SECRET": SECRET,
        "LSQA_DATABASE_URL": store_url,
    }
    app = create_app(load_settings(config, env=env), store=store)
    body = payload("TASKS_CREATED")
    body["tasks"] = body["tasks"] * 20
    data = json.dumps(body).encode()
    assert len(data) > 2048
    response = post_streamed(app.test_client(), data, chunked=chunked)
    assert response.status_code == 413
    assert "2048" in response.get_json()["error"]
    assert inbox_rows(store) == []
    assert post(app.test_client(), payload("ANNOTATIONS_DELETED")).status_code == 200  # within the limit
    app.extensions["lsqa"]["writer"].close()


def test_receive_unknown_action_is_200_and_ignored(client, store):
    response = post(client, {"action": "LABEL_LINK_CREATED", "project": {"id": 1}})
    assert response.status_code == 200
    assert response.get_json()["status"] == "ignored"
    assert inbox_rows(store) == []


def test_receive_stores_body_without_the_project_token(client, store):
    body = payload("ANNOTATION_CREATED")
    body["project"]["token"] = "very-secret-project-token"
    assert post(client, body).status_code == 200
    (row,) = inbox_rows(store)
    assert "very-secret-project-token" not in row.body
    assert json.loads(row.body)["annotation"]["id"] == 5


def test_receive_unknown_route_and_method_are_json(client):
    assert client.get("/webhooks/label-studio").status_code == 405
    response = client.get("/nope")
    assert response.status_code == 404 and response.is_json


def test_healthz_reports_store_and_backlog(client):
    post(client, payload("ANNOTATION_CREATED"))
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert {k: body[k] for k in ("status", "store", "inbox_pending", "inbox_failed")} == {
        "status": "ok",
        "store": "ok",
        "inbox_pending": 1,
        "inbox_failed": 0,
    }
    assert body["oldest_pending_age_seconds"] >= 0 and body["worker_seen_seconds_ago"] is None


def test_healthz_is_503_when_the_store_is_unreachable(settings, tmp_path):
    from plugin.store import Store

    broken = Store("postgresql+psycopg://postgres@127.0.0.1:1/none")
    response = create_app(settings, store=broken).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"


def test_receive_is_503_not_500_when_the_store_is_down(settings):
    from plugin.store import Store

    broken = Store("postgresql+psycopg://postgres@127.0.0.1:1/none")
    app = create_app(settings, store=broken)
    response = post(app.test_client(), payload("ANNOTATION_CREATED"))
    assert response.status_code == 503
    assert "not acknowledged" in response.get_json()["error"]
    app.extensions["lsqa"]["writer"].close()


def test_inbox_counts(store, client):
    for name in ("ANNOTATION_CREATED", "ANNOTATION_UPDATED", "TASKS_CREATED"):
        post(client, payload(name))
    with store.inbox_read() as conn:
        assert conn.execute(select(func.count()).select_from(inbox)).scalar_one() == 3


@pytest.mark.parametrize("chunked", [False, True])
def test_receive_reads_streamed_and_chunked_bodies(client, store, chunked):
    response = post_streamed(client, json.dumps(payload("ANNOTATION_CREATED")).encode(), chunked=chunked)
    assert response.status_code == 200, response.get_json()
    assert [a for a, _, _ in inbox_rows(store)] == ["ANNOTATION_CREATED"]


def test_receive_accepts_a_charset_parameter(client, store):
    response = post(client, payload("ANNOTATION_CREATED"), content_type="Application/JSON; charset=utf-8")
    assert response.status_code == 200
    assert len(inbox_rows(store)) == 1


def test_receive_other_methods_are_405_with_allow(client):
    response = client.put("/webhooks/label-studio", json={"action": "ANNOTATION_CREATED"})
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.is_json


def test_receive_answers_like_jsonify(app, client):
    with app.app_context():
        expected = jsonify(status="accepted").get_data()
    assert post(client, payload("ANNOTATION_CREATED")).get_data() == expected


def with_change(change):
    body = payload("ANNOTATION_CREATED")
    change(body)
    return body


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (with_change(lambda b: b.update(project="²")), "project is missing or not an integer"),
        (with_change(lambda b: b["project"].update(id=2**63)), "project.id is missing or not an integer"),
        (with_change(lambda b: b["annotation"].update(id=2**63)), "annotation.id"),
        (with_change(lambda b: b["annotation"].update(completed_by=True)), "completed_by"),
        (with_change(lambda b: b["task"].update(id="12x")), "task.id"),
        (with_change(lambda b: b["task"].update(data=[1, 2])), "task.data is not an object"),
        (with_change(lambda b: b["annotation"].update(result=["label", 5])), "not an object"),
        ({"action": "TASKS_DELETED", "tasks": [{"id": 0}], "project": {"id": 1}}, "id is missing"),
    ],
)
def test_receive_refuses_bad_ids_and_shapes_with_a_reason(client, store, body, reason):
    response = post(client, body)
    assert response.status_code == 400
    assert reason in response.get_json()["error"]
    assert inbox_rows(store) == []


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"[" * 100_000, "nested too deeply"),  # RecursionError in json.loads: it was a 500
        (b'{"action": "ANNOTATION_CREATED", "lead": NaN}', "not valid JSON"),
    ],
)
def test_receive_refuses_json_it_cannot_store(client, store, raw, reason):
    response = post(client, None, raw=raw)
    assert response.status_code == 400
    assert reason in response.get_json()["error"]
    assert inbox_rows(store) == []
