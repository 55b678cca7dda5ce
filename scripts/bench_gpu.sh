#!/usr/bin/env bash
# The device checks and the benchmark of the CUDA backend (docs/GPU.md §7); run it on a machine with an
# NVIDIA GPU (compute capability 8.0+). Nothing here is needed, or run, in CI.
#
#   scripts/bench_gpu.sh [-b BUILD_DIR] [-k KODAK_DIR] [-r RUNS] [-o OUT_DIR] [--full] [--no-build] [--memcheck]
#   scripts/bench_gpu.sh --pack DIR [-b BUILD_DIR] [-k KODAK_DIR] [--full]
#
# --pack (on a development machine, no GPU needed) builds BUILD_DIR with LIC_CUDA=ON and copies what a
# bare GPU machine lacks into DIR: the test and CLI binaries, libcodec, the default model, the shared
# libraries they need beyond glibc/CUDA (cmocka, libpng, libjpeg, zlib), and 4 Kodak images (24 with
# --full); the untrained default model is regenerated there by lic-mkmodel. On the GPU machine: scripts/bench_gpu.sh -b DIR/build -k DIR/kodak --no-build.
#
#   1. Builds BUILD_DIR (default build-gpu) with LIC_CUDA=ON unless --no-build or it is built already.
#   2. test_gpu with the device: per-op parity (NMSE per op and precision), whole g_a/h_a/g_s parity
#      (tiny, tiny-deconv, default model; FP32, strict FP32, FP16; tiled vs whole), 8000x6000 under a
#      4 GiB device budget, and the cross-device test (Kodak at q 10/50/90: GPU-encoded streams decode
#      on the CPU to the encoder's symbols and parameters, and the other way round; 4 images, or all
#      24 with --full). Every one of these runs twice: with the fixed-layer context (the default
#      path), then with the op-list executor (the group that sets LIC_GPU_OPLIST=1, docs/GPU.md §9).
#      Then with LIC_GPU_BENCH=RUNS: analysis (g_a, gain, h_a) and synthesis (g_s) per precision on
#      Kodak, median ms and images/s (host copies included), and FP16's PSNR cost.
#  2b. test_gpu_int --device: the integer kernels of the probability path equal the CPU's bit for bit
#      (random/extreme layers, the checkerboard pass, the default model's schedule on a photo), then
#      test_gpu --device again with LIC_GPU_INT=1 (the cross-device test with integer convs on the GPU).
#      --memcheck: test_gpu_int --device once more under compute-sanitizer --tool memcheck.
#   3. lic-eval on Kodak with --backend cuda (also with LIC_GPU_INT=1, and with LIC_GPU_OPLIST=1) and
#      --backend cpu, --time RUNS, q 10,50,90: per-stage times (analysis, hyper, entropy, synthesis)
#      through the public API.
#   4. PyTorch 2.x eager on the same GPU with the same model file (train/lic_model.py): g_a*gain+h_a
#      and g_s in FP32 (TF32 off), TF32 and FP16, median ms and images/s, with and without host copies.
#
# KODAK_DIR: default $LIC_KODAK_DIR, else ../shared/kodak. The model is the library's default one
# (models/default.licw, else BUILD_DIR/models/untrained_default.licw). Output goes to stdout and to
# OUT_DIR (default $OUT when set, else BUILD_DIR/bench-gpu): test_gpu.log, test_gpu_int.log,
# test_gpu_lic_gpu_int.log, eval_{cuda,cuda-int,cuda-oplist,cpu}.json,
# pytorch.json, summary.txt. PYTHON overrides the interpreter of step 4 (default python3).
#
# cuDNN at run time: libcodec carries an rpath to the cuDNN it was built against; when that is
# missing (a build carried to another machine), the script adds the cuDNN of the Python nvidia-cudnn
# wheel (as PyTorch ships it) to LD_LIBRARY_PATH.
set -euo pipefail

usage() { sed -n '2,41s/^# \{0,1\}//p' "$0"; }

build=build-gpu
kodak="${LIC_KODAK_DIR:-../shared/kodak}"
runs=10
out=""
full=0
memcheck=0
do_build=1
pack=""
while (($#)); do
    case "$1" in
        -b) build="$2"; shift 2 ;;
        -k) kodak="$2"; shift 2 ;;
        -r) runs="$2"; shift 2 ;;
        -o) out="$2"; shift 2 ;;
        --full) full=1; shift ;;
        --memcheck) memcheck=1; shift ;;
        --no-build) do_build=0; shift ;;
        --pack) pack="$2"; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "bench_gpu.sh: unknown argument '$1'" >&2; usage >&2; exit 1 ;;
    esac
done
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

if [[ -n "$pack" ]]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DLIC_CUDA=ON >/dev/null
    cmake --build "$build" -j2 --target test_gpu test_gpu_int lic-eval lic-encode lic-decode lic-mkmodel
    rm -rf "$pack" && mkdir -p "$pack/build/bin" "$pack/build/codec" "$pack/lib" "$pack/kodak"
    cp "$build"/bin/{test_gpu,test_gpu_int,lic-eval,lic-encode,lic-decode,lic-mkmodel} "$pack/build/bin/"

    cp -P "$build"/codec/libcodec.so* "$pack/build/codec/"
    # The untrained default model (23 MB) is regenerated there, bit-identical, by lic-mkmodel.
    ldd "$build/bin/test_gpu" "$build/bin/lic-eval" | awk '/=> \// {print $3}' | sort -u |
        grep -E 'libcmocka|libpng|libjpeg|libz\.' | xargs -r -I{} cp -L {} "$pack/lib/"
    n=$((full ? 24 : 4))
    for i in $(seq -f %02g 1 "$n"); do cp "$kodak/kodim$i.png" "$pack/kodak/" 2>/dev/null || true; done
    du -sh "$pack"
    exit 0
fi
out="${out:-${OUT:-$build/bench-gpu}}"
mkdir -p "$out"
summary="$out/summary.txt"
: >"$summary"
say() { echo "$*" | tee -a "$summary"; }

if ((do_build)) && [[ ! -x "$build/bin/test_gpu" ]]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DLIC_CUDA=ON
    cmake --build "$build" -j"$(nproc)" --target test_gpu test_gpu_int lic-eval lic-encode lic-decode
fi
for f in "$build/bin/test_gpu" "$build/bin/lic-eval"; do
    [[ -x "$f" ]] || { echo "bench_gpu.sh: $f not found" >&2; exit 1; }
done

# A packed build: its own libraries first (libcodec's rpath names the build machine's directory).
[[ -d "$build/../lib" ]] && export LD_LIBRARY_PATH="$build/../lib:$build/codec${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if ldd "$build/bin/test_gpu" | grep -q 'libcudnn.so.9 => not found'; then
    d=$(python3 -c 'import nvidia.cudnn, os; print(os.path.join(os.path.dirname(nvidia.cudnn.__file__), "lib"))' \
        2>/dev/null || true)
    [[ -n "$d" && -d "$d" ]] || { echo "bench_gpu.sh: libcudnn.so.9 not found" >&2; exit 1; }
    export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader |
    sed 's/^/gpu: /' | tee -a "$summary"
[[ -d "$kodak" ]] && say "kodak: $kodak" || say "kodak: not found ($kodak): testdata/images/768x512.png instead"

# ---- 2. device tests and transform benchmark ----
export LIC_KODAK_DIR="$kodak"
((full)) && export LIC_GPU_FULL_KODAK=1
set +e
LIC_GPU_BENCH="$runs" "$build/bin/test_gpu" --device 2>&1 | tee "$out/test_gpu.log"
rc=${PIPESTATUS[0]}
set -e
say "test_gpu exit status: $rc"
grep -E '^ *(BENCH|8000x6000|(fixed layers|op lists): 8000x6000)|SKIPPED|FAILED|PASSED|^\[=+\] test_gpu' \
    "$out/test_gpu.log" | tee -a "$summary" || true

# ---- 2b. the integer kernels of the probability path (docs/GPU.md §8) ----
# Device == CPU on random, extreme and worst-case layers, the checkerboard pass, and the default model's
# schedule on a photo; then the cross-device test with the integer convs on the GPU (LIC_GPU_INT=1).
if [[ -x "$build/bin/test_gpu_int" ]]; then
    set +e
    "$build/bin/test_gpu_int" --device 2>&1 | tee "$out/test_gpu_int.log"
    say "test_gpu_int --device exit status: ${PIPESTATUS[0]}"
    LIC_GPU_INT=1 "$build/bin/test_gpu" --device 2>&1 | tee "$out/test_gpu_lic_gpu_int.log"
    say "LIC_GPU_INT=1 test_gpu --device exit status: ${PIPESTATUS[0]}"
    if ((memcheck)); then
        compute-sanitizer --tool memcheck --error-exitcode 1 "$build/bin/test_gpu_int" --device \
            >"$out/test_gpu_int_memcheck.log" 2>&1
        rc=$?
        say "compute-sanitizer memcheck test_gpu_int --device exit status: $rc ($(grep -m1 'ERROR SUMMARY' \
            "$out/test_gpu_int_memcheck.log" || echo 'no summary'))"
    fi
    set -e
    grep -E 'integer convs|SKIPPED|skipped|FAILED' "$out/test_gpu_int.log" "$out/test_gpu_lic_gpu_int.log" | tee -a "$summary" || true
else
    say "test_gpu_int: not built (step 2b skipped)"
fi

# ---- 3. the whole codec through the public API ----
imgs=("$kodak")
[[ -d "$kodak" ]] || imgs=(testdata/images/768x512.png)
# cuda-int: the CUDA backend with the integer convs of the probability path on the GPU too
# (LIC_GPU_INT=1, docs/GPU.md §8): its hyper/entropy times against plain cuda's are their first measure.
# cuda-oplist: the op-list executor (LIC_GPU_OPLIST=1, docs/GPU.md §9) against plain cuda's times.
for run in cuda cuda-int cuda-oplist cpu; do
    be=${run%%-*}
    gpu_int=0 oplist=0
    [[ $run == cuda-int ]] && gpu_int=1
    [[ $run == cuda-oplist ]] && oplist=1
    set +e
    LIC_GPU_INT=$gpu_int LIC_GPU_OPLIST=$oplist "$build/bin/lic-eval" "${imgs[@]}" -q 10,50,90 --backend "$be" \
        --time "$runs" --json "$out/eval_$run.json" 2>&1 | tail -n 12 | tee -a "$summary"
    say "lic-eval --backend $be (LIC_GPU_INT=$gpu_int LIC_GPU_OPLIST=$oplist) exit status: ${PIPESTATUS[0]}"
    set -e
done

# ---- 4. PyTorch eager, same GPU, same model ----
model=models/default.licw
[[ -f "$model" ]] || model="$build/models/untrained_default.licw"
if [[ ! -f "$model" ]]; then
    mkdir -p "$build/models"
    "$build/bin/lic-mkmodel" --preset default -o "$model"
fi
"${PYTHON:-python3}" - "$model" "$runs" "$out/pytorch.json" "${imgs[@]}" <<'EOF' 2>&1 | tee -a "$summary"
import copy, glob, json, os, statistics, sys, time
import numpy as np, torch
from PIL import Image
sys.path.insert(0, "train")
import lic_model

model_path, runs, out_json, srcs = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
files = []
for s in srcs:
    files += sorted(glob.glob(os.path.join(s, "kodim*.png"))) if os.path.isdir(s) else [s]
files = files[:24] if os.environ.get("LIC_GPU_FULL_KODAK") else files[:4]  # as test_gpu
dev = torch.device("cuda")
base = lic_model.LicModel.from_licw(model_path).eval()
q = 50
gain = torch.from_numpy(base.gains(q)).view(1, -1, 1, 1)
res = {"torch": torch.__version__, "gpu": torch.cuda.get_device_name(0), "images": len(files), "runs": runs}

def timed(fn):
    ts = []
    fn()
    for _ in range(runs):
        torch.cuda.synchronize(); t0 = time.perf_counter(); fn(); torch.cuda.synchronize()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)

for mode in ("fp32", "tf32", "fp16"):
    torch.backends.cudnn.allow_tf32 = mode != "fp32"
    torch.backends.cuda.matmul.allow_tf32 = mode != "fp32"
    dt = torch.float16 if mode == "fp16" else torch.float32
    g_a = copy.deepcopy(base.g_a).to(dev, dt); h_a = copy.deepcopy(base.h_a).to(dev, dt)
    g_s = copy.deepcopy(base.g_s).to(dev, dt)
    ga = gain.to(dev, dt)
    t = {"analysis": 0.0, "synthesis": 0.0, "analysis_copies": 0.0, "synthesis_copies": 0.0}
    with torch.inference_mode():
        for f in files:
            xh = lic_model.image_to_tensor(np.asarray(Image.open(f).convert("RGB")))
            x = xh.to(dev, dt)
            y = g_a(x) * ga
            yq = torch.round(y) / ga  # a y-hat-like input of g_s
            t["analysis"] += timed(lambda: h_a(g_a(x) * ga))
            t["synthesis"] += timed(lambda: g_s(yq))
            yh = yq.float().cpu()
            t["analysis_copies"] += timed(lambda: [a.float().cpu() for a in (lambda yy: (yy, h_a(yy)))(g_a(xh.to(dev, dt)) * ga)])
            t["synthesis_copies"] += timed(lambda: g_s(yh.to(dev, dt)).float().cpu())
    n = len(files)
    res[mode] = {k: {"ms": 1e3 * v / n, "img_per_s": n / v} for k, v in t.items()}
    print("BENCH pytorch %-5s images %d: analysis %.3f ms (%.1f img/s; with copies %.3f ms), "
          "synthesis %.3f ms (%.1f img/s; with copies %.3f ms)" % (
              mode, n, res[mode]["analysis"]["ms"], res[mode]["analysis"]["img_per_s"],
              res[mode]["analysis_copies"]["ms"], res[mode]["synthesis"]["ms"],
              res[mode]["synthesis"]["img_per_s"], res[mode]["synthesis_copies"]["ms"]))
json.dump(res, open(out_json, "w"), indent=1)
EOF
say "results in $out"
exit "$rc"
