#!/bin/sh
# The training relay in one command per leg (docs/MODEL.md §9; train/relay.py does the work).
#
#   train/relay.sh gpu-leg --minutes 8.5 --out "$OUT"   on the GPU machine (`run`, carry the pack that
#                                                       `train/relay.sh next-pack` names)
#   train/relay.sh gpu-bench --out "$OUT"               steps/s, samples/s, TFLOP/s: eager, then compiled
#   train/relay.sh cpu-leg --minutes 60 [--out DIR]     a CPU leg here (niced, all packs)
#   train/relay.sh land DIR [--codec BUILD/bin]         checkpoint into the repo, export, Kodak RD, leg table
#   train/relay.sh next-pack                            the pack the next GPU leg should carry
#   train/relay.sh packs                                build the packs (train/DATA.md)
# Extra arguments go to train/relay.py.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
cmd=${1:?usage: train/relay.sh gpu-leg|gpu-bench|cpu-leg|land|next-pack|packs [args]}
shift
PY=/usr/bin/python3
[ -x "$PY" ] && "$PY" -c "import torch" 2>/dev/null || PY=python3
case "$cmd" in
gpu-leg)
    # checkpoint parts of <= 15 MiB (the machine returns files of <= 16 MiB); no full checkpoint
    # (optimizer moments) in OUT; the leg log is OUT/leg.log
    PYTHONUNBUFFERED=1 exec "$PY" "$HERE/relay.py" leg --device cuda --split-mb 15 --no-full "$@" ;;
gpu-bench)
    PYTHONUNBUFFERED=1 "$PY" "$HERE/relay.py" leg --device cuda --compile none --bench 100 "$@"
    PYTHONUNBUFFERED=1 exec "$PY" "$HERE/relay.py" leg --device cuda --bench 200 --bench-warmup 30 "$@" ;;
cpu-leg)
    # glibc malloc, not jemalloc: jemalloc with decay off (MALLOC_CONF=dirty_decay_ms:-1, the setting
    # of train/run_train.sh) grew this leg by 7-10 MB per step until the OOM killer ended it after
    # 1.6k steps (docs/MODEL.md §10); with decay on it stopped growing but ran 2.4x slower than glibc
    exec nice -n 19 env -u OPENBLAS_CORETYPE OPENBLAS_NUM_THREADS=1 PYTHONUNBUFFERED=1 \
        "$PY" "$HERE/relay.py" leg --device cpu "$@" ;;
land)
    exec "$PY" "$HERE/relay.py" land "$@" ;;
next-pack)
    exec "$PY" "$HERE/relay.py" next-pack "$@" ;;
packs)
    [ -f "$HERE/work/debian/photos.txt" ] || sh "$HERE/fetch_debian_photos.sh" "$HERE/work/debian"
    [ -f "$HERE/work/data/train_320.npy" ] || "$PY" "$HERE/dataset.py" --out "$HERE/work/data" --tile 320 \
        "$HERE/../../shared/train" --list "$HERE/work/debian/photos.txt"
    exec "$PY" "$HERE/packs.py" build --data "$HERE/work/data" --out "$HERE/work/packs" "$@" ;;
*)
    echo "relay.sh: unknown command $cmd" >&2; exit 1 ;;
esac
