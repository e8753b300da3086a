"""The rules over the real agent 1.8.x's recorded failures (tests/data/real_agent, recorded
by tests/agent/record_real_agent.py), as `agentkit explain` reads them from scripts.log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentkit.diagnose.case import Case, log_lines
from agentkit.diagnose.engine import diagnose

DATA = Path(__file__).resolve().parents[1] / "data" / "real_agent" / "hook.json"


def _recorded(name: str) -> Case:
    agent = json.loads(DATA.read_text())["cases"][name]["agent"]
    log = agent["scripts_log"]
    message = agent["message"].replace("ARCHIVE/", "/opt/codedeploy-agent/deployment-root/g/d/"
                                       "deployment-archive/")
    return Case("AfterInstall", agent["error_code"], message,
                log_lines("\n".join(log["other"] + log["stdout"] + log["stderr"])), "s/a.sh")


@pytest.mark.parametrize(("name", "codes"), [
    ("crlf-shebang", ["AK812"]),
    ("daemon-keeps-stdout", ["AK801"]),
    ("runas-a-user-private-root-entry", ["AK807"]),
    ("timeout", ["AK808"]),
    ("exit-code", []),  # `exit 3` and no output: nothing to say beyond the agent's message
    ("second-script-fails", []),
])
def test_engine_real_agents_recorded_failures(name: str, codes: list[str]) -> None:
    assert [d.code for d in diagnose(_recorded(name))] == codes


def test_engine_exit_126_names_the_file_and_the_0700_archive_root() -> None:
    (found,) = diagnose(_recorded("runas-a-user-private-root-entry"))
    assert found.evidence == "bash: line 1: ARCHIVE/s/a.sh: Permission denied"
    assert found.cause == (
        "ARCHIVE/s/a.sh could not be executed (exit 126): it has no execute bit (zip "
        "archives and Windows checkouts lose it; git keeps it only when committed with mode "
        "100755), its file system is mounted noexec (/tmp on hardened AMIs), or a directory "
        "on its way may not be searched (an archive whose root directory is 0700). The agent "
        "makes a hook's own script executable before running it (hook_executor.rb), so for "
        "that file it is the mount or a directory; for a file the script calls, any of them.")


def test_engine_every_rule_needs_evidence() -> None:
    # a failure with no output and a plain message gets no diagnosis: no guessing
    bare = Case("AfterInstall", "SCRIPT_FAILED", "Script at specified location: s/a.sh "
                "failed with exit code 1")
    assert diagnose(bare) == []


def test_engine_network_in_verify_and_on_an_instance_differ() -> None:
    line = ("npm ERR! request to https://registry.npmjs.org/express failed, reason: getaddrinfo "
            "EAI_AGAIN registry.npmjs.org",)
    here = Case("AfterInstall", "SCRIPT_FAILED", "m", line, "s/a.sh", 1, in_verify=True)
    there = Case("AfterInstall", "SCRIPT_FAILED", "m", line, "s/a.sh", 1)
    assert [d.code for d in diagnose(here)] == ["AK819"]
    assert [d.code for d in diagnose(there)] == ["AK820"]


def test_engine_exit_127_alone_points_at_scripts_log_and_not_when_the_line_is_there() -> None:
    message = "Script at specified location: s/a.sh run as user root failed with exit code 127"
    (found,) = diagnose(Case("AfterInstall", "SCRIPT_FAILED", message, (), "s/a.sh"))
    assert (found.code, found.evidence) == ("AK833", message)
    with_line = Case("AfterInstall", "SCRIPT_FAILED", message,
                     ("s/a.sh: line 2: pm2: command not found",), "s/a.sh")
    assert [d.code for d in diagnose(with_line)] == ["AK800"]
    package_manager = Case("AfterInstall", "SCRIPT_FAILED", message,
                           ("s/a.sh: line 2: apt-get: command not found",), "s/a.sh")
    assert [d.code for d in diagnose(package_manager)] == ["AK822"]


def test_engine_an_exit_code_not_recorded_needs_the_rules_line() -> None:
    # scripts.log keeps no exit code: AK807 (exit 126) must then see the shell's refusal
    denied = Case("ApplicationStart", "SCRIPT_FAILED", "",
                  ("/bin/bash: /d/deployment-archive/bin/start.sh: Permission denied",),
                  "bin/start.sh")
    assert [d.code for d in diagnose(denied)] == ["AK807"]
    assert diagnose(Case("ApplicationStart", "SCRIPT_FAILED", "", ("starting",), "s")) == []


def test_engine_script_missing_of_this_revision_and_of_the_previous_differ() -> None:
    message = "Script does not exist at specified location: /opt/x/deployment-archive/s/a.sh"
    now = Case("BeforeInstall", "SCRIPT_MISSING", message, (), "s/a.sh")
    before = Case("ApplicationStop", "SCRIPT_MISSING", message, (), "s/a.sh")
    assert [d.code for d in diagnose(now)] == ["AK824"]
    assert [d.code for d in diagnose(before)] == ["AK804"]


def test_engine_unzip_exit_50_is_the_disk_not_the_fallback() -> None:
    full = Case("DownloadBundle", "UNKNOWN_ERROR", "Error extracting zip archive: 50")
    warned = Case("DownloadBundle", "UNKNOWN_ERROR", "Error extracting zip archive: 1")
    assert diagnose(full) == []
    assert [d.code for d in diagnose(warned)] == ["AK831"]
    # what the agent says instead for exit 50 (command_executor.rb#unpack_bundle)
    said = Case("DownloadBundle", "UNKNOWN_ERROR", "The disk is (or was) full during extraction.")
    (found,) = diagnose(said)
    assert (found.code, found.fix) == ("AK837", (
        "Free space on the volume of /opt/codedeploy-agent (`df -h`; the agent keeps "
        "`:max_revisions:` old revisions there, 5 by default: lower it in "
        "/etc/codedeploy-agent/conf/codedeployagent.yml) or grow the volume; `agentkit hook "
        "preflight` checks the free space before Install."))
