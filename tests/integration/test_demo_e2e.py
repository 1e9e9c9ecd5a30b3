"""``lsqa demo`` for real, bounded: its own Label Studio, the service, simulated people; then Ctrl-C.

The demo runs as a user runs it (a subprocess in its own process group, which is what a terminal
gives it); the test stops it with SIGINT as soon as the story has been told: gold seeded to
everyone, accuracies in the API, the confused annotator flagged and quizzed. Every process the demo
started is recorded while it runs and must be gone afterwards.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest
import requests
from servicefixtures import free_port
from sqlalchemy import func, select

from plugin.demo.simulate import PROFILES
from plugin.store import Store
from plugin.store.schema import flags, gold_answers, gold_copies

pytestmark = pytest.mark.integration

BAD = next(p.name for p in PROFILES if p.confuses)


@pytest.mark.timeout(900)
def test_demo_flags_the_confused_annotator_and_ctrl_c_leaves_nothing_behind(tmp_path):
    data_dir, port = tmp_path / "demo", free_port()
    command = [sys.executable, "-m", "plugin.cli", "demo", "--data-dir", str(data_dir), "--port", str(port)]
    # Three people (not four) and an unhurried pace: every gold copy costs the service's worker a few
    # Label Studio calls, one after another, so a busy Label Studio slows the whole loop down.
    command += ["--annotators", "3", "--duration", "480", "--tasks", "400"]
    command += ["--pace", "3", "--report-every", "10"]
    demo = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(demo.stdout), daemon=True)
    reader.start()
    started: dict[int, float] = {}  # pid -> create time, of everything the demo started
    try:
        state = _wait_for_state(demo, data_dir, started, output)
        store = Store(state["database_url"])
        try:
            bad_id = next(a["id"] for a in state["annotators"] if a["name"] == BAD)
            story = _wait_for_story(
                demo, store, state["project_id"], bad_id, len(state["annotators"]), started, output
            )
            people = _annotators(state)
        finally:
            store.dispose()
        _note_descendants(demo.pid, started)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        rc = demo.wait(timeout=90)
        reader.join(timeout=10)
        demo.stdout.close()
    text = "".join(output)
    assert rc == 0, text[-3000:]
    assert "Stopped everything the demo started." in text
    # Everything started is gone: Label Studio, the supervisor, gunicorn and the worker.
    assert {"label-studio", "serve", "gunicorn", "worker"} <= story["roles"], story["roles"]
    left = [pid for pid, created in started.items() if _alive(pid, created)]
    assert not left, [psutil.Process(p).cmdline() for p in left]
    with pytest.raises(requests.ConnectionError):
        requests.get(state["label_studio_url"] + "/health", timeout=2)
    # What the user was told: where to look, with the logins.
    for shown in (
        state["label_studio_url"],
        state["admin_password"],
        state["service_url"],
        state["api_token"],
    ):
        assert shown in text
    # Gold reached every annotator, the API reports accuracies, only the confused one is flagged.
    assert story["copies_by_annotator"].keys() == {a["id"] for a in state["annotators"]}
    assert all(p["accuracy"]["accuracy"] is not None for p in people.values())
    assert people[bad_id]["status"] in ("requalifying", "flagged") and people[bad_id]["flag"]
    assert story["flagged"] == {bad_id}
    assert people[bad_id]["accuracy"]["accuracy"] < min(
        p["accuracy"]["accuracy"] for i, p in people.items() if i != bad_id
    )
    assert story["quiz_copies"] >= 1


def _wait_for_state(demo, data_dir, started, output, timeout=150):
    """demo.json appears once everything is up and the banner is printed."""
    path = data_dir / "demo.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert demo.poll() is None, "".join(output)[-3000:]
        _note_descendants(demo.pid, started)
        if path.exists() and path.stat().st_size:
            return json.loads(path.read_text())
        time.sleep(0.5)
    raise AssertionError("the demo did not come up:\n" + "".join(output)[-3000:])


def _wait_for_story(demo, store, project_id, bad_id, people, started, output, timeout=480):
    deadline = time.monotonic() + timeout
    roles: set[str] = set()
    while time.monotonic() < deadline:
        assert demo.poll() is None, "".join(output)[-3000:]
        roles |= _note_descendants(demo.pid, started)
        with store.read() as conn:
            copies = dict(
                conn.execute(
                    select(gold_copies.c.annotator_id, func.count())
                    .where(gold_copies.c.project_id == project_id)
                    .group_by(gold_copies.c.annotator_id)
                ).all()
            )
            flagged = set(conn.execute(select(flags.c.annotator_id)).scalars())
            quiz = conn.execute(
                select(func.count()).where(
                    gold_copies.c.annotator_id == bad_id, gold_copies.c.purpose == "quiz"
                )
            ).scalar_one()
            answered = set(conn.execute(select(gold_answers.c.annotator_id).distinct()).scalars())
        if quiz and len(answered) == people:
            return {"copies_by_annotator": copies, "flagged": flagged, "quiz_copies": quiz, "roles": roles}
        time.sleep(1)
    raise AssertionError("no flag and quiz in time:\n" + "".join(output)[-3000:])


def _annotators(state):
    response = requests.get(
        f"{state['service_url']}/api/v1/projects/{state['project_id']}/annotators",
        headers={"Authorization": f"Bearer {state['api_token']}"},
        timeout=10,
    )
    response.raise_for_status()
    return {p["id"]: p for p in response.json()["annotators"]}


def _note_descendants(pid, started):
    """Record every live descendant of the demo; return the roles seen among them."""
    roles = set()
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return roles
    for child in children:
        try:
            started.setdefault(child.pid, child.create_time())
            roles.add(_role(child.cmdline()))
        except psutil.NoSuchProcess:
            continue
    return roles


def _role(cmdline):
    if any(part.endswith("/label-studio") for part in cmdline):
        return "label-studio"
    if "plugin.cli" in cmdline:
        return "serve" if cmdline[-1] == "serve" else "worker" if "worker" in cmdline else "other"
    return "gunicorn" if "gunicorn" in cmdline else "other"


def _alive(pid, created):
    try:
        process = psutil.Process(pid)
        return process.create_time() == created and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
