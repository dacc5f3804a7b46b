#!/bin/bash
# In a secure-execution process (a setuid csms-check here, like setuid su or sudo),
# fail_mode=open is not honoured and its own failure opens no outage window: the caller
# could cause the outage. A window recorded by an ordinary process is believed. Needs root.
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
run() { # run WANT_EXIT WANT_REGEX BINARY [ARGS...]
	local out rc want=$1 re=$2
	shift 2
	out=$("$@" -c "$dir/pam_csms.conf" -o fail_mode=open -o endpoint=https://127.0.0.1:1 \
		enabled-suid 2>&1)
	rc=$?
	if [ "$rc" = "$want" ] && printf '%s\n' "$out" | grep -Eq -- "$re"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1)); echo "FAIL: $* -> $rc (want $want): $out"
	fi
}
# the control: the same outage in an ordinary process fails open as configured
run 2 '^decision=fail_open reason=network' "$check"
# the setuid copy runs as nobody, so the token must be nobody's (owner = effective uid)
chown nobody "$dir/token"
run 3 '^decision=unavailable reason=network .*setuid' "$dir/csms-check"

# Outage windows (cache_dir, owned by the setuid copy's effective user).
install -d -o nobody -m 700 "$dir/cache"
outages() { find "$dir/cache" -name 'o-*' | wc -l; }
# the setuid process's own failure opens no window
run 3 '^decision=unavailable reason=network .*source=api' "$dir/csms-check" -o cache_dir="$dir/cache"
if [ "$(outages)" = 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: setuid failure recorded an outage"; fi
# an ordinary process (the same user, no setuid) records one ...
run 2 '^decision=fail_open reason=network .*source=api' setpriv --reuid=nobody --regid=nogroup \
	--clear-groups "$check" -o cache_dir="$dir/cache"
if [ "$(outages)" = 1 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: no outage recorded"; fi
# ... and within it the setuid process is off the network, and fail_mode=open applies
run 2 '^decision=fail_open reason=network .*source=none' "$dir/csms-check" -o cache_dir="$dir/cache"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
