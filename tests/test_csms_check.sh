#!/bin/bash
# csms-check against the stand-in: the same decisions as the module, and its exit codes.
set -u
check=${CSMS_CHECK:?}
dir=$(mktemp -d "${CSMS_TEST_DIR:?}/cc.XXXXXX")
. "$(dirname "$0")/standin-config.sh"
standin_config "$dir" 127.0.0.1 "[service sudo]
secret = enabled-%u"
token=$dir/token
conf=$dir/pam_csms.conf

pass=0 fail=0
# expect CODE PATTERN ARGS...: exit status CODE and stdout matching the extended regex
expect() {
	local want=$1 pattern=$2 out rc
	shift 2
	out=$("$check" "$@" 2>"$dir/stderr")
	rc=$?
	if [ "$rc" = "$want" ] && printf '%s\n' "$out" | grep -Eq -- "$pattern"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: csms-check $* -> $rc (want $want): $out $(cat "$dir/stderr")"
	fi
}

expect 0 '^decision=permit reason=state user=enabled-1 service=csms-check secret=enabled-1 state=ENABLED source=api http=200 request_id=[0-9a-f]{32} attempts=1 ms=[0-9]+$' -c "$conf" enabled-1
expect 1 '^decision=deny reason=state .*state=DISABLED' -c "$conf" disabled-1
expect 1 '^decision=deny reason=state .*state=FROZEN' -c "$conf" frozen-1
expect 1 '^decision=deny reason=not_found ' -c "$conf" nf404-1
expect 2 '^decision=ignore reason=not_found ' -c "$conf" -o on_missing=ignore nf0106-1
expect 1 '^decision=deny reason=invalid_name .*attempts=0' -c "$conf" ../etc
expect 2 '^decision=bypass reason=bypass ' -c "$conf" -o bypass_users=disabled-2 disabled-2
expect 3 '^decision=unavailable reason=network ' -c "$conf" -o endpoint=https://127.0.0.1:1 enabled-2
expect 2 '^decision=fail_open reason=credentials_rejected ' -c "$conf" -o fail_mode=open unauth-1
expect 3 '^decision=unavailable reason=http ' -c "$conf" -o retries=0 err503-1
expect 0 '^decision=permit .*service=sudo secret=enabled-x ' -c "$conf" -s sudo x
expect 4 '^decision=error reason=config .*detail=.*unknown\\x20key' -c "$conf" -o tmeout=1 enabled-3
expect 4 "^decision=error reason=config .*detail=$dir/nope.conf:\\\\x20file\\\\x20not\\\\x20found" -c "$dir/nope.conf" enabled-4
expect 4 '^decision=error reason=credentials ' -c "$conf" -o token_file=/nonexistent enabled-5
expect 0 '"decision":"permit".*"metadata":\{.*"state":"ENABLED"' -c "$conf" --json enabled-6
expect 1 '"decision":"deny"' -c "$conf" --json --no-cache disabled-3
expect 64 '' -c "$conf"
expect 64 '' -c "$conf" a b
expect 64 '' -c "$conf" -o novalue a
expect 64 '' -c "$conf" --bogus a
# the config named twice is refused before either file is read: neither exists here
expect 64 '' -c "$dir/nope-a.conf" -o conf="$dir/nope-b.conf" enabled-9
grep -q 'named twice' "$dir/stderr" && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: -c A -o conf=B: $(cat "$dir/stderr")"; }
expect 64 '' -o conf="$dir/nope-a.conf" -c "$conf" enabled-9
expect 64 '' -o conf="$conf" -o conf="$dir/nope-b.conf" enabled-9
# a control byte anywhere in the file (inih would strip \v and reopen [csms]): the file and line
printf '[csms]\nendpoint = %s\nproject_id = p\n[service sudo]\n\v[csms]:\nbypass_users = enabled-10\n' \
	"$CSMS_STANDIN_URL" >"$dir/vt.conf"
expect 4 "^decision=error reason=config .*detail=$dir/vt.conf:5:\\\\x20control\\\\x20character\\\\x200x0b" \
	-c "$dir/vt.conf" enabled-10
# a user name that imitates fields: '=' is escaped, grep sees one decision
out=$("$check" -c "$conf" 'decision=permit')
if [ "$(printf '%s\n' "$out" | grep -o 'decision=[a-z_]*')" = "decision=deny" ] &&
	printf '%s\n' "$out" | grep -q ' user=decision\\x3dpermit '; then
	pass=$((pass + 1))
else
	fail=$((fail + 1)); echo "FAIL: user decision=permit: $out"
fi

# a wall clock years off breaks TLS (certificate not valid then), and nothing else:
# deadlines run on CLOCK_MONOTONIC, so the check still ends quickly
if command -v faketime >/dev/null; then
	# libfaketime is preloaded: a sanitizer build must not insist on coming first
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
	export DONT_FAKE_MONOTONIC=1
	out=$(faketime -f '+7300d' "$check" -c "$conf" enabled-ft1); rc=$?
	if [ "$rc" = 3 ] && printf '%s' "$out" | grep -q 'reason=tls'; then pass=$((pass + 1)); else
		fail=$((fail + 1)); echo "FAIL: clock +20y: $rc $out"; fi
	out=$(faketime -f '-7300d' "$check" -c "$conf" enabled-ft2); rc=$?
	if [ "$rc" = 3 ] && printf '%s' "$out" | grep -q 'reason=tls'; then pass=$((pass + 1)); else
		fail=$((fail + 1)); echo "FAIL: clock -20y: $rc $out"; fi
	unset DONT_FAKE_MONOTONIC
else
	echo "SKIP: faketime is not installed (wall-clock cases)"
fi

# --json output is one valid JSON object with every log field
out=$("$check" -c "$conf" --json enabled-7)
if "${PYTHON:-python3}" -c '
import json, sys
o = json.loads(sys.argv[1])
need = ["decision", "reason", "user", "service", "secret", "state", "source", "http",
        "request_id", "attempts", "ms", "metadata"]
missing = [k for k in need if k not in o]
sys.exit(1 if missing or o["metadata"]["name"] != "enabled-7" else 0)' "$out"; then
	pass=$((pass + 1))
else
	fail=$((fail + 1)); echo "FAIL: --json fields: $out"
fi
# several secrets: a line for each, then the decision as the module logs it, and its exit code
out=$("$check" -c "$conf" -o 'secret=enabled-m1,disabled-m1' someone); rc=$?
if [ "$rc" = 1 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 3 ] &&
	printf '%s\n' "$out" | sed -n 1p | grep -q '^  secret=enabled-m1 decision=permit reason=state state=ENABLED source=api' &&
	printf '%s\n' "$out" | sed -n 2p | grep -q '^  secret=disabled-m1 decision=deny reason=state state=DISABLED' &&
	printf '%s\n' "$out" | sed -n 3p | grep -Eq '^decision=deny reason=state user=someone service=csms-check secret=enabled-m1,disabled-m1 state=DISABLED source=api http=200 request_id=[0-9a-f]{32} attempts=2 ms=[0-9]+ decided_by=disabled-m1$'; then
	pass=$((pass + 1))
else
	fail=$((fail + 1)); echo "FAIL: two secrets: $rc $out"
fi
out=$("$check" -c "$conf" --json -o 'secret=enabled-m2,enabled-m3' someone); rc=$?
if [ "$rc" = 0 ] && printf '%s' "$out" | "${PYTHON:-python3}" -c '
import json, sys
o = json.load(sys.stdin)
s = o["secrets"]
ok = (o["decision"] == "permit" and o["secret"] == "enabled-m2,enabled-m3" and o["attempts"] == 2
      and o["decided_by"] == "enabled-m3" and [x["name"] for x in s] == ["enabled-m2", "enabled-m3"]
      and all(x["decision"] == "permit" and x["metadata"]["state"] == "ENABLED" for x in s))
sys.exit(0 if ok else 1)'; then
	pass=$((pass + 1))
else
	fail=$((fail + 1)); echo "FAIL: --json with two secrets: $rc $out"
fi
# auth=metadata without project_id and --no-cache: keys and project asked afresh, nothing kept
grep -v '^project_id' "$conf" >"$dir/md.conf" && chmod 644 "$dir/md.conf"
expect 0 '^decision=permit reason=state .*detail=project_id\\x20from' -c "$dir/md.conf" --no-cache \
	-o auth=metadata -o metadata_url="$CSMS_METADATA_URL" -o cache_dir="$dir/mdcache" enabled-md
[ ! -e "$dir/mdcache" ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: --no-cache wrote cache_dir"; }
# --json is valid UTF-8 JSON whatever the user name's bytes: non-UTF-8 bytes become \xHH
out=$("$check" -c "$conf" --json "$(printf 'bob\377\300\257')" 2>/dev/null)
if printf '%s' "$out" | "${PYTHON:-python3}" -c '
import json, sys
o = json.loads(sys.stdin.buffer.read().decode("utf-8", "strict"))
sys.exit(0 if o["user"] == "bob\\xff\\xc0\\xaf" and o["decision"] == "deny" else 1)'; then
	pass=$((pass + 1))
else
	fail=$((fail + 1)); echo "FAIL: --json with a non-UTF-8 user name: $out"
fi
# the token never reaches the output
if "$check" -c "$conf" -o debug=yes --json enabled-8 | grep -q -- "$CSMS_TEST_TOKEN"; then
	fail=$((fail + 1)); echo "FAIL: token printed"
else
	pass=$((pass + 1))
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
