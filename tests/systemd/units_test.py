"""Unit files read as systemd.unit(5) says: the search path's first file, drop-ins in name
order, continuation lines, a list reset by an empty assignment, template specifiers, a mask."""

from __future__ import annotations

import os
from pathlib import Path

from agentkit.systemd import units


def _write(root: Path, path: str, text: str) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def test_units_first_in_the_search_path_with_its_drop_ins(tmp_path: Path) -> None:
    _write(tmp_path, "/lib/systemd/system/app.service",
           "[Unit]\nDescription=packaged\n[Service]\nExecStart=/usr/bin/app \\\n  --port 80\n"
           "Environment=A=1 'B=two words'\nExecStartPre=/bin/true\n")
    _write(tmp_path, "/etc/systemd/system/app.service.d/20-port.conf",
           "[Service]\nExecStart=\nExecStart=-/usr/bin/app --port 8080\n")
    _write(tmp_path, "/lib/systemd/system/app.service.d/10-env.conf",
           "[Service]\n# a comment\n; another\nEnvironment=A=3\nUser=www-data\n")
    unit = units.find("app", str(tmp_path))
    assert unit is not None
    assert (unit.name, unit.path, unit.type) == ("app.service", "/lib/systemd/system/app.service",
                                                 "simple")
    assert unit.get("Unit", "Description") == "packaged"
    assert unit.commands("ExecStart") == [units.Command(("/usr/bin/app", "--port", "8080"),
                                                        True, False)]
    assert unit.get("Service", "User") == "www-data"
    assert units.environment(unit) == {"A": "3", "B": "two words"}
    assert [os.path.basename(d) for d in unit.drop_ins] == ["10-env.conf", "20-port.conf"]
    _write(tmp_path, "/etc/systemd/system/app.service", "[Service]\nType=oneshot\n")
    override = units.find("app.service", str(tmp_path))
    assert override is not None and override.path == "/etc/systemd/system/app.service"


def test_units_template_masked_and_missing(tmp_path: Path) -> None:
    _write(tmp_path, "/usr/lib/systemd/system/worker@.service",
           "[Service]\nExecStart=/usr/bin/worker --queue %i --unit %n\n"
           "[Install]\nWantedBy=multi-user.target\n")
    unit = units.find("worker@emails", str(tmp_path))
    assert unit is not None and unit.installable
    assert unit.commands("ExecStart")[0].argv == ("/usr/bin/worker", "--queue", "emails",
                                                  "--unit", "worker@emails.service")
    (tmp_path / "etc/systemd/system").mkdir(parents=True)
    os.symlink("/dev/null", tmp_path / "etc/systemd/system/worker@emails.service")
    masked = units.find("worker@emails", str(tmp_path))
    assert masked is not None and masked.masked
    assert units.find("nothing-here", str(tmp_path)) is None


def test_units_expand_variables_as_systemd_does() -> None:
    env = {"OPTS": "-a -b", "PORT": "80"}
    assert units.expand(("/bin/d", "$OPTS", "--port=${PORT}", "${NONE}x", "$$HOME"), env) == [
        "/bin/d", "-a", "-b", "--port=80", "x", "$HOME"]


def test_units_at_prefix_names_argv0_and_p_of_a_plain_unit(tmp_path: Path) -> None:
    assert units.parse_command("@/usr/bin/python3 myweb -m http.server") == units.Command(
        ("myweb", "-m", "http.server"), False, False, "/usr/bin/python3")
    _write(tmp_path, "/etc/systemd/system/web.service", "[Service]\nExecStart=/bin/echo %p %N\n")
    unit = units.find("web", str(tmp_path))
    assert unit is not None and unit.commands("ExecStart")[0].argv == ("/bin/echo", "web", "web")


def test_units_missing_environment_file_is_refused_unless_optional(tmp_path: Path) -> None:
    _write(tmp_path, "/etc/systemd/system/a.service",
           "[Service]\nEnvironmentFile=-/etc/none\nExecStart=/bin/true\n")
    _write(tmp_path, "/etc/systemd/system/b.service",
           "[Service]\nEnvironmentFile=/etc/none\nExecStart=/bin/true\n")
    a, b = units.find("a", str(tmp_path)), units.find("b", str(tmp_path))
    assert a is not None and b is not None
    assert units.environment(a, str(tmp_path)) == {}
    try:
        units.environment(b, str(tmp_path))
    except units.MissingEnvironmentFile as exc:
        assert (exc.filename, exc.strerror) == (
            "/etc/none", "Failed to load environment files: No such file or directory")
    else:
        raise AssertionError("a missing EnvironmentFile= without - was accepted")


def test_units_start_timeout_as_systemd_reads_it(tmp_path: Path) -> None:
    assert [units.time_span(t) for t in ("90", "5min 30s", "1h", "250ms", "infinity", "0",
                                          "soon")] == [90.0, 330.0, 3600.0, 0.25, None, None,
                                                       None]
    for name, body, want in (("a", "ExecStart=/bin/true\n", 90.0),
                             ("b", "Type=oneshot\nExecStart=/bin/true\n", None),
                             ("c", "Type=oneshot\nTimeoutStartSec=2min\nExecStart=/bin/true\n",
                              120.0),
                             ("d", "TimeoutSec=infinity\nExecStart=/bin/true\n", None)):
        _write(tmp_path, f"/etc/systemd/system/{name}.service", f"[Service]\n{body}")
        unit = units.find(name, str(tmp_path))
        assert unit is not None and units.start_timeout(unit, 90.0) == want, name
