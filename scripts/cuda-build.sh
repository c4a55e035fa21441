#!/usr/bin/env bash
# Builds the openledger binary with candle's CUDA backend (`--features cuda`) on any Linux x86_64
# machine, with or without a GPU or a system CUDA toolkit. Not part of CI.
#   scripts/cuda-build.sh                      # toolkit from PyPI, kernels for sm_90 (H100/H200)
#   CUDA_COMPUTE_CAP=80 scripts/cuda-build.sh  # another GPU generation (A100: 80, L4: 89)
#   CUDA_ROOT=/usr/local/cuda scripts/cuda-build.sh   # a toolkit already installed
#   OPENLEDGER_CUDA_TESTS=1 scripts/cuda-build.sh      # then ol-workers' device tests, with CUDA
# Extra arguments go to `cargo build`. The binary lands in
# ${OPENLEDGER_CUDA_TARGET_DIR:-$HOME/.cache/openledger-target-cuda}/release/openledger, a target
# directory of its own so that the CPU build's cache is not invalidated.
#
# The toolkit. PyPI's `nvidia-cuda-nvcc-cu12` wheels hold only ptxas and libnvvm, not the nvcc
# driver, cudafe++ or cicc (checked for 12.1, 12.4, 12.8 and 12.9), so CUDA 12 kernels cannot be
# compiled from PyPI. The CUDA 13 wheels are a whole compiler: nvcc, nvvm, crt, cccl, the runtime,
# cuBLAS, cuRAND and NVRTC, pinned to 13.0 (the oldest CUDA 13, so the PTX loads on any driver of
# the 580 series or newer). They go into a venv outside the clone ($OPENLEDGER_CUDA_VENV, default
# $HOME/.cache/openledger-cuda); set CUDA_ROOT to use an installed toolkit (12.x or 13.x) instead.
#
# Starting without a GPU. candle 0.11 binds CUDA at link time (candle issue #3900): cudarc's
# `dynamic-linking` puts libcuda, libcublas, libcurand and libnvrtc in the binary's NEEDED list,
# and candle-kernels links libcudart, so a CUDA build would not even start on a host without
# them. This script builds against patched copies of candle-core and candle-kernels (made once
# from the cargo registry, under the venv, and passed with `--config patch...`, the fix of candle
# PR #3916): cudarc loads the libraries with dlopen on first use (`dynamic-loading`), the runtime
# is linked statically (libcudart_static, which opens libcuda.so.1 itself), and `Device::new_cuda`
# returns an error naming the missing libraries instead of cudarc's panic, so the worker pool's
# `resolve_device` falls back to the CPU. To leave the repository's Cargo.lock alone (a patch
# rewrites it) the build runs in a copy of the working tree ($OPENLEDGER_CUDA_VENV/workspace).
#
# At run time on a GPU host the libraries are found through LD_LIBRARY_PATH: the script prints
# the line to use.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${OPENLEDGER_CUDA_VENV:-$HOME/.cache/openledger-cuda}"
TARGET="${OPENLEDGER_CUDA_TARGET_DIR:-$HOME/.cache/openledger-target-cuda}"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"
WHEELS=(
  "nvidia-cuda-nvcc~=13.0.0" "nvidia-nvvm~=13.0.0" "nvidia-cuda-crt~=13.0.0"
  "nvidia-cuda-cccl~=13.0.0" "nvidia-cuda-runtime~=13.0.0" "nvidia-cuda-nvrtc~=13.0.0"
  "nvidia-cublas~=13.0.0" "nvidia-curand~=10.4.0.0"
)
# Bumped whenever the patches below change, so old patched copies are made again.
PATCH_REV=1

# --- the toolkit -------------------------------------------------------------------------------
if [[ -n "${CUDA_ROOT:-}" ]]; then
  [[ -x "$CUDA_ROOT/bin/nvcc" ]] || { echo "CUDA_ROOT=$CUDA_ROOT has no bin/nvcc" >&2; exit 1; }
  echo "==> CUDA toolkit: $CUDA_ROOT (CUDA_ROOT)"
else
  if [[ ! -x "$VENV/bin/python" ]]; then
    echo "==> creating the venv $VENV"
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV"
  fi
  if [[ "$(cat "$VENV/.wheels" 2>/dev/null)" != "${WHEELS[*]}" ]]; then
    echo "==> installing the CUDA 13.0 toolkit wheels into $VENV (about 1 GB)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${WHEELS[@]}"
    echo "${WHEELS[*]}" >"$VENV/.wheels"
  fi
  CUDA_ROOT="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/nvidia/cu13"
  echo "==> CUDA toolkit: $CUDA_ROOT (PyPI wheels)"
fi
CUDA_LIB=""
for sub in lib64 lib targets/x86_64-linux/lib; do
  if [[ -e "$CUDA_ROOT/$sub/libcudart_static.a" ]]; then CUDA_LIB="$CUDA_ROOT/$sub"; break; fi
done
[[ -n "$CUDA_LIB" ]] || { echo "no libcudart_static.a under $CUDA_ROOT" >&2; exit 1; }
export CUDA_ROOT CUDA_PATH="$CUDA_ROOT" CUDA_HOME="$CUDA_ROOT"
export PATH="$CUDA_ROOT/bin:$PATH"
export LD_LIBRARY_PATH="$CUDA_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
nvcc --version | tail -n 2

# --- a copy of the working tree (mtimes kept, so the build stays incremental) ------------------
cd "$ROOT"
STAGE="$VENV/workspace"
echo "==> copying the working tree to $STAGE"
rm -rf "$STAGE"
mkdir -p "$STAGE"
git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do if [[ -e "$f" ]]; then printf '%s\0' "$f"; fi; done \
  | tar --null -T - -cf - | tar -xf - -C "$STAGE"
cd "$STAGE"

# --- patched candle-core and candle-kernels ----------------------------------------------------
cargo fetch --quiet
REGISTRY="${CARGO_HOME:-$HOME/.cargo}/registry/src"
PATCHES="$VENV/patched"
CONFIG=()
for crate in candle-core candle-kernels; do
  version="$(grep -A1 "^name = \"$crate\"$" Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')"
  src="$(ls -d "$REGISTRY"/*/"$crate-$version" | head -n 1)"
  dst="$PATCHES/$crate-$version"
  if [[ "$(cat "$dst/.openledger-patch" 2>/dev/null)" != "$PATCH_REV" ]]; then
    echo "==> patching $crate $version into $dst"
    rm -rf "$dst"
    mkdir -p "$PATCHES"
    cp -a "$src" "$dst"
    case "$crate" in
      candle-core)
        # cudarc: dlopen on first use instead of NEEDED entries.
        grep -q '"dynamic-linking",' "$dst/Cargo.toml"
        sed -i 's/"dynamic-linking",/"dynamic-loading",/' "$dst/Cargo.toml"
        # Device::new_cuda: an error when a library is missing (cudarc's loader panics).
        python3 - "$dst/src/device.rs" <<'EOF'
import sys
path = sys.argv[1]
src = open(path).read()
check = """
/// Added by openledger's scripts/cuda-build.sh: with cudarc's `dynamic-loading` a missing CUDA
/// library is a panic on first use, so the device constructors check for them first.
#[cfg(feature = "cuda")]
fn check_cuda_libraries() -> Result<()> {
    // SAFETY: each call only tries to dlopen the library (and closes it again).
    let found = unsafe {
        [
            ("libcuda (the NVIDIA driver)", cudarc::driver::sys::is_culib_present()),
            ("libcublas", cudarc::cublas::sys::is_culib_present()),
            ("libcublasLt", cudarc::cublaslt::sys::is_culib_present()),
            ("libcurand", cudarc::curand::sys::is_culib_present()),
            ("libnvrtc", cudarc::nvrtc::sys::is_culib_present()),
        ]
    };
    let missing: Vec<&str> = found.iter().filter(|(_, ok)| !ok).map(|(n, _)| *n).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        crate::bail!(
            "CUDA libraries not found: {} (no NVIDIA driver, or the toolkit's lib directory is not on LD_LIBRARY_PATH)",
            missing.join(", ")
        )
    }
}

#[cfg(not(feature = "cuda"))]
fn check_cuda_libraries() -> Result<()> {
    Ok(())
}

impl Device {"""
for old in ["Ok(Self::Cuda(crate::CudaDevice::new(ordinal)?))",
            "Ok(Self::Cuda(crate::CudaDevice::new_with_stream(ordinal)?))"]:
    assert src.count(old) == 1, old
    src = src.replace(old, "check_cuda_libraries()?;\n        " + old)
assert src.count("\nimpl Device {") == 1
src = src.replace("\nimpl Device {", check, 1)
open(path, "w").write(src)
EOF
        ;;
      candle-kernels)
        # The MoE/GGUF kernels' runtime: libcudart_static instead of a NEEDED libcudart.so.
        python3 - "$dst/build.rs" <<'EOF'
import sys
path = sys.argv[1]
src = open(path).read()
old = 'println!("cargo:rustc-link-lib=dylib=cudart");'
assert src.count(old) == 1
new = """// Patched by openledger's scripts/cuda-build.sh: the CUDA runtime is linked statically, so
    // the binary starts without CUDA libraries (libcudart_static opens libcuda.so.1 on first use).
    println!("cargo:rerun-if-env-changed=OPENLEDGER_CUDA_LIB");
    println!("cargo:rustc-link-search=native={}", env::var("OPENLEDGER_CUDA_LIB").expect("OPENLEDGER_CUDA_LIB"));
    println!("cargo:rustc-link-lib=static=cudart_static");
    for lib in ["rt", "dl", "pthread"] {
        println!("cargo:rustc-link-lib=dylib={lib}");
    }"""
open(path, "w").write(src.replace(old, new))
EOF
        ;;
    esac
    echo "$PATCH_REV" >"$dst/.openledger-patch"
  fi
  CONFIG+=(--config "patch.crates-io.$crate.path='$dst'")
done
export OPENLEDGER_CUDA_LIB="$CUDA_LIB"

# --- the build ---------------------------------------------------------------------------------
echo "==> cargo build --release -p openledger --features cuda (sm_$CUDA_COMPUTE_CAP, target $TARGET)"
start=$SECONDS
CARGO_TARGET_DIR="$TARGET" cargo "${CONFIG[@]}" build --release -p openledger --features cuda "$@"
BIN="$TARGET/release/openledger"
echo "==> built $BIN in $((SECONDS - start)) s"
echo "    CUDA libraries it needs to start (none expected):"
readelf -d "$BIN" | grep NEEDED | grep -iE 'cuda|cublas|curand|nvrtc' | sed 's/^/      /' || echo "      none"
"$BIN" --help >/dev/null && echo "    \`openledger --help\` runs on this host"
if [[ "${OPENLEDGER_CUDA_TESTS:-0}" == 1 ]]; then
  # With a GPU `cuda` must open a CUDA device; without one it must fall back to the CPU.
  echo "==> cargo test --release -p ol-workers --features cuda"
  CARGO_TARGET_DIR="$TARGET" cargo "${CONFIG[@]}" test --release -p ol-workers --features cuda
fi
echo "    on a GPU host: LD_LIBRARY_PATH=$CUDA_LIB $BIN serve --inference.device cuda ..."
