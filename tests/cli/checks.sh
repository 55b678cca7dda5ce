# The checks of tests/cli/cli_test.sh and eval_test.sh: each prints "ok: ..." or "FAIL: ..." and counts.
# Source it after setting T (a scratch folder: every command's stdout and stderr land in $T/stdout and
# $T/stderr). End the script with: echo "== $checks checks, $fails failures"; [ "$fails" -eq 0 ].

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
