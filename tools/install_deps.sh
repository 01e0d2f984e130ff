#!/usr/bin/env bash
# Installs the Debian packages nerve needs, only those missing. `install_deps.sh bench` adds the PyTorch peer.
set -euo pipefail
pkgs=(cmake ninja-build g++ make libgtest-dev libdnnl-dev zlib1g-dev libcli11-dev libzip-dev nlohmann-json3-dev dataset-fashion-mnist
      fortunes libopenmpi-dev openmpi-bin pybind11-dev python3-dev python3-numpy python3-pytest libsentencepiece-dev
      libpng-dev libjpeg-dev)
if [[ "${1:-}" == "bench" ]]; then pkgs+=(python3-torch python3-torchvision libopenblas0-openmp libblis-dev libopenblas-dev); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
echo "install_deps: installing ${missing[*]}"
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
