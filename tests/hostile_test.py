"""Hostile archives and appspecs: each is judged as the agent's tar/unzip/parser would judge
it, with a finding naming what is wrong, in bounded time and memory, leaving nothing behind.
CI runs this file as root and as an unprivileged user."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from agentkit.cli import main

from .hostile import BUILDERS, HOSTILE

# name: (exit status, result, finding codes); what GNU tar 1.34, unzip 6.0 and the agents'
# parsers do with each (checked by hand for the tar and zip cases: see the builders)
EXPECTED: dict[str, tuple[int, str, list[str]]] = {
    "appspec-10mb-comment": (0, "succeeded", []),
    "appspec-10mb-files": (1, "undetermined", ["AK106"]),
    "yaml-alias-bomb": (1, "failed", ["AK103"]),
    "yaml-deep-nesting": (1, "failed", ["AK100"]),
    "yaml-deep-block-nesting": (1, "undetermined", ["AK106"]),
    "yaml-long-scalar": (1, "failed", []),
    "appspec-symlink-to-shadow": (1, "undetermined", ["AK152", "AK511"]),
    "hook-location-symlink-to-shadow": (1, "succeeded", ["AK506", "AK511"]),  # (no hooks)
    "appspec-binary": (1, "failed", ["AK100"]),
    "pax-mtime-inf": (1, "failed", ["AK400"]),
    "pax-mtime-nan": (1, "failed", ["AK400"]),
    "pax-mtime-huge": (0, "succeeded", []),
    "pax-size-lies": (1, "undetermined", ["AK408"]),  # (GNU tar: EOF, past verify's limit)
    "pax-length-huge": (1, "failed", ["AK400"]),
    "pax-length-zero": (1, "failed", ["AK400"]),
    "pax-header-declares-gigabytes": (1, "failed", ["AK400"]),
    "gnu-longname-gigabytes": (1, "failed", ["AK400"]),
    "gnu-longname-1mb": (1, "failed", ["AK400"]),
    "many-pax-headers": (0, "succeeded", []),
    "tar-negative-size": (1, "failed", ["AK400"]),
    "tar-base256-size-huge": (1, "failed", ["AK400"]),
    "tar-bad-mtime-field": (0, "succeeded", []),
    "tar-truncated-member": (1, "failed", ["AK400"]),
    "tar-sparse-member": (0, "succeeded", []),
    "symlink-loop": (1, "failed", ["AK510", "AK512"]),
    "symlink-chain-100": (1, "failed", ["AK512"]),
    "deep-1000-dirs": (0, "succeeded", []),
    "deep-3000-dirs": (1, "failed", ["AK409"]),
    "dotdot-member": (1, "failed", ["AK402"]),
    "absolute-member": (0, "succeeded", ["AK401"]),
    "write-through-link": (1, "failed", ["AK405"]),
    "hardlink-outside": (1, "failed", ["AK401", "AK404"]),
    "device-and-fifo": (0, "succeeded", ["AK403"]),
    "gzip-garbage": (1, "failed", ["AK400"]),
    "gzip-bomb": (1, "undetermined", ["AK408"]),
    "zip-encrypted-entry": (1, "failed", ["AK400"]),
    "zip-unknown-method": (1, "failed", ["AK400"]),
    "zip-dotdot": (0, "succeeded", ["AK406"]),
    "zip-symlink-out": (0, "succeeded", ["AK511"]),
    "zip-truncated": (1, "failed", ["AK400"]),
    "zip-garbage": (1, "failed", ["AK400"]),
    # tar cannot extract what lies beneath a loop (ELOOP), nor what lies beneath a link whose
    # target is no directory yet (ENOENT), nor a link over a directory holding members
    "symlink-loop-self-member-beneath": (1, "failed", ["AK411"]),
    "symlink-loop-pair-member-beneath": (1, "failed", ["AK411"]),
    "symlink-loop-growing-member-beneath": (1, "failed", ["AK411"]),
    "full-dir-then-symlink-same-name": (1, "failed", ["AK411"]),
    "symlink-then-child-then-link-target": (1, "failed", ["AK411"]),
    "symlink-then-child-link": (1, "failed", ["AK411"]),
    # GNU tar extracts these (an empty directory replaced, `../` stripped from a hard link's
    # target, a PAX name cut at its NUL, the PAX name over the GNU one, base-256 read)
    "dir-then-symlink-same-name": (0, "succeeded", ["AK412", "AK512"]),
    "hardlink-target-dotdot": (0, "succeeded", ["AK412"]),
    "pax-path-nul-in-directory": (0, "succeeded", ["AK412"]),
    "pax-path-disagrees-with-gnu-longname": (0, "succeeded", ["AK412"]),
    "tar-base256-size": (0, "succeeded", ["AK412"]),
    "sparse-member-absolute": (0, "succeeded", ["AK401"]),
    "sparse-member-extended-absolute": (0, "succeeded", ["AK401"]),
    "sparse-member-pax-absolute": (0, "succeeded", ["AK401"]),
    "zip-backslash-dotdot": (0, "succeeded", ["AK406"]),
    "zip-backslash-dotdot-dos": (0, "succeeded", ["AK406", "AK413"]),
    "file-then-member-beneath": (1, "failed", ["AK411"]),
    "symlink-empty-target": (1, "failed", ["AK411"]),
    # unzip extracts it; Python's zipfile cannot read such a name: verify says so (exit 4)
    "zip-name-flagged-utf8-is-not": (4, "undetermined", ["AK407"]),
}
# --no-install: no Install step (whose failures these are), and deep paths fail where
# verify writes them itself (absolute paths reach PATH_MAX first)
LEAN: dict[str, tuple[int, str, list[str]]] = {
    "symlink-chain-100": (0, "succeeded", ["AK512"]),
    "symlink-loop": (1, "succeeded", ["AK510", "AK512"]),
    "yaml-long-scalar": (0, "succeeded", []),
    "deep-3000-dirs": (1, "failed", ["AK400"]),
}


def test_hostile_every_builder_has_an_expectation() -> None:
    assert set(EXPECTED) == set(BUILDERS) - {"empty-file"}


def _names(finding: dict[str, Any], member: str) -> bool:
    """Whether the finding names the archive member: its path is `ARCHIVE:member` (or the
    member itself, for a file of the unpacked bundle), or its message quotes it."""
    path = finding["path"]
    return path.endswith(":" + member) or path == member or repr(member) in finding["message"]


@pytest.mark.parametrize("lean", [False, True], ids=["install", "no-install"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_input_is_judged_in_bounded_time(name: str, lean: bool, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # (gettempdir caches TMPDIR)
    archive = BUILDERS[name](tmp_path)
    start = time.monotonic()
    code = main(["verify", "--format", "json", "--hooks", "skip", "--max-disk", "256M",
                 *(["--no-install"] if lean else []), str(archive)])
    elapsed = time.monotonic() - start
    captured = capsys.readouterr()
    out: dict[str, Any] = json.loads(captured.out)
    expected = LEAN.get(name, EXPECTED[name]) if lean else EXPECTED[name]
    assert (code, out["result"], sorted({f["code"] for f in out["findings"]})) == \
        expected, captured.err
    unnamed = [m for m in HOSTILE[name] if not any(_names(f, m) for f in out["findings"])]
    assert unnamed == [], out["findings"]
    assert elapsed < 20
    assert "Traceback" not in captured.err
    for _ in range(100):  # the throw-away root is removed by a detached process
        if not os.listdir(scratch):
            break
        time.sleep(0.1)
    assert os.listdir(scratch) == []


def test_hostile_empty_file_is_a_usage_error(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["verify", str(BUILDERS["empty-file"](tmp_path))])
    assert code == 1
    assert capsys.readouterr().err == (
        f"agentkit: error: {tmp_path}/a.tgz: not a tar, tar.gz, zip or directory (unknown "
        "content). Pass --type to say how CodeDeploy is told to read it.\n")


def test_hostile_links_to_host_files_are_never_read(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    secret = tmp_path / "secret"
    secret.write_text("version: 0.0\nos: linux\nTOP-SECRET-LINE: 1\n")
    from .archives import tar
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "symlink", str(secret), 0o777)])
    code = main(["verify", "--format", "json", "--hooks", "skip", str(arc)])
    text = capsys.readouterr().out
    assert code == 1
    assert "TOP-SECRET" not in text
    finding = next(f for f in json.loads(text)["findings"] if f["code"] == "AK152")
    assert finding["message"] == (
        f"appspec.yml is a link to {secret}, outside the bundle: the agent reads that file of "
        "the instance as the appspec; verify does not read files of this machine the bundle "
        "points at")


def test_hostile_alias_bomb_for_agent_2_is_the_repetition_limit(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arc = BUILDERS["yaml-alias-bomb"](tmp_path)
    code = main(["verify", "--format", "json", "--hooks", "skip", "--agent", "2", str(arc)])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert out["error"]["message"] == ("The deployment failed because of a YAML parsing "
                                       "error: repetition limit exceeded")


LINKS = ("symlink-loop", "symlink-chain-100", "write-through-link", "hardlink-outside",
         "zip-symlink-out", "symlink-loop-self-member-beneath", "symlink-then-child-link",
         "dir-then-symlink-same-name", "full-dir-then-symlink-same-name",
         "hardlink-target-dotdot")


@pytest.mark.parametrize("name", LINKS)
def test_hostile_links_are_judged_alike_against_an_image(
        name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # with --image a bundle link to an absolute path is the image's: the bundle's own link
    # tricks fail (or pass) as they do against this machine's /
    from .image_fixture import make_image

    img = make_image(tmp_path / "img")
    archive = BUILDERS[name](tmp_path)
    code = main(["verify", "--format", "json", "--hooks", "skip", "--image", str(img),
                 str(archive)])
    captured = capsys.readouterr()
    out: dict[str, Any] = json.loads(captured.out)
    assert (code, out["result"], sorted({f["code"] for f in out["findings"]})) == \
        EXPECTED[name], captured.err
    assert "Traceback" not in captured.err
