#!/usr/bin/env bash
# Installs the Debian packages Vessel needs to build and test, only those missing.
set -euo pipefail
packages=(build-essential cmake pkg-config libgtest-dev libbenchmark-dev libzydis-dev libxbyak-dev
          libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev liburing-dev libseccomp-dev libslirp-dev libglib2.0-dev xz-utils
          busybox-static cpio curl bc gdb)
# `install-deps.sh fuzz`: also clang's libFuzzer runtime for `make fuzz`.
if [ "${1:-}" = fuzz ]; then packages+=(clang libclang-rt-14-dev); fi
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "vessel: installing Debian packages: ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"
