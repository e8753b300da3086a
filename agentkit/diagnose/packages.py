"""Which package brings a command a hook could not find (AK800), said only when known.

Two sources, in this order:
- the image (verify --image): dpkg's /var/lib/dpkg/info/*.list files list every path each
  installed package put on disk, so a command the image has names its package, and then the
  failure is the hook's PATH, not a missing package; any image: the command's file itself in a
  usual bin directory;
- for a command the image lacks (or with no image), a small table of common commands and
  their packages on Debian/Ubuntu and Amazon Linux. A command in neither gets no name: a
  guess would send people installing the wrong thing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

BIN_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
DPKG_INFO = "var/lib/dpkg/info"
LIST_BYTES = 8 << 20  # one package's file list; bigger ones are not read


@dataclass(frozen=True)
class Known:
    debian: str | None  # the package on Debian and Ubuntu
    amazon: str | None  # on Amazon Linux 2023
    npm: bool = False  # installed with `npm install -g`, not the system's packages
    amazon2: str | None = None  # on Amazon Linux 2, where it is known to differ
    note: str = ""  # said after the packages


# Only commands whose package names are certain on both families (None: not packaged there).
TABLE: dict[str, Known] = {
    "unzip": Known("unzip", "unzip"), "zip": Known("zip", "zip"), "jq": Known("jq", "jq"),
    "curl": Known("curl", "curl"), "wget": Known("wget", "wget"), "git": Known("git", "git"),
    "rsync": Known("rsync", "rsync"), "lsof": Known("lsof", "lsof"),
    "aws": Known("awscli", "awscli-2", amazon2="awscli",
                 note="; newer Ubuntu releases have no awscli package: use AWS's own "
                      "installer (awscli-exe-linux-*.zip) there"),
    "node": Known("nodejs", "nodejs"), "nodejs": Known("nodejs", "nodejs"),
    "npm": Known("npm", "nodejs-npm"), "npx": Known("npm", "nodejs-npm"),
    "python3": Known("python3", "python3"), "pip3": Known("python3-pip", "python3-pip"),
    "python": Known("python-is-python3", None),
    "ruby": Known("ruby", "ruby"), "gem": Known("ruby", "rubygems"),
    "docker": Known("docker.io", "docker"), "nginx": Known("nginx", "nginx"),
    "httpd": Known(None, "httpd"), "apache2": Known("apache2", None),
    "apachectl": Known("apache2", "httpd"), "envsubst": Known("gettext-base", "gettext"),
    "netstat": Known("net-tools", "net-tools"), "killall": Known("psmisc", "psmisc"),
    "pgrep": Known("procps", "procps-ng"), "pkill": Known("procps", "procps-ng"),
    "ps": Known("procps", "procps-ng"), "which": Known("debianutils", "which"),
    "crontab": Known("cron", "cronie"), "sudo": Known("sudo", "sudo"),
    "java": Known("default-jre-headless", "java-17-amazon-corretto-headless"),
    "pm2": Known(None, None, npm=True), "yarn": Known(None, None, npm=True),
    "pnpm": Known(None, None, npm=True), "forever": Known(None, None, npm=True),
}


def in_image(image: str, command: str) -> tuple[str, str | None] | None:
    """Where the image has the command (a usual bin directory), and the dpkg package that
    put it there when dpkg knows it."""
    if not image or "/" in command or command in ("", ".", ".."):
        return None
    for directory in BIN_DIRS:
        path = os.path.join(image, directory.lstrip("/"), command)
        if os.path.lexists(path):
            return os.path.join(directory, command), _dpkg_owner(image, directory, command)
    return None


def _dpkg_owner(image: str, directory: str, command: str) -> str | None:
    """The package whose .list names the command's path (dpkg's own record; /bin and
    /usr/bin both tried, for images with a merged /usr)."""
    info = os.path.join(image, DPKG_INFO)
    try:
        lists = sorted(n for n in os.listdir(info) if n.endswith(".list"))
    except OSError:
        return None
    wanted = {f"{d}/{command}" for d in (directory, *BIN_DIRS)}
    for name in lists:
        try:
            with open(os.path.join(info, name), "rb") as f:
                paths = f.read(LIST_BYTES).decode("utf-8", "replace").splitlines()
        except OSError:
            continue
        if wanted.intersection(paths):
            return name[:-len(".list")].split(":", 1)[0]  # `curl:amd64.list`: curl
    return None


def advice(command: str, image: str = "") -> str:
    """One or two sentences for AK800's fix: the image's own record first, then the table;
    "" when neither knows the command."""
    found = in_image(image, command)
    if found is not None:
        path, package = found
        owner = f" (package {package})" if package else ""
        return (f"The instance's file system has it, at {path}{owner}, so the hook's PATH "
                f"lacks {os.path.dirname(path)} (or it was installed after the deployment ran): "
                f"call it as {path} or add that directory to PATH.")
    known = TABLE.get(command)
    if known is None:
        return ""
    if known.npm:
        return (f"`{command}` comes from npm (`npm install -g {command}`), so it lives beside "
                "the node that installed it (under ~/.nvm with nvm): call it by that full path, "
                "or install it globally with the system's node so it lands in /usr/bin or "
                "/usr/local/bin.")
    where = []
    if known.debian:
        where.append(f"`{known.debian}` on Debian/Ubuntu (`apt-get install -y {known.debian}`)")
    if known.amazon:
        where.append(f"`{known.amazon}` on Amazon Linux 2023 (`dnf install -y {known.amazon}`)")
    if known.amazon2:
        where.append(f"`{known.amazon2}` on Amazon Linux 2 (`yum install -y {known.amazon2}`)")
    missing = [family for family, pkg in (("Debian/Ubuntu", known.debian),
                                          ("Amazon Linux 2023", known.amazon)) if pkg is None]
    tail = f"; {' and '.join(missing)} has no package of that name" if missing else ""
    return ("If the instance lacks it, install its package in the AMI or in a BeforeInstall "
            f"hook: {', '.join(where)}{tail}{known.note}.")
