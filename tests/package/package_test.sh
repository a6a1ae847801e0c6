#!/usr/bin/env bash
# The .deb that `make package` builds, checked as an operator would meet it: built by
# cpack from this build tree, its contents and control data read back, installed with
# dpkg into a scratch root, its systemd unit verified, and the installed binary run with
# the settings file the package ships.
# Usage: package_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. Build the package from this tree (the binary is already built: no preinstall build).
(cd "$build" && cpack -G DEB -B "$work/out" >"$work/cpack.log" 2>&1) ||
  { cat "$work/cpack.log" >&2; fail "cpack could not build the package"; }
deb=$(ls "$work"/out/imgbatch_*_*.deb 2>/dev/null | head -n 1)
[ -f "$deb" ] || fail "no imgbatch_VERSION_ARCH.deb in $work/out"

# 2. What it holds.
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$work/contents"
for path in /usr/bin/imgbatch /usr/lib/systemd/system/imgbatch.service /etc/default/imgbatch \
            /usr/share/doc/imgbatch/README.md /usr/share/doc/imgbatch/operations.md \
            /usr/share/doc/imgbatch/configuration.md /usr/share/doc/imgbatch/API.md; do
  grep -qx "$path" "$work/contents" || fail "the package lacks $path"
done
if grep -v -E '^/(usr|etc)/' "$work/contents" | grep -q .; then
  fail "the package installs outside /usr and /etc: $(grep -v -E '^/(usr|etc)/' "$work/contents")"
fi
[ "$(dpkg-deb -f "$deb" Package)" = imgbatch ] || fail "package name is not imgbatch"
dpkg-deb -I "$deb" conffiles | grep -qx /etc/default/imgbatch ||
  fail "/etc/default/imgbatch is not a conffile (an upgrade would overwrite local settings)"

# Every dependency dpkg-shlibdeps found must name a real Debian package (libvips among
# them) that this machine, where the binary runs, has installed or provided.
depends=$(dpkg-deb -f "$deb" Depends)
echo "$depends" | grep -q libvips || fail "Depends lacks libvips: $depends"
dpkg-query -W -f='${db:Status-Abbrev} ${Package} ${Provides}\n' | awk '$1 == "ii"' |
  cut -d' ' -f2- | tr -s ', ' '\n' | sed 's/:.*//; /^(/d; /)$/d' | sort -u >"$work/have"
for dep in $(echo "$depends" | tr ',' '\n' | sed 's/(.*)//; s/|.*//; s/ //g'); do
  grep -qx "$dep" "$work/have" || fail "dependency $dep is not installed or provided here"
done

# 3. Installed into a scratch root by dpkg itself (its own database there; the libraries
# are the host's, hence --force-depends).
root="$work/root"
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
: >"$root/var/lib/dpkg/status"
dpkg --root="$root" --force-depends --force-not-root --log=/dev/null -i "$deb" \
  >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -i failed"; }
dpkg --root="$root" -s imgbatch | grep -qx "Status: install ok installed" ||
  fail "dpkg does not list imgbatch as installed in the scratch root"
version=$("$root/usr/bin/imgbatch" version)
[[ "$version" == "imgbatch "[0-9]* ]] || fail "imgbatch version printed: $version"

# 4. The unit: systemd's own checker, with ExecStart pointed at the installed copy
# (verify checks that the command is executable). Any complaint fails the test.
unit="$root/usr/lib/systemd/system/imgbatch.service"
for directive in DynamicUser=yes StateDirectory=imgbatch ProtectSystem=strict \
                 NoNewPrivileges=yes ProtectHome=yes PrivateTmp=yes CapabilityBoundingSet= \
                 EnvironmentFile=-/etc/default/imgbatch "ExecStart=/usr/bin/imgbatch serve"; do
  grep -qxF "$directive" "$unit" || fail "the unit lacks $directive"
done
sed "s|^ExecStart=/usr/bin/imgbatch|ExecStart=$root/usr/bin/imgbatch|" "$unit" \
  >"$work/imgbatch.service"
if ! systemd-analyze verify "$work/imgbatch.service" >"$work/verify.log" 2>&1 ||
   grep -q . "$work/verify.log"; then
  cat "$work/verify.log" >&2
  fail "systemd-analyze verify found problems in the unit"
fi

# 5. The installed binary serves with the shipped settings (its paths moved from
# /var/lib/imgbatch into the scratch folder, on a free port).
state="$work/state"
mkdir -p "$state"
set -a
# shellcheck disable=SC1090
. <(sed "s|/var/lib/imgbatch|$state|g" "$root/etc/default/imgbatch")
set +a
export IMGBATCH_LISTEN=127.0.0.1:0
(cd "$state" && exec "$root/usr/bin/imgbatch" serve) >"$work/serve.log" 2>&1 &
server_pid=$!
port=
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:0 (port \([0-9]*\)).*/\1/p' "$work/serve.log" | head -n 1)
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$port" ] || { cat "$work/serve.log" >&2; fail "the installed imgbatch did not start"; }
curl -sf "http://127.0.0.1:$port/health" >/dev/null || { cat "$work/serve.log" >&2; fail "GET /health on port $port failed"; }
[ -f "$state/imgbatch.db" ] || fail "the database is not where /etc/default/imgbatch says"
kill -TERM "$server_pid"
wait "$server_pid" || fail "imgbatch serve did not exit 0 on SIGTERM"
server_pid=
echo "package_test: $(basename "$deb") passed"
