#!/bin/sh
# Install agentkit into /opt/agentkit: a virtualenv on the system's python3 (3.9+: Amazon
# Linux 2023, Ubuntu 22.04/24.04), and /usr/local/bin/agentkit, a wrapper that runs it with
# `python3 -I` (no user site, no PYTHONPATH: a hook's environment cannot change agentkit).
#
#   packaging/install.sh [--prefix DIR] [--bin DIR] [--wheelhouse DIR] [--python PY]
#   packaging/install.sh --uninstall [--prefix DIR] [--bin DIR]
#
# Offline (an AMI build without PyPI): packaging/build-wheelhouse.sh makes DIR first.
# Each version goes into DIR/releases/VERSION; DIR/current is swapped to it with one rename
# once it works, so an upgrade that fails leaves the old one in use. A second run of the same
# version changes nothing.
set -eu

prefix=/opt/agentkit
bindir=/usr/local/bin
wheelhouse=
python=${PYTHON:-python3}
uninstall=0
here=$(cd "$(dirname "$0")/.." && pwd)
marker="# agentkit wrapper (packaging/install.sh)"

die() { echo "install.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case $1 in
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --bin) bindir=${2:?--bin needs a directory}; shift 2 ;;
    --wheelhouse) wheelhouse=${2:?--wheelhouse needs a directory}; shift 2 ;;
    --python) python=${2:?--python needs an interpreter}; shift 2 ;;
    --uninstall) uninstall=1; shift ;;
    *) die "unknown argument $1 (see the comment at the top of this script)" ;;
  esac
done

wrapper=$bindir/agentkit

if [ "$uninstall" = 1 ]; then
  if [ -f "$wrapper" ] && grep -qF "$marker" "$wrapper"; then
    rm -f "$wrapper"
  elif [ -e "$wrapper" ]; then
    echo "install.sh: $wrapper is not ours; left as it is" >&2
  fi
  # rm -rf removes the links current and bin, never what they point to
  [ ! -d "$prefix" ] || rm -rf -- "$prefix"
  echo "agentkit removed from $prefix"
  exit 0
fi

command -v "$python" >/dev/null 2>&1 || die "no $python here; install python3 (3.9 or later)"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 9))' ||
  die "$python is $("$python" -V 2>&1); agentkit needs 3.9 or later"
"$python" -c 'import ensurepip, venv' 2>/dev/null ||
  die "$python has no venv module (Debian/Ubuntu: apt-get install python3-venv)"

if [ -n "$wheelhouse" ]; then
  wheel=$(find "$wheelhouse" -maxdepth 1 -name 'agentkit-*.whl' | sort | tail -n 1)
  [ -n "$wheel" ] || die "no agentkit-*.whl in $wheelhouse (packaging/build-wheelhouse.sh)"
  version=$(basename "$wheel" | cut -d- -f2)
  source=$wheel
else
  version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$here/agentkit/__init__.py")
  source=$here
fi
[ -n "$version" ] || die "cannot tell which version $source is"

if [ -x "$prefix/current/bin/python" ] && [ -f "$wrapper" ] && grep -qF "$marker" "$wrapper" &&
   [ "$("$prefix/current/bin/python" -I -m agentkit --version 2>/dev/null)" = "agentkit $version" ]
then
  echo "agentkit $version is installed in $prefix already: nothing changed"
  exit 0
fi

# a venv knows its own path: each install is built where it stays, never over the live one
name=$version-$(date +%Y%m%d%H%M%S)-$$
release=$prefix/releases/$name
mkdir -p "$prefix/releases" "$bindir"
trap 'rm -rf -- "$release"' EXIT
"$python" -m venv "$release"
if [ -n "$wheelhouse" ]; then
  "$release/bin/python" -m pip install -q --no-index --find-links "$wheelhouse" "$wheel"
else
  "$release/bin/python" -m pip install -q "$source"
fi
"$release/bin/python" -I -m agentkit --version >/dev/null || die "$release does not run"
trap - EXIT

# one rename each: `current` and `bin` always point at a complete release
ln -sfn "releases/$name" "$prefix/current.new"
mv -T "$prefix/current.new" "$prefix/current"
ln -sfn current/bin "$prefix/bin.new"
mv -T "$prefix/bin.new" "$prefix/bin"
tmp=$wrapper.new-$$
printf '#!/bin/sh\n%s\nexec %s -I -m agentkit "$@"\n' "$marker" "$prefix/current/bin/python" \
  > "$tmp"
chmod 755 "$tmp"
mv -f "$tmp" "$wrapper"

# keep the release in use and the one before it (names sort by version, then time)
find "$prefix/releases" -mindepth 1 -maxdepth 1 -type d -printf '%T@ %f\n' | sort -rn |
  tail -n +3 | while read -r _ old; do
    [ "$old" = "$name" ] || rm -rf -- "${prefix:?}/releases/$old"
  done
echo "agentkit $version installed in $prefix ($wrapper)"
