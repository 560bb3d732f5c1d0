# shellcheck shell=bash
# The checks of the lab's own tests (lab_selftest.sh, lab_flavors.sh), sourced: they run no
# sshdctl, so they do not use lib.sh. The sourcing test sets passed=0, failed=0 and tmp.

ok() { passed=$((passed + 1)); printf 'ok   - %s\n' "$1"; }
bad() { failed=$((failed + 1)); printf 'FAIL - %s\n' "$1"; [[ -z ${2:-} ]] || printf '       %s\n' "$2"; }
# check DESC CMD...: passes when CMD exits 0
check() { local d=$1; shift; local out; if out=$("$@" 2>&1); then ok "$d"; else bad "$d" "$(tail -n 3 <<<"$out" | tr '\n' ' ')"; fi; }
# check_not DESC CMD...: passes when CMD fails
check_not() { local d=$1; shift; if "$@" >/dev/null 2>&1; then bad "$d" "command unexpectedly succeeded: $*"; else ok "$d"; fi; }
# check_eq DESC EXPECTED CMD...: passes when CMD's stdout (trimmed) is EXPECTED
check_eq() {
    local d=$1 want=$2; shift 2; local got
    got=$("$@" 2>"$tmp/err") || true
    got=$(printf '%s' "$got" | tr -d '\r' | sed -e 's/[[:space:]]*$//')
    if [[ $got == "$want" ]]; then ok "$d"; else bad "$d" "want '$want', got '$got' $(head -c 300 "$tmp/err" | tr '\n' ' ')"; fi
}
# check_has DESC NEEDLE CMD...: passes when CMD's stdout+stderr contains NEEDLE
check_has() {
    local d=$1 want=$2; shift 2; local got
    got=$("$@" 2>&1) || true
    if [[ $got == *"$want"* ]]; then ok "$d"; else bad "$d" "no '$want' in: $(head -c 300 <<<"$got" | tr '\n' ' ')"; fi
}
finish() {
    printf '%d passed, %d failed\n' "$passed" "$failed"
    ((failed == 0))
}
