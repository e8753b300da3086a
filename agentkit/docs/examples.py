"""For each finding code, a small input that triggers it and what the fix is: the `Example`
section of the code's page (docs/rules/AKNNN.md, `agentkit rule AKNNN`).

tests/docs/pages_test.py builds every example from its page, runs the command the page shows
and checks that the code is reported, so an example cannot go stale. Files are written into
an empty directory that the command runs in.

Over 500 lines: one runnable example per finding code, as data; each is short, and
they are read one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class File:
    path: str
    text: str  # the content; of a symbolic link, its target
    mode: int = 0o644
    link: bool = False


@dataclass(frozen=True)
class Example:
    command: tuple[str, ...]  # argv after `agentkit`, run in the directory holding `files`
    files: tuple[File, ...]
    fix: str  # what to change, in a sentence or two
    # shell commands run first in that directory, shown before the agentkit command: how a
    # file the example needs is made (an archive only tarfile or tar's flags can hold)
    setup: tuple[str, ...] = ()
    note: str = ""  # what the example stands for, when its files alone do not say


HEAD = "version: 0.0\nos: linux\n"
_SH = "#!/bin/bash\nset -euo pipefail\n"
_LINT = ("lint", ".")
_HOOK = "hooks:\n  AfterInstall:\n    - location: scripts/after_install.sh\n      timeout: 60\n"


def _appspec(text: str, *more: File) -> tuple[File, ...]:
    return (File("appspec.yml", text), *more)


def _script(path: str = "scripts/after_install.sh", body: str = "echo installed\n",
            mode: int = 0o755) -> File:
    return File(path, _SH + body, mode)


def _console(event: str, script: str, error: str, message: str, tail: str) -> tuple[File, ...]:
    """What the CodeDeploy console shows for a failed event, pasted into a file."""
    return (File("console.txt", f"Error code\n{error}\nScript name\n{script}\nMessage\n"
                 f"{message}\nLog tail\nLifecycleEvent - {event}\nScript - {script}\n{tail}"),)


def _failed(script: str, user: str, code: int) -> str:
    return f"Script at specified location: {script} run as user {user} failed with exit code {code}"


def _link(path: str, target: str) -> File:
    return File(path, target, link=True)


def _install_failed(message: str) -> tuple[File, ...]:
    """The console's details of a failed Install (no script)."""
    return (File("console.txt", f"Error code\nUnknownError\nMessage\n{message}\n"),)


_EXPLAIN = ("explain", "console.txt")
_SHOP_UNIT = File("shop.service", "[Unit]\nDescription=shop\n\n[Service]\n"
                  "ExecStart=/bin/sleep 600\n\n[Install]\nWantedBy=multi-user.target\n")
_VERIFY = ("verify", ".")  # a bundle directory is verified as its archive would be
_FILES = "files:\n  - source: /\n    destination: /srv/app\n"
_ROOT = "/opt/codedeploy-agent/deployment-root/dg-1/d-EXAMPLE/deployment-archive"

_VERIFY_TGZ = ("verify", "app.tgz")
_TAR = '''import io
import tarfile


def member(name, text="", **fields):
    info = tarfile.TarInfo(name)
    info.size = len(text.encode())
    for field, value in fields.items():
        setattr(info, field, value)
    return info, io.BytesIO(text.encode())


with tarfile.open("app.tgz", {opened}) as tar:
    tar.addfile(*member("appspec.yml", {spec}))
{adds}
'''
_ZIP = '''import zipfile

with zipfile.ZipFile("app.zip", "w") as zip:
    zip.writestr("appspec.yml", "version: 0.0\\nos: linux\\n")
    {writes}
'''


def _m(name: str, text: str = "", raw: bool = False, **fields: str) -> str:
    """One `tar.addfile` line of a recipe; fields are Python expressions (tarfile.SYMTYPE)."""
    args = [name if raw else repr(name).replace("'", '"')]
    if text:
        args.append(repr(text + "\n").replace("'", '"'))
    args += [f"{k}={v if k != 'linkname' else repr(v).replace(chr(39), chr(34))}"
             for k, v in fields.items()]
    return f"    tar.addfile(*member({', '.join(args)}))"


def _tar_recipe(*members: str, opened: str = '"w:gz", format=tarfile.GNU_FORMAT',
                spec: str = HEAD) -> File:
    """make.py: a tar only tarfile can write (what tar -C dir . never makes)."""
    return File("make.py", _TAR.format(opened=opened, adds="\n".join(members),
                                       spec=repr(spec).replace("'", '"')))


EXAMPLES: dict[str, Example] = {
    "AK100": Example(_LINT, _appspec(HEAD + "files:\n  - source: /\n   destination: /srv/app\n"),
                     "Align `destination` under `source` (two spaces more than the `-`)."),
    "AK101": Example(_LINT, _appspec("# nothing yet\n"),
                     "Write at least `version: 0.0` and `os: linux`."),
    "AK102": Example(_LINT, _appspec(HEAD + "files:\n  source: /\n  destination: /srv/app\n"),
                     "`files` is a list: start each entry with `- `."),
    "AK103": Example(_LINT, _appspec(
        HEAD + "hooks:\n  AfterInstall: &install\n    - location: scripts/after_install.sh\n"
        "  ApplicationStart: *install\n", _script()),
        "Write the second list out in full instead of `*install`."),
    "AK104": Example(("lint", "--agent", "2", "."), _appspec(
        HEAD + "hooks:\n  AfterInstall:\n    - location: scripts/after_install.sh\n"
        "      timeout: 60\n      timeout: 120\n", _script()),
        "Keep one `timeout`."),
    "AK105": Example(_LINT, _appspec(
        HEAD + "files:\n  - source: /\n    destination: /srv/app\n"
        "permissions:\n  - object: /srv/app\n    owner: 2024-01-01\n"),
        "Quote the value: `'2024-01-01'`."),
    "AK110": Example(_LINT, _appspec('version: "0.0"\nos: linux\n'),
                     "Write `version: 0.0`, unquoted."),
    "AK111": Example(_LINT, _appspec("version: 0.0\nos: Linux\n"), "Write `os: linux`."),
    "AK112": Example(_LINT, _appspec(HEAD + "file_exists_behavior: overwrite\n"),
                     "Write `file_exists_behavior: OVERWRITE`."),
    "AK120": Example(_LINT, _appspec(HEAD + "files:\n  - destination: /srv/app\n"),
                     "Add `source: /` (or the directory of the bundle to install)."),
    "AK121": Example(_LINT, _appspec(HEAD + "files:\n  - source: /\n"),
                     "Add `destination: /srv/app` (where on the instance)."),
    "AK130": Example(_LINT, _appspec(HEAD + "hooks:\n  AfterInstall:\n    - timeout: 60\n"),
                     "Add `location: scripts/after_install.sh`."),
    "AK131": Example(_LINT, _appspec(
        HEAD + "hooks:\n  AfterInstall:\n    - location: scripts/after_install.sh\n"
        "      timeout: 0\n", _script()),
        "Write the timeout in whole seconds: `timeout: 300`."),
    "AK132": Example(_LINT, _appspec(
        HEAD + "hooks:\n  AfterInstal:\n    - location: scripts/after_install.sh\n", _script()),
        "Spell the event as the agent does: `AfterInstall`."),
    "AK140": Example(_LINT, _appspec(HEAD + "permissions:\n  - owner: www-data\n"),
                     "Add `object: /srv/app`."),
    "AK141": Example(_LINT, _appspec(HEAD + "permissions:\n  - object: /srv/app\n"
                                     "    mode: \"00755\"\n"),
                     "Write `mode: \"755\"` (quoted, at most four digits)."),
    "AK142": Example(_LINT, _appspec(HEAD + "permissions:\n  - object: /srv/app\n"
                                     "    mode: \"rwx\"\n"),
                     "Write the mode in octal digits: `mode: \"755\"`."),
    "AK143": Example(_LINT, _appspec(HEAD + "permissions:\n  - object: /srv/app\n"
                                     "    type: [files]\n"),
                     "Write `type: [file]`."),
    "AK144": Example(_LINT, _appspec(HEAD + "permissions:\n  - object: /srv/app\n"
                                     "    acls:\n      - x:www-data:rwx\n"),
                     "Write `u:www-data:rwx`."),
    "AK145": Example(_LINT, _appspec(HEAD + "permissions:\n  - object: /srv/app\n"
                                     "    context:\n      name: unconfined_u\n"),
                     "Give the context its `type`, e.g. `type: httpd_sys_content_t`."),
    "AK146": Example(_LINT, _appspec("version: 0.0\nos: windows\npermissions:\n"
                                     "  - object: C:\\app\n    owner: app\n"),
                     "Remove `permissions` (set Windows ACLs in a hook script)."),
    "AK150": Example(_LINT, (File("appspec.yaml.txt", HEAD),),
                     "Put `appspec.yml` at the root of the bundle."),
    "AK151": Example(_LINT, (File("appspec.yaml", HEAD),), "Rename it to `appspec.yml`."),
    "AK200": Example(_LINT, _appspec(HEAD + "permissions:\n  - object: /srv/app\n"
                                     "    mode: 0644\n"),
                     "Quote the mode: `mode: \"644\"`."),
    "AK201": Example(_LINT, _appspec("\ufeff" + HEAD), "Save the file as UTF-8 without BOM."),
    "AK202": Example(_LINT, _appspec(HEAD + "os: linux\n"), "Keep one `os`."),
    "AK203": Example(_LINT, _appspec(HEAD + "AfterInstall:\n"
                                     "  - location: scripts/after_install.sh\n", _script()),
                     "Put the event under `hooks:`."),
    "AK204": Example(_LINT, _appspec(HEAD + "hook:\n  AfterInstall:\n"
                                     "    - location: scripts/after_install.sh\n", _script()),
                     "Spell the section `hooks`."),
    "AK205": Example(_LINT, _appspec(HEAD + "hooks:\n  Install:\n"
                                     "    - location: scripts/after_install.sh\n", _script()),
                     "Run the script under `BeforeInstall` or `AfterInstall` instead."),
    "AK206": Example(_LINT, _appspec(
        HEAD + "hooks:\n  AfterInstall:\n    - location: scripts/after_install.sh\n"
        "      timeout: 3000\n    - location: scripts/migrate.sh\n      timeout: 3000\n",
        _script(), _script("scripts/migrate.sh")),
        "Shorten the timeouts, or move one script to another event."),
    "AK207": Example(_LINT, _appspec(HEAD + _HOOK + "      runas:\n", _script()),
                     "Name the user (`runas: www-data`) or remove `runas`."),
    "AK208": Example(_LINT, _appspec("version: 0.0\nos: windows\nhooks:\n  AfterInstall:\n"
                                     "    - location: scripts/after_install.bat\n"
                                     "      runas: Administrator\n",
                                     File("scripts/after_install.bat", "echo ok\r\n")),
                     "Remove `runas`: Windows hooks run as the agent's user."),
    "AK209": Example(_LINT, _appspec(HEAD + "files:\n  - source: config/app.conf\n"
                                     "    destination: /etc/app/app.conf\n",
                                     File("config/app.conf", "port=8080\n")),
                     "Give the directory: `destination: /etc/app`."),
    "AK210": Example(_LINT, _appspec(HEAD + "files:\n  - source: /\n    destination: srv/app\n"),
                     "Write an absolute destination: `/srv/app`."),
    "AK211": Example(_LINT, _appspec(HEAD + "files:\n  - source: config/*.conf\n"
                                     "    destination: /etc/app\n"),
                     "Name a directory (`source: config`) instead of a glob."),
    "AK212": Example(_LINT, _appspec(HEAD + "permissions:\n  - object: /srv/app\n"
                                     "    pattern: \"bin/*\"\n    mode: \"755\"\n"),
                     "Point `object` at the directory (`/srv/app/bin`) and keep `pattern: \"*\"`."),
    "AK213": Example(_LINT, _appspec(HEAD + "hooks:\n  AfterInstall:\n"
                                     "    - location: node index.js\n",
                                     _script()),
                     "Write a script that runs `node index.js` and give its path."),
    "AK214": Example(_LINT, _appspec(HEAD + "hooks:\n  AfterInstall:\n"
                                     "    - location: /scripts/after_install.sh\n", _script()),
                     "Drop the leading `/`: `scripts/after_install.sh`."),
    "AK215": Example(_LINT, _appspec(HEAD + "files:\n  - source: /\n"
                                     "    destination: [/srv/app, /srv/backup]\n"),
                     "Write one entry per destination."),
    "AK300": Example(_LINT, _appspec(
        HEAD + "hooks:\n  AfterInstall:\n    - location: scripts/after_install.sh\n"
        "      timeout: 5m\n", _script()),
        "Write it so that both agents read it alike: `timeout: 300`."),
    "AK500": Example(_LINT, _appspec(HEAD + _HOOK),
                     "Add scripts/after_install.sh to the bundle, or fix `location`."),
    "AK501": Example(_LINT, _appspec(HEAD + _HOOK, _script(mode=0o644)),
                     "`chmod +x scripts/after_install.sh` (and commit it with mode 100755)."),
    "AK502": Example(_LINT, _appspec(HEAD + _HOOK, File("scripts/after_install.sh",
                                                        "echo installed\n", 0o755)),
                     "Start the script with `#!/bin/bash`."),
    "AK503": Example(_LINT, _appspec(HEAD + _HOOK, File("scripts/after_install.sh",
                                                        "#!/usr/bin/python2\nprint 1\n",
                                                        0o755)),
                     "Use an interpreter the instance has (`#!/usr/bin/env python3`), or "
                     "install it in the AMI."),
    "AK504": Example(_LINT, _appspec(HEAD + _HOOK, File("scripts/after_install.sh",
                                                        "#!/bin/bash\r\necho installed\r\n",
                                                        0o755)),
                     "Convert the script to LF line endings (`sed -i 's/\\r$//' FILE`; "
                     "`* text eol=lf` in .gitattributes)."),
    "AK505": Example(_LINT, _appspec(HEAD + _HOOK, File("scripts/after_install.sh",
                                                        "\ufeff#!/bin/bash\necho installed\n",
                                                        0o755)),
                     "Save the script as UTF-8 without BOM."),
    "AK507": Example(_LINT, _appspec(HEAD + "files:\n  - source: build\n"
                                     "    destination: /srv/app\n"),
                     "Build `build/` before bundling, or fix `source`."),
    "AK600": Example(_LINT, _appspec(HEAD, File("agentkit.yml", "version: 1\nshared:\n"
                                                "  root: /mnt/efs/app\n  on_conflict: move\n"
                                                "release: /srv/app\n")),
                     "Use a value the key takes (`on_conflict: backup`); "
                     "docs/reference/agentkit-yml.md lists every key."),
    "AK603": Example(_LINT, _appspec(HEAD + "files:\n  - source: /\n    destination: /srv/app\n",
                                     File("agentkit.yml", "version: 1\nrelease: /srv/$APP/current\n"
                                          "permissions:\n  - path: /srv/app\n"
                                          "    owner: www-data\n")),
                     "Write the path itself: agentkit.yml expands no variables."),
    "AK604": Example(_LINT, _appspec(HEAD + "files:\n  - source: /\n    destination: /srv/app\n",
                                     File("agentkit.yml", "version: 1\npermissions:\n"
                                          "  - path: /srv/app\n    owner: www-data\n"
                                          "events:\n  AfterInstall: [permissions]\n")),
                     "List the hook shim under that event in appspec.yml (see `agentkit init`)."),
    "AK800": Example(_EXPLAIN, _console(
        "ApplicationStart", "scripts/start.sh", "ScriptFailed",
        _failed("scripts/start.sh", "ec2-user", 127),
        "[stderr]scripts/start.sh: line 4: pm2: command not found\n"),
        "Call pm2 by its full path, or set PATH at the top of the script."),
    "AK801": Example(_EXPLAIN, _console(
        "ApplicationStart", "scripts/start.sh", "OutputsLeftOpen",
        "Script at specified location: scripts/start.sh failed to close STDOUT", ""),
        "Redirect the background process's output: `nohup ./server > /var/log/app.log 2>&1 "
        "< /dev/null &`, or run it as a systemd service."),
    "AK805": Example(_EXPLAIN, _console(
        "AfterInstall", "scripts/after_install.sh", "ScriptFailed",
        _failed("scripts/after_install.sh", "deploy", 1),
        "[stderr]su: user deploy does not exist\n"),
        "Create the user in the AMI, or fix `runas`."),
    "AK811": Example(_EXPLAIN, _console(
        "AfterInstall", "scripts/after_install.sh", "ScriptFailed",
        _failed("scripts/after_install.sh", "root", 127),
        "[stderr]scripts/after_install.sh: line 2: $'npm\\r': command not found\n"),
        "Convert the script to LF line endings."),
    "AK814": Example(_EXPLAIN, _console(
        "AfterInstall", "scripts/after_install.sh", "ScriptFailed",
        _failed("scripts/after_install.sh", "root", 1),
        "[stderr]chown: changing ownership of '/var/www/shared/media/1.jpg': "
        "Operation not permitted\n"),
        "Don't chown shared storage in a hook: set its owner on the storage side."),
    "AK815": Example(_EXPLAIN, _console(
        "AfterInstall", "scripts/after_install.sh", "ScriptFailed",
        _failed("scripts/after_install.sh", "root", 1),
        "[stderr]cp: error writing '/srv/app/big.bin': No space left on device\n"),
        "Free space on the instance (old releases, logs), or give it a bigger volume."),
    "AK817": Example(_EXPLAIN, _console(
        "ApplicationStart", "scripts/start.sh", "ScriptFailed",
        _failed("scripts/start.sh", "root", 1),
        "[stderr]Error: listen EADDRINUSE: address already in use :::3000\n"),
        "Stop the old process in ApplicationStop (or restart a systemd service) before "
        "starting the new one."),
    "AK818": Example(_EXPLAIN, _console(
        "ApplicationStart", "scripts/start.sh", "ScriptFailed",
        _failed("scripts/start.sh", "root", 5),
        "[stderr]Failed to restart shop-api.service: Unit shop-api.service not found.\n"),
        "Install the unit file (in the AMI or an earlier hook) before restarting it."),
    "AK152": Example(_VERIFY, (_link("appspec.yml", "/etc/app/appspec.yml"),),
                     "Put the appspec itself in the bundle (`cp --remove-destination`), not a "
                     "link to the build machine's file."),
    "AK506": Example(_LINT, _appspec(HEAD + _HOOK, _link("scripts/after_install.sh",
                                                         "/usr/local/bin/after_install.sh")),
                     "Copy the script into the bundle instead of linking to it."),
    "AK510": Example(_LINT, _appspec(HEAD + _FILES, File("shared/media/1.jpg", "jpeg\n"),
                                     _link("media", "shared/media")),
                     "Don't bundle the link: make it on the instance after Install "
                     "(`agentkit hook link-shared`)."),
    "AK511": Example(_LINT, _appspec(HEAD + _FILES, _link("config.php", "/etc/app/config.php")),
                     "Make the link on the instance in a hook, or make it relative and inside "
                     "the bundle."),
    "AK512": Example(_LINT, _appspec(HEAD + _FILES, _link("current.log", "logs/app.log")),
                     "Remove the link, or bundle what it points to."),
    "AK513": Example(_LINT, _appspec(HEAD + _FILES, _link("storage", "../shared/storage")),
                     "Make the link on the instance after Install (`agentkit hook "
                     "link-shared`), not in the bundle."),
    "AK601": Example(_LINT, _appspec(
        HEAD + _FILES + "hooks:\n  ValidateService:\n    - location: scripts/hook.sh\n"
        "      timeout: 30\n", _script("scripts/hook.sh", "agentkit hook run\n"),
        File("agentkit.yml", "version: 1\nvalidate:\n  url: http://127.0.0.1/\n"
             "  deadline: 120\nevents:\n  ValidateService: [validate]\n")),
        "Raise the hook's `timeout` above the deadline (plus one try), or lower "
        "`validate.deadline`."),
    "AK602": Example(_LINT, _appspec(
        HEAD + _FILES + "hooks:\n  AfterInstall:\n    - location: scripts/hook.sh\n",
        _script("scripts/hook.sh", "agentkit hook run\n"),
        File("agentkit.yml", "version: 1\nrelease: /var/www/app\nshared:\n"
             "  root: /mnt/efs/app\n  dirs: [media]\n"
             "events:\n  AfterInstall: [link-shared]\n")),
        "Point `release` at the appspec's `files` destination (`/srv/app`)."),
    "AK701": Example(_VERIFY, _appspec(
        HEAD + _FILES + "hooks:\n  ApplicationStart:\n    - location: scripts/start.sh\n"
        "      timeout: 60\n", _script("scripts/start.sh", "systemctl restart shop-api\n")),
        "Install the unit (in the AMI, or from the bundle in an earlier hook) before "
        "restarting it, or fix its name."),
    "AK802": Example(_EXPLAIN, _install_failed(
        "The deployment failed because a specified file already exists at this location: "
        "/srv/app/index.html"),
        "Set `file_exists_behavior: OVERWRITE` (or RETAIN) in appspec.yml, or remove the file "
        "in a BeforeInstall hook."),
    "AK803": Example(_EXPLAIN, _console(
        "ApplicationStop", "scripts/stop.sh", "ScriptFailed",
        _failed("scripts/stop.sh", "root", 1), "[stderr]kill: (1234) - No such process\n"),
        "Deploy once with --ignore-application-stop-failures: the fixed script of this bundle "
        "runs next time."),
    "AK804": Example(_EXPLAIN, _console(
        "ApplicationStop", "scripts/stop.sh", "ScriptMissing",
        f"Script does not exist at specified location: {_ROOT}/scripts/stop.sh", ""),
        "Deploy once with --ignore-application-stop-failures, or delete the group's "
        "_last_successful_install file on the instance."),
    "AK806": Example(_EXPLAIN, _console(
        "AfterInstall", "scripts/after_install.sh", "ScriptFailed",
        _failed("scripts/after_install.sh", "deploy", 1),
        "[stderr]Password: su: Authentication failure\n"),
        "Run the hook as root and use `runuser -u USER -- CMD` for the commands that need "
        "another user."),
    "AK807": Example(_EXPLAIN, _console(
        "AfterInstall", "scripts/after_install.sh", "ScriptFailed",
        _failed("scripts/after_install.sh", "root", 126),
        f"[stderr]{_ROOT}/scripts/after_install.sh: line 3: {_ROOT}/scripts/helper.sh: "
        "Permission denied\n"),
        "`chmod +x scripts/helper.sh` and commit it with mode 100755 (or call it as `bash "
        "scripts/helper.sh`)."),
    "AK808": Example(_EXPLAIN, _console(
        "AfterInstall", "scripts/migrate.sh", "ScriptTimedOut",
        "Script at specified location: scripts/migrate.sh failed to complete in 300 seconds",
        "[stdout]migrating...\n"),
        "Raise the hook's `timeout`, or make the script finish sooner (run long work in the "
        "background as a service)."),
    "AK809": Example(_EXPLAIN, _console(
        "AfterInstall", "scripts/after_install.sh", "ScriptFailed",
        _failed("scripts/after_install.sh", "root", 1),
        "[stderr]cat: config/app.yml: No such file or directory\n"),
        "Start the script with `cd \"$(dirname \"$0\")/..\"`, or use absolute paths: hooks "
        "do not run in the bundle's directory."),
    "AK810": Example(_EXPLAIN, _console(
        "ValidateService", "scripts/validate.sh", "ScriptFailed",
        _failed("scripts/validate.sh", "root", 7),
        "[stderr]curl: (7) Failed to connect to 127.0.0.1 port 80: Connection refused\n"),
        "Retry the check until a deadline (`agentkit hook validate` does) instead of trying "
        "once."),
    "AK812": Example(_EXPLAIN, _console(
        "AfterInstall", "scripts/after_install.sh", "UnknownError",
        "Errno::ENOENT with message No such file or directory - "
        f"{_ROOT}/scripts/after_install.sh", ""),
        "Install the interpreter the shebang names, or fix the shebang (and its line "
        "ending)."),
    "AK813": Example(_EXPLAIN, _console(
        "AfterInstall", "scripts/after_install.sh", "ScriptFailed",
        _failed("scripts/after_install.sh", "deploy", 1),
        "[stderr]sudo: a terminal is required to read the password; either use the -S option "
        "to read from standard input or configure an askpass helper\n"),
        "Run the hook as root (no `runas`), or allow the command without a password in "
        "sudoers."),
    "AK816": Example(_EXPLAIN, _console(
        "AfterInstall", "scripts/after_install.sh", "ScriptFailed",
        _failed("scripts/after_install.sh", "root", 1),
        "[stderr]cp: cannot create regular file '/usr/local/bin/app': Text file busy\n"),
        "Install the new binary under a temporary name and rename it over the old one, or "
        "stop the program first."),
    "AK819": Example(_VERIFY, _appspec(
        HEAD + _FILES + "hooks:\n  AfterInstall:\n    - location: scripts/after_install.sh\n"
        "      timeout: 60\n", _script(body="python3 -c \"import socket; "
                                        "socket.getaddrinfo('registry.npmjs.org', 443)\"\n")),
        "Run verify with --network to let the hooks use the network, or fetch what they need "
        "before bundling."),
    "AK820": Example(_EXPLAIN, _console(
        "AfterInstall", "scripts/after_install.sh", "ScriptFailed",
        _failed("scripts/after_install.sh", "root", 6),
        "[stderr]curl: (6) Could not resolve host: registry.npmjs.org\n"),
        "Give the instance a way out (NAT gateway, VPC endpoint, proxy), or bake what it "
        "fetches into the AMI or the bundle."),
    "AK821": Example(_EXPLAIN, (File("console.txt", (
        "The overall deployment failed because too many individual instances failed "
        "deployment, too few healthy instances are available for deployment, or some "
        "instances in your deployment group are experiencing problems.\n")),),
        "Look at one failed instance's events (`agentkit explain` of its details) for the "
        "cause."),
    "AK106": Example(_LINT, _appspec(HEAD + "x: " + "[" * 501 + "]" * 501 + "\n"),
                     "Write the appspec flat: a few kilobytes, `source: /` for whole "
                     "directories."),
    "AK700": Example(_VERIFY, _appspec(
        HEAD + _FILES + "hooks:\n  ApplicationStart:\n    - location: scripts/start.sh\n"
        "      timeout: 60\n", _SHOP_UNIT,
        _script("scripts/start.sh", "cp /srv/app/shop.service /etc/systemd/system/\n"
                "systemctl daemon-reload\nsystemctl enable shop\n")),
        "Start it too: `systemctl enable --now shop` (or `systemctl restart shop` after the "
        "enable)."),
    "AK702": Example(_VERIFY, _appspec(
        HEAD + _FILES + "hooks:\n  ApplicationStart:\n    - location: scripts/start.sh\n"
        "      timeout: 60\n", _SHOP_UNIT,
        _script("scripts/start.sh", "cp /srv/app/shop.service /etc/systemd/system/\n"
                "systemctl daemon-reload\nsystemctl start shop\n")),
        "Add a ValidateService script that checks the service answers (`agentkit hook "
        "validate` with a `validate:` section)."),
    "AK400": Example(("verify", "--type", "tgz", "app.tgz"),
                     (File("app.tgz", "<html><body>404 Not Found</body></html>\n"),),
                     "Upload the archive itself (here a download saved an error page), and tell "
                     "CodeDeploy the type it has (`--bundle-type tgz`, `tar` or `zip`)."),
    **{code: Example(_VERIFY_TGZ, (_tar_recipe(*members),), fix, ("python3 make.py",))
       for code, (members, fix) in {
        "AK401": ((_m("/srv/app/index.html", "<h1>shop</h1>"),),
                  "Build the archive from inside the bundle: `tar czf app.tgz -C build .`."),
        "AK402": ((_m("../index.html", "<h1>shop</h1>"),),
                  "Build the archive from inside the bundle: `tar czf app.tgz -C build .`."),
        "AK404": ((_m("passwd", type="tarfile.LNKTYPE", linkname="/etc/passwd"),),
                  "Archive the file itself, not a hard link to one the archive does not "
                  "hold."),
        "AK405": ((_m("logs", type="tarfile.SYMTYPE", linkname="/var/log"),
                   _m("logs/app.log", "started")),
                  "Don't archive files beneath a link: make the link on the instance in a "
                  "hook."),
        "AK411": ((_m("config", "port=8080"), _m("config/app.conf", "port=8080")),
                  "Build the archive from the tree itself (`tar czf app.tgz -C build .`): "
                  "no name given twice, nothing beneath a file."),
        "AK412": ((_m("real", type="tarfile.DIRTYPE", mode="0o755"),
                   _m("alias", type="tarfile.SYMTYPE", linkname="real"),
                   _m("alias/index.html", "<h1>shop</h1>")),
                  "Build the archive from the tree itself (`tar czf app.tgz -C build .` or "
                  "`agentkit bundle`): no member beneath a link."),
    }.items()},
    "AK409": Example(_VERIFY_TGZ, (_tar_recipe(
        "    deep = \"/\".join([\"d\"] * 2040)  # 4,080 bytes: tar extracts it, Install cannot\n"
        + _m("deep + \"/index.html\"", "<h1>shop</h1>", raw=True), spec=HEAD + _FILES),),
        "Flatten the bundle's directories: the destination and the path in the bundle "
        "together are at most 4096 bytes (PATH_MAX).", ("python3 make.py",)),
    "AK407": Example(_VERIFY_TGZ, (_tar_recipe(
        _m("café.txt", "menu"), opened='"w:gz", format=tarfile.GNU_FORMAT, '
                                       'encoding="latin-1"'),), (
        "Rename it in UTF-8 before archiving (`convmv -f latin1 -t utf8 -r --notest .`)."),
        ("python3 make.py",)),
    "AK403": Example(_VERIFY_TGZ, _appspec(HEAD),
                     "Remove device files and fifos from the bundle; make them in a hook.",
                     ("mkfifo queue", "tar czf app.tgz appspec.yml queue")),
    "AK408": Example(("verify", "--max-disk", "1M", "app.tgz"), _appspec(HEAD),
                     "Look at what the build put into the archive; raise `--max-disk` for a "
                     "bundle that really is that big.",
                     ("truncate -s 2M big.bin", "tar czf app.tgz appspec.yml big.bin")),
    "AK410": Example(_VERIFY_TGZ, (File("build/appspec.yml", HEAD),),
                     "`chmod 755 build` before archiving, or archive with "
                     "`tar --mode=go+rX czf app.tgz -C build .`.",
                     ("chmod 700 build", "tar czf app.tgz -C build .")),
    "AK406": Example(("verify", "app.zip"), (File("make.py", _ZIP.format(
        writes='zip.writestr("../index.html", "<h1>shop</h1>\\n")')),),
        "Build the zip from inside the bundle: `cd build && zip -r ../app.zip .`.",
        ("python3 make.py",)),
    "AK413": Example(("verify", "app.zip"), (File("make.py", _ZIP.format(writes=(
        'info = zipfile.ZipInfo("scripts\\\\start.sh")  # as Windows PowerShell 5.1 names it\n'
        '    info.create_system = 0  # made on MS-DOS/FAT\n'
        '    zip.writestr(info, "#!/bin/bash\\necho started\\n")'))),),
        "Make the zip with `/` as the separator: `zip -r`, 7z, Python's zipfile, `agentkit "
        "bundle` or PowerShell 7's Compress-Archive.",
        ("python3 make.py",)),
    "AK508": Example(_LINT, _appspec(HEAD + _HOOK, _script(mode=0)),
                     "`chmod a+r scripts/after_install.sh`, or lint as a user who can read "
                     "it.", note="Run as a user other than root (root reads any file)."),
    "AK514": Example(_LINT, _appspec(HEAD + _FILES),
                     "Keep uploads on the share and link them into the release after Install "
                     "(`agentkit hook link-shared`, `shared.dirs: [uploads]`).",
                     ("mkdir uploads",
                      "for n in $(seq 1200); do echo photo > uploads/$n.jpg; done")),
    "AK515": Example(("verify", "--hooks", "skip", "--image", "instance", "bundle"), (
        File("bundle/appspec.yml", HEAD + "files:\n  - source: release\n"
             "    destination: /srv/app\n"),
        File("bundle/release/index.php", "<?php echo 'shop';\n"),
        File("bundle/release/storage/avatar.png", "png\n"),
        File("instance/etc/hostname", "shop-1\n"),  # the instance's root file system
        _link("instance/srv/app/storage", "/mnt/efs/storage")),
        "Leave `storage/` out of the bundle and make the link after Install (`agentkit hook "
        "link-shared` in AfterInstall).", ("mkdir -p instance/mnt/efs/storage",),
        "`instance/` stands for the instance's root file system (`docker export`, or the AMI "
        "mounted), where a previous deployment made `/srv/app/storage` a link to EFS."),
    "AK703": Example(_VERIFY, _appspec(
        HEAD + "files:\n  - source: shop.service\n    destination: /etc/systemd/system\n"
        "hooks:\n  ApplicationStart:\n    - location: scripts/start.sh\n"
        "  ValidateService:\n    - location: scripts/validate.sh\n",
        File("shop.service", "[Service]\nExecStart=/bin/sh -c 'sleep 2; exec python3 -m "
             "http.server 8080 --bind 127.0.0.1'\n"),
        _script("scripts/start.sh", "systemctl start shop\n"),
        _script("scripts/validate.sh", "sleep 5  # long enough here, not on a busy instance\n"
                "curl -fsS -o /dev/null http://127.0.0.1:8080/\n")),
        "Retry until it answers: `curl -fsS --retry 30 --retry-connrefused --retry-delay 1 "
        "http://127.0.0.1:8080/`, or `agentkit hook validate`.",
        note="The service takes two seconds to listen and ValidateService checks once after a "
        "fixed sleep: in verify's box it answers in time, on a busier instance it may not, "
        "and verify says so."),
    # diagnoses: what the console, the agent's log or scripts.log showed, pasted into a file
    "AK822": Example(_EXPLAIN, _console(
        "BeforeInstall", "scripts/install_dependencies.sh", "ScriptFailed",
        _failed("scripts/install_dependencies.sh", "root", 127),
        f"[stderr]{_ROOT}/scripts/install_dependencies.sh: line 2: yum: command not found\n"),
        "Use the AMI's package manager (apt-get on Ubuntu), or better, install the packages "
        "when building the AMI."),
    "AK823": Example(("explain", "scripts.log"), (File("scripts.log", (
        "2024-02-11 21:03:10 LifecycleEvent - AfterInstall\n"
        "2024-02-11 21:03:10 Script - scripts/build.js\n"
        "2024-02-11 21:03:10 [stderr]/usr/bin/env: ‘node’: No such file or directory\n")),),
        "Name the interpreter by its full path on the `#!` line (`#!/usr/bin/node`)."),
    "AK824": Example(_EXPLAIN, _console(
        "BeforeInstall", "scripts/deregister.sh", "ScriptMissing",
        "Script does not exist at specified location: "
        f"{_ROOT}/scripts/deregister.sh", ""),
        "Give `location` as the script's path inside the bundle, or add the script."),
    "AK825": Example(_EXPLAIN, (File("console.txt", (
        "Error Code: UnknownError\nScript Name: -\n"
        "Message: Failed: Failing in-progress lifecycle event after an agent restart.\n")),),
        "Don't restart the agent or reboot in a hook; redeploy."),
    "AK826": Example(_EXPLAIN, (File("console.txt", (
        "Event\tDuration\tStatus\tError code\n"
        "ApplicationStop\tless than one second\tFailed\tUnknownError\n"
        "CodeDeploy agent was not able to receive the lifecycle event. Check the CodeDeploy "
        "agent logs on your host and make sure the agent is running and can connect to the "
        "CodeDeploy server.\n")),),
        "Start the agent (`systemctl status codedeploy-agent`) and give it a route and a role "
        "to reach CodeDeploy; `agentkit doctor` checks both."),
    "AK827": Example(("explain", "codedeploy-agent.log"), (File("codedeploy-agent.log", (
        "2021-09-14T06:00:01 ERROR [codedeploy-agent(2711)]: InstanceAgent::Plugins::"
        "CodeDeployPlugin::CommandPoller: Missing credentials - please check if this "
        "instance was started with an IAM instance profile\n")),),
        "Attach an instance profile, then `systemctl restart codedeploy-agent`."),
    "AK828": Example(_EXPLAIN, _install_failed("Access Denied"),
                     "Allow s3:GetObject on the revision to the instance profile's role."),
    "AK829": Example(("explain", "codedeploy-agent.log"), (File("codedeploy-agent.log", (
        "2023-10-02T14:06:25 ERROR [codedeploy-agent(3375)]: InstanceAgent::Plugins::"
        "CodeDeployPlugin::CommandPoller: Error during perform: Errno::ENOENT - No such file "
        f"or directory @ rb_sysopen - {_ROOT}/appspec.yml - /opt/codedeploy-agent/lib/"
        "instance_agent/plugins/codedeploy/command_executor.rb:291:in `read'\n")),),
        "Make the archive from inside the project: `tar -C app -czf app.tgz .`."),
    "AK830": Example(_EXPLAIN, _install_failed(
        f"No such file or directory @ rb_sysopen - {_ROOT}/build/"),
        "Fix `source` to a path inside the bundle (or `source: /`)."),
    "AK831": Example(("explain", "codedeploy-agent.log"), (File("codedeploy-agent.log", (
        "2019-07-24 15:42:12 ERROR [codedeploy-agent(5669)]: InstanceAgent::LinuxUtil: Error "
        "extracting zip archive: 1\n")),),
        "Rebuild the zip with `/` as the separator (`zip -r`, not Windows PowerShell 5.1's "
        "Compress-Archive)."),
    "AK832": Example(("explain", "deployment.json"), (File("deployment.json", (
        '{"deploymentInfo": {"deploymentId": "d-HC1NVAL1D", "status": "Failed", '
        '"errorInformation": {"code": "HEALTH_CONSTRAINTS_INVALID", "message": "The '
        "deployment can't start because a minimum number of healthy instances, as defined "
        'by your deployment configuration, are not available."}}}\n')),),
        "Lower the minimum healthy hosts, or add healthy instances to the group."),
    "AK833": Example(_EXPLAIN, _console(
        "BeforeInstall", "scripts/install_dependencies.sh", "ScriptFailed",
        _failed("scripts/install_dependencies.sh", "root", 127), ""),
        "Find the `command not found` line in scripts.log and explain that."),
    "AK834": Example(_EXPLAIN, (File("console.txt", (
        "Deployment status: Failed\nError code: AGENT_ISSUE\nThe deployment failed because "
        "of a problem with the CodeDeploy agent. Make sure the agent is installed and running "
        "on all instances in this deployment group.\n")),),
        "Install and start the agent on the group's instances; `agentkit doctor` checks it."),
    "AK835": Example(("explain", "deployment.json"), (File("deployment.json", (
        '{"deploymentInfo": {"deploymentId": "d-R0LE00000", "status": "Failed", '
        '"errorInformation": {"code": "IAM_ROLE_PERMISSIONS", "message": "CodeDeploy does '
        "not have the permissions required to assume the role "
        'arn:aws:iam::111122223333:role/CodeDeployServiceRole."}}}\n')),),
        "Give the deployment group a service role that trusts codedeploy.amazonaws.com "
        "(AWSCodeDeployRole)."),
    "AK836": Example(_EXPLAIN, (File("console.txt", (
        "Deployment failed\nThe deployment failed because no instances were found for your "
        "deployment group. (Error code: NO_INSTANCES)\n")),),
        "Make the group's tag filters match the instances' tags."),
    "AK837": Example(_EXPLAIN, _install_failed("The disk is (or was) full during extraction."),
                     "Free space under /opt/codedeploy-agent (fewer `:max_revisions:`) or "
                     "grow the volume."),
    "AK838": Example(("explain", "scripts.log"), (File("scripts.log", (
        "2023-11-20 09:14:02 LifecycleEvent - ApplicationStart\n"
        "2023-11-20 09:14:02 Script - scripts/start_app.sh\n"
        "2023-11-20 09:14:02 [stderr]sudo: pm2: command not found\n")),),
        "Drop the sudo (hooks run as root), or `sudo \"$(command -v pm2)\" ...`."),
}
