"""Every hook action, run as root, attacked at every file system call by the application's
own user (a real one, made with useradd): no canary outside the tree changes, and the action
ends well or with a clear message (tests/hooks/race.py says how)."""

from __future__ import annotations

import os
import pwd
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest

from agentkit.commands import hook
from agentkit.hooks import config

from ..conftest import real_users
from .race import ATTACKS, Attacker, Scene, run_attacked, run_planted, scene, snapshot

APP = "agentkit-raceapp"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root: the actions run as root against another user, "
                              "whom only root can make")


@pytest.fixture(scope="module")
def app() -> Iterator[tuple[int, int]]:
    for (name,) in real_users((APP,), ("/usr/sbin/nologin",), system=True):
        entry = pwd.getpwnam(name)
        yield entry.pw_uid, entry.pw_gid


def _own(path: Path, uid: int, gid: int) -> None:
    for p in [path, *path.rglob("*")]:
        os.lchown(p, uid, gid)


def _load(sc: Scene, text: str) -> config.Config:
    cfg = sc.base / "agentkit.yml"
    cfg.write_text(textwrap.dedent(text).format(base=sc.base, app=APP) +
                   f"log:\n  file: {sc.base}/hooks.log\n")
    return config.load(str(cfg))


# --- the scenes: each makes its tree, returns what to run ---------------------------------
def _permissions(sc: Scene) -> Callable[[], None]:
    app_dir = sc.base / "app"
    (app_dir / "a/b").mkdir(parents=True)
    for rel in ("f1", "a/f2", "a/b/f3"):
        (app_dir / rel).write_text(rel)
    _own(app_dir, sc.uid, sc.gid)
    for rel in ("f1", "a/f2", "a/b/f3"):  # what Install left as root's, for the rule to give
        os.chown(app_dir / rel, 0, 0)
    # a hard link the app user made to a file of root's: its owner must not change (the
    # canary is checked), as systemd-tmpfiles refuses
    os.link(sc.canary / "linkable", app_dir / "a/hardlink")
    cfg = _load(sc, """\
        version: 1
        permissions:
          - path: {base}/app
            owner: {app}
            group: {app}
            file_mode: '0640'
            dir_mode: '0750'
        """)
    return _action("permissions", cfg)


def _permissions_no_owner(sc: Scene) -> Callable[[], None]:
    """A root-owned tree with an upload directory of the app user's, a rule that sets only
    the group and modes: the tree's owner is root, and a hard link to root's file in the
    uploads must still be left alone."""
    app_dir = sc.base / "app"
    (app_dir / "uploads").mkdir(parents=True)
    (app_dir / "index.php").write_text("<?php")
    (app_dir / "uploads/photo.jpg").write_text("jpeg")  # root's, for the rule to change
    os.chown(app_dir / "uploads", sc.uid, sc.gid)
    os.link(sc.canary / "linkable", app_dir / "uploads/x")
    cfg = _load(sc, """\
        version: 1
        permissions:
          - path: {base}/app
            group: {app}
            file_mode: '0640'
            dir_mode: '0750'
        """)
    return _action("permissions", cfg)


def _health(owner: str, direction: str) -> Callable[[Scene], Callable[[], None]]:
    def make(sc: Scene) -> Callable[[], None]:
        www = sc.base / "www"
        www.mkdir()
        (www / "health.html").write_text("OK\n")
        os.chown(www, sc.uid, sc.gid)
        cfg = _load(sc, f"""\
            version: 1
            health:
              file: {{base}}/www/health.html
              {owner}
              drain: {{{{interval: 0}}}}
            """)
        return _action(f"health {direction}", cfg)
    return make


def _link_shared(sc: Scene, made: bool = False) -> Callable[[], None]:
    release, shared = sc.base / "release", sc.base / "shared"
    (release / "public/media/2024").mkdir(parents=True)
    (release / "public/media/2024/a.jpg").write_text("a")
    (release / "config").mkdir()
    (release / "config/db.yml").write_text("db: x\n")
    if not made:
        shared.mkdir()
    _own(release / "public", sc.uid, sc.gid)
    _own(release / "config", sc.uid, sc.gid)
    _own(shared, sc.uid, sc.gid)
    cfg = _load(sc, """\
        version: 1
        release: {base}/release
        shared:
          root: {base}/shared
          dirs: [public/media, cache]
          files: [config/db.yml, config/new.yml]
          on_conflict: seed
          missing_file: seed
          owner: {app}
          group: {app}
        """)
    return _action("link-shared", cfg)


def _link_shared_elsewhere(sc: Scene) -> Callable[[], None]:
    """The share on another file system (EFS): seeding copies, through descriptors."""
    import subprocess

    (sc.base / "shared").mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs",
                           str(sc.base / "shared")], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    return _link_shared(sc, made=True)


def _release(sc: Scene) -> Callable[[], None]:
    root, shared = sc.base / "app", sc.base / "shared"
    root.mkdir()
    shared.mkdir()
    _own(shared, sc.uid, sc.gid)
    cfg = _load(sc, """\
        version: 1
        releases:
          root: {base}/app
          staging: {base}/app/staging
          keep: 2
        shared:
          root: {base}/shared
          dirs: [uploads]
        permissions:
          - path: {base}/app/staging
            owner: {app}
            group: {app}
        """)
    for n in (1, 2, 3):
        (root / "staging/public/css").mkdir(parents=True, exist_ok=True)
        (root / "staging/public/css/site.css").write_text(f"release {n}\n")
        (root / "staging/index.html").write_text(f"release {n}\n")
        os.environ["DEPLOYMENT_ID"] = f"d-00000000{n}"
        if n < 3:
            _action("release", cfg)()
    return _action("release", cfg)


def _rollback(sc: Scene) -> Callable[[], None]:
    from agentkit.commands import release as release_command
    from agentkit.commands.hook import failures

    _release(sc)()
    cfg = config.load(str(sc.base / "agentkit.yml"))

    def run() -> None:
        with failures("release rollback"):
            release_command.rollback(cfg, None)
    return run


def _action(name: str, cfg: config.Config) -> Callable[[], None]:
    def run() -> None:
        hook._action(name, cfg, _Quiet(), False)
    return run


class _Quiet:
    """A logger that keeps nothing: hundreds of runs."""

    def __getattr__(self, _name: str) -> Callable[..., None]:
        return lambda *a, **kw: None


SCENES: dict[str, Callable[[Scene], Callable[[], None]]] = {
    "permissions": _permissions,
    "permissions (group and modes only, root's tree)": _permissions_no_owner,
    "health up (as the directory's owner)": _health("", "up"),
    "health up (as root: owner root)": _health("owner: root", "up"),
    "health down": _health("", "down"),
    "link-shared": _link_shared,
    "link-shared (the share on another file system)": _link_shared_elsewhere,
    "release": _release,
    "release rollback": _rollback,
}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("DEPLOYMENT_ID", "LIFECYCLE_EVENT", "DEPLOYMENT_GROUP_ID"):
        monkeypatch.delenv(var, raising=False)


@pytest.mark.parametrize("what", list(SCENES))
def test_race_every_point_every_attack_leaves_the_canaries(
        what: str, app: tuple[int, int], environment: None) -> None:
    with scene(*app) as sc:
        clean = run_attacked(SCENES[what](sc), 0, "", None)
    assert clean.error == "" and clean.points > 5, clean
    changed, failures, attacked = [], [], 0
    for point in range(1, clean.points + 1):
        for how in ATTACKS:
            with scene(*app) as sc:
                action = SCENES[what](sc)
                before = snapshot(sc.canary)
                attacker = Attacker(sc)
                try:
                    outcome = run_attacked(action, point, how, attacker)
                finally:
                    attacker.close()
                if snapshot(sc.canary) != before:
                    changed.append(f"{how} at point {point}: {outcome}")
                if outcome.error:
                    failures.append(outcome.error)
                attacked += outcome.swaps
    assert changed == []
    assert attacked > 0  # the attacker did get in
    # every failure is a whole sentence naming what stood where or what failed
    odd = [f for f in failures if not f.startswith(("agentkit hook ", "agentkit release ",
                                                     "health.file ", "link-shared", "release"))]
    assert odd == []


@pytest.mark.parametrize("what", list(SCENES))
def test_race_links_planted_at_every_name_used_leave_the_canaries(
        what: str, app: tuple[int, int], environment: None) -> None:
    # what the app user could plant before the hook ran: a link at each name the action
    # reads, writes or passes through (its temporary names included)
    with scene(*app) as sc:
        clean = run_attacked(SCENES[what](sc), 0, "", None)
        base = str(sc.base)
    names = sorted({p[len(base):] for p in clean.paths if p.startswith(base + "/")})
    assert names, clean
    changed, planted = [], 0
    for rel in names:
        for how in ATTACKS:
            with scene(*app) as sc:
                action = SCENES[what](sc)
                before = snapshot(sc.canary)
                attacker = Attacker(sc)
                try:
                    outcome = run_planted(action, f"{sc.base}{rel}", how, attacker)
                finally:
                    attacker.close()
                if snapshot(sc.canary) != before:
                    changed.append(f"{how} at {rel}: {outcome}")
                planted += outcome.swaps
    assert changed == []
    assert planted > 0


def test_race_seeding_into_a_directory_the_attacker_swapped_in_is_refused(
        app: tuple[int, int], environment: None) -> None:
    # the share on another file system: the copy goes to NAME.agentkit-seeding in the share,
    # which the app user owns; swapped for a directory of its own just as root opens it,
    # root would have copied (and chowned) into the attacker's directory
    with scene(*app) as sc:
        action = _link_shared_elsewhere(sc)
        before = snapshot(sc.canary)
        attacker = Attacker(sc)
        seen = []

        def callback(op: str, dir_fd: int, name: str) -> None:
            if op == "open" and name == "media.agentkit-seeding" and not seen:
                seen.append(attacker.swap(f"{os.readlink(f'/proc/self/fd/{dir_fd}')}/{name}",
                                          "dir-own"))

        from agentkit.errors import HookFailed
        from agentkit.safefs import pause

        old = pause.install(callback)
        try:
            with pytest.raises(HookFailed) as exc:
                action()
        finally:
            pause.install(old)
            attacker.close()
        assert seen == ["done"]
        assert str(exc.value).startswith(
            f"link-shared public/media: {sc.base}/shared/public/media.agentkit-seeding: a "
            f"directory not made by this copy (uid {app[0]}, mode 0755) stands where the empty "
            "0700 directory it had just made was expected; it was left alone and not followed.")
        assert snapshot(sc.canary) == before


def test_race_attacker_is_refused_by_the_old_path_based_calls(
        app: tuple[int, int], environment: None) -> None:
    # the harness can fail: chmod by name through the same swap changes the canary
    with scene(*app) as sc:
        target = sc.base / "www"
        target.mkdir()
        (target / "f").write_text("x")
        os.chown(target, *app)
        before = snapshot(sc.canary)
        attacker = Attacker(sc)
        try:
            assert attacker.swap(str(target / "f"), "symlink-file") == "done"
        finally:
            attacker.close()
        os.chmod(target / "f", 0o644)  # what permissions did before safefs
        assert snapshot(sc.canary) != before

