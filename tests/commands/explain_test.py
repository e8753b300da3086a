"""`agentkit explain`: what people paste from the console, the agent's logs and the API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentkit.cli import main
from agentkit.diagnose import parse
from agentkit.diagnose.engine import diagnose, diagnose_all

# the seed's story: the console's event details of an after_install failure on EFS
CONSOLE = """\
Error code
ScriptFailed
Script name
scripts/after_install.sh
Message
Script at specified location: scripts/after_install.sh run as user root failed with exit code 1
Log tail
LifecycleEvent - AfterInstall
Script - scripts/after_install.sh
[stdout]linking shared media
[stderr]chown: changing ownership of '/var/www/shop/shared/media/images/85.jpg': \
Operation not permitted
"""
CHOWN = ("Root may not change /var/www/shop/shared/media/images/85.jpg on its file system: NFS "
         "and EFS shares squash root to nobody (root_squash) and an EFS access point fixes "
         "every file's owner; or the file is immutable (chattr +i).")
CHOWN_FIX = ("Don't chown shared storage in a hook: set its ownership once on the storage side "
             "(the access point's POSIX user). `agentkit hook permissions` skips other mounts "
             "unless `cross_mounts: true`, and sums up what it may not change instead of "
             "failing.")


def _explain(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str],
             *args: str) -> tuple[int, str, str]:
    path = tmp_path / "pasted.txt"
    path.write_text(text)
    code = main(["explain", *args, str(path)])
    out, err = capsys.readouterr()
    return code, out, err


def test_explain_the_consoles_event_details(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _explain(tmp_path, CONSOLE, capsys)
    assert (code, err) == (0, "")
    assert out == (
        "AK814 chown-refused (AfterInstall, scripts/after_install.sh)\n"
        "  evidence: chown: changing ownership of '/var/www/shop/shared/media/images/85.jpg': "
        "Operation not permitted\n"
        f"  cause: {CHOWN}\n  fix: {CHOWN_FIX}\n")


def test_explain_json_of_get_deployment_instance(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    api = {"instanceSummary": {"deploymentId": "d-ABC", "status": "Failed", "lifecycleEvents": [
        {"lifecycleEventName": "ApplicationStop", "status": "Succeeded"},
        {"lifecycleEventName": "AfterInstall", "status": "Failed", "diagnostics": {
            "errorCode": "ScriptFailed", "scriptName": "scripts/start.sh",
            "message": "Script at specified location: scripts/start.sh run as user ec2-user "
                       "failed with exit code 127",
            "logTail": "[stderr]/opt/codedeploy-agent/deployment-root/x/d-ABC/deployment-archive"
                       "/scripts/start.sh: line 4: pm2: command not found\n"}}]}}
    code, out, _ = _explain(tmp_path, json.dumps(api), capsys, "--format", "json")
    assert code == 0
    (found,) = json.loads(out)["diagnoses"]
    assert (found["code"], found["event"], found["script"]) == \
        ("AK800", "AfterInstall", "scripts/start.sh")
    assert found["cause"].startswith("`pm2` is not on the PATH the hook runs with: ")


def test_explain_batch_get_deployment_targets_and_the_deployments_summary(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    targets = {"deploymentTargets": [{"deploymentTargetType": "InstanceTarget",
                                      "instanceTarget": {"lifecycleEvents": [{
        "lifecycleEventName": "ValidateService", "status": "Failed", "diagnostics": {
            "errorCode": "ScriptFailed", "scriptName": "scripts/validate.sh",
            "message": "Script at specified location: scripts/validate.sh failed with exit "
                       "code 7",
            "logTail": "[stderr]curl: (7) Failed to connect to localhost port 8080 after 0 ms: "
                       "Connection refused\n"}}]}}]}
    code, out, _ = _explain(tmp_path, json.dumps(targets), capsys)
    assert code == 0 and out.startswith("AK810 validate-too-early (ValidateService, "
                                        "scripts/validate.sh)\n")
    summary = {"deploymentInfo": {"status": "Failed", "errorInformation": {
        "code": "HEALTH_CONSTRAINTS", "message": "The overall deployment failed because too "
        "many individual instances failed deployment, too few healthy instances are available "
        "for deployment, or some instances in your deployment group are experiencing "
        "problems."}}}
    code, out, _ = _explain(tmp_path, json.dumps(summary), capsys)
    assert code == 0 and out.splitlines()[0] == "AK821 too-many-instances"
    assert out.splitlines()[3] == (
        "  fix: Look at one failed instance's events (`aws deploy "
        "batch-get-deployment-targets`, or the console's View events) and run `agentkit "
        "explain` on that: the instance's failing event and log tail say why.")


def test_explain_scripts_log_and_the_agents_log(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    scripts_log = (
        "2024-05-02 10:11:12 LifecycleEvent - BeforeInstall\n"
        "2024-05-02 10:11:12 Script - scripts/clean.sh\n"
        "2024-05-02 10:11:12 [stdout]cleaning\n"
        "2024-05-02 10:11:13 LifecycleEvent - ApplicationStart\n"
        "2024-05-02 10:11:13 Script - scripts/start.sh\n"
        "2024-05-02 10:11:14 [stderr]Error: listen EADDRINUSE: address already in use :::3000\n")
    code, out, _ = _explain(tmp_path, scripts_log, capsys)
    assert (code, out.splitlines()[0]) == (0, "AK817 address-in-use (ApplicationStart, "
                                              "scripts/start.sh)")
    agent_log = (
        "2024-05-02T10:11:14 ERROR [codedeploy-agent(1234)]: InstanceAgent::Plugins::"
        "CodeDeployPlugin::CommandPoller: Error during perform: InstanceAgent::Plugins::"
        "CodeDeployPlugin::ScriptError - Script at specified location: scripts/start.sh failed "
        "to close STDOUT - /opt/codedeploy-agent/lib/instance_agent/plugins/codedeploy/"
        "hook_executor.rb:173:in `execute_script'\n")
    code, out, _ = _explain(tmp_path, agent_log, capsys)
    assert (code, out.splitlines()[0]) == (0, "AK801 outputs-left-open (scripts/start.sh)")


def test_explain_says_what_it_needs_when_nothing_fits(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    needs = ("To explain a failure, paste the console's event details (Error code, Script "
             "name, Message, Log tail), the deployment's scripts.log, the ERROR line of "
             "codedeploy-agent.log, or the JSON of `aws deploy get-deployment-instance` / "
             "`batch-get-deployment-targets`.\n")
    code, out, err = _explain(tmp_path, "hello, my deployment is broken\n", capsys)
    assert (code, out, err) == (1, "", f"agentkit explain: no failure was found in it. {needs}")
    plain = CONSOLE.replace(CONSOLE[CONSOLE.index("[stdout]"):], "")
    code, out, err = _explain(tmp_path, plain, capsys)
    assert (code, out) == (1, "")
    assert err == ("agentkit explain: no rule fits the failure it shows (Script at specified "
                   "location: scripts/after_install.sh run as user root failed with exit code "
                   f"1). {needs}")
    assert main(["explain", str(tmp_path / "missing.txt")]) == 1
    assert capsys.readouterr().err == (
        f"agentkit: error: {tmp_path}/missing.txt: cannot read it (No such file or directory); "
        + needs[len("To explain a failure, "):].rstrip("\n").rstrip(".") + ".\n")


# --- real error logs from public threads (tests/data/explain: rewritten, formats kept) -------

DATA = Path(__file__).resolve().parents[1] / "data" / "explain"
PASTES = sorted(p for p in DATA.iterdir() if p.suffix != ".expected")
# what each paste is, and the rules that must explain it (the .expected files hold the whole
# text, reviewed by hand)
CODES = {
    "agent-log-appspec-missing": ["AK829"], "agent-log-exit-127": ["AK833"],
    "agent-log-missing-credentials": ["AK827"], "agent-log-s3-access-denied": ["AK828"],
    "agent-log-stdout-left-open": ["AK801"], "agent-log-zip-fallback": ["AK831"],
    "batch-get-deployment-targets-application-stop": ["AK803", "AK818"],
    "cli-table-file-exists": ["AK802"], "cloudwatch-stamped-npm-network": ["AK820"],
    "console-agent-not-reached": ["AK826"], "console-agent-restart": ["AK825"],
    "console-crlf-pm2-127": ["AK800"], "console-inline-script-missing": ["AK824"],
    "console-markdown-yum-on-ubuntu": ["AK822"], "console-runas-user-missing": ["AK805"],
    "console-table-timeout-aws": ["AK800", "AK808"], "console-tabs-efs-chown": ["AK814"],
    "deployment-health-constraints": ["AK821"], "get-deployment-instance-validate": ["AK810"],
    "logtail-json-escaped-sudo": ["AK813"], "scripts-log-crlf": ["AK811"],
    "scripts-log-env-node": ["AK823"], "scripts-log-runas-permission-denied": ["AK807"],
    "scripts-log-spring-port-in-use": ["AK817"],
    "console-install-source-missing": ["AK830"],
    "get-deployment-health-constraints-invalid": ["AK832"],
    "console-banner-agent-issue": ["AK834"], "console-banner-no-instances": ["AK836"],
    "get-deployment-service-role": ["AK835"],
    "get-deployment-instance-yaml-node": ["AK800"],
    "get-deployment-instance-table-file-exists": ["AK802"],
    "scripts-log-sudo-pm2": ["AK838"],
}


@pytest.mark.parametrize("paste", PASTES, ids=[p.stem for p in PASTES])
def test_explain_real_error_logs_get_their_cause_and_fix(
        paste: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(paste)]) == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines() if not line.startswith(" ")] == \
        CODES[paste.stem]
    assert out == paste.with_suffix(".expected").read_text()
    assert main(["explain", "--format", "json", str(paste)]) == 0
    found = json.loads(capsys.readouterr().out)["diagnoses"]
    assert [d["code"] for d in found] == CODES[paste.stem]


def test_explain_every_paste_is_listed() -> None:
    assert sorted(CODES) == [p.stem for p in PASTES]


_BASE = [("Error code", "ScriptFailed"), ("Script name", "scripts/start.sh"),
         ("Message", "Script at specified location: scripts/start.sh run as user ec2-user "
          "failed with exit code 127"),
         ("Log tail", "LifecycleEvent - ApplicationStart")]
_TAIL = ["Script - scripts/start.sh", "[stdout]starting",
         "[stderr]/opt/codedeploy-agent/deployment-root/g/d-X/deployment-archive/scripts/"
         "start.sh: line 4: pm2: command not found"]


@given(layout=st.sampled_from(["tab", "colon", "next-line", "space", "markdown"]),
       ending=st.sampled_from(["\n", "\r\n"]),
       stamp=st.sampled_from(["", "2024-05-02 10:11:12 ", "2024-05-02T10:11:12.345Z\t",
                              "[2024-05-02T10:11:12+00:00] "]),
       quoted=st.booleans(), fenced=st.booleans(), escaped=st.booleans())
@settings(max_examples=150)
def test_explain_pasted_variations_read_alike(layout: str, ending: str, stamp: str,
                                              quoted: bool, fenced: bool,
                                              escaped: bool) -> None:
    lines: list[str] = []
    for name, value in _BASE:
        if layout == "next-line":
            lines += [name, value]
        elif layout == "markdown":
            lines.append(f"**{name}** {value}")
        else:
            lines.append(f"{name}{dict(tab=chr(9), colon=': ', space=' ')[layout]}{value}")
    lines += ["```", *_TAIL, "```"] if fenced else _TAIL
    lines = [stamp + line for line in lines]
    lines = ["> " + line for line in lines] if quoted else lines
    text = ending.join(lines) + ending
    if escaped:  # a log tail copied out of JSON: one line, `\n` and `\"` escaped
        text = json.dumps(text)[1:-1]
    (case,) = parse.cases(text)
    assert (case.event, case.error_code, case.script, case.code) == \
        ("ApplicationStart", "SCRIPT_FAILED", "scripts/start.sh", 127)
    assert [d.code for d in diagnose(case)] == ["AK800"]


def _transformed(text: str, how: str) -> str:
    lines = text.splitlines()
    if how == "crlf":
        return "\r\n".join(lines) + "\r\n"
    if how == "stamped":
        return "".join(f"2024-05-02T10:11:12.345Z\t{line}\n" for line in lines)
    if how == "quoted":
        return "".join(f"> {line}\n" for line in lines)
    return json.dumps(text)[1:-1]  # escaped: copied out of a JSON string


# a timestamp or a quote before each line of JSON or YAML is no longer a document
_HOW = [(paste, how) for paste in PASTES for how in ("crlf", "stamped", "quoted", "escaped")
        if how in ("crlf", "escaped") or paste.suffix not in (".json", ".yaml")]


@pytest.mark.parametrize(("paste", "how"), _HOW, ids=[f"{p.stem}-{h}" for p, h in _HOW])
def test_explain_real_error_logs_read_alike_however_pasted(paste: Path, how: str) -> None:
    text = _transformed(paste.read_text(), how)
    assert [d.code for d in diagnose_all(parse.cases(text))] == CODES[paste.stem]
