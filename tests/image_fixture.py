"""A small instance image made from this machine's own programs: /bin/sh, cat and ls with
the libraries they load, its own /etc (a user only it has, an os-release of its own) and a
file already at an application's destination. Enough for hooks to run over it in the box."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

PROGRAMS = ("/bin/sh", "/usr/bin/cat", "/usr/bin/ls", "/usr/bin/env", "/usr/bin/sleep")
# what a python of the image needs beyond its stdlib directory; not the rest of the stdlib
PYTHON_SKIPPED = ("test", "idlelib", "tkinter", "ensurepip", "lib2to3", "site-packages",
                  "dist-packages", "turtledemo", "pydoc_data")
OS_RELEASE = 'ID=agentkit-test\nPRETTY_NAME="agentkit test image"\n'


def _libraries(program: str) -> list[str]:
    out = subprocess.run(["ldd", program], capture_output=True, text=True, check=False).stdout
    return re.findall(r"(/\S+\.so[.\d]*)", out)


def _copy(src: str, root: Path) -> None:
    real = os.path.realpath(src)
    dest = root / real.lstrip("/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not dest.exists():
        shutil.copy2(real, dest)
    # the name the program is known by (ld-linux's in /lib64), in its real directory
    link = root / os.path.realpath(os.path.dirname(src)).lstrip("/") / os.path.basename(src)
    if link != dest and not os.path.lexists(link):
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(real)


def make_image(root: Path) -> Path:
    """The image as a directory at `root`."""
    for top in ("bin", "lib", "lib64", "sbin"):  # merged /usr, as the host and AL2023
        if os.path.islink(f"/{top}"):
            (root / top).parent.mkdir(parents=True, exist_ok=True)
            if not (root / top).exists():
                (root / top).symlink_to(os.readlink(f"/{top}"))
    for program in PROGRAMS:
        _copy(program, root)
        for lib in _libraries(program):
            _copy(lib, root)
    etc = root / "etc"
    etc.mkdir(exist_ok=True)
    (etc / "os-release").write_text(OS_RELEASE)
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                "imageonly:x:1234:1234::/home/imageonly:/bin/sh\n")
    (etc / "group").write_text("root:x:0:\nimageonly:x:1234:\n")
    for d in ("tmp", "root", "opt/from-image", "srv/app", "var/log", "home/imageonly"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "tmp").chmod(0o1777)
    (root / "srv" / "app" / "index.html").write_text("from the image")
    return root


def add_python(root: Path) -> Path | None:
    """This machine's /usr/bin/python3 and its standard library in the image (as
    Amazon Linux 2023 has one), or None where it has no such python (3.9 or later)."""
    python = "/usr/bin/python3"
    if not os.access(python, os.X_OK):
        return None
    out = subprocess.run([python, "-I", "-c", "import sys, sysconfig; print(sys.version_info "
                          ">= (3, 9)); print(sysconfig.get_paths()['stdlib'])"],
                         capture_output=True, text=True, check=False).stdout.split()
    if len(out) != 2 or out[0] != "True" or not out[1].startswith("/usr/"):
        return None
    _copy(python, root)
    for lib in _libraries(os.path.realpath(python)):
        _copy(lib, root)
    shutil.copytree(out[1], root / out[1].lstrip("/"), symlinks=True, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(*PYTHON_SKIPPED))
    return root / python.lstrip("/")


def make_tarball(root: Path, out: Path, owner: int = 0) -> Path:
    """The image as a tar.gz, as `docker export | gzip` gives it (owners in the headers)."""
    def owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        if info.name.startswith("./home/imageonly"):
            info.uid = info.gid = owner
        return info

    with tarfile.open(out, "w:gz") as tar:
        tar.add(root, arcname=".", filter=owned)
    return out


def image_with_unit(root: Path, unit: str, text: str) -> Path:
    """The image at `root` with this machine's python3 (which the box's systemctl runs on)
    and the unit file `unit` (a path inside the image); the test is skipped where this
    machine has no such python."""
    import pytest

    img = make_image(root)
    if add_python(img) is None:
        pytest.skip("this machine has no /usr/bin/python3 (3.9+) to put in the image")
    path = img / unit.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return img
