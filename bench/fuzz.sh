#!/bin/bash
# Coverage-guided fuzzing of the parsers (tests/fuzz): builds the libFuzzer targets in build/fuzz
# (the `fuzz` preset: clang, -fsanitize=fuzzer,address,undefined) and runs each one, two at a
# time under nice, with ASan+UBSan and leak detection. Per target it reports the inputs run,
# exec/s, coverage (libFuzzer's cov: and ft:), crashes and leaks.
#
#   bench/fuzz.sh [SECONDS_PER_TARGET | -runs=N]      (default: 60 seconds per target)
#
# TARGETS="policy journal_manifest" picks targets; JOBS=1 runs one at a time. Each target
# starts from its committed seed corpus (tests/fuzz/corpus/NAME) and grows a working copy in
# build/fuzz/bench/corpus/NAME (kept between runs: a second run starts where the first ended);
# crash, leak, timeout and OOM inputs go to build/fuzz/bench/artifacts/NAME/. Minimise one with
#   build/fuzz/bin/fuzz_NAME -minimize_crash=1 -runs=100000 -exact_artifact_path=OUT CRASH
# and commit it under tests/fuzz/corpus/NAME/ (the replay tests then run it on every build).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build/fuzz
work=$build/bench
budget=${1:-60}
jobs=${JOBS:-2}

if [[ $budget == -runs=* ]]; then
  limit=("$budget")
  what="${budget#-runs=} inputs per target"
elif [[ $budget =~ ^[0-9]+$ ]]; then
  limit=("-max_total_time=$budget")
  what="$budget s per target"
else
  echo "usage: $0 [SECONDS_PER_TARGET | -runs=N]" >&2
  exit 2
fi

command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ is needed (apt-get install clang)" >&2; exit 1; }

# tests/CMakeLists.txt adds tests/fuzz; until it does, it is added at the end of the top level.
extra=()
if ! grep -qE '^\s*add_subdirectory\(fuzz\)' "$root/tests/CMakeLists.txt"; then
  mkdir -p "$build"
  echo 'cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL include ${CMAKE_SOURCE_DIR}/tests/fuzz/CMakeLists.txt)' \
    >"$build/add-fuzz.cmake"
  extra=("-DCMAKE_PROJECT_INCLUDE=$build/add-fuzz.cmake")
fi
(cd "$root" && nice -n 15 cmake --preset fuzz "${extra[@]}" >/dev/null)
nice -n 15 cmake --build "$build" --target sshdctl_fuzz_targets -j "$jobs" | grep -vE '^\[[0-9]+/[0-9]+\]' || true

if [[ -z ${TARGETS:-} ]]; then
  TARGETS=$(cd "$root/tests/fuzz/targets" && ls *.cpp | sed 's/\.cpp$//' | tr '\n' ' ')
fi

run_one() {
  local name=$1
  local corpus=$work/corpus/$name artifacts=$work/artifacts/$name log=$work/logs/$name.log
  mkdir -p "$corpus" "$artifacts" "$work/logs"
  local dict=()
  [[ -f $root/tests/fuzz/dict/$name.dict ]] && dict=("-dict=$root/tests/fuzz/dict/$name.dict")
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    SSHDCTL_LENS_DIR=$root/lenses \
    nice -n 15 "$build/bin/fuzz_$name" "${limit[@]}" "${dict[@]}" -max_len=4096 -timeout=30 -rss_limit_mb=3072 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "$root/tests/fuzz/corpus/$name" >"$log" 2>&1 || true
}
export -f run_one
export root build work
export limit_args="${limit[*]}"

echo "fuzzing ($what, $jobs at a time): $TARGETS"
started=$(date +%s)
mkdir -p "$work" && touch "$work/.started"  # crashes and leaks of this run: artifacts newer than this
# shellcheck disable=SC2016
printf '%s\n' $TARGETS | xargs -P "$jobs" -I{} bash -c 'limit=($limit_args); run_one "$@"' _ {}
echo "done in $(($(date +%s) - started)) s; logs in $work/logs"

printf '\n%-22s %12s %9s %7s %8s %8s %6s %s\n' target inputs exec/s cov ft crashes leaks artifacts
for name in $TARGETS; do
  log=$work/logs/$name.log
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  crashes=$(find "$work/artifacts/$name" -type f -newer "$work/.started" \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  leaks=$(find "$work/artifacts/$name" -type f -newer "$work/.started" -name 'leak-*' | wc -l)
  found=$(grep -cE '^==[0-9]+==ERROR|^SUMMARY: |fuzz finding|deadly signal' "$log" || true)
  printf '%-22s %12s %9s %7s %8s %8s %6s %s\n' "$name" "${runs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "$crashes" \
    "$leaks" "$([[ $found -gt 0 ]] && echo "see $log" || echo -)"
done
