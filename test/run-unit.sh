#!/bin/sh
# Run each cmocka unit-test binary with a timeout; print a summary line.
# Cases cmocka reports as "[  SKIPPED ]" are listed and counted apart from
# the passed ones; a line "skipped: REASON" that a case prints before it
# skips (the feature this CPU lacks, say) is shown beside its name.
# Exit non-zero when any binary fails, times out or reports a sanitizer error.
set -u
pass=0
fail=0
skipped=0
failed=""
for t in "$@"; do
	name=$(basename "$t")
	log=$(mktemp)
	if ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
		UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
		timeout 120 "$t" >"$log" 2>&1; then
		pass=$((pass + 1))
		n=$(grep -c '^\[       OK \]' "$log")
		# A skipped case: "[  SKIPPED ] name" as the result of its "[ RUN      ] name"
		# (cmocka repeats the names in its summary; those are not counted).
		skips=$(awk '/^\[ RUN      \] /{run = substr($0, 14); why = ""; next}
			/^skipped: /{if (run != "") why = substr($0, 10); next}
			/^\[  SKIPPED \] /{if (run != "" && substr($0, 14) == run) print run (why != "" ? ": " why : "")
				run = ""; next}
			/^\[       OK \] |^\[  FAILED  \] /{run = ""}' "$log")
		k=$(printf '%s' "$skips" | grep -c .)
		skipped=$((skipped + k))
		if [ "$k" -gt 0 ]; then
			echo "  PASS    $name ($n cases, $k skipped)"
			printf '%s\n' "$skips" | sed 's/^/  SKIP    /'
		else
			echo "  PASS    $name ($n cases)"
		fi
	else
		fail=$((fail + 1))
		failed="$failed $name"
		echo "  FAIL    $name"
		sed 's/^/        /' "$log" | tail -40
	fi
	rm -f "$log"
done
echo "unit: $pass passed, $fail failed, $skipped cases skipped"
[ "$fail" -eq 0 ] || { echo "failed:$failed"; exit 1; }
