#!/usr/bin/env bash
# tests/check_layering.sh [ROOT]: enforces the include rules of docs/ARCHITECTURE.md ("Modules and
# include direction") on the source tree at ROOT (default: this script's repository). Prints one
# `file:line: reason` per violation; exits 1 if any.
#
#   every file       no `../` or `./` in an #include; a "quoted" include names a file that exists,
#                    rooted at the repo ("entropy/rans.h") or a public header ("lic/codec.h")
#   codec/include/   (public headers) only <lic/...> and system headers
#   apps/            only <lic/...>, apps/ and system headers
#   util/            only lic/common.h, util/ and system headers (the shared internal layer)
#   entropy/         only lic/common.h, util/, entropy/ and system headers
#   transforms/      only lic/common.h, util/, transforms/ and system headers
#   gpu/             only lic/common.h, util/, gpu/, transforms/, entropy/entropy_model.h (the
#                    per-symbol arithmetic its integer kernels share) and system headers
#   codec/           lic/, util/, codec/, entropy/, transforms/ and of gpu/ only gpu/gpu.h
#   (tools/, tests/, train/ ... are free, apart from the first rule)
#   and: the basenames of all .c/.h/.cu/.cuh files are unique across the tree.
#
# An include is "of the project" when its first path component is a top-level folder of the repo or
# `lic`; everything else (<stdio.h>, <png.h>, <cmocka.h>) is a system header. Top-level build*/
# folders, any other CMake build tree (a folder holding CMakeCache.txt: it contains generated sources
# such as the embedded model), hidden folders and CMakeFiles/ folders are skipped.
#
# tests/check_layering.sh --self-test: runs the check on a small generated tree that breaks each rule
# once and fails unless exactly those violations are reported.
set -euo pipefail
export LC_ALL=C

self_test() {
    local out got expected
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/lic-layering.XXXXXX") # global: the EXIT trap needs it
    trap 'rm -rf "$tmp"' EXIT
    mkdir -p "$tmp"/{apps,util,entropy,transforms,gpu,codec/include/lic,tools,build-x}
    cd "$tmp"
    printf '#include <stddef.h>\n' >codec/include/lic/common.h
    printf '#include "lic/common.h"\n#include "entropy/rans.h"\n' >codec/include/lic/codec.h
    printf '#include <stdio.h>\n#include <lic/codec.h>\n#include "apps/io.h"\n#include "codec/model.h"\n#include "util/log.h"\n' >apps/main.c
    printf '#include "lic/common.h"\n#include "util/log.h"\n#include "entropy/rans.h"\n#include "lic/codec.h"\n' >util/hash.c
    printf '#include "lic/common.h"\n#include "transforms/tensor.h"\n#include "../codec/model.h"\n#include "lic/codec.h"\n' >entropy/rans.c
    printf '#include "entropy/rans.h"\n#include "tensor.h"\n#  include  "transforms/missing.h"\n' >transforms/tensor.c
    printf '#include "transforms/tensor.h"\n#include "codec/model.h"\n#include "lic/common.h"\n' >gpu/cuda.c
    printf '#include "gpu/cuda.c"\n#include "gpu/gpu.h"\n#include "entropy/rans.h"\n#include "util/log.h"\n' >codec/model.c
    printf '#include "util/log.h"\n' >>entropy/rans.c
    printf '#include "util/log.h"\n' >>transforms/tensor.c
    printf '#include "util/log.h"\n' >>gpu/cuda.c
    printf '#include "codec/model.h"\n#include "entropy/rans.h"\n' >tools/mkmodel.c
    printf '#include "../anything.h"\n' >build-x/ignored.c
    mkdir -p out/codec && touch out/CMakeCache.txt && printf '#include "../x.h"\n' >out/codec/model.c
    touch apps/io.h util/log.h entropy/rans.h transforms/tensor.h codec/model.h gpu/gpu.h tools/model.c
    # file:line of each planted violation (the basename clash reports the basename), sorted.
    expected=(apps/main.c:4 apps/main.c:5 codec/include/lic/codec.h:2 codec/model.c:1 entropy/rans.c:2
        entropy/rans.c:3 entropy/rans.c:4 gpu/cuda.c:2 model.c transforms/tensor.c:1 transforms/tensor.c:2
        transforms/tensor.c:3 util/hash.c:3 util/hash.c:4)
    out=$(bash "$script" "$tmp" || true)
    got=$(grep -v '^check_layering: ' <<<"$out" | sed -n 's/: .*//p' | sort | paste -sd' ')
    if [[ "$got" != "${expected[*]}" ]] || ! grep -q '^check_layering: 14 violation' <<<"$out"; then
        printf 'check_layering self-test: FAILED\nwant: %s\ngot:  %s\nfull report:\n%s\n' \
            "${expected[*]}" "$got" "$out"
        exit 1
    fi
    echo "check_layering self-test: all 14 planted violations reported, nothing else"
}

script=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
if [[ "${1:-}" == --self-test ]]; then
    self_test
    exit 0
fi

root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"

# Quoted includes of headers generated into the build tree (none yet): list their exact spelling here.
generated=()

# `#  include "x"` or `#include <x>`: captures the delimiter and the path.
include_re='^[[:space:]]*#[[:space:]]*include[[:space:]]*(["<])([^">]*)[">]'

errors=0
err() {
    echo "$1: $2"
    errors=$((errors + 1))
}

# Sources, one per line as ./path, without build trees.
prune=(-name '.?*' -o -path './build*' -o -name CMakeFiles)
while read -r tree; do
    prune+=(-o -path "$tree")
done < <(find . -type d \( -name '.?*' -o -path './build*' \) -prune -o -name CMakeCache.txt -printf '%h\n')
mapfile -t files < <(
    find . -type d \( "${prune[@]}" \) -prune -o \
        -type f \( -name '*.c' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) -print | sed 's|^\./||' | sort
)

# Top-level folders: the first component of a project include names one of them.
mapfile -t topdirs < <(find . -mindepth 1 -maxdepth 1 -type d ! -name '.*' | sed 's|^\./||')
is_topdir() {
    local d
    for d in "${topdirs[@]}"; do [[ "$1" == "$d" ]] && return 0; done
    return 1
}

is_generated() {
    local g
    for g in "${generated[@]+"${generated[@]}"}"; do [[ "$1" == "$g" ]] && return 0; done
    return 1
}

# allowed MODULE TARGET: whether a file of MODULE may include the project header TARGET.
allowed() {
    local module=$1 t=$2
    case "$module" in
        public) [[ $t == lic/* ]] ;;
        apps) [[ $t == lic/* || $t == apps/* ]] ;;
        util) [[ $t == lic/common.h || $t == util/* ]] ;;
        entropy) [[ $t == lic/common.h || $t == util/* || $t == entropy/* ]] ;;
        transforms) [[ $t == lic/common.h || $t == util/* || $t == transforms/* ]] ;;
        gpu) [[ $t == lic/common.h || $t == util/* || $t == gpu/* || $t == transforms/* ||
            $t == entropy/entropy_model.h ]] ;;
        codec) [[ $t == lic/* || $t == util/* || $t == codec/* || $t == entropy/* || $t == transforms/* ||
            $t == gpu/gpu.h ]] ;;
        *) true ;;
    esac
}

for f in "${files[@]}"; do
    case "$f" in
        codec/include/*) module=public ;;
        *) module=${f%%/*} ;;
    esac
    [[ "$f" == */* ]] || module=root
    # Computed includes (#include MACRO) are not checked.
    while IFS=: read -r line text; do
        if [[ $text =~ $include_re ]]; then
            delim=${BASH_REMATCH[1]}
            target=${BASH_REMATCH[2]}
        else
            continue
        fi
        where="$f:$line"
        if [[ $target == ../* || $target == */../* || $target == ./* || $target == */./* ]]; then
            err "$where" "relative include \"$target\": include from the repository root"
            continue
        fi
        first=${target%%/*}
        project=0
        if [[ $target == */* ]] && { [[ $first == lic ]] || is_topdir "$first"; }; then
            project=1
        fi
        if [[ $delim == '"' ]]; then
            if ((project)); then
                if [[ $first == lic ]]; then
                    [[ -f codec/include/$target ]] || err "$where" "\"$target\" is not a public header in codec/include/"
                else
                    [[ -f $target ]] || is_generated "$target" || err "$where" "\"$target\" does not exist in the tree"
                fi
            elif ! is_generated "$target"; then
                # A bare "x.h" works only through the including file's own folder: not rooted.
                err "$where" "\"$target\" is not rooted at the repository (write \"<module>/$target\", or <$target> for a system header)"
            fi
        fi
        if ((project)) && ! allowed "$module" "$target"; then
            err "$where" "forbidden include of $target from ${module/public/the public headers} (docs/ARCHITECTURE.md)"
        fi
    done < <(grep -nE '^[[:space:]]*#[[:space:]]*include' "$f" || true)
done

# Unique basenames: one module's header must never shadow another's.
while read -r base; do
    dups=$(printf '%s\n' "${files[@]}" | awk -F/ -v b="$base" '$NF == b' | paste -sd' ')
    err "$base" "basename used more than once: $dups"
done < <(printf '%s\n' "${files[@]}" | awk -F/ '{ print $NF }' | sort | uniq -d)

if ((errors)); then
    echo "check_layering: $errors violation(s) in ${#files[@]} files"
    exit 1
fi
echo "check_layering: ${#files[@]} files, no violations"
