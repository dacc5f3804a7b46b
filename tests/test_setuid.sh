#!/bin/bash
# In a secure-execution process (a setuid csms-check here, like setuid su or sudo),
# fail_mode=open is not honoured, and its own failure opens no outage window and gets no
# stale permit from offline_grace: the caller could cause the outage. It never writes a
# cache entry. A window recorded by an ordinary process is believed. Needs root.
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

# a setuid process never creates cache_dir either (here it could: nobody owns the parent)
install -d -o nobody -m 700 "$dir/parent"
run 3 '^decision=unavailable reason=network' "$dir/csms-check" -o cache_dir="$dir/parent/cache" \
	-o cache_ttl=1h
if [ ! -e "$dir/parent/cache" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: setuid created cache_dir"; fi
# an ordinary process does
run 2 '^decision=fail_open reason=network' setpriv --reuid=nobody --regid=nogroup \
	--clear-groups "$check" -o cache_dir="$dir/parent/cache" -o cache_ttl=1h
if [ -d "$dir/parent/cache" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: cache_dir not created"; fi

# The verdict cache, with CSMS itself failing (HTTP 503) so the cache key is the same.
check_as() { # check_as WANT_EXIT WANT_REGEX BINARY [ARGS...]: as run(), CSMS as configured
	local out rc want=$1 re=$2
	shift 2
	out=$("$@" -c "$dir/pam_csms.conf" -o cache_dir="$dir/cache2" -o retries=0 \
		-o offline_grace=1h enabled-suid 2>&1)
	rc=$?
	if [ "$rc" = "$want" ] && printf '%s\n' "$out" | grep -Eq -- "$re"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1)); echo "FAIL: $* -> $rc (want $want): $out"
	fi
}
entries() { find "$dir/cache2" -name "$1-*" | wc -l; }
install -d -o nobody -m 700 "$dir/cache2"
# a setuid process's answer is never written
check_as 0 '^decision=permit reason=state .*source=api' "$dir/csms-check"
if [ "$(entries v)" = 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: setuid wrote an entry"; fi
# an ordinary process's is
check_as 0 '^decision=permit reason=state .*source=api' setpriv --reuid=nobody --regid=nogroup \
	--clear-groups "$check"
if [ "$(entries v)" = 1 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: no entry written"; fi
echo '*=err503' >"${CSMS_STANDIN_STATES:?}"
# the setuid process's own failure: that young ENABLED lets no one in, and opens no window
check_as 3 '^decision=unavailable reason=http .*source=api' "$dir/csms-check"
if [ "$(entries o)" = 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: setuid failure recorded an outage"; fi
# an ordinary process's failure: a stale permit, and a window ...
check_as 0 '^decision=permit reason=state .*source=stale' setpriv --reuid=nobody --regid=nogroup \
	--clear-groups "$check"
if [ "$(entries o)" = 1 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: no outage recorded"; fi
# ... within which the setuid process gets the stale permit too
check_as 0 '^decision=permit reason=state .*source=stale' "$dir/csms-check"
rm -f "$CSMS_STANDIN_STATES"

# An entry dated ahead of the clock: an ordinary process removes it when it reads it
# (tests/test_clock_step.sh); a setuid one only ignores it, as it writes nothing.
if command -v faketime >/dev/null; then
	install -d -o nobody -m 700 "$dir/cache3"
	ahead() { find "$dir/cache3" -name 'v-*' | wc -l; }
	out=$(DONT_FAKE_MONOTONIC=1 setpriv --reuid=nobody --regid=nogroup --clear-groups \
		faketime -f +28800 "$check" -c "$dir/pam_csms.conf" -o cache_dir="$dir/cache3" \
		-o cache_ttl=15m enabled-suid 2>&1)
	if [ "$(ahead)" = 1 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: no entry at +8h: $out"; fi
	out=$("$dir/csms-check" -c "$dir/pam_csms.conf" -o cache_dir="$dir/cache3" -o cache_ttl=15m \
		enabled-suid 2>&1)
	if [ "$(ahead)" = 1 ] && printf '%s\n' "$out" | grep -q '^decision=permit .*source=api'; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1)); echo "FAIL: setuid reader and an entry dated ahead: $(ahead) $out"
	fi
	# and an ordinary process reading it replaces it with an answer dated now
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$check" -c "$dir/pam_csms.conf" \
		-o cache_dir="$dir/cache3" -o cache_ttl=15m enabled-suid >/dev/null 2>&1
	when=$(sed -n 's/^time //p' "$dir"/cache3/v-*)
	if [ "$(ahead)" = 1 ] && [ "${when:-0}" -le "$(date +%s%3N)" ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1)); echo "FAIL: the entry dated ahead is still there ($when)"
	fi
else
	echo "SKIP: faketime is not installed (entries dated ahead)"
fi
# auth=metadata: a setuid caller signs with keys it fetched itself and keeps none of them;
# an ordinary process keeps them (k-HASH), and then the setuid one reads them
install -d -o nobody -m 700 "$dir/cache4"
md() { "$@" -c "$dir/pam_csms.conf" -o auth=metadata -o metadata_url="$CSMS_METADATA_URL" \
	-o cache_dir="$dir/cache4" enabled-suid 2>&1; }
kept() { find "$dir/cache4" -name 'k-*' | wc -l; }
out=$(md "$dir/csms-check")
if printf '%s\n' "$out" | grep -q '^decision=permit .*source=api' && [ "$(kept)" = 0 ]; then
	pass=$((pass + 1))
else
	fail=$((fail + 1)); echo "FAIL: setuid auth=metadata: $(kept) kept, $out"
fi
out=$(md setpriv --reuid=nobody --regid=nogroup --clear-groups "$check")
if printf '%s\n' "$out" | grep -q '^decision=permit' && [ "$(kept)" = 1 ]; then
	pass=$((pass + 1))
else
	fail=$((fail + 1)); echo "FAIL: ordinary auth=metadata: $(kept) kept, $out"
fi
before=$(grep -c '"path": "/openstack/latest/securitykey"' "$CSMS_STANDIN_LOG")
out=$(md "$dir/csms-check")
if printf '%s\n' "$out" | grep -q '^decision=permit' &&
	[ "$(grep -c '"path": "/openstack/latest/securitykey"' "$CSMS_STANDIN_LOG")" = "$before" ]; then
	pass=$((pass + 1))
else
	fail=$((fail + 1)); echo "FAIL: setuid reading the kept keys: $out"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
