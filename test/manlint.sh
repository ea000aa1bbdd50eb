#!/bin/sh
# Part of `make test` (and `make check`): every manual page (man/*.1,
# man/*.8) passes mandoc's lint with nothing to say at level warning:
# sections in the conventional order, no empty or misplaced macros.
# Prints mandoc's messages and fails when there are any.
set -u
cd "$(dirname "$0")/.."
if ! command -v mandoc >/dev/null 2>&1; then
	echo "manlint: mandoc missing (sh third_party/deps.sh test installs it)" >&2
	exit 1
fi
pages=$(ls man/*.1 man/*.8 2>/dev/null)
if [ -z "$pages" ]; then
	echo "manlint: no manual pages under man/" >&2
	exit 1
fi
# shellcheck disable=SC2086 # one word per page
out=$(mandoc -Tlint -W warning $pages 2>&1)
if [ -n "$out" ]; then
	echo "manlint: mandoc -Tlint -W warning has something to say:"
	printf '%s\n' "$out" | sed 's/^/  /'
	exit 1
fi
echo "manlint: $(echo $pages | wc -w) pages pass mandoc -Tlint -W warning"
