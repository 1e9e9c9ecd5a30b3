"""The cached Label Studio install: trusted only with its marker, redone after a half-done attempt."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsharness import install


@pytest.fixture
def fake_pip(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Replace the venv/pip commands by a stub that creates the executable, and record the calls."""
    calls: list[list[str]] = []

    def run(cmd: list[str], log: Path) -> None:
        calls.append(cmd)
        if cmd[1:3] == ["-m", "venv"]:
            (Path(cmd[3]) / "bin").mkdir(parents=True)
        else:
            (Path(cmd[0]).parent / "label-studio").write_text("#!/bin/sh\n")

    monkeypatch.setattr(install, "_run_logged", run)
    return calls


def test_ensure_label_studio_installs_once(tmp_path: Path, fake_pip: list[list[str]]) -> None:
    exe = install.ensure_label_studio("9.9.9", cache_dir=tmp_path)

    assert exe == tmp_path / "ls-9.9.9" / "bin" / "label-studio" and exe.exists()
    assert fake_pip[-1][-1] == "label-studio==9.9.9"
    assert install.ensure_label_studio("9.9.9", cache_dir=tmp_path) == exe
    assert len(fake_pip) == 2


def test_ensure_label_studio_redoes_a_half_done_install(tmp_path: Path, fake_pip: list[list[str]]) -> None:
    leftover = tmp_path / "ls-9.9.9" / "bin"
    leftover.mkdir(parents=True)
    (leftover / "label-studio").write_text("from a killed install")

    install.ensure_label_studio("9.9.9", cache_dir=tmp_path)

    assert len(fake_pip) == 2
    assert (tmp_path / "ls-9.9.9" / install.MARKER_NAME).read_text().strip() == "9.9.9"


def test_default_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LSQA_LS_CACHE", str(tmp_path))
    assert install.default_cache_dir() == tmp_path
    monkeypatch.delenv("LSQA_LS_CACHE")
    assert install.default_cache_dir() == Path.home() / ".cache" / "label-studio-qa"
