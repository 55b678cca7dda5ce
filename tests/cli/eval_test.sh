#!/usr/bin/env bash
# End-to-end tests of lic-eval's error handling: output paths checked before the run, every error
# names its image, --keep-going records a failing image in the CSV/JSON and on stderr and goes on,
# and the exit status says that something failed.
#
#   bash tests/cli/eval_test.sh BUILD/bin/lic-eval
#
# Needs testdata/models/tiny.licw (exits 77, ctest: skipped, without it).
set -u

if [ $# -ne 1 ]; then
    echo "usage: $0 LIC_EVAL" >&2
    exit 2
fi
EVAL=$(realpath "$1")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
IMG=$ROOT/testdata/images
MODEL=${LIC_TEST_MODEL:-$ROOT/testdata/models/tiny.licw}
if [ ! -f "$MODEL" ]; then
    echo "SKIP: $MODEL not found"
    exit 77
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/lic-eval-test.XXXXXX")
trap 'rm -rf "$T"' EXIT

# shellcheck source=tests/cli/checks.sh
. "$(dirname "$0")/checks.sh"

# The cap is below the tiny model's estimate for the 16384x16384 header in the set (about 3.4 GB).
M=(--model "$MODEL" --q 20,80 --max-memory 1024)
mkdir "$T/set"
cp "$IMG/17x33.png" "$T/set/a.png"
printf 'not an image\n' >"$T/set/b_broken.png"
cp "$IMG/gray_17x33.png" "$T/set/c.png"
cp "$IMG/huge_16384.png" "$T/set/d_huge.png"

echo "== --help"
expect_rc 0 "lic-eval --help" "$EVAL" --help
for word in "-k, --keep-going" "\"error\" field" "checked before the run" "names it"; do
    expect_true "--help mentions '$word'" grep -q -- "$word" "$T/stdout"
done

echo "== output paths are checked before the run"
expect_rc 2 "--json into a missing directory" "$EVAL" "$T/set/a.png" "${M[@]}" --json "$T/no/such/r.json"
expect_true "nothing was measured (no summary on stdout)" test ! -s "$T/stdout"
expect_true "the message names the path" grep -q "no/such/r.json" "$T/stderr"
expect_rc 2 "--csv is a directory" "$EVAL" "$T/set/a.png" "${M[@]}" --csv "$T/set"
expect_true "nothing was measured" test ! -s "$T/stdout"
expect_rc 1 "--json and --csv the same file" "$EVAL" "$T/set/a.png" "${M[@]}" --json "$T/r.out" --csv "$T/r.out"
expect_rc 1 "--csv is an input image" "$EVAL" "$T/set" "${M[@]}" --csv "$T/set/a.png"
expect_true "the input is untouched" cmp -s "$T/set/a.png" "$IMG/17x33.png"
expect_rc 1 "--json ''" "$EVAL" "$T/set/a.png" "${M[@]}" --json ''

echo "== without --keep-going the first failure stops the run, naming the image"
expect_rc 3 "a folder with a broken image" "$EVAL" "$T/set" "${M[@]}" --json "$T/stop.json" --csv "$T/stop.csv"
expect_true "the error names the image" grep -q "b_broken.png': cannot read it: unrecognized image format" "$T/stderr"
expect_true "no partial outputs" test ! -e "$T/stop.json" -a ! -e "$T/stop.csv"

echo "== --keep-going records failures and goes on"
expect_rc 3 "--keep-going over the folder (exit status of the first failure)" \
    "$EVAL" "$T/set" "${M[@]}" --keep-going --json "$T/k.json" --csv "$T/k.csv"
expect_true "stderr names the broken image" grep -q "b_broken.png': cannot read it" "$T/stderr"
expect_true "stderr names the huge image, its estimate and --max-memory" \
    grep -q "d_huge.png': a 16384x16384 image needs about [0-9]* MB of working memory.*--max-memory" "$T/stderr"
expect_true "stderr counts the failures" grep -q "2 of 4 images failed" "$T/stderr"
expect_true "the summary covers the images that worked" grep -q "^lic-eval: 4 images (2 failed: not in the means)" "$T/stdout"
expect_true "the CSV has an error row for the broken image at each quality" \
    test "$(grep -c '^image,b_broken.png,,,[0-9]*,.*cannot read it' "$T/k.csv")" -eq 2
expect_true "the CSV has an error row for the huge image" grep -q '^image,d_huge.png,.*--max-memory' "$T/k.csv"
expect_true "the CSV has measured rows for a.png and c.png" \
    test "$(grep -Ec '^image,(a|c)\.png,17,33,' "$T/k.csv")" -eq 4
expect_true "the JSON says 2 failed" grep -q '"n_failed": 2' "$T/k.json"
expect_true "the JSON records the broken image's error" grep -q '"name": "b_broken.png", "q": 20, "error": "cannot read it' "$T/k.json"
expect_true "the JSON means count the 2 images that worked" grep -q '{"q": 20, "n": 2, ' "$T/k.json"
if command -v python3 >/dev/null; then
    expect_true "every CSV row has as many fields as the header, and the JSON parses" python3 - "$T/k.csv" "$T/k.json" <<'PY'
import csv, json, sys
rows = list(csv.reader(open(sys.argv[1])))
assert all(len(r) == len(rows[0]) for r in rows), [len(r) for r in rows]
assert rows[0][-1] == "error"
doc = json.load(open(sys.argv[2]))
assert doc["n_failed"] == 2 and len(doc["per_image"]) == 8
PY
else
    echo "SKIP: python3 not found: CSV field counts and JSON syntax not checked"
fi
expect_rc 0 "--keep-going with nothing failing exits 0" "$EVAL" "$T/set/a.png" "$T/set/c.png" "${M[@]}" --keep-going

echo "== --batch: the set once more through the batch API, each result checked against the one-image run"
expect_true "--help mentions --batch" sh -c '"$0" --help | grep -q -- "--batch K"' "$EVAL"
expect_rc 1 "--batch 257" "$EVAL" "$T/set/a.png" "${M[@]}" --batch 257
expect_rc 1 "--batch -1" "$EVAL" "$T/set/a.png" "${M[@]}" --batch -1
expect_rc 0 "--batch 3 with RGB, gray and 1x1 images, one timed pass" \
    "$EVAL" "$T/set/a.png" "$T/set/c.png" "$IMG/1x1.png" "$IMG/768x512.png" "${M[@]}" --threads 2 --batch 3 \
    --time 1 --json "$T/b.json"
expect_true "the summary reports batch and one-at-a-time images/s" \
    grep -q "^batch of 3 in flight: encode [0-9.]* images/s, decode [0-9.]* images/s; one at a time: encode [0-9.]*, decode [0-9.]* images/s (wall clock over 8 image codings)" "$T/stdout"
expect_true "the JSON has the batch figures" grep -q '"batch": {"depth": 3, "images_coded": 8, "enc_images_per_s": [0-9]' "$T/b.json"
expect_rc 3 "--batch 0 --keep-going: the failed images stay out of the batch" \
    "$EVAL" "$T/set" "${M[@]}" --threads 2 --batch 0 --keep-going --json "$T/bk.json"
expect_true "the batch coded the 2 good images at 2 qualities, 2 in flight (--threads 2)" \
    grep -q '"batch": {"depth": 2, "images_coded": 4,' "$T/bk.json"
expect_rc 0 "no --batch: the JSON says null" "$EVAL" "$T/set/a.png" "${M[@]}" --json "$T/nb.json"
expect_true "batch is null" grep -q '"batch": null,' "$T/nb.json"

echo "== $checks checks, $fails failures"
[ "$fails" -eq 0 ]
