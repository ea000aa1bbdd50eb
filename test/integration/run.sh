#!/bin/sh
# Run every integration test (test/integration/test_*.py and test_*.sh) in
# its own process with a timeout. Tests find the programs in $BUILD.
# Prints "integration: N passed, N failed" and fails when any test failed.
# ONLY=WORD runs the tests whose path holds WORD.
set -u
: "${BUILD:=build}"
export BUILD
export HT_ROOT="$(pwd)"
pass=0
fail=0
failed=""
for t in test/integration/test_*.py test/integration/test_*.sh; do
	[ -f "$t" ] || continue
	case "${ONLY:-}" in
	"") ;;
	*) case "$t" in *"$ONLY"*) ;; *) continue ;; esac ;;
	esac
	name=$(basename "$t")
	log=$(mktemp)
	start=$(date +%s)
	case "$t" in
	*.py) cmd="/usr/bin/python3 $t" ;;
	*) cmd="sh $t" ;;
	esac
	if ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
		UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
		timeout -k 5 ${TEST_TIMEOUT:-300} $cmd >"$log" 2>&1; then
		pass=$((pass + 1))
		echo "  PASS    $name ($(($(date +%s) - start))s)"
	else
		fail=$((fail + 1))
		failed="$failed $name"
		echo "  FAIL    $name ($(($(date +%s) - start))s)"
		sed 's/^/        /' "$log" | tail -60
	fi
	rm -f "$log"
done
echo "integration: $pass passed, $fail failed"
[ "$fail" -eq 0 ] || { echo "failed:$failed"; exit 1; }
