#!/bin/bash
# Flavor steps of the lab image, run by `lab image --flavor F` on the build
# machine. The default flavor (bookworm) never runs this file and its text is
# not part of the default image's hash; for every other flavor it is.
#
# usage: image-flavor.sh STEP ROOT KEYS_DIR
#   STEP      shared-keys  install the default image's lab key and host keys
#                          (a suite flavor: debootstrap + image-recipe.sh, then this)
#             socket       sshd reached through ssh.socket, ssh.service disabled
#             sudopw       ecs-user has a password and sudo asks for it
#             sysv         sysvinit-core is init, systemd and D-Bus are purged
#             (a variant: a copy of its suite's image, then this)
#   ROOT      the image tree being built
#   KEYS_DIR  the image's keys dir (lab key, host public keys, ...)
#   env LAB_KEY_SOURCE   shared-keys: the default image dir (its keys dir is
#                        LAB_KEY_SOURCE.keys, its private host keys are in
#                        LAB_KEY_SOURCE/etc/ssh)
#   env LAB_APT_SOURCES  sysv: deb822 sources to install from
set -euo pipefail

# sudopw: ecs-user's password. A fixed lab value (the lab network is closed and
# password logins are refused); `lab up` exports it as LAB_SUDO_PASSWORD.
readonly SUDO_PASSWORD=lab-sudo-ecs-2718

(($# == 3)) || { printf 'usage: image-flavor.sh STEP ROOT KEYS_DIR\n' >&2; exit 2; }
step=$1
root=$2
keys=$3
[[ -d $root/etc && -d $keys ]] || { printf 'image-flavor.sh: %s or %s is missing\n' "$root" "$keys" >&2; exit 1; }

in_root() { chroot "$root" /usr/bin/env -i \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }

# One lab key and one set of host keys for every flavor, so that LAB_KEY and
# known_hosts are the same whatever a host runs. Only rsa, ecdsa and ed25519:
# OpenSSH 10 has no DSA.
step_shared_keys() {
    local src=${LAB_KEY_SOURCE:?LAB_KEY_SOURCE must name the default image dir} t
    [[ -f $src.keys/id_ed25519 && -f $src.keys/id_ed25519.pub ]] \
        || { printf 'image-flavor.sh: no lab key in %s.keys\n' "$src" >&2; exit 1; }
    install -m 0600 "$src.keys/id_ed25519" "$keys/id_ed25519"
    install -m 0644 "$src.keys/id_ed25519.pub" "$keys/id_ed25519.pub"
    install -m 0600 "$keys/id_ed25519.pub" "$root/home/ecs-user/.ssh/authorized_keys"
    in_root chown ecs-user:ecs-user /home/ecs-user/.ssh/authorized_keys
    rm -f "$root"/etc/ssh/ssh_host_* "$keys"/ssh_host_*
    for t in rsa ecdsa ed25519; do
        [[ -f $src/etc/ssh/ssh_host_${t}_key && -f $src/etc/ssh/ssh_host_${t}_key.pub ]] \
            || { printf 'image-flavor.sh: no %s host key in %s/etc/ssh\n' "$t" "$src" >&2; exit 1; }
        install -m 0600 "$src/etc/ssh/ssh_host_${t}_key" "$root/etc/ssh/ssh_host_${t}_key"
        install -m 0644 "$src/etc/ssh/ssh_host_${t}_key.pub" "$root/etc/ssh/ssh_host_${t}_key.pub"
        cp "$root/etc/ssh/ssh_host_${t}_key.pub" "$keys/"
    done
}

# Socket activation as Debian's openssh-server ships it: ssh.socket listens
# on port 22 and starts ssh.service on the first connection.
step_socket() {
    in_root systemctl disable ssh.service >/dev/null 2>&1
    in_root systemctl enable ssh.socket >/dev/null 2>&1
    [[ -L $root/etc/systemd/system/sockets.target.wants/ssh.socket ]]
    [[ ! -e $root/etc/systemd/system/multi-user.target.wants/ssh.service ]]
}

# sudo asks for ecs-user's password; SSH logins stay key-only
# (PasswordAuthentication no, KbdInteractiveAuthentication no).
step_sudopw() {
    printf 'ecs-user:%s\n' "$SUDO_PASSWORD" | in_root chpasswd
    printf 'ecs-user ALL=(ALL) ALL\n' > "$root/etc/sudoers.d/90-cloud-init-users"
    chmod 0440 "$root/etc/sudoers.d/90-cloud-init-users"
    in_root visudo -c >/dev/null
    install -m 0600 /dev/null "$keys/ecs-user.password"
    printf '%s\n' "$SUDO_PASSWORD" > "$keys/ecs-user.password"
}

# No systemd at all: sysvinit is PID 1, the rc scripts start sshd
# (/etc/init.d/ssh, pid file /run/sshd.pid). Under systemd-nspawn the lab
# powers a host off with SIGINT (--kill-signal=SIGINT), which init turns into
# the ctrlaltdel action below: a halt, not a reboot.
step_sysv() {
    [[ -n ${LAB_APT_SOURCES:-} ]] || { printf 'image-flavor.sh: sysv needs LAB_APT_SOURCES\n' >&2; exit 1; }
    rm -f "$root/etc/apt/sources.list"
    printf '%s\n' "$LAB_APT_SOURCES" > "$root/etc/apt/sources.list.d/debian.sources"
    # the image has no resolver (the lab network has none); apt needs this
    # machine's while it runs
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    mount -t proc proc "$root/proc"
    trap 'umount "$root/proc" 2>/dev/null || true; : > "$root/etc/resolv.conf"' EXIT
    in_root apt-get -q update
    in_root apt-get -q -y -o Dpkg::Options::=--force-confold install sysvinit-core
    in_root apt-get -q -y purge systemd systemd-sysv libpam-systemd dbus \
        dbus-system-bus-common dbus-session-bus-common dbus-daemon dbus-bin
    in_root apt-get -q -y --purge autoremove
    in_root apt-get clean
    umount "$root/proc"
    : > "$root/etc/resolv.conf"
    trap - EXIT
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root/etc/systemd"
    [[ ! -e $root/usr/lib/systemd/systemd && ! -e $root/lib/systemd/systemd ]]
    [[ -x $root/sbin/init && -x $root/etc/init.d/ssh ]]
    ls "$root"/etc/rc2.d/S*ssh >/dev/null
    # as on the systemd flavors (nftables.service is not enabled), no ruleset
    # is loaded at boot
    if [[ -e $root/etc/init.d/nftables ]]; then in_root update-rc.d nftables disable >/dev/null 2>&1; fi

    # inittab: no gettys (a container has no ttys), ctrlaltdel halts
    local it=$root/etc/inittab
    sed -i -e 's|^\([1-6]\):\([0-9]*\):respawn:/sbin/getty|#&|' \
        -e 's|^ca:[^:]*:ctrlaltdel:.*|ca:12345:ctrlaltdel:/sbin/shutdown -t1 -h now|' "$it"
    grep -qx 'ca:12345:ctrlaltdel:/sbin/shutdown -t1 -h now' "$it"
    ! grep -q '^[1-6]:[0-9]*:respawn:' "$it"
}

case $step in
    shared-keys) step_shared_keys ;;
    socket) step_socket ;;
    sudopw) step_sudopw ;;
    sysv) step_sysv ;;
    *) printf 'image-flavor.sh: unknown step %s\n' "$step" >&2; exit 2 ;;
esac
