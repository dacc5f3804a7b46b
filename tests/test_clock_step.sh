#!/bin/bash
# State written while the wall clock was ahead (an RTC in local time until chrony steps it
# back, a VM restored from a snapshot) must not come back as fresh once real time reaches
# its date: a check that may write cache_dir removes a verdict entry, an outage record or a
# probe token dated ahead when it reads it. Through real libpam (tests/pamrun), the clock
# moved with libfaketime (the monotonic clock untouched, as in the field). Needs root
# (libpam reads a service file only if root owns it) and faketime.
set -u
module=${CSMS_MODULE:?} check=${CSMS_CHECK:?}
pamrun=$(dirname "$check")/tests/pamrun
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root"; exit 77
fi
if ! command -v faketime >/dev/null; then
	echo "SKIP: faketime is not installed"; exit 77
fi
# libfaketime is preloaded: a sanitizer build must not insist on coming first
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
export DONT_FAKE_MONOTONIC=1
dir=$(mktemp -d /tmp/csms-clock.XXXXXX)
trap 'rm -rf "$dir"' EXIT
chmod 755 "$dir"
. "$(dirname "$0")/standin-config.sh"
standin_config "$dir" 127.0.0.1
mkdir -m 700 "$dir/cache"
mkdir "$dir/pam.d"
base="account required $module conf=$dir/pam_csms.conf cache_dir=$dir/cache retries=0"
printf '%s cache_ttl=15m\n' "$base" >"$dir/pam.d/ttl"
printf '%s offline_grace=1h\n' "$base" >"$dir/pam.d/grace"
printf '%s offline_grace=1h fail_mode=open\naccount required pam_permit.so\n' "$base" \
	>"$dir/pam.d/open"
chmod 644 "$dir/pam.d/"*
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

states() { printf '%s\n' "$@" >"$dir/states.tmp" && mv "$dir/states.tmp" "${CSMS_STANDIN_STATES:?}"; }
# at OFFSET SERVICE USER WANT_CODE WANT_LOG_REGEX: one transaction, the clock moved by OFFSET
# seconds ("+28800"; libfaketime reads "+8h10m" as 8 minutes), "" for the real clock
at() {
	local out
	out=$(if [ -n "$1" ]; then faketime -f "$1" "$pamrun" "$dir/pam.d" "$2" "$3" account
	else "$pamrun" "$dir/pam.d" "$2" "$3" account; fi 2>&1)
	if printf '%s\n' "$out" | grep -q -- "-> $4 " && printf '%s\n' "$out" | grep -Eq -- "$5"; then
		ok
	else
		bad "${1:-now} $2 $3: want $4 and /$5/, got: $out"
	fi
}
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
endpoint="https://127.0.0.1:$CSMS_STANDIN_PORT" project=$CSMS_STANDIN_PROJECT
entry() { echo "$dir/cache/v-$(sha "$endpoint"$'\n'"$project"$'\n'"$1")"; }
outage="$dir/cache/o-$(sha "$endpoint"$'\n'"$project")"
probe="$dir/cache/p-$(sha "$endpoint"$'\n'"$project")"

# 1. cache_ttl: ENABLED kept while the clock was 8 h ahead; back at the real time the
# secret is DISABLED and the first check there fails (503), so no answer replaces the
# entry. 8 h 10 min later, inside cache_ttl by the entry's date, CSMS must be asked.
states ahead-ttl=ENABLED
at +28800 ttl ahead-ttl PAM_SUCCESS 'decision=permit reason=state .*source=api'
[ -f "$(entry ahead-ttl)" ] && ok || bad "no entry written at +8h"
states ahead-ttl=err503
at "" ttl ahead-ttl PAM_AUTHINFO_UNAVAIL 'decision=unavailable reason=http .*source=api'
[ ! -e "$(entry ahead-ttl)" ] && ok || bad "an entry dated 8 h ahead was left in cache_dir"
states ahead-ttl=DISABLED
rm -f "$outage"
at +29400 ttl ahead-ttl PAM_PERM_DENIED 'decision=deny reason=state .*state=DISABLED source=api'

# 2. offline_grace: the same entry must not give a stale permit 8 h 10 min on, under a 503
states ahead-grace=ENABLED
at +28800 grace ahead-grace PAM_SUCCESS 'decision=permit reason=state .*source=api'
states ahead-grace=err503
at "" grace ahead-grace PAM_AUTHINFO_UNAVAIL 'decision=unavailable reason=http .*source=api'
[ ! -e "$(entry ahead-grace)" ] && ok || bad "an entry dated 8 h ahead was left in cache_dir"
rm -f "$outage"
at +29400 grace ahead-grace PAM_AUTHINFO_UNAVAIL 'decision=unavailable reason=http .*source=api'

# 3. An outage record opened 8 h ahead, for 60 s. A check at the real time that opens no
# window of its own (401) removes it; 8 h and 5 s on, fail_mode=open must not apply to a
# DISABLED secret without asking.
now=$(date +%s%3N) ahead=$((now + 8 * 3600 * 1000))
printf 'pam_csms outage 1\nendpoint %s\nproject %s\nreason http\nwindow 60000\nuntil %s\n' \
	"$endpoint" "$project" $((ahead + 60000)) >"$outage"
chmod 600 "$outage"
states ahead-outage=unauth
at "" open ahead-outage PAM_SUCCESS 'decision=fail_open reason=credentials_rejected .*source=api'
[ ! -e "$outage" ] && ok || bad "an outage record dated 8 h ahead was left in cache_dir"
states ahead-outage=DISABLED
at +28805 open ahead-outage PAM_PERM_DENIED 'decision=deny reason=state .*source=api'

# 4. A probe token dated ahead is taken over: the check after a window probes CSMS
printf 'pam_csms outage 1\nendpoint %s\nproject %s\nreason http\nwindow 1000\nuntil %s\n' \
	"$endpoint" "$project" $((now - 1000)) >"$outage"
chmod 600 "$outage"
: >"$probe"
chmod 600 "$probe"
touch -d @$(((now / 1000) + 8 * 3600)) "$probe"
states ahead-probe=ENABLED
at "" ttl ahead-probe PAM_SUCCESS 'decision=permit reason=state .*source=api'
[ ! -e "$probe" ] && ok || bad "a probe token dated 8 h ahead was left in cache_dir"

# 5. csms-check reads the same files the same way: a future entry goes
states ahead-cc=ENABLED
out=$(faketime -f +28800 "$check" -c "$dir/pam_csms.conf" -o cache_dir="$dir/cache" \
	-o cache_ttl=15m ahead-cc 2>&1) && [ -f "$(entry ahead-cc)" ] && ok || bad "csms-check at +8h: $out"
states ahead-cc=DISABLED
before=$(date +%s%3N)
out=$("$check" -c "$dir/pam_csms.conf" -o cache_dir="$dir/cache" -o cache_ttl=15m ahead-cc 2>&1)
if [ $? = 1 ] && printf '%s\n' "$out" | grep -q 'source=api'; then ok; else bad "csms-check now: $out"; fi
# ... and the entry now there is the answer just given, dated now, not the one from +8 h
f=$(entry ahead-cc)
t=$(sed -n 's/^time //p' "$f" 2>/dev/null)
a=$(sed -n 's/^answer //p' "$f" 2>/dev/null)
if [ -n "$t" ] && [ "$t" -ge "$before" ] && [ "$t" -le "$(date +%s%3N)" ] && [ "$a" = "state 44495341424c4544" ]; then # DISABLED in hex
	ok
else
	bad "the entry after csms-check now: time ${t:-none} (checked from $before), answer ${a:-none}"
fi
rm -f "$CSMS_STANDIN_STATES"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
