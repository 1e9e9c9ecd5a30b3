"""Malformed settings files: each is refused in one line naming the problem, quickly, without a traceback."""

import pytest
from test_settings import GOOD, write

from plugin.cli import main
from plugin.settings import ConfigError, load_settings


def mapping_bomb(levels: int = 30) -> str:
    """Each level is a mapping of two aliases of the previous one: 2^levels leaves once expanded."""
    lines = ["a0: &a0 {x: 1, y: 1}"]
    lines += [f"a{i}: &a{i} {{p: *a{i - 1}, q: *a{i - 1}}}" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def merge_bomb(levels: int = 30) -> str:
    """The same with merge keys: PyYAML's flatten_mapping doubles a key list per level."""
    lines = ["m0: &m0 {x: 1}"]
    lines += [f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}]}}" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def refusal(tmp_path, content: str | bytes) -> str:
    path = tmp_path / "config.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (mapping_bomb(), "aliases expand to more than 100,000 values"),
        (GOOD + mapping_bomb(), "aliases expand to more than 100,000 values"),
        (merge_bomb(), "aliases expand to more than 100,000 values"),
        ("a: &a [*a]\n", "an alias refers to the node that contains it"),
        ("[" * 100_000 + "]" * 100_000, "nested deeper than 32 levels"),
        ("a: " + "{b: " * 40 + "1" + "}" * 40 + "\n", "nested deeper than 32 levels"),
        (b"server:\n  host: caf\xe9\n", "is not UTF-8 text (byte 0xe9 at offset 19)"),
        (b"\xff\xfeu\x00r\x00l\x00", "is not UTF-8 text"),
        (b"a: [1, 2\n", "is not valid YAML at line 2"),
        ("a: 1\n---\nb: 2\n", "is not valid YAML at line 2"),
        ("- just\n- a list\n", "config: expected a mapping"),
        ("x" * (1024 * 1024 + 1), "is larger than 1024 kB"),
    ],
    ids=[
        "mapping-bomb",
        "bomb-after-good-settings",
        "merge-key-bomb",
        "recursive-alias",
        "deep-flow-sequences",
        "deep-mappings",
        "latin-1",
        "utf-16",
        "unclosed-bracket",
        "two-documents",
        "not-a-mapping",
        "huge-file",
    ],
)
def test_malformed_settings_file_is_refused_in_one_line(tmp_path, content, expected):
    assert expected in refusal(tmp_path, content)


def test_aliases_that_stay_small_still_work(tmp_path):
    text = GOOD + "quality:\n  project_presets: &p {1: nlp, 2: nlp}\n" + "alerts:\n  email_to: &to [a@x]\n"
    settings = load_settings(write(tmp_path, text), env={})
    assert settings["quality.project_presets"] == {1: "nlp", 2: "nlp"}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("worker:\n  poll_interval: .nan\n", "worker.poll_interval: must be a finite number"),
        ("worker:\n  sync_interval: .inf\n", "worker.sync_interval: must be a finite number"),
        ("gold:\n  jitter: -.inf\n", "gold.jitter: must be a finite number"),
        ("agreement:\n  kappa_threshold: .nan\n", "agreement.kappa_threshold: must be a finite number"),
        ("server:\n  port: 65536\n", "server.port: must be at most 65535"),
        ("alerts:\n  smtp_port: 70000\n", "alerts.smtp_port: must be at most 65535"),
        ("gold:\n  rate: 1.5\n", "gold.rate: must be at most 1"),
        ("quality:\n  threshold: 90\n", "quality.threshold: must be at most 1"),
        ("agreement:\n  sample_rate: 2\n", "agreement.sample_rate: must be at most 1"),
        ("agreement:\n  kappa_threshold: -2\n", "agreement.kappa_threshold: must be at least -1.0"),
        ("worker:\n  batch_size: 1000000000\n", "worker.batch_size: must be at most 10000"),
        ("worker:\n  poll_interval: 3600\n", "worker.poll_interval: must be at most 60"),
        ("relabel:\n  project_id: 9223372036854775808\n", "relabel.project_id: must be at most"),
        ("server:\n  port: 1" + "0" * 400 + "\n", "server.port: must be at most 65535"),
        ("quality:\n  project_presets: {0: nlp}\n", "quality.project_presets.0: must be at least 1"),
        ("server:\n  port: [80]\n", "server.port: expected int, got list"),
        ("server:\n  host: {a: 1}\n", "server.host: expected str, got dict"),
        ("  header: 2024-01-01\n", "webhook.header: expected str, got date"),
    ],
)
def test_out_of_range_or_wrong_type_value_is_refused(tmp_path, extra, expected):
    assert expected in refusal(tmp_path, GOOD + extra)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("LSQA_WEBHOOK_SECRET", " 0123456789abcdef ", "webhook.secret: has leading or trailing whitespace"),
        ("LABEL_STUDIO_API_KEY", "pat-abcdef\n", "label_studio.api_key: has leading or trailing whitespace"),
        ("LSQA_DASHBOARD_PASSWORD", "pw-qwerty ", "dashboard.password: has leading or trailing whitespace"),
        ("LSQA_API_TOKEN", "\tapi-tok-zyx", "api.token: has leading or trailing whitespace"),
    ],
)
def test_secret_with_surrounding_whitespace_is_refused_unshown(tmp_path, variable, value, expected):
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, GOOD), env={variable: value})
    assert expected in str(caught.value)
    assert value.strip() not in str(caught.value)


def test_secret_with_surrounding_spaces_in_the_file_is_refused(tmp_path):
    text = GOOD.replace("0123456789abcdef0123", '"0123456789abcdef0123 "')
    assert "webhook.secret: has leading or trailing whitespace" in refusal(tmp_path, text)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("X_LSQA_Secret", "only letters, digits and '-'"),
        ("X LSQA", "only letters, digits and '-'"),
        ("Content-Length", "Content-Length is set by HTTP itself"),
        ("host", "host is set by HTTP itself"),
        ("Connection", "Connection is set by HTTP itself"),
        ("Transfer-Encoding", "Transfer-Encoding is set by HTTP itself"),
    ],
)
def test_header_name_a_server_would_drop_or_rewrite_is_refused(tmp_path, header, expected):
    assert expected in refusal(tmp_path, GOOD + f"  header: {header}\n")


def test_nan_from_the_environment_is_refused(tmp_path):
    env = {"LSQA_WEBHOOK_SECRET": "0123456789abcdef"}
    load_settings(write(tmp_path, GOOD + "worker:\n  poll_interval: 0.5\n"), env=env)
    with pytest.raises(ConfigError, match="must be a finite number"):
        load_settings(write(tmp_path, GOOD + "worker:\n  poll_interval: .NaN\n"), env=env)


@pytest.mark.timeout(20)
def test_cli_refuses_a_bomb_in_one_line(tmp_path, capsys):
    path = write(tmp_path, GOOD + mapping_bomb())
    assert main(["--config", str(path), "status", "--project", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("lsqa: config error: config: ") and "aliases expand to more than" in err
