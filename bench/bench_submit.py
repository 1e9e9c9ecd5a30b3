"""What our webhook adds to an annotator's submit in a real Label Studio.

    .venv/bin/python bench/bench_submit.py [--submits 40] [--rounds 3]

Label Studio calls webhooks synchronously inside the submit request (shared/label-studio-notes.md
§1), so the receiver's acknowledgement time is added to every annotator's submit. This starts a real
Label Studio (the test harness, cached install), one annotator, and two receivers served the same
way: a trivial 200-OK app (bench/trivial_app.py) and `lsqa serve`. The project's webhook is pointed
at one, then the other, in alternating rounds; each submit goes through the UI's calls (next task,
then submit), and only the submit is timed. Prints medians and writes bench/results/submit.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import requests  # noqa: E402
from lsharness import LabelStudioServer  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bench.bench_receiver import SECRET, Service, free_port, realistic_body, wait_up  # noqa: E402
from plugin.serve import gunicorn_command  # noqa: E402
from plugin.settings import load_settings  # noqa: E402
from plugin.store import Store  # noqa: E402
from plugin.store.schema import inbox  # noqa: E402

LABEL_CONFIG = """<View><Text name="text" value="$text"/>
<Choices name="sentiment" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices></View>"""
RESULT = [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["pos"]}}]


class Trivial:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/webhooks/label-studio"

    def __enter__(self) -> Trivial:
        env = {"LABEL_STUDIO_URL": "http://x", "LABEL_STUDIO_API_KEY": "k", "LSQA_WEBHOOK_SECRET": SECRET}
        settings = load_settings(None, env=env)
        command = gunicorn_command(settings)
        command[command.index("--bind") + 1] = f"127.0.0.1:{self.port}"
        command[-1] = "bench.trivial_app:app"
        self.proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_up(f"http://127.0.0.1:{self.port}/")
        return self

    def __exit__(self, *_exc: object) -> None:
        os.killpg(self.proc.pid, 15)
        self.proc.wait(timeout=30)


def timed_submits(annotator, project_id: int, count: int) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(count):
        task = annotator.next_task(project_id)
        assert task is not None, "ran out of tasks"
        start = time.perf_counter()
        annotator.submit(task["id"], RESULT, project_id=project_id)
        times.append((time.perf_counter() - start) * 1000)
    return times


def time_acknowledgements(urls: dict[str, str], count: int = 300) -> dict[str, list[float]]:
    """The part of a submit our receiver controls, without Label Studio's noise: one POST of a real
    body on a new connection (as Label Studio sends them), alternating between the receivers."""
    body = realistic_body()
    times: dict[str, list[float]] = {name: [] for name in urls}
    headers = {"X-LSQA-Secret": SECRET, "Content-Type": "application/json"}
    for i in range(count):
        body["annotation"]["id"] = 900_000 + i
        data = json.dumps(body)
        for name, url in urls.items():
            start = time.perf_counter()
            response = requests.post(url, data=data, headers=headers, timeout=5)
            times[name].append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, response.text
    return times


def wait_for_events(service: Service, expected: int, timeout: float = 30.0) -> int:
    store = Store(f"sqlite:///{service.db}")
    query = select(func.count()).where(inbox.c.action == "ANNOTATION_CREATED")
    deadline = time.monotonic() + timeout
    try:
        while True:
            with store.inbox_read() as conn:
                received = conn.execute(query).scalar_one()
            if received >= expected or time.monotonic() > deadline:
                return received
            time.sleep(0.2)
    finally:
        store.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--submits", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    samples: dict[str, list[float]] = {"no webhook": [], "trivial": [], "lsqa": []}
    with (
        LabelStudioServer() as ls,
        tempfile.TemporaryDirectory() as tmp,
        Trivial() as trivial,
        Service("lsqa", Path(tmp)) as ours,
    ):
        project_id = ls.create_project("submit latency", LABEL_CONFIG)
        ls.import_tasks(project_id, [{"text": f"t{i}"} for i in range(args.submits * args.rounds * 3 + 10)])
        annotator = ls.create_annotator()
        hook = ls.admin.webhooks.create(
            url=trivial.url,
            project=project_id,
            headers={"X-LSQA-Secret": SECRET},
            send_payload=True,
            send_for_all_actions=False,
            actions=["ANNOTATION_CREATED"],
            is_active=False,
        )
        timed_submits(annotator, project_id, 5)  # warm-up
        for _ in range(args.rounds):
            for name, url in (("no webhook", None), ("trivial", trivial.url), ("lsqa", ours.url)):
                # The SDK's update sends an empty action list unless given one, which turns the hook off.
                ls.admin.webhooks.update(
                    hook.id, url=url or trivial.url, is_active=url is not None, actions=["ANNOTATION_CREATED"]
                )
                samples[name] += timed_submits(annotator, project_id, args.submits)
        # Label Studio really called us for every timed submit (the hook was on, and pointed at us).
        received = wait_for_events(ours, args.submits * args.rounds)
        assert received == args.submits * args.rounds, f"lsqa received {received} events"
        acks = time_acknowledgements({"trivial": trivial.url, "lsqa": ours.url})
    results = {
        name: {"median_ms": statistics.median(v), "p90_ms": statistics.quantiles(v, n=10)[-1], "n": len(v)}
        for name, v in samples.items()
    }
    results["added_by_lsqa_ms"] = results["lsqa"]["median_ms"] - results["trivial"]["median_ms"]
    ack = results["acknowledgement"] = {name: statistics.median(v) for name, v in acks.items()}
    results["ack_added_by_lsqa_ms"] = ack["lsqa"] - ack["trivial"]
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "submit.json").write_text(json.dumps(results, indent=2))
    for name in samples:
        r = results[name]
        print(f"{name:<12} median {r['median_ms']:6.1f} ms   p90 {r['p90_ms']:6.1f} ms   (n={r['n']})")
    print(f"lsqa adds {results['added_by_lsqa_ms']:+.1f} ms to the median submit (goal <= 5 ms)")
    ack = results["acknowledgement"]
    print(
        f"acknowledgement alone (300 POSTs each, new connections): trivial {ack['trivial']:.2f} ms, "
        f"lsqa {ack['lsqa']:.2f} ms median: {results['ack_added_by_lsqa_ms']:+.2f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
