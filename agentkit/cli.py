"""Command line entry point: parse, dispatch, and the one place errors become exit codes."""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from typing import Any, Callable

from agentkit import __version__
from agentkit.errors import EXIT_CRASH, EXIT_INTERRUPTED, EXIT_USAGE, FatalError, Terminated


def _add_lint(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _command(sub, "lint", help="check appspec files as the CodeDeploy agent reads them")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="an appspec file, or a bundle directory holding one")
    p.add_argument("--format", choices=("text", "json", "sarif", "github"), default="text",
                   help="text (default), json, sarif (SARIF 2.1.0, for code scanning) or "
                   "github (workflow commands: annotations on a pull request)")
    p.add_argument("--strict", action="store_true", help="warnings also make the exit status 1")
    p.add_argument("--changed", action="store_true",
                   help="the PATHs are changed files (as pre-commit passes them): check the "
                   "bundle directory of each, the nearest one holding appspec.yml, once")
    p.add_argument("--agent", choices=("1", "2"), default="1",
                   help="agent generation to predict: 1 = Ruby 1.8.x (default), 2 = Rust 2.x")


def _size(text: str) -> int:
    """A size as `4G`, `500M`, `64k` or bytes."""
    units = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    number, unit = text.rstrip("bBiI"), ""
    if number and number[-1].lower() in units:
        number, unit = number[:-1], number[-1].lower()
    try:
        value = int(float(number) * units[unit])
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 4G, 500M)") from None
    if value < 1 << 20:
        raise argparse.ArgumentTypeError(f"{text}: at least 1M")
    return value


def _seconds(text: str) -> float:
    """A duration in seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1e9:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r} (e.g. 300)")
    return value


def _add_verify(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _command(sub, "verify", help="predict what the agent does with a revision archive")
    p.add_argument("archive", metavar="ARCHIVE", help=".tar, .tar.gz/.tgz, .zip, a directory, or "
                   "s3://BUCKET/KEY[?versionId=V&etag=E] (downloaded first; needs boto3)")
    p.add_argument("--type", choices=("tar", "tgz", "zip", "directory"),
                   help="the bundle type CodeDeploy is told (default: detected from content)")
    p.add_argument("--agent", choices=("1", "2"), default="1",
                   help="agent generation to model: 1 = Ruby 1.8.x (default), 2 = Rust 2.x")
    # The agent upcases the deployment's value (deployment_specification.rb), so any case works.
    p.add_argument("--file-exists-behavior", type=str.upper, default="DISALLOW",
                   choices=("DISALLOW", "OVERWRITE", "RETAIN"),
                   help="the deployment's setting, any case (the appspec's wins)")
    p.add_argument("--deployment-group", default="dg-verify", metavar="ID",
                   help="deployment group id (names the agent's state files)")
    p.add_argument("--previous", metavar="ARCHIVE", help="deploy this revision first")
    p.add_argument("--state-dir", metavar="DIR",
                   help="keep the agent's deployment root here between runs")
    p.add_argument("--keep", metavar="DIR", help="keep the throw-away root in DIR")
    p.add_argument("--wait", type=_seconds, default=0.0, metavar="SECONDS",
                   help="wait this long for another verify using the same --state-dir/--keep "
                   "directory to finish (default: fail at once)")
    p.add_argument("--load-balancer", action=argparse.BooleanOptionalAction, default=True,
                   help="run the Before/AfterBlockTraffic and Before/AfterAllowTraffic hooks, "
                   "as codedeploy-local and a deployment group with a load balancer do "
                   "(default); --no-load-balancer: the service skips them")
    p.add_argument("--deployment-type", choices=("in-place", "blue-green"), default="in-place",
                   help="blue-green: what one instance of a blue/green deployment runs (see "
                   "--instance)")
    p.add_argument("--instance", choices=("replacement", "original"), default=None,
                   help="with --deployment-type blue-green: a new replacement instance "
                   "(default: the install and the AllowTraffic hooks) or an original one "
                   "(the BlockTraffic hooks of its last successful revision, e.g. --previous)")
    p.add_argument("--image", metavar="PATH",
                   help="the instance's root file system, a directory or a tar/tar.gz of one "
                   "(docker export): hooks run over it and Install is judged against it, not "
                   "this machine's /")
    p.add_argument("--config", metavar="FILE",
                   help="the project's agentkit.yml, for its `verify:` defaults such as the "
                   "image (default: $AGENTKIT_CONFIG, then ./agentkit.yml if there is one)")
    p.add_argument("--no-install", action="store_true", help="checks only; no Install step")
    p.add_argument("--hooks", choices=("sandbox", "host", "skip"), default="sandbox",
                   help="run hook scripts in a sandbox (default), for real, or not at all")
    p.add_argument("--network", action="store_true", help="let sandboxed hooks use the network")
    p.add_argument("--events", metavar="E1,E2", help="run only these lifecycle events "
                   "(DownloadBundle and Install always run, as in codedeploy-local)")
    p.add_argument("--application-name", default="agentkit-verify", metavar="NAME",
                   help="the CodeDeploy application's name: hooks get it as APPLICATION_NAME, "
                   "and it names the agent's deployment root (default agentkit-verify)")
    p.add_argument("--deployment-group-name", default="LocalFleet", metavar="NAME",
                   help="hooks get it as DEPLOYMENT_GROUP_NAME (default LocalFleet, as "
                   "codedeploy-local)")
    p.add_argument("--bundle-location", "--s3", metavar="URL", dest="bundle_location",
                   help="where the revision came from, as codedeploy-local takes it: "
                   "s3://BUCKET/KEY[?versionId=V&etag=E] (hooks get BUNDLE_BUCKET, BUNDLE_KEY, "
                   "BUNDLE_VERSION, BUNDLE_ETAG) or https://github.com/OWNER/REPO, "
                   "https://api.github.com/repos/OWNER/REPO/tarball/COMMIT (BUNDLE_COMMIT); "
                   "ARCHIVE is still the file read")
    p.add_argument("--etag", metavar="ETAG", help="with s3://: the ETag CodeDeploy is given "
                   "(the download must have it, as the agent checks)")
    p.add_argument("--endpoint-url", metavar="URL", help="with s3://: an S3-compatible endpoint "
                   "(default: $AWS_ENDPOINT_URL, else AWS's)")
    p.add_argument("--appspec-filename", default="appspec.yml", metavar="NAME",
                   help="the deployment's appspec file name (default appspec.yml)")
    p.add_argument("--agent-configuration-file", metavar="FILE",
                   help="the agent's codedeployagent.yml: its :root_dir:, :max_revisions: and "
                   ":log_dir: are modelled")
    p.add_argument("--ignore-application-stop-failures", action="store_true",
                   help="the deployment's option: a failing ApplicationStop of the previous "
                   "revision does not fail the deployment")
    p.add_argument("--env-from-caller", action="store_true",
                   help="hooks get this process's environment (default: the agent's)")
    p.add_argument("--max-disk", type=_size, default="4G", metavar="SIZE",
                   help="what sandboxed hooks may write, and scripts.log's limit (default 4G)")
    p.add_argument("--max-procs", type=int, default=1024, metavar="N",
                   help="processes sandboxed hooks may have at once (default 1024)")
    p.add_argument("--max-memory", type=_size, default="2G", metavar="SIZE",
                   help="memory each process of the box may use (default 2G; the total is "
                   "not bounded, a note says so)")
    p.add_argument("--show", action="append", default=[], metavar="DIR",
                   help="show this directory of this machine to the hooks, which the box "
                   "hides by default (homes, TMPDIR, the working directory, CI secret places)")
    p.add_argument("--format", choices=("text", "json", "sarif", "github"), default="text",
                   help="text (default), json, sarif (SARIF 2.1.0, for code scanning) or "
                   "github (workflow commands: annotations on a pull request)")
    p.add_argument("--junit", metavar="FILE", help="also write JUnit XML here")


def _add_hook(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _command(sub, "hook", help="on-instance deployment actions (from hook scripts)")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    for name, text in (("run", "do what agentkit.yml asks for $LIFECYCLE_EVENT"),
                       ("release", "build releases/<id> from staging; swap current; prune"),
                       ("link-shared", "link shared dirs and files into the release"),
                       ("permissions", "fix owners and modes"),
                       ("health", "write (up) or remove (down) the health-check file"),
                       ("validate", "check the service over HTTP, processes and ports"),
                       ("preflight", "check disk, mounts, users and commands")):
        a = actions.add_parser(name, help=text)
        if name == "health":
            a.add_argument("direction", choices=("up", "down"),
                           help="up: write the file the load balancer checks; down: remove it")
        a.add_argument("--config", metavar="FILE",
                       help="agentkit.yml (default: $AGENTKIT_CONFIG, then ./agentkit.yml)")
        a.add_argument("--dry-run", action="store_true", help="print what would change")


def _add_release(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _command(sub, "release", help="the releases on this instance: list, roll back")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    for name, text in (("list", "every release, which is current and which previous"),
                       ("rollback", "point current at the previous release (or --to ID) in "
                        "one rename, then run releases.restart")):
        a = actions.add_parser(name, help=text)
        a.add_argument("--config", metavar="FILE",
                       help="agentkit.yml (default: $AGENTKIT_CONFIG, then ./agentkit.yml)")
        if name == "rollback":
            a.add_argument("--to", metavar="ID", help="the release to make current")


def _add_doctor(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _command(sub, "doctor", help="check this instance for what a deployment needs")
    p.add_argument("--root", default="/", metavar="DIR",
                   help="read the instance's files under DIR (default /)")
    p.add_argument("--config", metavar="FILE", help="the bundle's agentkit.yml (default: the "
                   "newest deployment's)")
    p.add_argument("--imds-endpoint", metavar="URL", help="the instance metadata service "
                   "(default $AWS_EC2_METADATA_SERVICE_ENDPOINT, else 169.254.169.254)")
    p.add_argument("--endpoint", action="append", default=[], metavar="SERVICE=URL",
                   help="codedeploy=URL or s3=URL instead of the region's")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="text (default): one line per check; json: one document")


def _add_explain(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _command(sub, "explain", help="the cause and the fix of a failed deployment, from "
                       "its event log, scripts.log, the agent's log or the API's JSON")
    p.add_argument("file", nargs="?", default="-", metavar="FILE",
                   help="what to explain (default -: standard input)")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="text (default) or JSON: {\"diagnoses\": [...]}")


def _add_push(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _command(sub, "push", help="upload a revision archive to S3 and print the "
                       "create-deployment command for it")
    p.add_argument("archive", metavar="ARCHIVE", help="the .tgz, .tar or .zip to upload")
    p.add_argument("location", metavar="s3://BUCKET/KEY",
                   help="where to upload it (the object is replaced if it exists)")
    p.add_argument("--endpoint-url", metavar="URL",
                   help="an S3-compatible endpoint (default: $AWS_ENDPOINT_URL, else AWS's)")
    p.add_argument("--application-name", metavar="NAME", help="for the printed command")
    p.add_argument("--deployment-group-name", metavar="NAME", help="for the printed command")


def _add_bundle(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _command(sub, "bundle", help="make a reproducible revision archive of a tree")
    p.add_argument("directory", nargs="?", default=".", metavar="DIR",
                   help="the tree holding appspec.yml (default: .)")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="the archive to write")
    p.add_argument("--format", choices=("tgz", "zip"), default="tgz",
                   help="the archive's type (default tgz; zip keeps no owners)")
    p.add_argument("--mtime", type=int, metavar="EPOCH",
                   help="every member's time (default: $SOURCE_DATE_EPOCH, else the last "
                   "commit's)")
    p.add_argument("--allow-external-links", action="store_true",
                   help="keep symlinks that point out of the tree (the agent installs them "
                   "as they are)")
    p.add_argument("--allow-lint-errors", action="store_true",
                   help="package the tree even when lint finds errors in it (by default "
                   "bundle refuses them)")


def _add_image(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _command(sub, "image", help="instance images for verify --image: build, unpack, "
                       "list, remove")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    for name, text in (("unpack", "unpack a tar/tar.gz of an instance's / into the cache now "
                        "(verify --image does it on first use); prints its directory"),
                       ("build", "make an image from a package list with debootstrap "
                        "(as root): a tar.gz for verify --image"),
                       ("list", "the unpacked images, newest first"),
                       ("remove", "remove unpacked images (their files may belong to your "
                        "subordinate ids, which rm -rf cannot remove)")):
        a = actions.add_parser(name, help=text)
        if name != "build":
            a.add_argument("--cache", metavar="DIR", help="default: "
                           "$XDG_CACHE_HOME/agentkit/images (~/.cache/agentkit/images)")
        if name == "unpack":
            a.add_argument("path", metavar="TARBALL",
                           help="a tar or tar.gz of an instance's / (e.g. from docker export)")
        if name == "build":
            a.add_argument("-o", "--output", required=True, metavar="FILE.tar.gz",
                           help="the image to write")
            a.add_argument("--packages", action="append", default=[], metavar="P1,P2",
                           help="the instance's packages (python3 is always added: the "
                           "box's systemctl runs on it)")
            a.add_argument("--distribution", choices=("debian", "ubuntu"), default="debian",
                           help="the instance's distribution (default debian)")
            a.add_argument("--release", metavar="CODENAME",
                           help="default: bookworm for debian, noble for ubuntu")
            a.add_argument("--mirror", metavar="URL",
                           help="default: deb.debian.org or archive.ubuntu.com")
            baked = a.add_mutually_exclusive_group()
            baked.add_argument("--agentkit-package", metavar="FILE.deb",
                               help="bake agentkit in from this .deb (packaging/build-deb.sh, "
                               "built on the image's release) instead of from this checkout "
                               "with packaging/install.sh (the default)")
            baked.add_argument("--no-agentkit", action="store_true",
                               help="an image without agentkit (bundles whose hooks call it "
                               "then fail with exit 127, as on an instance without it)")
        if name == "remove":
            a.add_argument("digests", nargs="*", metavar="SHA256",
                           help="the image's sha256 (a prefix will do), as list shows it")
            a.add_argument("--all", action="store_true", help="every unpacked image")


def _add_init(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _command(sub, "init", help="write agentkit.yml, appspec.yml and the hook shim")
    p.add_argument("directory", nargs="?", default=".", metavar="DIR",
                   help="the project directory to write the files into (default: .)")
    p.add_argument("--destination", default="/var/www/app", metavar="PATH",
                   help="where the bundle is installed on the instance (default /var/www/app)")
    p.add_argument("--force", action="store_true", help="replace files that exist")
    p.add_argument("--dry-run", action="store_true", help="print what would be written")


def _add_rule(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _command(sub, "rule", help="what a finding code means, an example and the fix (the "
                 "code's documentation page)")
    p.add_argument("code", metavar="CODE", help="a finding code as lint, verify and explain "
                   "print it, e.g. AK515")


def _add_appspec(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _command(sub, "appspec", help="appspec.yml from agentkit.yml")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    g = actions.add_parser("generate", help="write appspec.yml from agentkit.yml's deploy:")
    g.add_argument("--config", default="agentkit.yml", metavar="FILE",
                   help="the agentkit.yml to read (default ./agentkit.yml)")
    g.add_argument("-o", "--output", metavar="FILE",
                   help="default: appspec.yml next to the config")
    g.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 when the file differs (CI, pre-commit)")


_RAW = argparse.RawDescriptionHelpFormatter
EXIT_CODES = """exit status:
  0    success (verify: the deployment would succeed; lint: no error)
  1    a problem found (verify: it would fail; an error finding; a failed hook), or bad input
  2    usage error, or an agentkit.yml that does not validate
  3    a bug in agentkit (a crash log is written)
  4    verify: undetermined (hooks could not run here as on an instance, or verify's own
       disk failed), nothing failed
  130, 143, 129  stopped by Ctrl-C, SIGTERM, SIGHUP"""


def _command(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str,
             **kwargs: Any) -> argparse.ArgumentParser:
    """A command's parser: its help ends with the exit status table."""
    return sub.add_parser(name, epilog=EXIT_CODES, formatter_class=_RAW, **kwargs)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentkit",
        description="Checks and hooks for AWS CodeDeploy EC2/on-premises deployments.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"agentkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    _add_lint(sub)
    _add_verify(sub)
    _add_hook(sub)
    _add_release(sub)
    _add_bundle(sub)
    _add_push(sub)
    _add_doctor(sub)
    _add_explain(sub)
    _add_image(sub)
    _add_init(sub)
    _add_appspec(sub)
    _add_rule(sub)
    _end_every_help_with_exit_codes(parser)
    return parser


def _end_every_help_with_exit_codes(parser: argparse.ArgumentParser) -> None:
    """Actions' parsers (`hook run`, `image build`...) end their help with the table too."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                if child.epilog is None:
                    child.epilog = EXIT_CODES
                    child.formatter_class = _RAW
                _end_every_help_with_exit_codes(child)


def _dispatch(args: argparse.Namespace) -> int:
    # Imported here so `agentkit hook ...` does not pay for the linter's imports and vice versa.
    if args.command == "lint":
        from agentkit.commands import lint
        return lint.run(args)
    if args.command == "hook":
        from agentkit.commands import hook
        return hook.run(args)
    if args.command == "release":
        from agentkit.commands import release
        return release.run(args)
    if args.command == "verify":
        from agentkit.commands import verify
        return verify.run(args)
    if args.command == "doctor":
        from agentkit.commands import doctor
        return doctor.run(args)
    if args.command == "explain":
        from agentkit.commands import explain
        return explain.run(args)
    if args.command == "push":
        from agentkit.commands import push
        return push.run(args)
    if args.command == "bundle":
        from agentkit.commands import bundle
        return bundle.run(args)
    if args.command == "image":
        from agentkit.commands import image
        return image.run(args)
    if args.command == "init":
        from agentkit.commands import init
        return init.run(args)
    if args.command == "appspec":
        from agentkit.commands import appspec
        return appspec.run(args)
    if args.command == "rule":
        from agentkit.commands import rule
        return rule.run(args)
    raise AssertionError(f"unhandled command {args.command!r}")


def crash_report(exc: BaseException, argv: Sequence[str]) -> str:
    """What a bug report needs: agentkit's version, the command line, the Python and the
    kernel it ran on, and the traceback."""
    uname = os.uname()
    return (f"agentkit {__version__} crashed\n"
            f"command: {shlex.join(['agentkit', *argv])}\n"
            f"python: {platform.python_implementation()} {platform.python_version()} "
            f"({sys.executable})\n"
            f"kernel: {uname.sysname} {uname.release} {uname.version} {uname.machine}\n\n" +
            "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))


def _crash_log(exc: BaseException, argv: Sequence[str]) -> str:
    fd, path = tempfile.mkstemp(prefix=f"agentkit-crash-{time.strftime('%Y%m%dT%H%M%S')}-",
                                suffix=".log")
    with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as f:
        f.write(crash_report(exc, argv))
    return path


def guarded(func: Callable[[], int], argv: Sequence[str] | None = None) -> int:
    """Run `func`, mapping FatalError to its exit_code (1, or 2 for usage and agentkit.yml),
    Ctrl-C to 130, SIGTERM/SIGHUP to 128 + the signal, and anything else to 3 + a crash log
    (`argv`: the command line it runs, default this process's)."""
    try:
        return func()
    except FatalError as exc:
        print(f"agentkit: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("agentkit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated as exc:
        print(f"agentkit: stopped by signal {exc.signum}", file=sys.stderr)
        return 128 + exc.signum
    except Exception as exc:
        command = sys.argv[1:] if argv is None else argv
        try:
            path = _crash_log(exc, command)
        except OSError as why:  # no writable TMPDIR: the details go to stderr instead
            print(f"agentkit: internal error ({type(exc).__name__}: {exc}); this is a bug in "
                  f"agentkit, not in your input. No crash log could be written "
                  f"({why.strerror}); please attach what follows to a bug report.\n\n" +
                  crash_report(exc, command).rstrip("\n"), file=sys.stderr)
            return EXIT_CRASH
        print(f"agentkit: internal error ({type(exc).__name__}: {exc}); this is a bug in "
              f"agentkit, not in your input. Details were written to {path}; please attach "
              "that file to a bug report.", file=sys.stderr)
        return EXIT_CRASH


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version exit 0, usage errors exit 2
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    return guarded(lambda: _dispatch(args), sys.argv[1:] if argv is None else argv)
