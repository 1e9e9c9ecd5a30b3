"""Label Studio calls per hidden gold copy, by organization size, on a real Label Studio.

    .venv/bin/python bench/bench_gold_calls.py [--sizes 10,50,200] [--copies 4]

Starts a real Label Studio (the test harness, cached install) and grows its organization to each
size in turn. People join through the invite sign-up; the admin's ``POST /api/users/`` makes a user
who cannot log in but whom Label Studio 1.23.2 lists as a member and accepts as an annotation's
``completed_by``, which is all a helper skip needs, for a fraction of the time (both are measured first
and printed; ``--join signup`` grows by sign-up instead). For each size it makes ``--copies``
copies for one annotator, each created and, once "answered", deleted, two ways in the same run:

* today's route before this change: ``POST /api/tasks/``, the member list, one helper skip per other
  member, ``PATCH`` overlap, ``DELETE`` (the calls of the old injector, replayed here as the baseline);
* the service's route: the real ``GoldInjector`` jobs on a scratch store (one import carrying the copy
  and every helper skip, one ``PATCH``, one ``DELETE``, the member list cached).

Every HTTP request the service's adapter sends is counted at its HTTP client (token refreshes
included). No webhook is registered, so times are Label Studio's own. Prints a table and writes
bench/results/gold_calls.json. Figures are reported, not asserted.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from lsharness import LabelStudioServer  # noqa: E402
from lsharness._http import signup_session  # noqa: E402
from sqlalchemy import select  # noqa: E402

from plugin.gold.injector import GoldInjector  # noqa: E402
from plugin.jobs import enqueue_job, finish_job, run_due_jobs  # noqa: E402
from plugin.labelstudio import LabelStudioAdapter  # noqa: E402
from plugin.store import Store  # noqa: E402
from plugin.store.schema import annotator_states, gold_copies, gold_items  # noqa: E402

LABEL_CONFIG = """<View><Text name="text" value="$text"/>
<Choices name="c" toName="text"><Choice value="a"/><Choice value="b"/></Choices></View>"""
RESULT = [{"from_name": "c", "to_name": "text", "type": "choices", "value": {"choices": ["a"]}}]


class CountingAdapter(LabelStudioAdapter):
    """The service's adapter, counting every HTTP request its client sends."""

    def __init__(self, url: str, api_key: str) -> None:
        super().__init__(url, api_key, timeout=120.0)  # 200 members' list is slow on a busy machine
        self.requests: list[str] = []
        self._http.event_hooks = {"request": [self._count], "response": []}

    def _count(self, request: Any) -> None:
        path = "/".join("{id}" if part.isdigit() else part for part in request.url.path.split("/"))
        self.requests.append(f"{request.method} {path}")


def todays_route(adapter: LabelStudioAdapter, project_id: int, data: dict, target: int, me: int) -> None:
    """One copy as the injector made it before this change (create, block one by one, raise, delete)."""
    task_id = int(adapter.create_task(project_id, data)["id"])
    others = sorted(int(u["id"]) for u in adapter.list_users() if int(u["id"]) not in (target, me))
    for user_id in others:
        adapter.create_annotation(task_id, result=[], completed_by=user_id, was_cancelled=True)
    adapter.update_task(task_id, overlap=2)
    adapter.delete_task(task_id)


class Organization:
    """Grows the server's organization through the invite link, as people join."""

    def __init__(self, ls: LabelStudioServer) -> None:
        self.ls = ls
        self.invite = str(ls.api.json("GET", "/api/invite")["token"])

    def size(self) -> int:
        return len(self.ls.api.json("GET", "/api/users/"))

    def sign_up(self) -> float:
        start = time.perf_counter()
        email = f"member-{secrets.token_hex(4)}@lsqa.test"
        signup_session(self.ls.url, self.invite, email, secrets.token_urlsafe(12)).close()
        return time.perf_counter() - start

    def add_by_api(self) -> float:
        start = time.perf_counter()
        email = f"api-{secrets.token_hex(4)}@lsqa.test"
        self.ls.api.json("POST", "/api/users/", json={"email": email, "username": email, "first_name": "x"})
        return time.perf_counter() - start

    def grow_to(self, size: int, how: str) -> None:
        while self.size() < size:
            for _ in range(size - self.size()):
                self.sign_up() if how == "signup" else self.add_by_api()

    def measure_joining(self, n: int = 3) -> dict[str, Any]:
        """Seconds per member by sign-up and by the admin API, and whether the latter makes a member."""
        signup = [self.sign_up() for _ in range(n)]
        before = self.size()
        api = [self.add_by_api() for _ in range(n)]
        return {
            "signup_seconds": statistics.median(signup),
            "api_seconds": statistics.median(api),
            "api_users_listed_as_members": self.size() == before + n,
        }


def scratch_store(directory: str, project_id: int, target: int, items: int) -> Store:
    store = Store(f"sqlite:///{directory}/bench.sqlite3")
    store.migrate()
    now = datetime.now(UTC)
    with store.begin() as conn:
        for i in range(items):
            conn.execute(
                gold_items.insert().values(
                    project_id=project_id, data={"text": f"gold {i}"}, expert_result=RESULT, classes=["a"],
                    origin="cli", created_at=now, updated_at=now,
                )
            )  # fmt: skip
        conn.execute(
            annotator_states.insert().values(
                project_id=project_id, annotator_id=target, status="ok", onboarding_left=0, quiz_left=0,
                updated_at=now,
            )
        )  # fmt: skip
    return store


def service_route(
    store: Store, adapter: CountingAdapter, project_id: int, target: int, copies: int, tag: str
):
    """Copies made and deleted by the real injector's jobs; (calls, seconds) per copy."""
    injector = GoldInjector(store, lambda: adapter, low_library_items=0)
    handlers = {**injector.handlers(), "send_alert": lambda job: _finish(store, job)}
    figures = []
    for n in range(copies):
        mark, start = len(adapter.requests), time.perf_counter()
        payload = {"project_id": project_id, "annotator_id": target, "purpose": "regular"}
        with store.begin() as conn:
            enqueue_job(conn, "create_copy", f"bench:{tag}:{n}", payload, project_id=project_id)
        run_due_jobs(store, handlers)
        with store.read() as conn:
            columns = (gold_copies.c.id, gold_copies.c.task_id, gold_copies.c.state)
            newest = select(*columns).order_by(gold_copies.c.id.desc()).limit(1)
            copy_id, task_id, state = conn.execute(newest).one()
        assert state == "live", f"copy {copy_id} is {state}"
        with store.begin() as conn:
            conn.execute(gold_copies.update().where(gold_copies.c.id == copy_id).values(state="answered"))
            enqueue_job(
                conn, "delete_copy", f"bench:{tag}:delete:{n}", {"copy_id": copy_id}, project_id=project_id
            )
        run_due_jobs(store, handlers)
        figures.append((adapter.requests[mark:], time.perf_counter() - start, task_id))
    return figures


def _finish(store: Store, job: Any) -> None:
    with store.begin() as conn:
        finish_job(conn, job.id)


def check_copy_shape(
    ls: LabelStudioServer, adapter: LabelStudioAdapter, project_id: int, target: int
) -> dict:
    """What Label Studio holds for one copy made by the service's route (read before it is deleted)."""
    members = {int(u["id"]) for u in adapter.list_users()}
    me = int(adapter.whoami()["id"])
    others = sorted(members - {target, me})
    task_id = adapter.import_task_skipped_by(project_id, {"text": "shape check"}, others)
    adapter.update_task(task_id, overlap=2, is_labeled=False)
    task = ls.api.json("GET", f"/api/tasks/{task_id}/")
    annotations = task.get("annotations") or []
    shape = {
        "task_id": task_id,
        "overlap": task["overlap"],
        "is_labeled": task["is_labeled"],
        "skips": len(annotations),
        "all_cancelled": all(a["was_cancelled"] for a in annotations),
        "none_ground_truth": not any(a["ground_truth"] for a in annotations),
        "blocked_exactly_the_others": sorted(_user_id(a["completed_by"]) for a in annotations) == others,
    }
    adapter.delete_task(task_id)
    return shape


def _user_id(value: Any) -> int:
    return int(value["id"]) if isinstance(value, dict) else int(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50,200", help="organization sizes (members, admin included)")
    parser.add_argument("--copies", type=int, default=4, help="copies per route and size")
    parser.add_argument("--join", choices=("api", "signup"), default="api", help="how members are added")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    rows = []
    with LabelStudioServer() as ls, tempfile.TemporaryDirectory() as tmp:
        project_id = ls.create_project("gold calls", LABEL_CONFIG, show_overlap_first=True)
        ls.import_tasks(project_id, [{"text": f"real {i}"} for i in range(10)])
        target = ls.create_annotator()
        org = Organization(ls)
        joining = org.measure_joining()
        print(
            f"joining: sign-up {joining['signup_seconds']:.2f} s per member; POST /api/users/ "
            f"{joining['api_seconds']:.2f} s, listed as members: {joining['api_users_listed_as_members']}"
        )
        store = scratch_store(tmp, project_id, target.id, items=len(sizes) * args.copies + 5)
        baseline_adapter = CountingAdapter(ls.url, ls.admin_pat)
        me = int(baseline_adapter.whoami()["id"])
        for size in sizes:
            start = time.perf_counter()
            org.grow_to(size, args.join)
            grown = time.perf_counter() - start
            members = org.size()
            adapter = CountingAdapter(ls.url, ls.admin_pat)
            shape = check_copy_shape(ls, adapter, project_id, target.id)
            old = []
            for _ in range(args.copies):
                mark, t0 = len(baseline_adapter.requests), time.perf_counter()
                todays_route(baseline_adapter, project_id, {"text": "baseline copy"}, target.id, me)
                old.append((baseline_adapter.requests[mark:], time.perf_counter() - t0))
            new = service_route(store, adapter, project_id, target.id, args.copies, str(size))
            rows.append(_row(members, grown, old, new, shape))
            _print_row(rows[-1])
            _write({"joining": joining, "sizes": rows})  # after each size: a long run keeps what it measured


def _write(figures: dict[str, Any]) -> None:
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "gold_calls.json").write_text(json.dumps(figures, indent=2))
    print(f"written to {out / 'gold_calls.json'}")


def _row(members: int, grown: float, old: list, new: list, shape: dict) -> dict[str, Any]:
    new_calls = [len(calls) for calls, _, _ in new]
    return {
        "members": members,
        "seconds_to_grow": round(grown, 1),
        "todays_calls_per_copy": statistics.mean(len(calls) for calls, _ in old),
        "todays_seconds_per_copy": round(statistics.median(s for _, s in old), 3),
        "service_calls_first_copy": new_calls[0],
        "service_calls_per_later_copy": statistics.mean(new_calls[1:]) if len(new_calls) > 1 else None,
        "service_seconds_per_copy": round(statistics.median(s for _, s, _ in new), 3),
        "service_first_copy_calls": dict(Counter(new[0][0])),
        "service_later_copy_calls": dict(Counter(new[-1][0])),
        "copy_shape": shape,
    }


def _print_row(row: dict[str, Any]) -> None:
    print(
        f"{row['members']:>4} members: today {row['todays_calls_per_copy']:.0f} calls/copy "
        f"({row['todays_seconds_per_copy']:.2f} s); service {row['service_calls_first_copy']} calls for the "
        f"first copy, {row['service_calls_per_later_copy']} per later copy "
        f"({row['service_seconds_per_copy']:.2f} s); later copy: {row['service_later_copy_calls']}"
    )
    print(f"      copy as imported: {row['copy_shape']}")


if __name__ == "__main__":
    main()
