"""verify against the agent's own Install and hook code: as recorded, and live.

The same bundle and the same host state go once through `agentkit verify --agent 1` and once
through aws-codedeploy-agent 1.8.x's installer.rb, run by Ruby (data/real_agent_install.rb),
after the agent's own `tar -xpsf`. Both must agree on the result, the failed event and its
message, on install.json and the cleanup file byte for byte, and on every path they leave on
the host (type, mode, link target, owner); hook scripts (data/real_agent_hook.rb) on the error
and on scripts.log.

What the agent did with each case is recorded in tests/data/real_agent/ (written by
tests/agent/record_real_agent.py, as root): the test_recorded_* tests build each bundle from
its recorded description and hold verify to the recording on every machine, as root or as a
plain user. The test_real_agent_* tests run the agent itself (as root, with Ruby) when
$AGENTKIT_AGENT_SRC names its source, a checkout or a bare mirror (`fetch
github:aws/aws-codedeploy-agent` makes one), and check the recording is still what it does.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agentkit.box import ids
from agentkit.box.client import why_unavailable
from agentkit.cli import main

AGENT_SRC = os.environ.get("AGENTKIT_AGENT_SRC", "")
HARNESS = Path(__file__).parent / "data" / "real_agent_install.rb"
HOOK = Path(__file__).parent / "data" / "real_agent_hook.rb"
RECORDED = Path(__file__).resolve().parents[1] / "data" / "real_agent"
RERECORD = ("the agent does not do what tests/data/real_agent records: record again "
            "(tests/agent/record_real_agent.py)")
Member = tuple[str, str, str, int]  # name, kind (file, dir, link, hard), data or target, mode
DEPLOYMENT_ID = "d-SAME00001"
INSTRUCTIONS = ("dg-verify-install.json", "dg-verify-cleanup")

# Cases where verify does not (yet) do what the recorded agent does, "kind/case" -> why (kind:
# install, second, hook, or hook-host / hook-sandbox for one way of running hooks), e.g.
# "hook/archive-as-unpacked": "verify's archive directory is 0755 where tar -p makes it 0700".
# Each is a strict xfail of the recorded and the live test: it fails once verify agrees, so
# the entry goes with the fix. None today.
KNOWN_DIFFERENCES: dict[str, str] = {}


def agent_lib_dir(src: Path, out: Path) -> str | None:
    """The agent's lib/: in a checkout, or taken from a bare mirror's HEAD into `out`."""
    if (src / "lib" / "instance_agent").is_dir():
        return str(src / "lib")
    if not (src / "HEAD").is_file():
        return None
    archive = subprocess.run(["git", f"--git-dir={src}", "archive", "HEAD", "lib"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    return str(out / "lib")


@pytest.fixture(scope="session")
def agent_lib(tmp_path_factory: pytest.TempPathFactory) -> str:
    if not AGENT_SRC:
        pytest.skip("AGENTKIT_AGENT_SRC is not set: tests/data/real_agent stands for the agent "
                    "(test_recorded_*)")
    if os.geteuid() != 0:
        pytest.skip("the agent runs as root: its code run by another user is not what an "
                    "instance does")
    if shutil.which("ruby") is None:
        pytest.skip("Ruby is not installed here (.ci/run installs it)")
    lib = agent_lib_dir(Path(AGENT_SRC), tmp_path_factory.mktemp("agent-src"))
    if lib is None:
        pytest.fail(f"AGENTKIT_AGENT_SRC={AGENT_SRC} is neither a checkout nor a bare git "
                    "mirror of aws-codedeploy-agent")
    return lib


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


def _built(root: Path, revision: dict[str, Any], host: Path, name: str = "bundle") -> Path:
    """The bundle a recorded description gives, `@` standing for the host directory."""
    members = [(n, k, d.replace("@", str(host)) if k == "link" else d, int(m, 8))
               for n, k, d, m in revision["members"]]
    return _bundle(root, members, revision["appspec"].replace("@", str(host)), name)


def _described(members: list[Member]) -> list[list[str]]:
    return [[n, k, d, f"{m:04o}"] for n, k, d, m in members]


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
    """The host as a case has it, made by this user with umask 022 (as root's shell would)."""
    shutil.rmtree(host, ignore_errors=True)
    host.mkdir()
    host.chmod(0o755)
    if setup:
        subprocess.run(["bash", "-c", "umask 022 && " + setup.replace("@", str(host))],
                       check=True)


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
             if (instructions / name).exists() else None for name in INSTRUCTIONS}
    message = (out["error"] or {}).get("message")
    return {"result": "ok" if out["failed_event"] is None else "failed",
            "failed_event": out["failed_event"],
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
    event = next((li[len("EVENT "):] for li in run.stdout.splitlines()
                  if li.startswith("EVENT ")), None)
    files = {name: (instr / name).read_bytes() if (instr / name).exists()
             else None for name in INSTRUCTIONS}
    return {"result": "ok" if line == "RESULT ok" else "failed", "failed_event": event,
            "message": None if line == "RESULT ok" else line[len("RESULT failed "):], **files}


def _named(owner: str) -> str:
    """uid:gid, with the names root, nobody and nogroup for the ids they have here: the same
    recording holds on a machine where nobody is not 65534."""
    uid, gid = (int(n) for n in owner.split(":"))
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = ""
    try:
        group = grp.getgrgid(gid).gr_name
    except KeyError:
        group = ""
    return (f"{user if user in ('root', 'nobody') else uid}:"
            f"{group if group in ('root', 'nogroup', 'nobody') else gid}")


def _text(data: str | bytes | None, host: Path, archive: Path) -> str | None:
    """A message or an agent file, with ARCHIVE for the deployment archive and @ for the host."""
    if data is None:
        return None
    text = os.fsdecode(data) if isinstance(data, bytes) else data
    return text.replace(str(archive), "ARCHIVE").replace(str(host), "@")


def _outcome(result: dict[str, Any], tree: dict[str, tuple[str, str, str | None, str]],
             host: Path, archive: Path) -> dict[str, Any]:
    """What a deployment did, as recorded: the result, the failed event, the message, the
    agent's two files and the host's tree (paths below @)."""
    out = {key: _text(result[key], host, archive) for key in ("message", *INSTRUCTIONS)}
    out["tree"] = {_text(path, host, archive): [kind, mode, _text(target, host, archive),
                                                _named(owner)]
                   for path, (kind, mode, target, owner) in sorted(tree.items())}
    return {"result": result["result"], "failed_event": result["failed_event"], **out}


def _predicted(before: dict[str, tuple[str, str, str | None, str]],
               changes: list[dict[str, Any]]) -> dict[str, tuple[str, str, str | None, str]]:
    """The host as verify says the deployment leaves it. What the case's setup made is this
    user's, and was root's when the agent ran: an owner verify reports as the one a path
    already had is the setup's owner, root."""
    me = f"{os.geteuid()}:{os.getegid()}"
    setup = {path: (kind, mode, target, "0:0" if owner == me else owner)
             for path, (kind, mode, target, owner) in before.items()}
    predicted = dict(setup)
    for change in changes:
        path = change["path"]
        if change["change"] == "deleted":
            predicted.pop(path, None)
            continue
        owner = change["owner"]
        if path in before and owner == before[path][3]:
            owner = setup[path][3]
        predicted[path] = (change["type"], change["mode"], change["target"], owner)
    return predicted


def _recording(kind: str) -> dict[str, Any]:
    path = RECORDED / f"{kind}.json"
    return dict(json.loads(path.read_text(encoding="utf-8"))["cases"]) if path.exists() else {}


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
    # the archive's root entry `./` is 0700 (made from a private directory): `tar -xpsf`
    # gives that mode to the directory it unpacks into
    "private-root-entry": ([(".", "dir", "", 0o700), ("a", "file", "1", 0o644),
                            ("d/b", "file", "2", 0o640)], S + _files(("/", "@/dest")), "",
                           "DISALLOW"),
}
def _params(kind: str, cases: dict[str, Any]) -> list[Any]:
    """The cases, those of KNOWN_DIFFERENCES as strict xfails."""
    out = []
    for case in cases:
        why = KNOWN_DIFFERENCES.get(f"{kind}/{case}")
        out.append(pytest.param(case, marks=pytest.mark.xfail(strict=True, reason=why))
                   if why else case)
    return out


def _recorded(recording: dict[str, Any], case: str) -> dict[str, Any]:
    if case not in recording:
        pytest.fail(f"{case} is not recorded: {RERECORD}")
    return dict(recording[case])


def install_case(case: str) -> dict[str, Any]:
    """A case as the recording describes it: the bundle, the host's setup (a shell command),
    the deployment's file_exists_behavior."""
    members, appspec, setup, behavior = CASES[case]
    return {"members": _described(members), "appspec": appspec, "setup": setup,
            "file_exists_behavior": behavior}


def record_install(root: Path, lib: str, case: str) -> dict[str, Any]:
    """What the agent does with a case, in `root` (tests/agent/record_real_agent.py)."""
    bundle = install_case(case)
    host = root / "host"
    archive = _built(root, bundle, host)
    _set_up(host, bundle["setup"])
    agent = _by_agent(root, archive, bundle["file_exists_behavior"], lib)
    return {"bundle": bundle,
            "agent": _outcome(agent, _state(host), host, root / "agent" / "archive")}


INSTALL = _recording("install")


@pytest.mark.parametrize("case", _params("install", CASES))
def test_recorded_agent_install_same_as_verify(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str],
                                               case: str) -> None:
    recorded = _recorded(INSTALL, case)
    bundle = recorded["bundle"]
    host = tmp_path / "host"
    archive = _built(tmp_path, bundle, host)
    _set_up(host, bundle["setup"])
    before = _state(host)
    tool = _by_verify(tmp_path, archive, bundle["file_exists_behavior"], capsys)
    predicted = _predicted(before, tool["changes"])
    assert _outcome(tool, predicted, host, tmp_path / "agent" / "archive") == recorded["agent"]


@pytest.mark.parametrize("case", _params("install", CASES))
def test_real_agent_install_same_as_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           agent_lib: str, case: str) -> None:
    bundle = install_case(case)
    if "acls:" in bundle["appspec"] and shutil.which("setfacl") is None:
        pytest.skip("the agent runs setfacl, which is not installed here (.ci/run installs acl)")
    host = tmp_path / "host"
    archive = _built(tmp_path, bundle, host)
    _set_up(host, bundle["setup"])
    before = _state(host)
    tool = _by_verify(tmp_path, archive, bundle["file_exists_behavior"], capsys)
    _set_up(host, bundle["setup"])
    agent = _by_agent(tmp_path, archive, bundle["file_exists_behavior"], agent_lib)
    outcome = _outcome(agent, _state(host), host, tmp_path / "agent" / "archive")
    assert outcome == INSTALL.get(case, {}).get("agent"), RERECORD
    _assert_same(before, tool, agent, host)


def _assert_same(before: dict[str, Any], tool: dict[str, Any], agent: dict[str, Any],
                 host: Path) -> None:
    assert {k: v for k, v in tool.items() if k != "changes"} == agent
    assert _predicted(before, tool["changes"]) == _state(host)


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
def second_case(case: str) -> dict[str, Any]:
    """Two revisions deployed one after the other to one deployment group."""
    first, second, setup = SECOND[case]
    spec = S + _files(("/", "@/dest"))
    fails = any(name == "agentkit-fail-owner" for name, _, _, _ in first)
    spec_one = spec + ("permissions:\n  - object: @/dest\n    pattern: a\n"
                       "    owner: no-such-user-ak\n" if fails else "")
    return {"revisions": [{"members": _described(first), "appspec": spec_one},
                          {"members": _described(second), "appspec": spec}],
            "setup": setup, "file_exists_behavior": "DISALLOW"}


def _second_outcome(first: dict[str, Any], second: dict[str, Any],
                    tree: dict[str, tuple[str, str, str | None, str]], host: Path,
                    root: Path) -> dict[str, Any]:
    one = _outcome(first, {}, host, root / "agent-1" / "archive")
    return {"first": {key: one[key] for key in ("result", "failed_event", "message")},
            **_outcome(second, tree, host, root / "agent-2" / "archive")}


def record_second(root: Path, lib: str, case: str) -> dict[str, Any]:
    bundle = second_case(case)
    host = root / "host"
    one, two = (_built(root, revision, host, name)
                for revision, name in zip(bundle["revisions"], ("one", "two")))
    _set_up(host, bundle["setup"])
    agent_one = _by_agent(root, one, bundle["file_exists_behavior"], lib, "agent-1")
    agent = _by_agent(root, two, bundle["file_exists_behavior"], lib, "agent-2")
    return {"bundle": bundle,
            "agent": _second_outcome(agent_one, agent, _state(host), host, root)}


SECOND_RECORDED = _recording("second")


@pytest.mark.parametrize("case", _params("second", SECOND))
def test_recorded_agent_second_deployment_same_as_verify(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    recorded = _recorded(SECOND_RECORDED, case)
    bundle = recorded["bundle"]
    host = tmp_path / "host"
    one, two = (_built(tmp_path, revision, host, name)
                for revision, name in zip(bundle["revisions"], ("one", "two")))
    _set_up(host, bundle["setup"])
    before = _state(host)
    tool_one = _by_verify(tmp_path, one, bundle["file_exists_behavior"], capsys, "agent-1")
    tool = _by_verify(tmp_path, two, bundle["file_exists_behavior"], capsys, "agent-2")
    predicted = _predicted(before, tool["changes"])
    assert _second_outcome(tool_one, tool, predicted, host, tmp_path) == recorded["agent"]


@pytest.mark.parametrize("case", _params("second", SECOND))
def test_real_agent_second_deployment_same_as_verify(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], agent_lib: str, case: str) -> None:
    bundle = second_case(case)
    host = tmp_path / "host"
    one, two = (_built(tmp_path, revision, host, name)
                for revision, name in zip(bundle["revisions"], ("one", "two")))
    behavior = bundle["file_exists_behavior"]
    _set_up(host, bundle["setup"])
    before = _state(host)
    tool_one = _by_verify(tmp_path, one, behavior, capsys, "agent-1")
    tool = _by_verify(tmp_path, two, behavior, capsys, "agent-2")
    _set_up(host, bundle["setup"])
    agent_one = _by_agent(tmp_path, one, behavior, agent_lib, "agent-1")
    agent = _by_agent(tmp_path, two, behavior, agent_lib, "agent-2")
    outcome = _second_outcome(agent_one, agent, _state(host), host, tmp_path)
    assert outcome == SECOND_RECORDED.get(case, {}).get("agent"), RERECORD
    assert tool_one["result"] == agent_one["result"]
    _assert_same(before, tool, agent, host)


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
    # the archive's root entry `./` is 0700: the unpacked revision is root's alone
    "runas-a-user-private-root-entry": [("s/a.sh", "#!/bin/sh\nid -un\n", 0o755)],
    # what a script sees of its unpacked revision: the root entry's mode, a link to a directory
    "archive-as-unpacked": [("s/a.sh", "#!/bin/sh\ncd \"$(dirname \"$0\")/..\"\n"
                             "stat -c '%n %a %F' . public/storage storage/pub\n"
                             "readlink public/storage || echo not a link\n", 0o755)],
}
RUNAS = {"runas-a-nologin-user": "nobody", "runas-a-user": "agentkit-bash",
         "runas-a-user-private-root-entry": "agentkit-bash"}
# the bundle's other members: `.` is the archive's root entry
HOOK_MEMBERS: dict[str, list[Member]] = {
    "runas-a-user-private-root-entry": [(".", "dir", "", 0o700)],
    "archive-as-unpacked": [(".", "dir", "", 0o700), ("storage/pub/x", "file", "p", 0o644),
                            ("public/storage", "link", "../storage/pub", 0)],
}


def _streams(log: str) -> tuple[list[str], list[str], list[str]]:
    """Other lines in order, then each stream's lines in order: the agent reads stdout and
    stderr in two threads, so how the two interleave is chance."""
    lines = _STAMP.sub("", log).splitlines()
    return ([li for li in lines if not li.startswith(("[stdout]", "[stderr]"))],
            [li for li in lines if li.startswith("[stdout]")],
            [li for li in lines if li.startswith("[stderr]")])


def hook_case(case: str) -> dict[str, Any]:
    """AfterInstall's scripts, each with a timeout of 1 s (and the runas user, if any)."""
    scripts = HOOKS[case]
    runas = f"      runas: {RUNAS[case]}\n" if case in RUNAS else ""
    spec = S + "hooks:\n  AfterInstall:\n" + "".join(
        f"    - location: {name}\n      timeout: 1\n{runas}" for name, _, _ in scripts)
    members = [(n, "file", body, mode) for n, body, mode in scripts if body is not None]
    members = [*HOOK_MEMBERS.get(case, []), *members]
    return {"members": _described(members), "appspec": spec, "event": "AfterInstall",
            "runas": RUNAS.get(case)}


def _hook_outcome(failed_event: str | None, error_code: str, message: str | None, log: str,
                  archives: tuple[str, ...]) -> dict[str, Any]:
    for archive in archives:
        message = message and message.replace(archive, "ARCHIVE")
        log = log.replace(archive, "ARCHIVE")
    other, out, err = _streams(log)
    return {"failed_event": failed_event, "error_code": error_code, "message": message,
            "scripts_log": {"other": other, "stdout": out, "stderr": err}}


def _hook_by_agent(root: Path, archive: Path, lib: str) -> dict[str, Any]:
    """The agent's hook executor on the unpacked bundle, from / (the agent's directory)."""
    top = root / "agent-root"
    (top / "deployment-archive").mkdir(parents=True)
    subprocess.run(["tar", "-xpsf", str(archive)], cwd=top / "deployment-archive", check=True)
    run = subprocess.run(["ruby", str(HOOK), str(top), "AfterInstall", DEPLOYMENT_ID],
                         capture_output=True, text=True, cwd="/",
                         env={**os.environ, "AGENT_LIB": lib})
    agent = json.loads(run.stdout.splitlines()[-1])
    log = (top / "logs" / "scripts.log").read_text(errors="replace")
    return _hook_outcome("AfterInstall" if agent["error_code"] else None,
                         CODES[agent["error_code"]], agent["message"], log,
                         (f"{top}/deployment-archive",))


def _hook_by_verify(root: Path, archive: Path, hooks: str,
                    capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """verify, run from / (its deployment id is DEPLOYMENT_ID: the caller patches it)."""
    keep = root / "keep"
    main(["verify", "--hooks", hooks, "--format", "json", "--keep", str(keep), str(archive)])
    out = json.loads(capsys.readouterr().out)
    error = out["error"] or {"error_code": "SUCCEEDED", "message": None}
    return _hook_outcome(out["failed_event"], error["error_code"], error["message"],
                         out["scripts_log"],
                         (f"{keep}/deployment-root/dg-verify/{DEPLOYMENT_ID}/deployment-archive",
                          f"/opt/codedeploy-agent/deployment-root/dg-verify/{DEPLOYMENT_ID}/"
                          "deployment-archive"))


def record_hook(root: Path, lib: str, case: str) -> dict[str, Any]:
    """What the agent's hook executor does with a case; `root` must be reachable by the
    runas users, who must exist."""
    bundle = hook_case(case)
    archive = _built(root, bundle, root / "host")
    return {"bundle": bundle, "agent": _hook_by_agent(root, archive, lib)}


HOOK_RECORDED = _recording("hook")


def _hook_params() -> list[Any]:
    out = []
    for hooks in ("host", "sandbox"):
        for case in HOOKS:
            why = (KNOWN_DIFFERENCES.get(f"hook/{case}")
                   or KNOWN_DIFFERENCES.get(f"hook-{hooks}/{case}"))
            marks = [pytest.mark.xfail(strict=True, reason=why)] if why else []
            out.append(pytest.param(hooks, case, marks=marks, id=f"{hooks}-{case}"))
    return out


@pytest.mark.parametrize(("hooks", "case"), _hook_params())
def test_recorded_agent_hook_same_as_verify(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch,
                                            request: pytest.FixtureRequest, hooks: str,
                                            case: str) -> None:
    from agentkit.commands import verify as verify_cmd

    recorded = _recorded(HOOK_RECORDED, case)
    bundle = recorded["bundle"]
    if hooks == "sandbox" and why_unavailable() is not None:
        pytest.skip(f"no hook box here: {why_unavailable()}")
    if bundle["runas"]:
        if hooks == "host" and os.geteuid() != 0:
            pytest.skip("runas on the host is `su USER`, which takes root: the sandbox run "
                        "compares this case for every user")
        if hooks == "sandbox" and ids.choose().kind == "single":
            pytest.skip("no subordinate ids: the box has no other user to run the script as")
        if bundle["runas"] != "nobody":
            request.getfixturevalue("runas_users")
    monkeypatch.setattr(verify_cmd, "deployment_id", lambda: DEPLOYMENT_ID)
    monkeypatch.chdir("/")
    tmp_path = _reachable(tmp_path)  # a runas user must reach the scripts, as on an instance
    archive = _built(tmp_path, bundle, tmp_path / "host")
    assert _hook_by_verify(tmp_path, archive, hooks, capsys) == recorded["agent"]


@pytest.mark.parametrize("case", _params("hook", HOOKS))
def test_real_agent_hook_same_as_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch, agent_lib: str,
                                        runas_users: tuple[str, str], case: str) -> None:
    from agentkit.commands import verify as verify_cmd

    monkeypatch.setattr(verify_cmd, "deployment_id", lambda: DEPLOYMENT_ID)
    monkeypatch.chdir("/")
    tmp_path = _reachable(tmp_path)  # a runas user must reach the scripts, as on an instance
    archive = _built(tmp_path, hook_case(case), tmp_path / "host")
    tool = _hook_by_verify(tmp_path, archive, "host", capsys)
    agent = _hook_by_agent(tmp_path, archive, agent_lib)
    assert agent == HOOK_RECORDED.get(case, {}).get("agent"), RERECORD
    assert tool == agent
    if case == "runas-a-user":  # it did run as that user (not only fail the same way)
        assert tool["scripts_log"]["stdout"][0] == "[stdout]agentkit-bash"


def test_recording_describes_the_cases() -> None:
    assert {kind: {case: recorded["bundle"] for case, recorded in _recording(kind).items()}
            for kind in ("install", "second", "hook")} == {
        "install": {case: install_case(case) for case in CASES},
        "second": {case: second_case(case) for case in SECOND},
        "hook": {case: hook_case(case) for case in HOOKS}}


def test_known_differences_are_cases() -> None:
    cases = {f"{kind}/{case}" for kind, names in (("install", CASES), ("second", SECOND),
                                                   ("hook", HOOKS), ("hook-host", HOOKS),
                                                   ("hook-sandbox", HOOKS))
             for case in names}
    assert set(KNOWN_DIFFERENCES) - cases == set()


def _reachable(tmp_path: Path) -> Path:
    """tmp_path, with every directory above it searchable by other users (pytest makes its
    base directory 0700)."""
    for parent in [tmp_path, *tmp_path.parents]:
        if parent == Path("/tmp") or parent == Path("/"):
            break
        parent.chmod(parent.stat().st_mode | 0o711)
    return tmp_path
