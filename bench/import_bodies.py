"""What Label Studio sends for one big import: how many TASKS_CREATED bodies, their sizes, their task
ids and ``created_at`` spread (docs/agreement-at-scale.md). Real Label Studio through tests/lsharness.

    .venv/bin/python bench/import_bodies.py --tasks 100000
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from lsharness import LabelStudioServer  # noqa: E402
from lsharness.capture import WebhookCapture  # noqa: E402

LABEL_CONFIG = """<View><Text name="text" value="$text"/>
<Choices name="c" toName="text"><Choice value="a"/><Choice value="b"/></Choices></View>"""


def measure(n_tasks: int) -> dict:
    with LabelStudioServer() as ls, WebhookCapture() as hook:
        project_id = ls.create_project("big import", LABEL_CONFIG)
        ls.admin.webhooks.create(
            url=hook.url, project=project_id, send_payload=True, send_for_all_actions=False,
            actions=["TASKS_CREATED"],
        )  # fmt: skip
        tasks = [{"text": f"frame {i} of the shelf scan, site {i % 6}"} for i in range(n_tasks)]
        request_bytes = len(json.dumps(tasks).encode())
        started = time.monotonic()
        ls.api.json("POST", f"/api/projects/{project_id}/import", json=tasks, timeout=3600)
        import_seconds = time.monotonic() - started
        bodies = []
        for request in hook.of_action("TASKS_CREATED"):
            payload = request.json()
            ids = [t["id"] for t in payload["tasks"]]
            created = sorted(t["created_at"] for t in payload["tasks"])
            bodies.append({
                "bytes": len(request.body), "tasks": len(ids), "first_id": min(ids), "last_id": max(ids),
                "first_created_at": created[0], "last_created_at": created[-1],
                "received_after_s": round(request.received_at - hook.requests[0].received_at, 2),
            })  # fmt: skip
        return {
            "tasks": n_tasks, "request_bytes": request_bytes, "import_seconds": round(import_seconds, 1),
            "bodies": bodies,
        }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    print(json.dumps(measure(parser.parse_args().tasks), indent=1))


if __name__ == "__main__":
    main()
