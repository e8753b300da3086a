"""Sections as data, read with every problem kept: what the hooks' and generate's errors are
made of."""

from __future__ import annotations

from pathlib import Path

from agentkit.yamlconf.agentkit_yml import SHARED
from agentkit.yamlconf.reader import Reader
from agentkit.yamlconf.source import read_source


def _read(tmp_path: Path, text: str) -> tuple[object, list[str]]:
    path = tmp_path / "agentkit.yml"
    path.write_text(text)
    r = Reader(str(path))
    read = SHARED.read(r, read_source(str(path)).root, ())
    return (None if read is None else read[1]), [p.text("agentkit.yml") for p in r.problems()]


def test_section_required_key_missing_reports_it_once_and_reads_no_further(
        tmp_path: Path) -> None:
    values, problems = _read(tmp_path, "link: sideways\non_conflict: move\n")
    assert values is None
    assert problems == ["agentkit.yml:1: `root` (the shared storage directory) is required"]


def test_section_every_bad_value_and_unknown_key_at_once_with_its_line(tmp_path: Path) -> None:
    _, problems = _read(tmp_path, "root: /mnt/efs\nlink: sideways\ndirz: [a]\n"
                                       "on_conflict: move\n")
    assert problems == [
        "agentkit.yml:2: link: expected one of absolute, relative, got 'sideways'",
        "agentkit.yml:3: dirz: unknown key; expected one of root, require_mount, dirs, files, "
        "link, on_conflict, missing_file, owner, group, mode",
        "agentkit.yml:4: on_conflict: expected one of backup, seed, fail, got 'move'"]


def test_section_absent_keys_take_their_defaults(tmp_path: Path) -> None:
    values, problems = _read(tmp_path, "root: /mnt/efs/\n")
    assert problems == []
    assert values == {"root": "/mnt/efs", "require_mount": "none", "dirs": (), "files": (),
                      "link": "absolute", "on_conflict": "backup", "missing_file": "fail",
                      "owner": None, "group": None, "mode": None}


def test_reader_prefix_leads_every_key_chain(tmp_path: Path) -> None:
    path = tmp_path / "agentkit.yml"
    path.write_text("root: 5\n")
    r = Reader(str(path), ("deploy",))
    SHARED.read(r, read_source(str(path)).root, ())
    assert [p.message for p in r.problems()] == ["deploy > root: expected an absolute path, "
                                                 "got 5"]
