#!/bin/bash
# fuzz/run.sh SECONDS [TARGET...]
#
# Build the libFuzzer harnesses with clang (ASan + UBSan) in build-fuzz/ and run each TARGET
# (response, config, secretname; default all three) for SECONDS on a scratch copy of its
# committed corpus, with leak detection. Exits non-zero if any run crashes, times out, leaks,
# runs out of memory or prints a sanitizer report. Prints one summary line per target and a
# final "N passed, M failed".
#
# Environment:
#   FUZZ_BUILD_DIR        build directory (default: build-fuzz next to configure)
#   FUZZ_CC               compiler (default: clang)
#   FUZZ_CONFIGURE_FLAGS  extra configure flags (default: --enable-werror)
#   FUZZ_JOBS             parallel fuzzers (default: 1 unless there is a CPU per target)
#   FUZZ_ARGS             extra libFuzzer arguments for every target
# Crash inputs land in $FUZZ_BUILD_DIR/fuzz-run/TARGET/artifacts/; reproduce with
#   $FUZZ_BUILD_DIR/fuzz/fuzz_TARGET ARTIFACT
# and, once fixed, add the input to fuzz/corpus/TARGET/ (and to FUZZ_CORPUS in fuzz/Makefile.inc).
set -uo pipefail

usage() {
	echo "usage: $0 SECONDS [response|config|secretname]..." >&2
	exit 64
}
[ $# -ge 1 ] || usage
secs=$1
shift
case $secs in '' | *[!0-9]*) usage ;; esac
[ "$secs" -gt 0 ] || usage
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(response config secretname)
for t in "${targets[@]}"; do
	case $t in response | config | secretname) ;; *) usage ;; esac
done

top=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$top/build-fuzz}
ncpu=$(nproc 2>/dev/null || echo 1)
jobs=${FUZZ_JOBS:-$([ "$ncpu" -ge ${#targets[@]} ] && echo ${#targets[@]} || echo 1)}

die() {
	echo "fuzz/run.sh: $*" >&2
	echo "0 passed, ${#targets[@]} failed"
	exit 1
}

# ---- build -------------------------------------------------------------------------------
if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ]; then
	(cd "$top" && autoreconf -fi) >/dev/null 2>&1 || die "autoreconf -fi failed"
fi
mkdir -p "$build" || die "cannot create $build"
build=$(cd "$build" && pwd)
if [ ! -f "$build/config.status" ] || [ "$top/configure" -nt "$build/config.status" ] ||
	! grep -q '^S\["ENABLE_FUZZING_TRUE"\]=""' "$build/config.status"; then
	extra_flags=${FUZZ_CONFIGURE_FLAGS-"--enable-werror"}
	# no _FORTIFY_SOURCE: its __*_chk wrappers would hide accesses from ASan
	# shellcheck disable=SC2086
	(cd "$build" && "$top/configure" CC="${FUZZ_CC:-clang}" CFLAGS="-g -O1" \
		CPPFLAGS="-U_FORTIFY_SOURCE" --enable-fuzzing $extra_flags) \
		>"$build/fuzz-configure.log" 2>&1 ||
		{ tail -n 20 "$build/fuzz-configure.log" >&2; die "configure --enable-fuzzing failed"; }
fi
bins=()
for t in "${targets[@]}"; do bins+=("fuzz/fuzz_$t"); done
make -C "$build" -s -j"$ncpu" "${bins[@]}" >"$build/fuzz-make.log" 2>&1 ||
	{ tail -n 40 "$build/fuzz-make.log" >&2; die "building the fuzzers failed"; }

# ---- run -----------------------------------------------------------------------------------
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

run_one() {
	local t=$1 work=$build/fuzz-run/$1 bin=$build/fuzz/fuzz_$1 args rc
	rm -rf "$work"
	mkdir -p "$work/corpus" "$work/artifacts"
	cp "$top/fuzz/corpus/$t/"* "$work/corpus/"
	find "$work/corpus" -type f | wc -l >"$work/seeds"
	args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -detect_leaks=1
		-print_final_stats=1 -artifact_prefix="$work/artifacts/")
	case $t in
	response) args+=(-max_len=65536 -dict="$top/fuzz/response.dict") ;;
	config) args+=(-max_len=65536 -dict="$top/fuzz/config.dict") ;;
	secretname) args+=(-max_len=4096) ;;
	esac
	# shellcheck disable=SC2086
	timeout --signal=KILL $((secs + 300)) "$bin" "${args[@]}" ${FUZZ_ARGS:-} "$work/corpus" \
		>"$work/log" 2>&1
	rc=$?
	echo "$rc" >"$work/rc"
}

summarise() {
	local t=$1 work=$build/fuzz-run/$1 rc execs rate cov seeds now why=""
	rc=$(cat "$work/rc" 2>/dev/null || echo 99)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -n 1)
	cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$work/log" | tail -n 1)
	seeds=$(cat "$work/seeds")
	now=$(find "$work/corpus" -type f | wc -l)
	[ "$rc" = 0 ] || why="exit status $rc"
	if grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY: (Address|Leak|Undefined)|invariant violated|deadly signal|==[0-9]+== ?ERROR' "$work/log"; then
		why="${why:+$why, }sanitizer or invariant report"
	fi
	if [ -n "$(ls -A "$work/artifacts")" ]; then
		why="${why:+$why, }artifacts: $(ls "$work/artifacts" | tr '\n' ' ')"
	fi
	if [ -z "$execs" ]; then
		why="${why:+$why, }no final stats"
	fi
	if [ -z "$why" ]; then
		echo "PASS fuzz_$t: ${execs} execs in ${secs}s (${rate}/s), corpus ${seeds} -> ${now} inputs, ${cov:-cov ?}"
		return 0
	fi
	echo "FAIL fuzz_$t: $why (log: $work/log)"
	grep -E -A 25 'ERROR: |runtime error:|invariant violated|deadly signal' "$work/log" | head -n 60 |
		sed 's/^/    /'
	return 1
}

i=0
for t in "${targets[@]}"; do
	run_one "$t" &
	i=$((i + 1))
	if [ $((i % jobs)) = 0 ]; then wait; fi
done
wait

pass=0
fail=0
for t in "${targets[@]}"; do
	if summarise "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
