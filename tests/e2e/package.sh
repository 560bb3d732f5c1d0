#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# End to end, the Debian package: scripts/package builds the .deb (debhelper, lintian-clean);
# installed with dpkg into a real Debian 12 lab host, it puts the binary, the lenses (found
# there by default), the man page, the completions and the examples where Debian keeps them;
# `sshdctl root-login enable --password-stdin` from the package (not from the build tree)
# lets root log in with that password, `root-login disable` forbids it again; `dpkg -r`
# leaves the host's sshd configuration and the journal exactly as they were.
#
# Needs root and SSHDCTL_BUILD_DIR (for the lab's library check); fails, never skips.
set -euo pipefail

# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
trap 'lab_down; rm -rf "$tmp"' EXIT
e2e_require
e2e_prefix e2epkg
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# ------------------------------------------------------------------ build it --
capture "$repo/scripts/package"
check_rc "scripts/package builds the package, lintian-clean (errors and warnings)" 0
deb=$(tail -n 1 <<<"$OUT")
[[ -f $deb ]] || fatal "no .deb from scripts/package: $OUT $ERR"
contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/sshdctl ./usr/share/sshdctl/lenses/sshdctl_sshd.aug ./usr/share/sshdctl/lenses/sshdctl_authorized_keys.aug \
    ./usr/share/man/man8/sshdctl.8.gz ./usr/share/bash-completion/completions/sshdctl \
    ./usr/share/zsh/vendor-completions/_sshdctl ./usr/share/doc/sshdctl/copyright \
    ./usr/share/doc/sshdctl/examples/policies/baseline.yml; do
    check_has "the package has $f" " $f" "$contents"
done
check_lacks "... and no test binary" "sshdctl_unit_tests" "$contents"
depends=$(dpkg-deb -f "$deb" Depends)
check_has "its Depends come from the shared libraries (libssh)" "libssh-4" "$depends"
check_has "... (Augeas)" "libaugeas0" "$depends"

# ---------------------------------------------------------------- install it --
lab_up 1
h=${P}1
a=$(addr_of "$h")
files=(/etc/ssh/sshd_config /etc/ssh/sshd_config.d/50-cloud-init.conf)
orig=$(sums "$h" "${files[@]}")
hx "$h" sh -c 'cat >/tmp/sshdctl.deb' <"$deb"
capture hx "$h" dpkg -i /tmp/sshdctl.deb
check_rc "dpkg -i installs it on a Debian 12 host (its dependencies are there)" 0
check_eq "installing it changes no sshd file" "$orig" "$(sums "$h" "${files[@]}")"
check_eq "sshdctl is /usr/bin/sshdctl there" "/usr/bin/sshdctl" "$(hx "$h" sh -c 'command -v sshdctl')"
capture hx "$h" sshdctl --version
check_has "sshdctl --version from the package names its version" "sshdctl 0." "$OUT"
capture hx "$h" env -u SSHDCTL_LENS_DIR sshdctl show PermitRootLogin
check_rc "the packaged binary finds its lenses in /usr/share/sshdctl/lenses by itself" 0
check_has "... and reads the cloud image's PermitRootLogin" "PermitRootLogin" "$OUT"

# ------------------------------------------------------------- use it there --
pw=$(new_password)
check_root_refused "before: root password login is refused" "$a" "$pw"
capture sh -c 'printf "%s\n" "$1" | "$0" exec "$2" -- sshdctl root-login enable --password-stdin' "$lab" "$pw" "$h"
check_rc "the package's sshdctl root-login enable --password-stdin exits 0" 0
check_has "... and sshd took it the host's way (systemd, ssh.socket or SIGHUP)" "$(reloaded_text "$(flavor_of "$h")")" "$OUT"
check "sshd answers again after the reload" wait_sshd "$a"
check_root_login "root logs in with that password" "$a" "$pw"
capture hx "$h" sshdctl root-login disable
check_rc "root-login disable exits 0" 0
check "sshd answers again" wait_sshd "$a"
check_root_refused "root's password login is refused again" "$a" "$pw"
check_eq "the sshd files are back byte for byte" "$orig" "$(sums "$h" "${files[@]}")"

# ------------------------------------------------------------ remove it -----
journal_before=$(hx "$h" sh -c 'ls /var/lib/sshdctl/changes | sort')
capture hx "$h" dpkg -r sshdctl
check_rc "dpkg -r removes it" 0
check_eq "dpkg -r leaves the sshd configuration untouched" "$orig" "$(sums "$h" "${files[@]}")"
check_eq "... and the journal" "$journal_before" "$(hx "$h" sh -c 'ls /var/lib/sshdctl/changes | sort')"
check "... sshd -t still accepts the configuration" hx "$h" sshd -t
check_eq "the binary and the lenses are gone" "" "$(hx "$h" sh -c 'ls /usr/bin/sshdctl /usr/share/sshdctl 2>/dev/null' || true)"
check_eq "ecs-user's key login still works" ecs-user "$("$lab" ssh "$h" id -un 2>&1 || true)"
finish
