#!/usr/bin/env bash
# End-to-end tests of lic-encode and lic-decode: exit codes, atomic output, stdin/stdout, --info,
# round trips and thread-count determinism.
#
#   bash tests/cli/cli_test.sh BUILD/bin/lic-encode BUILD/bin/lic-decode
#
# Uses testdata/images/ and testdata/models/tiny.licw (small and fast; LIC_TEST_MODEL overrides it). Without the tiny model the
# checks that need no model still run, and the script exits 77 (ctest: skipped) if they pass.
set -u

if [ $# -ne 2 ]; then
    echo "usage: $0 LIC_ENCODE LIC_DECODE" >&2
    exit 2
fi
ENC=$(realpath "$1")
DEC=$(realpath "$2")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
IMG=$ROOT/testdata/images
MODEL=${LIC_TEST_MODEL:-$ROOT/testdata/models/tiny.licw}
T=$(mktemp -d "${TMPDIR:-/tmp}/lic-cli-test.XXXXXX")
trap 'rm -rf "$T"' EXIT

fails=0
checks=0
fail() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}

# expect_rc WANT DESCRIPTION COMMAND...: runs the command (stdout to $T/stdout, stderr to $T/stderr).
expect_rc() {
    local want=$1 desc=$2
    shift 2
    checks=$((checks + 1))
    "$@" >"$T/stdout" 2>"$T/stderr"
    local rc=$?
    if [ "$rc" -ne "$want" ]; then
        fail "$desc: exit $rc, expected $want"
        sed 's/^/    stderr: /' "$T/stderr" | head -5
    else
        echo "ok: $desc (exit $rc)"
    fi
}

# expect_sh WANT DESCRIPTION 'SHELL CODE': same, for pipelines and redirections.
expect_sh() {
    local want=$1 desc=$2 code=$3
    expect_rc "$want" "$desc" bash -c "$code"
}

# expect_true DESCRIPTION COMMAND...: a condition that must hold.
expect_true() {
    local desc=$1
    shift
    checks=$((checks + 1))
    if "$@"; then echo "ok: $desc"; else fail "$desc"; fi
}

sum() { md5sum <"$1" | cut -d' ' -f1; }

# Lists files in a directory, hidden ones included: a leftover temporary file shows up here.
listing() { (cd "$1" && ls -A | sort | tr '\n' ' '); }

# pnm_header FILE: "P6 W H" from the two-line header lic-decode writes.
pnm_header() { head -c 64 "$1" | tr '\n' ' ' | cut -d' ' -f1-3; }

# ---------------------------------------------------------------------------------------------------
echo "== usage errors (1), --help, --version"
expect_rc 1 "encode: no arguments" "$ENC"
expect_rc 1 "decode: no arguments" "$DEC"
expect_rc 1 "encode: unknown option" "$ENC" --bogus "$IMG/1x1.png" -o "$T/x.lic"
expect_rc 1 "encode: unknown short option" "$ENC" -z "$IMG/1x1.png" -o "$T/x.lic"
expect_rc 1 "encode: no -o" "$ENC" "$IMG/1x1.png"
expect_rc 1 "encode: -o without a value" "$ENC" "$IMG/1x1.png" -o
expect_rc 1 "encode: -q 0" "$ENC" "$IMG/1x1.png" -o "$T/x.lic" -q 0
expect_rc 1 "encode: -q 101" "$ENC" "$IMG/1x1.png" -o "$T/x.lic" -q 101
expect_rc 1 "encode: -q abc" "$ENC" "$IMG/1x1.png" -o "$T/x.lic" -q abc
expect_rc 1 "encode: --threads -1" "$ENC" "$IMG/1x1.png" -o "$T/x.lic" --threads -1
expect_rc 1 "encode: --backend foo" "$ENC" "$IMG/1x1.png" -o "$T/x.lic" --backend foo
expect_rc 1 "encode: two inputs" "$ENC" "$IMG/1x1.png" "$IMG/17x33.png" -o "$T/x.lic"
expect_rc 1 "encode: --drop-alpha=1" "$ENC" "$IMG/1x1.png" -o "$T/x.lic" --drop-alpha=1
expect_rc 1 "decode: no -o" "$DEC" "$IMG/1x1.png"
expect_rc 1 "decode: unknown output extension" "$DEC" "$T/x.lic" -o "$T/out.jpg"
expect_rc 1 "decode: --format bogus" "$DEC" "$T/x.lic" -o - --format bogus
expect_rc 1 "decode: --info with -o" "$DEC" "$T/x.lic" --info -o "$T/out.png"
expect_true "usage errors leave no files behind" test -z "$(listing "$T" | sed 's/stderr stdout //')"

expect_rc 0 "encode --help" "$ENC" --help
cp "$T/stdout" "$T/enc_help"
for opt in -o --output -q --quality --model --threads --max-memory --backend --drop-alpha -v --verbose -h --help --version; do
    expect_true "encode --help lists $opt" grep -q -- "$opt\b" "$T/enc_help"
done
expect_rc 0 "decode --help" "$DEC" -h
cp "$T/stdout" "$T/dec_help"
for opt in -o --output --format --info --model --threads --max-memory --backend -v --verbose -h --help --version; do
    expect_true "decode --help lists $opt" grep -q -- "$opt\b" "$T/dec_help"
done
for h in "$T/enc_help" "$T/dec_help"; do
    for code in 0 1 2 3 4 5 6; do
        expect_true "$(basename "$h") documents exit status $code" grep -q "^  $code  " "$h"
    done
done
expect_rc 0 "encode --version" "$ENC" --version
expect_true "--version prints a version" grep -q "lic-encode [0-9]" "$T/stdout"
expect_rc 0 "decode --version" "$DEC" --version

# ---------------------------------------------------------------------------------------------------
echo "== errors that need no model"
expect_rc 2 "encode: missing input" "$ENC" "$T/missing.png" -o "$T/x.lic"
expect_true "message names the file" grep -q "missing.png" "$T/stderr"
expect_rc 2 "decode: missing input" "$DEC" "$T/missing.lic" -o "$T/x.png"
expect_rc 2 "decode --info: missing input" "$DEC" "$T/missing.lic" --info
expect_rc 2 "encode: input is a directory" "$ENC" "$IMG" -o "$T/x.lic"

printf 'this is not an image\n' >"$T/text.png"
: >"$T/empty"
head -c 700 "$IMG/17x33.png" >"$T/cut.png"
printf 'LIC\0garbage garbage garbage' >"$T/garbage.lic"
expect_rc 3 "encode: not an image" "$ENC" "$T/text.png" -o "$T/x.lic"
expect_rc 3 "encode: empty input" "$ENC" "$T/empty" -o "$T/x.lic"
expect_rc 3 "encode: truncated PNG" "$ENC" "$T/cut.png" -o "$T/x.lic"
expect_rc 3 "encode: RGBA PNG without --drop-alpha" "$ENC" "$IMG/rgba_8x8.png" -o "$T/x.lic"
expect_true "alpha message suggests --drop-alpha" grep -q -- "--drop-alpha" "$T/stderr"
expect_true "encode messages start with 'lic-encode: '" grep -q "^lic-encode: " "$T/stderr"
expect_rc 3 "decode: garbage .lic" "$DEC" "$T/garbage.lic" -o "$T/x.png"
expect_true "decode messages start with 'lic-decode: '" grep -q "^lic-decode: " "$T/stderr"
expect_rc 3 "decode: an image is not a .lic" "$DEC" "$IMG/17x33.png" -o "$T/x.png"
expect_rc 3 "decode: empty .lic" "$DEC" "$T/empty" -o "$T/x.png"
expect_rc 3 "decode --info: garbage" "$DEC" "$T/garbage.lic" --info

# A header claiming 20000x20000 exceeds the default 16384 side limit before any data is read.
printf 'P6\n20000 20000\n255\n' >"$T/huge.ppm"
expect_rc 4 "encode: image over the size limit" "$ENC" "$T/huge.ppm" -o "$T/x.lic"

# The existing output survives a failed run, and no temporary file is left.
printf 'precious bytes\n' >"$T/keep.png"
printf 'precious lic\n' >"$T/keep.lic"
before_png=$(sum "$T/keep.png")
before_lic=$(sum "$T/keep.lic")
files_before=$(listing "$T")
expect_rc 3 "decode failure onto an existing file" "$DEC" "$T/garbage.lic" -o "$T/keep.png"
expect_rc 3 "encode failure onto an existing file" "$ENC" "$IMG/rgba_8x8.png" -o "$T/keep.lic"
expect_true "existing .png unchanged" test "$(sum "$T/keep.png")" = "$before_png"
expect_true "existing .lic unchanged" test "$(sum "$T/keep.lic")" = "$before_lic"
expect_true "no temporary files left" test "$(listing "$T")" = "$files_before"

# ---------------------------------------------------------------------------------------------------
if [ ! -f "$MODEL" ]; then
    echo "SKIP: $MODEL not found: model-dependent checks not run ($checks checks, $fails failures)"
    [ "$fails" -eq 0 ] && exit 77
    exit 1
fi
M=(--model "$MODEL")

echo "== model errors (5) and I/O errors (2)"
expect_rc 2 "encode: missing model file" "$ENC" "$IMG/1x1.png" -o "$T/x.lic" --model "$T/missing.licw"
expect_rc 5 "encode: malformed model file" "$ENC" "$IMG/1x1.png" -o "$T/x.lic" --model "$T/text.png"
expect_rc 0 "encode 17x33 with the tiny model" "$ENC" "$IMG/17x33.png" -o "$T/a.lic" "${M[@]}"
expect_rc 5 "decode with another model (the built-in one)" "$DEC" "$T/a.lic" -o "$T/x.png"
expect_rc 2 "encode into a missing directory" "$ENC" "$IMG/17x33.png" -o "$T/no/such/dir/x.lic" "${M[@]}"
expect_rc 2 "decode into a missing directory" "$DEC" "$T/a.lic" -o "$T/no/such/dir/x.png" "${M[@]}"
expect_sh 2 "decode to a full stdout" "'$DEC' '$T/a.lic' -o - --model '$MODEL' >/dev/full"
expect_sh 2 "encode to a full stdout" "'$ENC' '$IMG/17x33.png' -o - --model '$MODEL' >/dev/full"
expect_rc 0 "decode to /dev/null (written in place, not replaced)" "$DEC" "$T/a.lic" -o /dev/null --format png "${M[@]}"
expect_true "/dev/null is still a character device" test -c /dev/null

echo "== memory cap (4) and symbolic links"
expect_rc 4 "encode: --max-memory below the estimate" "$ENC" "$IMG/768x512.png" -o "$T/x.lic" --max-memory 5 "${M[@]}"
expect_rc 0 "encode 768x512 with the default cap" "$ENC" "$IMG/768x512.png" -o "$T/big.lic" "${M[@]}"
expect_rc 4 "decode: --max-memory below the estimate" "$DEC" "$T/big.lic" -o "$T/x.png" --max-memory 5 "${M[@]}"
expect_rc 0 "decode: --max-memory 0 means no cap" "$DEC" "$T/a.lic" -o "$T/x.png" --max-memory 0 "${M[@]}"
echo old >"$T/link_target.png"
ln -sf link_target.png "$T/link.png"
expect_rc 0 "decode through a symbolic link" "$DEC" "$T/a.lic" -o "$T/link.png" "${M[@]}"
expect_true "the link is still a link" test -L "$T/link.png"
expect_true "its target now holds the PNG" cmp -s "$T/link_target.png" "$T/x.png"

echo "== corrupt streams (3)"
size=$(stat -c %s "$T/a.lic")
head -c $((size / 2)) "$T/a.lic" >"$T/half.lic"
head -c 20 "$T/a.lic" >"$T/head20.lic"
expect_rc 3 "decode: .lic cut in half" "$DEC" "$T/half.lic" -o "$T/x.png" "${M[@]}"
expect_rc 3 "decode: .lic cut inside the header" "$DEC" "$T/head20.lic" -o "$T/x.png" "${M[@]}"
expect_rc 3 "decode --info: .lic cut inside the header" "$DEC" "$T/head20.lic" --info
before_png=$(sum "$T/keep.png")
files_before=$(listing "$T")
expect_rc 3 "decode of a truncated stream onto an existing file" "$DEC" "$T/half.lic" -o "$T/keep.png" "${M[@]}"
expect_true "existing file unchanged after a failed decode" test "$(sum "$T/keep.png")" = "$before_png"
expect_true "no temporary files left after a failed decode" test "$(listing "$T")" = "$files_before"

echo "== --info"
expect_rc 0 "--info" "$DEC" "$T/a.lic" --info
for line in "width: 17" "height: 33" "format: rgb8" "quality: 75" "streams: "; do
    expect_true "--info prints '$line'" grep -q "^$line" "$T/stdout"
done
expect_true "--info prints a 16-digit hex fingerprint" grep -Eq "^model_fingerprint: [0-9a-f]{16}$" "$T/stdout"
expect_rc 0 "encode gray at -q 30" "$ENC" "$IMG/gray_17x33.png" -o "$T/g.lic" -q 30 "${M[@]}"
expect_rc 0 "--info of the gray stream" "$DEC" "$T/g.lic" --info
expect_true "--info says gray8" grep -q "^format: gray8" "$T/stdout"
expect_true "--info says quality 30" grep -q "^quality: 30" "$T/stdout"
expect_sh 0 "--info from stdin" "cat '$T/a.lic' | '$DEC' - --info | grep -q 'width: 17'"

echo "== stdin / stdout"
expect_sh 0 "cat img | lic-encode - -o x.lic" "cat '$IMG/17x33.png' | '$ENC' - -o '$T/stdin.lic' --model '$MODEL'"
expect_true "stdin encode = file encode" cmp -s "$T/stdin.lic" "$T/a.lic"
expect_sh 0 "lic-encode img -o - > x.lic" "'$ENC' '$IMG/17x33.png' -o - --model '$MODEL' >'$T/stdout.lic'"
expect_true "stdout encode = file encode" cmp -s "$T/stdout.lic" "$T/a.lic"
expect_sh 0 "lic-decode x.lic -o - > out.png" "'$DEC' '$T/a.lic' -o - --model '$MODEL' >'$T/stdout.png'"
expect_rc 0 "lic-decode x.lic -o out.png" "$DEC" "$T/a.lic" -o "$T/file.png" "${M[@]}"
expect_true "stdout decode = file decode" cmp -s "$T/stdout.png" "$T/file.png"
expect_true "stdout decode is a PNG" test "$(head -c 4 "$T/stdout.png" | tail -c 3)" = "PNG"
expect_sh 0 "cat x.lic | lic-decode - -o - --format ppm" "cat '$T/a.lic' | '$DEC' - -o - --format ppm --model '$MODEL' >'$T/stdout.ppm'"
expect_true "--format ppm gives a 17x33 P6" test "$(pnm_header "$T/stdout.ppm")" = "P6 17 33"

echo "== round trips with the tiny model"
for name in 1x1 17x33 gray_17x33 768x512 16bit_9x7 small; do
    for ext in png jpg ppm pgm; do
        src=$IMG/$name.$ext
        [ -f "$src" ] || continue
        base=$name.$ext
        case "$base" in
        1x1.png) want="P6 1 1" ;;
        17x33.png) want="P6 17 33" ;;
        gray_17x33.png) want="P5 17 33" ;;
        768x512.png) want="P6 768 512" ;;
        16bit_9x7.png) want="P6 9 7" ;;
        small.jpg) want="P6 32 24" ;;
        small.ppm) want="P6 23 19" ;;
        small.pgm) want="P5 23 19" ;;
        esac
        expect_rc 0 "encode $base" "$ENC" "$src" -o "$T/$base.lic" "${M[@]}"
        expect_rc 0 "decode $base to .pnm" "$DEC" "$T/$base.lic" -o "$T/$base.pnm" "${M[@]}"
        expect_true "$base decodes to '$want'" test "$(pnm_header "$T/$base.pnm")" = "$want"
        expect_rc 0 "decode $base to .png" "$DEC" "$T/$base.lic" -o "$T/$base.out.png" "${M[@]}"
        expect_rc 0 "decode $base again" "$DEC" "$T/$base.lic" -o "$T/$base.again.pnm" "${M[@]}"
        expect_true "$base decodes identically twice" cmp -s "$T/$base.pnm" "$T/$base.again.pnm"
    done
done
# Gray decodes to gray PNG (color type 0 at byte 25 of the IHDR), RGB to RGB (2).
expect_true "gray stream decodes to a gray PNG" test "$(od -An -tu1 -j25 -N1 "$T/gray_17x33.png.out.png" | tr -d ' ')" = 0
expect_true "RGB stream decodes to an RGB PNG" test "$(od -An -tu1 -j25 -N1 "$T/17x33.png.out.png" | tr -d ' ')" = 2
expect_rc 0 "decode gray stream to .ppm (expanded)" "$DEC" "$T/gray_17x33.png.lic" -o "$T/g.ppm" "${M[@]}"
expect_true "gray to .ppm gives P6" test "$(pnm_header "$T/g.ppm")" = "P6 17 33"
expect_rc 0 "encode RGBA with --drop-alpha" "$ENC" "$IMG/rgba_8x8.png" -o "$T/rgba.lic" --drop-alpha "${M[@]}"
expect_rc 0 "decode the RGBA-sourced stream" "$DEC" "$T/rgba.lic" -o "$T/rgba.ppm" "${M[@]}"
expect_true "RGBA-sourced stream is 8x8 RGB" test "$(pnm_header "$T/rgba.ppm")" = "P6 8 8"
before_png=$(sum "$T/keep.png")
expect_rc 0 "a successful decode replaces an existing file" "$DEC" "$T/a.lic" -o "$T/keep.png" "${M[@]}"
expect_true "the replaced file is the decoded image" cmp -s "$T/keep.png" "$T/file.png"
expect_true "-v prints bpp" bash -c "'$ENC' '$IMG/17x33.png' -o '$T/v.lic' -v --model '$MODEL' 2>&1 | grep -q bpp"

echo "== determinism across thread counts"
for name in 17x33 768x512; do
    expect_rc 0 "encode $name --threads 1" "$ENC" "$IMG/$name.png" -o "$T/t1.lic" --threads 1 "${M[@]}"
    expect_rc 0 "encode $name --threads 2" "$ENC" "$IMG/$name.png" -o "$T/t2.lic" --threads 2 "${M[@]}"
    expect_true "$name: --threads 1 and 2 give identical bytes" cmp -s "$T/t1.lic" "$T/t2.lic"
    expect_rc 0 "decode $name --threads 1" "$DEC" "$T/t1.lic" -o "$T/t1.ppm" --threads 1 "${M[@]}"
    expect_rc 0 "decode $name --threads 2" "$DEC" "$T/t1.lic" -o "$T/t2.ppm" --threads 2 "${M[@]}"
    expect_true "$name: decoding with 1 and 2 threads gives identical pixels" cmp -s "$T/t1.ppm" "$T/t2.ppm"
done

expect_true "no temporary files left at the end" test -z "$(cd "$T" && ls -A | grep '\.tmp-')"

echo "== $checks checks, $fails failures"
[ "$fails" -eq 0 ]
