"""The demo's pure parts: settings file, demo data, simulated choices, progress lines, the loop."""

import io
import random
import socket
import stat
import threading
from collections import Counter

import pytest
from scipy.stats import binomtest, chisquare

from plugin.cli import main
from plugin.demo import content
from plugin.demo.config import DemoSecrets, optional_settings, service_settings, write_config
from plugin.demo.progress import Progress, format_progress
from plugin.demo.simulate import PROFILES, Pace, Profile, Tally, cast, choose_label, work
from plugin.gold.library import read_export
from plugin.labelconfig import parse_label_config
from plugin.settings import SETTINGS, load_settings

SECRETS = DemoSecrets("w" * 24, "a" * 24, "d" * 12, "s" * 40)


def _settings(**kwargs):
    return service_settings(
        label_studio_url="http://127.0.0.1:8080",
        api_key="pat",
        database_url="sqlite:///x.db",
        port=8799,
        secrets=SECRETS,
        **kwargs,
    )


def test_demo_config_is_a_valid_settings_file(tmp_path):
    path = write_config(tmp_path / "lsqa.yaml", _settings())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds the tokens
    loaded = load_settings(path, env={})
    for key, value in _settings().items():
        assert loaded[key] == value, key
    assert loaded["gold.rate"] > next(s.default for s in SETTINGS if s.key == "gold.rate")


def test_demo_config_leaves_the_relabel_loop_to_the_worker_schedule_on_a_short_interval(tmp_path):
    """The demo runs no push of its own: its service's worker pushes every 30 s (plugin.relabel.schedule)."""
    loaded = load_settings(write_config(tmp_path / "lsqa.yaml", _settings()), env={})
    default = next(s.default for s in SETTINGS if s.key == "relabel.push_interval")
    assert loaded["relabel.push_interval"] == 30 < default


def test_demo_config_writes_feature_settings_only_when_declared():
    optional = optional_settings(SECRETS)
    known = {s.key for s in SETTINGS}
    written = _settings()
    assert {k for k in optional if k in written} == {k for k in optional if k in known}
    everything = _settings(known_keys=known | set(optional))
    assert {k: everything[k] for k in optional} == optional
    assert not set(_settings(known_keys=known)) & (set(optional) - known)


def test_demo_data_is_balanced_unique_and_reproducible():
    tasks, gold = content.make_demo_data(120, 40, seed=3)
    for items in (tasks, gold):
        shares = Counter(content.CLASS_CYCLE)
        assert Counter(t.truth for t in items) == {
            c: len(items) * shares[c] // len(content.CLASS_CYCLE) for c in content.CLASSES
        }
    texts = [t.text for t in tasks + gold]
    assert len(set(texts)) == len(texts)
    assert content.make_demo_data(120, 40, seed=3) == (tasks, gold)
    assert content.make_demo_data(120, 40, seed=4) != (tasks, gold)


def test_demo_gold_export_is_what_gold_import_reads():
    _, gold = content.make_demo_data(4, 20)
    drafts = read_export(content.gold_export(gold), config=parse_label_config(content.LABEL_CONFIG)).drafts
    assert [(d.data["text"], d.classes) for d in drafts] == [(g.text, (g.truth,)) for g in gold]
    assert all(d.source_task_id is None for d in drafts)  # not tasks of the demo project


def test_choose_label_systematic_confusion_is_total():
    bad = next(p for p in PROFILES if p.confuses)
    wrong, right = bad.confuses
    rng = random.Random(1)
    assert {choose_label(bad, wrong, rng) for _ in range(500)} == {right}


def test_choose_label_random_slips_match_the_error_rate():
    person = Profile("x", 0.1)
    rng = random.Random(2)
    n = 8000
    answers = [choose_label(person, "bug", rng) for _ in range(n)]
    slips = [a for a in answers if a != "bug"]
    assert binomtest(len(slips), n, 0.1).pvalue > 0.001
    others = Counter(slips)
    assert set(others) == set(content.CLASSES) - {"bug"}
    assert chisquare(list(others.values())).pvalue > 0.001  # a slip picks any other class alike


def test_cast_always_includes_the_confused_annotator():
    for size in range(2, len(PROFILES) + 1):
        people = cast(size)
        assert len(people) == len(set(people)) == size
        assert [p for p in people if p.confuses] == [p for p in PROFILES if p.confuses]
    with pytest.raises(ValueError):
        cast(1)


def test_only_one_demo_profile_is_systematically_wrong():
    assert sum(p.confuses is not None for p in PROFILES) == 1
    assert all(p.error_rate <= 0.02 for p in PROFILES)


def test_format_progress_names_status_accuracy_and_quiz():
    def person(pid, email, status, gold, accuracy, **more):
        return {"id": pid, "email": email, "status": status, "gold_answered": gold,
                "accuracy": {"accuracy": accuracy}, **more}  # fmt: skip

    people = [
        person(2, "ana@example.com", "ok", 9, 1.0),
        person(5, None, "requalifying", 12, 0.58, quiz_left=4),
        person(7, None, "onboarding", 0, None),
    ]
    line = format_progress(75, 140, people, {5: "dev"})
    assert line.split(" | ") == [
        "1:15  140 submitted",
        "ana ok 1.00 (9 gold)",
        "dev QUIZ 0.58 (12 gold), quiz 4 left",
        "7 onboarding - (0 gold)",
    ]


class FakeAnnotator:
    """A stream of tasks; records what was submitted."""

    def __init__(self, texts):
        self.queue = [{"id": i, "data": {"text": t}} for i, t in enumerate(texts)]
        self.submitted = []

    def next_task(self, project_id):
        return self.queue.pop(0) if self.queue else None

    def submit(self, task_id, result, *, project_id):
        self.submitted.append((task_id, result[0]["value"]["choices"][0]))


def test_work_answers_by_profile_and_stops_when_the_stream_stays_empty():
    tasks, _ = content.make_demo_data(40, 0)
    person = FakeAnnotator([t.text for t in tasks] + ["a text nobody knows"])
    truth = {t.text: t.truth for t in tasks}
    bad = Profile("b", 0.0, confuses=("billing", "account"))
    ticks = iter(range(1000))
    tally = Tally()
    stop = threading.Event()
    work(
        person,
        bad,
        project_id=1,
        truth=truth,
        pace=Pace(seconds=0.0, idle_give_up=2),
        stop=stop,
        tally=tally,
        seed=1,
        clock=lambda: float(next(ticks)),
    )
    expected = [bad.confuses[1] if t.truth == "billing" else t.truth for t in tasks]
    assert [label for _, label in person.submitted[:40]] == expected
    assert tally.submitted == 41 and tally.unknown == 1 and not tally.errors


def test_work_returns_at_once_when_stopped():
    person = FakeAnnotator(["x"] * 5)
    stop = threading.Event()
    stop.set()
    work(person, PROFILES[0], project_id=1, truth={}, pace=Pace(), stop=stop, tally=Tally(), seed=1)
    assert person.submitted == []


def test_demo_refuses_a_busy_port(capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert main(["demo", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"port {port} is in use" in err


@pytest.mark.parametrize(
    "args",
    [["--tasks", "0"], ["--duration", "0"], ["--pace", "-1"], ["--annotators", "1"], ["--annotators", "5"]],
)
def test_demo_refuses_bad_numbers(args, capsys):
    assert main(["demo", *args]) == 2
    assert capsys.readouterr().err.startswith("lsqa demo: ")


class FakeResponse:
    def __init__(self, status, body):
        self.status_code, self._body = status, body

    def json(self):
        return self._body

    def raise_for_status(self):
        assert self.status_code == 200


def test_progress_shows_figures_only_of_features_that_answer():
    answers = {
        "annotators": FakeResponse(200, {"annotators": []}),
        "batches": FakeResponse(200, {"batches": [{"kappa": 0.61}]}),
        "relabel": FakeResponse(404, {}),
        "broken": FakeResponse(200, {"unexpected": 1}),
    }
    figures = [
        ("batches", lambda body: f"batch kappa {body['batches'][-1]['kappa']:.2f}"),
        ("relabel", lambda body: f"relabel {body['queued']}"),
        ("broken", lambda body: f"broken {body['batches']}"),
    ]
    progress = Progress("http://svc", "token", 3, figures=figures)
    progress._session.get = lambda url, timeout: answers[url.rsplit("/", 1)[-1]]
    assert progress.line(5, 0).split(" | ") == ["0:05  0 submitted", "batch kappa 0.61"]
    progress.close()


def test_demo_start_failure_is_one_line_and_cleans_up(monkeypatch, tmp_path):
    import lsharness

    from plugin.demo.run import DemoError, DemoOptions, run_demo

    stopped = []

    def fail(self):
        raise lsharness.ServerStartError("label-studio exited with 1\nTraceback ...\nmore log")

    monkeypatch.setattr(lsharness.LabelStudioServer, "start", fail)
    monkeypatch.setattr(lsharness.LabelStudioServer, "stop", lambda self: stopped.append(self))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DemoError) as caught:
        run_demo(DemoOptions(data_dir=tmp_path / "d", port=port), out=io.StringIO())
    assert str(caught.value) == "could not start: ServerStartError: label-studio exited with 1"
    assert len(stopped) == 1
