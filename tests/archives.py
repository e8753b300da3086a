"""Build real archives for tests: tar (plain/gz) and zip, with whatever members a test needs."""

from __future__ import annotations

import io
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Union

Spec = tuple[str, str, Union[str, bytes], int]  # name, kind, data or link target, mode

APPSPEC_OK = "version: 0.0\nos: linux\n"


def tar(path: Path, members: list[Spec], *, gz: bool = True, uid: int = 0,
        uname: str = "") -> Path:
    with tarfile.open(path, "w:gz" if gz else "w", format=tarfile.GNU_FORMAT) as t:
        for name, kind, data, mode in members:
            info = tarfile.TarInfo(name)
            info.mode = mode
            info.mtime = int(time.time())
            info.uid = info.gid = uid
            info.uname = uname
            payload = data.encode() if isinstance(data, str) else data
            if kind == "file":
                info.size = len(payload)
                t.addfile(info, io.BytesIO(payload))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
                         "hardlink": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE,
                         "chardev": tarfile.CHRTYPE}[kind]
            if kind in ("symlink", "hardlink"):
                info.linkname = payload.decode()
            t.addfile(info)
    return path


def zip_(path: Path, members: list[Spec]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, kind, data, mode in members:
            info = zipfile.ZipInfo(name)
            payload = data.encode() if isinstance(data, str) else data
            if kind == "symlink":
                info.external_attr = (0o120777 << 16)
            elif kind == "dir":
                info.external_attr = (0o40755 << 16) | 0x10
            else:
                info.external_attr = ((0o100000 | mode) << 16)
            z.writestr(info, payload)
    return path


def script(body: str = "echo ok\n") -> str:
    return "#!/bin/sh\n" + body


def appspec(dest: Path | str, hooks: str = "", extra: str = "") -> str:
    text = f"version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: {dest}\n" + extra
    if hooks:
        text += "hooks:\n" + hooks
    return text
