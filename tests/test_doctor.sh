#!/bin/bash
# csms-check --doctor against the stand-in: all ok, then each failure provoked in turn
# and named on the right line.
set -u
check=${CSMS_CHECK:?}
dir=$(mktemp -d "${CSMS_TEST_DIR:?}/doc.XXXXXX")
. "$(dirname "$0")/standin-config.sh"
standin_config "$dir" localhost
pass=0 fail=0

# doctor WANT_EXIT LINE_REGEX ARGS...: exit status and one line matching
doctor() {
	local want=$1 pattern=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" = "$want" ] && printf '%s\n' "$out" | grep -Eq -- "$pattern"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		printf 'FAIL: %s -> %s (want %s, /%s/)\n%s\n' "$*" "$rc" "$want" "$pattern" "$out"
	fi
}

doctor 0 '^api +ok: ShowSecret answered HTTP' "$check" -c "$dir/pam_csms.conf" --doctor
n=$("$check" -c "$dir/pam_csms.conf" --doctor | grep -c ' ok')
[ "$n" = 10 ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: $n of 10 checks ok"; }
doctor 0 '^cache +ok: off for csms-check \(no cache_dir' "$check" -c "$dir/pam_csms.conf" --doctor
doctor 0 '^libcurl +ok: ' "$check" -c "$dir/pam_csms.conf" --doctor

doctor 1 "^config +FAIL: .*unknown key 'tmeout'.*pam_csms.conf\\(5\\)" \
	"$check" -c "$dir/pam_csms.conf" -o tmeout=1 --doctor
doctor 1 '^config +FAIL: .*file not found' "$check" -c "$dir/missing.conf" --doctor

cp "$CSMS_TEST_CA" "$dir/ca.pem" && chmod 666 "$dir/ca.pem"
doctor 1 '^files +FAIL: .*ca.pem: writable by group or others' \
	"$check" -c "$dir/pam_csms.conf" -o ca_file="$dir/ca.pem" --doctor

chmod 644 "$dir/token"
doctor 1 '^credentials +FAIL: .*readable by group or others.*chmod 600' "$check" -c "$dir/pam_csms.conf" --doctor
chmod 600 "$dir/token"
touch -d '2 days ago' "$dir/token"
doctor 1 '^credentials +FAIL: .*written 4[78] h ago.*expire after 24 h' "$check" -c "$dir/pam_csms.conf" --doctor
touch "$dir/token"

# cache_dir: only looked at, never created (the module creates it on its first check)
doctor 0 "^cache +ok: $dir/cache does not exist yet; the first check creates it \\(mode 0700\\)" \
	"$check" -c "$dir/pam_csms.conf" -o cache_dir="$dir/cache" --doctor
if [ -e "$dir/cache" ]; then
	fail=$((fail + 1))
	echo "FAIL: --doctor created cache_dir"
else
	pass=$((pass + 1))
fi
doctor 1 "^cache +FAIL: $dir/no/cache does not exist and the module cannot create it: $dir/no: file not found" \
	"$check" -c "$dir/pam_csms.conf" -o cache_dir="$dir/no/cache" --doctor
mkdir -m 0700 "$dir/cache"
doctor 0 "^cache +ok: $dir/cache: a directory no one else can write" \
	"$check" -c "$dir/pam_csms.conf" -o cache_dir="$dir/cache" --doctor
chmod 777 "$dir/cache"
doctor 1 "^cache +FAIL: $dir/cache: writable by group or others .*chmod go-w; until then every check goes without the cache" \
	"$check" -c "$dir/pam_csms.conf" -o cache_dir="$dir/cache" --doctor
# the cache is optional: its failure stops no other check
n=$("$check" -c "$dir/pam_csms.conf" -o cache_dir="$dir/cache" --doctor | grep -c ' ok')
[ "$n" = 9 ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: $n of 9 checks ok with a bad cache_dir"; }
chmod 700 "$dir/cache"

# a cache_dir on a read-only file system (a read-only root), in a private mount namespace
mkdir -m 0700 "$dir/ro"
if unshare -m true 2>/dev/null; then
	ro() { unshare -m sh -c 'mount -t tmpfs -o ro,mode=0700 tmpfs "$1" && shift && exec "$@"' sh "$@"; }
	doctor 1 "^cache +FAIL: $dir/ro is on a read-only file system: answers are not kept" \
		ro "$dir/ro" "$check" -c "$dir/pam_csms.conf" -o cache_dir="$dir/ro" --doctor
	doctor 1 "^cache +FAIL: $dir/ro/cache does not exist and $dir/ro is on a read-only file system" \
		ro "$dir/ro" "$check" -c "$dir/pam_csms.conf" -o cache_dir="$dir/ro/cache" --doctor
else
	echo "SKIP: no private mount namespace here (unshare -m): read-only cache_dir"
fi

# under SSLKEYLOGFILE no check runs libcurl: named on its own line, the network ones skipped
doctor 1 '^libcurl +FAIL: refusing: SSLKEYLOGFILE is set; unset SSLKEYLOGFILE' \
	env SSLKEYLOGFILE="$dir/keys" "$check" -c "$dir/pam_csms.conf" --doctor
doctor 1 '^tls +FAIL: not checked, an earlier check failed' \
	env SSLKEYLOGFILE="$dir/keys" "$check" -c "$dir/pam_csms.conf" --doctor
if [ -e "$dir/keys" ]; then
	fail=$((fail + 1))
	echo "FAIL: --doctor wrote TLS secrets to SSLKEYLOGFILE"
else
	pass=$((pass + 1))
fi

# a 70-byte label is refused by the resolver itself: no query leaves the machine
long=$(printf 'a%.0s' $(seq 70)).example
doctor 1 "^dns +FAIL: cannot resolve $long" "$check" -c "$dir/pam_csms.conf" -o endpoint="https://$long" --doctor
doctor 1 '^tcp +FAIL: cannot connect to 127.0.0.1 port 1' \
	"$check" -c "$dir/pam_csms.conf" -o endpoint=https://127.0.0.1:1 --doctor
doctor 1 '^tls +FAIL: .*certificate' \
	"$check" -c "$dir/pam_csms.conf" -o ca_file="$CSMS_TEST_PKI/other-ca.pem" --doctor

printf 'a-token-the-server-does-not-know\n' >"$dir/token2"
chmod 600 "$dir/token2"
doctor 1 '^api +FAIL: ShowSecret answered HTTP 401: the token is expired' \
	"$check" -c "$dir/pam_csms.conf" -o token_file="$dir/token2" --doctor

if command -v faketime >/dev/null; then
	# libfaketime is preloaded: a sanitizer build must not insist on coming first
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
	doctor 1 '^clock +FAIL: off by 8640[0-9]s' \
		env DONT_FAKE_MONOTONIC=1 faketime -f '+1d' "$check" -c "$dir/pam_csms.conf" --doctor
else
	echo "SKIP: faketime is not installed (clock skew)"
fi
doctor 64 'usage' "$check" -c "$dir/pam_csms.conf" --doctor someone

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
