#!/bin/sh
# Every key the parser accepts has its own entry in pam_csms.conf(5) and a line in
# etc/pam_csms.conf (commented or not).
set -u
src=${CSMS_SRCDIR:?}
keys=$(sed -n 's/^	{ "\([a-z_]*\)", \(true\|false\), \(set_[a-z_]*\|NULL\) },.*$/\1/p' "$src/src/config.c")
n=$(printf '%s\n' $keys | wc -l)
pass=0 fail=0
if [ "$n" -lt 20 ]; then
	echo "FAIL: found only $n keys in src/config.c"; fail=$((fail + 1))
fi
for k in $keys; do
	if grep -Eq "^\\.B[IR]? \"$k = " "$src/man/pam_csms.conf.5"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1)); echo "FAIL: key $k has no entry in man/pam_csms.conf.5"
	fi
	if grep -Eq "^#? ?$k =" "$src/etc/pam_csms.conf"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1)); echo "FAIL: key $k is missing from etc/pam_csms.conf"
	fi
done
# tests/catalogue.md accounts for every case of the catalogue, 1 to 123, once each, and
# numbers the rows added since (124 on) without a gap
rows=$(grep -oE '^\| [0-9]+ \|' "$src/tests/catalogue.md" | tr -dc '0-9\n' | sort -n | uniq)
last=$(printf '%s\n' "$rows" | tail -n 1)
if [ "${last:-0}" -ge 123 ] &&
	[ "$(printf '%s\n' "$rows" | tr '\n' ' ')" = "$(seq 1 "$last" | tr '\n' ' ')" ]; then
	pass=$((pass + 1))
else
	fail=$((fail + 1)); echo "FAIL: tests/catalogue.md does not have rows 1 to 123 and on, each once"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
