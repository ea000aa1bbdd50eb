#!/bin/sh
# Run each libFuzzer target for a bounded time on its seed corpus.
# Usage: smoke.sh SECONDS BIN...
# The random seed is fixed (FUZZ_SEED, default 1) so a run can be repeated;
# FUZZ_SEED=0 lets libFuzzer pick one, for longer runs that look further.
set -u
secs=$1
shift
fail=0
pass=0
for bin in "$@"; do
	name=$(basename "$bin")
	corpus=test/fuzz/corpus/$name
	work=$(mktemp -d)
	[ -d "$corpus" ] && cp -r "$corpus"/. "$work"/ 2>/dev/null
	dict=""
	[ -f "test/fuzz/$name.dict" ] && dict="-dict=test/fuzz/$name.dict"
	echo "  FUZZ    $name (${secs}s)"
	if ! "$bin" -seed="${FUZZ_SEED:-1}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
		-artifact_prefix="$work/" $dict "$work" >"$work.log" 2>&1; then
		fail=$((fail + 1))
		echo "  FAIL    $name"
		tail -40 "$work.log"
		ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* 2>/dev/null
	else
		pass=$((pass + 1))
		grep -E '^#[0-9]+.*DONE' "$work.log" | tail -1
	fi
	rm -rf "$work" "$work.log"
done
echo "fuzz-smoke: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
