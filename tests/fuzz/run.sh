#!/usr/bin/env bash
# Builds the libFuzzer targets (build-fuzz/, clang, ASan + UBSan) if needed and runs each
# one for SECONDS on a copy of its corpus, so that the repository is never modified.
# Fails when a target crashes, leaks, times out or runs out of memory.
#   tests/fuzz/run.sh 30                 every target, 30 s each (CI)
#   tests/fuzz/run.sh 600 segment        one target
# Crashing inputs are kept in $FUZZ_ARTIFACTS (default: a temp dir, printed).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-30}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(config status_line peer_name http_request segment response); fi
build="${FUZZ_BUILD_DIR:-build-fuzz}"

if [ ! -f "$build/build.ninja" ]; then
  CC=clang CXX=clang++ meson setup "$build" -Dfuzzing=true -Db_sanitize=address,undefined \
    -Db_lundef=false -Dtests=disabled -Dbenchmarks=disabled \
    -Dcpp_args=-fsanitize=fuzzer-no-link
fi
ninja -C "$build" $(for t in "${targets[@]}"; do echo "tests/fuzz/${t}_fuzz"; done)

work="$(mktemp -d)"
artifacts="${FUZZ_ARTIFACTS:-$work/artifacts}"
mkdir -p "$artifacts"
trap 'rm -rf "$work/corpus"' EXIT  # logs (and artifacts) stay when a target fails
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=()
for t in "${targets[@]}"; do
  rm -rf "$work/corpus"
  mkdir -p "$work/corpus"
  cp -r "tests/fuzz/corpus/$t/." "$work/corpus/"
  chmod -R u+w "$work/corpus"
  dict=()
  if [ -f "tests/fuzz/$t.dict" ]; then dict=("-dict=tests/fuzz/$t.dict"); fi
  # Inputs too large for the corpus (they would raise libFuzzer's max_len): run once each.
  if [ -d "tests/fuzz/regress/$t" ] &&
      ! "$build/tests/fuzz/${t}_fuzz" tests/fuzz/regress/"$t"/* 2>"$work/$t.log"; then
    tail -n 60 "$work/$t.log"
    failed+=("$t")
    continue
  fi
  echo "== fuzz $t for ${seconds}s ($(find "$work/corpus" -type f | wc -l) seeds)"
  if ! "$build/tests/fuzz/${t}_fuzz" "$work/corpus" "${dict[@]}" \
      -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$artifacts/$t-" 2>"$work/$t.log"; then
    tail -n 60 "$work/$t.log"
    failed+=("$t")
  else
    grep -E "^stat::number_of_executed_units|^Done" "$work/$t.log" || true
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (inputs in $artifacts, logs in $work)" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${seconds}s without a crash"
rm -rf "$work"
