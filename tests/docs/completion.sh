#!/usr/bin/env bash
# The shell completions complete what the binary knows: bash's is run for real (bash-completion
# loaded, COMP_WORDS as bash sets them) on the built binary; zsh's is parsed (zsh -n).
# Usage: tests/docs/completion.sh SSHDCTL COMPLETIONS_DIR
set -uo pipefail
bin=$1 dir=$2
fail=0
bad() { echo "FAIL: $*" >&2; fail=1; }
# shellcheck disable=SC1091
. /usr/share/bash-completion/bash_completion || { echo "FAIL: bash-completion is not installed" >&2; exit 1; }
# shellcheck source=completions/sshdctl.bash
. "$dir/sshdctl.bash"
complete -p sshdctl >/dev/null || bad "sshdctl.bash registers no completion"

# complete WORD... : what TAB offers for the last word (the binary stands for "sshdctl").
complete_line() {
  COMP_WORDS=("$bin" "$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMP_LINE="${COMP_WORDS[*]}"
  COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  _sshdctl
  printf '%s\n' "${COMPREPLY[@]}"
}
# expect "WORDS" WANTED...: each WANTED is offered; no_expect: none is.
expect() {
  local line=$1 got
  shift
  read -ra w <<<"$line"
  [[ -z $line || $line == *" " ]] && w+=("")
  got=$(complete_line "${w[@]}")
  for want in "$@"; do grep -qxF -- "$want" <<<"$got" || bad "'sshdctl $line<TAB>' does not offer $want (got: $(tr '\n' ' ' <<<"$got"))"; done
}
no_expect() {
  local line=$1 got
  shift
  read -ra w <<<"$line"
  [[ -z $line || $line == *" " ]] && w+=("")
  got=$(complete_line "${w[@]}")
  for no in "$@"; do ! grep -qxF -- "$no" <<<"$got" || bad "'sshdctl $line<TAB>' offers $no"; done
}

expect "se" set service
no_expect "se" show
expect "" show set unset root-login key tempkey passwd credential confirm history show-change plan apply revert service doctor audit
expect "--dry" --dry-run
expect "--host web1 set Permit" PermitRootLogin PermitEmptyPasswords
expect "set PermitRootLogin " yes prohibit-password forced-commands-only no
expect "set x11forwarding " yes no
expect "set X11Forwarding no --match " User Group Address LocalPort
expect "set X11Forwarding no --" --match --help
expect "root-login " enable disable
expect "root-login enable --pass" --password-stdin --password-file --password-env
expect "key " add remove list prune
expect "key add ro" root
expect "key add root --" --pubkey --options --fix-perms
expect "service " status reload restart
expect "--unit " ssh.service ssh.socket
expect "revert --" --last --rollout --force
inv=$(mktemp)
trap 'rm -f "$inv"' EXIT
printf '[web]\nweb1 ansible_host=192.0.2.1\nweb2\n[db]\ndb1\n' >"$inv"
expect "-i $inv --limit " web web1 web2 db db1 all
# Every verb the completion offers is one the binary has, and the other way round.
offered=$(complete_line "" | sort | tr '\n' ' ')
actual=$("$bin" --help | sed -n '/^Subcommands:/,/^$/p' | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p' | sort | tr '\n' ' ')
[ "$offered" = "$actual" ] || bad "verbs offered ($offered) are not the binary's ($actual)"
# Every global option of --help is offered after "-".
for o in $("$bin" --help | sed -n '/^Options:/,/^$/p' | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
  expect "$o" "$o"
done
zsh -n "$dir/_sshdctl" || bad "_sshdctl does not parse in zsh"
[ $fail = 0 ] && echo "completions: bash offers every verb, option, keyword value and inventory host checked; zsh parses"
exit $fail
