"""AK800 names the package of a command not found, from the image's dpkg database or from
a small table, and only when it knows."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from agentkit.diagnose import packages
from agentkit.diagnose.case import Case
from agentkit.diagnose.engine import diagnose


def _image(tmp_path: Path, files: dict[str, str], lists: dict[str, list[str]]) -> Path:
    """A root file system with those files and dpkg's file lists (info/<package>.list)."""
    root = tmp_path / "image"
    for name, body in files.items():
        (root / name.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (root / name.lstrip("/")).write_text(body)
    info = root / packages.DPKG_INFO
    info.mkdir(parents=True, exist_ok=True)
    for package, paths in lists.items():
        (info / f"{package}.list").write_text("".join(p + "\n" for p in ["/.", *paths]))
    return root


def test_packages_the_images_dpkg_record_names_the_package(tmp_path: Path) -> None:
    root = _image(tmp_path, {"/usr/sbin/nginx": "ELF"},
                  {"nginx-common": ["/usr/share/nginx"],
                   "nginx-core:amd64": ["/usr/sbin", "/usr/sbin/nginx"]})
    assert packages.advice("nginx", str(root)) == (
        "The instance's file system has it, at /usr/sbin/nginx (package nginx-core), so the "
        "hook's PATH lacks /usr/sbin (or it was installed after the deployment ran): call it "
        "as /usr/sbin/nginx or add that directory to PATH.")


def test_packages_an_image_without_dpkg_still_says_where_it_is(tmp_path: Path) -> None:
    root = tmp_path / "rpm-image"
    (root / "usr" / "sbin").mkdir(parents=True)
    (root / "usr" / "sbin" / "httpd").write_text("ELF")
    assert packages.advice("httpd", str(root)) == (
        "The instance's file system has it, at /usr/sbin/httpd, so the hook's PATH lacks "
        "/usr/sbin (or it was installed after the deployment ran): call it as /usr/sbin/httpd "
        "or add that directory to PATH.")


def test_packages_a_command_the_image_lacks_comes_from_the_table(tmp_path: Path) -> None:
    root = _image(tmp_path, {}, {"base-files": ["/etc/issue"]})
    assert packages.advice("jq", str(root)) == (
        "If the instance lacks it, install its package in the AMI or in a BeforeInstall hook: "
        "`jq` on Debian/Ubuntu (`apt-get install -y jq`), `jq` on Amazon Linux 2023 (`dnf "
        "install -y jq`).")
    assert packages.advice("httpd") == (
        "If the instance lacks it, install its package in the AMI or in a BeforeInstall hook: "
        "`httpd` on Amazon Linux 2023 (`dnf install -y httpd`); Debian/Ubuntu has no package "
        "of that name.")


@pytest.mark.parametrize("command", ["shop-worker", "error_exit", "../../bin/sh", ""])
def test_packages_an_unknown_command_gets_no_name(tmp_path: Path, command: str) -> None:
    assert packages.advice(command, str(_image(tmp_path, {}, {}))) == ""


@pytest.mark.skipif(not os.path.isdir("/var/lib/dpkg/info") or shutil.which("unzip") is None,
                    reason="this machine has no dpkg database or no unzip to look up")
def test_packages_this_machines_real_dpkg_database() -> None:
    where = shutil.which("unzip")
    assert where is not None
    path, package = packages.in_image("/", "unzip") or ("", None)
    assert os.path.samefile(path, where)
    assert package == "unzip"


def test_packages_ak800_puts_the_package_in_its_fix(tmp_path: Path) -> None:
    root = _image(tmp_path, {"/usr/sbin/nginx": "ELF"}, {"nginx-core": ["/usr/sbin/nginx"]})
    case = Case("ApplicationStart", "SCRIPT_FAILED", "Script at specified location: s/a.sh run "
                "as user www-data failed with exit code 127",
                ("s/a.sh: line 2: nginx: command not found",), "s/a.sh", image=str(root))
    (found,) = diagnose(case)
    assert found.code == "AK800"
    assert found.fix == (
        "Call it by its full path (`command -v nginx` in a login shell on the instance prints "
        "it) or set PATH at the top of the script (`export PATH=/usr/local/bin:$PATH`; for "
        "nvm, `. \"$HOME/.nvm/nvm.sh\"` first). The instance's file system has it, at "
        "/usr/sbin/nginx (package nginx-core), so the hook's PATH lacks /usr/sbin (or it was "
        "installed after the deployment ran): call it as /usr/sbin/nginx or add that "
        "directory to PATH.")
    without = Case(case.event, case.error_code, case.message,
                   ("s/a.sh: line 2: shop-worker: command not found",), "s/a.sh")
    (found,) = diagnose(without)
    assert found.fix.endswith(" If a login shell cannot find it either, the AMI lacks it: "
                              "install its package in the AMI or in a BeforeInstall hook.")
