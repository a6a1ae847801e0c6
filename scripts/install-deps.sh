#!/usr/bin/env bash
# Installs the Debian packages that building, running and testing imgbatch need, when any
# is missing. Idempotent and quiet when there is nothing to do; CI runs it as root on a
# clean Debian 12 machine.
set -euo pipefail

packages=(
  build-essential cmake make pkg-config git ca-certificates
  librestinio-dev libasio-dev libfmt-dev libspdlog-dev libcli11-dev nlohmann-json3-dev
  libvips-dev libcurl4-openssl-dev libsqlite3-dev libcsv-dev uuid-dev libssl-dev
  libjemalloc-dev libgtest-dev libgmock-dev libbenchmark-dev
  # imaging's raw-plane path scales sizes on libjpeg's YCbCr planes with libswscale:
  # libvips 8.14's horizontal resize is not vectorised (BENCHMARKS.md, "Quality targets").
  libswscale-dev
  clang libclang-rt-14-dev
  # `make format-check` (part of `make test`) and `make lint`: the versions .clang-format
  # and .clang-tidy are written for.
  clang-format-14 clang-tidy-14
  sqlite3 curl
  # make package (cpack's dpkg-shlibdeps) and its test (systemd-analyze verify on the unit).
  dpkg-dev systemd
  libpq-dev postgresql
  # bench/quality_auto's butteraugli (libjxl), the metric quality=auto's SSIM was measured
  # against (BENCHMARKS.md, "Quality targets and sizes").
  libjxl-dev
  # The dashboard's end-to-end test drives this browser headless through playwright-core
  # (installed from npm by the test set-up; it downloads no browser of its own).
  chromium
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# The webhook tests verify our signatures with the reference implementation, the npm
# package standardwebhooks, so they need Node.js and npm. Only Debian's packages are
# added, and only when the commands are missing (a Node installed otherwise is kept).
if ! command -v node >/dev/null 2>&1; then
  missing+=(nodejs npm)
elif ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi

# The S3 tests run a throwaway one-node Ceph cluster with its S3 gateway
# (tests/support/ceph_cluster). Installed apart, without the recommended packages, which
# would pull in much more than the four daemons and tools used (about 67 MB to download).
ceph_packages=(ceph-mon ceph-osd radosgw ceph-common)
missing_ceph=()
for p in "${ceph_packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing_ceph+=("$p")
  fi
done

[ ${#missing[@]} -eq 0 ] && [ ${#missing_ceph[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]} ${missing_ceph[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
# The PostgreSQL tests run a throwaway server of their own (tests/support/postgres_cluster),
# so the package's default cluster, a system service on port 5432, would only run for
# nothing. Only on a first install, and only if nobody configured this already.
if [[ " ${missing[*]} " == *" postgresql "* ]] && [ ! -d /var/lib/postgresql ] &&
   [ ! -e /etc/postgresql-common/createcluster.d/imgbatch.conf ]; then
  $sudo mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" |
    $sudo tee /etc/postgresql-common/createcluster.d/imgbatch.conf >/dev/null
fi
$sudo apt-get update -qq >/dev/null
if [ ${#missing[@]} -gt 0 ]; then
  $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ ${#missing_ceph[@]} -gt 0 ]; then
  $sudo apt-get install -y -qq --no-install-recommends "${missing_ceph[@]}" >/dev/null
fi
