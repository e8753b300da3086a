"""Every rule, with the whole message, the fix and the agent's own words asserted."""

from __future__ import annotations

from typing import Any, Callable

import pytest

DF = "The deployment failed because"
HEAD = "version: 0.0\nos: linux\n"


def only(out: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [f for f in out["files"][0]["findings"] if f["code"] == code]


def one(out: dict[str, Any], code: str) -> dict[str, Any]:
    found = only(out, code)
    assert len(found) == 1, out["files"][0]["findings"]
    return found[0]


Lint = Callable[..., dict[str, Any]]


def test_lint_valid_appspec_has_no_findings(lint_json: Lint) -> None:
    out = lint_json(HEAD + "files:\n  - source: /\n    destination: /srv/app\nhooks:\n"
                    "  AfterInstall:\n    - location: scripts/a.sh\n      timeout: 30\n")
    assert out["files"][0]["findings"] == []
    assert out["files"][0]["agent_verdict"] == "accepted"
    assert out["exit"] == 0


def test_version_quoted_is_rejected_with_agent_text(lint_json: Lint) -> None:
    out = lint_json('version: "0.0"\nos: linux\n')
    f = one(out, "AK110")
    assert (f["line"], f["column"]) == (1, 10)
    assert f["message"] == 'version: expected the number 0.0, got the string "0.0"'
    assert f["agent_message"] == (
        f"{DF} an invalid version value (0.0) was entered in the application specification "
        'file. Make sure your AppSpec file specifies "0.0" as the version, and then try again.')
    assert out["files"][0]["agent_verdict"] == "rejected"
    assert out["exit"] == 1


@pytest.mark.parametrize(("text", "shown"), [("1.0", "1.0"), ("0.1", "0.1"), ("1.0.0", "1.0.0")])
def test_version_not_zero_is_rejected(lint_json: Lint, text: str, shown: str) -> None:
    f = one(lint_json(f"version: {text}\nos: linux\n"), "AK110")
    assert f["agent_message"] == (
        f"{DF} an invalid version value ({shown}) was entered in the application specification "
        'file. Make sure your AppSpec file specifies "0.0" as the version, and then try again.')


@pytest.mark.parametrize("text", ["0", "0.00", "0.0"])
def test_version_numeric_zero_is_accepted(lint_json: Lint, text: str) -> None:
    assert only(lint_json(f"version: {text}\nos: linux\n"), "AK110") == []


def test_version_missing_shows_empty_value(lint_json: Lint) -> None:
    f = one(lint_json("os: linux\n"), "AK110")
    assert f["message"] == "version: expected the number 0.0, got nothing"
    assert "invalid version value () was entered" in f["agent_message"]


def test_version_agent2_reports_serde_type_error(lint_json: Lint) -> None:
    out = lint_json('version: "0.0"\nos: linux\n', "--agent", "2")
    assert out["files"][0]["agent_error"] == (
        f"{DF} of a YAML parsing error: version: invalid type: string \"0.0\", expected f64 at "
        "line 1 column 10")


def test_version_agent2_prints_float_without_fraction(lint_json: Lint) -> None:
    f = one(lint_json("version: 1.0\nos: linux\n", "--agent", "2"), "AK110")
    assert f["agent_message"] == (
        f"{DF} an invalid version value (1) was entered in the application specification "
        'file. Make sure your AppSpec file specifies "0.0" as the version, and then try again.')


def test_os_wrong_case_is_rejected(lint_json: Lint) -> None:
    f = one(lint_json("version: 0.0\nos: Linux\n"), "AK111")
    assert f["message"] == "os: expected linux or windows, got 'Linux'"
    assert f["hint"] == "write `os: linux` (lower case) for Linux instances, `os: windows` " \
                        "for Windows"
    assert f["agent_message"] == (
        f"{DF} the application specification file specifies an unsupported operating system "
        '(Linux). Specify either "linux" or "windows" in the os section of the AppSpec file, and '
        "then try again.")


def test_empty_file_is_rejected(lint_json: Lint) -> None:
    f = one(lint_json("# only a comment\n"), "AK101")
    assert f["message"] == "<document>: the file is empty"
    assert f["agent_message"] == (
        f"{DF} the application specification file was empty. Make sure your AppSpec file "
        "defines at minimum the 'version' and 'os' properties.")


def test_empty_file_agent2_comment_only_is_a_yaml_error(lint_json: Lint) -> None:
    f = one(lint_json("# only a comment\n", "--agent", "2"), "AK101")
    assert f["agent_message"] == f"{DF} of a YAML parsing error: EOF while parsing a value"


def test_yaml_tab_is_a_syntax_error_with_psych_text(lint_json: Lint) -> None:
    f = one(lint_json("version: 0.0\nos: linux\nhooks:\n\tAfterInstall: []\n"), "AK100")
    assert (f["line"], f["column"]) == (4, 1)
    assert f["message"] == ("YAML syntax: found character that cannot start any token "
                            "(while scanning for the next token)")
    assert f["agent_message"] == ("(<unknown>): found character that cannot start any token "
                                  "while scanning for the next token at line 4 column 1")


def test_top_level_list_is_a_shape_error(lint_json: Lint) -> None:
    f = one(lint_json("- version: 0.0\n"), "AK102")
    assert f["message"] == ("<document>: expected a mapping of keys (version, os, files, "
                            "hooks...), got a list")
    assert f["agent_message"] == "no implicit conversion of String into Integer"


def test_files_as_mapping_is_a_shape_error(lint_json: Lint) -> None:
    f = one(lint_json(HEAD + "files:\n  source: /\n  destination: /srv\n"), "AK102")
    assert f["message"] == ("files: expected a list of `- source: ... destination: ...`, "
                            "got a mapping")
    assert f["hint"] == "start each entry with `- source:`"
    assert f["agent_message"] == "no implicit conversion of String into Integer"


def test_hook_as_plain_string_is_a_shape_error(lint_json: Lint) -> None:
    f = one(lint_json(HEAD + "hooks:\n  AfterInstall: scripts/a.sh\n"), "AK102")
    assert f["message"] == ("hooks > AfterInstall: expected a list of scripts "
                            "(`- location: ...`), got text")
    assert f["agent_message"] == 'undefined method `each\' for "scripts/a.sh":String'


def test_hook_as_mapping_is_a_shape_error(lint_json: Lint) -> None:
    f = one(lint_json(HEAD + "hooks:\n  AfterInstall:\n    location: a.sh\n"), "AK102")
    assert f["agent_message"] == 'undefined method `has_key?\' for ["location", "a.sh"]:Array'


def test_permission_type_as_string_crashes_the_agent(lint_json: Lint) -> None:
    f = one(lint_json(HEAD + "permissions:\n  - object: /srv\n    type: file\n"), "AK143")
    assert f["message"] == 'permissions[0] > type: expected a list of file/directory, got "file"'
    assert f["agent_message"] == 'undefined method `each\' for "file":String'


def test_permission_type_unknown_keeps_agent_typo(lint_json: Lint) -> None:
    f = one(lint_json(HEAD + "permissions:\n  - object: /srv\n    type: [files]\n"), "AK143")
    assert f["agent_message"] == (
        f"{DF} the application specification filespecifies a permission for an object type not "
        "supported for permissions (files). Update the permissions section of the AppSpec file, "
        "and then try again.")


def test_script_without_location_is_rejected(lint_json: Lint) -> None:
    f = one(lint_json(HEAD + "hooks:\n  AfterInstall:\n    - timeout: 30\n"), "AK130")
    assert f["message"] == "hooks > AfterInstall[0] > location: a script needs a location"
    assert f["agent_message"] == (
        f"{DF} the application specification file specifies a script with no location value. "
        "Specify the location in the hooks section of the AppSpec file, and then try again.")


@pytest.mark.parametrize(("value", "detail"), [
    ("0", "expected a positive integer, got 0"),
    ("-5", "expected a positive integer, got -5"),
    ("abc", 'expected a positive integer, got "abc", which the agent reads as 0'),
    ("0.9", "expected a positive integer, got 0.9, which the agent reads as 0"),
])
def test_timeout_not_positive_after_to_i_is_rejected(lint_json: Lint, value: str,
                                                     detail: str) -> None:
    f = one(lint_json(HEAD + f"hooks:\n  AfterInstall:\n    - location: a.sh\n"
                             f"      timeout: {value}\n"), "AK131")
    assert f["message"] == f"hooks > AfterInstall[0] > timeout: {detail}"
    assert f["line"] == 6
    assert f["agent_message"] == (
        f"{DF} an invalid timeout value was provided for a script in the application "
        "specification file. Make corrections in the hooks section of the AppSpec file, and then "
        "try again.")


@pytest.mark.parametrize("value", ["30s", "2.9", "'30'"])
def test_timeout_ruby_to_i_accepts_leading_digits(lint_json: Lint, value: str) -> None:
    out = lint_json(HEAD + f"hooks:\n  AfterInstall:\n    - location: a.sh\n"
                           f"      timeout: {value}\n")
    assert only(out, "AK131") == []
    assert out["files"][0]["agent_verdict"] == "accepted"


def test_timeout_30s_is_a_portability_warning(lint_json: Lint) -> None:
    out = lint_json(HEAD + "hooks:\n  AfterInstall:\n    - location: a.sh\n      timeout: 30s\n")
    f = one(out, "AK300")
    assert f["message"] == ("hooks > AfterInstall[0] > timeout: agent 1.x: 30 seconds; "
                            'agent 2.x: rejected (string "30s" is not a whole number)')
    out2 = lint_json(HEAD + "hooks:\n  AfterInstall:\n    - location: a.sh\n      timeout: 30s\n",
                     "--agent", "2")
    assert out2["files"][0]["agent_error"] == (
        f"{DF} of a YAML parsing error: hooks.AfterInstall[0].timeout: invalid type: string "
        '"30s", expected u32 at line 6 column 16')


def test_timeout_true_crashes_agent1(lint_json: Lint) -> None:
    f = one(lint_json(HEAD + "hooks:\n  AfterInstall:\n    - location: a.sh\n"
                             "      timeout: true\n"), "AK131")
    assert f["agent_message"] == "undefined method `to_i' for true:TrueClass"


def test_file_exists_behavior_lower_case_is_rejected(lint_json: Lint) -> None:
    f = one(lint_json(HEAD + "file_exists_behavior: overwrite\n"), "AK112")
    assert f["message"] == ("file_exists_behavior: expected DISALLOW, OVERWRITE or RETAIN, got "
                            "'overwrite'")
    assert f["agent_message"] == (
        f"{DF} an invalid file_exists_behavior value (overwrite) was entered in the application "
        "specification file. Make sure your AppSpec file specifies one of DISALLOW,OVERWRITE,"
        "RETAIN as the file_exists_behavior, and then try again.")


def test_files_entry_without_source_is_rejected(lint_json: Lint) -> None:
    f = one(lint_json(HEAD + "files:\n  - destination: /srv\n"), "AK120")
    assert f["message"] == "files[0] > source: a files entry needs a source"
    assert f["agent_message"] == (
        f"{DF} the application specification file specifies a destination file, but no source "
        "file. Update the files section of the AppSpec file, and then try again.")


def test_files_entry_without_destination_is_rejected(lint_json: Lint) -> None:
    f = one(lint_json(HEAD + "files:\n  - source: app\n"), "AK121")
    assert f["agent_message"] == (
        f"{DF} the application specification file specifies only a source file (app). Add the "
        "name of the destination file to the files section of the AppSpec file, and then try "
        "again.")


def test_permission_without_object_is_rejected(lint_json: Lint) -> None:
    f = one(lint_json(HEAD + "permissions:\n  - owner: root\n"), "AK140")
    assert f["message"] == "permissions[0] > object: a permission needs an object"
    assert f["agent_message"] == (
        f"{DF} a permission listed in the application specification file has no object value. "
        "Update the permissions section of the AppSpec file, and then try again.")


def test_mode_too_long_is_rejected_with_padded_value(lint_json: Lint) -> None:
    f = one(lint_json(HEAD + "permissions:\n  - object: /srv\n    mode: 12345\n"), "AK141")
    assert f["agent_message"] == (
        f"{DF} the length of a permissions mode (12345) in the application specification file is"
        " invalid. Permissions modes must be between one and four characters long. Update the "
        "permissions section of the AppSpec file, and then try again.")


def test_mode_0755_is_octal_493_and_rejected_by_agent1(lint_json: Lint) -> None:
    out = lint_json(HEAD + "permissions:\n  - object: /srv\n    mode: 0755\n")
    f = one(out, "AK142")
    assert f["message"] == "permissions[0] > mode: '9' is not an octal digit in '493'"
    assert f["agent_message"] == (
        f"{DF} the permissions mode (493) in the application specification file contains an "
        "invalid character (9). Update the permissions section of the AppSpec file, and then try"
        " again.")
    assert one(out, "AK300")["message"] == (
        "permissions[0] > mode: agent 1.x: rejected ('9' is not an octal digit in '493'); "
        "agent 2.x: chmod 0755")


def test_mode_8_agent2_shows_unpadded_value(lint_json: Lint) -> None:
    f = one(lint_json(HEAD + "permissions:\n  - object: /srv\n    mode: 8\n", "--agent", "2"),
            "AK142")
    assert f["agent_message"] == (
        f"{DF} the permissions mode (8) in the application specification file contains an "
        "invalid character (8). Update the permissions section of the AppSpec file, and then try"
        " again.")


def test_mode_0644_warns_unquoted_octal(lint_json: Lint) -> None:
    out = lint_json(HEAD + "permissions:\n  - object: /srv\n    mode: 0644\n")
    f = one(out, "AK200")
    assert f["message"] == ("permissions[0] > mode: mode 0644 is the octal number 420 to YAML "
                            "1.1, so agent 1.x runs chmod 0420, not 0644; agent 2.x reads 0644")
    assert f["hint"] == 'write `mode: "644"`'
    assert out["files"][0]["agent_verdict"] == "accepted"
    assert out["exit"] == 0
    assert main_strict_exit(lint_json, HEAD + "permissions:\n  - object: /srv\n    mode: 0644\n")


def main_strict_exit(lint_json: Lint, text: str) -> bool:
    return bool(lint_json(text, "--strict")["exit"] == 1)


@pytest.mark.parametrize(("entry", "message"), [
    ("u::rwx", f"{DF} of a problem with the acls permission settings in the application "
               "specification file. Use mode to set the base acl entry (u::rwx). Update the "
               "permissions section of the AppSpec file, and then try again."),
    ("x:bob:rwx", f"{DF} of a problem with the acls permission settings in the application "
                  "specification file. Invalid acl entry (x:bob:rwx)."),
    ("u:bob:rwq", f"{DF} the access control list (ACL) named u:bob:rwq in the application "
                  "specification file contains an invalid character (q). Correct the ACL in the "
                  "hooks section of the AppSpec file, and then try again."),
])
def test_acl_invalid_entry_is_rejected(lint_json: Lint, entry: str, message: str) -> None:
    f = one(lint_json(HEAD + f"permissions:\n  - object: /srv\n    acls:\n      - {entry}\n"),
            "AK144")
    assert f["agent_message"] == message
    assert f["line"] == 6


@pytest.mark.parametrize("entry", ["u:bob:rwx", "d:g:ops:r-x", "m:7", "bob:rw"])
def test_acl_valid_entries_pass_agent1(lint_json: Lint, entry: str) -> None:
    out = lint_json(HEAD + f"permissions:\n  - object: /srv\n    acls:\n      - {entry}\n")
    assert only(out, "AK144") == []


def test_acl_two_fields_is_portability_warning(lint_json: Lint) -> None:
    out = lint_json(HEAD + "permissions:\n  - object: /srv\n    acls:\n      - bob:rw\n")
    assert one(out, "AK300")["message"] == (
        "permissions[0] > acls[0]: agent 1.x: accepted; agent 2.x: rejected ('bob:rw' is not "
        "[d[efault]:]type:name:perms)")


def test_context_without_type_is_rejected(lint_json: Lint) -> None:
    f = one(lint_json(HEAD + "permissions:\n  - object: /srv\n    context:\n      name: user_u\n"),
            "AK145")
    assert f["agent_message"] == (
        f"{DF} the application specification file specifies an invalid context type "
        '({"name"=>"user_u"}). Update the permissions section of the AppSpec file, and then try '
        "again.")


@pytest.mark.parametrize(("rng", "message"), [
    ("s0:", "invalid range part s0:"),
    ("x0", "invalid sensitivity x0"),
    ("s0:c1024", "invalid category c1024"),
    ("s0:c2.c1", "invalid category range c2.c1"),
    ("s0:c1,c0.c2", "duplicate categories"),
    ("s1-s0", f"{DF} of a problem with the SELinux range specified (s1-s0) for the context "
              "parameter in the permissions section of the application specification file. Make "
              "corrections in the permissions section of the AppSpec file, and then try again."),
])
def test_context_bad_range_is_rejected(lint_json: Lint, rng: str, message: str) -> None:
    f = one(lint_json(HEAD + "permissions:\n  - object: /srv\n    context:\n      type: t\n"
                             f"      range: '{rng}'\n"), "AK145")
    assert f["agent_message"] == message


def test_permissions_on_windows_keep_agent_typo(lint_json: Lint) -> None:
    f = one(lint_json("version: 0.0\nos: windows\npermissions:\n  - object: C:\\app\n"), "AK146")
    assert f["agent_message"].startswith(
        f"{DF} the application specification file specifiles file permissions, but the "
        "deployment is targeting one or more Windows Server instances.")


def test_unknown_event_is_error_but_agent_accepts(lint_json: Lint) -> None:
    out = lint_json(HEAD + "hooks:\n  AfterInstal:\n    - location: a.sh\n")
    f = one(out, "AK132")
    assert f["message"] == ("hooks > AfterInstal: not a lifecycle event; the agent never runs it"
                            " (did you mean AfterInstall?)")
    assert f["hint"] == "did you mean AfterInstall?"
    assert f["agent_message"] == ('appspec.yml file contains unknown lifecycle events: '
                                  '["AfterInstal"]')
    assert out["files"][0]["agent_verdict"] == "accepted"
    assert out["exit"] == 1


def test_unknown_event_with_space_suggests_event(lint_json: Lint) -> None:
    out = lint_json(HEAD + "hooks:\n  Before Install:\n    - location: a.sh\n", "--agent", "2")
    f = one(out, "AK132")
    assert f["hint"] == "did you mean BeforeInstall?"
    assert f["agent_message"] == "appspec.yml file contains unknown lifecycle events: " \
                                 "Before Install"


def test_bom_warns(lint_json: Lint) -> None:
    out = lint_json("\ufeffversion: 0.0\nos: linux\n")
    assert one(out, "AK201")["message"] == (
        "<document>: the file starts with a UTF-8 byte order mark; agent 1.x then keeps only "
        "the first top-level key")
    # What 1.8.1 was seen doing: only `version` survives, so os is missing.
    assert "unsupported operating system ()" in one(out, "AK111")["agent_message"]


def test_duplicate_key_warns_and_agent2_rejects(lint_json: Lint) -> None:
    text = HEAD + "files:\n  - source: a\n    source: b\n    destination: /srv\n"
    f = one(lint_json(text), "AK202")
    assert f["message"] == ("files[0] > source: `source` is given twice; the agent keeps only "
                            "the last one (line 5)")
    f2 = one(lint_json(text, "--agent", "2"), "AK104")
    # serde names the enclosing mapping and its start mark, not the repeated key.
    assert f2["agent_message"] == (f"{DF} of a YAML parsing error: files[0]: duplicate "
                                   "field `source` at line 4 column 5")
    assert (f2["line"], f2["column"]) == (5, 5)


def test_alias_rejected_by_agent1_only(lint_json: Lint) -> None:
    text = HEAD + "files:\n  - source: &s app\n    destination: *s\n"
    f = one(lint_json(text), "AK103")
    assert f["agent_message"] == ("Alias parsing was not enabled. To enable it, pass `aliases: "
                                  "true` to `Psych::load` or `Psych::safe_load`.")
    out2 = lint_json(text, "--agent", "2")
    assert only(out2, "AK103") == []
    assert one(out2, "AK300")["message"] == "YAML aliases: agent 1.x: rejected; agent 2.x: accepted"


def test_event_at_top_level_warns(lint_json: Lint) -> None:
    f = one(lint_json(HEAD + "ApplicationStart:\n  - location: a.sh\n"), "AK203")
    assert f["message"] == ("ApplicationStart: `ApplicationStart` is at the top level, so it is "
                            "not a hook and never runs")
    assert f["hint"] == "indent it under `hooks:` as `ApplicationStart:`"


def test_unknown_keys_warn_with_suggestion(lint_json: Lint) -> None:
    out = lint_json(HEAD + "file_exists_behaviour: OVERWRITE\nfiles:\n  - source: a\n"
                           "    destination: /srv\n    overwrite: true\n")
    found = {f["message"]: f["hint"] for f in only(out, "AK204")}
    assert found == {
        "file_exists_behaviour: `file_exists_behaviour` is not read by the agent":
            "spell it `file_exists_behavior` (American spelling)",
        "files[0] > overwrite: `overwrite` is not read by the agent":
            "the agent has no per-file overwrite: set `file_exists_behavior: OVERWRITE` at the "
            "top level",
    }


def test_scripts_under_install_warn(lint_json: Lint) -> None:
    f = one(lint_json(HEAD + "hooks:\n  Install:\n    - location: a.sh\n"), "AK205")
    assert f["message"] == ("hooks > Install: Install is run by the agent itself; scripts listed "
                            "under it never run")
    assert f["hint"] == "move them to BeforeInstall or AfterInstall"


def test_event_timeouts_above_limit_warn(lint_json: Lint) -> None:
    f = one(lint_json(HEAD + "hooks:\n  AfterInstall:\n    - location: a.sh\n      timeout: 3000\n"
                             "    - location: b.sh\n      timeout: 1000\n"), "AK206")
    assert f["message"] == ("hooks > AfterInstall: the timeouts of AfterInstall add up to 4000 s;"
                            " the service stops an event after 3600 s")


def test_empty_runas_warns(lint_json: Lint) -> None:
    f = one(lint_json(HEAD + "hooks:\n  AfterInstall:\n    - location: a.sh\n      runas: ''\n"),
            "AK207")
    assert f["message"] == ("hooks > AfterInstall[0] > runas: runas is empty: agent 1.x runs "
                            "`su  -c SCRIPT`, as root through su (with root's HOME and SHELL); "
                            "agent 2.x ignores it: either way the script runs as root")


@pytest.mark.parametrize("value", ["", " ~", " null"])
def test_runas_without_value_warns(lint_json: Lint, value: str) -> None:
    hooks = f"hooks:\n  AfterInstall:\n    - location: a.sh\n      runas:{value}\n"
    f = one(lint_json(HEAD + hooks), "AK207")
    assert f["message"] == ("hooks > AfterInstall[0] > runas: runas has no value: both agents "
                            "run the script as their own user (root), as if runas were not there")


def test_runas_on_windows_warns(lint_json: Lint) -> None:
    f = one(lint_json("version: 0.0\nos: windows\nhooks:\n  AfterInstall:\n"
                      "    - location: a.bat\n      runas: Administrator\n"), "AK208")
    assert f["line"] == 6


def test_destination_file_name_warns(lint_json: Lint) -> None:
    f = one(lint_json(HEAD + "files:\n  - source: build/app.jar\n    destination: /opt/app.jar\n"),
            "AK209")
    assert f["message"] == ("files[0] > destination: the destination looks like a file name, but "
                            "the agent treats it as a directory and installs "
                            "/opt/app.jar/app.jar")
    assert f["hint"] == "set `destination: /opt` (the file keeps its name app.jar)"


def test_relative_destination_warns(lint_json: Lint) -> None:
    f = one(lint_json(HEAD + "files:\n  - source: /\n    destination: srv/app\n"), "AK210")
    assert f["message"] == ("files[0] > destination: 'srv/app' is not an absolute path; the agent"
                            " resolves it against its own working directory")


def test_glob_source_warns(lint_json: Lint) -> None:
    f = one(lint_json(HEAD + "files:\n  - source: dist/*\n    destination: /srv\n"), "AK211")
    assert f["message"] == ("files[0] > source: 'dist/*' contains glob characters; the agent "
                            "looks for a file with exactly that name")


def test_pattern_with_slash_warns(lint_json: Lint) -> None:
    f = one(lint_json(HEAD + "permissions:\n  - object: /srv\n    pattern: logs/*.log\n"),
            "AK212")
    assert f["message"] == ("permissions[0] > pattern: pattern 'logs/*.log' contains '/', so it "
                            "never matches: patterns apply to the names of direct children of "
                            "object")


def test_location_command_warns(lint_json: Lint) -> None:
    f = one(lint_json(HEAD + "hooks:\n  ApplicationStart:\n    - location: node index.js\n"),
            "AK213")
    assert f["message"] == ("hooks > ApplicationStart[0] > location: 'node index.js' looks like a"
                            " command; the agent runs the file at that path, without a shell")


def test_location_leading_slash_warns(lint_json: Lint) -> None:
    f = one(lint_json(HEAD + "hooks:\n  ApplicationStart:\n    - location: /scripts/a.sh\n"),
            "AK214")
    assert f["hint"] == "write `scripts/a.sh`"


def test_destination_list_warns(lint_json: Lint) -> None:
    f = one(lint_json(HEAD + "files:\n  - source: /\n    destination: [/a, /b]\n"), "AK215")
    assert f["message"] == ("files[0] > destination: destination is not a single path; the "
                            "install step fails on it")


def test_lint_reports_every_error_at_once(lint_json: Lint) -> None:
    out = lint_json('version: "0.0"\nos: Linux\nhooks:\n  AfterInstall:\n    - timeout: 0\n')
    codes = [f["code"] for f in out["files"][0]["findings"] if f["severity"] == "error"]
    assert codes == ["AK110", "AK111", "AK130"]
    # The agent stops at the first one, in its own order.
    assert "invalid version value (0.0)" in out["files"][0]["agent_error"]


@pytest.mark.parametrize(("body", "path", "reading1", "reading2"), [
    ("files: ~\n", "files", "no files", "rejected (expected a list, got unit value)"),
    ("hooks:\n  AfterInstall:\n    - location: a.sh\n      sudo: yes\n",
     "hooks > AfterInstall[0] > sudo", "with sudo",
     'rejected (string "yes" is not a boolean)'),
    ("hooks:\n  AfterInstall:\n    - location: a.sh\n      runas: ''\n",
     "hooks > AfterInstall[0] > runas", "runs `su '' -c` (fails)", "no runas (ignored)"),
    ("permissions:\n  - object: /a\n    acls: ['o::rwx']\n", "permissions[0] > acls[0]",
     "rejected ('o::rwx' sets a base entry; use mode for the owner, group and other bits)",
     "accepted"),
])
def test_portability_names_each_difference(lint_json: Lint, body: str, path: str,
                                           reading1: str, reading2: str) -> None:
    f = one(lint_json(HEAD + body), "AK300")
    assert f["message"] == f"{path}: agent 1.x: {reading1}; agent 2.x: {reading2}"
    assert f["hint"] == ("write it so both generations read it the same way before upgrading "
                         "or mixing agents")


def test_portability_silent_when_both_agree(lint_json: Lint) -> None:
    out = lint_json(HEAD + "hooks:\n  AfterInstall:\n    - location: a.sh\n      timeout: 30\n"
                           "      sudo: true\npermissions:\n  - object: /a\n    mode: '644'\n")
    assert only(out, "AK300") == []


def test_sudo_yes_agent2_is_a_yaml_error(lint_json: Lint) -> None:
    out = lint_json(HEAD + "hooks:\n  AfterInstall:\n    - location: a.sh\n      sudo: yes\n",
                    "--agent", "2")
    assert out["files"][0]["agent_error"] == (
        f"{DF} of a YAML parsing error: hooks.AfterInstall[0].sudo: invalid type: string "
        '"yes", expected a boolean at line 6 column 13')


def test_second_yaml_document_ignored_by_agent1_refused_by_agent2(lint_json: Lint) -> None:
    text = HEAD + "---\nversion: 1\n"
    assert lint_json(text)["files"][0]["agent_verdict"] == "accepted"
    out2 = lint_json(text, "--agent", "2")
    assert out2["files"][0]["agent_error"] == (
        f"{DF} of a YAML parsing error: deserializing from YAML containing more than one "
        "document is not supported")


def test_application_tag_is_read_as_text(lint_json: Lint) -> None:
    out = lint_json(HEAD + "files:\n  - source: !Ref app\n    destination: /srv\n")
    assert out["exit"] == 0
    assert out["files"][0]["agent_verdict"] == "accepted"


@pytest.mark.parametrize("generation", ["1", "2"])
def test_acl_non_ascii_digit_is_an_invalid_character(lint_json: Lint, generation: str) -> None:
    f = one(lint_json(HEAD + "permissions:\n  - object: /srv\n    acls: ['u:bob:\u00b2']\n",
                      "--agent", generation), "AK144")
    assert f["agent_message"].endswith(
        "contains an invalid character (\u00b2). Correct the ACL in the hooks section of the "
        "AppSpec file, and then try again.")


@pytest.mark.parametrize(("rng", "accepted"), [("s\u00b2", False), ("s++1", False),
                                               ("s0:c+5", True), ("s+1", True)])
def test_context_range_agent2_parses_like_rust_integers(lint_json: Lint, rng: str,
                                                        accepted: bool) -> None:
    out = lint_json(HEAD + f"permissions:\n  - object: /srv\n    context:\n      type: t\n"
                           f"      range: '{rng}'\n", "--agent", "2")
    assert (only(out, "AK145") == []) is accepted


@pytest.mark.parametrize("body", ["hooks:\n  AfterInstall: {}\n", "files: {}\n",
                                  "permissions: {}\n"])
def test_empty_mapping_is_no_entries_to_agent1(lint_json: Lint, body: str) -> None:
    assert lint_json(HEAD + body)["files"][0]["agent_verdict"] == "accepted"


def test_version_hex_zero_is_a_type_error_for_agent2(lint_json: Lint) -> None:
    out = lint_json("version: 0x0\nos: linux\n", "--agent", "2")
    assert out["files"][0]["agent_error"] == (
        f"{DF} of a YAML parsing error: version: invalid type: integer `0`, expected f64 at "
        "line 1 column 10")
    assert lint_json("version: 0x0\nos: linux\n")["files"][0]["agent_verdict"] == "accepted"


def test_missing_field_comes_after_type_errors_for_agent2(lint_json: Lint) -> None:
    out = lint_json('version: "0.0"\n', "--agent", "2")
    assert out["files"][0]["agent_error"] == (
        f'{DF} of a YAML parsing error: version: invalid type: string "0.0", expected f64 at '
        "line 1 column 10")
    assert one(out, "AK111")["agent_message"] == f"{DF} of a YAML parsing error: missing field `os`"


def test_empty_os_shows_raw_text_for_agent2(lint_json: Lint) -> None:
    f = one(lint_json("version: 0.0\nos: null\n", "--agent", "2"), "AK111")
    assert f["agent_message"] == (
        f"{DF} the application specification file specifies an unsupported operating system "
        '(null). Specify either "linux" or "windows" in the os section of the AppSpec file, and '
        "then try again.")


def test_unknown_event_counting_follows_each_generation(lint_json: Lint) -> None:
    empty = HEAD + "hooks:\n  Foo: []\n"
    assert len(only(lint_json(empty), "AK132")) == 1
    assert only(lint_json(empty, "--agent", "2"), "AK132") == []
    assert only(lint_json(HEAD + "hooks:\n  Foo: false\n"), "AK132") == []


@pytest.mark.parametrize("value", ["'\uff13\uff10'", "'\u00a030'"])
def test_timeout_to_i_reads_only_ascii_digits(lint_json: Lint, value: str) -> None:
    out = lint_json(HEAD + "hooks:\n  AfterInstall:\n    - location: a.sh\n"
                           f"      timeout: {value}\n")
    assert one(out, "AK131")["message"].endswith("which the agent reads as 0")


def test_date_is_refused_by_agent1_only(lint_json: Lint) -> None:
    out = lint_json(HEAD + "released: 2020-01-01\n")
    f = one(out, "AK105")
    assert f["message"] == ("<document>: '2020-01-01' is a YAML date, which agent 1.x (Psych 4) "
                            "refuses to load")
    assert f["agent_message"] == "Tried to load unspecified class: Date"
    assert lint_json(HEAD + "released: 2020-01-01\n", "--agent", "2")["files"][0][
        "agent_verdict"] == "accepted"


@pytest.mark.parametrize(("body", "verdict"), [
    ("hooks:\n  AfterInstall:\n    - location: a.sh\n      timeout: oFF\n", "accepted"),
    ("permissions:\n  - object: /srv\n    mode: 6,44\n", "accepted"),
])
def test_psych_typing_differs_from_pyyaml(lint_json: Lint, body: str, verdict: str) -> None:
    assert lint_json(HEAD + body)["files"][0]["agent_verdict"] == verdict


def test_symbol_os_prints_without_colon(lint_json: Lint) -> None:
    f = one(lint_json("version: 0.0\nos: :linux\n"), "AK111")
    assert "unsupported operating system (linux)." in f["agent_message"]


def test_bare_dash_item_is_an_empty_entry_for_agent2(lint_json: Lint) -> None:
    out = lint_json(HEAD + "hooks:\n  AfterInstall:\n    -\n", "--agent", "2")
    assert out["files"][0]["agent_error"] == (
        f"{DF} the application specification file specifies a script with no location value. "
        "Specify the location in the hooks section of the AppSpec file, and then try again.")


@pytest.mark.parametrize(("ctx", "crash"), [
    ("[a]", "no implicit conversion of String into Integer"),
    ("true", "undefined method `[]' for true:TrueClass"),
])
def test_context_not_a_mapping_crashes_agent1(lint_json: Lint, ctx: str, crash: str) -> None:
    f = one(lint_json(HEAD + f"permissions:\n  - object: /srv\n    context: {ctx}\n"), "AK145")
    assert f["agent_message"] == crash


@pytest.mark.parametrize(("value", "problem"), [
    ("030", 'invalid type: string "030", expected u32'),
    ("30.0", "invalid type: floating point `30.0`, expected u32"),
    ("'a\"b'", 'invalid type: string "a\\"b", expected u32'),
])
def test_serde_wording_for_agent2(lint_json: Lint, value: str, problem: str) -> None:
    out = lint_json(HEAD + "hooks:\n  AfterInstall:\n    - location: a.sh\n"
                           f"      timeout: {value}\n", "--agent", "2")
    assert out["files"][0]["agent_error"] == (
        f"{DF} of a YAML parsing error: hooks.AfterInstall[0].timeout: {problem} at line 6 "
        "column 16")


def test_syntax_error_agent2_carries_libyaml_context(lint_json: Lint) -> None:
    out = lint_json('version: 0.0\nos: "linux\n', "--agent", "2")
    assert out["files"][0]["agent_error"] == (
        f"{DF} of a YAML parsing error: found unexpected end of stream at line 3 column 1, "
        "while scanning a quoted scalar at line 2 column 5")


def test_undefined_alias_words_per_agent(lint_json: Lint) -> None:
    text = HEAD + "extra: *nowhere\n"
    f1 = one(lint_json(text), "AK103")
    assert f1["agent_message"].startswith("Alias parsing was not enabled.")
    f2 = one(lint_json(text, "--agent", "2"), "AK100")
    assert f2["agent_message"] == (f"{DF} of a YAML parsing error: unknown anchor at line 3 "
                                   "column 8")
