import pytest

from plugin.cli import main
from plugin.settings import SETTINGS, ConfigError, load_settings

GOOD = """
label_studio:
  url: http://127.0.0.1:8080
  api_key: abc
webhook:
  secret: 0123456789abcdef0123
"""


def write(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_load_settings_fills_defaults(tmp_path):
    settings = load_settings(write(tmp_path, GOOD), env={})
    assert settings["webhook.header"] == "X-LSQA-Secret"
    assert settings["database.url"] == "sqlite:///lsqa.db"
    assert settings["server.port"] == 8787
    assert settings.webhook_url == "http://127.0.0.1:8787/webhooks/label-studio"


def test_load_settings_env_overrides_file(tmp_path):
    env = {
        "LABEL_STUDIO_URL": "http://ls:9",
        "LABEL_STUDIO_API_KEY": "k2",
        "LSQA_WEBHOOK_SECRET": "s" * 20,
        "LSQA_DATABASE_URL": "postgresql://postgres@127.0.0.1/x",
    }
    settings = load_settings(write(tmp_path, GOOD), env=env)
    assert settings["label_studio.url"] == "http://ls:9"
    assert settings["label_studio.api_key"] == "k2"
    assert settings["webhook.secret"] == "s" * 20
    assert settings["database.url"].startswith("postgresql://")


def test_load_settings_works_from_environment_alone():
    env = {"LABEL_STUDIO_URL": "http://ls:9", "LABEL_STUDIO_API_KEY": "k", "LSQA_WEBHOOK_SECRET": "s" * 16}
    assert load_settings(None, env=env)["label_studio.url"] == "http://ls:9"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("server:\n  prot: 1\n", "server.prot: unknown setting"),
        ("server:\n  port: eighty\n", "server.port: expected int, got str"),
        ("server:\n  port: true\n", "server.port: expected int, got bool"),
        ("server:\n  port: 0\n", "server.port: must be at least 1"),
        ("worker:\n  enabled: 1\n", "worker.enabled: expected bool, got int"),
        ("logging:\n  level: LOUD\n", "logging.level: must be one of"),
        ("bogus: 1\n", "bogus: unknown setting"),
        ("database: sqlite\n", "database: expected a mapping"),
    ],
)
def test_load_settings_rejects_bad_values_naming_the_key(tmp_path, extra, message):
    with pytest.raises(ConfigError, match="^" + message):
        load_settings(write(tmp_path, GOOD + extra), env={})


def test_load_settings_rejects_header_label_studio_would_refuse(tmp_path):
    text = GOOD.replace("webhook:\n", "webhook:\n  header: X Bad\n")
    with pytest.raises(ConfigError, match="^webhook.header: only letters"):
        load_settings(write(tmp_path, text), env={})


def test_load_settings_requires_secret(tmp_path):
    text = GOOD.replace("  secret: 0123456789abcdef0123\n", "  header: X-S\n")
    with pytest.raises(
        ConfigError, match=r"^webhook.secret: required value missing \(or \$LSQA_WEBHOOK_SECRET\)$"
    ):
        load_settings(write(tmp_path, text), env={})


def test_load_settings_rejects_short_secret(tmp_path):
    with pytest.raises(ConfigError, match="webhook.secret: must be at least 16"):
        load_settings(write(tmp_path, GOOD.replace("0123456789abcdef0123", "short")), env={})


def test_load_settings_rejects_a_nested_wrong_type(tmp_path):
    text = GOOD.replace("  api_key: abc\n", "  api_key: abc\n  timeout: fast\n")
    with pytest.raises(ConfigError, match=r"^label_studio.timeout: expected float, got str$"):
        load_settings(write(tmp_path, text), env={})


def test_load_settings_accepts_an_int_where_a_float_is_expected(tmp_path):
    text = GOOD.replace("  api_key: abc\n", "  api_key: abc\n  timeout: 3\n")
    assert load_settings(write(tmp_path, text), env={})["label_studio.timeout"] == 3.0


def test_settings_repr_hides_secrets(tmp_path):
    text = repr(load_settings(write(tmp_path, GOOD), env={}))
    assert "0123456789abcdef0123" not in text and "abc'" not in text


def test_cli_config_error_is_one_line_without_traceback(tmp_path, capsys):
    path = write(tmp_path, GOOD + "server:\n  port: nope\n")
    assert main(["--config", str(path), "status", "--project", "1"]) == 2
    err = capsys.readouterr().err
    assert err == "lsqa: config error: server.port: expected int, got str\n"


def test_every_setting_has_help_and_a_sensible_default():
    for setting in SETTINGS:
        assert setting.help.strip()
        assert setting.default is None or isinstance(setting.default, setting.type)
        assert not (setting.required and setting.default is not None)
