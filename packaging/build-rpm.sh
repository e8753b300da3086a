#!/bin/sh
# An .rpm carrying agentkit's virtualenv at /opt/agentkit (install.sh's layout) and
# /usr/bin/agentkit (`python3 -I`). Build it on the target (Amazon Linux 2023): the venv is
# tied to that python3's minor version, which the package requires.
#   packaging/build-rpm.sh OUT_DIR [--wheelhouse DIR] [--python PY]
set -eu
out=${1:?usage: build-rpm.sh OUT_DIR [--wheelhouse DIR] [--python PY]}
shift
wheelhouse=
python=python3
while [ $# -gt 0 ]; do
  case $1 in
    --wheelhouse) wheelhouse=${2:?}; shift 2 ;;
    --python) python=${2:?}; shift 2 ;;
    *) echo "build-rpm.sh: unknown argument $1" >&2; exit 1 ;;
  esac
done
here=$(cd "$(dirname "$0")/.." && pwd)
version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$here/agentkit/__init__.py")
pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
final=/opt/agentkit/releases/$version
top=$(mktemp -d)
trap 'rm -rf -- "$top"' EXIT
stage=$top/root

"$python" -m venv "$stage$final"
if [ -n "$wheelhouse" ]; then
  "$stage$final/bin/python" -m pip install -q --no-index --find-links "$wheelhouse" agentkit
else
  "$stage$final/bin/python" -m pip install -q "$here"
fi
grep -rlI -- "$stage" "$stage$final/bin" | while read -r f; do
  sed -i "s|$stage||g" "$f"
done
find "$stage$final" -name '__pycache__' -prune -exec rm -rf {} +
ln -s "releases/$version" "$stage/opt/agentkit/current"
ln -s current/bin "$stage/opt/agentkit/bin"
mkdir -p "$stage/usr/bin"
printf '#!/bin/sh\n# agentkit wrapper (packaging/build-rpm.sh)\nexec /opt/agentkit/current/bin/python -I -m agentkit "$@"\n' \
  > "$stage/usr/bin/agentkit"
chmod 755 "$stage/usr/bin/agentkit"

mkdir -p "$top/SPECS" "$out"
cat > "$top/SPECS/agentkit.spec" <<EOF
Name: agentkit
Version: $version
Release: 1
Summary: Checks and deploy-time hooks for AWS CodeDeploy on EC2
License: Apache-2.0
Requires: python$pyver
AutoReqProv: no
%global __os_install_post %{nil}
%global debug_package %{nil}

%description
agentkit lints and verifies CodeDeploy revision archives and gives the instance its hooks
(shared storage links, permissions, health file, HTTP validation, preflight).

%install
cp -a $stage/. %{buildroot}/

%preun
find /opt/agentkit -name '__pycache__' -prune -exec rm -rf {} + 2>/dev/null || true

%files
/opt/agentkit
/usr/bin/agentkit
EOF
rpmbuild -bb --quiet --define "_topdir $top" --define "_rpmdir $out" \
  --define "_build_name_fmt agentkit-%{VERSION}-%{RELEASE}.%{ARCH}.rpm" \
  "$top/SPECS/agentkit.spec" >/dev/null
find "$out" -name "agentkit-$version-1.*.rpm" | head -n 1
