#!/bin/sh
# A .deb carrying agentkit's virtualenv at /opt/agentkit (the same layout install.sh makes)
# and /usr/bin/agentkit, a wrapper that runs it with `python3 -I`. Build it on the target's
# distribution release: the venv is tied to that python3's minor version (Depends says so).
#   packaging/build-deb.sh OUT_DIR [--wheelhouse DIR] [--python PY]
set -eu
out=${1:?usage: build-deb.sh OUT_DIR [--wheelhouse DIR] [--python PY]}
shift
wheelhouse=
python=python3
while [ $# -gt 0 ]; do
  case $1 in
    --wheelhouse) wheelhouse=${2:?}; shift 2 ;;
    --python) python=${2:?}; shift 2 ;;
    *) echo "build-deb.sh: unknown argument $1" >&2; exit 1 ;;
  esac
done
here=$(cd "$(dirname "$0")/.." && pwd)
version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$here/agentkit/__init__.py")
pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
arch=$(dpkg --print-architecture)
final=/opt/agentkit/releases/$version
stage=$(mktemp -d)
trap 'rm -rf -- "$stage"' EXIT

"$python" -m venv "$stage$final"
if [ -n "$wheelhouse" ]; then
  "$stage$final/bin/python" -m pip install -q --no-index --find-links "$wheelhouse" agentkit
else
  "$stage$final/bin/python" -m pip install -q "$here"
fi
# the venv was built under the staging directory: its scripts name that path; the installed
# package has it at $final (pyvenv.cfg names only the system python, which stays)
grep -rlI -- "$stage" "$stage$final/bin" | while read -r f; do
  sed -i "s|$stage||g" "$f"
done
find "$stage$final" -name '__pycache__' -prune -exec rm -rf {} +
ln -s "releases/$version" "$stage/opt/agentkit/current"
ln -s current/bin "$stage/opt/agentkit/bin"
mkdir -p "$stage/usr/bin" "$stage/DEBIAN"
printf '#!/bin/sh\n# agentkit wrapper (packaging/build-deb.sh)\nexec /opt/agentkit/current/bin/python -I -m agentkit "$@"\n' \
  > "$stage/usr/bin/agentkit"
chmod 755 "$stage/usr/bin/agentkit"
size=$(du -sk "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<EOF
Package: agentkit
Version: $version
Architecture: $arch
Maintainer: agentkit developers <agentkit@localhost>
Installed-Size: $size
Depends: python$pyver
Section: admin
Priority: optional
Description: checks and deploy-time hooks for AWS CodeDeploy on EC2
 agentkit lints and verifies CodeDeploy revision archives and gives the instance its
 hooks (shared storage links, permissions, health file, HTTP validation, preflight).
EOF
# Python writes bytecode next to the modules when it runs as root: remove it with the package
cat > "$stage/DEBIAN/prerm" <<'EOF'
#!/bin/sh
set -e
find /opt/agentkit -name '__pycache__' -prune -exec rm -rf {} + 2>/dev/null || true
EOF
cat > "$stage/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = remove ] || [ "$1" = purge ]; then
  rmdir /opt/agentkit/releases /opt/agentkit 2>/dev/null || true
fi
EOF
chmod 755 "$stage/DEBIAN/prerm" "$stage/DEBIAN/postrm"
mkdir -p "$out"
deb=$out/agentkit_${version}_$arch.deb
dpkg-deb --root-owner-group --build "$stage" "$deb" >/dev/null
echo "$deb"
