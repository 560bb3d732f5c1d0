#!/bin/bash
# Benchmarks of the lab itself: image build/reuse time, time for `lab up N`
# until every host accepts a key login, `lab down`, and memory per host.
#
# usage: lab_bench.sh [N...]        (default: 1 10 20; root)
# Memory is reported two ways, 5 s after the hosts are ready:
#   pss   sum of the proportional set size of every process of every host
#   cgroup  growth of a cgroup-v1 memory group holding the lab (processes,
#         tmpfs overlays, the hosts' kernel memory, page cache first touched
#         by the hosts), when this machine allows creating one
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lab=$here/lab
prefix=bench
counts=("$@")
((${#counts[@]})) || counts=(1 10 20)

trap '"$lab" down --prefix "$prefix" >/dev/null 2>&1 || true' EXIT

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

t0=$(date +%s.%N)
"$lab" image >/dev/null
printf 'image (build or reuse): %s s\n' "$(secs "$t0" "$(date +%s.%N)")"

pss_of_prefix() {
    local st=/run/sshdctl-lab/$prefix npid init ns total=0 kb p
    while read -r _ npid; do
        init=$(cat /proc/"$npid"/task/*/children | tr ' ' '\n' | grep -m1 . )
        ns=$(readlink /proc/"$init"/ns/pid)
        for p in /proc/[0-9]*; do
            [[ $(readlink "$p/ns/pid" 2>/dev/null) == "$ns" ]] || continue
            kb=$(awk '/^Pss:/ { print $2 }' "$p/smaps_rollup" 2>/dev/null || echo 0)
            total=$((total + ${kb:-0}))
        done
    done <"$st/pids"
    printf '%s' "$total"
}

# a memory cgroup (v1) for the lab processes, if possible
cg=""
parent=/sys/fs/cgroup/memory$(awk -F: '$2 == "memory" { print $3 }' /proc/self/cgroup 2>/dev/null || true)
if [[ -w $parent && -f $parent/memory.usage_in_bytes ]]; then
    cg=$parent/sshdctl-lab-bench-$$
    mkdir "$cg" && echo "$BASHPID" >"$cg/cgroup.procs" || cg=""
fi

for n in "${counts[@]}"; do
    sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
    base=0; [[ -n $cg ]] && base=$(<"$cg/memory.usage_in_bytes")
    t0=$(date +%s.%N)
    "$lab" up "$n" --prefix "$prefix" >/dev/null 2>/tmp/lab_bench.$$.err \
        || { cat /tmp/lab_bench.$$.err >&2; exit 1; }
    t1=$(date +%s.%N)
    line="up $n: $(secs "$t0" "$t1") s"
    if :; then
        sleep 5
        pss=$(pss_of_prefix)
        line+=", pss $((pss / 1024)) MiB total, $((pss / n / 1024)) MiB/host"
        if [[ -n $cg ]]; then
            use=$(( $(<"$cg/memory.usage_in_bytes") - base ))
            line+=", cgroup +$((use / 1048576)) MiB total, $((use / n / 1048576)) MiB/host"
        fi
    fi
    t0=$(date +%s.%N)
    "$lab" down --prefix "$prefix" 2>/dev/null
    line+=", down $(secs "$t0" "$(date +%s.%N)") s"
    printf '%s\n' "$line"
done
rm -f /tmp/lab_bench.$$.err
if [[ -n $cg ]]; then
    echo "$BASHPID" >"$parent/cgroup.procs"
    rmdir "$cg" 2>/dev/null || true
fi
