"""Receiver benchmark: acknowledgement throughput and latency against a same-run baseline.

    .venv/bin/python bench/bench_receiver.py [--duration 10] [--rounds 3]

Needs `wrk` (Debian: apt-get install wrk). Starts, in turn, the baseline (bench/baseline_app.py:
Flask + one SQLite INSERT per request) and the real service (`lsqa serve`: gunicorn gthread plus the
worker), both with the same gunicorn settings, and loads each with real ANNOTATION_CREATED bodies at
concurrency 16 and 64, alternating rounds because these machines are noisy, and reports the ratio
of each pair of rounds. Also reports the CPU time the gunicorn processes spent per request, which
varies much less than throughput when other work shares the machine. Then times the
acknowledgement of a 5,000-task TASKS_CREATED body. Prints a table and writes bench/results/receiver.json.
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
from plugin.settings import load_settings  # noqa: E402


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
        self, kind: str, workdir: Path, *, synchronous: str = "FULL", worker: bool = True, threads: int = 16
    ) -> None:
        self.kind, self.workdir, self.port = kind, workdir, free_port()
        self.synchronous, self.worker, self.threads = synchronous, worker, threads
        self.url = f"http://127.0.0.1:{self.port}/webhooks/label-studio"

    def __enter__(self) -> Service:
        config = self.workdir / f"{self.kind}.yaml"
        db = self.workdir / f"{self.kind}-{time.monotonic_ns()}.db"
        config.write_text(
            f"label_studio:\n  url: http://127.0.0.1:1\n  api_key: unused\n"
            f"webhook:\n  secret: {SECRET}\n"
            f"database:\n  url: sqlite:///{db}\n  sqlite_synchronous: {self.synchronous}\n"
            f"server:\n  port: {self.port}\n  threads: {self.threads}\n"
            f"worker:\n  sync_interval: 0\n  enabled: {str(self.worker).lower()}\n"
            f"logging:\n  level: WARNING\n"
        )
        env = dict(
            os.environ, BASELINE_DB=str(db), BASELINE_SYNCHRONOUS=self.synchronous, PYTHONPATH=str(ROOT)
        )
        if self.kind == "baseline":
            command = gunicorn_command(load_settings(config, env={}))
            command[-1] = "bench.baseline_app:app"
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--synchronous", default="FULL", help="SQLite synchronous mode for both servers")
    parser.add_argument("--no-worker", action="store_true", help="measure the receiver alone")
    parser.add_argument("--threads", type=int, default=16, help="gunicorn threads for both servers")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for connections in (16, 64):
            runs: dict[str, list[dict]] = {"baseline": [], "lsqa": []}
            for round_no in range(args.rounds):
                for kind in ("baseline", "lsqa"):
                    template = workdir / "body.json"
                    wrk_template(template, f"{kind}-{connections}-{round_no}")
                    with Service(
                        kind,
                        workdir,
                        synchronous=args.synchronous,
                        worker=not args.no_worker,
                        threads=args.threads,
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
            results[f"ratio_c{connections}"] = statistics.median(
                ours["rps"] / base["rps"] for ours, base in zip(runs["lsqa"], runs["baseline"], strict=True)
            )
            results[f"rounds_c{connections}"] = runs
        with Service("lsqa", workdir, synchronous=args.synchronous) as service:
            results["tasks_created_5000"] = time_big_body(service.url)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "receiver.json").write_text(json.dumps(results, indent=2))
    print(f"{'run':<14}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>9}{'CPU ms/req':>12}{'ratio':>8}")
    for connections in (16, 64):
        for kind in ("baseline", "lsqa"):
            r = results[f"{kind}_c{connections}"]
            label = f"{kind} c{connections}"
            ratio = f"{results[f'ratio_c{connections}']:>8.2f}" if kind == "lsqa" else ""
            print(
                f"{label:<14}{r['rps']:>10.0f}{r['p50_ms']:>10.2f}{r['p99_ms']:>10.2f}"
                f"{r['non_2xx']:>9.0f}{r['cpu_ms_per_request']:>12.2f}{ratio}"
            )
    print("(medians over rounds; ratio: median of the per-round req/s ratios, lsqa / baseline)")
    big = results["tasks_created_5000"]
    print(
        f"TASKS_CREATED 5,000 tasks ({big['bytes'] / 1e6:.1f} MB): "
        f"median {big['median_ms']:.0f} ms, max {big['max_ms']:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
