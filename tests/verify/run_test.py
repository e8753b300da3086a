"""verify.run: the owner of one verify's resources (work directory, lock, image, revision)."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

import pytest

from agentkit.errors import BadConfig, BadInput
from agentkit.verify import run
from agentkit.verify.options import AgentOptions, BoxOptions, Options

from ..archives import tar


def test_work_dir_without_flags_is_a_fresh_temporary_root() -> None:
    work, temporary = run.work_dir(None, None)
    try:
        assert temporary is True
        assert os.path.basename(work).startswith("agentkit-verify-")
        assert os.listdir(work) == []
        assert os.stat(work).st_mode & 0o777 == 0o755
    finally:
        os.rmdir(work)


def test_work_dir_state_dir_is_created_absolute_and_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run.work_dir("a/state", None) == (str(tmp_path / "a" / "state"), False)
    assert (tmp_path / "a" / "state").is_dir()


def test_work_dir_state_dir_wins_over_keep(tmp_path: Path) -> None:
    assert run.work_dir(str(tmp_path / "s"), str(tmp_path / "k")) == (str(tmp_path / "s"), False)
    assert not (tmp_path / "k").exists()


def test_work_dir_keep_on_a_file_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(BadInput) as exc:
        run.work_dir(None, str(tmp_path / "f"))
    assert str(exc.value) == f"{tmp_path}/f: --keep must be a directory."


def test_work_dir_uncreatable_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(BadInput) as exc:
        run.work_dir(str(tmp_path / "f" / "sub"), None)
    assert str(exc.value) == (f"{tmp_path}/f/sub: --state-dir cannot be created (Not a "
                              "directory); give a directory verify may write.")


def _held(work: Path) -> int:
    """The lock taken by another open file, as another verify would hold it."""
    fd = os.open(work / run.LOCK, os.O_WRONLY | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def test_exclusive_free_directory_is_entered(tmp_path: Path) -> None:
    with run.exclusive(str(tmp_path), 0):
        assert (tmp_path / run.LOCK).is_file()
    with run.exclusive(str(tmp_path), 0):  # released on the way out
        pass


def test_exclusive_held_without_wait_is_refused_at_once(tmp_path: Path) -> None:
    fd = _held(tmp_path)
    try:
        with pytest.raises(BadInput) as exc, run.exclusive(str(tmp_path), 0):
            pass
    finally:
        os.close(fd)
    assert str(exc.value) == (
        f"{tmp_path}: another agentkit verify is using this directory right now. Wait for it "
        "to finish (--wait SECONDS waits for it), or give this run another "
        "--state-dir/--keep directory.")


def test_exclusive_second_run_in_the_same_directory_is_refused(tmp_path: Path) -> None:
    with run.exclusive(str(tmp_path), 0), pytest.raises(BadInput), \
            run.exclusive(str(tmp_path), 0):
        pass


def test_exclusive_held_with_wait_gives_up_after_the_wait(tmp_path: Path) -> None:
    fd = _held(tmp_path)
    start = time.monotonic()
    try:
        with pytest.raises(BadInput) as exc, run.exclusive(str(tmp_path), 0.3):
            pass
    finally:
        os.close(fd)
    assert time.monotonic() - start >= 0.3
    assert str(exc.value).startswith(
        f"{tmp_path}: another agentkit verify is using this directory still, after --wait 0.3. ")


def test_exclusive_with_wait_enters_once_the_other_ends(tmp_path: Path) -> None:
    fd = _held(tmp_path)
    threading.Timer(0.3, os.close, (fd,)).start()
    start = time.monotonic()
    with run.exclusive(str(tmp_path), 10):
        waited = time.monotonic() - start
    assert 0.25 <= waited < 5


def test_discard_later_removes_the_tree_without_following_links(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("k")
    doomed = tmp_path / "doomed"
    (doomed / "a" / "b").mkdir(parents=True)
    (doomed / "a" / "b" / "f").write_text("x")
    (doomed / "a" / "link").symlink_to(outside)
    run.discard_later(str(doomed))
    deadline = time.monotonic() + 10
    while doomed.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not doomed.exists()
    assert (outside / "keep").read_text() == "k"


@pytest.fixture
def _no_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AGENTKIT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("_no_config")
def test_choose_image_nothing_given_is_this_machine() -> None:
    assert run.choose_image(None, None) is None


@pytest.mark.usefixtures("_no_config")
def test_choose_image_missing_given_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput) as exc:
        run.choose_image(str(tmp_path / "none.tar"), None)
    assert str(exc.value) == (
        f"--image {tmp_path}/none.tar: no such directory or file; give the instance's root "
        "file system as a directory or a tar/tar.gz of one (docker export).")


@pytest.mark.usefixtures("_no_config")
def test_choose_image_config_naming_a_missing_image_is_bad_config(tmp_path: Path) -> None:
    (tmp_path / "agentkit.yml").write_text("verify:\n  image: images/al.tar.gz\n")
    with pytest.raises(BadConfig) as exc:
        run.choose_image(None, None)
    assert str(exc.value) == (
        f"agentkit.yml: verify > image: {tmp_path}/images/al.tar.gz does not exist. Fetch "
        "the image there (a directory, or a tar/tar.gz of the instance's root file system), "
        "or pass --image.")


@pytest.mark.usefixtures("_no_config")
def test_choose_image_missing_config_is_bad_config(tmp_path: Path) -> None:
    with pytest.raises(BadConfig) as exc:
        run.choose_image(None, str(tmp_path / "x.yml"))
    assert str(exc.value) == (f"{tmp_path}/x.yml: no such file (from --config). Point it at "
                              "the project's agentkit.yml, or leave it out.")


def test_revision_real_archive_without_hooks_succeeds(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    spec = f"version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: {dest}\n"
    archive = tar(tmp_path / "b.tgz", [("appspec.yml", "file", spec, 0o644),
                                       ("app/a.txt", "file", "a", 0o644)])
    work = tmp_path / "work"
    work.mkdir()
    opts = Options(str(archive), AgentOptions(deployment_id="d-RUNTEST01"),
                   BoxOptions(hooks="skip"))
    result = run.revision(opts, str(work))
    assert (result.outcome, result.failure, result.archive, result.deployment_id,
            result.members) == ("succeeded", None, str(archive), "d-RUNTEST01", 2)
    assert not dest.exists()  # the host is left as it was
