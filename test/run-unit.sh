#!/bin/sh
# Run each cmocka unit-test binary with a timeout; print a summary line.
# Exit non-zero when any binary fails, times out or reports a sanitizer error.
set -u
pass=0
fail=0
failed=""
for t in "$@"; do
	name=$(basename "$t")
	log=$(mktemp)
	if ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
		UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
		timeout 120 "$t" >"$log" 2>&1; then
		pass=$((pass + 1))
		n=$(grep -c '^\[       OK \]' "$log")
		echo "  PASS    $name ($n cases)"
	else
		fail=$((fail + 1))
		failed="$failed $name"
		echo "  FAIL    $name"
		sed 's/^/        /' "$log" | tail -40
	fi
	rm -f "$log"
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ] || { echo "failed:$failed"; exit 1; }
