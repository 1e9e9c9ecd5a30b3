"""The README's settings table and config.example.yaml must say what the code does."""

import re
from pathlib import Path

import yaml

from plugin.settings import SETTINGS, load_settings

ROOT = Path(__file__).resolve().parents[2]


def readme_rows():
    rows = {}
    for line in (ROOT / "README.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"`[a-z_]+\.[a-z0-9_.]+`", cells[0]):
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def documented_default(setting):
    if setting.required:
        return "required"
    if setting.default is None:
        return "none"
    value = str(setting.default).lower() if setting.type is bool else setting.default
    return f"`{value}`"


def test_readme_settings_table_matches_the_registry():
    rows = readme_rows()
    assert list(rows) == [s.key for s in SETTINGS]
    for setting in SETTINGS:
        type_name, default, env, meaning = rows[setting.key]
        assert type_name == setting.type.__name__, setting.key
        assert default == documented_default(setting), setting.key
        assert env == (f"`{setting.env}`" if setting.env else ""), setting.key
        assert meaning == setting.help, setting.key


def flatten(tree, prefix=""):
    leaves = {s.key for s in SETTINGS}
    for key, value in tree.items():
        if isinstance(value, dict) and f"{prefix}{key}" not in leaves:
            yield from flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def test_config_example_lists_every_setting_with_its_default():
    example = dict(flatten(yaml.safe_load((ROOT / "config.example.yaml").read_text())))
    assert list(example) == [s.key for s in SETTINGS]
    for setting in SETTINGS:
        if setting.key != "label_studio.url":
            assert example[setting.key] == setting.default, setting.key


def test_config_example_loads_with_secrets_from_the_environment():
    env = {"LABEL_STUDIO_API_KEY": "k", "LSQA_WEBHOOK_SECRET": "0123456789abcdef"}
    settings = load_settings(ROOT / "config.example.yaml", env=env)
    assert settings["label_studio.url"] == "http://127.0.0.1:8080"


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    test_command = next(c for c in commands if "pytest" in c)
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == test_command
