#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# End to end, offline mode (`--root`): sshdctl run on this machine edits a
# stopped host's disk, as on a rescue system with the broken machine's disk
# mounted. The "disk" is a writable overlayfs copy of the lab image (lower:
# the image, untouched; upper/work/merged in a temp dir).
#   - `sshdctl --root DISK root-login enable` exits 0 and says it validated
#     the result (with the image's own sshd, chrooted)
#   - an independent `chroot DISK sshd -T -C user=root,...` says yes/yes, and
#     passwordauthentication stays no for ecs-user
#   - a host booted FROM that disk (lab up with LAB_IMAGE=DISK) runs an sshd
#     that lets root in with a password, and ecs-user's key login still works
#   - `--root DISK root-login disable` restores the image's bytes
#   - the image itself is never written to
#
# Needs root and SSHDCTL_BUILD_DIR (the build dir with bin/sshdctl); fails,
# never skips, when either is missing or the lab cannot run here.
set -euo pipefail

# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
disk=$tmp/merged
cleanup() {
    lab_down
    if mountpoint -q "$disk" 2>/dev/null; then umount "$disk" || umount -l "$disk" || true; fi
    rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
e2e_require
e2e_prefix e2erescue

if ! "$lab" image >/dev/null 2>"$tmp/image.err"; then
    cat "$tmp/image.err" >&2
    fatal "lab image failed (see above)"
fi
image=$("$lab" image-dir)
files=(etc/ssh/sshd_config etc/ssh/sshd_config.d/50-cloud-init.conf)
# rsums DIR: sha256, mode and owner of the two files under root DIR
rsums() {
    local d=$1 f
    for f in "${files[@]}"; do
        printf '%s %s %s\n' "$(sha256sum <"$d/$f" | cut -c1-64)" "$f" "$(stat -c '%a %U:%G' "$d/$f")"
    done
}
# chroot_eff DIR USER: what DIR's own sshd says for USER from 192.0.2.1
chroot_eff() {
    local out
    if ! out=$(chroot "$1" /usr/sbin/sshd -T -C "user=$2,host=h,addr=192.0.2.1" 2>&1); then
        printf 'sshd -T failed: %s' "$(tail -n 2 <<<"$out" | tr '\n' ' ')"; return 0
    fi
    awk '$1 == "permitrootlogin" { p = $2 } $1 == "passwordauthentication" { a = $2 }
         END { printf "permitrootlogin %s passwordauthentication %s", p, a }' <<<"$out"
}
image_sums=$(rsums "$image")
image_tree=$(cd "$image" && find etc/ssh -printf '%p %s %T@\n' | sort)

# --------------------------------------------------- the disk: an overlay --
mkdir -p "$tmp/upper" "$tmp/work" "$disk"
mount -t overlay overlay -o "lowerdir=$image,upperdir=$tmp/upper,workdir=$tmp/work" "$disk" \
    || fatal "cannot mount an overlay of the image on $disk"
# sshd -T in a chroot wants its privsep dir /run/sshd; it is removed again
# while sshdctl runs, which must cope with a disk that lacks it (Debian 13's image has one:
# it stays, since removing it would leave a whiteout in the overlay's upper dir)
made_privsep=
[[ -d $disk/run/sshd ]] || { mkdir "$disk/run/sshd"; made_privsep=1; }
check_eq "before: chroot sshd -T for root says no/no" \
    "permitrootlogin no passwordauthentication no" "$(chroot_eff "$disk" root)"
[[ -z $made_privsep ]] || rmdir "$disk/run/sshd"

# ------------------------------------------------------------------ enable --
capture "$bin" --root "$disk" root-login enable
check_rc "sshdctl --root DISK root-login enable exits 0 (changed)" 0
check_has "... and says it validated the result with sshd -T" "validated with sshd -T" "$OUT"
check_eq "... and the only file it wrote on the disk is etc/ssh/sshd_config (besides its journal)" \
    "etc/ssh/sshd_config" "$(cd "$tmp/upper" && find . ! -type d | sed 's|^\./||' | grep -v '^var/lib/sshdctl/' | sort)"
check_eq "... the change set is in the disk's own journal, root-only" "700 600" \
    "$(cd "$tmp/upper/var/lib/sshdctl/changes" && stat -c '%a' ./*/ | head -n 1) $(stat -c '%a' "$tmp"/upper/var/lib/sshdctl/changes/*/manifest | head -n 1)"
mkdir -p "$disk/run/sshd"
check_eq "after enable: chroot sshd -T for root: permitrootlogin yes, passwordauthentication yes" \
    "permitrootlogin yes passwordauthentication yes" "$(chroot_eff "$disk" root)"
check_has "after enable: chroot sshd -T for ecs-user keeps passwordauthentication no" \
    "passwordauthentication no" "$(chroot_eff "$disk" ecs-user)"
check "after enable: chroot sshd -t accepts the configuration" chroot "$disk" /usr/sbin/sshd -t
check_eq "the edit landed on the disk (overlay upper), not in the image" \
    "$image_sums" "$(rsums "$image")"

capture "$bin" --root "$disk" root-login enable
check_rc "a second --root root-login enable exits 3 (unchanged)" 3

# --------------------------------------------- boot a host from the disk --
if LAB_IMAGE=$disk "$lab" up 1 --prefix "$P" >"$tmp/up.out" 2>"$tmp/up.err"; then
    ok "a host boots from the changed disk (lab up with LAB_IMAGE=DISK)"
    # shellcheck disable=SC1091
    . "$("$lab" state-dir --prefix "$P")/env"
    h=${P}1
    a=$(addr_of "$h")
    check_eq "the host's / is the disk (LAB_IMAGE honoured)" "$disk" \
        "$(hx "$h" findmnt -no OPTIONS / | tr ',' '\n' | sed -n 's/^lowerdir=//p')"
    check_eq "inside the booted host: sshd -T for root says yes/yes" \
        "permitrootlogin yes passwordauthentication yes" "$(eff "$h" root "$LAB_CONTROLLER_ADDR")"
    check_eq "inside the booted host: ssh.service is active" active "$(hx "$h" systemctl is-active ssh 2>&1 || true)"
    check_eq "ecs-user's key login works" ecs-user "$("$lab" ssh "$h" id -un 2>&1 || true)"
    # the sshd that booted with the change lets root in (no reload involved)
    pw=$(new_password)
    set_root_password "$h" "$pw"
    check_root_login "root logs in with a password (sshpass, strict host key checking): id -u is 0" "$a" "$pw"
else
    bad "a host boots from the changed disk (lab up with LAB_IMAGE=DISK)" "$(tail -n 5 "$tmp/up.err")"
fi
lab_down

# ----------------------------------------------------------------- disable --
capture "$bin" --root "$disk" root-login disable
check_rc "sshdctl --root DISK root-login disable exits 0 (changed)" 0
check_eq "after disable: chroot sshd -T for root says no/no" \
    "permitrootlogin no passwordauthentication no" "$(chroot_eff "$disk" root)"
check_eq "after disable: the disk's files are byte-identical to the image's (sha256, mode, owner)" \
    "$image_sums" "$(rsums "$disk")"

check_eq "the image's /etc/ssh was never written to (names, sizes, mtimes)" \
    "$image_tree" "$(cd "$image" && find etc/ssh -printf '%p %s %T@\n' | sort)"

finish
