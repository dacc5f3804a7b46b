#!/usr/bin/env python3
"""syslog_catcher.py SOCKET LOGFILE -- a minimal syslog daemon for the e2e chroot.

Binds a Unix datagram socket at SOCKET (the chroot's /dev/log), as syslog(3)
expects, and appends every datagram it receives to LOGFILE as one line (NUL
bytes and trailing newlines stripped).  The tests read LOGFILE to see the
decision line pam_csms logged for each su, sudo and ssh attempt.  Exits on
SIGTERM or SIGINT, or when its parent goes away.
"""
import ctypes
import os
import signal
import socket
import sys


def main():
    if len(sys.argv) != 3:
        print("usage: syslog_catcher.py SOCKET LOGFILE", file=sys.stderr)
        return 2
    path, out = sys.argv[1], sys.argv[2]
    # exit with the test script (PR_SET_PDEATHSIG = 1)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    tmp = path + ".tmp"
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    sock.bind(tmp)
    os.chmod(tmp, 0o666)
    # appears under its final name only once it is ready
    os.rename(tmp, path)
    with open(out, "ab", buffering=0) as log:
        while True:
            data = sock.recv(65536)
            log.write(data.replace(b"\0", b"").rstrip(b"\n") + b"\n")


if __name__ == "__main__":
    sys.exit(main())
