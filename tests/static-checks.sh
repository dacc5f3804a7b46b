#!/bin/sh
# Static analysis: cppcheck, clang-tidy (.clang-tidy) and clang-format (.clang-format) over
# src/, tests/, fuzz/ and bench/.
# Usage: tests/static-checks.sh BUILDDIR   (BUILDDIR holds the generated buildconf.h)
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: static-checks.sh BUILDDIR}
cd "$src"
fail=0
# Suppressions, each for a reason:
#  missingIncludeSystem   system headers are not cppcheck's business
#  unusedStructMember     in tests/, the rows are read inside check's START_TEST macros,
#                         which cppcheck cannot expand without check.h
if cppcheck --enable=warning,style,performance,portability --std=c11 --error-exitcode=1 \
	--inline-suppr --quiet -I src -I "$build" \
	--suppress=missingIncludeSystem --suppress='unusedStructMember:tests/*' \
	src/*.c tests/*.c fuzz/*.c bench/*.c; then
	echo "cppcheck: clean"
else
	echo "cppcheck: FAILED"; fail=1
fi
# shellcheck disable=SC2046
if clang-tidy --quiet src/*.c tests/*.c fuzz/*.c bench/*.c -- -std=gnu11 -I src -I tests -I fuzz -I "$build" \
	$(pkg-config --cflags libcurl json-c inih check) 2>/dev/null | grep -E "(warning|error):"; then
	echo "clang-tidy: FAILED"; fail=1
elif [ "$(clang-tidy --quiet src/util.c -- -std=gnu11 -I src -I "$build" >/dev/null 2>&1; echo $?)" != 0 ]; then
	echo "clang-tidy: could not run"; fail=1
else
	echo "clang-tidy: clean"
fi
# the layout: clang-format -i --style=file on the files it names puts it right
if unformatted=$(for f in src/*.[ch] tests/*.[ch] fuzz/*.[ch] bench/*.c; do
	clang-format --style=file --dry-run --Werror "$f" >/dev/null 2>&1 || echo "$f"
done) && [ -z "$unformatted" ]; then
	echo "clang-format: clean"
else
	echo "clang-format: FAILED (clang-format -i --style=file" $unformatted ")"; fail=1
fi
[ "$fail" = 0 ] && echo "3 passed, 0 failed" || echo "static checks failed"
exit $fail
