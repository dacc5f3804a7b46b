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
# auth=aksk: the source and the access key id, never the secret; a 401 explained
printf '[credentials]\naccess_key = %s\nsecret_key = %s\n' "$CSMS_TEST_AK" "$CSMS_TEST_SK" >"$dir/creds"
chmod 600 "$dir/creds"
doctor 0 "^credentials +ok: $dir/creds: access key $CSMS_TEST_AK \\(AK/SK signing\\)" \
	"$check" -c "$dir/pam_csms.conf" -o auth=aksk -o credentials_file="$dir/creds" --doctor
if "$check" -c "$dir/pam_csms.conf" -o auth=aksk -o credentials_file="$dir/creds" --doctor |
	grep -qF -- "$CSMS_TEST_SK"; then
	fail=$((fail + 1)); echo "FAIL: --doctor printed the secret key"
else
	pass=$((pass + 1))
fi
printf '[credentials]\naccess_key = %s\nsecret_key = wrong\n' "$CSMS_TEST_AK" >"$dir/creds2"
chmod 600 "$dir/creds2"
doctor 1 '^api +FAIL: ShowSecret answered HTTP 401 APIGW.0301: the signature does not verify: check secret_key' \
	"$check" -c "$dir/pam_csms.conf" -o auth=aksk -o credentials_file="$dir/creds2" --doctor
chmod 644 "$dir/creds2"
doctor 1 "^credentials +FAIL: $dir/creds2: readable by group or others .*chmod 600" \
	"$check" -c "$dir/pam_csms.conf" -o auth=aksk -o credentials_file="$dir/creds2" --doctor
# auth=metadata: the keys' source, access key id and expiry, and where project_id came from
grep -v '^project_id' "$dir/pam_csms.conf" >"$dir/md.conf"
printf 'auth = metadata\nmetadata_url = %s\ncache_dir = %s/mdcache\n' "$CSMS_METADATA_URL" "$dir" >>"$dir/md.conf"
chmod 644 "$dir/md.conf"
doctor 0 '^config +ok: .*project from the instance.s meta_data.json, auth metadata' \
	"$check" -c "$dir/md.conf" --doctor
doctor 0 "^credentials +ok: temporary keys from the metadata service $CSMS_METADATA_URL: access key TMPAK[0-9A-F]+, expire at 20[0-9-]+T[0-9:]+Z \\(in (59|60) min\\); project_id $CSMS_STANDIN_PROJECT from the instance.s meta_data.json" \
	"$check" -c "$dir/md.conf" --doctor
doctor 0 '^api +ok: ShowSecret answered HTTP' "$check" -c "$dir/md.conf" --doctor
[ ! -e "$dir/mdcache" ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: --doctor wrote cache_dir"; }
printf '@key=noagency\n' >"$CSMS_STANDIN_STATES"
doctor 1 '^credentials +FAIL: metadata service: no agency is bound to this instance' \
	"$check" -c "$dir/md.conf" --doctor
doctor 1 '^tls +FAIL: not checked, an earlier check failed' "$check" -c "$dir/md.conf" --doctor
rm -f "$CSMS_STANDIN_STATES"

doctor 64 'usage' "$check" -c "$dir/pam_csms.conf" --doctor someone

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
