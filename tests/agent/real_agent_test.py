"""verify against the agent's own Install code.

The same bundle and the same host state go once through `agentkit verify --agent 1` and once
through aws-codedeploy-agent 1.8.x's installer.rb, run by Ruby (data/real_agent_install.rb),
after the agent's own `tar -xpsf`. Both must agree on the result and its message, on
install.json and the cleanup file byte for byte, and on every path they leave on the host
(type, mode, link target, owner). The agent's source comes from $AGENTKIT_AGENT_SRC: a
checkout, or a bare mirror (by default the one `fetch github:aws/aws-codedeploy-agent` makes).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agentkit.cli import main

AGENT_SRC = os.environ.get("AGENTKIT_AGENT_SRC", "/work/.mirror/aws+aws-codedeploy-agent/repo")
HARNESS = Path(__file__).parent / "data" / "real_agent_install.rb"
Member = tuple[str, str, str, int]  # name, kind (file, dir, link, hard), data or target, mode


@pytest.fixture(scope="session")
def agent_lib(tmp_path_factory: pytest.TempPathFactory) -> str:
    if os.geteuid() != 0:
        pytest.skip("the agent runs as root: its code run by another user is not what an "
                    "instance does")
    if shutil.which("ruby") is None:
        pytest.skip("Ruby is not installed here (.ci/run installs it)")
    src = Path(AGENT_SRC)
    if (src / "lib" / "instance_agent").is_dir():
        return str(src / "lib")
    if not (src / "HEAD").is_file():
        pytest.skip(f"the agent's source is not at {src}: fetch github:aws/aws-codedeploy-agent "
                    "or set AGENTKIT_AGENT_SRC")
    out = tmp_path_factory.mktemp("agent-src")
    archive = subprocess.run(["git", f"--git-dir={src}", "archive", "HEAD", "lib"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    return str(out / "lib")


def _bundle(root: Path, members: list[Member], appspec: str, name: str = "bundle") -> Path:
    src = root / name
    for member, kind, data, mode in [*members, ("appspec.yml", "file", appspec, 0o644)]:
        path = src / member
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "dir":
            path.mkdir(exist_ok=True)
            path.chmod(mode)
        elif kind == "link":
            path.symlink_to(data)
        elif kind == "hard":
            os.link(src / data, path)
        else:
            path.write_bytes(os.fsencode(data))
            path.chmod(mode)
    archive = root / f"{name}.tar"
    subprocess.run(["tar", "-cf", str(archive), "--owner=1000", "--group=1000", "-C", str(src),
                    "."], check=True)
    return archive


def _state(host: Path) -> dict[str, tuple[str, str, str | None, str]]:
    out = {}
    for path in [host, *host.rglob("*")]:
        st = os.lstat(path)
        kind = ("symlink" if stat.S_ISLNK(st.st_mode) else "dir" if stat.S_ISDIR(st.st_mode)
                else "file")
        out[str(path)] = (kind, f"{stat.S_IMODE(st.st_mode):04o}",
                          os.readlink(path) if kind == "symlink" else None,
                          f"{st.st_uid}:{st.st_gid}")
    return out


def _set_up(host: Path, setup: str) -> None:
    shutil.rmtree(host, ignore_errors=True)
    host.mkdir()
    if setup:
        subprocess.run(["bash", "-c", setup.replace("@", str(host))], check=True)


def _by_verify(root: Path, archive: Path, behavior: str,
               capsys: pytest.CaptureFixture[str], agent_dir: str = "agent") -> dict[str, Any]:
    keep = root / "keep"  # a --state-dir: a second run is the next deployment
    main(["verify", "--hooks", "skip", "--format", "json", "--file-exists-behavior", behavior,
          "--state-dir", str(keep), str(archive)])
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    shown = re.escape(f"/opt/codedeploy-agent/deployment-root/{out['deployment_group_id']}/"
                      f"{out['deployment_id']}/deployment-archive")
    real = f"{keep}/deployment-root/{out['deployment_group_id']}/{out['deployment_id']}/" \
           "deployment-archive"
    agent_archive = str(root / agent_dir / "archive")
    instructions = keep / "deployment-root" / "deployment-instructions"
    files = {name: (instructions / name).read_bytes().replace(real.encode(),
                                                              agent_archive.encode())
             if (instructions / name).exists() else None
             for name in ("dg-verify-install.json", "dg-verify-cleanup")}
    message = (out["error"] or {}).get("message")
    return {"result": "ok" if out["failed_event"] is None else "failed",
            "message": None if message is None else re.sub(shown, agent_archive, message),
            "changes": out["changes"], **files}


def _by_agent(root: Path, archive: Path, behavior: str, lib: str,
              agent_dir: str = "agent") -> dict[str, Any]:
    work, instr = root / agent_dir, root / "instr"  # one instructions dir: the group's
    (work / "archive").mkdir(parents=True)
    subprocess.run(["tar", "-xpsf", str(archive)], cwd=work / "archive", check=True)
    run = subprocess.run(["ruby", str(HARNESS), str(work / "archive"), str(instr),
                          "dg-verify", behavior], capture_output=True, text=True,
                         env={**os.environ, "AGENT_LIB": lib})
    line = next(li for li in run.stdout.splitlines() if li.startswith("RESULT "))
    files = {name: (instr / name).read_bytes() if (instr / name).exists()
             else None for name in ("dg-verify-install.json", "dg-verify-cleanup")}
    return {"result": "ok" if line == "RESULT ok" else "failed",
            "message": None if line == "RESULT ok" else line[len("RESULT failed "):], **files}


S = "version: 0.0\nos: linux\n"


def _files(*pairs: tuple[str, str]) -> str:
    return "files:\n" + "".join(f"  - source: {s}\n    destination: {d}\n" for s, d in pairs)


CASES: dict[str, tuple[list[Member], str, str, str]] = {
    "basic": ([("a.txt", "file", "a", 0o644), ("bin/run", "file", "#!/bin/sh", 0o755),
               ("web/l", "link", "../a.txt", 0), ("empty", "dir", "", 0o750),
               (".env", "file", "e", 0o600), ("bin/s", "file", "s", 0o4755)],
              S + _files(("/", "@/dest")), "", "DISALLOW"),
    "disallow": ([("a.txt", "file", "a", 0o644), ("b.txt", "file", "b", 0o644)],
                 S + _files(("/", "@/dest")), "mkdir @/dest && echo x > @/dest/b.txt",
                 "DISALLOW"),
    "overwrite-through-link": ([("a.txt", "file", "a", 0o600)], S + _files(("/", "@/dest")),
                               "mkdir @/dest @/other && echo x > @/other/t && "
                               "ln -s ../other/t @/dest/a.txt", "OVERWRITE"),
    "retain": ([("d/a", "file", "1", 0o644), ("d/b", "file", "2", 0o644)],
               S + _files(("/", "@/dest")), "mkdir -p @/dest/d && echo x > @/dest/d/a",
               "RETAIN"),
    "file-source": ([("app.conf", "file", "c", 0o640)], S + _files(("app.conf", "@/etc/app")),
                    "", "DISALLOW"),
    "file-onto-a-file": ([("app.conf", "file", "c", 0o640)],
                         S + _files(("app.conf", "@/etc/app.conf")),
                         "mkdir @/etc && echo old > @/etc/app.conf", "OVERWRITE"),
    "permissions": ([("a.txt", "file", "a", 0o644), ("b.sh", "file", "b", 0o644),
                     ("sub/c", "file", "c", 0o644), ("sub/d/e", "file", "e", 0o644)],
                    S + _files(("/", "@/dest")) + "permissions:\n"
                    "  - object: @/dest\n    pattern: '*.sh'\n    mode: 755\n    type: [file]\n"
                    "  - object: @/dest/sub\n    owner: nobody\n    mode: 700\n"
                    "    type: [directory]\n"
                    "  - object: @/dest/sub\n    except: [c]\n    mode: 0644\n"
                    "    acls: [u:nobody:rw, 'g:root:5']\n    type: [file]\n", "", "DISALLOW"),
    "file-through-a-bundle-link": ([("storage/pub/x.png", "file", "p", 0o644),
                                    ("public/storage", "link", "../storage/pub", 0)],
                                   S + _files(("public/storage/x.png", "@/dest")), "",
                                   "DISALLOW"),
    "chown-a-non-ascii-name": ([("café", "file", "c", 0o644)], S + _files(("/", "@/dest")) +
                               "permissions:\n  - object: @/dest\n    owner: nobody\n", "",
                               "DISALLOW"),
    "context-without-range-before-a-bad-name": (
        [(os.fsdecode(b"caf\xe9"), "file", "x", 0o644), ("a", "file", "1", 0o644)],
        S + _files(("/", "@/dest")) + "permissions:\n  - object: @/dest\n    pattern: a\n"
        "    context:\n      type: httpd_sys_content_t\n", "", "DISALLOW"),
    "link-to-a-bundle-directory": ([("storage/pub/x.png", "file", "p", 0o644),
                                    ("public/storage", "link", "../storage/pub", 0)],
                                   S + _files(("/", "@/dest")), "", "DISALLOW"),
    "host-link-to-shared-storage": ([("index.php", "file", "i", 0o644),
                                     ("storage/.gitignore", "file", "g", 0o644),
                                     ("storage/sub/k", "file", "k", 0o644)],
                                    S + _files(("/", "@/dest")),
                                    "mkdir -p @/dest @/shared/storage && "
                                    "ln -s @/shared/storage @/dest/storage", "DISALLOW"),
    "two-sources": ([("x/a", "file", "1", 0o644), ("y/a", "file", "2", 0o644)],
                    S + _files(("x", "@/dest"), ("y", "@/dest")), "", "DISALLOW"),
    "dangling-link-chown": ([("a", "file", "1", 0o644), ("l", "link", "/nonexistent-ak/l", 0)],
                            S + _files(("/", "@/dest")) + "permissions:\n"
                            "  - object: @/dest\n    owner: root\n", "", "DISALLOW"),
    "link-onto-a-directory": ([("conf/x", "file", "x", 0o644), ("link", "link", "conf/x", 0)],
                              S + _files(("/", "@/dest")), "mkdir -p @/dest/link", "OVERWRITE"),
    "name-not-utf8": ([(os.fsdecode(b"caf\xe9"), "file", "x", 0o644)],
                      S + _files(("/", "@/dest")), "", "DISALLOW"),
    "context-without-range": ([("a", "file", "1", 0o644)], S + _files(("/", "@/dest")) +
                              "permissions:\n  - object: @/dest\n    pattern: a\n"
                              "    context:\n      type: httpd_sys_content_t\n", "",
                              "DISALLOW"),
    "default-acl-on-a-file": ([("a", "file", "1", 0o644)], S + _files(("/", "@/dest")) +
                              "permissions:\n  - object: @/dest\n    acls: [d:u:nobody:rw]\n",
                              "", "DISALLOW"),
    "source-missing": ([("a", "file", "1", 0o644)], S + _files(("nothere", "@/dest")), "",
                       "DISALLOW"),
    "destination-under-a-file": ([("a", "file", "1", 0o644)], S + _files(("/", "@/x/dest")),
                                 "echo f > @/x", "DISALLOW"),
    "nested-destinations": ([("web/i", "file", "1", 0o644), ("conf/c", "file", "2", 0o600)],
                            S + _files(("web", "@/srv/app"), ("conf", "@/srv/app/conf"),
                                       ("conf/c", "@/etc/app/")), "", "DISALLOW"),
    "appspec-behavior-wins": ([("a", "file", "1", 0o644)], S + _files(("/", "@/dest")) +
                              "file_exists_behavior: RETAIN\n", "mkdir @/dest && echo x > @/dest/a",
                              "DISALLOW"),
    "overwrite-a-file-onto-a-directory": ([("a", "file", "1", 0o640)],
                                          S + _files(("/", "@/dest")), "mkdir -p @/dest/a/b",
                                          "OVERWRITE"),
    "directories-only": ([("x/a", "file", "1", 0o644), ("y/z/b", "file", "2", 0o644),
                          ("e", "dir", "", 0o755)],
                         S + _files(("/", "@/dest")) + "permissions:\n  - object: @/dest\n"
                         "    mode: 711\n    group: nogroup\n    type: [directory]\n", "",
                         "DISALLOW"),
    "hard-link": ([("a", "file", "1", 0o644), ("sub/b", "hard", "a", 0)],
                  S + _files(("/", "@/dest")), "", "DISALLOW"),
    "mode-out-of-range": ([("a", "file", "1", 0o644)], S + _files(("/", "@/dest")) +
                          "permissions:\n  - object: @/dest\n    mode: 0755\n", "", "DISALLOW"),
    "patterns-dotfiles-except-setuid": (
        [("bin/run", "file", "r", 0o755), ("bin/.hidden", "file", "h", 0o644),
         ("bin/skip.sh", "file", "s", 0o644), ("my file.txt", "file", "m", 0o644)],
        S + _files(("/", "@/dest")) + "permissions:\n  - object: @/dest/bin/\n"
        "    pattern: '*'\n    except: ['skip*']\n    mode: 4755\n    type: [file]\n"
        "  - object: @/dest\n    pattern: 'my *'\n    mode: 600\n", "", "DISALLOW"),
    "permissions-on-what-the-host-has": (
        [("a", "file", "1", 0o644)], S + _files(("/", "@/dest")) + "permissions:\n"
        "  - object: @/etc\n    mode: 600\n", "mkdir @/etc && echo x > @/etc/passwd",
        "DISALLOW"),
    "many-conflicts": ([(f"f{i}", "file", str(i), 0o644) for i in range(12)],
                       S + _files(("/", "@/dest")),
                       "mkdir @/dest && for i in 3 5 7 9 11; do echo x > @/dest/f$i; done",
                       "DISALLOW"),
    "source-dot": ([("a", "file", "1", 0o644), ("d/b", "file", "2", 0o644)],
                   S + _files((".", "@/dest")), "", "DISALLOW"),
    "link-to-a-host-file": ([("hosts", "link", "/etc/hosts", 0), ("a", "file", "1", 0o644)],
                            S + _files(("/", "@/dest")), "", "DISALLOW"),
    "appspec-as-a-file-source": ([("a", "file", "1", 0o644)],
                                 S + _files(("appspec.yml", "@/meta"), ("a", "@/meta")), "",
                                 "DISALLOW"),
    "disallow-a-host-directory": ([("x", "file", "1", 0o644)], S + _files(("/", "@/dest")),
                                  "mkdir -p @/dest/x", "DISALLOW"),
    "missing-ancestors": ([("a", "file", "1", 0o644)], S + _files(("/", "@/x/y/z/dest")),
                          "mkdir -p @/x", "DISALLOW"),
    "ancestors-through-a-link": ([("a", "file", "1", 0o644)],
                                 S + _files(("/", "@/lnk/new/dest")),
                                 "mkdir -p @/real && ln -s real @/lnk", "DISALLOW"),
    "permission-object-is-a-link": ([("a", "file", "1", 0o644), ("d/b", "file", "2", 0o644)],
                                    S + _files(("/", "@/dest")) + "permissions:\n"
                                    "  - object: @/via\n    mode: 600\n",
                                    "mkdir -p @/dest && ln -s dest @/via", "OVERWRITE"),
    "except-directories": ([("keep/a", "file", "1", 0o644), ("skip/b", "file", "2", 0o644)],
                           S + _files(("/", "@/dest")) + "permissions:\n"
                           "  - object: @/dest\n    pattern: '*'\n    except: [skip]\n"
                           "    mode: 750\n    type: [directory]\n", "", "DISALLOW"),
    "existing-link-to-a-directory-as-destination": (
        [("a", "file", "1", 0o644)], S + _files(("/", "@/dest")),
        "mkdir @/real && ln -s real @/dest", "DISALLOW"),
    # the second mapping plans a mkdir of the link itself (File.directory? is false), after
    # the first planned one below it: that one runs first, and meets a file
    "directory-below-a-link-to-a-file-planned-first": (
        [("a/x1", "file", "1", 0o644), ("a/.x2", "file", "2", 0o644),
         ("a/\u00e93", "file", "3", 0o644), ("b/y", "file", "y", 0o644)],
        S + _files(("a", "@/lnk/sub"), ("b", "@/lnk")), "echo f > @/f && ln -s f @/lnk",
        "DISALLOW"),
    "directory-below-a-file-planned-first": (
        [("a/x1", "file", "1", 0o644), ("b/y", "file", "y", 0o644)],
        S + _files(("a", "@/f/sub"), ("b", "@/f")), "echo f > @/f", "OVERWRITE"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_real_agent_install_same_as_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           agent_lib: str, case: str) -> None:
    members, appspec, setup, behavior = CASES[case]
    if "acls:" in appspec and shutil.which("setfacl") is None:
        pytest.skip("the agent runs setfacl, which is not installed here (.ci/run installs acl)")
    host = tmp_path / "host"
    archive = _bundle(tmp_path, members, appspec.replace("@", str(host)))
    _set_up(host, setup)
    before = _state(host)
    tool = _by_verify(tmp_path, archive, behavior, capsys)
    _set_up(host, setup)
    agent = _by_agent(tmp_path, archive, behavior, agent_lib)
    _assert_same(before, tool, agent, host)


def _without_changes(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "changes"}


def _assert_same(before: dict[str, Any], tool: dict[str, Any], agent: dict[str, Any],
                 host: Path) -> None:
    predicted = dict(before)  # the host as verify says the deployment leaves it
    for change in tool["changes"]:
        if change["change"] == "deleted":
            predicted.pop(change["path"], None)
        else:
            predicted[change["path"]] = (change["type"], change["mode"], change["target"],
                                         change["owner"])
    assert _without_changes(tool) == agent
    assert predicted == _state(host)


SECOND: dict[str, tuple[list[Member], list[Member], str]] = {
    # the first revision fails half way (an unknown owner): its cleanup file still counts
    "after-a-failed-install": ([("a", "file", "1", 0o644), ("d/b", "file", "2", 0o644),
                                ("agentkit-fail-owner", "file", "", 0o644)],
                               [("a", "file", "3", 0o644)], ""),
    # a link to a directory of the bundle, and a link to a host directory
    "links-removed": ([("t/x", "file", "1", 0o644), ("l", "link", "t", 0),
                       ("h", "link", "@/elsewhere", 0)], [("t/x", "file", "2", 0o644)],
                      "mkdir -p @/elsewhere"),
    # the next revision drops files, a directory and a link: the cleanup file removes them
    "drops-files": ([("a", "file", "1", 0o644), ("old/b", "file", "2", 0o644),
                     ("l", "link", "a", 0)], [("a", "file", "3", 0o600)], ""),
    # a directory of the first revision goes, with what is in it; one of the host stays
    # the cleanup file names paths through a host link to shared storage: removed there
    "through-a-host-link": ([("storage/.gitignore", "file", "1", 0o644),
                             ("storage/sub/k", "file", "2", 0o644)],
                            [("storage/.gitignore", "file", "3", 0o644)],
                            "mkdir -p @/dest @/shared/storage && "
                            "ln -s @/shared/storage @/dest/storage"),
    "drops-a-directory": ([("d/e/a", "file", "1", 0o644), ("keep/b", "file", "2", 0o644)],
                          [("x", "file", "2", 0o644)], "mkdir -p @/dest/keep"),
}


@pytest.mark.parametrize("case", list(SECOND))
def test_real_agent_second_deployment_same_as_verify(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], agent_lib: str, case: str) -> None:
    first, second, setup = SECOND[case]
    host = tmp_path / "host"
    spec = S + _files(("/", f"{host}/dest"))
    fails = any(name == "agentkit-fail-owner" for name, _, _, _ in first)
    spec_one = spec + (f"permissions:\n  - object: {host}/dest\n    pattern: a\n"
                       "    owner: no-such-user-ak\n" if fails else "")
    first = [(n, k, d.replace("@", str(host)), m) for n, k, d, m in first]
    one = _bundle(tmp_path, first, spec_one, "one")
    two = _bundle(tmp_path, second, spec, "two")
    _set_up(host, setup)
    before = _state(host)
    tool_one = _by_verify(tmp_path, one, "DISALLOW", capsys, "agent-1")
    tool = _by_verify(tmp_path, two, "DISALLOW", capsys, "agent-2")
    _set_up(host, setup)
    agent_one = _by_agent(tmp_path, one, "DISALLOW", agent_lib, "agent-1")
    agent = _by_agent(tmp_path, two, "DISALLOW", agent_lib, "agent-2")
    assert (tool_one["result"], agent_one["result"]) == (("failed",) * 2 if fails else ("ok",) * 2)
    _assert_same(before, tool, agent, host)


HOOK = Path(__file__).parent / "data" / "real_agent_hook.rb"
CODES = ["SUCCEEDED", "SCRIPT_MISSING", "SCRIPT_EXECUTABILITY", "SCRIPT_TIMED_OUT",
         "SCRIPT_FAILED", "UNKNOWN_ERROR", "OUTPUTS_LEFT_OPEN"]
_STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", re.M)

# AfterInstall's scripts: (name, body or None for missing, mode), and the event's timeout
HOOKS: dict[str, list[tuple[str, str | None, int]]] = {
    "succeeds": [("s/a.sh", "#!/bin/sh\necho out\necho err >&2\nenv | grep -E "
                  "'^(LIFECYCLE_EVENT|DEPLOYMENT_|APPLICATION_NAME)' | sort\n", 0o755)],
    "exit-code": [("s/a.sh", "#!/bin/bash\necho before\nexit 3\n", 0o755)],
    "missing": [("s/a.sh", "#!/bin/sh\ntrue\n", 0o755), ("s/gone.sh", None, 0)],
    "not-executable": [("s/a.sh", "#!/bin/sh\necho chmodded\n", 0o644)],
    "no-shebang": [("s/a.sh", "echo plain sh\n", 0o755)],
    "crlf-shebang": [("s/a.sh", "#!/bin/sh\r\necho hi\r\n", 0o755)],
    "timeout": [("s/a.sh", "#!/bin/sh\necho start\nsleep 5\n", 0o755)],
    "daemon-keeps-stdout": [("s/a.sh", "#!/bin/sh\n(sleep 5 &)\necho started\n", 0o755)],
    "second-script-fails": [("s/a.sh", "#!/bin/sh\necho one\n", 0o755),
                            ("s/b.sh", "#!/bin/sh\necho two >&2\nexit 2\n", 0o755)],
    "runas-a-nologin-user": [("s/a.sh", "#!/bin/sh\necho as-nobody\n", 0o755)],
    "runas-a-user": [("s/a.sh", "#!/bin/sh\nid -un\necho \"home=$HOME event=$LIFECYCLE_EVENT "
                      "group=$DEPLOYMENT_GROUP_ID\"\npwd\n", 0o755)],
}
RUNAS = {"runas-a-nologin-user": "nobody", "runas-a-user": "agentkit-bash"}


def _streams(log: str) -> tuple[list[str], list[str], list[str]]:
    """Other lines in order, then each stream's lines in order: the agent reads stdout and
    stderr in two threads, so how the two interleave is chance."""
    lines = _STAMP.sub("", log).splitlines()
    return ([li for li in lines if not li.startswith(("[stdout]", "[stderr]"))],
            [li for li in lines if li.startswith("[stdout]")],
            [li for li in lines if li.startswith("[stderr]")])


@pytest.mark.parametrize("case", list(HOOKS))
def test_real_agent_hook_same_as_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch, agent_lib: str,
                                        runas_users: tuple[str, str], case: str) -> None:
    from agentkit.commands import verify as verify_cmd

    monkeypatch.setattr(verify_cmd, "deployment_id", lambda: "d-SAME00001")
    tmp_path = _reachable(tmp_path)  # a runas user must reach the scripts, as on an instance
    scripts = HOOKS[case]
    runas = f"      runas: {RUNAS[case]}\n" if case in RUNAS else ""
    spec = S + "hooks:\n  AfterInstall:\n" + "".join(
        f"    - location: {name}\n      timeout: 1\n{runas}" for name, _, _ in scripts)
    members = [(n, "file", body, mode) for n, body, mode in scripts if body is not None]
    archive = _bundle(tmp_path, members, spec)
    main(["verify", "--hooks", "host", "--format", "json", "--keep", str(tmp_path / "keep"),
          str(archive)])
    out = json.loads(capsys.readouterr().out)
    root = tmp_path / "agent-root"
    (root / "deployment-archive").mkdir(parents=True)
    subprocess.run(["tar", "-xpsf", str(archive)], cwd=root / "deployment-archive", check=True)
    run = subprocess.run(["ruby", str(HOOK), str(root), "AfterInstall", "d-SAME00001"],
                         capture_output=True, text=True, env={**os.environ, "AGENT_LIB": agent_lib})
    agent = json.loads(run.stdout.splitlines()[-1])
    error = out["error"] or {"error_code": "SUCCEEDED", "message": None}
    ours = f"{tmp_path}/keep/deployment-root/dg-verify/d-SAME00001/deployment-archive"
    message = error["message"] and error["message"].replace(ours, "ARCHIVE")
    theirs = f"{root}/deployment-archive"
    assert (error["error_code"], message) == (
        CODES[agent["error_code"]], agent["message"] and agent["message"].replace(theirs,
                                                                                 "ARCHIVE"))
    assert _streams(out["scripts_log"].replace(ours, "ARCHIVE")) == _streams(
        (root / "logs" / "scripts.log").read_text(errors="replace").replace(theirs, "ARCHIVE"))
    if case == "runas-a-user":  # it did run as that user (not only fail the same way)
        assert "[stdout]agentkit-bash\n" in out["scripts_log"]


def _reachable(tmp_path: Path) -> Path:
    """tmp_path, with every directory above it searchable by other users (pytest makes its
    base directory 0700)."""
    for parent in [tmp_path, *tmp_path.parents]:
        if parent == Path("/tmp") or parent == Path("/"):
            break
        parent.chmod(parent.stat().st_mode | 0o711)
    return tmp_path
