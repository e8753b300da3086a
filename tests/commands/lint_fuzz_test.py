"""lint never crashes: appspecs drawn from the schema and mutated (tests/fuzz.py), alone and in
bundle directories with odd entries, each judged with a whole report or a one-paragraph error,
the host as it was. CI runs a fixed, small budget; `./dev fuzz` runs the same long."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ..fuzz import (
    Entry,
    appspec_texts,
    directory_entries,
    example_dir,
    fuzz_settings,
    host_state,
    make_directory,
    run_in_process,
)


@fuzz_settings(300)
@given(data=st.data())
def test_lint_fuzz_appspecs_are_judged_whole(data: st.DataObject) -> None:
    with example_dir() as root:
        text = data.draw(appspec_texts(str(root / "app")), label="appspec")
        (root / "appspec.yml").write_bytes(text)
        agent = data.draw(st.sampled_from(["1", "2"]), label="agent")
        doc = run_in_process(["lint", "--format", "json", "--agent", agent,
                              str(root / "appspec.yml")], root).check()
        assert doc is None or len(doc["files"]) == 1


@fuzz_settings(80)
@given(data=st.data())
def test_lint_fuzz_directories_are_judged_whole(data: st.DataObject) -> None:
    with example_dir() as root:
        entries = data.draw(directory_entries(root, str(root / "app")), label="entries")
        if data.draw(st.booleans(), label="scripts"):  # the scripts the appspecs name
            entries += [Entry("run.sh", "file", b"#!/bin/sh\n", 0o755),
                        Entry("s/run.sh", "symlink", target=str(root / "host" / "victim"))]
        make_directory(root / "bundle", entries)
        before = host_state(root)
        agent = data.draw(st.sampled_from(["1", "2"]), label="agent")
        doc = run_in_process(["lint", "--format", "json", "--agent", agent,
                              str(root / "bundle")], root).check()
        assert doc is None or len(doc["files"]) == 1
        assert host_state(root) == before
