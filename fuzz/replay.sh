#!/bin/sh
# Replay the committed corpora (fuzz/corpus/NAME/) through the harnesses, one process per input,
# so that every invariant and (in a sanitizer build) every sanitizer check runs on every seed.
# Run by make check from the top build directory; uses fuzz/replay_NAME (gcc, standalone_main.c)
# or, in an --enable-fuzzing build, the libFuzzer binary fuzz/fuzz_NAME.
#
# Environment: FUZZ_BIN_DIR (default: fuzz), FUZZ_CORPUS_DIR (default: the corpus next to this
# script), FUZZ_TARGETS (default: response config secretname).
set -u
here=$(cd "$(dirname "$0")" && pwd)
corpus=${FUZZ_CORPUS_DIR:-$here/corpus}
bindir=${FUZZ_BIN_DIR:-fuzz}
targets=${FUZZ_TARGETS:-response config secretname}
pass=0
fail=0

for t in $targets; do
	bin=$bindir/replay_$t
	[ -x "$bin" ] || bin=$bindir/fuzz_$t
	if [ ! -x "$bin" ]; then
		echo "FAIL: neither $bindir/replay_$t nor $bindir/fuzz_$t was built"
		fail=$((fail + 1))
		continue
	fi
	n=0
	for f in "$corpus/$t"/*; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		if out=$("$bin" "$f" 2>&1); then
			pass=$((pass + 1))
		else
			fail=$((fail + 1))
			echo "FAIL: $t: $f"
			printf '%s\n' "$out" | tail -n 30 | sed 's/^/    /'
		fi
	done
	if [ "$n" = 0 ]; then
		echo "FAIL: no inputs in $corpus/$t"
		fail=$((fail + 1))
	else
		echo "$t: $n inputs replayed through $bin"
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
