#!/usr/bin/env bash
# Per-stage CPU timing of the C codec against the PyTorch reference of the same model, same image,
# same thread count, side by side.
#
#   scripts/bench_cpu.sh BUILD_DIR MODEL.licw IMAGE [-t "1 2"] [-r RUNS] [-q Q] [--plain]
#
# For each thread count T: one warm-up, then RUNS runs each of
#   BUILD_DIR/bin/lic-encode IMAGE -o tmp.lic --model MODEL -q Q --threads T -v
#   BUILD_DIR/bin/lic-decode tmp.lic -o tmp.png --model MODEL --threads T -v
# and scripts/bench_pytorch.py MODEL IMAGE --threads T --runs RUNS --hash; prints the median stage
# times and the PyTorch/C ratios, a conformance check (the encoder's symbol count, and its
# symbols_hash / params_hash when -v prints them, against PyTorch's), then one JSON line per T.
#
# Assumptions about the C tools' -v output (parsed leniently): stage times appear as
# "<stage> <seconds>" or "<stage>: <seconds> s" for stage in analysis/hyper/entropy/synthesis, e.g.
#   lic-encode: backend cpu; time 0.019 s: analysis 0.010, hyper 0.000, entropy 0.008, synthesis 0.000
# The encoder's analysis/hyper/entropy and the decoder's hyper/entropy/synthesis are used (each CLI
# run is a fresh process, so C times include first-touch page faults that PyTorch's warm runs do not;
# C entropy includes arithmetic coding, PyTorch's does not). The raw -v lines of the first run are
# printed too.
#
# PyTorch runs with the CPU speedups of docs/MODEL.md ("CPU settings") unless --plain: jemalloc preloaded (when
# installed), MALLOC_CONF without decay, OPENBLAS_NUM_THREADS=1, OPENBLAS_CORETYPE unset. Set
# PYTORCH_BLAS_DIR to a directory holding an OpenBLAS libblas.so.3 to use it instead of the
# system's (Debian's netlib libblas.so.3 makes the integer path several times slower). What was
# used is printed. PYTHON overrides the interpreter (default: one that imports torch).
set -euo pipefail

usage() { sed -n '2,26s/^# \{0,1\}//p' "$0"; }

threads="1"
runs=5
quality=75
plain=0
pos=()
while (($#)); do
    case "$1" in
        -t | --threads) threads="$2"; shift 2 ;;
        -r | --runs) runs="$2"; shift 2 ;;
        -q | --quality) quality="$2"; shift 2 ;;
        --plain) plain=1; shift ;;
        -h | --help) usage; exit 0 ;;
        -*) echo "bench_cpu.sh: unknown option '$1'" >&2; usage >&2; exit 1 ;;
        *) pos+=("$1"); shift ;;
    esac
done
if ((${#pos[@]} != 3)); then
    usage >&2
    exit 1
fi
build="${pos[0]}" model="${pos[1]}" image="${pos[2]}"
enc="$build/bin/lic-encode" dec="$build/bin/lic-decode"
here="$(cd "$(dirname "$0")" && pwd)"
for f in "$enc" "$dec"; do
    [[ -x "$f" ]] || { echo "bench_cpu.sh: $f not found (build the lic-encode and lic-decode targets)" >&2; exit 1; }
done
for f in "$model" "$image"; do
    [[ -r "$f" ]] || { echo "bench_cpu.sh: cannot read $f" >&2; exit 1; }
done

if [[ -z "${PYTHON:-}" ]]; then
    for p in /usr/bin/python3 python3; do
        if "$p" -c 'import torch, numpy, PIL' 2>/dev/null; then PYTHON="$p"; break; fi
    done
fi
if [[ -z "${PYTHON:-}" ]]; then
    echo "bench_cpu.sh: no python3 with torch, numpy and PIL (scripts/setup.sh --with-python)" >&2
    exit 1
fi

# Environment of the PyTorch runs.
py_env=()
if ((!plain)); then
    jem=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
    [[ -r "$jem" ]] && py_env+=("LD_PRELOAD=$jem" "MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1")
    py_env+=("OPENBLAS_NUM_THREADS=1")
    [[ -n "${PYTORCH_BLAS_DIR:-}" ]] && py_env+=("LD_LIBRARY_PATH=$PYTORCH_BLAS_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

for t in $threads; do
    : >"$tmp/enc.log"
    : >"$tmp/dec.log"
    # Warm-up (page cache, CPU clocks); a failure here stops the script with the tool's message.
    if ! "$enc" "$image" -o "$tmp/o.lic" --model "$model" -q "$quality" --threads "$t" 2>"$tmp/err" >/dev/null ||
        ! "$dec" "$tmp/o.lic" -o "$tmp/o.png" --model "$model" --threads "$t" 2>"$tmp/err" >/dev/null; then
        cat "$tmp/err" >&2
        exit 1
    fi
    for ((i = 0; i < runs; i++)); do
        "$enc" "$image" -o "$tmp/o.lic" --model "$model" -q "$quality" --threads "$t" -v >>"$tmp/enc.log" 2>&1
        echo "@@run" >>"$tmp/enc.log"
        "$dec" "$tmp/o.lic" -o "$tmp/o.png" --model "$model" --threads "$t" -v >>"$tmp/dec.log" 2>&1
        echo "@@run" >>"$tmp/dec.log"
    done
    py_args=("$here/bench_pytorch.py" "$model" "$image" --threads "$t" --runs "$runs" -q "$quality" --hash --json-only)
    if ((plain)); then
        "$PYTHON" "${py_args[@]}" >"$tmp/py.json"
    else
        env -u OPENBLAS_CORETYPE "${py_env[@]}" "$PYTHON" "${py_args[@]}" >"$tmp/py.json"
    fi
    "$PYTHON" - "$tmp" "$t" "$runs" <<'EOF'
import json, re, statistics, sys
tmp, threads, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
STAGES = ("analysis", "hyper", "entropy", "synthesis")
pat = re.compile(r"\b(analysis|hyper|entropy|synthesis)\b\s*[:=]?\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s)?\b")

def parse(path):
    runs, cur = [], {}
    for line in open(path, errors="replace"):
        if line.startswith("@@run"):
            runs.append(cur)
            cur = {}
            continue
        for stage, v, unit in pat.findall(line):
            cur[stage] = float(v) / (1000.0 if unit == "ms" else 1.0)
    med = {s: statistics.median([r[s] for r in runs if s in r]) for s in STAGES if any(s in r for r in runs)}
    raw = [l.rstrip() for l in open(path, errors="replace")]
    tail = raw[:raw.index("@@run")] if "@@run" in raw else raw
    return med, tail

enc, enc_raw = parse(tmp + "/enc.log")
dec, dec_raw = parse(tmp + "/dec.log")
py = json.load(open(tmp + "/py.json"))
pm = py["median_s"]
# Which C number each PyTorch stage is compared with.
c_ref = {"analysis": enc.get("analysis"), "hyper": enc.get("hyper"), "entropy": enc.get("entropy"),
         "synthesis": dec.get("synthesis")}
env = py["env"]
print("== %s, %s, %dx%d, q=%d, %d thread(s), median of %d runs ==" % (py["model"], py["image"], py["width"],
      py["height"], py["quality"], threads, runs))
print("PyTorch env: jemalloc %s, BLAS %s, OPENBLAS_NUM_THREADS=%s, OPENBLAS_CORETYPE=%s" % (
      "yes" if env["jemalloc"] else "no", env["blas"], env["OPENBLAS_NUM_THREADS"] or "unset",
      env["OPENBLAS_CORETYPE"] or "unset"))
fmt = lambda v: "%9.4f" % v if v is not None else "%9s" % "-"
print("%-10s %9s %9s %9s %9s" % ("stage", "C enc s", "C dec s", "torch s", "torch/C"))
for s in STAGES:
    r = pm[s] / c_ref[s] if c_ref.get(s) else None
    print("%-10s %s %s %s %9s%s" % (s, fmt(enc.get(s)), fmt(dec.get(s)), fmt(pm[s]),
          "%.2fx" % r if r else "-", "  (torch: no arithmetic coding)" if s == "entropy" else ""))
c_sum = sum(v for v in c_ref.values() if v is not None)
print("%-10s %9s %9s %9.4f %9s" % ("sum", "", "", sum(pm.values()), "%.2fx" % (sum(pm.values()) / c_sum) if c_sum else "-"))
# Conformance: the C encoder's symbol count (and its stream hashes, if -v prints them) against the
# PyTorch pipeline's. Equal hashes mean identical symbols, means and scale indexes.
enc_text = "\n".join(enc_raw)
checks = {}
m = re.search(r"\b([0-9]+) symbols\b", enc_text)
checks["n_symbols"] = (int(m.group(1)) if m else None, py.get("n_symbols"))
for key in ("symbols_hash", "params_hash"):
    m = re.search(key.replace("_", "[_ ]") + r"\W+(?:0x)?([0-9a-fA-F]{16})", enc_text)
    checks[key] = (m.group(1).lower() if m else None, py.get(key))
for key, (c, t) in checks.items():
    print("conformance %-12s C %-18s torch %-18s %s" % (key, c, t, "-" if c is None else "match" if c == t else "MISMATCH"))
print("C -v output (first run):")
for l in enc_raw + dec_raw:
    print("  " + l)
print(json.dumps({"tool": "bench_cpu", "threads": threads, "runs": runs, "model": py["model"], "image": py["image"],
                  "c_encode_s": enc, "c_decode_s": dec, "pytorch_s": pm, "pytorch_env": env,
                  "conformance": {k: {"c": c, "pytorch": t} for k, (c, t) in checks.items()},
                  "ratio_pytorch_over_c": {s: round(pm[s] / c_ref[s], 3) for s in STAGES if c_ref.get(s)}},
                 sort_keys=True))
EOF
done
