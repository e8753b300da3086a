"""verify of a zip made by Windows PowerShell 5.1's Compress-Archive (names with `\\`): the
tree as the agent leaves it after unzip's warning and its rubyzip fallback, and AK413."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from agentkit.cli import main

from ..archives import appspec

START = "#!/bin/bash\necho started\n"


def _compress_archive(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in members.items():
            info = zipfile.ZipInfo(name)
            info.create_system = 0  # MS-DOS/FAT, as .NET Framework's ZipArchive writes it
            z.writestr(info, body)
    return path


def _verify(capsys: pytest.CaptureFixture[str], arc: Path) -> tuple[int, dict[str, Any]]:
    code = main(["verify", "--type", "zip", "--format", "json", str(arc)])
    return code, json.loads(capsys.readouterr().out)


def test_verify_compress_archive_installs_the_literal_backslash_names_too(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "srv" / "app"
    hooks = "  AfterInstall:\n    - location: scripts/start.sh\n"
    arc = _compress_archive(tmp_path / "app.zip", {"appspec.yml": appspec(dest, hooks),
                                                   "scripts\\start.sh": START})
    code, out = _verify(capsys, arc)
    assert (code, out["result"]) == (0, "succeeded")  # the hook found unzip's scripts/start.sh
    assert [f["code"] for f in out["findings"]] == ["AK413", "AK501"]
    assert out["findings"][0]["agent_message"] == (
        "Error extracting zip archive: 1, with default system unzip util. Hence falling back "
        "to ruby unzip to mitigate any partially unzipped or skipped zip files.")
    files = {e["path"]: e["mode"] for e in out["tree"] if e["type"] == "file"}
    assert files == {f"{dest}/appspec.yml": "0600", f"{dest}/scripts/start.sh": "0600",
                     f"{dest}/scripts\\start.sh": "0644"}


def test_verify_compress_archive_of_a_folder_fails_without_an_appspec_at_the_root(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `Compress-Archive -Path app`: every name starts with `app\`; rubyzip's literal
    # `app\appspec.yml` beside unzip's app/ keeps the agent from stripping app/
    arc = _compress_archive(tmp_path / "app.zip", {
        "app\\appspec.yml": appspec(tmp_path / "dest"), "app\\scripts\\start.sh": START})
    code, out = _verify(capsys, arc)
    assert (code, out["result"], out["failed_event"]) == (1, "failed", "BeforeInstall")
    assert [f["code"] for f in out["findings"]] == ["AK413", "AK150"]
