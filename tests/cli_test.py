"""The CLI: exit codes, text output, bundle lookup, and the one error handler."""

from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from agentkit import __version__, cli
from agentkit.cli import main
from agentkit.errors import FatalError

GOOD = "version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: /srv/app\n"


def test_main_version_prints_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"agentkit {__version__}\n"


def test_main_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint"]) == 2
    assert "the following arguments are required: PATH" in capsys.readouterr().err


def test_python_m_agentkit_runs(tmp_path: Path) -> None:
    (tmp_path / "appspec.yml").write_text(GOOD)
    proc = subprocess.run([sys.executable, "-m", "agentkit", "lint", str(tmp_path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (f"{tmp_path}/appspec.yml: agent 1.x accepts this appspec "
                           "(0 error(s), 0 warning(s))\n1 file(s) checked: 0 error(s), "
                           "0 warning(s)\n")


def test_lint_text_is_compiler_style(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "appspec.yml"
    path.write_text("version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: a.sh\n"
                    "      timeout: 0\n")
    assert main(["lint", str(path)]) == 1
    assert capsys.readouterr().out == (
        f"{path}:6:16: error AK131: hooks > AfterInstall[0] > timeout: expected a positive "
        "integer, got 0\n"
        "    fix: write the timeout in whole seconds, e.g. `timeout: 300`\n"
        "    agent says: The deployment failed because an invalid timeout value was provided for a"
        " script in the application specification file. Make corrections in the hooks section of"
        " the AppSpec file, and then try again.\n"
        f"{path}: agent 1.x rejects this appspec (1 error(s), 0 warning(s))\n"
        "1 file(s) checked: 1 error(s), 0 warning(s)\n")


def test_lint_warnings_exit_0_unless_strict(tmp_path: Path) -> None:
    path = tmp_path / "appspec.yml"
    path.write_text(GOOD + "extra: 1\n")
    assert main(["lint", str(path)]) == 0
    assert main(["lint", "--strict", str(path)]) == 1


def test_lint_missing_path_is_one_clean_error(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope"
    assert main(["lint", str(missing)]) == 1
    err = capsys.readouterr().err
    assert err == (f"agentkit: error: {missing}: no such file or directory. Give an appspec file "
                   "or a bundle directory that holds appspec.yml.\n")


def test_lint_non_utf8_names_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "appspec.yml"
    path.write_bytes(b"version: 0.0\nos: \xff\n")
    assert main(["lint", str(path)]) == 1
    assert capsys.readouterr().err == (
        f"agentkit: error: {path}:2: the appspec is not UTF-8 text (byte 17); the agent cannot "
        "read it. Save the file as UTF-8.\n")


def test_lint_bundle_without_appspec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "--format", "json", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert '"code": "AK150"' in out
    assert (f'revision-relative path \\"appspec.yml\\". The revision was unpacked to directory '
            f'\\"{tmp_path}\\"') in out


def test_lint_bundle_with_only_appspec_yaml_fails(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "appspec.yaml").write_text(GOOD)
    assert main(["lint", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(
        f"{tmp_path}/appspec.yaml: error AK151: only appspec.yaml: agent 1.x installs from it, "
        "but its hook executor reads only appspec.yml and fails at BeforeInstall\n"
        "    fix: rename appspec.yaml to appspec.yml\n")
    assert main(["lint", "--agent", "2", str(tmp_path)]) == 1
    assert "agent 2.x's DownloadBundle wants appspec.yml" in capsys.readouterr().out


def test_lint_bundle_prefers_appspec_yml(tmp_path: Path) -> None:
    (tmp_path / "appspec.yml").write_text(GOOD)
    (tmp_path / "appspec.yaml").write_text("version: 1\n")
    assert main(["lint", str(tmp_path)]) == 0


def test_guarded_maps_fatal_error_to_1(capsys: pytest.CaptureFixture[str]) -> None:
    def boom() -> int:
        raise FatalError("bad thing: fix it")
    assert cli.guarded(boom) == 1
    assert capsys.readouterr().err == "agentkit: error: bad thing: fix it\n"


def test_guarded_maps_interrupt_to_130() -> None:
    def interrupted() -> int:
        raise KeyboardInterrupt
    assert cli.guarded(interrupted) == 130


def test_guarded_maps_crash_to_3_with_log(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the crash log: here, not /tmp

    def crash() -> int:
        raise ZeroDivisionError("division by zero")
    assert cli.guarded(crash) == 3
    (log,) = tmp_path.iterdir()
    assert re.fullmatch(r"agentkit-crash-\d{8}T\d{6}-\w+\.log", log.name), log.name
    assert capsys.readouterr().err == (
        "agentkit: internal error (ZeroDivisionError: division by zero); this is a bug in "
        f"agentkit, not in your input. Details were written to {log}; please attach that file "
        "to a bug report.\n")
    text = log.read_text()
    uname = os.uname()
    assert text.splitlines()[:5] == [
        f"agentkit {__version__} crashed",
        f"command: {shlex.join(['agentkit', *sys.argv[1:]])}",
        f"python: {platform.python_implementation()} {platform.python_version()} "
        f"({sys.executable})",
        f"kernel: {uname.sysname} {uname.release} {uname.version} {uname.machine}",
        ""]
    assert text.splitlines()[5] == "Traceback (most recent call last):"
    assert text.splitlines()[-1] == "ZeroDivisionError: division by zero"
    assert 'raise ZeroDivisionError("division by zero")' in text


def test_main_crash_log_names_the_command_line_it_was_given(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def dispatch(_args: object) -> int:
        raise RuntimeError("a bug")
    monkeypatch.setattr(cli, "_dispatch", dispatch)
    assert main(["lint", "--strict", "my app/appspec.yml"]) == 3
    (log,) = tmp_path.iterdir()
    assert log.read_text().splitlines()[1] == \
        "command: agentkit lint --strict 'my app/appspec.yml'"
    assert capsys.readouterr().err.startswith("agentkit: internal error (RuntimeError: a bug)")


def test_guarded_crash_without_a_writable_tmpdir_reports_on_stderr(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "absent"))

    def crash() -> int:
        raise ZeroDivisionError("division by zero")
    assert cli.guarded(crash, ["verify", "a.tgz"]) == 3
    err = capsys.readouterr().err
    head, report = err.split("\n\n", 1)
    assert head == ("agentkit: internal error (ZeroDivisionError: division by zero); this is a "
                    "bug in agentkit, not in your input. No crash log could be written (No "
                    "such file or directory); please attach what follows to a bug report.")
    assert report.splitlines()[:2] == [f"agentkit {__version__} crashed",
                                       "command: agentkit verify a.tgz"]
    assert report.splitlines()[-1] == "ZeroDivisionError: division by zero"


def test_setup_py_still_works() -> None:
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "setup.py", "--version"], cwd=root,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == __version__


def test_setup_py_legacy_metadata_matches_pyproject() -> None:
    # what setup.py gives setuptools too old to read pyproject.toml
    import runpy

    tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11")
    root = Path(__file__).resolve().parents[1]
    legacy = runpy.run_path(str(root / "setup.py"), run_name="not_main")["LEGACY"]
    project = tomllib.loads((root / "pyproject.toml").read_text())
    meta, tool = project["project"], project["tool"]["setuptools"]
    assert (legacy["name"], legacy["version"], legacy["description"],
            legacy["python_requires"], legacy["install_requires"]) == (
        meta["name"], __version__, meta["description"], meta["requires-python"],
        meta["dependencies"])
    assert "license" in meta["dynamic"] and "license" not in meta  # setup.py gives it
    assert legacy["entry_points"]["console_scripts"] == [
        f"{name} = {target}" for name, target in meta["scripts"].items()]
    assert legacy["package_data"] == tool["package-data"]
    assert legacy["extras_require"]["s3"] == meta["optional-dependencies"]["s3"]
    assert "agentkit.bundle" in legacy["packages"] and "tests" not in legacy["packages"]


@pytest.mark.parametrize("command", [[], ["verify"], ["lint"], ["hook"], ["explain"]])
def test_cli_help_ends_with_the_exit_status_table(
        command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from agentkit.cli import EXIT_CODES

    assert main([*command, "--help"]) == 0
    assert capsys.readouterr().out.rstrip("\n").endswith(EXIT_CODES)


def _every_parser(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
                  ) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += _every_parser(child, (*path, name))
    return found


def test_cli_every_option_of_every_command_has_help_text() -> None:
    missing = [(" ".join(path), action.dest)
               for path, parser in _every_parser(cli._build_parser())
               for action in parser._actions
               if not isinstance(action, argparse._SubParsersAction)
               and (not action.help or action.help == argparse.SUPPRESS)]
    assert missing == []


def test_cli_every_command_help_ends_with_the_exit_status_table(
        capsys: pytest.CaptureFixture[str]) -> None:
    parsers = _every_parser(cli._build_parser())
    assert len(parsers) > 20  # the walk reaches the actions (hook run, image build...)
    for path, _parser in parsers:
        assert main([*path, "--help"]) == 0
        assert capsys.readouterr().out.rstrip("\n").endswith(cli.EXIT_CODES), path
