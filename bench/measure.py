#!/usr/bin/env python3
"""The measuring half of bench/run, which runs it under tests/with-standin.sh:

    measure.py --rounds N --conc-total M --build DIR --work DIR --user USER

The stand-in is found through with-standin.sh's environment (CSMS_STANDIN_URL,
CSMS_STANDIN_PROJECT, CSMS_STANDIN_LOG, CSMS_TEST_CA). WORK is bench/run's private
0700 directory, with the helpers already compiled in WORK/bin (runner, pamtx, noop,
dlcurl) and the token the stand-in wants in WORK/token (0600). USER's secret is ENABLED.

Every timing comes from bin/runner (posix_spawn + wait4, CLOCK_MONOTONIC), except
the split of a request into TCP connect, TLS handshake and request+response, which
the curl tool measures itself (-w): same libcurl, CA file and server as the module.
Peak RSS is wait4's ru_maxrss; it never reads below the runner's own (about 1.5 MiB,
see runner.c).  Exit status 0 when every run did what it should, 1 when one did
not: a benchmark of failing logins would be meaningless.
"""

import argparse
import math
import os
import shutil
import subprocess
import sys

CONC = 32
# The environment of every measured process: nothing inherited (no SSLKEYLOGFILE,
# no proxy variables, no HOME and so no ~/.curlrc).
CHILD_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}

# name, label: a..e are compared, the others only feed the time breakdown.
# Every run of every variant must exit 0.
VARIANTS = [
    ("permit", "a  pam_permit only"),
    ("csms", "b  pam_csms, no cache"),
    ("cached", "c  pam_csms, warm cache"),
    ("csms2", "b2 ... two secrets, no cache"),
    ("cached2", "c2 ... two secrets, warm"),
    ("exec", "d  pam_exec: curl | jq"),
    ("curl", "e  bare curl"),
    ("noop", "   empty C program"),
    ("bypass", "   pam_csms, bypass_users"),
    ("dlcurl", "   dlopen libcurl.so.4"),
    ("dlinit", "   ... + curl_global_init"),
    ("dlnow", "   ... RTLD_NOW, no init"),
]


def fail(msg):
    print("bench: " + msg, file=sys.stderr)
    sys.exit(1)


def write(path, text, mode):
    """Create path (it must not exist) with mode, owned by us (root)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)        # whatever the umask said


def pct(xs, p):
    """p-th percentile, linear between the closest ranks (numpy's default)."""
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100
    lo = math.floor(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def ms(ns):
    return ns / 1e6


def listen_overflows():
    """TcpExt ListenOverflows: SYNs dropped because an accept queue was full,
    counted for the whole network namespace."""
    with open("/proc/net/netstat") as f:
        lines = [line.split() for line in f if line.startswith("TcpExt:")]
    return int(dict(zip(lines[0], lines[1])).get("ListenOverflows", 0))


def log_lines(path):
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    try:
        with open("/etc/debian_version") as f:
            debian = "Debian " + f.read().strip()
    except OSError:
        debian = "not Debian"
    return "%d CPUs (nproc), %s, Linux %s, %s" % (
        len(os.sched_getaffinity(0)), model, os.uname().release, debian)


class Setup:
    """The files every variant needs, all under WORK."""

    def __init__(self, args):
        self.work = args.work
        self.user = args.user
        self.bin = os.path.join(args.work, "bin")
        self.module = os.path.join(args.build, "src", ".libs", "pam_csms.so")
        self.csms_check = os.path.join(args.build, "csms-check")
        self.ca = args.ca
        self.log = args.log
        self.url = "%s/v1/%s/secrets/%s" % (args.url, args.project, args.user)
        self.curl = shutil.which("curl") or fail("curl not found")
        self.jq = shutil.which("jq") or fail("jq not found")

        w = self.path
        self.token = w("token")
        with open(self.token) as f:
            token = f.read().strip()
        # curl -H @FILE: the bare curl reads the token from a file, as the module does
        self.header = w("header")
        write(self.header, "X-Auth-Token: %s\n" % token, 0o600)

        base = ("[csms]\nendpoint = %s\nproject_id = %s\ntoken_file = %s\n"
                "ca_file = %s\n" % (args.url, args.project, self.token, self.ca))
        self.conf = w("bench.conf")
        write(self.conf, base, 0o644)
        cache = w("cache")
        os.mkdir(cache, 0o700)
        self.cached_conf = w("cached.conf")
        write(self.cached_conf, base + "cache_dir = %s\ncache_ttl = 1h\n" % cache, 0o644)
        # a second secret, shared by every user: the fleet kill switch
        two = "secret = %u, fleet-bench\n"
        self.conf2 = w("bench2.conf")
        write(self.conf2, base + two, 0o644)
        self.cached_conf2 = w("cached2.conf")
        write(self.cached_conf2, base + two + "cache_dir = %s\ncache_ttl = 1h\n" % cache,
              0o644)
        # the module decides without a request: its load, config and log line
        bypass_conf = w("bypass.conf")
        write(bypass_conf, base + "bypass_users = %s\n" % self.user, 0o644)

        # what an admin might write instead of a module
        check = w("check.sh")
        write(check, "#!/bin/sh\n"
              "PATH=/usr/bin:/bin\n"
              "%s -q -sS --cacert %s -H \"X-Auth-Token: $(cat %s)\" \\\n"
              "    %s/v1/%s/secrets/\"$PAM_USER\" |\n"
              "  %s -e '.secret.state == \"ENABLED\"' >/dev/null\n"
              % (self.curl, self.ca, self.token, args.url, args.project, self.jq),
              0o700)

        # PAM service files: root-owned, 0644 (pam_start_confdir insists)
        self.confdir = w("pam.d")
        os.mkdir(self.confdir, 0o755)
        stacks = {
            "permit": "account required pam_permit.so",
            "csms": "account required %s conf=%s" % (self.module, self.conf),
            "cached": "account required %s conf=%s" % (self.module, self.cached_conf),
            "csms2": "account required %s conf=%s" % (self.module, self.conf2),
            "cached2": "account required %s conf=%s" % (self.module, self.cached_conf2),
            "exec": "account required pam_exec.so quiet %s" % check,
            # PAM_IGNORE alone would end in PAM_PERM_DENIED
            "bypass": "account required %s conf=%s\naccount required pam_permit.so"
                      % (self.module, bypass_conf),
        }
        for name, line in stacks.items():
            write(os.path.join(self.confdir, "bench-" + name), line + "\n", 0o644)

    def path(self, name):
        return os.path.join(self.work, name)

    def pamtx(self, stack):
        return [os.path.join(self.bin, "pamtx"), self.confdir, "bench-" + stack,
                self.user]

    def curl_argv(self, *extra):
        return [self.curl, "-q", "-sS", "-o", "/dev/null", "--cacert", self.ca,
                "-H", "@" + self.header, *extra, self.url]

    def argv(self, name):
        if name in ("permit", "csms", "cached", "csms2", "cached2", "exec", "bypass"):
            return self.pamtx(name)
        if name == "curl":
            return self.curl_argv()
        if name == "dlinit":
            return [os.path.join(self.bin, "dlcurl"), "-i"]
        if name == "dlnow":
            return [os.path.join(self.bin, "dlcurl"), "-n"]
        return [os.path.join(self.bin, name)]

    def diagnose(self, conf):
        """The module's own account of a check with conf (csms-check's log line)."""
        if not os.access(self.csms_check, os.X_OK):
            return "(no %s to ask)" % self.csms_check
        r = subprocess.run([self.csms_check, "-c", conf, self.user], env=CHILD_ENV,
                           capture_output=True, text=True)
        return (r.stdout + r.stderr).strip()


def run_once(argv):
    return subprocess.run(argv, env=CHILD_ENV, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True)


def runner(s, args):
    """Run bin/runner; returns {name: [(ns, maxrss_kb, status), ...]}."""
    r = subprocess.run([os.path.join(s.bin, "runner")] + args, env=CHILD_ENV,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
    if r.returncode != 0:
        fail("bin/runner %s failed (exit %d)" % (" ".join(args), r.returncode))
    runs = {}
    for line in r.stdout.splitlines():
        name, ns, rss, status = line.split()
        runs.setdefault(name, []).append((int(ns), int(rss), int(status)))
    return runs


def warm_up(s, names):
    """One untimed run of each variant (page cache, stand-in); drops a failing
    warm-cache variant (the cache keys may not exist yet), fails on any other."""
    kept = []
    for name in names:
        r = run_once(s.argv(name))
        if r.returncode == 0:
            kept.append(name)
        elif name in ("cached", "cached2"):
            print("NOTE: skipping variant %s (warm cache): its warm-up transaction "
                  "failed (exit %d); the module says:\n    %s"
                  % (name, r.returncode, s.diagnose(s.cached_conf)))
        else:
            why = s.diagnose(s.conf) if name == "csms" else r.stderr.strip()
            fail("warm-up of variant %s failed (exit %d): %s"
                 % (name, r.returncode, why or "no output"))
    return kept


def check_status(runs, names):
    bad = []
    for name in names:
        failed = [st for _, _, st in runs.get(name, []) if st != 0]
        if failed:
            bad.append("%s: %d of %d runs failed (exit statuses %s)" % (
                name, len(failed), len(runs[name]), sorted(set(failed))))
    if bad:
        fail("runs failed, so the timings are meaningless:\n  " + "\n  ".join(bad))


def curl_phases(s, n):
    """n runs of curl -w: medians of (connect, TLS handshake, request+response) in ms."""
    fmt = "%{time_connect} %{time_appconnect} %{time_total}"
    conn, tls, rest = [], [], []
    for _ in range(n):
        r = run_once(s.curl_argv("-w", fmt))
        if r.returncode != 0:
            fail("curl -w failed (exit %d): %s" % (r.returncode, r.stderr.strip()))
        c, a, t = (float(x) * 1000 for x in r.stdout.split())
        conn.append(c)
        tls.append(a - c)
        rest.append(t - a)
    return pct(conn, 50), pct(tls, 50), pct(rest, 50)


def ratio(what, value, op, target):
    """One ratio line; judged on the 3 decimals shown, far below the noise."""
    value = round(value, 3)
    met = value <= target if op == "≤" else value >= target
    return "  %-18s %6.3f   target %s %g: %s" % (
        what, value, op, target, "met" if met else "NOT met")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, required=True)
    p.add_argument("--conc-total", type=int, required=True)
    p.add_argument("--build", required=True)
    for arg in ("work", "user"):
        p.add_argument("--" + arg, required=True)
    args = p.parse_args()
    try:
        args.url = os.environ["CSMS_STANDIN_URL"]
        args.project = os.environ["CSMS_STANDIN_PROJECT"]
        args.ca = os.environ["CSMS_TEST_CA"]
        args.log = os.environ["CSMS_STANDIN_LOG"]
    except KeyError as e:
        fail("%s is not set: run me through bench/run" % e)
    sys.stdout.reconfigure(encoding="utf-8", line_buffering=True)

    print("pam_csms benchmark: %d interleaved rounds, a fresh process per run, "
          "times in ms" % args.rounds)
    print("machine: " + machine())
    s = Setup(args)
    names = warm_up(s, [n for n, _ in VARIANTS])

    # 1. the interleaved rounds
    variants = os.path.join(args.work, "variants")
    write(variants, "".join("\t".join([n] + s.argv(n)) + "\n" for n in names), 0o644)
    before = log_lines(s.log)
    runs = runner(s, [str(args.rounds), variants])
    requests = log_lines(s.log) - before
    check_status(runs, names)

    # 2. curl's own split of a request; 3. 32 pam_csms (uncached) in flight
    phases = curl_phases(s, args.rounds)
    overflows = listen_overflows()
    conc = runner(s, ["-c", str(CONC), "-n", str(args.conc_total), "csms"]
                  + s.pamtx("csms"))
    overflows = listen_overflows() - overflows
    check_status(conc, ["csms"])

    report(args, names, runs, requests, phases, conc, overflows)


def report(args, names, runs, requests, phases, conc, overflows):
    med = {n: ms(pct([r[0] for r in runs[n]], 50)) for n in names}
    rss = {n: max(r[1] for r in runs[n]) for n in names}
    print()
    print("%-26s %5s %9s %9s %13s" % ("variant", "n", "median", "p90", "peak RSS KiB"))
    for name, label in VARIANTS:
        if name in names:
            t = [r[0] for r in runs[name]]
            print("%-26s %5d %9.2f %9.2f %13d" % (label, len(t), med[name],
                                                  ms(pct(t, 90)), rss[name]))
    expected = sum(len(runs[n]) for n in ("csms", "exec", "curl")) + 2 * len(runs["csms2"])
    print("stand-in requests during the rounds: %d (%d expected from b, b2 (two each), d "
          "and e)" % (requests, expected))

    print()
    print("ratios of medians")
    print(ratio("csms/curl     b/e", med["csms"] / med["curl"], "≤", 1.1))
    print(ratio("exec/csms     d/b", med["exec"] / med["csms"], "≥", 2))
    # what exec/csms would be if the module added nothing to the curl tool's work (the
    # same library loading and TLS) but the PAM transaction itself: its ceiling this run
    print("    ceiling d/(e + libpam) %.3f: a module costing nothing of its own"
          % (med["exec"] / (med["curl"] + med["permit"] - med["noop"])))
    if "cached" in names:
        print(ratio("cached/permit c/a", med["cached"] / med["permit"], "≤", 1.3))
    else:
        print("  %-18s %6s   target ≤ 1.3: not measured (variant c skipped)"
              % ("cached/permit c/a", "-"))
    # a second secret on the same TLS connection: its request and answer, no handshake
    print(ratio("2nd secret   (b2-b)/b", (med["csms2"] - med["csms"]) / med["csms"], "≤",
                0.15))
    if "cached" in names and "cached2" in names:
        print("  %-18s %6.3f   (warm cache: a second entry read, %.2f ms)"
              % ("2nd, cached (c2-c)/c", (med["cached2"] - med["cached"]) / med["cached"],
                 med["cached2"] - med["cached"]))

    t = [x[0] for x in conc["csms"]]
    p50, p90, p99 = (ms(pct(t, q)) for q in (50, 90, 99))
    print()
    print("%d-way concurrency, b (pam_csms, no cache), %d transactions"
          % (CONC, len(t)))
    print("  p50 %.2f  p90 %.2f  p99 %.2f  max %.2f" % (p50, p90, p99, ms(max(t))))
    print(ratio("p99/p50", p99 / p50, "≤", 3))
    # host-wide: the stand-in's own backlog (128) has room for all CONC
    print("  TCP listen-queue overflows on this host meanwhile: %d (each a SYN "
          "dropped, retried after 1 s)" % overflows)

    print()
    print("peak RSS of the PAM process: pam_permit %d KiB, pam_csms (no cache) %d KiB"
          " (+%d KiB)" % (rss["permit"], rss["csms"], rss["csms"] - rss["permit"]))

    connect, tls, reqresp = phases
    parts = [
        ("process start", "noop", med["noop"]),
        ("libpam", "a - noop", med["permit"] - med["noop"]),
        ("module, config", "bypass - a", med["bypass"] - med["permit"]),
        ("libcurl loading", "dlcurl - noop", med["dlcurl"] - med["noop"]),
        ("curl_global_init", "dlinit - dlcurl", med["dlinit"] - med["dlcurl"]),
        ("TCP connect", "curl time_connect", connect),
        ("TLS handshake", "curl appconnect - connect", tls),
        ("request+response", "curl total - appconnect", reqresp),
    ]
    parts.append(("remainder", "b - the above", med["csms"] - sum(x[2] for x in parts)))
    print()
    print("time breakdown of an uncached check (b), medians; curl -w over %d runs"
          % args.rounds)
    for what, how, v in parts:
        print("  %-18s %-27s %8.2f  %4.0f%%" % (what, how, v, 100 * v / med["csms"]))
    print("  %-18s %-27s %8.2f" % ("total", "b", med["csms"]))
    print("  not paid: binding all of libcurl's libraries at load (RTLD_NOW), dlnow - dlcurl: "
          "%.2f" % (med["dlnow"] - med["dlcurl"]))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
