"""verify never crashes and never flakes: tar, tar.gz and zip archives and bundle directories
drawn at random (tests/fuzz.py), each judged with a whole report or a one-paragraph error, in
bounded time, leaving nothing behind and the host as it was. CI runs a fixed, small budget
(derandomize, no example database); `./dev fuzz --minutes N` runs the same properties long."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ..fuzz import (
    directory_entries,
    example_dir,
    fuzz_settings,
    host_state,
    make_directory,
    run_in_process,
    run_subprocess,
    tar_archives,
    zip_archives,
)

RESULTS = ("succeeded", "failed", "undetermined")
# zips drawn with a name twice, as hostile ones come: zipfile warns when writing them
pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")


def _options(data: st.DataObject) -> list[str]:
    """What a user may add: the agent, --no-install, a declared type that may be wrong."""
    out = ["--format", "json", "--hooks", "skip", "--max-disk", "64M",
           "--agent", data.draw(st.sampled_from(["1", "2"]), label="agent")]
    if data.draw(st.booleans(), label="no-install"):
        out.append("--no-install")
    declared = data.draw(st.sampled_from([None] * 6 + ["tar", "tgz", "zip"]), label="type")
    return out + (["--type", declared] if declared else [])


@fuzz_settings(250)
@given(data=st.data())
def test_verify_fuzz_tar_archives_are_judged_whole(data: st.DataObject) -> None:
    with example_dir() as root:
        archive = data.draw(tar_archives(root, str(root / "app")), label="archive")
        arc = root / f"bundle{archive.suffix}"
        arc.write_bytes(archive.data())
        before = host_state(root)
        doc = run_in_process(["verify", *_options(data), str(arc)], root).check()
        assert doc is None or doc["result"] in RESULTS
        assert host_state(root) == before


@fuzz_settings(150)
@given(data=st.data())
def test_verify_fuzz_zip_archives_are_judged_whole(data: st.DataObject) -> None:
    with example_dir() as root:
        arc = root / "bundle.zip"
        arc.write_bytes(data.draw(zip_archives(root, str(root / "app")), label="archive"))
        before = host_state(root)
        doc = run_in_process(["verify", *_options(data), str(arc)], root).check()
        assert doc is None or doc["result"] in RESULTS
        assert host_state(root) == before


@fuzz_settings(80)
@given(data=st.data())
def test_verify_fuzz_directories_are_judged_whole(data: st.DataObject) -> None:
    with example_dir() as root:
        make_directory(root / "bundle", data.draw(directory_entries(root, str(root / "app")),
                                                  label="entries"))
        before = host_state(root)
        argv = ["verify", "--format", "json", "--hooks", "skip",
                *(["--no-install"] if data.draw(st.booleans(), label="no-install") else []),
                str(root / "bundle")]
        doc = run_in_process(argv, root).check()
        assert doc is None or doc["result"] in RESULTS
        assert host_state(root) == before


@fuzz_settings(6)
@given(data=st.data())
def test_verify_fuzz_archives_in_a_process_of_their_own(data: st.DataObject) -> None:
    # the real command: its exit status, its streams, its TMPDIR, nothing in-process hides
    with example_dir() as root:
        archive = data.draw(tar_archives(root, str(root / "app")), label="archive")
        arc = root / f"bundle{archive.suffix}"
        arc.write_bytes(archive.data())
        before = host_state(root)
        doc = run_subprocess(["verify", *_options(data), str(arc)], root).check()
        assert doc is None or doc["result"] in RESULTS
        assert host_state(root) == before
