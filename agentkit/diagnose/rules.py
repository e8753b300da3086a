"""Every diagnosis rule as data: a code, what it matches, the cause and the fix.

A rule matches a Case when every condition it sets holds: the event, the agent's error code,
the exit code, the agent's message (`message`, a regex) and a line of the script's output
(`line`, a regex; its first match is the evidence). Named groups of either regex, and
{script}, {event}, {user}, {code}, fill the texts. Fewer precise rules beat many vague
ones: each needs evidence, and where two causes fit the same evidence, its text says what
tells them apart. Where the agent's behaviour surprises, the text says where it comes from
(aws-codedeploy-agent 1.8.x, lib/instance_agent/plugins/codedeploy/hook_executor.rb for
running scripts, installer.rb for Install).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ANY_SCRIPT_FAILURE = ("SCRIPT_FAILED", "SCRIPT_TIMED_OUT", "OUTPUTS_LEFT_OPEN",
                      "SCRIPT_EXECUTABILITY", "UNKNOWN_ERROR")


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    cause: str
    fix: str
    events: tuple[str, ...] = ()
    error_codes: tuple[str, ...] = ()
    exit_codes: tuple[int, ...] = ()
    message: str | None = None
    line: str | None = None
    line_optional: bool = False  # evidence from the message when no line matches
    unless_line: str | None = None  # a line that belongs to another rule's cause
    in_verify: bool | None = None  # None: both; True: only in verify's box; False: only not
    deployment: bool = False  # a deployment-level message (`agentkit explain` only)
    patterns: dict[str, re.Pattern[str]] = field(default_factory=dict, compare=False,
                                                 repr=False)

    def compiled(self, which: str) -> re.Pattern[str] | None:
        source = getattr(self, which)
        if source is None:
            return None
        if which not in self.patterns:
            self.patterns[which] = re.compile(source)
        return self.patterns[which]


_CR = r"\$'[^']*\\r'|\r$|\^M"  # bash shows a command with a CR in it as $'npm\r'
_NOT_FOUND = r"(?:^|:\s)(?:line\s\d+:\s|\d+:\s)?(?P<command>[^\s:'/]+): (?:command )?not found\s*$"
_FROM_PREVIOUS = (
    "the agent runs ApplicationStop (and BeforeBlockTraffic, AfterBlockTraffic) from the last "
    "revision that deployed successfully to this instance, from its copy under the deployment "
    "root, not from this bundle (hook_executor.rb: the last successful install's appspec)")
_UNSTICK = (
    "Deploy once with `--ignore-application-stop-failures` (the console's \"Don't fail the "
    "deployment if the ApplicationStop lifecycle event fails\"): the fixed script of this "
    "bundle is the one that runs next time. Or, on the instance, delete "
    "/opt/codedeploy-agent/deployment-root/deployment-instructions/"
    "<deployment group id>_last_successful_install, so that no old ApplicationStop runs.")

RULES: tuple[Rule, ...] = (
    Rule("AK800", "command-not-found",
         "`{command}` is not on the PATH the hook runs with: the agent runs each script as "
         "root with its own minimal environment, or as the runas user through `su USER -c`, "
         "which reads no login profile, so what a login shell adds (nvm, rbenv, pm2 from "
         "npm -g, exports in ~/.bashrc or ~/.profile) is not there.",
         "Call it by its full path (`command -v {command}` in a login shell on the instance "
         "prints it) or set PATH at the top of the script (`export PATH=/usr/local/bin:"
         "$PATH`; for nvm, `. \"$HOME/.nvm/nvm.sh\"` first). If a login shell cannot find it "
         "either, the AMI lacks it: install its package in the AMI or in a BeforeInstall hook.",
         error_codes=ANY_SCRIPT_FAILURE, line=_NOT_FOUND, unless_line=_CR),
    Rule("AK801", "outputs-left-open",
         "{script} exited, but a process it started in the background still holds the "
         "script's standard output or error open (a server started with `&` or nohup without "
         "redirecting its output): the agent waits for both streams to close until the hook's "
         "timeout, then fails the event (hook_executor.rb).",
         "Redirect all three streams of what you start in the background: `nohup ./server > "
         "/var/log/app.log 2>&1 < /dev/null &`; better, run it as a systemd service "
         "(`systemctl restart app`). Lower the hook's `timeout` too: without one the agent "
         "waits 3600 s before it says so.",
         error_codes=("OUTPUTS_LEFT_OPEN",)),
    Rule("AK802", "file-exists",
         "Install found {path} already on the instance, and file_exists_behavior is DISALLOW "
         "(the default): the agent removes before Install only what the last successful "
         "deployment of this group installed (its cleanup file), so this file was put there "
         "by hand, by another deployment group, or by an earlier revision's hook.",
         "Say what Install does with such files: `file_exists_behavior: OVERWRITE` (replace) "
         "or `RETAIN` (keep) in appspec.yml, or --file-exists-behavior of create-deployment; "
         "or remove them in a BeforeInstall hook. Don't create files under a `files` "
         "destination from a hook: the next Install meets them.",
         message=r"already exists at this location: (?P<path>\S+?)\.?$"),
    Rule("AK803", "previous-application-stop",
         f"This {{event}} script is the previous revision's: {_FROM_PREVIOUS}. Fixing it in "
         "this bundle does not help this deployment.",
         _UNSTICK, events=("ApplicationStop", "BeforeBlockTraffic", "AfterBlockTraffic"),
         error_codes=("SCRIPT_FAILED", "SCRIPT_TIMED_OUT", "OUTPUTS_LEFT_OPEN")),
    Rule("AK804", "previous-script-missing",
         f"The previous revision's appspec names {{script}} for {{event}}, and that "
         f"revision's copy on this instance has no such file: {_FROM_PREVIOUS}.",
         _UNSTICK, events=("ApplicationStop", "BeforeBlockTraffic", "AfterBlockTraffic"),
         error_codes=("SCRIPT_MISSING",)),
    Rule("AK805", "runas-user-missing",
         "The hook's runas user `{who}` does not exist on this instance: the agent runs the "
         "script through `su {who} -c`, and su finds no such user.",
         "Create the user in the AMI (or in an earlier hook run as root: `id -u {who} "
         ">/dev/null 2>&1 || useradd --system {who}`), or fix `runas` in appspec.yml; "
         "`agentkit hook preflight` checks the users the appspec names.",
         line=r"(?:su: user |No passwd entry for user '?)(?P<who>[^'\s]+)"),
    Rule("AK806", "su-in-runas-hook",
         "The script calls `su` while it runs as a user other than root: su asks for a "
         "password, and the agent gives scripts no terminal and no input.",
         "Give that hook no runas (it then runs as root) and switch user only for the "
         "commands that need it (`runuser -u USER -- CMD`), or drop the su.",
         line=r"(?:^|Password: ?)su: (?:Authentication failure|Sorry|"
              r"must be run from a terminal)"),
    Rule("AK807", "not-executable",
         "{path} could not be executed (exit 126): it has no execute bit (zip archives and "
         "Windows checkouts lose it; git keeps it only when committed with mode 100755), its "
         "file system is mounted noexec (/tmp on hardened AMIs), or a directory on its way "
         "may not be searched (an archive whose root directory is 0700).",
         "Commit it executable (`git update-index --chmod=+x FILE`, or `chmod +x` before "
         "`agentkit bundle`), or run it through its interpreter (`bash FILE`); keep programs "
         "off noexec mounts.",
         exit_codes=(126,), line=r"(?P<path>[^\s:]+): Permission denied\s*$",
         line_optional=True),
    Rule("AK808", "timed-out",
         "{script} was still running after {secs} s, the hook's timeout: something it waits "
         "for never came (a retry loop for a command or a port that never appears, a prompt "
         "waiting for input, a service that never starts), or the work takes longer. The "
         "agent then sends SIGTERM to its process group.",
         "Read its last lines of output for what it was waiting for; bound every wait "
         "(`timeout 60 CMD`, a loop with a count) so it fails with a message; raise "
         "`timeout` in appspec.yml (at most 3600) only when the work is really that long.",
         error_codes=("SCRIPT_TIMED_OUT",),
         message=r"failed to complete in (?P<secs>\d+) seconds"),
    Rule("AK809", "relative-path",
         "`{path}` is a relative path, and hooks do not run in the bundle's directory: the "
         "agent starts each script without changing directory (hook_executor.rb), so "
         "relative paths are looked up in the agent's own working directory.",
         "Use the absolute paths of your `files` destination, or begin the script with "
         "`cd \"$(dirname \"$0\")\"` (its own directory in the deployment archive) before "
         "using paths relative to the bundle.",
         error_codes=ANY_SCRIPT_FAILURE,
         line=r"(?:^|[\s'\"])(?P<path>(?![/~])[^\s'\":]*/[^\s'\":]*)['\"]?: No such file or "
              r"directory"),
    Rule("AK810", "validate-too-early",
         "The check ran before the application was listening: it was started in "
         "ApplicationStart, and ValidateService began at once while it was still starting "
         "(curl exit 7: nothing listened on that port yet).",
         "Retry until it answers, within a deadline: `curl --fail --retry 30 "
         "--retry-connrefused --retry-delay 2 URL`, a loop, or `agentkit hook validate`. If it "
         "never answers, the application did not start: read its log (`journalctl -u "
         "UNIT`).",
         events=("ValidateService",),
         line=r"curl: \(7\)|Connection refused|Failed to connect to"),
    Rule("AK811", "crlf",
         "{script} has Windows line endings (CRLF): the shell reads the `\\r` as part of each "
         "command, and of the interpreter's name on the #! line.",
         "Convert it to LF (`sed -i 's/\\r$//' FILE` or `dos2unix`) and keep it so with "
         "`*.sh text eol=lf` in .gitattributes; `agentkit lint` reports CRLF scripts before "
         "deployment (AK504).",
         line=r"\$'[^']*\\r'|\^M"),
    Rule("AK812", "interpreter-missing",
         "The program named on the first line of {script} (#!) cannot be started: it is "
         "not installed on the instance (`#!/usr/bin/python` where only python3 exists, "
         "`#!/usr/bin/env node` without node on root's PATH), or the line ends in a Windows "
         "`\\r`, which makes the interpreter's name one that does not exist.",
         "Point #! at an interpreter the AMI has (`#!/bin/bash`, `#!/usr/bin/env python3`) or "
         "install it; `head -1 FILE | od -c` shows a `\\r` if the file has CRLF line endings "
         "(convert with `sed -i 's/\\r$//' FILE`).",
         message=r"Errno::ENOENT with message No such file or directory"),
    Rule("AK813", "sudo-needs-terminal",
         "sudo inside the hook wants a password or a terminal (`Defaults requiretty`), and "
         "the agent runs scripts with neither.",
         "Hooks run as root unless `runas` says otherwise: drop the sudo. For a runas user, "
         "allow exactly the commands it needs with NOPASSWD in /etc/sudoers.d/, without "
         "requiretty.",
         line=r"sudo: (?:a terminal is required|sorry, you must have a tty|no tty present)"),
    Rule("AK814", "chown-refused",
         "Root may not change {path} on its file system: NFS and EFS shares squash root to "
         "nobody (root_squash) and an EFS access point fixes every file's owner; or the file "
         "is immutable (chattr +i).",
         "Don't chown shared storage in a hook: set its ownership once on the storage side "
         "(the access point's POSIX user). `agentkit hook permissions` skips other mounts "
         "unless `cross_mounts: true`, and sums up what it may not change instead of failing.",
         line=r"(?:chown|chmod|chgrp): changing (?:ownership|permissions) of '(?P<path>[^']+)'"
              r": Operation not permitted"),
    Rule("AK815", "disk-full",
         "A file system filled up while {script} wrote to it.",
         "Free space on the instance (`df -h`; the agent keeps `:max_revisions:` old "
         "revisions under /opt/codedeploy-agent/deployment-root, 5 by default; old logs) or "
         "grow the volume; `agentkit hook preflight` checks the free space before Install "
         "(`min_free: 2x`).",
         line=r"No space left on device"),
    Rule("AK816", "text-file-busy",
         "A program that is running was overwritten in place (a cp over a binary that the "
         "old process still executes).",
         "Stop the application in ApplicationStop before Install, or write the new binary "
         "under another name and rename it over the old one (`install -T`, `mv`), or deploy "
         "releases with an atomic `current` (`agentkit hook release`).",
         line=r"Text file busy"),
    Rule("AK817", "address-in-use",
         "The new process could not listen: the port is still held, most often by the "
         "previous revision's process that ApplicationStop did not stop (or a copy started "
         "by hand).",
         "Stop the old process in ApplicationStop (`systemctl stop UNIT`, or kill the pid "
         "you recorded) and wait until the port is free; run the application as a systemd "
         "service, so that a restart replaces it.",
         line=r"Address already in use|EADDRINUSE|address already in use"),
    Rule("AK818", "unit-not-found",
         "systemd has no unit {unit}: its unit file is not installed (the package or the "
         "bundle's .service file is missing), or it is named differently.",
         "Install the unit file (a `files` entry to /etc/systemd/system/, then `systemctl "
         "daemon-reload`) or the package that brings it, in the AMI; `systemctl "
         "list-unit-files` shows the exact names.",
         line=r"Unit (?P<unit>\S+?) (?:not found|could not be found)\."),
    Rule("AK819", "no-network-in-verify",
         "The hook reached for the network, and verify's box has none unless asked: the "
         "instance probably has one, so this says nothing about the bundle yet.",
         "Run verify with --network to let hooks use this machine's network, or install "
         "the dependencies at build time (vendor them into the bundle) so Install needs no "
         "network.",
         in_verify=True,
         line=r"Could not resolve host|Temporary failure in name resolution|"
              r"getaddrinfo (?:ENOTFOUND|EAI_AGAIN)|Name or service not known|"
              r"Network is unreachable|Failed to establish a new connection"),
    Rule("AK820", "network",
         "The hook could not reach a host over the network: the instance has no route out "
         "(a private subnet without a NAT gateway or VPC endpoint), DNS does not resolve, or "
         "a proxy is needed and not set for the agent's environment.",
         "Check egress from the instance (`curl -sI URL` as root), the subnet's route table "
         "and security group; set the proxy for the agent (`:proxy_uri:` in "
         "codedeployagent.yml sets it for the agent, not for scripts: export HTTPS_PROXY in "
         "the script), or vendor the dependencies into the bundle.",
         in_verify=False,
         line=r"Could not resolve host|Temporary failure in name resolution|"
              r"getaddrinfo (?:ENOTFOUND|EAI_AGAIN)|Name or service not known|"
              r"Network is unreachable|Failed to establish a new connection|ETIMEDOUT"),
    Rule("AK821", "too-many-instances",
         "This is the deployment's summary, not a cause: the minimum healthy hosts setting "
         "could no longer be met because instances failed their own deployments.",
         "Look at one failed instance's events (`aws deploy batch-get-deployment-targets`, or "
         "the console's View events) and run `agentkit explain` on that: the instance's "
         "failing event and log tail say why.",
         deployment=True,
         message=r"too many individual instances failed deployment"),
)


def by_code(code: str) -> Rule | None:
    return next((r for r in RULES if r.code == code), None)
