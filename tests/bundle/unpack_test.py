"""DownloadBundle: real archives, unpacked as the agent would, never outside the root."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agentkit.bundle.unpack import TAR_FAILED, unpack

from ..archives import APPSPEC_OK, tar, zip_


@pytest.fixture(autouse=True, params=["gnu-tar", "python"])
def extractor(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test twice: GNU tar writing what we relay, and our own writer (no GNU tar)."""
    from agentkit.bundle import unpack as module

    if request.param == "gnu-tar":
        if module.gnu_tar() is None:
            pytest.skip("GNU tar is not installed here")
    else:
        monkeypatch.setattr(module, "gnu_tar", lambda: None)
    return str(request.param)


FAILS_1X = "; GNU tar refuses it and exits 2, so the deployment fails in DownloadBundle"


def _codes(out: object) -> list[str]:
    return [f.code for f in out.findings]  # type: ignore[attr-defined]


def test_unpack_tgz_extracts_files_modes_and_links(tmp_path: Path) -> None:
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", APPSPEC_OK, 0o644),
                                   ("bin/run.sh", "file", "#!/bin/sh\n", 0o755),
                                   ("bin/latest", "symlink", "run.sh", 0o777)])
    dest = tmp_path / "out"
    out = unpack(str(arc), str(dest), None, "1")
    assert out.failure is None and out.declared == "tgz" and out.content == "gzip"
    assert (dest / "appspec.yml").read_text() == APPSPEC_OK
    assert os.stat(dest / "bin/run.sh").st_mode & 0o777 == 0o755
    assert os.readlink(dest / "bin/latest") == "run.sh"
    assert out.members == 3


def test_unpack_dotdot_member_fails_agent1_and_is_dropped_by_agent2(tmp_path: Path) -> None:
    arc = tar(tmp_path / "a.tar", [("appspec.yml", "file", APPSPEC_OK, 0o644),
                                   ("../evil", "file", "x", 0o644)], gz=False)
    out1 = unpack(str(arc), str(tmp_path / "o1"), None, "1")
    assert out1.failure == TAR_FAILED
    (f,) = [f for f in out1.findings if f.code == "AK402"]
    assert f.message == ("member '../evil' contains '..'; GNU tar refuses it and exits 2, so "
                         "the deployment fails in DownloadBundle")
    assert f.agent_message == "Error extracting tar archive: 2"
    out2 = unpack(str(arc), str(tmp_path / "o2"), None, "2")
    assert out2.failure is None
    assert not (tmp_path / "evil").exists()
    assert (tmp_path / "o2/appspec.yml").exists()


def test_unpack_absolute_member_is_stripped(tmp_path: Path) -> None:
    arc = tar(tmp_path / "a.tgz", [("/etc/agentkit-test", "file", "x", 0o644)])
    out = unpack(str(arc), str(tmp_path / "o"), None, "1")
    assert out.failure is None
    assert (tmp_path / "o/etc/agentkit-test").read_text() == "x"
    assert not os.path.exists("/etc/agentkit-test")
    assert _codes(out) == ["AK401"]


def test_unpack_symlink_escape_never_writes_outside(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    arc = tar(tmp_path / "a.tgz", [("link", "symlink", str(outside), 0o777),
                                   ("link/pwned", "file", "x", 0o644)])
    out = unpack(str(arc), str(tmp_path / "o"), None, "1")
    assert not (outside / "pwned").exists()
    assert out.failure == TAR_FAILED
    assert "AK405" in _codes(out)
    assert os.readlink(tmp_path / "o/link") == str(outside)


def test_unpack_relative_link_inside_is_followed_like_tar(tmp_path: Path) -> None:
    arc = tar(tmp_path / "a.tgz", [("real/", "dir", "", 0o755), ("alias", "symlink", "real", 0o777),
                                   ("alias/f", "file", "x", 0o644)])
    out = unpack(str(arc), str(tmp_path / "o"), None, "1")
    assert out.failure is None
    assert (tmp_path / "o/real/f").read_text() == "x"


def test_unpack_device_and_fifo_are_not_created(tmp_path: Path) -> None:
    arc = tar(tmp_path / "a.tgz", [("p", "fifo", "", 0o644), ("d", "chardev", "", 0o644)])
    out = unpack(str(arc), str(tmp_path / "o"), None, "1")
    assert not os.path.lexists(tmp_path / "o/p") and not os.path.lexists(tmp_path / "o/d")
    assert _codes(out) == ["AK403", "AK403"]


@pytest.mark.parametrize("hashing", [True, False])
def test_unpack_hardlink_inside_and_escaping(tmp_path: Path, hashing: bool) -> None:
    arc = tar(tmp_path / "a.tgz", [("a", "file", "x", 0o644), ("b", "hardlink", "a", 0o644),
                                   ("c", "hardlink", "/etc/passwd", 0o644)])
    out = unpack(str(arc), str(tmp_path / "o"), None, "1", hashing=hashing)
    sha = out.db.execute("SELECT sha FROM member WHERE rel = 'a'").fetchone()[0]
    assert sha == (hashlib.sha256(b"x").hexdigest() if hashing else None)
    assert os.stat(tmp_path / "o/a").st_ino == os.stat(tmp_path / "o/b").st_ino
    assert not (tmp_path / "o/c").exists()
    assert out.failure == TAR_FAILED


def test_unpack_zip_declared_tgz_fails_like_tar(tmp_path: Path) -> None:
    arc = zip_(tmp_path / "a.zip", [("appspec.yml", "file", APPSPEC_OK, 0o644)])
    out = unpack(str(arc), str(tmp_path / "o"), "tgz", "1")
    assert out.failure == TAR_FAILED
    (f,) = out.findings
    assert f.message == "declared as a tgz bundle, but the file is zip, not a tar archive"
    assert f.hint == "upload it with bundle type zip, or build the archive the type says"


def test_unpack_plain_tar_declared_tgz_fails(tmp_path: Path) -> None:
    arc = tar(tmp_path / "a.tar", [("appspec.yml", "file", APPSPEC_OK, 0o644)], gz=False)
    out = unpack(str(arc), str(tmp_path / "o"), "tgz", "1")
    assert out.failure == TAR_FAILED
    assert out.findings[0].message == ("declared as a tgz bundle, but the file is not "
                                       "gzip-compressed (tar -z refuses it)")


def test_unpack_tgz_declared_tar_works(tmp_path: Path) -> None:
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", APPSPEC_OK, 0o644)])
    assert unpack(str(arc), str(tmp_path / "o"), "tar", "1").failure is None


def test_unpack_zip_strips_dotdot_silently(tmp_path: Path) -> None:
    arc = zip_(tmp_path / "a.zip", [("appspec.yml", "file", APPSPEC_OK, 0o644),
                                    ("../x.txt", "file", "x", 0o644),
                                    ("lnk", "symlink", "appspec.yml", 0o777)])
    out = unpack(str(arc), str(tmp_path / "o"), None, "1")
    assert out.failure is None
    assert (tmp_path / "o/x.txt").read_text() == "x"
    assert not (tmp_path / "x.txt").exists()
    assert os.readlink(tmp_path / "o/lnk") == "appspec.yml"
    assert _codes(out) == ["AK406"]


def test_unpack_tar_declared_zip_fails_like_rubyzip(tmp_path: Path) -> None:
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", APPSPEC_OK, 0o644)])
    out = unpack(str(arc), str(tmp_path / "o"), "zip", "1")
    assert out.failure == "Zip end of central directory signature not found"


def test_unpack_strips_single_top_directory_with_appspec(tmp_path: Path) -> None:
    arc = tar(tmp_path / "a.tgz", [("release-42/appspec.yml", "file", APPSPEC_OK, 0o644),
                                   ("release-42/app.txt", "file", "x", 0o644)])
    out = unpack(str(arc), str(tmp_path / "o"), None, "1")
    assert out.stripped == "release-42"
    assert sorted(os.listdir(tmp_path / "o")) == ["app.txt", "appspec.yml"]


def test_unpack_keeps_top_directory_without_appspec(tmp_path: Path) -> None:
    arc = tar(tmp_path / "a.tgz", [("release-42/app.txt", "file", "x", 0o644)])
    out = unpack(str(arc), str(tmp_path / "o"), None, "1")
    assert out.stripped is None
    assert os.listdir(tmp_path / "o") == ["release-42"]


def test_unpack_truncated_tgz_fails(tmp_path: Path) -> None:
    arc = tar(tmp_path / "a.tar", [("big", "file", os.urandom(100_000), 0o644)], gz=False)
    data = arc.read_bytes()[:30_000]
    arc.write_bytes(data)
    out = unpack(str(arc), str(tmp_path / "o"), None, "1")
    assert out.failure == TAR_FAILED
    assert out.findings[0].message == ("tar cannot read the archive: Unexpected EOF in archive "
                                       "(after member 'big')")


def _gnu_tar_accepts(arc: Path, tmp_path: Path) -> bool:
    """What the agent's own `tar -xzf` says of the archive (the tests check we agree)."""
    out = tmp_path / "by-gnu-tar"
    out.mkdir(exist_ok=True)
    return subprocess.run(["tar", "-xzf", str(arc), "-C", str(out)],
                          stderr=subprocess.DEVNULL).returncode == 0


def _gzip_bundle(tmp_path: Path) -> tuple[Path, bytes]:
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", APPSPEC_OK, 0o644),
                                   ("big", "file", os.urandom(300_000), 0o644)])
    return arc, arc.read_bytes()


@pytest.mark.parametrize(("damage", "message"), [
    (lambda gz: gz[:-20], "gzip: unexpected end of file"),
    (lambda gz: gz + b"not gzip", "gzip: decompression OK, trailing garbage ignored"),
    (lambda gz: gz[:-8] + bytes(b ^ 0xFF for b in gz[-8:-4]) + gz[-4:],
     "gzip: invalid compressed data--crc error"),
    (lambda gz: gz[:30] + b"\xff" * 64 + gz[94:], "gzip: invalid compressed data--format "
                                                   "violated"),
], ids=["truncated", "trailing-garbage", "crc", "corrupt"])
def test_unpack_damaged_gzip_fails_as_tar_z_does(tmp_path: Path, damage: Any,
                                                 message: str) -> None:
    arc, gz = _gzip_bundle(tmp_path)
    arc.write_bytes(damage(gz))
    out = unpack(str(arc), str(tmp_path / "o"), None, "1")
    assert out.failure == TAR_FAILED
    assert [(f.code, f.message, f.agent_message) for f in out.findings] == [
        ("AK400", f"tar cannot read the archive: {message}", TAR_FAILED)]
    assert not _gnu_tar_accepts(arc, tmp_path)


@pytest.mark.parametrize("extra", [b"\0" * 5000, "again"], ids=["zeros", "two-members"])
def test_unpack_gzip_padding_and_members_are_read_as_tar_z_does(tmp_path: Path,
                                                                 extra: Any) -> None:
    arc, gz = _gzip_bundle(tmp_path)
    arc.write_bytes(gz + (gz if extra == "again" else extra))
    out = unpack(str(arc), str(tmp_path / "o"), None, "1")
    assert out.failure is None and out.findings == []
    assert (tmp_path / "o" / "appspec.yml").read_text() == APPSPEC_OK
    assert _gnu_tar_accepts(arc, tmp_path)


def test_unpack_unknown_content_without_type_is_bad_input(tmp_path: Path) -> None:
    from agentkit.errors import BadArchive

    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"hello")
    with pytest.raises(BadArchive) as exc:
        unpack(str(junk), str(tmp_path / "o"), None, "1")
    assert str(exc.value) == (f"{junk}: not a tar, tar.gz, zip or directory (unknown content). "
                              "Pass --type to say how CodeDeploy is told to read it.")


@pytest.mark.parametrize("appspec_first", [True, False])
def test_unpack_lean_writes_only_appspec_and_hook_scripts(tmp_path: Path,
                                                          appspec_first: bool) -> None:
    spec = ("version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: s/run.sh\n")
    members = [("s/run.sh", "file", "#!/bin/sh\r\n", 0o755), ("web/big.css", "file", "x" * 10,
                                                                0o644),
               ("web/link.css", "symlink", "big.css", 0o777)]
    appspec_member = ("rel/appspec.yml", "file", spec, 0o644)
    members = [(f"rel/{n}", k, d, m) for n, k, d, m in members]
    members = [appspec_member, *members] if appspec_first else [*members, appspec_member]
    arc = tar(tmp_path / "a.tgz", members)
    out = unpack(str(arc), str(tmp_path / "o"), None, "1", lean=True)
    assert out.failure is None and out.stripped == "rel"
    assert (tmp_path / "o/s/run.sh").read_bytes() == b"#!/bin/sh\r\n"
    assert os.stat(tmp_path / "o/s/run.sh").st_mode & 0o777 == 0o755
    assert not (tmp_path / "o/web/big.css").exists()
    assert "web/big.css" in out.listing and "s/run.sh" not in out.listing
    assert "appspec.yml" not in out.listing and "web/link.css" not in out.listing
    assert (out.listing.count_under("web"), out.listing.count_under("s")) == (1, 0)
    assert os.readlink(tmp_path / "o/web/link.css") == "big.css"


@pytest.mark.parametrize("name", ["a", "a/b", "a/b/", ".env", "..a", "a/..b", "a/.b/c",
                                  "a/./b", "a/../b", "..", ".", "./a", "a//b", "a/.", "a/..",
                                  "", "/a", "a/b/..", "a\nb", "ü/x"])
def test_unpack_plain_names_need_no_normalising(name: str) -> None:
    from agentkit.bundle.unpack import _PLAIN

    parts = [p for p in name.split("/") if p not in ("", ".")]
    plain = not name.startswith("/") and ".." not in parts and "/".join(parts) == \
        name.rstrip("/") and "//" not in name and name not in ("", ".")
    assert bool(_PLAIN.match(name)) == plain


def test_unpack_file_over_directory_fails_as_tar_does(tmp_path: Path) -> None:
    arc = tar(tmp_path / "a.tgz", [("x", "dir", "", 0o755), ("x/f", "file", "1", 0o644),
                                   ("x", "file", "2", 0o644)])
    out = unpack(str(arc), str(tmp_path / "o"), None, "1")
    assert out.failure == TAR_FAILED
    assert [(f.code, f.message, f.agent_message) for f in out.findings] == [
        ("AK411", "file 'x' would replace the directory 'x', which holds members extracted "
         f"before it (tar: Cannot open: File exists){FAILS_1X}", TAR_FAILED)]
    assert (tmp_path / "o" / "x" / "f").read_text() == "1"
    assert not _gnu_tar_accepts(arc, tmp_path)


@pytest.mark.parametrize("fmt", ["gnu", "pax"])
def test_unpack_long_names_and_extended_headers(tmp_path: Path, fmt: str) -> None:
    import io
    import tarfile

    long = "d/" + "x" * 120 + "/" + "ü" * 60 + ".txt"
    arc = tmp_path / "a.tgz"
    with tarfile.open(arc, "w:gz", format=tarfile.GNU_FORMAT if fmt == "gnu"
                      else tarfile.PAX_FORMAT) as t:
        for name, data, mtime in (("appspec.yml", APPSPEC_OK, 1700000000.0),
                                  (long, "long", 1700000000.25)):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data.encode()), mtime, 0o640
            t.addfile(info, io.BytesIO(data.encode()))
        t.addfile(tarfile.TarInfo("l" * 150), io.BytesIO(b""))
    out = unpack(str(arc), str(tmp_path / "o"), None, "1")
    assert out.failure is None
    assert (tmp_path / "o" / long).read_text() == "long"
    st = os.stat(tmp_path / "o" / long)
    assert st.st_mode & 0o777 == 0o640
    assert st.st_mtime == (1700000000.25 if fmt == "pax" else 1700000000)
    assert (tmp_path / "o" / ("l" * 150)).exists()


def test_unpack_truncated_zip_fails_with_rubyzips_message(tmp_path: Path) -> None:
    # unzip exits 9, then the agent's rubyzip fallback fails too: its message is the error
    from agentkit.bundle.unpack import RUBYZIP_NOT_ZIP

    arc = zip_(tmp_path / "a.zip", [("appspec.yml", "file", APPSPEC_OK, 0o644),
                                    ("big", "file", os.urandom(50_000), 0o644)])
    arc.write_bytes(arc.read_bytes()[:30_000])
    out = unpack(str(arc), str(tmp_path / "o"), "zip", "1")
    assert out.failure == RUBYZIP_NOT_ZIP
    assert [(f.code, f.message, f.agent_message) for f in out.findings] == [
        ("AK400", "unzip and the agent's rubyzip fallback cannot read the archive: it has no "
                  "end of central directory (truncated, or not a zip)", RUBYZIP_NOT_ZIP)]
    if shutil.which("unzip") is None:
        pytest.skip("unzip is not installed here (.ci/run installs it)")
    assert subprocess.run(["unzip", "-qo", str(arc), "-d", str(tmp_path / "u")],
                          capture_output=True).returncode == 9


def test_unpack_directory_bundle_copied_as_cp_r_without_preserve(tmp_path: Path) -> None:
    # codedeploy-local --type directory: FileUtils.cp_r, no :preserve, no top-level strip
    src = tmp_path / "build"
    (src / "release" / "sub").mkdir(parents=True)
    (src / "release" / "appspec.yml").write_text(APPSPEC_OK)
    (src / "release" / "a").write_text("a")
    os.chmod(src / "release" / "a", 0o664)
    (src / "release" / "sub" / "run").write_text("#!/bin/sh\n")
    os.chmod(src / "release" / "sub" / "run", 0o4775)
    os.chmod(src / "release" / "sub", 0o700)
    (src / "release" / "l").symlink_to("a")
    dest = tmp_path / "o"
    out = unpack(str(src), str(dest), None, "1")
    assert (out.declared, out.stripped, out.failure) == ("directory", None, None)
    modes = {str(p.relative_to(dest)): oct(os.lstat(p).st_mode & 0o7777)
             for p in dest.rglob("*") if not p.is_symlink()}
    assert modes == {"release": "0o755", "release/appspec.yml": "0o644",
                     "release/a": "0o644", "release/sub": "0o755", "release/sub/run": "0o4755"}
    assert os.readlink(dest / "release" / "l") == "a"


def test_unpack_zip_modes_as_unzip_leaves_them(tmp_path: Path) -> None:
    # the agent's `unzip -qo`: modes from the archive, setuid dropped (no -K), directories'
    # modes too; compared with the real unzip on the same zip
    import zipfile

    arc = tmp_path / "b.zip"
    with zipfile.ZipFile(arc, "w") as z:
        for name, mode, data in (("appspec.yml", 0o100644, APPSPEC_OK), ("a", 0o104755, "a"),
                                 ("b", 0o100600, "b"), ("d/", 0o40700, ""),
                                 ("d/c", 0o100640, "c")):
            info = zipfile.ZipInfo(name)
            info.create_system = 3  # Unix: the mode is in the high bits
            info.external_attr = mode << 16 | (0x10 if name.endswith("/") else 0)
            z.writestr(info, data)
    out = unpack(str(arc), str(tmp_path / "ours"), None, "1")
    assert out.failure is None

    def modes(root: Path) -> dict[str, str]:
        return {str(p.relative_to(root)): oct(os.lstat(p).st_mode & 0o7777)
                for p in root.rglob("*")}

    assert modes(tmp_path / "ours") == {"a": "0o755", "b": "0o600", "d": "0o700",
                                        "d/c": "0o640", "appspec.yml": "0o644"}
    if shutil.which("unzip") is None:
        pytest.skip("unzip is not installed here (.ci/run installs it)")
    subprocess.run(["unzip", "-qo", str(arc), "-d", str(tmp_path / "unzip")], check=True)
    assert modes(tmp_path / "ours") == modes(tmp_path / "unzip")


def _findings(out: Any, arc: Path) -> list[tuple[str, str, str]]:
    return [(f.code, f.path.replace(str(arc), "ARC"), f.message) for f in out.findings]


@pytest.mark.parametrize(("links", "first"), [
    ([("a", "a")], "'a' -> 'a'"), ([("a", "b"), ("b", "a")], "'a' -> 'b'"),
    ([("a", "a/x")], "'a' -> 'a/x'")], ids=["self", "pair", "growing"])
def test_unpack_member_beneath_symlink_loop_is_refused_as_tar_does(
        tmp_path: Path, links: list[tuple[str, str]], first: str) -> None:
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", APPSPEC_OK, 0o644),
                                   *[(n, "symlink", t, 0o777) for n, t in links],
                                   ("a/file", "file", "x", 0o644)])
    for lean in (False, True):
        out = unpack(str(arc), str(tmp_path / f"o{lean}"), None, "1", lean=lean)
        assert out.failure == TAR_FAILED
        assert _findings(out, arc) == [(
            "AK411", "ARC:a/file", f"member 'a/file' lies beneath the symlink {first}, which "
            f"leads back into itself (tar: Too many levels of symbolic links){FAILS_1X}")]
    assert not _gnu_tar_accepts(arc, tmp_path)


def test_unpack_symlink_over_directory_empty_replaced_full_refused(tmp_path: Path) -> None:
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", APPSPEC_OK, 0o644),
                                   ("e", "dir", "", 0o755), ("e", "symlink", "x", 0o777),
                                   ("f/g", "file", "x", 0o644), ("f", "symlink", "x", 0o777)])
    for lean in (False, True):
        dest = tmp_path / f"o{lean}"
        out = unpack(str(arc), str(dest), None, "1", lean=lean)
        assert out.failure == TAR_FAILED
        assert _findings(out, arc) == [
            ("AK412", "ARC:e", "symlink 'e' -> 'x' replaces the directory 'e' extracted before "
             "it: tar removes the empty directory and makes the symlink"),
            ("AK411", "ARC:f", "symlink 'f' -> 'x' would replace the directory 'f', which holds "
             f"members extracted before it (tar: Cannot create symlink: File exists){FAILS_1X}")]
        assert os.readlink(dest / "e") == "x"
        assert os.path.isdir(dest / "f") and not os.path.islink(dest / "f")


def test_unpack_member_beneath_link_to_nothing_yet_is_refused(tmp_path: Path) -> None:
    # `l -> m` with no m yet: tar cannot open l/c; m arriving later as a link changes nothing
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", APPSPEC_OK, 0o644),
                                   ("l", "symlink", "m", 0o777), ("l/c", "file", "x", 0o644),
                                   ("m", "symlink", "q", 0o777)])
    for lean in (False, True):
        dest = tmp_path / f"o{lean}"
        out = unpack(str(arc), str(dest), None, "1", lean=lean)
        assert out.failure == TAR_FAILED
        assert _findings(out, arc) == [(
            "AK411", "ARC:l/c", "member 'l/c' lies beneath the symlink 'l' -> 'm', and 'm' is "
            f"not a directory extracted before it (tar: No such file or directory){FAILS_1X}")]
        assert os.readlink(dest / "m") == "q"
    assert not _gnu_tar_accepts(arc, tmp_path)


def test_unpack_member_through_archive_link_is_said(tmp_path: Path) -> None:
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", APPSPEC_OK, 0o644),
                                   ("real/", "dir", "", 0o755), ("alias", "symlink", "real", 0o777),
                                   ("alias/f", "file", "x", 0o644)])
    out = unpack(str(arc), str(tmp_path / "o"), None, "1")
    assert out.failure is None
    assert _findings(out, arc) == [
        ("AK412", "ARC:alias/f", "member 'alias/f' is written through the symlink 'alias' -> "
         "'real' of the archive itself: tar extracts it as 'real/f'")]


def test_unpack_directory_replaced_by_link_never_changes_its_target(tmp_path: Path) -> None:
    # the directory's mode and time (tar's, at the end) must not follow the link that
    # replaced it, nor a link replacing a parent, to a file of this machine
    victim = tmp_path / "victim"
    victim.write_text("x")
    os.chmod(victim, 0o600)
    os.utime(victim, (1000, 1000))
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", APPSPEC_OK, 0o644),
                                   ("d", "dir", "", 0o555), ("d", "symlink", str(victim), 0o777)])
    for lean in (False, True):
        out = unpack(str(arc), str(tmp_path / f"o{lean}"), None, "1", lean=lean)
        assert out.failure is None
        assert os.readlink(tmp_path / f"o{lean}" / "d") == str(victim)
        assert (os.stat(victim).st_mode & 0o777, os.stat(victim).st_mtime) == (0o600, 1000)


def test_unpack_hardlink_target_climbing_is_stripped_as_tar_does(tmp_path: Path) -> None:
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", APPSPEC_OK, 0o644),
                                   ("f", "file", "x", 0o644), ("h", "hardlink", "../f", 0o644),
                                   ("g", "hardlink", "x/../../f", 0o644)])
    for lean in (False, True):
        dest = tmp_path / f"o{lean}"
        out = unpack(str(arc), str(dest), None, "1", lean=lean)
        assert out.failure is None
        assert _findings(out, arc) == [
            ("AK412", "ARC:h", "hard link 'h' -> '../f': the target climbs with '..'; tar "
             "strips '../' and links 'f'"),
            ("AK412", "ARC:g", "hard link 'g' -> 'x/../../f': the target climbs with '..'; tar "
             "strips 'x/../../' and links 'f'")]
        if not lean:
            assert os.stat(dest / "h").st_ino == os.stat(dest / "f").st_ino
    assert _gnu_tar_accepts(arc, tmp_path)


def _raw(tmp_path: Path, name: str) -> Path:
    from .. import hostile

    (tmp_path / name).mkdir()
    return hostile.BUILDERS[name](tmp_path / name)


def test_unpack_pax_name_is_cut_at_nul_as_tar_does(tmp_path: Path) -> None:
    arc = _raw(tmp_path, "pax-path-nul-in-directory")
    out = unpack(str(arc), str(tmp_path / "o"), None, "1")
    assert out.failure is None
    assert _findings(out, arc) == [
        ("AK412", "ARC:d", "member 'd': its PAX name 'd\\x00x/f' holds a NUL byte: GNU tar reads "
         "it up to there, as 'd'")]
    assert (tmp_path / "o" / "d").read_text() == "x"


def test_unpack_pax_name_wins_over_gnu_long_name(tmp_path: Path) -> None:
    arc = _raw(tmp_path, "pax-path-disagrees-with-gnu-longname")
    out = unpack(str(arc), str(tmp_path / "o"), None, "1")
    long = "gnu-name" + "x" * 100
    assert _findings(out, arc) == [
        ("AK412", "ARC:pax-name", f"member 'pax-name': its PAX name 'pax-name' and its GNU long "
         f"name {long!r} differ: GNU tar takes the PAX one, readers that take the other extract "
         f"{long!r}")]
    assert sorted(os.listdir(tmp_path / "o")) == ["appspec.yml", "pax-name"]
    assert _gnu_tar_accepts(arc, tmp_path)
    assert sorted(os.listdir(tmp_path / "by-gnu-tar")) == ["appspec.yml", "pax-name"]


def test_unpack_base256_size_that_fits_octal_is_said(tmp_path: Path) -> None:
    arc = _raw(tmp_path, "tar-base256-size")
    out = unpack(str(arc), str(tmp_path / "o"), None, "1")
    assert out.failure is None
    assert _findings(out, arc) == [
        ("AK412", "ARC:f", "member 'f': its size (1) is written in GNU base-256, which tar uses "
         "only for 8 GiB or more: a crafted header; readers that only know octal read another "
         "size and lose their place in the archive")]


def test_unpack_negative_size_names_its_member(tmp_path: Path) -> None:
    arc = _raw(tmp_path, "tar-negative-size")
    out = unpack(str(arc), str(tmp_path / "o"), None, "1")
    assert out.failure == TAR_FAILED
    assert _findings(out, arc) == [
        ("AK400", "ARC", "tar cannot read the archive: Archive value -1 is out of off_t range "
         "0..9223372036854775807 (member 'f')")]


@pytest.mark.parametrize(("record", "message"), [
    ({"size": "1e400"}, "Malformed extended header: invalid size=1e400"),
    ({"uid": "1e400"}, "Malformed extended header: invalid uid=1e400"),
    ({"size": "1.5"}, "Malformed extended header: invalid size=1.5"),
    ({"gid": "99999999999999999999999"}, "Extended header gid=99999999999999999999999 is out "
     "of range 0..4294967295")], ids=["size-exponent", "uid-exponent", "size-fraction",
                                      "gid-huge"])
def test_unpack_pax_integer_records_are_judged_as_tar_does(tmp_path: Path, record: Any,
                                                           message: str) -> None:
    from ..hostile import _pax_member, _raw_tar

    arc = _raw_tar(tmp_path, "a.tgz", [_pax_member(record)])
    out = unpack(str(arc), str(tmp_path / "o"), None, "1")
    assert out.failure == TAR_FAILED
    assert _findings(out, arc) == [
        ("AK400", "ARC", f"tar cannot read the archive: {message} (after member "
         "'appspec.yml')")]
    assert not _gnu_tar_accepts(arc, tmp_path)


@pytest.mark.parametrize("name", ["sparse-member-extended-absolute",
                                  "sparse-member-pax-absolute"])
def test_unpack_gnu_sparse_members_are_read_as_tar_does(tmp_path: Path, name: str) -> None:
    arc = _raw(tmp_path, name)
    out = unpack(str(arc), str(tmp_path / "o"), None, "1")
    assert out.failure is None
    assert _findings(out, arc) == [
        ("AK401", "ARC:/tmp/agentkit-sparse-escape", "member '/tmp/agentkit-sparse-escape' has "
         "an absolute path; tar strips the leading '/' and extracts it inside the bundle")]
    assert sorted(os.listdir(tmp_path / "o")) == ["appspec.yml", "tmp"]
    assert os.listdir(tmp_path / "o" / "tmp") == ["agentkit-sparse-escape"]
    assert _gnu_tar_accepts(arc, tmp_path)


def test_unpack_lean_deep_paths_are_a_finding_not_a_recursion(tmp_path: Path) -> None:
    deep = "/".join(["d"] * 2040)
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", APPSPEC_OK, 0o644),
                                   (f"{deep}/f", "file", "x", 0o644)])
    out = unpack(str(arc), str(tmp_path / "o"), None, "1", lean=True)
    assert out.failure == TAR_FAILED
    ((code, path, message),) = _findings(out, arc)
    assert (code, path) == ("AK400", "ARC")
    assert message.startswith("tar cannot read the archive: [Errno 36] File name too long: ")
    assert message.endswith(" characters)")  # the path, cut to a readable length
    assert len(message) < 600


@pytest.mark.parametrize(("system", "extracted", "message"), [
    (3, ["..\\evil"], "member '..\\\\evil' climbs out of the bundle on Windows ('..\\'); unzip "
     "on Linux takes its backslashes as part of one file name and extracts it as '..\\\\evil'"),
    (0, ["evil"], "member '..\\\\evil' climbs out of the bundle; unzip silently strips the "
     "'../' and '/' and extracts it as 'evil'")], ids=["unix", "ms-dos"])
def test_unpack_zip_backslash_names_as_unzip_reads_them(tmp_path: Path, system: int,
                                                       extracted: list[str], message: str) -> None:
    import zipfile

    arc = tmp_path / "a.zip"
    with zipfile.ZipFile(arc, "w") as z:
        z.writestr("appspec.yml", APPSPEC_OK)
        info = zipfile.ZipInfo("..\\evil")
        info.create_system = system
        z.writestr(info, "x")
    out = unpack(str(arc), str(tmp_path / "o"), None, "1")
    assert out.failure is None
    assert _findings(out, arc)[0] == ("AK406", "ARC:..\\evil", message)
    # from MS-DOS, unzip warns of the backslashes, and rubyzip adds the literal name
    fallback = ["..\\evil"] if system == 0 else []
    assert [f.code for f in out.findings] == ["AK406"] + ["AK413"] * len(fallback)
    assert sorted(os.listdir(tmp_path / "o")) == sorted(["appspec.yml", *extracted, *fallback])
    if shutil.which("unzip") is None:
        pytest.skip("unzip is not installed here (.ci/run installs it)")
    (tmp_path / "unzip").mkdir()
    subprocess.run(["unzip", "-qo", str(arc), "-d", str(tmp_path / "unzip")],
                   stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    assert sorted(os.listdir(tmp_path / "unzip")) == sorted(["appspec.yml", *extracted])


def _powershell_zip(path: Path, names: list[str], system: int = 0) -> Path:
    """A zip as Windows PowerShell 5.1's Compress-Archive writes it: names with `\\`, made
    on MS-DOS/FAT (version made by 0), no Unix modes."""
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name in names:
            info = zipfile.ZipInfo(name)
            info.create_system = system
            body = APPSPEC_OK if name.endswith("appspec.yml") else f"#!/bin/bash\n# {name}\n"
            z.writestr(info, body)
    return path


def _real_unzip(arc: Path, tmp_path: Path) -> tuple[int, str, list[str]]:
    if shutil.which("unzip") is None:
        pytest.skip("unzip is not installed here (.ci/run installs it)")
    dest = tmp_path / "unzip"
    done = subprocess.run(["unzip", "-qo", str(arc), "-d", str(dest)], capture_output=True,
                          text=True)
    return done.returncode, done.stdout + done.stderr, sorted(
        os.path.relpath(os.path.join(d, f), dest) for d, _, fs in os.walk(dest) for f in fs)


def test_unpack_compress_archive_zip_gets_unzips_tree_and_rubyzips_literal_names(
        tmp_path: Path) -> None:
    arc = _powershell_zip(tmp_path / "app.zip", ["appspec.yml", "scripts\\start.sh",
                                                 "scripts\\stop.sh"])
    out = unpack(str(arc), str(tmp_path / "o"), None, "1")
    assert out.failure is None
    assert _findings(out, arc) == [(
        "AK413", "ARC:scripts\\start.sh",
        "member 'scripts\\\\start.sh' and 1 more use '\\' as the path separator (a zip made by "
        "Windows PowerShell 5.1's Compress-Archive): unzip extracts them as 'scripts/start.sh', "
        "warns that the archive \"appears to use backslashes as path separators\" and exits 1; "
        "the agent then extracts the whole zip again with rubyzip (command_executor.rb), which "
        "takes each such name literally: the bundle also gets a file named "
        "'scripts\\\\start.sh' at its root, and Install copies it")]
    (finding,) = out.findings
    assert finding.agent_message == (
        "Error extracting zip archive: 1, with default system unzip util. Hence falling back "
        "to ruby unzip to mitigate any partially unzipped or skipped zip files.")
    assert finding.hint == (
        "make the zip with '/' as the separator: `zip -r ../app.zip .` (or 7z, Python's "
        "zipfile, `agentkit bundle`, PowerShell 7's Compress-Archive); in Windows PowerShell "
        "5.1 use [IO.Compression.ZipFile] and name each entry with '/' instead of "
        "Compress-Archive")
    dest = tmp_path / "o"
    assert sorted(os.listdir(dest)) == ["appspec.yml", "scripts", "scripts\\start.sh",
                                        "scripts\\stop.sh"]
    assert sorted(os.listdir(dest / "scripts")) == ["start.sh", "stop.sh"]
    assert (dest / "scripts\\start.sh").read_text() == "#!/bin/bash\n# scripts\\start.sh\n"
    assert (dest / "scripts\\start.sh").stat().st_mode & 0o7777 == 0o644
    code, said, tree = _real_unzip(arc, tmp_path)  # the first half, as unzip does it
    assert code == 1 and "appears to use backslashes as path separators" in said
    assert tree == ["appspec.yml", "scripts/start.sh", "scripts/stop.sh"]


def test_unpack_compress_archive_of_a_folder_leaves_no_appspec_at_the_root(
        tmp_path: Path) -> None:
    # Compress-Archive -Path app: every name starts with `app\`; unzip's `app/` directory and
    # rubyzip's `app\appspec.yml` side by side, so the agent strips nothing
    arc = _powershell_zip(tmp_path / "app.zip", ["app\\appspec.yml", "app\\scripts\\start.sh"])
    out = unpack(str(arc), str(tmp_path / "o"), None, "1")
    assert [f.code for f in out.findings] == ["AK413"]
    assert out.stripped is None
    assert sorted(os.listdir(tmp_path / "o")) == ["app", "app\\appspec.yml",
                                                  "app\\scripts\\start.sh"]


def test_unpack_backslash_names_from_unix_are_one_file_name_silently(tmp_path: Path) -> None:
    arc = _powershell_zip(tmp_path / "app.zip", ["appspec.yml", "scripts\\start.sh"], system=3)
    out = unpack(str(arc), str(tmp_path / "o"), None, "1")
    assert _findings(out, arc) == [(
        "AK413", "ARC:scripts\\start.sh",
        "member 'scripts\\\\start.sh' uses '\\' as the path separator: unzip on Linux takes it "
        "as part of the name and extracts a file named 'scripts\\\\start.sh' at the bundle's "
        "root, not 'scripts/start.sh'")]
    assert sorted(os.listdir(tmp_path / "o")) == ["appspec.yml", "scripts\\start.sh"]
    code, said, tree = _real_unzip(arc, tmp_path)
    assert (code, said, tree) == (0, "", ["appspec.yml", "scripts\\start.sh"])


@pytest.mark.parametrize(("members", "findings", "accepted"), [
    ([("f", "file", "x", 0o644), ("f/x", "file", "y", 0o644)],
     [("AK411", "ARC:f/x", "member 'f/x' lies beneath 'f', a file extracted before it, not a "
       f"directory (tar: Not a directory){FAILS_1X}")], False),
    ([("p", "fifo", "", 0o644), ("p/x", "file", "y", 0o644)],
     [("AK403", "ARC:p", "member 'p' is a fifo; the agent (as root) creates it on the instance, "
       "verify does not"),
      ("AK411", "ARC:p/x", "member 'p/x' lies beneath 'p', a fifo extracted before it, not a "
       f"directory (tar: Not a directory){FAILS_1X}")], False),
    ([("f", "file", "x", 0o644), ("f", "dir", "", 0o755), ("f/x", "file", "y", 0o644)],
     [("AK412", "ARC:f/", "directory 'f/' replaces 'f', a file extracted before it: tar "
       "removes it and makes the directory")], True),
    ([("d", "dir", "", 0o755), ("d", "file", "y", 0o644)],
     [("AK412", "ARC:d", "file 'd' replaces the directory 'd' extracted before it: tar removes "
       "the empty directory and makes the file")], True),
    ([("f", "file", "x", 0o644), ("d/x", "file", "x", 0o644), ("d", "hardlink", "f", 0o644)],
     [("AK411", "ARC:d", "hard link 'd' would replace the directory 'd', which holds members "
       f"extracted before it (tar: Cannot hard link: File exists){FAILS_1X}")], False),
    ([("l", "symlink", "", 0o777)],
     [("AK411", "ARC:l", "symlink 'l' has an empty target (tar: Cannot create symlink: No such "
       f"file or directory){FAILS_1X}")], False),
], ids=["beneath-file", "beneath-fifo", "dir-over-file", "file-over-empty-dir",
        "hardlink-over-full-dir", "empty-link"])
def test_unpack_member_where_others_left_no_room_as_tar_does(
        tmp_path: Path, members: list[Any], findings: list[Any], accepted: bool) -> None:
    arc = tar(tmp_path / "a.tgz", [("appspec.yml", "file", APPSPEC_OK, 0o644), *members])
    for lean in (False, True):
        out = unpack(str(arc), str(tmp_path / f"o{lean}"), None, "1", lean=lean)
        assert (out.failure, _findings(out, arc)) == (None if accepted else TAR_FAILED, findings)
    assert _gnu_tar_accepts(arc, tmp_path) == accepted


def test_unpack_zip_name_flagged_utf8_that_is_not_is_undetermined(tmp_path: Path) -> None:
    from .. import hostile

    arc = _raw(tmp_path, "zip-name-flagged-utf8-is-not")
    out = unpack(str(arc), str(tmp_path / "o"), None, "1")
    assert (out.failure, out.too_big) == (None, "member 'a\\udca3b': the zip says its name is "
                                          "UTF-8, and it is not; unzip extracts it under these "
                                          "bytes, verify cannot read the zip past it")
    assert _findings(out, arc) == [("AK407", "ARC:a\udca3b", out.too_big)]
    assert hostile.HOSTILE["zip-name-flagged-utf8-is-not"] == ("a\udca3b",)
    if shutil.which("unzip") is None:
        pytest.skip("unzip is not installed here (.ci/run installs it)")
    (tmp_path / "unzip").mkdir()
    subprocess.run(["unzip", "-qo", str(arc), "-d", str(tmp_path / "unzip")], check=True)
    assert sorted(os.listdir(tmp_path / "unzip")) == sorted(["a\udca3b", "appspec.yml"])


def test_unpack_zip_symlink_with_damaged_data_fails_as_unzip_does(tmp_path: Path) -> None:
    # the link's target is the entry's data: deflate damage there is the archive's, not ours
    import zipfile

    arc = tmp_path / "a.zip"
    with zipfile.ZipFile(arc, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("appspec.yml", APPSPEC_OK)
        info = zipfile.ZipInfo("link")
        info.create_system, info.compress_type = 3, zipfile.ZIP_DEFLATED
        info.external_attr = 0o120777 << 16
        z.writestr(info, "target/" * 20)
    raw = bytearray(arc.read_bytes())
    at = raw.index(b"PK\x03\x04", 4) + 30 + len("link")  # the link entry's deflated data
    raw[at:at + 4] = b"\xff\xff\xff\xff"
    arc.write_bytes(bytes(raw))
    out = unpack(str(arc), str(tmp_path / "o"), None, "1")
    (finding,) = out.findings
    assert (finding.code, out.failure) == ("AK400", finding.agent_message)
    assert finding.message.startswith("unzip and the agent's rubyzip fallback cannot read the "
                                      "archive: member 'link' is damaged (")
    assert finding.message.endswith("); the agent's error is rubyzip's message for this damage, "
                                    "which verify cannot tell exactly")
    if shutil.which("unzip") is None:
        pytest.skip("unzip is not installed here (.ci/run installs it)")
    assert subprocess.run(["unzip", "-qo", str(arc), "-d", str(tmp_path / "unzip")],
                          capture_output=True).returncode != 0
