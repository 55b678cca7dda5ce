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

# shellcheck source=tests/cli/checks.sh
. "$(dirname "$0")/checks.sh"

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
for opt in -o --output -q --quality --model --threads --max-memory --backend --drop-alpha --strip -v --verbose -h --help --version; do
    expect_true "encode --help lists $opt" grep -q -- "$opt\b" "$T/enc_help"
done
expect_rc 0 "decode --help" "$DEC" -h
cp "$T/stdout" "$T/dec_help"
for opt in -o --output --format --info --strip --model --threads --max-memory --backend -v --verbose -h --help --version; do
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
# The help tells the truth about inputs, metadata and outputs (each claim is tested below).
for word in "P2" "P3" "end-of-image" "16-bit" "ICC profile" "orientation" "/dev/stdout" "not be the input" \
    "permissions" "before its pixels"; do
    expect_true "encode --help mentions '$word'" grep -q -- "$word" "$T/enc_help"
done
for word in "not a .lic file" "/dev/stdout" "not be the input" "permissions" "before anything is decoded"; do
    expect_true "decode --help mentions '$word'" grep -q -- "$word" "$T/dec_help"
done

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

# A header claiming 70000x70000 exceeds the default 65535 side limit before any data is read.
printf 'P6\n70000 70000\n255\n' >"$T/huge.ppm"
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
echo "== the input is never the output (1, before any work)"
mkdir -p "$T/same"
cp "$IMG/17x33.png" "$T/same/in.png"
ln -s in.png "$T/same/sym.png"
ln "$T/same/in.png" "$T/same/hard.png"
in_sum=$(sum "$T/same/in.png")
expect_rc 1 "encode: -o the input" "$ENC" "$T/same/in.png" -o "$T/same/in.png"
expect_true "the message says it is the input" grep -q "is the input file" "$T/stderr"
expect_rc 1 "encode: -o a symbolic link to the input" "$ENC" "$T/same/in.png" -o "$T/same/sym.png"
expect_rc 1 "encode: -o a hard link to the input" "$ENC" "$T/same/in.png" -o "$T/same/hard.png"
expect_rc 1 "encode: input through a link, -o the file" "$ENC" "$T/same/sym.png" -o "$T/same/in.png"
expect_sh 1 "encode: stdin is the -o file" "'$ENC' - -o '$T/same/in.png' <'$T/same/in.png'"
expect_true "the input is unchanged" test "$(sum "$T/same/in.png")" = "$in_sum"
printf 'LIC-not-really\n' >"$T/same/x.png"
expect_rc 1 "decode: a .lic named .png onto itself" "$DEC" "$T/same/x.png" -o "$T/same/x.png"
expect_true "it is unchanged" test "$(cat "$T/same/x.png")" = "LIC-not-really"
expect_true "no temporary files left" test "$(listing "$T/same")" = "hard.png in.png sym.png x.png "
expect_rc 1 "encode: -o ''" "$ENC" "$IMG/1x1.png" -o ''
expect_true "the message says the name is empty" grep -q "empty" "$T/stderr"
expect_rc 1 "decode: -o ''" "$DEC" "$T/same/x.png" -o ''
expect_rc 1 "encode: input ''" "$ENC" '' -o "$T/x.lic"
expect_rc 2 "encode: -o a directory, before any work" "$ENC" "$IMG/1x1.png" -o "$T/same" --model "$T/missing.licw"
expect_true "the message says it is a directory" grep -q "directory" "$T/stderr"

echo "== messages that say what happened and what to do"
printf 'this is not an image\n' >"$T/notlic.txt"
expect_rc 3 "decode: a PNG is not a .lic" "$DEC" "$IMG/17x33.png" -o "$T/x.png"
expect_true "it says 'not a .lic file' and that it is a PNG" grep -q "not a .lic file: it is a PNG image" "$T/stderr"
expect_rc 3 "decode --info: a text file is not a .lic" "$DEC" "$T/notlic.txt" --info
expect_true "it says 'not a .lic file'" grep -q "'.*notlic.txt' is not a .lic file" "$T/stderr"
expect_rc 2 "encode: missing --model" "$ENC" "$IMG/1x1.png" -o "$T/x.lic" --model "$T/missing.licw"
expect_true "it names the model and the OS reason" grep -q "missing.licw': No such file or directory" "$T/stderr"
expect_rc 2 "encode: a directory as --model" "$ENC" "$IMG/1x1.png" -o "$T/x.lic" --model "$IMG"
expect_true "it says the model is a directory" grep -q "images': it is a directory" "$T/stderr"
expect_rc 4 "encode: a 70000x70000 header" "$ENC" "$T/huge.ppm" -o "$T/x.lic"
expect_true "it names the side limit and says no option lifts it" \
    grep -q "a 70000x70000 image: its longer side, 70000 pixels, is above lic's limit of 65535 pixels (no option" "$T/stderr"

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
expect_rc 0 "encode 768x512 with the default cap" "$ENC" "$IMG/768x512.png" -o "$T/big.lic" "${M[@]}"
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

echo "== size limits decided from the header, with the estimate and the flag that lifts it"
expect_rc 4 "encode: --max-memory below the estimate" "$ENC" "$IMG/768x512.png" -o "$T/x.lic" --max-memory 2 "${M[@]}"
expect_true "the message gives the estimate, the limit and the flag" \
    grep -Eq "a 768x512 image needs about [0-9]+ MB of working memory, more than the limit of 2 MB.*--max-memory [0-9]+" "$T/stderr"
need=$(grep -Eo -- "--max-memory [0-9]+" "$T/stderr" | head -1 | cut -d' ' -f2)
expect_rc 0 "encode with the --max-memory the message suggests ($need)" "$ENC" "$IMG/768x512.png" -o "$T/x.lic" --max-memory "$need" "${M[@]}"
expect_rc 4 "decode: --max-memory below the estimate" "$DEC" "$T/x.lic" -o "$T/x.png" --max-memory 2 "${M[@]}"
expect_true "the decode message gives the estimate and the flag" grep -q "more than the limit of 2 MB.*--max-memory" "$T/stderr"
dneed=$(grep -Eo -- "--max-memory [0-9]+" "$T/stderr" | head -1 | cut -d' ' -f2)
expect_rc 0 "decode with the --max-memory the message suggests ($dneed)" "$DEC" "$T/x.lic" -o "$T/x.png" --max-memory "$dneed" "${M[@]}"
# The huge_16384 files hold only headers: reading their pixels would fail (3), so 4 proves the
# refusal came from the header; a 16384x16384 image needs more than 1024 MB (about 2.4 GB with the
# default model, under the default cap of 4096 MB since the tiles work on the 8-bit pixels).
for f in huge_16384.png huge_16384.jpg; do
    expect_rc 4 "encode $f: refused from its header" "$ENC" "$IMG/$f" -o "$T/x.lic" --max-memory 1024
    expect_true "$f: the message names the memory limit and --max-memory" \
        grep -q "a 16384x16384 image needs about [0-9]* MB of working memory, more than the limit of 1024 MB.*--max-memory" "$T/stderr"
done
printf 'P6\n16384 16384\n255\n' >"$T/huge16k.ppm"
expect_rc 4 "encode a PPM header of 16384x16384 (no samples): refused from its header" "$ENC" "$T/huge16k.ppm" -o "$T/x.lic" --max-memory 1024
expect_true "the message names the memory limit and --max-memory" grep -q "a 16384x16384 image needs about.*--max-memory" "$T/stderr"
expect_rc 3 "encode huge_16384.png without a cap: then its missing pixels are read (3)" \
    "$ENC" "$IMG/huge_16384.png" -o "$T/x.lic" --max-memory 0 "${M[@]}"

echo "== outputs: mode kept, long names, /dev/stdout, pipes, unwritable targets"
expect_rc 0 "encode 17x33" "$ENC" "$IMG/17x33.png" -o "$T/ref.lic" "${M[@]}"
printf 'old\n' >"$T/mode.lic"
chmod 0640 "$T/mode.lic"
expect_rc 0 "encode over an existing 0640 file" "$ENC" "$IMG/17x33.png" -o "$T/mode.lic" "${M[@]}"
expect_true "its mode is still 0640" test "$(stat -c %a "$T/mode.lic")" = 640
expect_true "and it holds the new stream" cmp -s "$T/mode.lic" "$T/ref.lic"
long=$(printf 'n%.0s' $(seq 1 251)).lic
expect_rc 0 "encode to a 255-byte name" "$ENC" "$IMG/17x33.png" -o "$T/$long" "${M[@]}"
expect_true "the 255-byte file holds the stream" cmp -s "$T/$long" "$T/ref.lic"
expect_rc 0 "encode over the existing 255-byte name" "$ENC" "$IMG/17x33.png" -o "$T/$long" "${M[@]}"
long_png=$(printf 'n%.0s' $(seq 1 251)).png
expect_rc 0 "decode to a 255-byte name" "$DEC" "$T/ref.lic" -o "$T/$long_png" "${M[@]}"
rm -f "$T/$long" "$T/$long_png"
expect_sh 0 "encode -o /dev/stdout into a pipe" "'$ENC' '$IMG/17x33.png' -o /dev/stdout --model '$MODEL' | cat >'$T/pipe.lic'"
expect_true "the piped stream is the file's" cmp -s "$T/pipe.lic" "$T/ref.lic"
expect_sh 0 "decode -o /dev/stdout into a pipe (PNG)" "'$DEC' '$T/ref.lic' -o /dev/stdout --model '$MODEL' | cat >'$T/pipe.png'"
expect_rc 0 "decode the same to a file" "$DEC" "$T/ref.lic" -o "$T/ref.png" "${M[@]}"
expect_true "the piped PNG is the file's" cmp -s "$T/pipe.png" "$T/ref.png"
if mkfifo "$T/fifo" 2>/dev/null; then
    cat "$T/fifo" >"$T/fifo.lic" &
    reader=$!
    expect_rc 0 "encode into a FIFO (written in place)" "$ENC" "$IMG/17x33.png" -o "$T/fifo" "${M[@]}"
    wait "$reader"
    expect_true "the FIFO carried the stream" cmp -s "$T/fifo.lic" "$T/ref.lic"
    expect_true "the FIFO is still a FIFO" test -p "$T/fifo"
    rm -f "$T/fifo"
fi
# A read-only file of another user in a world-writable directory: the rename would be allowed, the
# write is not, so the file must be refused and left alone. Root may write anything: run as nobody.
mkdir -p "$T/perm"
chmod 0777 "$T/perm"
chmod o+x "$T" # mktemp made it 0700: the other user must reach perm/
printf 'precious\n' >"$T/perm/ro.lic"
chmod 0444 "$T/perm/ro.lic"
as_other=()
if [ "$(id -u)" -eq 0 ]; then
    if command -v setpriv >/dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
        as_other=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    elif command -v runuser >/dev/null && runuser -u nobody -- true 2>/dev/null; then
        as_other=(runuser -u nobody --)
    else
        as_other=(none)
    fi
fi
if [ "${as_other[0]:-}" = none ]; then
    echo "SKIP: root without setpriv or runuser: the read-only-target check cannot run"
else
    expect_rc 2 "encode onto a read-only file (${as_other[*]:-as this user})" \
        ${as_other[@]+"${as_other[@]}"} "$ENC" "$IMG/17x33.png" -o "$T/perm/ro.lic" "${M[@]}"
    expect_true "the message says it is left as it is" grep -q "left as it is" "$T/stderr"
    expect_rc 2 "decode onto a read-only file" ${as_other[@]+"${as_other[@]}"} "$DEC" "$T/ref.lic" -o "$T/perm/ro.lic" --format png "${M[@]}"
    expect_true "the read-only file is untouched" test "$(cat "$T/perm/ro.lic")" = precious
    expect_true "and still 0444" test "$(stat -c %a "$T/perm/ro.lic")" = 444
    expect_true "no temporary files in its directory" test "$(listing "$T/perm")" = "ro.lic "
    cp "$MODEL" "$T/perm/private.licw"
    chmod 0000 "$T/perm/private.licw" # not even its owner may read it (root excepted: it runs as nobody)
    expect_rc 2 "a --model this user may not read" \
        ${as_other[@]+"${as_other[@]}"} "$ENC" "$IMG/17x33.png" -o "$T/perm/x.lic" --model "$T/perm/private.licw"
    expect_true "it names the model and says 'Permission denied'" grep -q "private.licw': Permission denied" "$T/stderr"
    rm -f "$T/perm/private.licw"
    # The control: the same user may write a new file there, so the refusal above is the file's mode.
    expect_rc 0 "the same user may create a new file there" \
        ${as_other[@]+"${as_other[@]}"} "$ENC" "$IMG/17x33.png" -o "$T/perm/new.lic" "${M[@]}"
    expect_true "only that file was added" test "$(listing "$T/perm")" = "new.lic ro.lic "
fi

echo "== inputs: ASCII PGM/PPM, JPEG without EOI, 16-bit, metadata warnings"
# ascii_4x3.ppm as binary P6 (same formula): both must give the same .lic bytes.
{
    printf 'P6\n4 3\n255\n'
    for y in 0 1 2; do for x in 0 1 2 3; do
        printf "\\\\x%02x\\\\x%02x\\\\x%02x" $((20 * x + 60 * y)) $((255 - 30 * x)) $((17 * (x + y)))
    done; done | xargs -0 printf
} >"$T/bin_4x3.ppm"
expect_rc 0 "encode ascii_4x3.ppm (P3)" "$ENC" "$IMG/ascii_4x3.ppm" -o "$T/p3.lic" "${M[@]}"
expect_true "no warning for an 8-bit plain PPM" test ! -s "$T/stderr"
expect_rc 0 "encode the same pixels as binary P6" "$ENC" "$T/bin_4x3.ppm" -o "$T/p6.lic" "${M[@]}"
expect_true "P3 and P6 give the same stream" cmp -s "$T/p3.lic" "$T/p6.lic"
expect_rc 0 "encode ascii_4x3.pgm (P2, maxval 1000)" "$ENC" "$IMG/ascii_4x3.pgm" -o "$T/p2.lic" -v "${M[@]}"
expect_true "-v names the source: ASCII 10-bit gray PGM" grep -q "source: ASCII 10-bit gray PGM" "$T/stderr"
expect_true "a 10-bit source warns that it is coded at 8 bits" grep -q "warning: .*has 10-bit samples; lic codes 8 bits" "$T/stderr"
head -c -2 "$IMG/small.jpg" >"$T/noeoi.jpg"
expect_rc 0 "encode a JPEG without its EOI marker" "$ENC" "$T/noeoi.jpg" -o "$T/noeoi.lic" "${M[@]}"
expect_true "it warns about the missing end-of-image marker" grep -q "warning: .*no end-of-image marker" "$T/stderr"
expect_rc 0 "encode the complete JPEG" "$ENC" "$IMG/small.jpg" -o "$T/eoi.lic" "${M[@]}"
expect_true "no warning for the complete JPEG" test ! -s "$T/stderr"
expect_true "both give the same stream" cmp -s "$T/noeoi.lic" "$T/eoi.lic"
size=$(stat -c %s "$IMG/small.jpg")
head -c $((size - 100)) "$IMG/small.jpg" >"$T/cutjpg.jpg"
expect_rc 3 "encode a JPEG cut inside its image data" "$ENC" "$T/cutjpg.jpg" -o "$T/x.lic" "${M[@]}"
expect_true "the error names the file" grep -q "cannot read '.*cutjpg.jpg': JPEG" "$T/stderr"
for f in 16bit_9x7.png 16bit_3x2.ppm; do
    expect_rc 0 "encode $f -v" "$ENC" "$IMG/$f" -o "$T/x.lic" -v "${M[@]}"
    expect_true "$f: warns that 16-bit samples are coded at 8 bits" grep -q "warning: '.*$f' has 16-bit samples; lic codes 8 bits" "$T/stderr"
    expect_true "$f: -v gives the source bit depth" grep -q "source: 16-bit RGB" "$T/stderr"
done
echo "== metadata: carried byte for byte, --strip, PPM output"
# meta_dump.py reads the metadata with a second, independent implementation (Python).
dump() { /usr/bin/python3 "$ROOT/tests/cli/meta_dump.py" "$1"; }
for f in meta_4x3.png meta_32x24.jpg icc_4x3.png exif6_4x3.png exif6_32x24.jpg; do
    expect_rc 0 "encode $f" "$ENC" "$IMG/$f" -o "$T/meta.lic" "${M[@]}"
    expect_true "$f: no warning (all of its metadata is carried)" test ! -s "$T/stderr"
    expect_rc 0 "decode $f to PNG" "$DEC" "$T/meta.lic" -o "$T/meta.png" "${M[@]}"
    dump "$IMG/$f" >"$T/in.meta"
    dump "$T/meta.png" >"$T/out.meta"
    expect_true "$f: ICC, EXIF and XMP survive .lic -> PNG byte for byte" cmp -s "$T/in.meta" "$T/out.meta"
    expect_true "$f: the source has metadata to compare" grep -qv "none" "$T/in.meta"
    expect_rc 0 "decode $f --strip" "$DEC" "$T/meta.lic" -o "$T/nometa.png" --strip "${M[@]}"
    expect_true "$f: lic-decode --strip writes none" test "$(dump "$T/nometa.png" | grep -c none)" = 3
    expect_rc 0 "encode $f --strip" "$ENC" "$IMG/$f" -o "$T/strip.lic" --strip "${M[@]}"
    expect_rc 0 "decode the stripped $f" "$DEC" "$T/strip.lic" -o "$T/strip.png" "${M[@]}"
    expect_true "$f: lic-encode --strip stores none" test "$(dump "$T/strip.png" | grep -c none)" = 3
    expect_true "$f: --strip changes only the metadata: same pixels" cmp -s "$T/strip.png" "$T/nometa.png"
    expect_true "$f: the stripped file is smaller" test "$(stat -c %s "$T/strip.lic")" -lt "$(stat -c %s "$T/meta.lic")"
done
dump "$IMG/meta_32x24.jpg" >"$T/in.meta"
expect_true "the JPEG's ICC profile spans two APP2 markers (70000 bytes) and is joined" grep -q "^icc 70000 " "$T/in.meta"
expect_rc 0 "encode meta_32x24.jpg" "$ENC" "$IMG/meta_32x24.jpg" -o "$T/meta.lic" "${M[@]}"
expect_rc 0 "decode it to PPM" "$DEC" "$T/meta.lic" -o "$T/meta.ppm" "${M[@]}"
expect_true "PPM output warns that the metadata is not written" grep -q "warning: .*carries metadata (ICC profile EXIF XMP) that PGM/PPM cannot hold" "$T/stderr"
expect_rc 0 "encode exif6_4x3.png --strip" "$ENC" "$IMG/exif6_4x3.png" -o "$T/x.lic" --strip "${M[@]}"
expect_true "--strip warns that the orientation is lost" grep -q "warning: .*EXIF orientation 6 (rotate 90 degrees clockwise to display), which is neither applied nor carried, --strip" "$T/stderr"
expect_rc 0 "encode exif6_32x24.jpg -v" "$ENC" "$IMG/exif6_32x24.jpg" -o "$T/x.lic" -v "${M[@]}"
expect_true "-v: the orientation is kept in the EXIF, not applied" grep -q "EXIF orientation 6 (rotate 90 degrees clockwise to display) is kept in the EXIF, not applied" "$T/stderr"
expect_true "-v: says what is carried" grep -q "carries an ICC profile, EXIF and XMP" "$T/stderr"
expect_rc 0 "encode gamma_4x3.png" "$ENC" "$IMG/gamma_4x3.png" -o "$T/x.lic" "${M[@]}"
expect_true "warns about gAMA and cHRM (not carried)" grep -q "warning: .*colour metadata (gAMA, cHRM) that lic does not carry" "$T/stderr"
# A compressed XMP iTXt is reported but not carried (the reader takes uncompressed text only).
/usr/bin/python3 - "$IMG/exif6_4x3.png" "$T/zxmp.png" <<'PY'
import struct, sys, zlib
d = open(sys.argv[1], "rb").read()
body = b"XML:com.adobe.xmp\0" + b"\1\0" + b"\0\0" + zlib.compress(b"<x:xmpmeta/>")
c = struct.pack(">I", len(body)) + b"iTXt" + body + struct.pack(">I", zlib.crc32(b"iTXt" + body))
i = d.index(b"IDAT") - 4
open(sys.argv[2], "wb").write(d[:i] + c + d[i:])
PY
expect_rc 0 "encode a PNG with a compressed XMP iTXt" "$ENC" "$T/zxmp.png" -o "$T/x.lic" "${M[@]}"
expect_true "warns that its XMP is not carried" grep -q "warning: .*has XMP that could not be read for carrying" "$T/stderr"

echo "== damaged .lic files: exit 3, no picture"
expect_rc 0 "encode meta_4x3.png" "$ENC" "$IMG/meta_4x3.png" -o "$T/good.lic" "${M[@]}"
size=$(stat -c %s "$T/good.lic")
for at in 4 9 20 41 60 $((size / 2)) $((size - 20)) $((size - 1)); do
    /usr/bin/python3 -c "import sys; d=bytearray(open(sys.argv[1],'rb').read()); d[int(sys.argv[3])]^=0x10; open(sys.argv[2],'wb').write(d)" "$T/good.lic" "$T/bad.lic" "$at"
    rm -f "$T/bad.png"
    expect_rc 3 "a bit flipped at byte $at of $size" "$DEC" "$T/bad.lic" -o "$T/bad.png" "${M[@]}"
    expect_true "byte $at: no output file" test ! -e "$T/bad.png"
done
head -c $((size - 1)) "$T/good.lic" >"$T/cut.lic"
expect_rc 3 "a .lic cut by one byte" "$DEC" "$T/cut.lic" -o "$T/bad.png" "${M[@]}"
cat "$T/good.lic" "$T/good.lic" >"$T/twice.lic"
expect_rc 3 "a .lic with bytes after its end" "$DEC" "$T/twice.lic" -o "$T/bad.png" "${M[@]}"
expect_rc 0 "--info reads a version-2 header" "$DEC" "$T/good.lic" --info
expect_true "--info: version 2" grep -q "^version: 2$" "$T/stdout"
expect_rc 0 "--info reads a version-1 header" "$DEC" "$ROOT/testdata/bitstreams/tiny_17x33_q90.lic" --info
expect_true "--info: version 1" grep -q "^version: 1$" "$T/stdout"
expect_rc 0 "a version-1 golden stream still decodes" "$DEC" "$ROOT/testdata/bitstreams/tiny_17x33_q90.lic" -o "$T/v1.ppm" "${M[@]}"
expect_rc 0 "its version-2 twin decodes" "$DEC" "$ROOT/testdata/bitstreams/tiny_17x33_q90.v2.lic" -o "$T/v2.ppm" "${M[@]}"
expect_true "to the same pixels" cmp -s "$T/v1.ppm" "$T/v2.ppm"
expect_rc 0 "encode 17x33.png" "$ENC" "$IMG/17x33.png" -o "$T/x.lic" "${M[@]}"
expect_true "an 8-bit PNG without metadata gives no warning" test ! -s "$T/stderr"

echo "== streaming: rows in and out, no partial outputs"
# The encoder takes the rows of a PNG while libpng decodes them: one cut inside its pixels fails
# mid-image, and nothing is written.
size=$(stat -c %s "$IMG/768x512.png")
head -c $((size * 3 / 4)) "$IMG/768x512.png" >"$T/cut_rows.png"
printf 'old\n' >"$T/keep_rows.lic"
files_before=$(listing "$T")
expect_rc 3 "encode a PNG cut inside its pixels onto an existing file" \
    "$ENC" "$T/cut_rows.png" -o "$T/keep_rows.lic" "${M[@]}"
expect_true "the message says the input cannot be read" grep -q "cannot read '$T/cut_rows.png': PNG" "$T/stderr"
expect_true "the existing .lic is unchanged" test "$(cat "$T/keep_rows.lic")" = old
expect_true "no temporary files left after the failed encode" test "$(listing "$T")" = "$files_before"
# The decoder hands rows to the PNG/PPM writer as they are made: a write that fails mid-image (here the
# file size limit) leaves no partial output.
expect_rc 0 "encode 768x512" "$ENC" "$IMG/768x512.png" -o "$T/rows.lic" "${M[@]}"
files_before=$(listing "$T")
for ext in ppm png; do
    expect_sh 2 "decode to .$ext when the file cannot grow past 64 KB" \
        "trap '' XFSZ; ulimit -f 64; '$DEC' '$T/rows.lic' -o '$T/rows.$ext' --model '$MODEL'"
    expect_true "the .$ext message names the output" grep -q "cannot write '$T/rows.$ext'" "$T/stderr"
    expect_true "no partial .$ext, no temporary files" test "$(listing "$T")" = "$files_before"
done
expect_rc 0 "the same decode without the limit" "$DEC" "$T/rows.lic" -o "$T/rows.ppm" "${M[@]}"
expect_true "768x512 decoded" test "$(pnm_header "$T/rows.ppm")" = "P6 768 512"

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
