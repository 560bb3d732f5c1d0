#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# End to end, local mode, inside a real Debian 12 host: bad input and bad
# configurations are refused with the documented exit code and a useful
# message, and nothing under /etc/ssh changes (sha256 of every file, checked
# inside the host independently of sshdctl):
#   - an unknown keyword (exit 2, closest keyword suggested)
#   - an invalid value (exit 2, allowed values listed)
#   - a value sshd itself rejects (exit 4, sshd's message shown)
#   - an sshd_config / a drop-in with a keyword and no value (exit 5, file:line)
#
# Needs root and SSHDCTL_BUILD_DIR (the build dir with bin/sshdctl); fails,
# never skips, when either is missing or the lab cannot run here.
set -euo pipefail

# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
trap 'lab_down; rm -rf "$tmp"' EXIT
e2e_require
e2e_prefix e2ebad

lab_up 1
h=${P}1
main=/etc/ssh/sshd_config
dropin=/etc/ssh/sshd_config.d/50-cloud-init.conf

# tree: sha256, mode and owner of every file under /etc/ssh (also catches
# temporary files left behind)
tree() {
    # shellcheck disable=SC2016  # expanded by the host's sh
    hx "$h" sh -c 'find /etc/ssh -type f | sort | while read -r f; do
        printf "%s %s\n" "$(sha256sum <"$f" | cut -c1-64)" "$(stat -c "%n %a %U:%G" "$f")"; done' 2>&1 || true
}

good=$(tree)
check_has "recorded sha256 of every file under /etc/ssh" "$dropin" "$good"

# --------------------------------------------------- bad input, good config --
capture hx "$h" "$bin" set PermitRootLogn yes
check_rc "set PermitRootLogn yes exits 2 (bad input)" 2
check_has "... and suggests PermitRootLogin" "PermitRootLogin" "$ERR"
check_eq "... and changes nothing under /etc/ssh" "$good" "$(tree)"

capture hx "$h" "$bin" set PermitRootLogin maybe
check_rc "set PermitRootLogin maybe exits 2 (bad input)" 2
for v in yes prohibit-password forced-commands-only no; do
    # as a whole word of the message
    if tr -cs 'a-z-' '\n' <<<"$ERR" | grep -qxF -- "$v"; then ok "... and lists the allowed value '$v'"
    else bad "... and lists the allowed value '$v'" "stderr: $ERR"; fi
done
check_eq "... and changes nothing under /etc/ssh" "$good" "$(tree)"

capture hx "$h" "$bin" set Ciphers nosuchcipher
check_rc "set Ciphers nosuchcipher exits 4 (rejected by sshd -t)" 4
check_has "... and shows sshd's own message" "Bad SSH2 cipher spec 'nosuchcipher'" "$ERR"
check_eq "... and changes nothing under /etc/ssh" "$good" "$(tree)"
check "... and sshd -t still accepts the configuration" hx "$h" sshd -t

# ------------------------------------------- keyword without value: main file --
hx "$h" cp -p "$main" /root/sshd_config.good
hx "$h" sh -c "printf 'PermitRootLogin\n' >>$main"
n=$(hx "$h" sh -c "wc -l <$main")
check_has "(setup) sshd itself rejects the broken file at line $n" "$main line $n:" \
    "$(hx "$h" sshd -t 2>&1 || true)"
broken=$(tree)

capture hx "$h" "$bin" root-login enable
check_rc "root-login enable on an unparseable sshd_config exits 5" 5
check_has "... and names $main:$n" "$main:$n" "$ERR"
check_eq "... and leaves every file byte-identical" "$broken" "$(tree)"

capture hx "$h" "$bin" set PasswordAuthentication yes
check_rc "set PasswordAuthentication yes on it exits 5 too" 5
check_has "... and names $main:$n" "$main:$n" "$ERR"
check_eq "... and leaves every file byte-identical" "$broken" "$(tree)"

# ---------------------------------------------- keyword without value: drop-in --
hx "$h" sh -c "cat /root/sshd_config.good >$main && rm /root/sshd_config.good"
check_eq "(setup) sshd_config restored" "$good" "$(tree)"
hx "$h" sh -c "printf 'PasswordAuthentication\n' >>$dropin"
n=$(hx "$h" sh -c "wc -l <$dropin")
check_has "(setup) sshd itself rejects the broken drop-in at line $n" "$dropin line $n:" \
    "$(hx "$h" sshd -t 2>&1 || true)"
broken=$(tree)

capture hx "$h" "$bin" root-login enable
check_rc "root-login enable with an unparseable drop-in exits 5" 5
check_has "... and names $dropin:$n" "$dropin:$n" "$ERR"
check_eq "... and leaves every file byte-identical" "$broken" "$(tree)"

finish
