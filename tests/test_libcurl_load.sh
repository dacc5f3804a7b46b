#!/bin/bash
# libcurl.so.4 is dlopened when a check needs a request (src/http.c). A libcurl that cannot
# be loaded, lacks a function or needs one its libraries lack is a fault of this host, not
# CSMS failing: decision=error (PAM_SERVICE_ERR) whatever fail_mode says, with the fix in
# detail=, nothing crashes, no request is made. Shown with stand-in libraries
# found through LD_LIBRARY_PATH, through real libpam (tests/pamrun) and csms-check.
# The module loads RTLD_LAZY and relies on the loader binding -z now objects completely,
# so the system's libcurl.so.4, libssl and libcrypto must be linked -z now: checked first.
# The price of RTLD_LAZY (a library built without -z now that lacks a function kills the
# host if the function is called) is pinned too, so the docs stay true. Needs root
# (libpam reads a service file only if root owns it).
set -u
module=${CSMS_MODULE:?} check=${CSMS_CHECK:?}
pamrun=$(dirname "$check")/tests/pamrun
# CC may be several words (ccache gcc)
cc=${CC:-cc}
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root"; exit 77
fi
dir=$(mktemp -d /tmp/csms-libcurl.XXXXXX)
trap 'rm -rf "$dir"' EXIT
chmod 755 "$dir"
. "$(dirname "$0")/standin-config.sh"
standin_config "$dir" 127.0.0.1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# The premise: the loader binds the system's libcurl.so.4, libssl and libcrypto at dlopen,
# whatever the mode. Asked of the loader itself: which files does it load?
cat >"$dir/which.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		void *h = dlopen(argv[i], RTLD_LAZY | RTLD_LOCAL);
		struct link_map *m;

		if (h == NULL || dlinfo(h, RTLD_DI_LINKMAP, &m) != 0)
			return 1;
		puts(m->l_name);
	}
	return 0;
}
EOF
# shellcheck disable=SC2086
if ! $cc -o "$dir/which" "$dir/which.c" -ldl ||
	! libs=$("$dir/which" libcurl.so.4 libssl.so.3 libcrypto.so.3); then
	echo "FAIL: cannot find the system's libcurl.so.4, libssl.so.3 and libcrypto.so.3"; exit 1
fi
for lib in $libs; do
	if readelf -d "$lib" | grep -Eq '\(FLAGS\).*BIND_NOW|\(FLAGS_1\).*NOW|\(BIND_NOW\)'; then
		ok
	else
		bad "$lib is not linked -z now: src/http.c must load libcurl RTLD_NOW"
	fi
done

# Three stand-ins for libcurl.so.4: one without its functions, and two with them whose
# curl_global_init needs a function no library has, linked -z now and -z lazy.
cat >"$dir/empty.c" <<'EOF'
int csms_not_libcurl = 1;
EOF
cat >"$dir/broken.c" <<'EOF'
void csms_test_no_such_function(void);
int curl_global_init(long flags) { (void)flags; csms_test_no_such_function(); return 0; }
void *curl_easy_init(void) { return 0; }
int curl_easy_setopt(void *h, int o, ...) { (void)h; (void)o; return 0; }
int curl_easy_perform(void *h) { (void)h; return 0; }
int curl_easy_getinfo(void *h, int i, ...) { (void)h; (void)i; return 0; }
void curl_easy_cleanup(void *h) { (void)h; }
const char *curl_easy_strerror(int c) { (void)c; return ""; }
void *curl_slist_append(void *l, const char *s) { (void)l; (void)s; return 0; }
void curl_slist_free_all(void *l) { (void)l; }
void curl_easy_reset(void *h) { (void)h; }
EOF
sed 's/csms_test_no_such_function();/return 2;/' "$dir/broken.c" >"$dir/initfail.c"
mkdir "$dir/empty" "$dir/now" "$dir/lazy" "$dir/initfail"
# shellcheck disable=SC2086
if ! $cc -shared -fPIC -o "$dir/empty/libcurl.so.4" "$dir/empty.c" ||
	! $cc -shared -fPIC -Wl,-z,now -o "$dir/now/libcurl.so.4" "$dir/broken.c" ||
	! $cc -shared -fPIC -Wl,-z,lazy -o "$dir/lazy/libcurl.so.4" "$dir/broken.c" ||
	! $cc -shared -fPIC -o "$dir/initfail/libcurl.so.4" "$dir/initfail.c"; then
	echo "FAIL: cannot build the stand-in libraries"; exit 1
fi
# the control: the lazily linked one really binds that function lazily (no -fno-plt default)
if readelf -rW "$dir/lazy/libcurl.so.4" | grep -q 'JUMP_SLOT.*csms_test_no_such_function'; then
	ok
else
	bad "the -z lazy stand-in does not bind csms_test_no_such_function lazily"
fi

mkdir "$dir/pam.d"
printf 'account required %s conf=%s\n' "$module" "$dir/pam_csms.conf" >"$dir/pam.d/closed"
# PAM_IGNORE from a module alone in a stack ends in PAM_PERM_DENIED: pam_permit follows
printf 'account required %s conf=%s fail_mode=open\naccount required pam_permit.so\n' \
	"$module" "$dir/pam_csms.conf" >"$dir/pam.d/open"
chmod 644 "$dir/pam.d/closed" "$dir/pam.d/open"
requests() { wc -l <"${CSMS_STANDIN_LOG:?}"; }

pam() { # pam LIBDIR SERVICE WANT_CODE WANT_LOG_REGEX
	local out before
	before=$(requests)
	out=$(env ${1:+LD_LIBRARY_PATH="$1"} "$pamrun" "$dir/pam.d" "$2" enabled-libcurl account 2>&1)
	if printf '%s\n' "$out" | grep -q -- "-> $3 " && printf '%s\n' "$out" | grep -Eq -- "$4"; then
		ok
	else
		bad "${1:-system libcurl} $2: want $3 and /$4/, got: $out"
	fi
	if [ -n "$1" ] && [ "$(requests)" != "$before" ]; then
		bad "${1} $2: a request was made"
	fi
}
# the control: the system's libcurl answers
pam "" closed PAM_SUCCESS 'decision=permit reason=state .*source=api'
pam "$dir/empty" closed PAM_SERVICE_ERR \
	'decision=error reason=config .*source=none .*attempts=0 .*detail=cannot\\x20load\\x20libcurl.so.4:\\x20it\\x20has\\x20no\\x20curl_global_init;\\x20reinstall\\x20libcurl4'
pam "$dir/empty" open PAM_SERVICE_ERR 'decision=error reason=config'
# -z now: the module's RTLD_LAZY dlopen fails on the missing function
pam "$dir/now" closed PAM_SERVICE_ERR \
	'decision=error reason=config .*undefined\\x20symbol:\\x20csms_test_no_such_function;\\x20reinstall'
pam "$dir/now" open PAM_SERVICE_ERR 'decision=error reason=config'
# curl_global_init fails (CURLE_FAILED_INIT): the same, a fault of this host
pam "$dir/initfail" closed PAM_SERVICE_ERR \
	'decision=error reason=config .*detail=libcurl\\x20initialisation\\x20failed:\\x20curl_global_init\\x20failed\\x20\(2\);\\x20check\\x20the\\x20memory\\x20limits'
pam "$dir/initfail" open PAM_SERVICE_ERR 'decision=error reason=config'
# --doctor names each on its libcurl line, with the fix that fits
doctor_libcurl() { # doctor_libcurl LIBDIR WANT_LINE_REGEX
	local out rc
	out=$(LD_LIBRARY_PATH="$1" "$check" --doctor -c "$dir/pam_csms.conf" 2>&1)
	rc=$?
	if [ "$rc" = 1 ] && printf '%s\n' "$out" | grep -Eq -- "$2" &&
		printf '%s\n' "$out" | grep -Eq '^tls +FAIL: not checked'; then
		ok
	else
		bad "csms-check --doctor with $1: exit $rc, want /$2/: $out"
	fi
}
doctor_libcurl "$dir/empty" \
	'^libcurl +FAIL: cannot load libcurl.so.4: it has no curl_global_init; reinstall libcurl4'
doctor_libcurl "$dir/initfail" \
	'^libcurl +FAIL: libcurl initialisation failed: curl_global_init failed \(2\); check the memory limits and OpenSSL'

# The price of RTLD_LAZY, pinned: with the lazily linked one the module's dlopen succeeds
# and the host dies when curl_global_init calls the missing function.
before=$(requests)
out=$(LD_LIBRARY_PATH="$dir/lazy" "$pamrun" "$dir/pam.d" closed enabled-libcurl account 2>&1)
rc=$?
if [ "$rc" = 127 ] && printf '%s\n' "$out" | grep -q 'symbol lookup error.*csms_test_no_such_function'; then
	ok
else
	bad "module with a lazily linked broken libcurl: exit $rc (want 127, no PAM answer): $out"
fi
# csms-check binds everything, so it finds that one broken, and answers
out=$(LD_LIBRARY_PATH="$dir/lazy" "$check" -c "$dir/pam_csms.conf" enabled-libcurl 2>&1)
rc=$?
if [ "$rc" = 4 ] && printf '%s\n' "$out" |
	grep -Eq '^decision=error reason=config .*undefined\\x20symbol:\\x20csms_test_no_such_function;\\x20reinstall'; then
	ok
else
	bad "csms-check with a lazily linked broken libcurl: exit $rc: $out"
fi
# a failure to load libcurl says nothing of CSMS: no outage window for the other checks
mkdir -m 700 "$dir/cache"
out=$(LD_LIBRARY_PATH="$dir/lazy" "$check" -c "$dir/pam_csms.conf" -o cache_dir="$dir/cache" \
	-o offline_grace=1h enabled-libcurl 2>&1)
rc=$?
if [ "$rc" = 4 ] && [ -z "$(find "$dir/cache" -name 'o-*')" ] &&
	printf '%s\n' "$out" | grep -q 'source=none .*attempts=0 '; then
	ok
else
	bad "a libcurl that cannot load opened an outage window (exit $rc): $(ls "$dir/cache") $out"
fi
# and so does --doctor, with the fix
out=$(LD_LIBRARY_PATH="$dir/lazy" "$check" --doctor -c "$dir/pam_csms.conf" 2>&1)
rc=$?
if [ "$rc" = 1 ] && printf '%s\n' "$out" | grep -Eq '^libcurl +FAIL: .*undefined.*csms_test_no_such_function.*apt-get install --reinstall libcurl4'; then
	ok
else
	bad "csms-check --doctor with a lazily linked broken libcurl: exit $rc: $out"
fi
if [ "$(requests)" != "$before" ]; then
	bad "a request was made with the lazily linked broken libcurl"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
