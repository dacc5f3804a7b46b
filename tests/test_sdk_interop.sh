#!/bin/bash
# The module's AK/SK signatures, checked by Huawei's own signer: requests the module makes
# through real libpam (tests/pamrun) and csms-check, with a credentials file (with and
# without a security token) and with the metadata service's temporary keys, for several
# secret names, wall-clock dates (libfaketime) and ports (443 included, where Host carries
# no port), are recorded by the stand-ins; tests/sdk_verify.js signs each again with
# @huaweicloud/huaweicloud-sdk-core's AKSKSigner and compares. Not in make check (package
# builds run offline): ./quickstart.sh test runs it (make check-sdk), which installs the SDK
# into the build tree. Needs root (port 443, libpam's service files) and node.
#   SDK_MODULES=DIR/node_modules (where @huaweicloud/huaweicloud-sdk-core is installed)
set -u
module=${CSMS_MODULE:?} check=${CSMS_CHECK:?} modules=${SDK_MODULES:?}
pamrun=$(dirname "$check")/tests/pamrun
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root"; exit 77
fi
if [ ! -d "$modules/@huaweicloud/huaweicloud-sdk-core" ]; then
	echo "FAIL: the SDK is not installed in $modules"; exit 1
fi
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
export DONT_FAKE_MONOTONIC=1
dir=$(mktemp -d /tmp/csms-sdk.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$dir"' EXIT
chmod 755 "$dir"
log=${CSMS_STANDIN_LOG:?}
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# a second key pair, with a security token the gateway knows it by
ak2=TESTAK2SECURITYTOKEN sk2=$(head -c 30 /dev/urandom | base64 | tr -d '/+=') st2=ST-$(head -c 300 /dev/urandom | base64 | tr -d '/+=\n')
printf '%s %s %s\n' "$ak2" "$sk2" "$st2" >>"${CSMS_STANDIN_AKSK:?}"

# more stand-ins on fixed ports, logging to the same file: 443 (Host without a port), 8443
for port in 443 8443; do
	"${PYTHON:-python3}" "$here/csms_standin.py" --pki "$CSMS_TEST_PKI" --port "$port" \
		--port-file "$dir/port-$port" --log "$log" --project "$CSMS_STANDIN_PROJECT" \
		--aksk "$CSMS_STANDIN_AKSK" --exit-with-parent 2>"$dir/standin-$port.err" &
	pids+=($!)
done
for _ in $(seq 100); do [ -s "$dir/port-443" ] && [ -s "$dir/port-8443" ] && break; sleep 0.1; done
[ -s "$dir/port-443" ] && [ -s "$dir/port-8443" ] || { echo "FAIL: stand-ins on 443/8443: $(cat "$dir"/standin-*.err)"; exit 1; }

printf '[credentials]\naccess_key = %s\nsecret_key = %s\n' "$CSMS_TEST_AK" "$CSMS_TEST_SK" >"$dir/creds"
printf '[credentials]\naccess_key = %s\nsecret_key = %s\nsecurity_token = %s\n' "$ak2" "$sk2" "$st2" >"$dir/creds2"
chmod 600 "$dir/creds" "$dir/creds2"
conf() { # conf NAME ENDPOINT AUTH-LINES
	printf '[csms]\nendpoint = %s\nproject_id = %s\nca_file = %s\nretries = 0\n%s\n' "$2" \
		"$CSMS_STANDIN_PROJECT" "$CSMS_TEST_CA" "$3" >"$dir/$1.conf"
	chmod 644 "$dir/$1.conf"
}
conf p443 https://127.0.0.1 "auth = aksk
credentials_file = $dir/creds"
conf p8443 https://localhost:8443 "auth = aksk
credentials_file = $dir/creds"
conf pany "$CSMS_STANDIN_URL" "auth = aksk
credentials_file = $dir/creds2"
conf meta "$CSMS_STANDIN_URL" "auth = metadata
metadata_url = $CSMS_METADATA_URL
cache_dir = $dir/cache"
mkdir "$dir/pam.d"
for c in p443 p8443 pany meta; do
	printf 'account required %s conf=%s/%s.conf\n' "$module" "$dir" "$c" >"$dir/pam.d/$c"
done
chmod 644 "$dir/pam.d/"*

before=$(wc -l <"$log")
n=0
for c in p443 p8443 pany meta; do
	for name in enabled-sdk alice.ops "disabled-x_y-$c"; do
		"$pamrun" "$dir/pam.d" "$c" "$name" account >"$dir/out" 2>&1
		grep -q 'decision=\(permit\|deny\) reason=state' "$dir/out" && ok || bad "$c $name: $(cat "$dir/out")"
		n=$((n + 1))
	done
done
# other dates: the stand-in refuses them (too far from its clock), the SDK signs them alike
# (later ones only: before the test certificate was made, TLS would refuse)
for offset in +1200 +3600 +86400 +2592000; do
	faketime -f "$offset" "$check" -c "$dir/pany.conf" "enabled-date${offset#+}" >/dev/null 2>&1
	faketime -f "$offset" "$pamrun" "$dir/pam.d" p443 "enabled-date${offset#+}" account >/dev/null 2>&1
	n=$((n + 2))
done
[ $(($(wc -l <"$log") - before)) -ge "$n" ] && ok || bad "only $(($(wc -l <"$log") - before)) requests recorded"

# the metadata service's keys, as the module kept them in cache_dir
meta_ak=$(sed -n 's/^access //p' "$dir"/cache/k-*) meta_sk=$(sed -n 's/^secret //p' "$dir"/cache/k-*)
[ -n "$meta_ak" ] && [ -n "$meta_sk" ] && ok || bad "no metadata keys in cache_dir"

tail -n +"$((before + 1))" "$log" >"$dir/requests.jsonl"
if out=$(node "$here/sdk_verify.js" "$modules" "$dir/requests.jsonl" \
	"$CSMS_TEST_AK=$CSMS_TEST_SK" "$ak2=$sk2" "$meta_ak=$meta_sk"); then
	ok
else
	bad "the SDK's signer disagrees"
fi
echo "$out"
hosts=$(printf '%s\n' "$out" | sed -n 's/.*hosts \([^,]*\),.*/ \1 /p')
case $hosts in *" 127.0.0.1 "*) ok ;; *) bad "no request to port 443 was signed: $out" ;; esac
case $hosts in *" localhost:8443 "*) ok ;; *) bad "no request to port 8443 was signed: $out" ;; esac
if grep -q "$sk2\|$meta_sk\|$CSMS_TEST_SK" "$dir/out"; then bad "a secret key reached the output"; else ok; fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
