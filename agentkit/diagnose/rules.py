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
    not_events: tuple[str, ...] = ()  # events where another rule explains it
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
_PACKAGE_MANAGERS = r"yum|dnf|apt-get|apt|zypper|apk"
_NOT_FOUND = (r"(?:^|:\s)(?:line\s\d+:\s|\d+:\s)?(?P<command>(?!(?:" + _PACKAGE_MANAGERS +
              r"):)[^\s:'/]+): (?:command )?not found\s*$")
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

_SUDO_NOT_FOUND = (r"^sudo: (?P<command>(?!(?:" + _PACKAGE_MANAGERS + r"):)[^\s:'/]+): "
                   r"command not found\s*$")
_PREVIOUS_EVENTS = ("ApplicationStop", "BeforeBlockTraffic", "AfterBlockTraffic")
_AGENT_LOG = "/var/log/aws/codedeploy-agent/codedeploy-agent.log"

RULES: tuple[Rule, ...] = (
    Rule("AK800", "command-not-found",
         "`{command}` is not on the PATH the hook runs with: the agent runs each script as "
         "root with its own minimal environment, or as the runas user through `su USER -c` "
         "(linux_util.rb#prepare_script_command), which reads no login profile, so what a "
         "login shell adds (nvm, rbenv, pm2 from "
         "npm -g, exports in ~/.bashrc or ~/.profile) is not there.",
         "Call it by its full path (`command -v {command}` in a login shell on the instance "
         "prints it) or set PATH at the top of the script (`export PATH=/usr/local/bin:"
         "$PATH`; for nvm, `. \"$HOME/.nvm/nvm.sh\"` first). {install}",
         error_codes=ANY_SCRIPT_FAILURE, line=_NOT_FOUND, unless_line=_CR + "|" + _SUDO_NOT_FOUND),
    Rule("AK838", "sudo-secure-path",
         "`sudo {command}` looks `{command}` up in sudo's own secure_path (`Defaults "
         "secure_path` in /etc/sudoers: /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
         "/sbin:/bin), not in the script's PATH, so a command that nvm or a user's npm -g put "
         "elsewhere is not found under sudo even when it is found without.",
         "Drop the sudo (hooks run as root unless `runas` says otherwise), or give sudo the "
         "full path: `sudo \"$(command -v {command})\" ...`. {install}",
         error_codes=ANY_SCRIPT_FAILURE, line=_SUDO_NOT_FOUND),
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
         "deployment of this group installed (its cleanup file, deployment-instructions/"
         "<group id>-cleanup: installer.rb), so this file was put there "
         "by hand, by another deployment group, or by an earlier revision's hook.",
         "Say what Install does with such files: `file_exists_behavior: OVERWRITE` (replace) "
         "or `RETAIN` (keep) in appspec.yml, or --file-exists-behavior of create-deployment; "
         "or remove them in a BeforeInstall hook. Don't create files under a `files` "
         "destination from a hook: the next Install meets them.",
         message=r"already exists at this location: (?P<path>\S+?)\.?$"),
    Rule("AK803", "previous-application-stop",
         f"This {{event}} script is the previous revision's: {_FROM_PREVIOUS}. Fixing it in "
         "this bundle does not help this deployment.",
         _UNSTICK, events=_PREVIOUS_EVENTS,
         error_codes=("SCRIPT_FAILED", "SCRIPT_TIMED_OUT", "OUTPUTS_LEFT_OPEN")),
    Rule("AK804", "previous-script-missing",
         f"The previous revision's appspec names {{script}} for {{event}}, and that "
         f"revision's copy on this instance has no such file: {_FROM_PREVIOUS}.",
         _UNSTICK, events=_PREVIOUS_EVENTS, error_codes=("SCRIPT_MISSING",)),
    Rule("AK805", "runas-user-missing",
         "The hook's runas user `{who}` does not exist on this instance: the agent runs the "
         "script through `su {who} -c` (linux_util.rb#prepare_script_command), and su finds no "
         "such user.",
         "Create the user in the AMI (or in an earlier hook run as root: `id -u {who} "
         ">/dev/null 2>&1 || useradd --system {who}`), or fix `runas` in appspec.yml; "
         "`agentkit hook preflight` checks the users the appspec names.",
         line=r"(?:su: user |No passwd entry for user '?)(?P<who>[^'\s]+)"),
    Rule("AK806", "su-in-runas-hook",
         "The script calls `su` while it runs as a user other than root: su asks for a "
         "password, and the agent gives scripts no terminal and closes their input "
         "(hook_executor.rb).",
         "Give that hook no runas (it then runs as root) and switch user only for the "
         "commands that need it (`runuser -u USER -- CMD`), or drop the su.",
         line=r"(?:^|Password: ?)su: (?:Authentication failure|Sorry|"
              r"must be run from a terminal)"),
    Rule("AK807", "not-executable",
         "{path} could not be executed (exit 126): it has no execute bit (zip archives and "
         "Windows checkouts lose it; git keeps it only when committed with mode 100755), its "
         "file system is mounted noexec (/tmp on hardened AMIs), or a directory on its way "
         "may not be searched (an archive whose root directory is 0700). The agent makes a "
         "hook's own script executable before running it (hook_executor.rb), so for that "
         "file it is the mount or a directory; for a file the script calls, any of them.",
         "Commit it executable (`git update-index --chmod=+x FILE`, or `chmod +x` before "
         "`agentkit bundle`), or run it through its interpreter (`bash FILE`); keep programs "
         "off noexec mounts.",
         exit_codes=(126,), line=r"(?P<path>[^\s:]+): Permission denied\s*$",
         line_optional=True),
    Rule("AK808", "timed-out",
         "{script} was still running after {secs} s, the hook's timeout: something it waits "
         "for never came (a retry loop for a command or a port that never appears, a prompt "
         "waiting for input, a service that never starts), or the work takes longer. The "
         "agent then sends SIGTERM to its process group (hook_executor.rb).",
         "Read its last lines of output for what it was waiting for; bound every wait "
         "(`timeout 60 CMD`, a loop with a count) so it fails with a message; raise "
         "`timeout` in appspec.yml (at most 3600) only when the work is really that long.",
         error_codes=("SCRIPT_TIMED_OUT",),
         message=r"failed to complete in (?P<secs>\d+) seconds"),
    Rule("AK809", "relative-path",
         "`{path}` is a relative path, and hooks do not run in the bundle's directory: the "
         "agent starts each script without changing directory (hook_executor.rb runs it with "
         "Open3.popen3 and no :chdir), so "
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
         "`\\r`, which makes the interpreter's name one that does not exist. The agent's "
         "message says No such file or directory for the script, though the script is there: "
         "the exec of its #! program fails (hook_executor.rb reports Errno::ENOENT).",
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
         line=r"Address already in use|EADDRINUSE|address already in use|"
              r"Port \d+ (?:was|is) already in use"),
    Rule("AK818", "unit-not-found",
         "systemd has no unit {unit}: its unit file is not installed (the package or the "
         "bundle's .service file is missing), or it is named differently.",
         "Install the unit file (a `files` entry to /etc/systemd/system/, then `systemctl "
         "daemon-reload`) or the package that brings it, in the AMI; `systemctl "
         "list-unit-files` shows the exact names.",
         line=r"Unit (?P<unit>\S+?) (?:not found|could not be found|not loaded)\."),
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
    Rule("AK833", "exit-127",
         "Exit code 127 is the shell's \"command not found\": a command {script} runs is not "
         "on the PATH the hook runs with (root's minimal environment, or `su USER -c` for "
         "runas, neither reading a login profile: nvm, rbenv, pm2 and ~/.bashrc exports are "
         "missing), or a program it calls by path does not exist.",
         "Find the `command not found` line in the deployment's scripts.log "
         "(/opt/codedeploy-agent/deployment-root/<group id>/<deployment id>/logs/"
         "scripts.log) and run `agentkit explain` on it; call that command by its full path "
         "or set PATH at the top of the script.",
         error_codes=("SCRIPT_FAILED",), exit_codes=(127,), unless_line=_NOT_FOUND + "|" +
         r"env: .*No such file or directory|(?:" + _PACKAGE_MANAGERS + r"): (?:command )?not "
         r"found"),
    Rule("AK822", "wrong-package-manager",
         "The script calls {pm}, and this instance's distribution has another package "
         "manager: apt-get on Debian and Ubuntu; dnf on Amazon Linux 2023 and RHEL 8+ (which "
         "keep `yum` as a name for it); yum on Amazon Linux 2 and CentOS 7. The script was "
         "written for another AMI.",
         "Use the package manager of the AMI the deployment group runs, or choose it in the "
         "script: `if command -v apt-get >/dev/null; then apt-get install -y PKG; else dnf "
         "install -y PKG || yum install -y PKG; fi`. Better, install packages when building "
         "the AMI, not in every deployment.",
         error_codes=ANY_SCRIPT_FAILURE,
         line=r"(?:^|:\s)(?:line\s\d+:\s)?(?P<pm>" + _PACKAGE_MANAGERS +
              r"): (?:command )?not found\s*$"),
    Rule("AK823", "env-interpreter-missing",
         "{script} starts with `#!/usr/bin/env {command}`, and env found no `{command}` on the "
         "PATH the hook runs with (root's minimal PATH, or the runas user's from `su USER "
         "-c`, neither with what a login profile adds: nvm, pyenv, rbenv).",
         "Name the interpreter by its full path on the #! line (`#!/usr/bin/node`, `command "
         "-v {command}` on the instance prints it), or start the script with bash and set "
         "PATH before calling {command}. {install}",
         error_codes=ANY_SCRIPT_FAILURE,
         line=r"env: [\u2018'`]?(?P<command>[^\s'\u2019`:]+)[\u2019'`]?: No such file or "
              r"directory"),
    Rule("AK824", "script-missing",
         "The appspec names {path} for {event}, and the bundle has no file there: a hook's "
         "`location` is relative to the bundle's root (the agent joins it to the "
         "deployment-archive directory, even when it starts with `/`: hook_executor.rb), and "
         "the name must match exactly (case, `-` or `_`, the extension).",
         "Give `location` as the script's path inside the bundle (`scripts/start.sh`), or add "
         "the script to the bundle; `agentkit lint` and `agentkit verify` report a missing "
         "script before deployment (AK500).",
         not_events=_PREVIOUS_EVENTS, error_codes=("SCRIPT_MISSING",),
         message=r"Script does not exist at specified location: (?P<path>\S+)"),
    Rule("AK825", "agent-restarted",
         "The agent restarted while {event} ran, and the service failed the event it had "
         "started: the agent was restarted or updated (codedeploy-agent's auto-update, an "
         "SSM update, a `systemctl restart codedeploy-agent` or a reboot inside a hook), or "
         "it was killed (out of memory).",
         "Don't restart the agent or reboot from a hook (schedule it after the deployment: "
         "`shutdown -r +1`); look in " + _AGENT_LOG + " around that time for the restart "
         "and in `journalctl -k` for the OOM killer; then redeploy.",
         message=r"Failing in-progress lifecycle event after an agent restart"),
    Rule("AK826", "agent-not-reached",
         "The instance's agent never took up the lifecycle event: the agent is not running "
         "or not installed, cannot reach the CodeDeploy endpoint (no route out of a private "
         "subnet, a proxy not set in codedeployagent.yml), or the instance has no IAM "
         "instance profile that allows it; or two deployments ran on the instance at once.",
         "On the instance: `systemctl status codedeploy-agent` (start it; install it in the "
         "AMI), and read " + _AGENT_LOG + " for the error it meets while polling "
         "(`Missing credentials`, an HTTP error); give the instance a role that can reach "
         "CodeDeploy and S3, and a route to both (NAT or VPC endpoints); `agentkit doctor` "
         "checks these.",
         message=r"agent was not able to receive the lifecycle event|One or more lifecycle "
                 r"events did not run"),
    Rule("AK827", "no-instance-profile",
         "The agent has no AWS credentials: the instance was started without an IAM "
         "instance profile (or the agent started before one was attached, or on premises "
         "without its config), so it cannot poll CodeDeploy at all.",
         "Attach an instance profile whose role allows the agent (the managed policy "
         "AmazonEC2RoleforAWSCodeDeploy, or s3:GetObject on the revision bucket plus "
         "codedeploy-commands-secure:*), then `systemctl restart codedeploy-agent`: it reads "
         "credentials only when it starts.",
         message=r"Missing credentials - please check if this instance was started with an "
                 r"IAM instance profile"),
    Rule("AK828", "bundle-access-denied",
         "S3 refused the agent the revision (Access Denied): the instance profile's role may "
         "not s3:GetObject that bucket and key (or its version), the bucket policy or KMS "
         "key refuses it, or the bucket is in another account or Region.",
         "Allow s3:GetObject (and s3:GetObjectVersion; kms:Decrypt for an SSE-KMS bucket) on "
         "arn:aws:s3:::BUCKET/* to the instance profile's role, and check the bucket policy; "
         "`aws s3 cp s3://BUCKET/KEY /tmp/` run on the instance with its role shows the same "
         "refusal.",
         message=r"^(?:Aws::S3::Errors::)?(?:AccessDenied - )?Access Denied$"),
    Rule("AK829", "appspec-not-at-root",
         "The unpacked revision has no appspec.yml at its root: the archive was made from "
         "the directory above the project (every path starts with its name), the file is "
         "named otherwise (AppSpec.yml, appspec.yaml), or the archive could not be unpacked "
         "whole.",
         "Make the archive from inside the project (`cd app && zip -r ../app.zip .`, `tar -C "
         "app -czf app.tgz .`, `aws deploy push --source app`) with appspec.yml at its root; "
         "`agentkit verify ARCHIVE` says where it finds one (AK150).",
         message=r"(?:did not find an AppSpec file|No such file or directory @ rb_sysopen - "
                 r"\S*deployment-archive/appspec\.yml$)"),
    Rule("AK830", "files-source-missing",
         "Install could not read {path}: a `files` source of the appspec names a path that is "
         "not in the bundle (sources are relative to the bundle's root; `source: /` is the "
         "whole bundle).",
         "Fix `source` to a path inside the bundle as it was archived (or `source: /`), or "
         "add it to the archive; `agentkit verify` reports a missing source before "
         "deployment (AK507).",
         events=("Install", ""),
         message=r"No such file or directory @ rb_sysopen - (?P<path>\S*deployment-archive/"
                 r"(?!appspec\.yml$)\S*)"),
    Rule("AK831", "unzip-fallback",
         "The system's unzip could not unpack the zip cleanly (exit {status}; 1 is only a "
         "warning, most often names with `\\` as separators from Windows PowerShell 5.1's "
         "Compress-Archive), so the agent unpacked it again with rubyzip "
         "(command_executor.rb#unpack_bundle), which takes such names literally and stops on "
         "a file that is already there.",
         "Rebuild the zip with `/` separators: `zip -r`, 7z, Python's zipfile, or "
         "[IO.Compression.ZipFile] with entry names written with `/` (not Compress-Archive "
         "in Windows PowerShell 5.1); `unzip -t BUNDLE.zip` shows unzip's warning; "
         "`agentkit verify` reports it (AK413).",
         # exit 50 is the disk filling up: the agent says so itself and does not fall back
         message=r"Error extracting zip archive: (?P<status>(?!50\b)\d+)|Destination '[^']+' "
                 r"already exists"),
    Rule("AK832", "health-constraints-invalid",
         "The deployment could not start: the deployment configuration's minimum healthy "
         "hosts cannot be met by the instances in the group (fewer instances than it "
         "requires to stay healthy, or instances already unhealthy).",
         "Lower the minimum healthy hosts (CodeDeployDefault.AllAtOnce, or a custom "
         "configuration), or add healthy instances to the group; stopped instances count as "
         "unhealthy.",
         deployment=True, message=r"HEALTH_CONSTRAINTS_INVALID"),
    Rule("AK837", "unzip-disk-full",
         "The instance's disk filled up while unzip unpacked the revision into the deployment "
         "root (unzip's exit 50; the agent then removes what it had unpacked and says so: "
         "command_executor.rb#unpack_bundle).",
         "Free space on the volume of /opt/codedeploy-agent (`df -h`; the agent keeps "
         "`:max_revisions:` old revisions there, 5 by default: lower it in "
         "/etc/codedeploy-agent/conf/codedeployagent.yml) or grow the volume; `agentkit hook "
         "preflight` checks the free space before Install.",
         message=r"The disk is \(or was\) full during extraction"),
    Rule("AK834", "agent-issue",
         "The deployment failed because instances' agents did not take part: the agent is "
         "not installed or not running on them, cannot reach the CodeDeploy endpoint, or "
         "their instance profile does not let it in (the service's AGENT_ISSUE).",
         "On an instance of the group: `systemctl status codedeploy-agent`, and "
         + _AGENT_LOG + " for the error it meets while polling; install the agent in the "
         "AMI or with user data, and give the instances a role and a route to CodeDeploy "
         "and S3; `agentkit doctor` checks these.",
         deployment=True, message=r"AGENT_ISSUE|problem with the CodeDeploy agent"),
    Rule("AK835", "service-role",
         "The deployment group's service role (not the instances' profile) is missing, or "
         "may not act for CodeDeploy: its trust policy does not name codedeploy.amazonaws.com "
         "or it lacks the permissions on EC2, Auto Scaling or Elastic Load Balancing that "
         "the deployment needs.",
         "Give the deployment group a service role that trusts codedeploy.amazonaws.com and "
         "has the managed policy AWSCodeDeployRole (plus iam:PassRole and ec2:RunInstances "
         "for Auto Scaling groups with launch templates), with "
         "`aws deploy update-deployment-group --service-role-arn ARN`.",
         deployment=True, message=r"IAM_ROLE_MISSING|IAM_ROLE_PERMISSIONS"),
    Rule("AK836", "no-instances",
         "The deployment had no instance to go to: no running instance carries the deployment "
         "group's tags (keys and values match exactly, case included) or belongs to its Auto "
         "Scaling group, and no registered on-premises instance matches.",
         "Compare the group's filters (`aws deploy get-deployment-group`) with the instances' "
         "tags, start the instances, or attach the Auto Scaling group to the deployment "
         "group.",
         deployment=True, message=r"NO_INSTANCES|no instances were found"),
)


def by_code(code: str) -> Rule | None:
    return next((r for r in RULES if r.code == code), None)
