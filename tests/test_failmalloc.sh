#!/bin/bash
# Allocation failure injected at every one of the first 400 allocations of a check, then
# every 25th up to 6000: csms-check (the module's decision) never permits or ignores a
# DISABLED user, and answers correctly when nothing fails. glibc itself does not survive
# every failure: its NSS code (getpwnam_r) can crash, and its dlopen aborts when it cannot
# allocate thread-local storage for libcurl. Those deaths are counted and shown, and
# accepted as fail-closed (the host gets no PAM answer at all); exit 0 or 2 never is.
set -u
check=${CSMS_CHECK:?}
shim=${CSMS_FAILMALLOC:?}
if ldd "$check" | grep -q libasan; then
	echo "SKIP: sanitizer build (ASan owns malloc)"; exit 77
fi
dir=$(mktemp -d "${CSMS_TEST_DIR:?}/fm.XXXXXX")
. "$(dirname "$0")/standin-config.sh"
standin_config "$dir" 127.0.0.1
pass=0 fail=0 glibc=0
declare -A seen
for n in $(seq 1 400) $(seq 425 25 6000); do
	FAILMALLOC_AT=$n LD_PRELOAD=$shim "$check" -c "$dir/pam_csms.conf" disabled-fm >/dev/null 2>&1
	rc=$?
	seen[$rc]=$((${seen[$rc]:-0} + 1))
	case $rc in
	1 | 3 | 4) pass=$((pass + 1)) ;;
	127 | 134 | 139) pass=$((pass + 1)); glibc=$((glibc + 1)) ;;
	*) fail=$((fail + 1)); echo "FAIL: allocation $n failing gave exit $rc" ;;
	esac
done
for rc in "${!seen[@]}"; do echo "exit $rc: ${seen[$rc]} runs"; done

# The end of a check, where the reply is parsed, with fail_mode=open: memory running out
# there is a fault of this host (decision=error), never a bad reply, which would fail open.
total=$(FAILMALLOC_COUNT=1 LD_PRELOAD=$shim "$check" -c "$dir/pam_csms.conf" -o fail_mode=open \
	disabled-fm 2>&1 >/dev/null | sed -n 's/^failmalloc: \([0-9]*\) allocations$/\1/p')
late=0
for n in $(seq $((total > 1500 ? total - 1500 : 1)) 3 "${total:-0}"); do
	out=$(FAILMALLOC_AT=$n LD_PRELOAD=$shim "$check" -c "$dir/pam_csms.conf" -o fail_mode=open \
		disabled-fm 2>/dev/null)
	late=$((late + 1))
	case $out in
	*"decision=fail_open reason=bad_response"* | *"decision=permit"* | *"decision=ignore"*)
		fail=$((fail + 1)); echo "FAIL: allocation $n of $total failing: $out" ;;
	*) pass=$((pass + 1)) ;;
	esac
done
echo "late injections: $late of the last 1500 of $total allocations (every 3rd), fail_mode=open"
if [ "$late" -lt 100 ]; then fail=$((fail + 1)); echo "FAIL: the allocations were not counted ($total)"; fi
echo "runs that glibc itself ended (abort, segfault in NSS, ld.so fatal): $glibc"
# the shim itself is inert without FAILMALLOC_AT
if LD_PRELOAD=$shim "$check" -c "$dir/pam_csms.conf" enabled-fm >/dev/null; then pass=$((pass + 1)); else
	fail=$((fail + 1)); echo "FAIL: no injection, no permit"; fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
