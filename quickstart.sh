#!/bin/bash
# quickstart.sh demo | test | fuzz [SECONDS]   (Debian 12, as root: installs what it needs)
#
#   demo  build, start a local CSMS stand-in (TLS on 127.0.0.1) and run real PAM
#         transactions through pam_csms.so, printing each decision
#   test  build with --enable-werror and run every test: make check, Huawei's Node.js SDK
#         checking the module's AK/SK signatures (npm registry), the installed-system
#         tests (.deb in a debootstrap root: su, sudo, sshd), the ASan+UBSan build's
#         make check, the PAM-stack tests under valgrind, cppcheck and clang-tidy, a
#         smoke run of bench/run,
#         each libFuzzer harness for CSMS_FUZZ_SECONDS (default 30), make distcheck
#   fuzz [SECONDS]  only the libFuzzer harnesses (fuzz/run.sh: clang, ASan+UBSan, in
#         build-fuzz/), SECONDS each (default 60)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
build=$here/build
jobs=$(nproc 2>/dev/null || echo 2)

DEPS=(build-essential autoconf automake libtool pkg-config
      libcurl4-openssl-dev libjson-c-dev libinih-dev libpam0g-dev libpam-modules check
      python3 openssl ca-certificates binutils)
TEST_DEPS=(valgrind cppcheck clang-tidy clang faketime debhelper debootstrap lintian devscripts
           libclang-rt-14-dev curl jq)

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'quickstart.sh: %s\n' "$*" >&2; exit 1; }

install_deps() {
	local missing=() p
	for p in "${DEPS[@]}" "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" = 0 ] || die "missing packages (${missing[*]}); run as root or install them"
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

configure_build() {
	say "building in $build"
	[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi >/dev/null
	mkdir -p "$build"
	(cd "$build" && "$here/configure" --enable-werror "$@" >/dev/null)
	make -C "$build" -s -j"$jobs"
}

demo_pid=
demo_run=

demo_cleanup() {
	[ -n "$demo_pid" ] && kill "$demo_pid" 2>/dev/null && wait "$demo_pid" 2>/dev/null
	[ -n "$demo_run" ] && rm -rf "$demo_run"
	return 0
}

demo() {
	local run pki port token conf confdir user
	install_deps
	configure_build
	run=$(mktemp -d /tmp/pam_csms-demo.XXXXXX)
	demo_run=$run
	trap demo_cleanup EXIT
	chmod 700 "$run"
	pki=$build/tests/pki
	sh tests/gen-pki.sh "$pki"
	token=demo-iam-token-0123456789abcdefghij
	python3 tests/csms_standin.py --pki "$pki" --port-file "$run/port" --log "$run/requests.jsonl" \
		--project 0123456789abcdef0123456789abcdef --token "$token" \
		--map alice=ENABLED,bob=DISABLED,carol=FROZEN,dave=PENDING_DELETE,erin=nf404 \
		--states "$run/states" --exit-with-parent 2>"$run/standin.err" &
	demo_pid=$!
	for _ in $(seq 100); do [ -s "$run/port" ] && break; sleep 0.1; done
	[ -s "$run/port" ] || die "the stand-in did not start: $(cat "$run/standin.err")"
	port=$(cat "$run/port")

	printf '%s\n' "$token" >"$run/token"
	chmod 600 "$run/token"
	conf=$run/pam_csms.conf
	cat >"$conf" <<EOC
[csms]
endpoint = https://127.0.0.1:$port
project_id = 0123456789abcdef0123456789abcdef
token_file = $run/token
ca_file = $pki/ca.pem
timeout = 2s
deny_message = Your access to this host is switched off in CSMS.
EOC
	chmod 644 "$conf"
	confdir=$run/pam.d
	mkdir -p "$confdir"
	# the service file names the module by absolute path, as a test stack would
	printf 'account required %s conf=%s\nauth required %s conf=%s\n' \
		"$build/src/.libs/pam_csms.so" "$conf" "$build/src/.libs/pam_csms.so" "$conf" \
		>"$confdir/demo-sshd"
	sed "s|conf=$conf|conf=$conf endpoint=https://127.0.0.1:1|" "$confdir/demo-sshd" \
		>"$confdir/demo-down"
	sed "s|conf=$conf|conf=$conf cache_dir=$run/cache cache_ttl=2s offline_grace=1h retries=0|" \
		"$confdir/demo-sshd" >"$confdir/demo-cached"
	sed "s|conf=$conf|conf=$conf secret=%u,fleet-access|" "$confdir/demo-sshd" >"$confdir/demo-fleet"

	say "CSMS stand-in on https://127.0.0.1:$port: alice ENABLED, bob DISABLED, carol FROZEN,"
	echo "    dave PENDING_DELETE, erin has no secret"
	say "real PAM transactions (pam_start_confdir -> pam_acct_mgmt / pam_authenticate)"
	{
		for user in alice bob carol dave erin ..; do
			"$build/tests/pamrun" "$confdir" demo-sshd "$user" account || true
		done
		"$build/tests/pamrun" "$confdir" demo-sshd alice auth || true
		"$build/tests/pamrun" "$confdir" demo-sshd bob auth || true
		say "CSMS down (nothing listens on 127.0.0.1:1): fail closed"
		"$build/tests/pamrun" "$confdir" demo-down alice account || true
		say "with cache_ttl=2s offline_grace=1h: the second check needs no request"
		for user in alice bob alice bob; do
			"$build/tests/pamrun" "$confdir" demo-cached "$user" account || true
		done
		say "2 s later CSMS answers 503 to everything"
		sleep 2.1
		echo '*=err503' >"$run/states"
		echo "    alice: a young ENABLED answer still lets her in (source=stale); bob: fail closed;"
		echo "    then the outage window keeps the next checks off the network (source=none)"
		for user in alice bob bob alice; do
			"$build/tests/pamrun" "$confdir" demo-cached "$user" account || true
		done
		rm -f "$run/states"
		say "secret = %u, fleet-access: a fleet kill switch; fleet-access FROZEN keeps alice out"
		echo 'fleet-access=FROZEN' >"$run/states"
		"$build/tests/pamrun" "$confdir" demo-fleet alice account || true
		echo 'fleet-access=ENABLED' >"$run/states"
		echo "    ... and ENABLED lets her in again: both secrets asked on one TLS connection"
		"$build/tests/pamrun" "$confdir" demo-fleet alice account || true
		rm -f "$run/states"
		say "csms-check gives the same answer from the shell (exit 0 permit, 1 deny)"
		"$build/csms-check" -c "$conf" alice && echo "    exit status 0"
		"$build/csms-check" -c "$conf" bob || echo "    exit status $?"
	} | tee "$run/output"
	say "the stand-in saw $(wc -l <"$run/requests.jsonl") requests"
	if grep -q -- "$token" "$run/output"; then
		die "the token appeared in the output"
	fi
	echo "    the token appears in none of the output above"
}

# The PAM-stack suites under valgrind memcheck: no errors, no definite leaks
# (tests/Makefile.inc, check-valgrind: the same environment as make check).
memcheck() {
	make -C "$build" -s check-valgrind | sed 's/^/    /' || die "valgrind found errors"
}

run_tests() {
	local asan=$here/build-asan
	install_deps "${TEST_DEPS[@]}"
	configure_build
	say "make check"
	if ! make -C "$build" -j"$jobs" check; then
		cat "$build"/test-suite.log >&2 || true
		die "make check failed"
	fi
	say "AK/SK signatures checked by Huawei's Node.js SDK (make check-sdk: npm install into the build tree)"
	if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
		install_deps nodejs npm
	fi
	make -C "$build" -s check-sdk | sed 's/^/    /' || die "the SDK's signer disagrees (make check-sdk)"
	say "installed-system tests (tests/e2e/run.sh: build the .deb, Debian 12 root, su/sudo/sshd)"
	local e2e_status=0
	(cd "$build" && "$here/tests/e2e/run.sh") || e2e_status=$?
	case $e2e_status in
	0) ;;
	77) echo "    skipped: the installed-system tests need root and debootstrap" ;;
	*) die "the installed-system tests failed (tests/e2e/run.sh, exit $e2e_status)" ;;
	esac
	say "static checks (cppcheck, clang-tidy)"
	tests/static-checks.sh "$build"
	say "PAM-stack tests under valgrind memcheck"
	memcheck
	if [ "$(id -u)" = 0 ]; then
		# only that it runs: timings on a busy CI machine say nothing
		say "benchmark smoke run (bench/run --rounds 5)"
		bench/run --rounds 5 --conc-total 64 --build "$build" | sed 's/^/    /' ||
			die "bench/run failed"
	fi
	say "ASan+UBSan build: make check"
	mkdir -p "$asan"
	(cd "$asan" && "$here/configure" --enable-werror \
		CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		LDFLAGS="-fsanitize=address,undefined" >/dev/null)
	make -C "$asan" -s -j"$jobs"
	if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		make -C "$asan" -j"$jobs" check >"$asan/check.log" 2>&1; then
		cat "$asan"/test-suite.log >&2 || true
		die "the sanitizer build's make check failed"
	fi
	grep -E "^# (TOTAL|PASS|FAIL)" "$asan/check.log" | sed 's/^/    asan /'
	if grep -l "ERROR: AddressSanitizer\|runtime error:\|ERROR: LeakSanitizer" "$asan"/tests/*.log "$asan"/fuzz/*.log; then
		die "sanitizer reports in the logs above"
	fi
	say "fuzzing: each libFuzzer harness for ${CSMS_FUZZ_SECONDS:-30}s (fuzz/run.sh, build-fuzz/)"
	fuzz/run.sh "${CSMS_FUZZ_SECONDS:-30}" | sed 's/^/    /' ||
		die "fuzzing found a problem (logs and crash inputs in build-fuzz/fuzz-run/)"
	say "make distcheck"
	make -C "$build" -j"$jobs" distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror >"$build/distcheck.log" 2>&1 ||
		{ tail -60 "$build/distcheck.log" >&2; die "make distcheck failed (see $build/distcheck.log)"; }
	grep -E "^# (TOTAL|PASS|FAIL|ERROR)" "$build/distcheck.log" | sed 's/^/    distcheck /'
	say "all tests passed"
}

case ${1:-} in
demo) demo ;;
test) run_tests ;;
fuzz)
	install_deps clang libclang-rt-14-dev
	fuzz/run.sh "${2:-60}"
	;;
*)
	echo "usage: $0 demo|test|fuzz [SECONDS]" >&2
	exit 64
	;;
esac
