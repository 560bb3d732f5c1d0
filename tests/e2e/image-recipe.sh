#!/bin/bash
# Customisation of the lab image, run by `lab image` on the build machine
# after debootstrap has populated ROOT. Its text is part of the image hash:
# editing this file makes the next `lab image` build a fresh image.
#
# usage: image-recipe.sh ROOT KEYS_DIR
#   ROOT      the debootstrapped tree (becomes the read-only host image)
#   KEYS_DIR  receives the ecs-user private key and the host public keys
#   env LAB_APT_SOURCES  deb822 sources to upgrade from (optional)
set -euo pipefail

root=$1
keys=$2

in_root() { chroot "$root" /usr/bin/env -i \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }

# --- 1. bring the image to the same point release / security level as the
#        build machine, from the mirrors the build machine is configured with
if [[ -n ${LAB_APT_SOURCES:-} ]]; then
    rm -f "$root/etc/apt/sources.list"
    printf '%s\n' "$LAB_APT_SOURCES" > "$root/etc/apt/sources.list.d/debian.sources"
    mount -t proc proc "$root/proc"
    trap 'umount "$root/proc" 2>/dev/null || true' EXIT
    in_root apt-get -q update
    in_root apt-get -q -y -o Dpkg::Options::=--force-confold upgrade
    in_root apt-get clean
    umount "$root/proc"
    trap - EXIT
fi
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin

# --- 2. cloud-image defaults
# ecs-user: bash, passwordless sudo, key login only
in_root useradd -m -s /bin/bash -G sudo ecs-user
in_root passwd -l ecs-user >/dev/null
in_root passwd -l root >/dev/null
printf 'ecs-user ALL=(ALL) NOPASSWD:ALL\n' > "$root/etc/sudoers.d/90-cloud-init-users"
chmod 0440 "$root/etc/sudoers.d/90-cloud-init-users"

install -d -m 0700 "$keys"
ssh-keygen -q -t ed25519 -N '' -C ecs-user@sshdctl-lab -f "$keys/id_ed25519"
chmod 0600 "$keys/id_ed25519"
install -d -m 0700 "$root/home/ecs-user/.ssh"
install -m 0600 "$keys/id_ed25519.pub" "$root/home/ecs-user/.ssh/authorized_keys"
in_root chown -R ecs-user:ecs-user /home/ecs-user/.ssh

# sshd: root login refused, passwords refused (as cloud-init leaves it)
sed -i 's/^#\?PermitRootLogin .*/PermitRootLogin no/' "$root/etc/ssh/sshd_config"
grep -qx 'PermitRootLogin no' "$root/etc/ssh/sshd_config"
install -d "$root/etc/ssh/sshd_config.d"
printf 'PasswordAuthentication no\n' > "$root/etc/ssh/sshd_config.d/50-cloud-init.conf"

# host keys: one set, shared by every lab host; public halves go to KEYS_DIR
# so the lab can write a known_hosts file and clients can check strictly
rm -f "$root"/etc/ssh/ssh_host_*
in_root ssh-keygen -A >/dev/null
cp "$root"/etc/ssh/ssh_host_*_key.pub "$keys/"

# --- 3. identity: the machine name (-M) is the hostname, each boot gets a
#        fresh machine id, no DNS (the lab network has no resolver)
rm -f "$root/etc/hostname"
: > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
: > "$root/etc/resolv.conf"
printf 'LANG=C.UTF-8\n' > "$root/etc/default/locale"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"

# --- 4. fast, quiet boot in a container. The network is configured from
#        outside (the lab sets the address in the host's network namespace
#        before boot), so nothing inside touches it.
for unit in \
    systemd-networkd-wait-online.service systemd-networkd.service \
    systemd-networkd.socket systemd-resolved.service systemd-timesyncd.service \
    getty.target console-getty.service getty@tty1.service \
    e2scrub_reap.service e2scrub_all.timer apt-daily.timer \
    apt-daily-upgrade.timer fstrim.timer man-db.timer \
    systemd-firstboot.service systemd-journal-flush.service \
    ; do
    in_root systemctl mask "$unit" >/dev/null 2>&1
done
in_root systemctl enable ssh.service >/dev/null 2>&1
in_root systemctl set-default multi-user.target >/dev/null 2>&1

# journal in memory only: the image is shared and read-only
install -d "$root/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\nRuntimeMaxUse=8M\n' \
    > "$root/etc/systemd/journald.conf.d/10-lab.conf"
