#!/bin/sh
# One command from a folder of images to a training run (resumes if WORK/ckpt.pt exists):
#   sh train/run_train.sh IMAGE_DIR [WORK] [extra train.py args...]
# Builds the crop cache WORK/data (once), then trains with the CPU settings that matter here
# (jemalloc, AVX-512 OpenBLAS, 2 threads; docs/MODEL.md). Logs to WORK/train.log.
set -eu
IMG=${1:?usage: run_train.sh IMAGE_DIR [WORK] [train.py args]}
WORK=${2:-train/work}
shift; [ $# -gt 0 ] && shift
HERE=$(dirname "$0")
PY=/usr/bin/python3
[ -f "$WORK/data/train_256.npy" ] || $PY "$HERE/dataset.py" --out "$WORK/data" "$IMG"
exec env -u OPENBLAS_CORETYPE OPENBLAS_NUM_THREADS=1 \
    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 \
    $PY "$HERE/train.py" --data "$WORK/data" --work "$WORK" \
    --config '{"N":64,"M":128,"groups":[16,16,32,64],"C_h":128,"C_cc":64,"C_sp":32,"C_ep":96}' "$@"
