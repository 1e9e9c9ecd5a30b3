"""Receiver benchmark: acknowledgement throughput and latency against same-run baselines.

    .venv/bin/python bench/bench_receiver.py [--duration 10] [--rounds 3]

Needs `wrk` (Debian: apt-get install wrk). Starts, in turn, three servers and loads each with real
ANNOTATION_CREATED bodies at concurrency 16 and 64, alternating rounds because these machines are
noisy, and reports the ratio of each round to the baseline's round next to it:
- baseline: bench/baseline_app.py (Flask + one SQLite INSERT per request), served the same way as
  the service (gunicorn gthread, the service's default processes and threads);
- reference: the same app on gunicorn's sync workers x 2, the configuration of the reference
  figures in shared/PERFORMANCE.md (where the issue's absolute goals come from);
- lsqa: the real service (`lsqa serve`: gunicorn plus the worker, which processes events meanwhile).
Also reports the CPU time the gunicorn processes spent per request, which varies much less than
throughput when other work shares the machine. Then times the acknowledgement of a 5,000-task
TASKS_CREATED body, and how fast the worker works off the backlog a load left behind.
Prints a table and writes bench/results/receiver.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
PAYLOADS = ROOT / "tests" / "payloads"
SECRET = "bench-secret-0123456789"
sys.path.insert(0, str(ROOT))

from plugin.serve import gunicorn_command  # noqa: E402
from plugin.settings import SETTINGS, load_settings  # noqa: E402

DEFAULTS = {s.key: s.default for s in SETTINGS}
KINDS = ("baseline", "reference", "lsqa")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def realistic_body() -> dict:
    """A real ANNOTATION_CREATED body, padded back to the size of an untrimmed one (~3 KB)."""
    body = json.loads((PAYLOADS / "ANNOTATION_CREATED.json").read_text())
    body.pop("_captured_headers"), body.pop("_body_bytes")
    body["project"].pop("\u2026")
    body["project"].update(
        token="0123456789abcdef0123456789abcdef01234567",
        label_config='<View><Text name="text" value="$text"/><Choices name="label" toName="text">'
        '<Choice value="pos"/><Choice value="neg"/></Choices></View>',
        description="",
        expert_instruction="",
        show_instruction=False,
        show_skip_button=True,
        enable_empty_annotation=True,
        reveal_preannotations_interactively=False,
        show_annotation_history=False,
        show_collab_predictions=True,
        evaluate_predictions_automatically=False,
        model_version="",
        is_draft=False,
        is_published=False,
        min_annotations_to_start_training=0,
        start_training_on_annotation_update=False,
        show_ground_truth_first=False,
        overlap_cohort_percentage=100,
        task_data_login=None,
        task_data_password=None,
        control_weights={"label": {"overall": 1.0, "type": "Choices", "labels": {"pos": 1.0, "neg": 1.0}}},
        parsed_label_config={
            "label": {
                "type": "Choices",
                "to_name": ["text"],
                "inputs": [{"type": "Text", "value": "text"}],
                "labels": ["pos", "neg"],
                "labels_attrs": {"pos": {"value": "pos"}, "neg": {"value": "neg"}},
            }
        },
        color="#FFFFFF",
        pinned_at=None,
        skip_queue="REQUEUE_FOR_OTHERS",
        queue_total=9,
        queue_done=4,
    )
    return body


def wrk_template(path: Path, nonce: str) -> None:
    text = json.dumps(realistic_body())
    text = text.replace('"id": 5,', '"id": __UNIQUE__,', 1)
    text = text.replace(
        '"unique_id": "ae39411d-01d1-4b35-bb57-c815d5b73634"', f'"unique_id": "{nonce}-__UNIQUE__"'
    )
    assert "__UNIQUE__" in text
    path.write_text(text)


def wait_up(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


class Service:
    """One server under test, started in its own process group."""

    def __init__(
        self,
        kind: str,
        workdir: Path,
        *,
        synchronous: str = "FULL",
        worker: bool = True,
        threads: int = DEFAULTS["server.threads"],
        workers: int = DEFAULTS["server.workers"],
    ) -> None:
        self.kind, self.workdir, self.port = kind, workdir, free_port()
        self.synchronous, self.worker, self.threads, self.workers = synchronous, worker, threads, workers
        self.url = f"http://127.0.0.1:{self.port}/webhooks/label-studio"

    def __enter__(self) -> Service:
        config = self.workdir / f"{self.kind}.yaml"
        self.db = db = self.workdir / f"{self.kind}-{time.monotonic_ns()}.db"
        config.write_text(
            f"label_studio:\n  url: http://127.0.0.1:1\n  api_key: unused\n"
            f"webhook:\n  secret: {SECRET}\n"
            f"database:\n  url: sqlite:///{db}\n  sqlite_synchronous: {self.synchronous}\n"
            f"server:\n  port: {self.port}\n  threads: {self.threads}\n  workers: {self.workers}\n"
            f"worker:\n  sync_interval: 0\n  enabled: {str(self.worker).lower()}\n"
            f"logging:\n  level: WARNING\n"
        )
        env = dict(
            os.environ, BASELINE_DB=str(db), BASELINE_SYNCHRONOUS=self.synchronous, PYTHONPATH=str(ROOT)
        )
        if self.kind == "baseline":
            command = gunicorn_command(load_settings(config, env={}))
            command[-1] = "bench.baseline_app:app"
        elif self.kind == "reference":
            command = [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{self.port}"]
            command += ["--log-level", "warning", "bench.baseline_app:app"]
        else:
            command = [sys.executable, "-m", "plugin.cli", "--config", str(config), "serve"]
        self.proc = subprocess.Popen(
            command,
            env=env,
            cwd=ROOT,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_up(f"http://127.0.0.1:{self.port}/")
        return self

    def server_cpu_seconds(self) -> float:
        """CPU time used so far by the gunicorn processes (not by our worker process)."""
        total = 0.0
        for proc in [psutil.Process(self.proc.pid), *psutil.Process(self.proc.pid).children(recursive=True)]:
            try:
                if any("gunicorn" in part for part in proc.cmdline()):
                    times = proc.cpu_times()
                    total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return total

    def __exit__(self, *_exc: object) -> None:
        os.killpg(self.proc.pid, 15)
        self.proc.wait(timeout=30)


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def run_wrk(url: str, connections: int, duration: int, template: Path) -> dict:
    env = dict(os.environ, BENCH_BODY=str(template), BENCH_SECRET=SECRET)
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(Path(__file__).with_name("post.lua")),
            url,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    latency = {p: float(v) * UNITS[u] for p, v, u in found}
    if set(latency) != {"50", "99"}:
        raise RuntimeError(f"cannot read wrk's latency distribution:\n{out}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),
        "p50_ms": latency["50"],
        "p99_ms": latency["99"],
        "non_2xx": int(errors[1]) if errors else 0,
    }


def tasks_created_body(n: int = 5000) -> bytes:
    body = json.loads((PAYLOADS / "TASKS_CREATED.json").read_text())
    body.pop("_captured_headers", None), body.pop("_body_bytes", None)
    task = body["tasks"][0]
    tasks = []
    for i in range(n):
        t = dict(task, id=100000 + i, inner_id=i + 1)
        t["data"] = {"text": f"short review text number {i} about a product"}
        tasks.append(t)
    body["tasks"] = tasks
    return json.dumps(body).encode()


def time_big_body(url: str, repeats: int = 7) -> dict:
    template = tasks_created_body()
    times = []
    for i in range(repeats):
        payload = template.replace(b'"inner_id": 1,', f'"inner_id": 1, "nonce": {i},'.encode(), 1)
        start = time.perf_counter()
        response = requests.post(
            url,
            data=payload,
            headers={"Content-Type": "application/json", "X-LSQA-Secret": SECRET},
            timeout=30,
        )
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.text
    return {"bytes": len(template), "median_ms": statistics.median(times), "max_ms": max(times)}


def drain_rate(service: Service, template: Path, seconds: int) -> dict:
    """Load the service for ``seconds``, then time how long its worker takes to process what is left."""
    run_wrk(service.url, 16, seconds, template)
    health = service.url.replace("/webhooks/label-studio", "/healthz")
    start = time.perf_counter()
    left = requests.get(health, timeout=10).json()["inbox_pending"]
    pending = left
    while pending:
        time.sleep(0.5)
        pending = requests.get(health, timeout=10).json()["inbox_pending"]
    elapsed = time.perf_counter() - start
    return {"backlog": left, "seconds": elapsed, "events_per_s": left / elapsed if left else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--synchronous", default="FULL", help="SQLite synchronous mode for all servers")
    parser.add_argument("--no-worker", action="store_true", help="measure the receiver alone")
    parser.add_argument("--threads", type=int, default=DEFAULTS["server.threads"], help="gunicorn threads")
    parser.add_argument("--workers", type=int, default=DEFAULTS["server.workers"], help="gunicorn processes")
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 64])
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    results: dict[str, Any] = {"settings": vars(args)}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for connections in args.connections:
            runs: dict[str, list[dict]] = {kind: [] for kind in KINDS}
            for round_no in range(args.rounds):
                for kind in KINDS:
                    template = workdir / "body.json"
                    wrk_template(template, f"{kind}-{connections}-{round_no}")
                    with Service(
                        kind,
                        workdir,
                        synchronous=args.synchronous,
                        worker=not args.no_worker,
                        threads=args.threads,
                        workers=args.workers,
                    ) as service:
                        run_wrk(service.url, connections, 2, template)  # warm-up
                        cpu = service.server_cpu_seconds()
                        run = run_wrk(service.url, connections, args.duration, template)
                        cpu = service.server_cpu_seconds() - cpu
                        run["cpu_ms_per_request"] = cpu * 1000 / (run["rps"] * args.duration)
                        runs[kind].append(run)
            for kind, rs in runs.items():
                results[f"{kind}_c{connections}"] = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
            # Rounds ran back to back, so each round's ratio compares like with like.
            for other in ("baseline", "reference"):
                results[f"ratio_{other}_c{connections}"] = statistics.median(
                    ours["rps"] / base["rps"] for ours, base in zip(runs["lsqa"], runs[other], strict=True)
                )
            results[f"rounds_c{connections}"] = runs
        with Service("lsqa", workdir, synchronous=args.synchronous) as service:
            results["tasks_created_5000"] = time_big_body(service.url)
            if not args.no_worker:
                template = workdir / "body.json"
                wrk_template(template, "drain")
                results["worker_drain"] = drain_rate(service, template, 5)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "receiver.json").write_text(json.dumps(results, indent=2))
    print(
        f"{'run':<15}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}{'CPU ms/req':>12}"
        f"{'vs baseline':>13}{'vs reference':>14}"
    )
    for connections in args.connections:
        for kind in KINDS:
            r = results[f"{kind}_c{connections}"]
            ratios = ""
            if kind == "lsqa":
                ratios = "".join(
                    f"{results[f'ratio_{other}_c{connections}']:>{width}.2f}"
                    for other, width in (("baseline", 13), ("reference", 14))
                )
            print(
                f"{kind + f' c{connections}':<15}{r['rps']:>9.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
                f"{r['non_2xx']:>9.0f}{r['cpu_ms_per_request']:>12.2f}{ratios}"
            )
    print("(medians over rounds; ratios: median of the per-round req/s ratios)")
    big = results["tasks_created_5000"]
    print(
        f"TASKS_CREATED 5,000 tasks ({big['bytes'] / 1e6:.1f} MB): "
        f"median {big['median_ms']:.0f} ms, max {big['max_ms']:.0f} ms"
    )
    if "worker_drain" in results:
        drain = results["worker_drain"]
        rate = f"{drain['events_per_s']:.0f} events/s" if drain["events_per_s"] else "nothing left"
        print(
            f"worker: {drain['backlog']} events left after a 5 s load at c16, "
            f"processed in {drain['seconds']:.1f} s ({rate})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
