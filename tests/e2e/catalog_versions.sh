#!/bin/bash
# The catalog's knowledge of OpenSSH releases against each release's own sshd: for every
# keyword sshdctl knows and for every algorithm name any of the lab's releases knows, on the
# images of Debian 11 (OpenSSH 8.4), 12 (9.2) and 13 (10.0):
#   - `sshdctl --root IMAGE --dry-run set KEY VALUE` (the release read from the image's own
#     sshd -V, the plan fitted to it, then the image's sshd -t) refuses with exit 2, naming the
#     release, exactly the keywords the image's sshd calls a bad option on its own
#     (`sshd -t -o KEY=VALUE`, chrooted), before sshd is even asked, except those it writes
#     under their older name, which that sshd must accept;
#   - every name of the release's `ssh -Q cipher|mac|kex|key-sig` is accepted, every name of
#     the other releases' lists that this one lacks is refused by the catalog (exit 2).
# The images are never written to: everything runs in a private mount namespace with a tmpfs
# on the image's /run (sshd -t wants /run/sshd). Needs root and SSHDCTL_BUILD_DIR.
set -euo pipefail

# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
trap 'rm -rf "$tmp"' EXIT
e2e_require
read -r -a flavors <<<"${CATALOG_FLAVORS:-bullseye bookworm trixie}"

# A value sshd accepts for KEY whenever the release knows KEY (yes/no and enumerations take
# their first value from the catalog).
declare -A sample=(
    [AcceptEnv]=LANG [AllowGroups]=root [AllowUsers]=root [AuthenticationMethods]=publickey
    [AuthorizedKeysCommand]=none [AuthorizedKeysCommandUser]=nobody [AuthorizedKeysFile]=.ssh/authorized_keys
    [AuthorizedPrincipalsCommand]=none [AuthorizedPrincipalsCommandUser]=nobody [AuthorizedPrincipalsFile]=none
    [Banner]=none [CASignatureAlgorithms]=ssh-ed25519 [ChannelTimeout]=session=5m [ChrootDirectory]=none
    [Ciphers]=aes128-ctr [ClientAliveCountMax]=3 [ClientAliveInterval]=30 [DenyGroups]=nogroup [DenyUsers]=nobody
    [ForceCommand]=/bin/true [GSSAPIKexAlgorithms]=gss-curve25519-sha256- [HostbasedAcceptedAlgorithms]=ssh-ed25519
    [HostCertificate]=/etc/ssh/ssh_host_ed25519_key.pub [HostKey]=/etc/ssh/ssh_host_ed25519_key
    [HostKeyAgent]=none [HostKeyAlgorithms]=ssh-ed25519 [IPQoS]="lowdelay throughput" [KexAlgorithms]=curve25519-sha256
    [ListenAddress]=0.0.0.0 [LoginGraceTime]=30 [LogVerbose]=kex.c:*:1000 [MACs]=hmac-sha2-256 [MaxAuthTries]=3
    [MaxSessions]=5 [MaxStartups]=10:30:100 [ModuliFile]=/etc/ssh/moduli [PermitListen]=any [PermitOpen]=any
    [PermitUserEnvironment]=no [PerSourceMaxStartups]=10 [PerSourceNetBlockSize]=32:128
    [PerSourcePenalties]=authfail:5s [PerSourcePenaltyExemptList]=10.0.0.0/8 [PidFile]=/run/sshd.pid [Port]=22
    [PubkeyAcceptedAlgorithms]=ssh-ed25519 [PubkeyAuthOptions]=none [RDomain]=%D [RekeyLimit]="default none"
    [RequiredRSASize]=2048 [RevokedKeys]=none [SecurityKeyProvider]=internal [SetEnv]=LAB=1
    [SshdAuthPath]=/usr/lib/openssh/sshd-auth [SshdSessionPath]=/usr/lib/openssh/sshd-session
    [StreamLocalBindMask]=0177 [Subsystem]="lab /bin/true" [TrustedUserCAKeys]=none [UnusedConnectionTimeout]=1h
    [VersionAddendum]=none [X11DisplayOffset]=10 [XAuthLocation]=/usr/bin/xauth
)

# in_image IMAGE CMD...: CMD chrooted into IMAGE, in a private mount namespace with a tmpfs /run
in_image() {
    local image=$1; shift
    unshare -m --propagation private sh -c \
        'r=$1 && shift && mount -t tmpfs tmpfs "$r/run" && mkdir -p "$r/run/sshd" && exec chroot "$r" "$@"' sh "$image" "$@"
}
# sshdctl_set IMAGE KEY VALUE...: sshdctl's verdict on the image (exit code), its stderr in $tmp/err
sshdctl_set() {
    local image=$1; shift
    local rc=0
    unshare -m --propagation private sh -c 'mount -t tmpfs tmpfs "$1/run" && mkdir -p "$1/run/sshd" && shift && exec "$@"' \
        sh "$image" "$bin" --root "$image" --dry-run set "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    printf '%s' "$rc"
}

declare -A qlist=() release=()
for flavor in "${flavors[@]}"; do
    "$lab" image --flavor "$flavor" >/dev/null 2>"$tmp/image.err" || { cat "$tmp/image.err" >&2; fatal "lab image --flavor $flavor failed"; }
    image=$("$lab" image-dir --flavor "$flavor")
    version=$(in_image "$image" /usr/sbin/sshd -V 2>&1 | grep -o 'OpenSSH_[0-9]*\.[0-9]*' | head -n1 || true)
    [[ -n $version ]] || fatal "$flavor: the image's sshd names no version"
    release[$flavor]=$version
    printf '# %s: %s (%s)\n' "$flavor" "$version" "$image"
    for q in cipher mac kex key-sig; do qlist[$flavor.$q]=$(in_image "$image" /usr/bin/ssh -Q "$q" | sort -u); done
done

for flavor in "${flavors[@]}"; do
    image=$("$lab" image-dir --flavor "$flavor")
    version=${release[$flavor]}
    disagree=0 accepted=0 refused=0 renamed=0
    while read -r keyword first _; do
        [[ $keyword == Include ]] && continue
        value=${sample[$keyword]:-$first}
        [[ -n $value ]] || { bad "$flavor: no sample value for $keyword (add one to this test)"; continue; }
        read -r -a words <<<"$value"
        # sshd knows KEY unless it calls it a bad option (a value it refuses, or a keyword it
        # knows but does not support here, such as RDomain on Linux, still counts as known)
        in_image "$image" /usr/sbin/sshd -t -o "$keyword=$value" >/dev/null 2>"$tmp/sshd.err" || true
        if grep -qi 'Bad configuration option' "$tmp/sshd.err"; then sshd_knows=0; else sshd_knows=1; fi
        rc=$(sshdctl_set "$image" "$keyword" "${words[@]}")
        if ((sshd_knows)) && [[ $rc != 2 ]]; then
            accepted=$((accepted + 1))
        elif ((!sshd_knows)) && [[ $rc == 2 ]] && grep -q "${version/_/ } does not know $keyword" "$tmp/err"; then
            refused=$((refused + 1))
        elif ((!sshd_knows)) && [[ $rc == 0 ]] &&
            old=$(grep -o "$keyword is written as [A-Za-z]*" "$tmp/out" | awk '{ print $NF }') && [[ -n $old ]] &&
            in_image "$image" /usr/sbin/sshd -t -o "$old=$value" >/dev/null 2>&1; then
            renamed=$((renamed + 1))
        else
            disagree=$((disagree + 1))
            bad "$flavor ($version): $keyword $value: sshd $( ((sshd_knows)) && echo knows || echo 'does not know') it, sshdctl exits $rc" \
                "sshd: $(head -c 300 "$tmp/sshd.err")
sshdctl: $(head -c 300 "$tmp/err")"
        fi
    done < <("$bin" --list-keywords)
    # (every keyword of the catalog was asked: an empty list would prove nothing)
    ((accepted + renamed + refused + disagree >= 90)) || bad "$flavor: only $((accepted + renamed + refused + disagree)) keywords were asked"
    ((disagree == 0)) && ok "$flavor ($version): the catalog agrees with sshd -t on every keyword ($accepted known, $renamed written under their older name, $refused refused with the release named)"

    # algorithm names: the union of every release's lists
    for pair in cipher:Ciphers mac:MACs kex:KexAlgorithms key-sig:PubkeyAcceptedAlgorithms; do
        q=${pair%%:*} keyword=${pair#*:}
        mine=${qlist[$flavor.$q]}
        union=$(for f in "${flavors[@]}"; do printf '%s\n' "${qlist[$f.$q]}"; done | sort -u)
        wrong=0 names=0
        while read -r name; do
            [[ -n $name ]] || continue
            names=$((names + 1))
            rc=$(sshdctl_set "$image" "$keyword" "$name")
            if grep -qxF "$name" <<<"$mine"; then
                [[ $rc == 0 ]] || { wrong=$((wrong + 1)); bad "$flavor: $keyword $name is in its ssh -Q $q, but sshdctl exits $rc" "$(head -c 300 "$tmp/err")"; }
            else
                [[ $rc == 2 ]] || { wrong=$((wrong + 1)); bad "$flavor: $keyword $name is not in its ssh -Q $q, but the catalog lets it through (exit $rc)" "$(head -c 300 "$tmp/err")"; }
            fi
        done <<<"$union"
        ((names >= 10)) || bad "$flavor: only $names $q names were asked"
        ((wrong == 0)) && ok "$flavor ($version): $keyword: the catalog's names agree with ssh -Q $q ($names names of ${#flavors[@]} releases)"
    done
done
finish
