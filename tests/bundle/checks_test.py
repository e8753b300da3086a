"""Hook scripts and symlinks in an unpacked bundle, judged as the agent will meet them."""

from __future__ import annotations

import os
from pathlib import Path

from agentkit.bundle import checks


def _bundle(tmp_path: Path, name: str, data: bytes, mode: int = 0o755) -> Path:
    root = tmp_path / "b"
    (root / os.path.dirname(name)).mkdir(parents=True, exist_ok=True)
    (root / name).write_bytes(data)
    os.chmod(root / name, mode)
    return root


def _codes(found: object) -> list[str]:
    return [f.code for f in found]  # type: ignore[attr-defined]


def test_script_ok_has_no_findings(tmp_path: Path) -> None:
    root = _bundle(tmp_path, "s.sh", b"#!/bin/sh\necho hi\n")
    assert list(checks.script(str(root), "/R", "s.sh", "AfterInstall", "1")) == []


def test_script_not_executable_warns(tmp_path: Path) -> None:
    root = _bundle(tmp_path, "s.sh", b"#!/bin/sh\n", 0o644)
    (f,) = checks.script(str(root), "/R", "s.sh", "AfterInstall", "1")
    assert (f.code, f.severity) == ("AK501", "warning")
    assert f.message == ("hooks > AfterInstall > s.sh: not executable; the agent runs chmod +x "
                         "on it itself")


def test_script_without_shebang_differs_by_agent(tmp_path: Path) -> None:
    root = _bundle(tmp_path, "s.sh", b"echo hi\n")
    (f1,) = checks.script(str(root), "/R", "s.sh", "AfterInstall", "1")
    assert (f1.code, f1.severity) == ("AK502", "warning")
    (f2,) = checks.script(str(root), "/R", "s.sh", "AfterInstall", "2")
    assert (f2.code, f2.severity, f2.agent_message) == ("AK502", "error",
                                                        "Exec format error (os error 8)")


def test_script_missing_interpreter_warns(tmp_path: Path) -> None:
    root = _bundle(tmp_path, "s.py", b"#!/usr/bin/no-such-python\n")
    (f,) = checks.script(str(root), "/R", "s.py", "AfterInstall", "1")
    assert f.message == ("hooks > AfterInstall > s.py: interpreter /usr/bin/no-such-python does "
                         "not exist on this machine")


def test_script_bom_warns_and_hides_shebang(tmp_path: Path) -> None:
    root = _bundle(tmp_path, "s.sh", b"\xef\xbb\xbf#!/bin/sh\n")
    assert _codes(checks.script(str(root), "/R", "s.sh", "AfterInstall", "1")) == ["AK505"]


def test_symlinks_absolute_dangling_escaping(tmp_path: Path) -> None:
    root = tmp_path / "b"
    root.mkdir()
    (root / "abs").symlink_to("/etc/hostname")
    (root / "dangling").symlink_to("nowhere")
    (root / "escape").symlink_to("../../x")
    found = {f.path.rsplit("/", 1)[1]: f.code for f in checks.tree(str(root), "/R")}
    assert found == {"abs": "AK511", "dangling": "AK512", "escape": "AK513"}


def test_shared_looking_directory_warns(tmp_path: Path) -> None:
    media = tmp_path / "b" / "pub" / "media"
    media.mkdir(parents=True)
    for i in range(checks.SHARED_FILES):
        (media / f"{i}.jpg").write_bytes(b"")
    (f,) = checks.tree(str(tmp_path / "b"), "/R")  # pub/ only: not media/ inside it
    assert f.message == (f"pub/ holds {checks.SHARED_FILES} files: it looks like shared storage "
                         "that was copied into the archive")


def test_tree_link_to_an_absolute_path_is_judged_in_the_image(tmp_path: Path) -> None:
    # the image's /srv/share is a link to /data/share (inside the image, not this machine)
    image = tmp_path / "img"
    (image / "data" / "share").mkdir(parents=True)
    (image / "data" / "share" / "a.jpg").write_bytes(b"x" * 500_000)
    (image / "srv").mkdir()
    (image / "srv" / "share").symlink_to("/data/share")
    root = tmp_path / "b"
    root.mkdir()
    (root / "media").symlink_to("/srv/share")
    (found,) = checks.tree(str(root), "/R", image=str(image))
    assert (found.code, found.message) == (
        "AK510", "symlink -> /srv/share is a directory: the agent's installer copies the "
        "target's whole content instead of the link (1 files, 0.5 MB in the image)")
    (found,) = checks.tree(str(root), "/R")  # this machine has no /srv/share
    assert (found.code, found.message) == (
        "AK511", "absolute symlink -> /srv/share: installed as a link to that path on the "
        "instance")
