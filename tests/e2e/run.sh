#!/bin/bash
# tests/e2e/run.sh [LIBPAM_CSMS_DEB]
#
# Installed-system tests for the libpam-csms package, the way an admin runs it:
# build the .deb, install it with apt into a throwaway Debian 12 root, point it
# at a CSMS stand-in on 127.0.0.1, enable it with pam-auth-update, and show that
# su, sudo and sshd are gated by it; then remove and purge it and show that the
# PAM stack is exactly as before.
#
# Needs root (debootstrap, chroot, mounts); exits 77 (skipped) without it, or
# when debootstrap is missing and cannot be installed.
#
#   LIBPAM_CSMS_DEB  an already built libpam-csms_*.deb; without it the package
#                    is built with "dpkg-buildpackage -us -uc -b" in a temporary
#                    copy of the source tree (missing Build-Depends are installed
#                    with apt-get build-dep)
#
# Environment:
#   E2E_DIR     state directory (default: $PWD/e2e-root, i.e. under the build
#               tree when run from it). E2E_DIR/root is the debootstrap'd
#               Debian 12 root, cached between runs (E2E_DIR/root/.csms-e2e-stamp);
#               each run works on an overlay of it (or a copy) that is thrown away.
#   E2E_MIRROR  Debian mirror for debootstrap (default: the first bookworm
#               mirror named in /etc/apt/sources.list(.d), else deb.debian.org)
#   E2E_KEEP=1  keep the run's work directory (logs, overlay upper dir)
#   DEB_BUILD_OPTIONS, DEB_BUILD_PROFILES  passed to dpkg-buildpackage
#               (e.g. DEB_BUILD_OPTIONS=nocheck skips make check in the build)
#
# Everything runs in a private mount namespace (unshare), so no mount made
# here is visible outside it or can outlive it; mounts are also taken down on
# every exit, and every process started in the chroot is killed.  Servers
# listen on 127.0.0.1 only.  Output: one "ok - ..." / "not ok - ..." line per
# check, then "N passed, M failed[, K skipped]"; the exit status is 1 if any
# check failed.
set -u -o pipefail
export LC_ALL=C
umask 022

self=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/$(basename "${BASH_SOURCE[0]}")
here=$(dirname "$self")
srcdir=$(cd "$here/../.." && pwd -P)

SUITE=bookworm
PROJECT=0123456789abcdef0123456789abcdef
STAMP=.csms-e2e-stamp
# What the cached root holds besides minbase: the test programs and the
# package's run-time dependencies (so a warm run needs no download).
INCLUDE=sudo,openssh-server,openssh-client,python3,openssl,libpam-runtime,libcurl4,libjson-c5,libinih1
CACHE_KEY="csms-e2e v1 suite=$SUITE variant=minbase include=$INCLUDE"
CHROOT_PATH=/usr/sbin:/usr/bin:/sbin:/bin

skip() {
	echo "run.sh: SKIP: $*"
	exit 77
}

# ---------------------------------------------------------------------------
# Root and a private mount namespace first.
[ "$(id -u)" = 0 ] || skip "the installed-system tests need root (debootstrap, chroot, mount)"
if [ "${CSMS_E2E_IN_NS:-}" != 1 ]; then
	command -v unshare >/dev/null 2>&1 || skip "unshare (util-linux) is not available"
	unshare --mount true 2>/dev/null || skip "cannot create a mount namespace (unshare --mount)"
	export CSMS_E2E_IN_NS=1
	exec unshare --mount --propagation private -- bash "$self" "$@"
fi

if [ $# -gt 1 ]; then
	echo "usage: $0 [LIBPAM_CSMS_DEB]" >&2
	exit 64
fi
given_deb=
if [ $# = 1 ]; then
	[ -f "$1" ] || { echo "run.sh: $1: no such file" >&2; exit 64; }
	given_deb=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
fi

E2E_DIR=${E2E_DIR:-$PWD/e2e-root}
case $E2E_DIR in /*) ;; *) E2E_DIR=$PWD/$E2E_DIR ;; esac
E2E_DIR=$(realpath -m "$E2E_DIR")
case $E2E_DIR in
*[[:space:]]* | / | /usr | /usr/* | /etc | /etc/* | /proc* | /sys* | /dev*)
	echo "run.sh: refusing E2E_DIR=$E2E_DIR" >&2
	exit 64
	;;
esac
mkdir -p "$E2E_DIR" || exit 1
base=$E2E_DIR/root
jobs=$(nproc 2>/dev/null || echo 2)
t_start=$SECONDS

# ---------------------------------------------------------------------------
# Reporting.
npass=0
nfail=0
nskip=0
ok() {
	npass=$((npass + 1))
	echo "ok - $*"
}
not_ok() {
	nfail=$((nfail + 1))
	echo "not ok - $*"
}
skipped() {
	nskip=$((nskip + 1))
	echo "ok - $* # SKIP"
}
note() { echo "# $*"; }
# check DESC CMD...: ok when CMD succeeds
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
summary() {
	local line="$npass passed, $nfail failed"
	[ "$nskip" -gt 0 ] && line="$line, $nskip skipped"
	note "total time $((SECONDS - t_start)) s"
	echo "$line"
}
# bail DESC [LOGFILE]: a step the rest depends on failed
bail() {
	not_ok "$1"
	if [ -n "${2:-}" ] && [ -f "$2" ]; then
		tail -n 40 "$2" | sed 's/^/#   /'
	fi
	summary
	exit 1
}

# ---------------------------------------------------------------------------
# Cleanup: processes first, then mounts, then files.  Nothing is deleted while
# anything is still mounted below it.
work=
root=
base_tmp=
pids=()

mounts_under() { # PREFIX: mount points at or below PREFIX, deepest first
	awk -v p="$1" '$5 == p || index($5, p "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

umount_under() {
	local m
	for m in $(mounts_under "$1"); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	[ -z "$(mounts_under "$1")" ]
}

# Every process whose root directory is inside DIR (this run's work directory
# or new root, or those of an earlier run that was killed) was started by a
# run of this script (through chroot, debootstrap or apt); end them by pid.
kill_chroot_procs() { # DIR
	local sig p r victims=() under=$1
	[ -n "$under" ] || return 0
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		case $r in "$under"/*) victims+=("${p#/proc/}") ;; esac
	done
	[ ${#victims[@]} -eq 0 ] && return 0
	for sig in TERM KILL; do
		kill -s "$sig" "${victims[@]}" 2>/dev/null
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			local alive=0
			for p in "${victims[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
			[ $alive = 0 ] && return 0
			sleep 0.2
		done
	done
}

safe_rmrf() { # DIR
	[ -n "$1" ] && [ -e "$1" ] || return 0
	if umount_under "$1"; then
		rm -rf --one-file-system "$1"
	else
		echo "run.sh: $1 still has mounts; not removed" >&2
		return 1
	fi
}

cleanup() {
	local status=$?
	trap - EXIT HUP INT TERM
	local p
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	kill_chroot_procs "$work"
	kill_chroot_procs "$base_tmp"
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null
	done
	for p in "$work" "$base_tmp"; do
		[ -n "$p" ] && { umount_under "$p" || echo "run.sh: could not unmount everything under $p" >&2; }
	done
	if [ -n "$work" ]; then
		if [ "${E2E_KEEP:-0}" = 1 ]; then
			echo "run.sh: kept $work" >&2
		else
			safe_rmrf "$work"
		fi
	fi
	[ -n "$base_tmp" ] && safe_rmrf "$base_tmp"
	exit "$status"
}
trap cleanup EXIT
trap 'echo "# interrupted (SIGHUP)"; exit 129' HUP
trap 'echo "# interrupted (SIGINT)"; exit 130' INT
trap 'echo "# interrupted (SIGTERM)"; exit 143' TERM

# Work directories of earlier runs that were killed (their script is gone).
for d in "$E2E_DIR"/work.* "$E2E_DIR"/root.tmp.* "$E2E_DIR"/root.old.*; do
	[ -d "$d" ] || continue
	p=$(cat "$d/.owner" 2>/dev/null) || p=
	if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then continue; fi
	kill_chroot_procs "$d"
	safe_rmrf "$d"
done

work=$(mktemp -d "$E2E_DIR/work.XXXXXX") || exit 1
chmod 0755 "$work"
echo $$ >"$work/.owner"

# ---------------------------------------------------------------------------
# Host tools.
apt_updated=0
host_apt_install() {
	export DEBIAN_FRONTEND=noninteractive
	if [ $apt_updated = 0 ]; then
		apt-get update -qq >>"$work/host-apt.log" 2>&1 || return 1
		apt_updated=1
	fi
	apt-get install -y -qq --no-install-recommends "$@" >>"$work/host-apt.log" 2>&1
}
if ! command -v debootstrap >/dev/null 2>&1; then
	note "installing debootstrap"
	host_apt_install debootstrap || skip "debootstrap is not installed and could not be installed"
fi

# ---------------------------------------------------------------------------
# 1. The .deb.
deb=
changes=
if [ -n "$given_deb" ]; then
	deb=$given_deb
	ok "using the given package $(basename "$deb")"
else
	t0=$SECONDS
	src=$work/build/src
	mkdir -p "$src"
	rel=
	case $E2E_DIR/ in "$srcdir"/*) rel=${E2E_DIR#"$srcdir"/} ;; esac
	if command -v git >/dev/null 2>&1 && git -C "$srcdir" rev-parse --show-toplevel >/dev/null 2>&1 &&
		[ "$(git -C "$srcdir" rev-parse --show-toplevel)" = "$srcdir" ]; then
		# tracked files plus new files that are not ignored (read-only git use)
		(cd "$srcdir" && git ls-files -z --cached --others --exclude-standard) |
			if [ -n "$rel" ]; then
				awk -v RS='\0' -v ORS='\0' -v p="$rel/" 'index($0, p) != 1'
			else
				cat
			fi |
			(cd "$srcdir" && tar --null --ignore-failed-read --no-recursion -T - -cf -) |
			tar -xf - -C "$src" || bail "copy the source tree"
	else
		tar -C "$srcdir" --exclude=./.git --exclude='./build' --exclude='./build-*' \
			--exclude=./autom4te.cache ${rel:+--exclude="./$rel"} -cf - . |
			tar -xf - -C "$src" || bail "copy the source tree"
	fi
	if ! (cd "$src" && dpkg-checkbuilddeps) >/dev/null 2>&1; then
		note "installing the missing Build-Depends"
		host_apt_install dpkg-dev >/dev/null 2>&1
		{ [ $apt_updated = 1 ] || { apt-get update -qq && apt_updated=1; }; } >>"$work/host-apt.log" 2>&1
		DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -qq "$src" >>"$work/host-apt.log" 2>&1 ||
			bail "install the Build-Depends (apt-get build-dep)" "$work/host-apt.log"
	fi
	note "building the package (dpkg-buildpackage -us -uc -b)"
	if ! (cd "$src" && env -i PATH="$CHROOT_PATH" HOME="$work/build" LANG=C.UTF-8 \
		DEB_BUILD_OPTIONS="parallel=$jobs ${DEB_BUILD_OPTIONS:-}" \
		${DEB_BUILD_PROFILES:+DEB_BUILD_PROFILES="$DEB_BUILD_PROFILES"} \
		dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
		bail "dpkg-buildpackage -us -uc -b" "$work/build.log"
	fi
	for f in "$work"/build/libpam-csms_*.deb; do [ -f "$f" ] && deb=$f; done
	for f in "$work"/build/*.changes; do [ -f "$f" ] && changes=$f; done
	[ -n "$deb" ] || bail "dpkg-buildpackage made no libpam-csms .deb" "$work/build.log"
	tests_line=$(grep -E '^# (TOTAL|PASS|FAIL|ERROR):' "$work/build.log" | tr -s ' ' | paste -sd' ' -)
	ok "dpkg-buildpackage -us -uc -b built $(basename "$deb") in $((SECONDS - t0)) s${tests_line:+ (make check: $tests_line)}"
fi

# lintian and hardening-check, when installed
if command -v lintian >/dev/null 2>&1; then
	if lintian --fail-on error,warning "${changes:-$deb}" >"$work/lintian.log" 2>&1; then
		ok "lintian reports no error and no warning"
	else
		not_ok "lintian reports no error and no warning"
		grep -E '^[EW]:' "$work/lintian.log" | sed 's/^/#   /'
	fi
else
	skipped "lintian (not installed)"
fi
mkdir -p "$work/deb"
dpkg-deb -x "$deb" "$work/deb" || bail "dpkg-deb -x $(basename "$deb")"
if command -v hardening-check >/dev/null 2>&1; then
	# --nocfprotection: bookworm's crti.o carries no IBT/SHSTK property note, so
	# the linker drops it from every binary (Debian's own pam_unix.so included).
	hc_desc="hardening-check --nocfprotection: pam_csms.so and csms-check have PIE (csms-check), stack protector, fortify, relro and bindnow"
	if hardening-check --nocfprotection "$work"/deb/usr/lib/*/security/pam_csms.so \
		"$work/deb/usr/sbin/csms-check" >"$work/hardening.log" 2>&1; then
		ok "$hc_desc"
	else
		not_ok "$hc_desc"
		sed 's/^/#   /' "$work/hardening.log"
	fi
else
	skipped "hardening-check (devscripts not installed)"
fi

# ---------------------------------------------------------------------------
# 2. The cached Debian 12 root.

# The first mirror that the host's apt sources name for bookworm main.
find_mirror() {
	local f
	if [ -n "${E2E_MIRROR:-}" ]; then
		echo "$E2E_MIRROR"
		return
	fi
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk -v s="$SUITE" '$1 == "deb" {
			i = 2
			if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
			if ($(i + 1) == s) { print $i; exit }
		}' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v s="$SUITE" 'BEGIN { RS = ""; FS = "\n" }
		{
			uri = ""; deb = 0; suite = 0; on = 1
			for (i = 1; i <= NF; i++) {
				split($i, kv, ":"); k = tolower(kv[1])
				v = substr($i, index($i, ":") + 1)
				if (k == "types" && v ~ /(^|[ \t])deb([ \t]|$)/) deb = 1
				if (k == "suites" && (" " v " ") ~ ("[ \t]" s "[ \t]")) suite = 1
				if (k == "enabled" && v ~ /no/) on = 0
				if (k == "uris") { n = split(v, u, /[ \t]+/); for (j = 1; j <= n; j++) if (u[j] != "") { uri = u[j]; break } }
			}
			if (deb && suite && on && uri != "") { print uri; exit }
		}' "$f"
	done
	echo http://deb.debian.org/debian
}

# Copy the host's apt sources into the root, only those whose every host is a
# Debian one (or the mirror's) and whose signing key the root has.
copy_apt_sources() { # ROOT MIRROR
	local r=$1 mhost f hosts h okf key copied=0
	mhost=$(printf '%s\n' "$2" | sed -E 's#^[a-z]+://([^/]+).*#\1#')
	mkdir -p "$r/etc/apt/sources.list.d"
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		hosts=$(grep -v '^[[:space:]]*#' "$f" | grep -oE '(https?|ftp)://[^/ ]+' | sed -E 's#^[a-z]+://##' | sort -u)
		[ -n "$hosts" ] || continue
		okf=1
		for h in $hosts; do
			case $h in "$mhost" | deb.debian.org | security.debian.org | *.debian.org) ;; *) okf=0 ;; esac
		done
		for key in $(grep -oiE '(signed-by=|signed-by:[[:space:]]*)/[^] ]+' "$f" | sed -E 's#^[^/]*##'); do
			[ -f "$r$key" ] || okf=0
		done
		[ $okf = 1 ] || continue
		[ $copied = 0 ] && rm -f "$r/etc/apt/sources.list"
		cp "$f" "$r$f"
		copied=1
	done
	[ $copied = 1 ] || echo "deb $2 $SUITE main" >"$r/etc/apt/sources.list"
	# a proxy the host's apt is told to use
	for f in /etc/apt/apt.conf /etc/apt/apt.conf.d/*; do
		[ -f "$f" ] && grep -qi 'proxy' "$f" && cp "$f" "$r$f"
	done
	cp -L /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null || true
}

# Runs a command in ROOT with a clean environment.
in_root() { # ROOT CMD...
	local r=$1
	shift
	env -i PATH="$CHROOT_PATH" HOME=/root LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive \
		chroot "$r" "$@"
}

build_base() {
	local mirror tmp old t0=$SECONDS
	mirror=$(find_mirror | head -n 1)
	tmp=$(mktemp -d "$E2E_DIR/root.tmp.XXXXXX") || return 1
	base_tmp=$tmp
	chmod 0755 "$tmp"
	echo $$ >"$tmp/.owner"
	note "creating the Debian 12 root with debootstrap from $mirror (cached in $base)"
	if ! debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$tmp" "$mirror" \
		>"$work/debootstrap.log" 2>&1; then
		tail -n 30 "$work/debootstrap.log" | sed 's/^/#   /'
		[ -f "$tmp/debootstrap/debootstrap.log" ] && tail -n 20 "$tmp/debootstrap/debootstrap.log" | sed 's/^/#   /'
		kill_chroot_procs "$tmp"
		safe_rmrf "$tmp"
		return 1
	fi
	kill_chroot_procs "$tmp"
	umount_under "$tmp" || return 1
	# never start a daemon from a maintainer script in here
	printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
	chmod 0755 "$tmp/usr/sbin/policy-rc.d"
	copy_apt_sources "$tmp" "$mirror"
	mount -t proc -o nosuid,nodev,noexec proc "$tmp/proc" || return 1
	if ! in_root "$tmp" apt-get update -qq >>"$work/debootstrap.log" 2>&1; then
		note "apt-get update failed in the new root (a warm run installs without it)"
	fi
	in_root "$tmp" apt-get clean >/dev/null 2>&1
	kill_chroot_procs "$tmp"
	umount_under "$tmp" || return 1
	echo "$CACHE_KEY" >"$tmp/$STAMP"
	if [ -e "$base" ]; then
		old=$(mktemp -d "$E2E_DIR/root.old.XXXXXX") && echo $$ >"$old/.owner" &&
			mv -T "$base" "$old/root" || return 1
	fi
	if mv -T "$tmp" "$base" 2>/dev/null; then
		rm -f "$base/.owner"
	else
		# a concurrent run won the race; use its root
		safe_rmrf "$tmp"
	fi
	base_tmp=
	[ -n "${old:-}" ] && safe_rmrf "$old"
	note "debootstrap and apt took $((SECONDS - t0)) s"
	[ -f "$base/$STAMP" ]
}

if [ -f "$base/$STAMP" ] && [ "$(cat "$base/$STAMP")" = "$CACHE_KEY" ]; then
	ok "reusing the cached Debian 12 root $base"
else
	build_base || bail "create a Debian 12 root with debootstrap" "$work/debootstrap.log"
	ok "created the Debian 12 root $base with debootstrap"
fi

# ---------------------------------------------------------------------------
# 3. This run's root: an overlay on the cached one (a copy where overlayfs is
#    not available), with its own /proc and a minimal /dev whose /dev/log is
#    our syslog catcher.
root=$work/root
mkdir -p "$root" "$work/upper" "$work/ovl"
if mount -t overlay csms-e2e -o "lowerdir=$base,upperdir=$work/upper,workdir=$work/ovl" "$root" 2>/dev/null; then
	note "run root: overlay on the cached root"
else
	note "run root: a copy of the cached root (no overlayfs)"
	cp -a --reflink=auto "$base/." "$root/" || bail "copy the cached root"
fi
mount -t proc -o nosuid,nodev,noexec proc "$root/proc" || bail "mount /proc in the root"
mount -t tmpfs -o mode=0755,nosuid,size=4m csms-e2e-dev "$root/dev" || bail "mount /dev in the root"
for n in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
	IFS=: read -r name maj min <<<"$n"
	mknod -m 0666 "$root/dev/$name" c "$maj" "$min" || bail "mknod /dev/$name"
done
mkdir -p "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$root/dev/pts" ||
	bail "mount /dev/pts in the root"
ln -s pts/ptmx "$root/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev,size=16m csms-e2e-shm "$root/dev/shm" || bail "mount /dev/shm"
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null
install -d -m 0755 "$root/run/sshd"

R() { in_root "$root" "$@"; }
# R_bg CMD... &: the same in the background, where $! is CMD's own pid and
# CMD gets SIGTERM if this script dies
R_bg() {
	exec env -i PATH="$CHROOT_PATH" HOME=/root LANG=C.UTF-8 TERM=dumb \
		chroot "$root" setpriv --pdeathsig TERM -- "$@"
}

e2e=/opt/csms-e2e # in the root, 0700
install -d -m 0700 "$root$e2e"
install -m 0644 "$srcdir/tests/csms_standin.py" "$srcdir/tests/gen-pki.sh" \
	"$here/syslog_catcher.py" "$root$e2e/"

syslog=$root$e2e/syslog.log
: >"$syslog"
R_bg python3 "$e2e/syslog_catcher.py" /dev/log "$e2e/syslog.log" </dev/null >"$work/syslog_catcher.err" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$root/dev/log" ] && break; sleep 0.1; done
[ -S "$root/dev/log" ] || bail "start the syslog catcher" "$work/syslog_catcher.err"

pam_files() { (cd "$root/etc/pam.d" && ls common-*); }
save_pam() { # DIR
	mkdir -p "$1"
	cp -a "$root"/etc/pam.d/common-* "$1/"
}
same_pam() { # DIR: every common-* file byte-identical to DIR's copy, none added or lost
	local f
	[ "$(pam_files)" = "$(cd "$1" && ls common-*)" ] || return 1
	for f in $(pam_files); do
		cmp -s "$root/etc/pam.d/$f" "$1/$f" || { diff -u "$1/$f" "$root/etc/pam.d/$f" | sed 's/^/#   /'; return 1; }
	done
}
pkg_status() { R dpkg-query -W -f='${Status}' libpam-csms 2>/dev/null; }

# ---------------------------------------------------------------------------
# 4. Install with apt.
save_pam "$work/pam-before"
cp "$deb" "$root/tmp/" || bail "copy the .deb into the root"
debname=$(basename "$deb")
if ! R apt-get install -y --no-install-recommends "/tmp/$debname" >"$work/apt-install.log" 2>&1; then
	note "apt-get install failed without fresh package lists; updating them"
	R apt-get update -qq >>"$work/apt-install.log" 2>&1
	R apt-get install -y --no-install-recommends "/tmp/$debname" >>"$work/apt-install.log" 2>&1 ||
		bail "apt-get install $debname" "$work/apt-install.log"
fi
check "apt-get install $debname" test "$(pkg_status)" = "install ok installed"

pamdir=$(dirname "$(ls "$root"/usr/lib/*/security/pam_unix.so 2>/dev/null | head -n 1)")
pamdir=${pamdir#"$root"}
check "pam_csms.so is installed where libpam loads modules ($pamdir)" \
	test -f "$root$pamdir/pam_csms.so"
check "csms-check is installed in /usr/sbin" test -x "$root/usr/sbin/csms-check"
no_la() { ! R dpkg -L libpam-csms | grep -q '\.la$'; }
check "no libtool .la file is installed" no_la
check "/etc/security/pam_csms.conf is a conffile" \
	grep -qx ' */etc/security/pam_csms.conf [0-9a-f]*' <(R dpkg-query -W -f='${Conffiles}\n' libpam-csms)
check "/usr/share/pam-configs/csms is installed with Default: no" \
	grep -qx 'Default: no' "$root/usr/share/pam-configs/csms"
check "/var/cache/pam_csms is root:root 0700" \
	test "$(stat -c '%U:%G %a' "$root/var/cache/pam_csms")" = "root:root 700"
check "the man pages pam_csms(8), pam_csms.conf(5) and csms-check(8) are installed" \
	test -f "$root/usr/share/man/man8/pam_csms.8.gz" -a -f "$root/usr/share/man/man5/pam_csms.conf.5.gz" \
	-a -f "$root/usr/share/man/man8/csms-check.8.gz"
check "installing changed no PAM stack (the profile is Default: no)" same_pam "$work/pam-before"

# ---------------------------------------------------------------------------
# 5. Users, the CSMS stand-in, the config.
for u in alice bob carol dave; do
	R useradd -m -s /bin/sh "$u" && R usermod -p '*' "$u" || bail "useradd $u"
done
R su -s /bin/true bob >/dev/null 2>&1
check "control: before pam-auth-update --enable csms, su to bob (DISABLED) works" test $? = 0

R sh "$e2e/gen-pki.sh" "$e2e/pki" >"$work/gen-pki.log" 2>&1 || bail "tests/gen-pki.sh in the root" "$work/gen-pki.log"
token=e2e-token-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
# an access key pair the stand-in's gateway knows, for the auth=aksk run (f)
ak=E2E$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F) sk=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
printf '%s %s\n' "$ak" "$sk" >"$root$e2e/aksk"
R_bg python3 "$e2e/csms_standin.py" --pki "$e2e/pki" --port-file "$e2e/port" \
	--log "$e2e/requests.jsonl" --project "$PROJECT" --token "$token" --aksk "$e2e/aksk" \
	--map alice=ENABLED,bob=DISABLED,carol=FROZEN,dave=PENDING_DELETE \
	--exit-with-parent </dev/null >"$work/standin.err" 2>&1 &
standin_pid=$!
pids+=("$standin_pid")
for _ in $(seq 100); do [ -s "$root$e2e/port" ] && break; sleep 0.1; done
[ -s "$root$e2e/port" ] || bail "start the CSMS stand-in (tests/csms_standin.py) in the root" "$work/standin.err"
port=$(cat "$root$e2e/port")
note "CSMS stand-in on https://127.0.0.1:$port (alice ENABLED, bob DISABLED, carol FROZEN, dave PENDING_DELETE)"

install -m 0600 -o root -g root /dev/null "$root/etc/security/pam_csms.token"
printf '%s\n' "$token" >"$root/etc/security/pam_csms.token"
cat >"$root/etc/security/pam_csms.conf" <<EOF
# written by tests/e2e/run.sh
[csms]
endpoint = https://127.0.0.1:$port
project_id = $PROJECT
token_file = /etc/security/pam_csms.token
ca_file = $e2e/pki/ca.pem
timeout = 3s
EOF
chmod 0644 "$root/etc/security/pam_csms.conf"

R csms-check alice >"$work/csms-check.out" 2>&1
st=$?
check "csms-check alice: exit 0 (permit) from the installed tool" test $st = 0
R csms-check -s sshd bob >>"$work/csms-check.out" 2>&1
st=$?
check "csms-check -s sshd bob: exit 1 (deny)" test $st = 1
sed 's/^/#   /' "$work/csms-check.out"

# ---------------------------------------------------------------------------
# 6. Enable the profile.
R pam-auth-update --enable csms >"$work/pam-auth-update.log" 2>&1 ||
	bail "pam-auth-update --enable csms" "$work/pam-auth-update.log"
check "pam-auth-update --enable csms adds 'account required pam_csms.so' to common-account" \
	grep -qE '^account[[:space:]]+required[[:space:]]+pam_csms\.so' "$root/etc/pam.d/common-account"
grep -n pam_csms "$root/etc/pam.d/common-account" | sed 's/^/#   common-account:/'

# logged SERVICE USER DECISION [STATE] [SINCE]: pam_csms logged that decision
# (reason=state) for USER on SERVICE after line SINCE of the syslog capture
logged() {
	local svc=$1 user=$2 dec=$3 state=${4:-} since=${5:-0} pat
	pat="decision=$dec reason=state user=$user service=$svc secret=$user"
	[ -n "$state" ] && pat="$pat state=$state source=api http=200"
	logged_pat "$pat" "$since"
}
# logged_pat TEXT SINCE: a line with TEXT was logged after line SINCE
logged_pat() {
	local pat=$1 since=$2
	for _ in $(seq 30); do
		tail -n "+$((since + 1))" "$syslog" | grep -qF -- "$pat" && return 0
		sleep 0.1
	done
	echo "#   expected a log line with: $pat"
	return 1
}
loglines() { wc -l <"$syslog"; }

# refused PATTERN CMD...: CMD fails, and a log line written meanwhile has PATTERN
refused() {
	local pat=$1 n
	shift
	n=$(loglines)
	! "$@" >/dev/null 2>&1 && logged_pat "$pat" "$n"
}

# gate WANT DESC SERVICE USER DECISION STATE CMD...: CMD exits 0 (WANT=pass)
# or non-zero (WANT=fail), and pam_csms logged DECISION for USER on SERVICE
gate() {
	local want=$1 desc=$2 svc=$3 user=$4 dec=$5 state=$6 n st
	shift 6
	n=$(loglines)
	"$@" >"$work/last.out" 2>&1
	st=$?
	if { [ "$want" = pass ] && [ $st = 0 ]; } || { [ "$want" = fail ] && [ $st != 0 ]; }; then
		if logged "$svc" "$user" "$dec" "$state" "$n"; then
			ok "$desc"
			return
		fi
	else
		echo "#   exit status $st; output:"
		sed 's/^/#     /' "$work/last.out"
	fi
	not_ok "$desc"
}

# ---------------------------------------------------------------------------
# (a) su, run by root: pam_rootok passes the auth stack, so only the account
#     stack, and in it pam_csms, decides.
gate pass "su -s /bin/true alice (ENABLED) succeeds" su alice permit ENABLED R su -s /bin/true alice
gate fail "su -s /bin/true bob (DISABLED) is refused" su bob deny DISABLED R su -s /bin/true bob
gate fail "su -s /bin/true carol (FROZEN) is refused" su carol deny FROZEN R su -s /bin/true carol
gate fail "su -s /bin/true dave (PENDING_DELETE) is refused" su dave deny PENDING_DELETE \
	R su -s /bin/true dave

# (b) sudo. sudo runs the account stack for the user who invokes it (the PAM
#     user is the invoking user, not the -u target), also for NOPASSWD rules.
printf '%s\n' 'alice, bob, carol, dave ALL=(ALL:ALL) NOPASSWD: ALL' >"$root/etc/sudoers.d/csms-e2e"
chmod 0440 "$root/etc/sudoers.d/csms-e2e"
gate pass "sudo -n true run by alice (ENABLED, NOPASSWD rule) succeeds" sudo alice permit ENABLED \
	R setpriv --reuid=alice --regid=alice --init-groups sudo -n true
gate fail "sudo -n true run by bob (DISABLED, NOPASSWD rule) is refused" sudo bob deny DISABLED \
	R setpriv --reuid=bob --regid=bob --init-groups sudo -n true
gate pass "sudo -n -u carol true run by alice succeeds (the invoking user is checked)" sudo alice permit ENABLED \
	R setpriv --reuid=alice --regid=alice --init-groups sudo -n -u carol true
gate fail "sudo -n -u alice true run by bob is refused" sudo bob deny DISABLED \
	R setpriv --reuid=bob --regid=bob --init-groups sudo -n -u alice true
gate fail "sudo -u alice true run by root is decided on root's secret (none: the stand-in says DISABLED), not alice's" \
	sudo root deny DISABLED R sudo -n -u alice true

# (c) sshd on 127.0.0.1, a free port, public-key login only, UsePAM yes, its
#     own config, host key and pid file.
sshport=$(R python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
R ssh-keygen -q -t ed25519 -N '' -C e2e-host -f "$e2e/ssh_host_ed25519_key" || bail "ssh-keygen (host key)"
R ssh-keygen -q -t ed25519 -N '' -C e2e-client -f "$e2e/id_ed25519" || bail "ssh-keygen (client key)"
for u in alice bob; do
	install -d -m 0700 "$root/home/$u/.ssh"
	install -m 0600 "$root$e2e/id_ed25519.pub" "$root/home/$u/.ssh/authorized_keys"
	R chown -R "$u:$u" "/home/$u/.ssh"
done
cat >"$root$e2e/sshd_config" <<EOF
# written by tests/e2e/run.sh
Port $sshport
ListenAddress 127.0.0.1
HostKey $e2e/ssh_host_ed25519_key
PidFile $e2e/sshd.pid
UsePAM yes
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AuthorizedKeysFile .ssh/authorized_keys
LogLevel VERBOSE
EOF
if ! R /usr/sbin/sshd -t -f "$e2e/sshd_config" >"$work/sshd.log" 2>&1; then
	bail "sshd -t accepts the test config" "$work/sshd.log"
fi
R_bg /usr/sbin/sshd -D -e -f "$e2e/sshd_config" </dev/null >>"$work/sshd.log" 2>&1 &
sshd_pid=$!
pids+=("$sshd_pid")
for _ in $(seq 50); do
	(exec 3<>"/dev/tcp/127.0.0.1/$sshport") 2>/dev/null && break
	kill -0 "$sshd_pid" 2>/dev/null || break
	sleep 0.1
done
if (exec 3<>"/dev/tcp/127.0.0.1/$sshport") 2>/dev/null; then
	note "sshd (pid $sshd_pid) on 127.0.0.1:$sshport"
	sshc() { # USER
		R ssh -F /dev/null -i "$e2e/id_ed25519" -p "$sshport" -o BatchMode=yes -o IdentitiesOnly=yes \
			-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=10 \
			-o LogLevel=ERROR "$1@127.0.0.1" true
	}
	gate pass "ssh alice@127.0.0.1 -p $sshport (public key, ENABLED) gets in" sshd alice permit ENABLED sshc alice
	gate fail "ssh bob@127.0.0.1 -p $sshport (public key, DISABLED) is kept out" sshd bob deny DISABLED sshc bob
	kill -TERM "$sshd_pid" 2>/dev/null
	wait "$sshd_pid" 2>/dev/null
	stopped() { ! kill -0 "$sshd_pid" 2>/dev/null && ! (exec 3<>"/dev/tcp/127.0.0.1/$sshport") 2>/dev/null; }
	check "sshd stopped (pid $sshd_pid gone, port $sshport closed)" stopped
else
	not_ok "sshd listens on 127.0.0.1:$sshport"
	sed 's/^/#   /' "$work/sshd.log" | tail -n 20
fi

# (f) auth=aksk from the installed package: the same gate with a signed request, and a
#     wrong secret key kept out with the reason named
install -m 0600 -o root -g root /dev/null "$root/etc/security/pam_csms.credentials"
printf '[credentials]\naccess_key = %s\nsecret_key = %s\n' "$ak" "$sk" \
	>"$root/etc/security/pam_csms.credentials"
cp "$root/etc/security/pam_csms.conf" "$work/pam_csms.conf.token"
printf 'auth = aksk\ncredentials_file = /etc/security/pam_csms.credentials\n' \
	>>"$root/etc/security/pam_csms.conf"
gate pass "auth=aksk: su -s /bin/true alice (ENABLED) succeeds with a signed request" su alice permit \
	ENABLED R su -s /bin/true alice
gate fail "auth=aksk: su -s /bin/true bob (DISABLED) is refused" su bob deny DISABLED \
	R su -s /bin/true bob
signed() { tail -n 1 "$root$e2e/requests.jsonl" | grep -q "SDK-HMAC-SHA256 Access=$ak, SignedHeaders=host;x-project-id;x-sdk-date, Signature="; }
check "auth=aksk: the request carried an SDK-HMAC-SHA256 signature and no token" signed
printf '[credentials]\naccess_key = %s\nsecret_key = not-%s\n' "$ak" "$sk" \
	>"$root/etc/security/pam_csms.credentials"
check "auth=aksk with a wrong secret key: su to alice is refused, reason=credentials_rejected" \
	refused "decision=unavailable reason=credentials_rejected user=alice service=su" \
	R su -s /bin/true alice
no_sk() { ! grep -qF -- "$sk" "$syslog"; }
check "the secret key appears in no log line" no_sk
cp "$work/pam_csms.conf.token" "$root/etc/security/pam_csms.conf"

no_token() { ! grep -qF -- "$token" "$syslog"; }
# (e) CSMS cannot answer: the installed module fails closed.
kill -TERM "$standin_pid" 2>/dev/null
wait "$standin_pid" 2>/dev/null
check "with the CSMS stand-in stopped, su to alice (ENABLED) is refused: decision=unavailable (fail closed)" \
	refused "decision=unavailable reason=network user=alice service=su" R su -s /bin/true alice

check "the token appears in no log line" no_token
note "pam_csms decisions logged:"
grep -o 'pam_csms([^)]*): decision=[a-z_]* reason=[a-z_]* user=[^ ]* service=[^ ]* secret=[^ ]* state=[^ ]*' \
	"$syslog" | sed 's/^/#   /'

# ---------------------------------------------------------------------------
# (d) Remove, then purge: the PAM stack is back, byte for byte.
if R apt-get remove -y libpam-csms >"$work/apt-remove.log" 2>&1; then
	ok "apt-get remove libpam-csms"
	check "after remove, every /etc/pam.d/common-* file is byte-identical to before the install" \
		same_pam "$work/pam-before"
	R su -s /bin/true bob >/dev/null 2>&1
	check "after remove, su to bob works again (nothing refers to the removed module)" test $? = 0
else
	not_ok "apt-get remove libpam-csms"
	tail -n 20 "$work/apt-remove.log" | sed 's/^/#   /'
fi
if R apt-get purge -y libpam-csms >"$work/apt-purge.log" 2>&1; then
	ok "apt-get purge libpam-csms"
	check "after purge, every /etc/pam.d/common-* file is byte-identical to before the install" \
		same_pam "$work/pam-before"
	purged() { ! pkg_status | grep -qE 'ok (installed|config-files|half)'; }
	check "after purge, dpkg has no trace of libpam-csms (status: $(pkg_status || echo unknown))" purged
	check "after purge, the conffile, the profile and /var/cache/pam_csms are gone" \
		test ! -e "$root/etc/security/pam_csms.conf" -a ! -e "$root/usr/share/pam-configs/csms" \
		-a ! -e "$root/var/cache/pam_csms" -a ! -e "$root$pamdir/pam_csms.so"
else
	not_ok "apt-get purge libpam-csms"
	tail -n 20 "$work/apt-purge.log" | sed 's/^/#   /'
fi

summary
[ "$nfail" = 0 ]
