#!/usr/bin/env bash
# Runs bench/device/step-profile, bench:kv, bench:parametric and bench:memory-os (skipped when absent) on whatever
# execution provider this machine has: webgpu when a WebGPU adapter is found, else cuda
# when its provider libraries are installed, else cpu. Logs and the JSON lines go to $OUT
# (the device tool's output folder), or ./bench-device-out here.
# On a bare device machine, carry what bench/device/prepare.sh made:
#   carry: [".device", ".gl", "dist"]   command: bash bench/device/run.sh   (timeout_s 540)
# bench:memory-os (minutes of CPU training before its GPU part) starts first, in the
# background; on a GPU provider bench:kv and bench:memory-os also run on the CPU of the same
# machine (kv-cpu, memory-os-cpu: the same-process-machine baseline), unless CPU_BASELINE=0.
# Options (environment): ENGRAM_BENCH_PROVIDER=cpu|cuda|webgpu (skip detection),
#   KV_ARGS, PARAMETRIC_ARGS, MEMORY_OS_ARGS (extra bench arguments), BENCH_TIMEOUT (s, per bench, default 240),
#   MEMORY_OS_TIMEOUT (s, default 420), CPU_BASELINE (1).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-$PWD/bench-device-out}"
mkdir -p "$OUT"
log() { echo "[device] $*" | tee -a "$OUT/run.log"; }

# Vulkan loader, on a GPU machine only (it unpacks into /, as root; the driver ships the
# ICD). Never on a shared development machine: ENGRAM_UNPACK_GL=1 forces it elsewhere.
gpu_machine=0
if command -v nvidia-smi >/dev/null 2>&1 || [ "${ENGRAM_UNPACK_GL:-0}" = 1 ]; then gpu_machine=1; fi
if [ "$gpu_machine" = 1 ] && ls .gl/*.deb >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && ! ldconfig -p | grep -q libvulkan.so.1; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
  log "unpacked the Vulkan loader from .gl"
fi
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] && [ -z "${VK_DRIVER_FILES:-}" ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi

# Node: the carried binary (the version the benches were built and measured with), else this machine's.
NODE="$(command -v node || true)"
if ls .device/node-*.tgz >/dev/null 2>&1; then
  mkdir -p /tmp/engram-node && tar -xzf .device/node-*.tgz -C /tmp/engram-node && NODE=/tmp/engram-node/bin/node
fi
[ -n "$NODE" ] || { log "no node binary: run bench/device/prepare.sh here and carry .device"; exit 2; }
# node_modules: the carried packages when the tree's own are missing (a dangling link).
if [ ! -d node_modules/onnxruntime-node ] && [ -f .device/node_modules.tgz ]; then
  [ -L node_modules ] && rm -f node_modules
  mkdir -p node_modules && tar -xzf .device/node_modules.tgz -C node_modules
  log "unpacked node_modules from .device"
fi
[ -f dist/bench/kv.bench.js ] || { log "no dist/: run npm run build (or prepare.sh) and carry dist"; exit 2; }
log "node $("$NODE" --version) on $(uname -m); $(nproc) cores; $(command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | head -1 || echo 'no nvidia-smi')"

provider="${ENGRAM_BENCH_PROVIDER:-}"
if [ -z "$provider" ]; then
  for p in webgpu cuda; do
    if "$NODE" dist/bench/device/probe-provider.js "$p" 2>>"$OUT/probe.err" | tee -a "$OUT/run.log" | grep -q ': ok'; then provider="$p"; break; fi
  done
  provider="${provider:-cpu}"
fi
log "provider: $provider"
if [ "$provider" = cpu ] && [ "$gpu_machine" = 1 ]; then
  log "no GPU provider on a GPU machine; Vulkan ICDs: $(ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d 2>&1 | tr '\n' ' ')"
  tail -5 "$OUT/probe.err" | tee -a "$OUT/run.log"
fi

run_bench() { # name timeout provider script args...
  local name="$1" limit="$2" prov="$3" script="$4"; shift 4
  if [ ! -f "$script" ]; then log "$name: $script not present: skipped"; return 0; fi
  log "$name: start ($prov)"
  local t0=$SECONDS
  timeout "$limit" "$NODE" "$script" --provider "$prov" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  local result
  result="$(grep '^{' "$OUT/$name.log" | tail -1)"
  printf '{"run":"%s","exit":%d,"seconds":%d,"result":%s}\n' "$name" "$rc" "$((SECONDS - t0))" "${result:-null}" >"$OUT/$name.jsonl"
  log "$name: exit $rc after $((SECONDS - t0)) s"
}
baseline=0
if [ "$provider" != cpu ] && [ "${CPU_BASELINE:-1}" = 1 ]; then baseline=1; fi
pids=()
# shellcheck disable=SC2086
run_bench memory-os "${MEMORY_OS_TIMEOUT:-420}" "$provider" dist/bench/memory-os.bench.js ${MEMORY_OS_ARGS:-} &
pids+=($!)
if [ "$baseline" = 1 ]; then
  # shellcheck disable=SC2086
  run_bench memory-os-cpu "${MEMORY_OS_TIMEOUT:-420}" cpu dist/bench/memory-os.bench.js ${MEMORY_OS_ARGS:-} &
  pids+=($!)
fi
# Kernels per decode step and step times, both attention forms, the provider against the CPU (ADR 0406, 0407).
run_bench step-profile "${STEP_PROFILE_TIMEOUT:-120}" "$provider" dist/bench/device/step-profile.js
# shellcheck disable=SC2086
run_bench kv "${BENCH_TIMEOUT:-240}" "$provider" dist/bench/kv.bench.js ${KV_ARGS:---reps 5 --sizes 256,1024,4096}
if [ "$baseline" = 1 ]; then
  # shellcheck disable=SC2086
  run_bench kv-cpu "${BENCH_TIMEOUT:-240}" cpu dist/bench/kv.bench.js ${KV_ARGS:---reps 5 --sizes 256,1024,4096}
fi
# shellcheck disable=SC2086
run_bench parametric "${BENCH_TIMEOUT:-240}" "$provider" dist/bench/parametric.bench.js ${PARAMETRIC_ARGS:-}
wait "${pids[@]}"
# One file for all results: the device tool brings back at most 8 files.
runs=(step-profile kv kv-cpu parametric memory-os memory-os-cpu)
for r in "${runs[@]}"; do cat "$OUT/$r.jsonl" 2>/dev/null; rm -f "$OUT/$r.jsonl"; done >"$OUT/summary.jsonl"
# The probe's stderr only matters when no GPU provider was found (the 8-file limit again).
if [ "$provider" != cpu ]; then rm -f "$OUT/probe.err"; fi
log "done: $(wc -l <"$OUT/summary.jsonl") JSON lines in $OUT/summary.jsonl"
