#!/bin/bash
# In a secure-execution process (a setuid csms-check here, like setuid su or sudo),
# fail_mode=open is not honoured: the caller could cause the outage. Needs root.
set -u
check=${CSMS_CHECK:?}
if [ "$(id -u)" != 0 ] || ! id nobody >/dev/null 2>&1; then
	echo "SKIP: needs root and a 'nobody' user"; exit 77
fi
if ldd "$check" | grep -q libasan; then
	echo "SKIP: sanitizer build (ASan refuses setuid execution)"; exit 77
fi
dir=$(mktemp -d /tmp/csms-suid.XXXXXX)
trap 'rm -rf "$dir"' EXIT
chmod 755 "$dir"
. "$(dirname "$0")/standin-config.sh"
cp "$CSMS_TEST_CA" "$dir/ca.pem"
chmod 644 "$dir/ca.pem"
CSMS_TEST_CA=$dir/ca.pem standin_config "$dir" 127.0.0.1
install -o nobody -m 4755 "$check" "$dir/csms-check"
pass=0 fail=0
run() { # run WANT_EXIT WANT_REGEX BINARY
	local out rc
	out=$("$3" -c "$dir/pam_csms.conf" -o fail_mode=open -o endpoint=https://127.0.0.1:1 \
		enabled-suid 2>&1)
	rc=$?
	if [ "$rc" = "$1" ] && printf '%s\n' "$out" | grep -Eq -- "$2"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1)); echo "FAIL: $3 -> $rc (want $1): $out"
	fi
}
# the control: the same outage in an ordinary process fails open as configured
run 2 '^decision=fail_open reason=network' "$check"
# the setuid copy runs as nobody, so the token must be nobody's (owner = effective uid)
chown nobody "$dir/token"
run 3 '^decision=unavailable reason=network .*setuid' "$dir/csms-check"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
