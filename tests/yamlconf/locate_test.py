"""locate.find: which agentkit.yml a command reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentkit.errors import BadConfig
from agentkit.yamlconf import locate


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AGENTKIT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


def test_find_explicit_existing_file_is_it(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "agentkit.yml").write_text("")
    other = tmp_path / "other.yml"
    other.write_text("")
    monkeypatch.setenv("AGENTKIT_CONFIG", str(tmp_path / "agentkit.yml"))
    assert locate.find(str(other), "fix") == str(other)


def test_find_explicit_missing_file_names_the_flag(tmp_path: Path) -> None:
    with pytest.raises(BadConfig) as exc:
        locate.find(str(tmp_path / "nope.yml"), "Point it elsewhere.")
    assert str(exc.value) == f"{tmp_path}/nope.yml: no such file (from --config). " \
        "Point it elsewhere."


def test_find_explicit_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(BadConfig) as exc:
        locate.find(str(tmp_path), "P.")
    assert str(exc.value) == f"{tmp_path}: no such file (from --config). P."


def test_find_env_missing_file_names_the_variable(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTKIT_CONFIG", "gone.yml")
    with pytest.raises(BadConfig) as exc:
        locate.find(None, "P.")
    assert str(exc.value) == "gone.yml: no such file (from AGENTKIT_CONFIG). P."


def test_find_env_existing_file_wins_over_cwd(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "agentkit.yml").write_text("")
    (tmp_path / "env.yml").write_text("")
    monkeypatch.setenv("AGENTKIT_CONFIG", "env.yml")
    assert locate.find(None, "P.") == "env.yml"


def test_find_empty_env_falls_back_to_cwd(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTKIT_CONFIG", "")
    (tmp_path / "agentkit.yml").write_text("")
    assert locate.find(None, "P.") == "agentkit.yml"


def test_find_nothing_is_none() -> None:
    assert locate.find(None, "P.") is None
    assert locate.find("", "P.") is None
