"""Every appspec rule as data: code, severity, what it is about, the fix, the agents' messages.

Codes are stable (users grep for them and suppress them); docs/rules/ is generated from
RULES. `agent1`/`agent2` are the agents' own texts (1.x: lib/instance_agent/plugins/codedeploy/
application_specification/*.rb; 2.x: src/application_specification/error.rs), formatted with the
fields the checker supplies. `None` means the agent says nothing (it accepts the input).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from agentkit.findings import ERROR, WARNING

_DF = "The deployment failed because"


@dataclass(frozen=True)
class Rule:
    code: str
    severity: str
    name: str
    summary: str
    hint: str
    agent1: str | None = None
    agent2: str | None = None

    def agent_message(self, generation: str, fields: Mapping[str, str]) -> str | None:
        template = self.agent1 if generation == "1" else self.agent2
        return None if template is None else template.format_map(dict(fields))


_RULES = (
    # --- the document -------------------------------------------------------------------------
    Rule("AK100", ERROR, "yaml-syntax", "the file is not valid YAML",
         "fix the YAML at that line: indent with spaces (never tabs) and keep list items aligned",
         "{psych}", "{serde}"),
    Rule("AK101", ERROR, "empty", "the file is empty or holds only comments",
         "write at least `version: 0.0` and `os: linux`",
         f"{_DF} the application specification file was empty. Make sure your AppSpec file "
         "defines at minimum the 'version' and 'os' properties.",
         f"{_DF} the application specification file was empty. Make sure your AppSpec file "
         "defines at minimum the 'version' and 'os' properties."),
    Rule("AK102", ERROR, "shape", "a section has the wrong YAML shape (list vs mapping vs text)",
         "{fix}", "{ruby}", "{serde}"),
    Rule("AK103", ERROR, "yaml-alias", "YAML aliases (`*name`), which agent 1.x refuses to load",
         "write the value out in full instead of using an anchor and alias",
         "Alias parsing was not enabled. To enable it, pass `aliases: true` to `Psych::load` or "
         "`Psych::safe_load`.", None),
    Rule("AK106", ERROR, "yaml-bound", "an appspec too big or too deep for verify to read "
         "(more than 16 MiB, 100,000 YAML nodes, 500 levels, or aliases that expand past that)",
         "an appspec is a few kilobytes: generate the list of files from a directory (`source: "
         "/`) instead of listing each one", None, None),
    Rule("AK105", ERROR, "yaml-date", "a plain YAML date or time value, which agent 1.x "
         "refuses to load (2.x reads it as text)", "quote it: `'2020-01-01'`",
         "Tried to load unspecified class: {cls}", None),
    Rule("AK104", ERROR, "duplicate-key-fatal", "a key given twice inside an entry (agent 2.x "
         "rejects it; 1.x keeps the last)", "keep one of the two keys", None, "{serde}"),
    # --- top-level values --------------------------------------------------------------------
    Rule("AK110", ERROR, "version", "`version` is not the YAML number 0.0",
         "write `version: 0.0` (a number, unquoted)",
         f"{_DF} an invalid version value ({{version}}) was entered in the application "
         "specification file. Make sure your AppSpec file specifies \"0.0\" as the version, and "
         "then try again.",
         f"{_DF} an invalid version value ({{version}}) was entered in the application "
         "specification file. Make sure your AppSpec file specifies \"0.0\" as the version, and "
         "then try again."),
    Rule("AK111", ERROR, "os", "`os` is not exactly `linux` or `windows`",
         "write `os: linux` (lower case) for Linux instances, `os: windows` for Windows",
         f"{_DF} the application specification file specifies an unsupported operating system "
         "({os}). Specify either \"linux\" or \"windows\" in the os section of the AppSpec "
         "file, and then try again.",
         f"{_DF} the application specification file specifies an unsupported operating system "
         "({os}). Specify either \"linux\" or \"windows\" in the os section of the AppSpec "
         "file, and then try again."),
    Rule("AK112", ERROR, "file-exists-behavior", "`file_exists_behavior` is not exactly "
         "DISALLOW, OVERWRITE or RETAIN", "write one of DISALLOW, OVERWRITE, RETAIN in upper case",
         f"{_DF} an invalid file_exists_behavior value ({{value}}) was entered in the "
         "application specification file. Make sure your AppSpec file specifies one of "
         "DISALLOW,OVERWRITE,RETAIN as the file_exists_behavior, and then try again.",
         f"{_DF} an invalid file_exists_behavior value ({{value}}) was entered in the "
         "application specification file. Make sure your AppSpec file specifies one of "
         "DISALLOW,OVERWRITE,RETAIN as the file_exists_behavior, and then try again."),
    # --- files ---------------------------------------------------------------------------------
    Rule("AK120", ERROR, "files-source", "a `files` entry without `source`",
         "add `source:` (a path inside the bundle; `/` is the whole bundle)",
         f"{_DF} the application specification file specifies a destination file, but no "
         "source file. Update the files section of the AppSpec file, and then try again.",
         f"{_DF} the application specification file specifies a destination file, but no "
         "source file. Update the files section of the AppSpec file, and then try again."),
    Rule("AK121", ERROR, "files-destination", "a `files` entry without `destination`",
         "add `destination:` (an absolute directory on the instance)",
         f"{_DF} the application specification file specifies only a source file ({{source}})."
         " Add the name of the destination file to the files section of the AppSpec file, and "
         "then try again.",
         f"{_DF} the application specification file specifies only a source file ({{source}})."
         " Add the name of the destination file to the files section of the AppSpec file, and "
         "then try again."),
    # --- hooks ---------------------------------------------------------------------------------
    Rule("AK130", ERROR, "script-location", "a hook script without `location`",
         "add `location:` with the script's path relative to the bundle root",
         f"{_DF} the application specification file specifies a script with no location value."
         " Specify the location in the hooks section of the AppSpec file, and then try again.",
         f"{_DF} the application specification file specifies a script with no location value."
         " Specify the location in the hooks section of the AppSpec file, and then try again."),
    Rule("AK131", ERROR, "script-timeout", "a hook `timeout` that is not a positive whole number "
         "of seconds to the agent", "write the timeout in whole seconds, e.g. `timeout: 300`",
         f"{_DF} an invalid timeout value was provided for a script in the application "
         "specification file. Make corrections in the hooks section of the AppSpec file, and "
         "then try again.",
         f"{_DF} an invalid timeout value was provided for a script in the application "
         "specification file. Make corrections in the hooks section of the AppSpec file, and "
         "then try again."),
    Rule("AK132", ERROR, "unknown-event", "an event name the agent does not know (the agent "
         "skips it; local mode rejects the bundle)", "{fix}",
         "appspec.yml file contains unknown lifecycle events: {events_ruby}",
         "appspec.yml file contains unknown lifecycle events: {events_plain}"),
    # --- permissions ---------------------------------------------------------------------------
    Rule("AK140", ERROR, "permission-object", "a `permissions` entry without `object`",
         "add `object:` with the absolute path the entry applies to",
         f"{_DF} a permission listed in the application specification file has no object "
         "value. Update the permissions section of the AppSpec file, and then try again.",
         f"{_DF} a permission listed in the application specification file has no object "
         "value. Update the permissions section of the AppSpec file, and then try again."),
    Rule("AK141", ERROR, "mode-length", "a permission `mode` longer than four characters",
         "write the mode as a quoted octal string of 3 or 4 digits, e.g. `mode: \"644\"`",
         f"{_DF} the length of a permissions mode ({{mode}}) in the application specification "
         "file is invalid. Permissions modes must be between one and four characters long. "
         "Update the permissions section of the AppSpec file, and then try again.",
         f"{_DF} the length of a permissions mode ({{mode}}) in the application specification "
         "file is invalid. Permissions modes must be between one and four characters long. "
         "Update the permissions section of the AppSpec file, and then try again."),
    Rule("AK142", ERROR, "mode-character", "a permission `mode` with a character other than 0-7",
         "write the mode as a quoted octal string, e.g. `mode: \"755\"`",
         f"{_DF} the permissions mode ({{mode}}) in the application specification file "
         "contains an invalid character ({char}). Update the permissions section of the "
         "AppSpec file, and then try again.",
         f"{_DF} the permissions mode ({{mode}}) in the application specification file "
         "contains an invalid character ({char}). Update the permissions section of the "
         "AppSpec file, and then try again."),
    Rule("AK143", ERROR, "permission-type", "a permission `type` that is not a list of `file` "
         "and/or `directory`", "write `type: [file]`, `type: [directory]` or both", "{ruby}",
         "{serde}"),
    Rule("AK144", ERROR, "acl", "an `acls` entry the agent cannot parse",
         "write ACL entries as `[d:]u|g|m|o:[name]:rwx`, e.g. `u:www-data:rwx`", "{ruby}",
         "{serde}"),
    Rule("AK145", ERROR, "context", "an SELinux `context` the agent cannot parse",
         "give `context` a `type` (and optional `name`, `range` like `s0-s0:c0.c1023`)",
         "{ruby}", "{serde}"),
    Rule("AK146", ERROR, "windows-permissions", "`permissions` in a Windows appspec",
         "remove the permissions section (set permissions in a hook script on Windows)",
         "{ruby}", "{serde}"),
    # --- the bundle around the appspec ---------------------------------------------------------
    Rule("AK150", ERROR, "no-appspec", "no appspec.yml at the bundle root",
         "put appspec.yml at the root of the bundle",
         "The CodeDeploy agent did not find an AppSpec file within the unpacked revision "
         "directory at revision-relative path \"appspec.yml\". The revision was unpacked to "
         "directory \"{dir}\", and the AppSpec file was expected but not found at path "
         "\"{path}\". Consult the AWS CodeDeploy Appspec documentation for more information at "
         "http://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file.html",
         "The deployment failed because the specified file does not exist at the expected "
         "location: {path}."),
    Rule("AK152", ERROR, "appspec-link-outside", "appspec.yml is a link to a file outside the "
         "bundle (the agent reads that file of the instance)",
         "ship appspec.yml itself at the root of the bundle, not a link"),
    Rule("AK151", ERROR, "appspec-yaml-only", "the bundle has appspec.yaml but no appspec.yml "
         "(Install finds it; the hook executor does not)", "rename appspec.yaml to appspec.yml",
         "{message}", "{message}"),
    # --- warnings: accepted, but will likely misbehave -----------------------------------------
    Rule("AK200", WARNING, "octal-mode", "an unquoted mode with a leading 0 (YAML 1.1 octal)",
         "quote the mode without the leading zero: `mode: \"{digits}\"`"),
    Rule("AK201", WARNING, "bom", "the file starts with a UTF-8 byte order mark",
         "save the file as UTF-8 without BOM"),
    Rule("AK202", WARNING, "duplicate-key", "a key given twice (the last one wins)",
         "remove one of the two keys; merge their contents if both matter"),
    Rule("AK203", WARNING, "event-at-top-level", "a lifecycle event written at the top level "
         "instead of under `hooks:` (ignored)", "indent it under `hooks:`"),
    Rule("AK204", WARNING, "unknown-key", "a key the agent does not read (ignored)", "{fix}"),
    Rule("AK205", WARNING, "event-runs-no-scripts", "scripts under an event the agent runs "
         "itself (DownloadBundle, Install, BlockTraffic, AllowTraffic): never run",
         "move the scripts to {suggest}"),
    Rule("AK206", WARNING, "event-timeout-sum", "the timeouts of one event add up to more than "
         "3600 s, the service's limit per event", "keep each event's timeouts within 3600 s in "
         "total; split long work across events"),
    Rule("AK207", WARNING, "empty-runas", "`runas` given but empty",
         "remove `runas` or name a user"),
    Rule("AK208", WARNING, "runas-windows", "`runas` in a Windows appspec (not supported there)",
         "remove `runas`; Windows hooks run as the agent's own account"),
    Rule("AK209", WARNING, "destination-file-name", "a file source whose destination looks like "
         "a file name: the agent installs `destination/<basename>`",
         "set destination to the directory: `destination: {parent}` (the installer copies a "
         "file source to File.join(destination, basename): installer.rb)"),
    Rule("AK210", WARNING, "relative-destination", "a `files` destination that is not absolute",
         "write an absolute path, e.g. `/var/www/app`"),
    Rule("AK211", WARNING, "glob-source", "glob characters in a `files` source (taken "
         "literally by the agent)", "name a directory or a file; the agent does not expand globs "
         "(installer.rb joins the source to the bundle root as written)"),
    Rule("AK212", WARNING, "pattern-slash", "a permission `pattern` containing `/` (never "
         "matches: patterns apply to direct children of `object`)",
         "move the directory part into `object` and keep only the name part in `pattern` "
         "(install_instruction.rb matches patterns against the names of `object`'s entries)"),
    Rule("AK213", WARNING, "location-command", "a hook `location` that looks like a command "
         "line, not a script path", "put the command in a script in the bundle and give its path"),
    Rule("AK214", WARNING, "location-absolute", "a hook `location` starting with `/` (it is "
         "relative to the bundle root anyway)", "drop the leading `/` (hook_executor.rb "
         "joins every location to the deployment archive)"),
    Rule("AK215", WARNING, "destination-not-text", "a `files` destination that is not a single "
         "path", "give one destination per entry; repeat the entry for a second destination"),
    # --- the archive (verify): what the agent's tar/unzip does with each member ----------------
    Rule("AK400", ERROR, "bundle-type", "the declared bundle type does not match the content, "
         "or the archive is unreadable: DownloadBundle fails",
         "upload with the bundle type that matches the file"),
    Rule("AK401", WARNING, "absolute-member", "an archive member with an absolute path (tar "
         "strips the leading /)", "build the archive with relative paths (tar -C dir .)"),
    Rule("AK402", ERROR, "dotdot-member", "an archive member with `..` (1.x: DownloadBundle "
         "fails; 2.x: dropped, a warning)", "build the archive from inside the bundle"),
    Rule("AK403", WARNING, "special-member", "a device or fifo in the archive (the agent "
         "creates it as root; verify does not)", "remove device files and fifos"),
    Rule("AK404", ERROR, "hardlink-member", "a hard link to a path outside the archive or not "
         "extracted before it", "archive the file itself"),
    Rule("AK405", ERROR, "through-symlink", "a member that would be written through a symlink "
         "leaving the bundle (tar refuses it)", "do not put files under a symlinked directory"),
    Rule("AK406", WARNING, "zip-climbs-out", "a zip member with `../` or a leading / (unzip "
         "strips it silently)", "build the zip from inside the bundle"),
    Rule("AK407", WARNING, "name-not-utf8", "an archive member whose name is not UTF-8 "
         "(1.x: Install fails writing install.json when it installs it; 2.x: not known)",
         "rename it in UTF-8 before archiving (convmv -f latin1 -t utf8 -r --notest)"),
    Rule("AK408", ERROR, "bundle-too-big", "the archive unpacks to more than verify's limit "
         "(--max-disk): it stops there", "check what the build put into the archive; raise "
         "--max-disk for a bundle that really is that big"),
    Rule("AK409", ERROR, "path-too-long", "bundle paths longer than the system allows "
         "(PATH_MAX): the installer cannot reach them", "flatten the bundle's directories"),
    Rule("AK410", WARNING, "private-root-entry", "the archive's root entry (`./`) is not "
         "readable and searchable by others: tar -p gives that mode to the agent's "
         "deployment-archive directory, and hooks run as another user (runas) cannot reach "
         "their scripts (exit 126)", "`chmod 755` the build directory before `tar czf x.tgz -C "
         "dir .`, or archive with `tar --mode=go+rX`"),
    Rule("AK411", ERROR, "member-not-extractable", "an archive member GNU tar cannot extract: "
         "beneath a symlink loop, a symlink to no directory or a file, over a directory holding "
         "members, a symlink to nothing (1.x: DownloadBundle fails; 2.x: dropped, a warning)",
         "build the archive from the tree itself (agentkit bundle, or tar -C dir .): no "
         "member under a symlink, no name given twice"),
    Rule("AK412", WARNING, "member-read-differently", "an archive member that tar extracts "
         "other than its name says, or that readers disagree on: written through a symlink "
         "of the archive, replacing an empty directory or a file of another kind, a hard link "
         "target stripped of `..`, a PAX name and a GNU long name that differ, a NUL byte in a "
         "name, a size in base-256 that octal could hold", "build the archive from the tree "
         "itself (agentkit bundle, or tar -C dir .) with one tool; nothing else writes such "
         "headers"),
    Rule("AK413", WARNING, "zip-backslash-names", "zip member names with `\\` as the "
         "separator (Windows PowerShell 5.1's Compress-Archive): unzip warns and exits 1, and "
         "the agent's rubyzip fallback adds files literally named `scripts\\start.sh` "
         "(command_executor.rb#unpack_bundle); from other systems unzip makes only those",
         "make the zip with `/` as the separator: `zip -r`, 7z, Python's zipfile, `agentkit "
         "bundle`, PowerShell 7's Compress-Archive, or [IO.Compression.ZipFile] with entry "
         "names written with `/`"),
    # --- the unpacked bundle (verify) ------------------------------------------------------
    Rule("AK500", ERROR, "script-missing", "a hook script that is not in the bundle",
         "fix the location (relative to the bundle root) or add the script"),
    Rule("AK501", WARNING, "script-not-executable", "a hook script without the executable bit "
         "(the agent chmods it itself)", "chmod +x it before archiving (hook_executor.rb "
         "makes the hook's own script executable, not the helpers it calls)"),
    Rule("AK502", WARNING, "script-no-shebang", "a hook script without #! (1.x: /bin/sh; 2.x: "
         "Exec format error, an error there)", "start it with #!/bin/bash"),
    Rule("AK503", WARNING, "interpreter-missing", "a shebang interpreter this machine lacks",
         "make sure the instance has it, or use #!/usr/bin/env NAME"),
    Rule("AK504", ERROR, "script-crlf", "a CRLF shebang line (the agent reports a misleading "
         "No such file or directory)", "convert the script to LF line endings"),
    Rule("AK506", ERROR, "script-link-outside", "a hook script that is a link to a file "
         "outside the bundle (the agent makes it executable and runs it)",
         "ship the script itself in the bundle"),
    Rule("AK505", WARNING, "script-bom", "a hook script starting with a UTF-8 BOM",
         "save it as UTF-8 without BOM"),
    Rule("AK507", ERROR, "source-missing", "a `files` source that is not in the bundle "
         "(Install fails)", "add it to the bundle or fix the source (relative to the bundle "
         "root)", "No such file or directory @ rb_sysopen - {path}",
         "IO error: No such file or directory (os error 2)"),
    Rule("AK508", WARNING, "script-unreadable", "a hook script this user cannot read: its "
         "first line (shebang, BOM, line ending) is not checked; the agent, as root, reads it",
         "make it readable (chmod a+r), or run the check as a user who can read it"),
    Rule("AK510", ERROR, "symlink-to-directory", "a symlink to a directory: the installer "
         "copies the target's whole content (a link to NFS/EFS copies the share)",
         "create such links in AfterInstall (agentkit hook link-shared); installer.rb "
         "copies what a link to a directory points at, not the link"),
    Rule("AK511", WARNING, "symlink-absolute", "an absolute symlink (installed as is)",
         "make sure the target exists on every instance"),
    Rule("AK512", WARNING, "symlink-dangling", "a symlink whose target does not exist",
         "ship the target or drop the link"),
    Rule("AK513", ERROR, "symlink-escapes", "a relative symlink pointing outside the bundle",
         "ship the file, or link an absolute instance path on purpose"),
    Rule("AK514", WARNING, "shared-storage-copy", "a large uploads/media/var/storage/shared "
         "directory: shared storage copied into the archive (not a build's compiled assets: "
         "mostly fingerprinted names, or a build manifest that lists them)",
         "link it from shared storage"),
    Rule("AK515", ERROR, "write-through-shared-link", "Install writes, or the previous "
         "revision's cleanup deletes, through a link on the instance into another file system "
         "or out of the `files` destinations (shared storage)",
         "keep what the link stands for out of the bundle (or out of `files`), and make the "
         "link after Install (agentkit hook link-shared in AfterInstall)"),
    # --- agentkit.yml next to the appspec (the hooks' config) ---------------------------------
    Rule("AK600", ERROR, "hooks-config", "agentkit.yml does not validate (`agentkit hook` "
         "stops with exit 2)", "fix the key as the message says (every key: `agentkit rule "
         "AK600`, docs/reference/agentkit-yml.md)"),
    Rule("AK601", ERROR, "hooks-wait-too-long", "`validate.deadline` (plus one try) or the "
         "`health` drain is longer than the appspec timeout of the hook that runs it (the "
         "agent kills the hook)", "lower it, or raise the hook's `timeout` in appspec.yml"),
    Rule("AK602", WARNING, "release-not-installed", "`release` is not under any `files` "
         "destination of the appspec", "point `release` at the `files` destination (or a "
         "directory below it)"),
    Rule("AK603", WARNING, "hooks-config-variable", "a `$VARIABLE` in an agentkit.yml path "
         "(taken literally, not expanded)", "write the path out in full"),
    Rule("AK604", WARNING, "hooks-event-not-scripted", "agentkit.yml gives actions for an "
         "event under which the appspec runs no script (they never run)",
         "list the hook shim (scripts/agentkit-hook.sh) under that event in appspec.yml"),
    # --- services the hooks ran in verify's box (agentkit/verify/service_findings.py) --------
    Rule("AK700", WARNING, "service-enabled-not-started", "a hook enables a unit that no hook "
         "starts: on the instance it runs only after the next boot", "start it as well: "
         "`systemctl enable --now UNIT`, or `systemctl restart UNIT` in ApplicationStart"),
    Rule("AK701", WARNING, "service-unit-missing", "a hook asks systemctl or service for a "
         "unit the instance does not have (exit 5)", "install the unit before the hook that "
         "starts it (a package, or the bundle's `files` to /etc/systemd/system), or fix the "
         "name"),
    Rule("AK702", WARNING, "no-validate-service", "hooks start services but ValidateService "
         "runs no script: the deployment succeeds whether they serve or not",
         "add a ValidateService hook that checks the service (agentkit hook validate, or "
         "`curl -fsS http://127.0.0.1/health`)"),
    Rule("AK703", WARNING, "service-still-starting", "a service was not yet listening when "
         "ValidateService began (the agent does not wait for it to come up)",
         "retry in ValidateService until it answers (agentkit hook validate retries until its "
         "deadline), or make the unit tell systemd when it is ready (Type=notify)"),
    Rule("AK300", WARNING, "portability", "agent 1.x and 2.x read this differently",
         "{fix}"),
)

RULES: Mapping[str, Rule] = {r.code: r for r in _RULES}
