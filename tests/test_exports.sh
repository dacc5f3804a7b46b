#!/bin/sh
# The built module: only pam_sm_* in its dynamic symbol table, and hardened linking.
set -u
so=${CSMS_MODULE:?}
fail=0
extra=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^pam_sm_')
if [ -n "$extra" ]; then
	echo "FAIL: exported besides pam_sm_*: $extra"; fail=1
fi
# the doctor is csms-check's alone (src/doctor.c is linked into csms-check only): none of
# its code in the module, and none of the network and file-system calls only it makes
if nm "$so" | grep -Eq ' [tT] (csms_doctor|step_[a-z]+)$'; then
	echo "FAIL: the module carries doctor code: $(nm "$so" | grep -E ' [tT] (csms_doctor|step_)' | tr '\n' ' ')"; fail=1
fi
for f in getaddrinfo poll fstatvfs; do
	if nm -D --undefined-only "$so" | grep -Eq " $f(@|$)"; then
		echo "FAIL: the module calls $f, which only --doctor needs"; fail=1
	fi
done
# libcurl is dlopened on first use, never linked (src/http.c)
if readelf -d "$so" | grep -q 'NEEDED.*libcurl'; then
	echo "FAIL: the module links libcurl"; fail=1
fi
# inih linked in (configure.ac, unless --without-static-inih): one library fewer to load
case ${CSMS_INIH_LIBS:-} in
*.a)
	if readelf -d "$so" | grep -q 'NEEDED.*libinih'; then
		echo "FAIL: configured with $CSMS_INIH_LIBS, but the module loads libinih.so"; fail=1
	fi
	;;
esac
for f in NODELETE NOW; do
	readelf -d "$so" | grep -q "FLAGS_1.*$f" || { echo "FAIL: FLAGS_1 lacks $f"; fail=1; }
done
readelf -d "$so" | grep -q "BIND_NOW" || { echo "FAIL: no BIND_NOW"; fail=1; }
readelf -lW "$so" | grep -q "GNU_RELRO" || { echo "FAIL: no GNU_RELRO"; fail=1; }
readelf -lW "$so" | awk '/GNU_STACK/ { if ($7 ~ /E/) exit 1 }' || { echo "FAIL: executable stack"; fail=1; }
# a sanitizer build adds its own constructors and checks: skip those two there
if readelf -d "$so" | grep -q 'libasan\|libubsan'; then
	echo "sanitizer build: constructor and stack-protector checks skipped"
else
readelf -sW "$so" | grep -q "__stack_chk_fail" || { echo "FAIL: no stack protector"; fail=1; }
readelf -SW "$so" | grep -q "\.init_array" && {
	# only the compiler's frame_dummy may be there: one entry of 8 bytes
	size=$(readelf -SW "$so" | awk '/\.init_array/ {print $6}')
	[ "$size" = "000008" ] || { echo "FAIL: constructors in the module ($size)"; fail=1; }
}
fi
if [ "$fail" = 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit $fail
