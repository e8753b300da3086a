"""The Install simulation: the Installer on real extracted archives (plan conflicts,
fileExistsBehavior, the cleanup file), and its pieces that run once per bundle file."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path
from typing import NamedTuple

import pytest

from agentkit.agent.install_plan import InstallError, Instruction
from agentkit.agent.installer import DISALLOW_MSG, Installer
from agentkit.agent.instruction_files import instruction_json, lines_backwards
from agentkit.agent.layout import Deployment
from agentkit.appspec.model import AppSpec, FileMapping
from agentkit.hostview.view import HostView

from ..archives import tar


@pytest.mark.parametrize("block", [1, 3, 64, 1 << 16])
def test_lines_backwards_drops_a_torn_last_line(tmp_path: Path, block: int) -> None:
    path = tmp_path / "cleanup"
    path.write_bytes(b"/a\n/b c\n\n/d\xff\n/torn")
    assert list(lines_backwards(str(path), block)) == ["/d\udcff", "", "/b c", "/a"]


@pytest.mark.parametrize("text", [b"", b"no newline", b"\n", b"/only\n"])
def test_lines_backwards_small_files(tmp_path: Path, text: bytes) -> None:
    path = tmp_path / "cleanup"
    path.write_bytes(text)
    assert list(lines_backwards(str(path), 4)) == text.decode().split("\n")[:-1][::-1]


def test_instruction_json_as_json_dumps_would() -> None:
    for inst in [Instruction("copy", "/d/ü \"q\"", source="/a/b\\c"),
                 Instruction("mkdir", "/d"), Instruction("chmod", "/d/x", mode="644"),
                 Instruction("chown", "/d/x", owner="www", group=None),
                 Instruction("setfacl", "/d/x", acl=("u:a:rw", "g:b:r"))]:
        assert instruction_json(inst) == json.dumps(inst.to_json(), separators=(",", ":"),
                                                     ensure_ascii=False)


@pytest.mark.parametrize(("raw", "error"), [
    (b"/d/caf\xc3\xa9", None), (b"/d/\xf0\x9f\x98\x80.png", None), (b"/d/plain", None),
    (b"/d/caf\xe9", "partial character in source, but hit end"),
    (b"/d/\xf0\x9f\x98", "partial character in source, but hit end"),
    (b"/d/caf\xe9.txt", "source sequence is illegal/malformed utf-8"),
    (b"/d/\x80x", "source sequence is illegal/malformed utf-8"),  # a lone continuation byte
    (b"/d/\xc0\xafx", "source sequence is illegal/malformed utf-8"),  # overlong "/"
    (b"/d/\xed\xa0\x80x", "source sequence is illegal/malformed utf-8")])  # a surrogate
def test_ruby_json_error_as_json_2_6_raises(raw: bytes, error: str | None) -> None:
    import os

    from agentkit.agent.install_plan import ruby_json_error

    assert ruby_json_error(os.fsdecode(raw)) == error


@pytest.mark.parametrize(("entry", "text"), [
    ("u:nobody:rw", "user:nobody:rw-"), ("nobody:7", "user:nobody:rwx"),
    ("g:adm:r-x", "group:adm:r-x"), ("d:u:nobody:x", "default:user:nobody:--x"),
    ("default:g:adm:5", "default:group:adm:r-x"), ("m::r", "mask::r--"), ("mask:rw", "mask::rw-"),
    ("d:o::0", "default:other::---"), ("u:m:rw", "user:mask:rw-")])
def test_ace_text_ruby_as_get_ace_spells_it(entry: str, text: str) -> None:
    from agentkit.appspec.acl import ace_text_ruby

    assert ace_text_ruby(entry) == text


# --- the Installer itself, on a real extracted archive and a HostView over a host dir --------

class _Setup(NamedTuple):
    installer: Installer
    view: HostView
    dep: Deployment
    host: Path


def _installer(tmp_path: Path, behavior: str = "DISALLOW", generation: str = "1",
               host_files: dict[str, str] | None = None) -> _Setup:
    """A bundle (app/a.txt, app/sub/b.txt) extracted from a real tar into the deployment
    archive, and a host directory holding `host_files`."""
    host = tmp_path / "host"
    for rel, text in (host_files or {}).items():
        (host / rel).parent.mkdir(parents=True, exist_ok=True)
        (host / rel).write_text(text)
    host.mkdir(exist_ok=True)
    dep = Deployment(str(tmp_path / "root"), "dg-1", "d-INSTALL1")
    archive = tar(tmp_path / "bundle.tgz", [
        ("appspec.yml", "file", "version: 0.0\nos: linux\n", 0o644),
        ("app/a.txt", "file", "bundle a", 0o644), ("app/sub/b.txt", "file", "bundle b", 0o600)])
    os.makedirs(dep.archive)
    os.makedirs(dep.instructions)
    with tarfile.open(archive) as t:
        t.extractall(dep.archive)
    view = HostView(str(tmp_path / "sandbox"), str(host))
    return _Setup(Installer(view, dep, generation, behavior), view, dep, host)


def _spec(*files: tuple[str, str], behavior: str | None = None) -> AppSpec:
    return AppSpec("linux", {}, tuple(FileMapping(s, d) for s, d in files), (), behavior)


def _install(s: _Setup, spec: AppSpec) -> None:
    s.installer.execute(s.installer.plan(spec))


def test_installer_fresh_destination_copies_and_records_everything(tmp_path: Path) -> None:
    s = _installer(tmp_path)
    _install(s, _spec(("app", "/srv/app")))
    src = s.dep.archive + "/app"
    made = json.loads(Path(s.dep.install_json).read_text())["instructions"]
    # a directory's entries come in readdir order (Dir.entries in installer.rb): compare
    # them as a set, and check every directory is made before what goes into it
    assert sorted(made, key=json.dumps) == sorted([
        {"type": "mkdir", "directory": "/srv"},
        {"type": "mkdir", "directory": "/srv/app"},
        {"type": "copy", "source": f"{src}/a.txt", "destination": "/srv/app/a.txt"},
        {"type": "mkdir", "directory": "/srv/app/sub"},
        {"type": "copy", "source": f"{src}/sub/b.txt", "destination": "/srv/app/sub/b.txt"}],
        key=json.dumps)
    order = [i.get("directory") or i["destination"] for i in made]
    assert all(order.index(os.path.dirname(p)) < n for n, p in enumerate(order) if n > 0)
    assert Path(s.dep.cleanup_file).read_text() == "".join(f"{p}\n" for p in order)
    a, b = s.view.entry("/srv/app/a.txt"), s.view.entry("/srv/app/sub/b.txt")
    assert a is not None and b is not None
    assert (a.type, a.mode, a.uid, a.gid, a.where) == ("file", 0o644, 0, 0, "upper")
    assert (b.type, b.mode) == ("file", 0o600)
    assert not (s.host / "srv").exists()  # the host is never written


def test_installer_disallow_existing_file_fails_and_writes_nothing(tmp_path: Path) -> None:
    s = _installer(tmp_path, host_files={"srv/app/a.txt": "host"})
    with pytest.raises(InstallError) as exc:
        _install(s, _spec(("app", "/srv/app")))
    assert str(exc.value) == DISALLOW_MSG.format("/srv/app/a.txt")
    assert not os.path.exists(s.dep.install_json)
    assert not os.path.exists(s.dep.cleanup_file)
    entry = s.view.entry("/srv/app/a.txt")
    assert entry is not None and entry.where == "host"


def test_installer_overwrite_existing_file_replaces_it(tmp_path: Path) -> None:
    s = _installer(tmp_path, "OVERWRITE", host_files={"srv/app/a.txt": "host"})
    _install(s, _spec(("app/a.txt", "/srv/app")))
    assert json.loads(Path(s.dep.install_json).read_text())["instructions"] == [
        {"type": "copy", "source": f"{s.dep.archive}/app/a.txt",
         "destination": "/srv/app/a.txt"}]
    entry = s.view.entry("/srv/app/a.txt")
    assert entry is not None and entry.where == "upper"
    assert (s.host / "srv/app/a.txt").read_text() == "host"


def test_installer_retain_existing_file_keeps_it(tmp_path: Path) -> None:
    s = _installer(tmp_path, "RETAIN", host_files={"srv/app/a.txt": "host"})
    _install(s, _spec(("app/a.txt", "/srv/app")))
    assert json.loads(Path(s.dep.install_json).read_text()) == {"instructions": []}
    entry = s.view.entry("/srv/app/a.txt")
    assert entry is not None and entry.where == "host"


def test_installer_appspec_behavior_wins_over_the_deployment(tmp_path: Path) -> None:
    s = _installer(tmp_path, "DISALLOW", host_files={"srv/app/a.txt": "host"})
    _install(s, _spec(("app/a.txt", "/srv/app"), behavior="RETAIN"))
    assert json.loads(Path(s.dep.install_json).read_text()) == {"instructions": []}


def test_installer_two_sources_for_one_destination_conflict(tmp_path: Path) -> None:
    s = _installer(tmp_path, "OVERWRITE")
    with pytest.raises(InstallError) as exc:
        _install(s, _spec(("app", "/srv/app"), ("app/a.txt", "/srv/app")))
    src = f"{s.dep.archive}/app/a.txt"
    assert str(exc.value) == (
        "The deployment failed because the application specification file specifies two "
        f"source files named {src} and {src} for the same destination (/srv/app/a.txt). "
        "Remove one of the source file paths from the AppSpec file, and then try again.")


def test_installer_apply_cleanup_removes_listed_paths_last_first(tmp_path: Path) -> None:
    s = _installer(tmp_path)
    _install(s, _spec(("app", "/srv/app")))
    again = Installer(s.view, s.dep, "1", "DISALLOW")
    assert again.apply_cleanup() == 5
    assert [s.view.entry(p) for p in ("/srv", "/srv/app", "/srv/app/a.txt")] == [None] * 3
    assert not os.path.exists(s.dep.cleanup_file)
    _install(s._replace(installer=Installer(s.view, s.dep, "1", "DISALLOW")),
             _spec(("app", "/srv/app")))  # nothing left to clash with


def test_installer_apply_cleanup_keeps_a_directory_not_empty(tmp_path: Path) -> None:
    s = _installer(tmp_path, host_files={"srv/other": "host"})
    Path(s.dep.cleanup_file).write_text("/srv\n/srv/gone\n")
    assert s.installer.apply_cleanup() == 0
    entry = s.view.entry("/srv/other")
    assert entry is not None and entry.where == "host"


def test_installer_apply_cleanup_link_is_not_followed(tmp_path: Path) -> None:
    s = _installer(tmp_path, host_files={"srv/keep": "host"})
    listed = tmp_path / "list"
    listed.write_text("/srv/keep\n")
    os.symlink(listed, s.dep.cleanup_file)
    assert s.installer.apply_cleanup() == 0
    assert s.installer.cleanup_link == str(listed)
    assert not os.path.lexists(s.dep.cleanup_file)
    assert s.view.entry("/srv/keep") is not None


def test_installer_apply_cleanup_fifo_is_not_read(tmp_path: Path) -> None:
    s = _installer(tmp_path)
    os.mkfifo(s.dep.cleanup_file)
    assert s.installer.apply_cleanup() == 0
    assert s.installer.cleanup_special == "a FIFO"
    assert not os.path.lexists(s.dep.cleanup_file)


def test_installer_2x_skips_a_cleanup_file_others_may_write(tmp_path: Path) -> None:
    s = _installer(tmp_path, generation="2", host_files={"srv/keep": "host"})
    Path(s.dep.cleanup_file).write_text("/srv/keep\n")
    os.chmod(s.dep.cleanup_file, 0o666)
    assert s.installer.apply_cleanup() == 0
    assert s.view.entry("/srv/keep") is not None
