#!/usr/bin/env bash
# The man page teaches every verb, option and exit status the binary has: renders
# sshdctl(8) with man -l (no warnings), then checks that every verb and sub-verb its --help
# lists, every option of the program and of each verb, and every exit status is in it.
# Usage: tests/docs/man_page.sh SSHDCTL MANPAGE
set -euo pipefail
bin=$1 page=$2
fail=0
bad() { echo "FAIL: $*" >&2; fail=1; }

[ -s "$page" ] || { echo "FAIL: no man page at $page" >&2; exit 1; }
err=$(mktemp)
trap 'rm -f "$err"' EXIT
# ASCII, wide, hyphenated words joined again, whitespace collapsed: the page as one line.
text=$(LC_ALL=C MANWIDTH=200 man --warnings -l "$page" 2>"$err" | col -b |
  sed -e ':a' -e '/[A-Za-z]-$/{N;s/-\n[[:space:]]*//;ba;}' | tr -s '[:space:]' ' ')
if [ -s "$err" ]; then bad "man -l warns: $(cat "$err")"; fi
for section in NAME SYNOPSIS DESCRIPTION SAFETY VERBS OPTIONS "EXIT STATUS" FILES ENVIRONMENT EXAMPLES "SEE ALSO"; do
  [[ $text == *" $section "* || $text == "$section "* ]] || bad "section $section is missing"
done

# The options of a --help text ("  -x,--long ARG   words"), one per line: -x and --long.
options() { sed -n '/^Options:/,/^$/p' | grep -oE '^  (-[A-Za-z],)?--[a-z][a-z-]*|^  -[A-Za-z]\b' |
  tr ',' '\n' | sed 's/^ *//' | grep -v -e '^--help$' -e '^-h$' || true; }
subcommands() { sed -n '/^Subcommands:/,/^$/p' | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p'; }
has() { [[ $text == *"$1"* ]]; }
# An option as a word of its own: "-n," or "--dry-run " (not "-n" inside "--no-probe").
has_option() { [[ $text =~ [[:space:]\[]$1[],[:space:]] ]]; }

checked=0
while read -r o; do
  has_option "$o" || bad "global option $o is not in the page"
  checked=$((checked + 1))
done < <("$bin" --help | options)
verbs=$("$bin" --help | subcommands)
[ -n "$verbs" ] || bad "no verbs found in --help"
for v in $verbs; do
  checked=$((checked + 1))
  subs=$("$bin" "$v" --help | subcommands)
  if [ -z "$subs" ]; then
    has " $v " || bad "verb $v is not in the page"
    while read -r o; do has_option "$o" || bad "$v's option $o is not in the page"; checked=$((checked + 1)); done < <("$bin" "$v" --help | options)
    continue
  fi
  for s in $subs; do
    has "$v $s" || bad "verb '$v $s' is not in the page"
    while read -r o; do has_option "$o" || bad "$v $s's option $o is not in the page"; checked=$((checked + 1)); done < <("$bin" "$v" "$s" --help | options)
    checked=$((checked + 1))
  done
done
for code in $("$bin" --help | sed -n '/^Exit codes:/,/^$/p' | grep -oE '^  [0-9]+(, [0-9]+)?' | tr -d ' ,' | sed 's/\(...\)\(...\)/\1 \2/'); do
  [[ $text =~ [[:space:]]$code[,[:space:]] ]] || bad "exit status $code is not in the page"
  checked=$((checked + 1))
done
for f in /var/lib/sshdctl/lock /var/lib/sshdctl/changes /usr/share/sshdctl/lenses SSHDCTL_LENS_DIR SSHDCTL_CREDENTIALS; do
  has "$f" || bad "$f is not in the page"
done
[ "$checked" -gt 60 ] || bad "only $checked verbs and options found in --help: the parsing is broken"
[ $fail = 0 ] && echo "man page: $checked verbs, options and exit statuses of --help all in $page"
exit $fail
