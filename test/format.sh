#!/bin/sh
# Part of `make test`: every C file of the project is formatted as
# .clang-format says. Prints the files that are not and fails; fix them with
#   make format
# The check needs Debian 12's clang-format (version 14): other versions
# format some constructs differently, so they only get a note.
set -u
cd "$(dirname "$0")/.."
files=$(git ls-files 'src/*.c' 'src/*.h' 'include/*.h' 'test/*.c' 'test/*.h' 'bench/*.c' 'bench/*.h' 2>/dev/null ||
	find src include test bench -name '*.[ch]')
if ! command -v clang-format >/dev/null 2>&1; then
	echo "format: clang-format missing (sh third_party/deps.sh test installs it)" >&2
	exit 1
fi
major=$(clang-format --version | sed -n 's/.*version \([0-9]*\).*/\1/p')
if [ "$major" != 14 ]; then
	echo "format: clang-format $major is not 14: the check is skipped"
	exit 0
fi
bad=""
for f in $files; do
	clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad="$bad $f"
done
if [ -n "$bad" ]; then
	echo "format: not formatted as .clang-format says (make format):"
	for f in $bad; do echo "  $f"; done
	exit 1
fi
echo "format: $(echo $files | wc -w) files as .clang-format says"
