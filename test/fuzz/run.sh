#!/usr/bin/env bash
#
# test/fuzz/run.sh
#	Fuzz the stock-update CSV reader (src/csv_reader.c) for a bounded time.
#
# Builds fuzz/csv_reader_fuzz.c with the reader and libcsv under clang's
# libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer, then:
#
#	1. replays every input in fuzz/regressions/ (inputs that once crashed
#	   the reader) and fuzz/corpus/ (the seeds): any failure fails the suite;
#	2. fuzzes for INV_FUZZ_SECONDS seconds (default 45) from the seeds, in a
#	   scratch corpus.  An input that crashes is copied into
#	   fuzz/regressions/ under its hash, so that the next run replays it,
#	   and the suite fails; commit the file with the fix.
#
# Needs clang and its libFuzzer runtime (libclang-rt-14-dev on Debian 12)
# and libcsv-dev.  Exits 77 (skipped) when clang cannot build a fuzzer here.

set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${INV_FUZZ_SECONDS:-45}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cc=${INV_FUZZ_CC:-clang}
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "no $cc: cannot build the fuzz target"
	exit 77
fi

# Build; a machine without the libFuzzer runtime skips rather than fails
if ! "$cc" -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -I"$root/src" \
	"$root/fuzz/csv_reader_fuzz.c" "$root/src/csv_reader.c" -lcsv \
	-o "$work/csv_reader_fuzz" 2>"$work/build.log"; then
	if grep -q "libclang_rt.fuzzer\|fuzzer.*not found\|cannot find" "$work/build.log"; then
		cat "$work/build.log"
		echo "clang has no libFuzzer runtime here: skipped"
		exit 77
	fi
	cat "$work/build.log"
	echo "not ok 1 - the fuzz target does not build"
	exit 1
fi
echo "ok 1 - fuzz target built with libFuzzer, ASan and UBSan"

# Replay the regression inputs and the seeds
failed=0
inputs=("$root"/fuzz/regressions/* "$root"/fuzz/corpus/*)
if "$work/csv_reader_fuzz" -runs=0 "${inputs[@]}" >"$work/replay.log" 2>&1; then
	echo "ok 2 - ${#inputs[@]} regression and seed inputs replayed cleanly"
else
	tail -30 "$work/replay.log"
	echo "not ok 2 - a regression or seed input fails"
	failed=1
fi

# Fuzz for a bounded time
mkdir -p "$work/corpus" "$work/crashes"
cp "$root"/fuzz/corpus/* "$work/corpus/"
"$work/csv_reader_fuzz" -max_total_time="$seconds" -max_len=8192 \
	-timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
	-artifact_prefix="$work/crashes/" "$work/corpus" >"$work/fuzz.log" 2>&1
rc=$?
runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/fuzz.log" | grep -o '[0-9]*$')
crashes=("$work"/crashes/*)
if ((rc == 0)) && [[ ! -e ${crashes[0]} ]]; then
	echo "ok 3 - fuzzed for ${seconds}s: ${runs:-?} inputs, no crash"
else
	tail -40 "$work/fuzz.log"
	for f in "${crashes[@]}"; do
		[[ -e $f ]] || continue
		name=$(basename "$f")
		cp "$f" "$root/fuzz/regressions/$name"
		echo "# crash input kept as fuzz/regressions/$name"
	done
	echo "not ok 3 - the fuzzer found a failing input (exit status $rc)"
	failed=1
fi

exit "$failed"
