"""agentkit.verify.box_programs: what of verify's own the box shows for its agentkit command,
and what it never shows under another name."""

from __future__ import annotations

from pathlib import Path

from agentkit.verify import box_programs


def _closed(tmp_path: Path) -> Path:
    """A directory a `runas` user may not enter (a 0700 home, CI's mktemp directory)."""
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    closed.chmod(0o700)
    return closed


def test_box_programs_shows_an_unreachable_tree_under_its_own_name(tmp_path: Path) -> None:
    site = _closed(tmp_path) / "site-packages"
    site.mkdir()
    site.chmod(0o755)
    shown: list[tuple[str, str]] = []
    assert box_programs._show(str(site), "/usr/lib/agentkit-cli/lib0", shown, ()) == \
        "/usr/lib/agentkit-cli/lib0"
    assert shown == [("/usr/lib/agentkit-cli/lib0", str(site))]


def test_box_programs_never_shows_a_tree_with_credentials(tmp_path: Path) -> None:
    # a checkout at the top of a home (`python -m agentkit` from ~): ~/.aws would be
    # readable under the other name, where the box hides nothing
    home = _closed(tmp_path) / "home"
    (home / ".aws").mkdir(parents=True)
    shown: list[tuple[str, str]] = []
    assert box_programs._show(str(home), "/usr/lib/agentkit-cli/src/agentkit", shown, ()) is None
    assert shown == []
