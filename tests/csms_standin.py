#!/usr/bin/env python3
"""Fake Huawei Cloud CSMS endpoint (ShowSecret only) with real TLS, for tests.

Usage:
    csms_standin.py --pki DIR --port-file FILE --log FILE
                    [--cert server|otherca-server|wronghost|expired]
                    [--tls-max 1.1|1.2|1.3] [--token TOKEN] [--project PID]
                    [--map NAME=STATE[,NAME=STATE...]]... [--states FILE]
                    [--aksk FILE] [--metadata-port-file FILE]
                    [--exit-with-parent]

Listens on 127.0.0.1, port chosen by the kernel (or --port); the port number is written
atomically to --port-file once the socket is listening.  The certificate is
DIR/<cert>.pem with key DIR/<cert>.key (see gen-pki.sh).  "--tls-max 1.1"
pins the server to TLS 1.1 exactly (with SECLEVEL=0 so OpenSSL 3 allows it);
1.2/1.3 only cap the maximum.  --exit-with-parent makes the server exit when
its parent process goes away (used by with-standin.sh).  SIGTERM/SIGINT exit
cleanly.  Nothing is printed except errors (to stderr).

Every request is appended to --log as one JSON line, before any response:
    {"method": .., "path": .., "server": "csms"|"metadata", "conn": N,
     "headers": {lower-case name: value}, "t": monotonic, "wall": time}
"conn" numbers the TLS connections: requests on one kept-alive connection share it.

API: GET /v1/{project}/secrets/{name}.  Any other method or path shape, or a
project other than --project (if given): 404 APIGW.0101.  Connections are kept
alive (HTTP/1.1) unless the client asks to close them or a scenario streams a
body without a length.  A request with an
"Authorization: SDK-HMAC-SHA256 ..." header is checked as the API gateway checks
AK/SK signatures (below); otherwise, if --token is given and X-Auth-Token
differs: 401 APIGW.0307.

AK/SK (--aksk FILE, re-read per request: lines "AK SK [TOKEN]"): the signature is
recomputed here from the request as received, from the published algorithm
(independently of the module's code): canonical request, string to sign,
HMAC-SHA256 with the SK.  host and x-sdk-date must be signed; X-Sdk-Date must
be within 15 minutes of this server's clock.  Temporary keys handed out by the
metadata service below also need X-Security-Token, signed, equal to theirs,
and not expired.  Failures are 401 APIGW.0301 with the gateway's wording:
"ak <AK> not exist", "signature expired, signature time:..,server time:..",
"verify securitytoken fail", "verify aksk signature fail, canonicalRequest:<CR
with | for newlines>" (which echoes the security token, as the real one does).

Metadata service (--metadata-port-file FILE): plain HTTP on another port of
127.0.0.1, as the ECS metadata service: PUT /meta-data/latest/api/token (needs
X-Metadata-Token-Ttl-Seconds), GET /openstack/latest/securitykey and GET
/openstack/latest/meta_data.json (with the token as X-Metadata-Token when one
was issued).  Its requests go to the same log with "server":"metadata".  The
--states file steers it with lines "@KEY=VALUE":
  @token=ok|404|405|503|500|hang   the token step (hang: 30 s, no answer)
  @key=ok|noagency|malformed|500|hang|nofraction|nosecuritytoken
  @meta=ok|noproject|badproject
  @generation=N    which temporary key pair it hands out (default 1); a new
                   N is a rotation, issued with a new expiry
  @expires=S       a new pair expires S seconds after it is issued (3600)
"@skew=SECONDS" moves the CSMS side's clock (its Date header and the 15-minute
check of X-Sdk-Date), as if the host's clock were off by -SECONDS.  Every response has
"Connection: close", and, unless noted, a random 32-hex X-Request-Id, a
Content-Length and "Content-Type: application/json;charset=UTF-8"; a connection
ends with a TLS close_notify.  The name is percent-decoded.

The behaviour is chosen by the secret name: an exact --map entry (200 with that
state, or the scenario it names, e.g. erin=nf404) wins, else the FIRST matching name prefix below, else 200 DISABLED.
--states FILE is re-read at every request, if it exists: lines NAME=STATE (or
NAME=SCENARIO) that win over --map, and "*=..." for every name at once (a
whole-service outage, e.g. *=err503). Tests replace it with rename(2) to
switch states while the server runs.
"Once"/"2x" counters are per exact name, in memory.

  enabled / disabled / frozen /  200, state ENABLED / DISABLED / FROZEN /
    pendingdel                     PENDING_DELETE
  lowerenabled                   200, state "enabled"
  unknownstate                   200, state "SUSPENDED"
  nostate / nullstate / numstate 200, no state / "state":null / "state":1
  nulbyte                        200, "state":"ENABLED\\u0000X"
  escstate                       200, "state":"\\u0045NABLED" (= ENABLED)
  wrongname / noname             200 ENABLED, "name":"someone-else" / no name
  nosecret                       200, {"other":{}}
  arraytop                       200, [{"secret":{"name":..,"state":"ENABLED"}}]
  trailing                       200, a DISABLED object then an ENABLED object
  garbage                        200, <html>oops</html> (as application/json)
  emptybody                      200, empty body
  truncjson                      200, first half of an ENABLED body
  deep                           200, 10000 x "["
  big / exact64k / over64k       200 ENABLED padded to 70000 / 65536 / 65537 bytes
  chunkedbig                     200, chunked, 1 MiB of "[" in 8 KiB chunks
  htmltype / notype / jsonx /    200 ENABLED with Content-Type text/html / none /
    uppertype                      application/jsonx / APPLICATION/JSON; Charset=UTF-8
  gzip                           200 ENABLED, Content-Encoding: gzip
  nf404                          404 CSMS.0005
  nf0106 / nf0005                400 CSMS.0106 / CSMS.0005 (not found)
  sched0103 / sched0107          400 CSMS.0103 / CSMS.0107 (scheduled deletion)
  bad400                         400 CSMS.0002
  nested0106                     400 {"error":{"code":"CSMS.0106",..}}
  unauth / forbidden             401 APIGW.0301 / 403 APIGW.0302
  throttleonce                   429 (Retry-After: 1) once, then 200 ENABLED
  throttlebig                    429, Retry-After: 999999
  throttledate                   429 once with an HTTP-date Retry-After 1-2 s
                                   ahead, then 200 ENABLED
  stall                          nothing for 30 s, then 200 ENABLED (a hung CSMS)
  throttleneg / throttlejunk     429, Retry-After: -5 / soon
  throttlenone                   429, no Retry-After
  throttle                       429 always, Retry-After: 1
  err500 / err502 / err503 /     500 APIGW.0601 / 502 / 503 / 504, always
    err504
  flaky503 / flaky2x503          503 once / twice, then 200 ENABLED
  redirect301/307/308, redirect  that status (302 for plain "redirect") to
                                   https://127.0.0.1:1/v1/x/secrets/<name>
  slowhdr<N>                     sleep N s (digits up to "-", default 1), 200 ENABLED
  slowbody / dribble             200 ENABLED, body 1 byte per 1 s / 0.2 s
  cutbody                        full Content-Length, half the body, a 0.3 s
                                   pause, then a TCP RST (no close_notify)
  noclen                         200 ENABLED, no Content-Length, ends at close
  endless                        200, no length, '{"secret":{"name":"' + "a"...
                                   in 4 KiB writes until the client goes away
  hugeheaders                    200 ENABLED + 200 headers "X-Pad-N: <1000 x>"
  errinject                      401, ESC/BEL escapes in error_msg, raw ESC in
                                   X-Request-Id
  reqid-long                     200 ENABLED, X-Request-Id of 300 hex digits
"""

import argparse
import calendar
import email.utils
import gzip
import hashlib
import hmac
import http.server
import json
import math
import os
import re
import secrets
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse
import warnings

JSON_CT = "application/json;charset=UTF-8"
IO_TIMEOUT = 60          # seconds, per socket operation
HANDSHAKE_TIMEOUT = 15   # seconds
ABORT_DELAY = 0.3        # seconds between the last write and a RST


# ---------------------------------------------------------------- bodies ----

def dumps(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def secret(name, state="ENABLED", **changes):
    """The "secret" object of a ShowSecret reply, with `changes` applied."""
    obj = {
        "id": "b2c1a8e4-5f6d-4c3b-9a8e-7d6c5b4a3f21",
        "name": name,
        "state": state,
        "kms_key_id": "0d0466b0-e727-4d9c-b35d-f84bb474a37f",
        "description": "",
        "create_time": 1700000000000,
        "update_time": 1700000000000,
        "scheduled_delete_time": None,
        "secret_type": "COMMON",
        "auto_rotation": False,
        "rotation_period": None,
        "rotation_config": None,
        "rotation_time": None,
        "next_rotation_time": None,
        "event_subscriptions": [],
        "enterprise_project_id": "0",
    }
    obj.update(changes)
    return obj


def body(name, state="ENABLED", **changes):
    return dumps({"secret": secret(name, state, **changes)})


def raw_state(text):
    """Body builder whose state is the literal JSON text `text`."""
    def build(h, name):
        return body(name, "@STATE@").replace(b'"@STATE@"', text.encode())
    return build


def without(field):
    def build(h, name):
        obj = secret(name)
        del obj[field]
        return dumps({"secret": obj})
    return build


def padded(total):
    """An ENABLED body of exactly `total` bytes (padding in "description")."""
    def build(h, name):
        pad = total - len(body(name))
        if pad < 0:
            raise ValueError("name too long for a %d-byte body" % total)
        out = body(name, description="x" * pad)
        assert len(out) == total
        return out
    return build


def first_half(data):
    return data[:len(data) // 2]


def apigw(code, msg):
    """API Gateway error body; its request_id matches the X-Request-Id."""
    return lambda h, name: dumps({"error_code": code, "error_msg": msg,
                                  "request_id": h.request_id})


def csms(code, msg):
    return dumps({"error_code": code, "error_msg": msg})


NOT_PUBLISHED = csms("APIGW.0101", "The API does not exist or has not been "
                     "published in the environment.")
BAD_TOKEN = apigw("APIGW.0307", "The token must be updated.")


# ------------------------------------------------------------- responses ----

def reply(h, status, data=b"", ctype=JSON_CT, headers=(), length=True,
          request_id=None):
    """Send a complete response.  `data` is bytes or a builder(h, name)."""
    if callable(data):
        data = data(h, h.secret_name)
    h.send_response(status)
    if ctype is not None:
        h.send_header("Content-Type", ctype)
    if callable(request_id):
        request_id = request_id()
    h.send_header("X-Request-Id", request_id or h.request_id)
    for key, value in headers:
        h.send_header(key, value)
    if length:
        h.send_header("Content-Length", str(len(data)))
    else:
        h.close_connection = True
    if h.close_connection:
        h.send_header("Connection", "close")
    h.end_headers()
    if data and h.command != "HEAD":
        h.wfile.write(data)


def send_head(h, status=200, headers=(), ctype=JSON_CT):
    """Status line and headers only; the caller writes the body and the connection ends."""
    h.close_connection = True
    h.send_response(status)
    if ctype is not None:
        h.send_header("Content-Type", ctype)
    h.send_header("X-Request-Id", h.request_id)
    for key, value in headers:
        h.send_header(key, value)
    h.send_header("Connection", "close")
    h.end_headers()


def abort(h):
    """Close the TCP connection with a RST, no TLS close_notify.  A short
    pause first lets the data already written reach the client, as a RST
    makes the kernel drop whatever is still unsent."""
    h.wfile.flush()
    time.sleep(ABORT_DELAY)
    h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
    h.rfile.close()          # drop the makefile() reference, so that
    h.connection.close()     # this really closes the descriptor
    h.aborted = True


# ------------------------------------------------------------- scenarios ----
# Each scenario is a function(handler, name).  Factories below build them.

def fixed(status, data=b"", **kw):
    return lambda h, name: reply(h, status, data, **kw)


def state(value):
    return fixed(200, lambda h, name: body(name, value))


ENABLED = state("ENABLED")


def ctype(value):
    return fixed(200, lambda h, name: body(name), ctype=value)


def throttle(retry_after=None):
    headers = () if retry_after is None else (("Retry-After", retry_after),)
    return fixed(429, apigw("APIGW.0308", "The throttling threshold has been "
                            "reached: policy user over ratelimit,limit:20,"
                            "time:1 second"), headers=headers)


def first(n, before, after):
    """`before` for the first n requests for the exact name, then `after`."""
    def run(h, name):
        (before if h.server.count(name) <= n else after)(h, name)
    return run


def throttle_until_date(h, name):
    when = email.utils.formatdate(math.floor(time.time()) + 2, usegmt=True)
    throttle(when)(h, name)


def redirect(status):
    return lambda h, name: reply(h, status, headers=(
        ("Location", "https://127.0.0.1:1/v1/x/secrets/"
         + urllib.parse.quote(name, safe="")),), ctype=None)


def slow_headers(h, name):
    digits = re.match(r"slowhdr(\d*)", name).group(1)
    time.sleep(int(digits) if digits else 1)
    ENABLED(h, name)


def stall(h, name):
    time.sleep(30)
    ENABLED(h, name)


def trickle(interval):
    """Announce the whole body, then send it one byte per `interval` s."""
    def run(h, name):
        data = body(name)
        send_head(h, headers=(("Content-Length", str(len(data))),))
        for i in range(len(data)):
            h.wfile.write(data[i:i + 1])
            time.sleep(interval)
    return run


def cut_body(h, name):
    data = body(name)
    send_head(h, headers=(("Content-Length", str(len(data))),))
    h.wfile.write(first_half(data))
    abort(h)


def no_length(h, name):
    send_head(h)
    h.wfile.write(body(name))


def endless(h, name):
    send_head(h)
    h.wfile.write(b'{"secret":{"name":"')
    chunk = b"a" * 4096
    while True:
        h.wfile.write(chunk)


def chunked_big(h, name):
    send_head(h, headers=(("Transfer-Encoding", "chunked"),))
    chunk = b"[" * 8192
    for _ in range((1 << 20) // len(chunk)):
        h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    h.wfile.write(b"0\r\n\r\n")


def trailing(h, name):
    reply(h, 200, body(name, "DISABLED") + body(name, "ENABLED"))


# The scenario table: name prefix -> scenario, FIRST match wins, so a prefix
# must come before any shorter prefix of it (checked at start-up).
SCENARIOS = {
    "enabled":      ENABLED,
    "disabled":     state("DISABLED"),
    "frozen":       state("FROZEN"),
    "pendingdel":   state("PENDING_DELETE"),
    "lowerenabled": state("enabled"),
    "unknownstate": state("SUSPENDED"),
    "nostate":      fixed(200, without("state")),
    "nullstate":    state(None),
    "numstate":     state(1),
    "nulbyte":      fixed(200, raw_state(r'"ENABLED\u0000X"')),
    "escstate":     fixed(200, raw_state(r'"\u0045NABLED"')),
    "wrongname":    fixed(200, lambda h, name: body("someone-else")),
    "noname":       fixed(200, without("name")),
    "nosecret":     fixed(200, dumps({"other": {}})),
    "arraytop":     fixed(200, lambda h, name: dumps(
                        [{"secret": {"name": name, "state": "ENABLED"}}])),
    "trailing":     trailing,
    "garbage":      fixed(200, b"<html>oops</html>"),
    "emptybody":    fixed(200, b""),
    "truncjson":    fixed(200, lambda h, name: first_half(body(name))),
    "deep":         fixed(200, b"[" * 10000),
    "big":          fixed(200, padded(70000)),
    "exact64k":     fixed(200, padded(65536)),
    "over64k":      fixed(200, padded(65537)),
    "chunkedbig":   chunked_big,
    "htmltype":     ctype("text/html"),
    "notype":       ctype(None),
    "jsonx":        ctype("application/jsonx"),
    "uppertype":    ctype("APPLICATION/JSON; Charset=UTF-8"),
    "gzip":         fixed(200, lambda h, name: gzip.compress(body(name), mtime=0),
                          headers=(("Content-Encoding", "gzip"),)),
    "nf404":        fixed(404, csms("CSMS.0005", "The resource does not exist.")),
    "nf0106":       fixed(400, csms("CSMS.0106",
                                    "The secret name not found int the db.")),
    "nf0005":       fixed(400, csms("CSMS.0005", "The resource does not exist.")),
    "sched0103":    fixed(400, csms("CSMS.0103", "The secret is in the "
                                    "scheduled deletion state.")),
    "sched0107":    fixed(400, csms("CSMS.0107",
                                    "The secret is in schedule delete state.")),
    "bad400":       fixed(400, csms("CSMS.0002",
                                    "The value of parameter is invalid.")),
    "nested0106":   fixed(400, dumps({"error": {"code": "CSMS.0106",
                                                "message": "not found"}})),
    "unauth":       fixed(401, apigw("APIGW.0301", "Incorrect IAM "
                                     "authentication information: decrypt "
                                     "token fail")),
    "forbidden":    fixed(403, apigw("APIGW.0302", "The IAM user is not "
                                     "authorized to access the API.")),
    "throttleonce": first(1, throttle("1"), ENABLED),
    "throttlebig":  throttle("999999"),
    "throttledate": first(1, throttle_until_date, ENABLED),
    "throttleneg":  throttle("-5"),
    "throttlejunk": throttle("soon"),
    "throttlenone": throttle(),
    "throttle":     throttle("1"),
    "err500":       fixed(500, apigw("APIGW.0601", "Internal server error.")),
    "err502":       fixed(502, apigw("APIGW.0202", "Backend unavailable.")),
    "err503":       fixed(503, apigw("APIGW.0202", "Service unavailable.")),
    "err504":       fixed(504, apigw("APIGW.0203", "Backend timeout.")),
    "flaky503":     first(1, fixed(503, apigw("APIGW.0202", "Service "
                                              "unavailable.")), ENABLED),
    "flaky2x503":   first(2, fixed(503, apigw("APIGW.0202", "Service "
                                              "unavailable.")), ENABLED),
    "redirect301":  redirect(301),
    "redirect307":  redirect(307),
    "redirect308":  redirect(308),
    "redirect":     redirect(302),
    "slowhdr":      slow_headers,
    "stall":        stall,
    "slowbody":     trickle(1.0),
    "dribble":      trickle(0.2),
    "cutbody":      cut_body,
    "noclen":       no_length,
    "endless":      endless,
    "hugeheaders":  fixed(200, lambda h, name: body(name), headers=tuple(
                        ("X-Pad-%d" % i, "x" * 1000) for i in range(1, 201))),
    "errinject":    fixed(401, dumps({"error_code": "APIGW.0301", "error_msg":
                                      "bad\x1b[31m\x07 signature"}),
                          request_id="abc\x1b[0mdef"),
    "reqid-long":   fixed(200, lambda h, name: body(name),
                          request_id=lambda: secrets.token_hex(150)),
}
DEFAULT = state("DISABLED")


def check_table():
    prefixes = list(SCENARIOS)
    for i, early in enumerate(prefixes):
        for late in prefixes[i + 1:]:
            if late.startswith(early):
                raise SystemExit("scenario %r shadows %r" % (early, late))


def scenario_for(name, mapping):
    if name in mapping:
        # a value naming a scenario (e.g. nf404) borrows it; anything else is a state
        return SCENARIOS.get(mapping[name]) or state(mapping[name])
    for prefix, run in SCENARIOS.items():
        if name.startswith(prefix):
            return run
    return DEFAULT


# ---------------------------------------------------------------- AK/SK ----
# The API gateway's SDK-HMAC-SHA256 check, written from the published algorithm.

SIGN_ALG = "SDK-HMAC-SHA256"
SKEW = 15 * 60


def sign_escape(text):
    return urllib.parse.quote(text, safe="-_.~")


def canonical_request(method, path, query, headers, signed, body=b""):
    uri = "/".join(sign_escape(urllib.parse.unquote(seg)) for seg in path.split("/"))
    if not uri.endswith("/"):
        uri += "/"
    pairs = sorted(urllib.parse.parse_qsl(query, keep_blank_values=True))
    cq = "&".join(sign_escape(k) + "=" + sign_escape(v) for k, v in pairs)
    ch = "".join("%s:%s\n" % (n, headers.get(n, "").strip()) for n in signed)
    return "\n".join([method, uri, cq, ch, ";".join(signed),
                      hashlib.sha256(body).hexdigest()])


def hmac_hex(key, text):
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()


AUTH_RE = re.compile(r"SDK-HMAC-SHA256 Access=([^,]*), SignedHeaders=([^,]*), "
                     r"Signature=([0-9a-f]*)$")


def gateway_denial(msg):
    return lambda h, name: reply(h, 401, apigw(
        "APIGW.0301", "Incorrect IAM authentication information: " + msg))


def server_time(cfg):
    """This server's clock: the real one, moved by "@skew=SECONDS" in the states file."""
    return time.time() + float(read_states(cfg.states).get("@skew", "0"))


def check_signature(h, keys):
    """None if the request's AK/SK signature holds, else the scenario answering 401."""
    m = AUTH_RE.match(h.headers.get("Authorization", ""))
    if not m:
        return gateway_denial("malformed Authorization header")
    ak, signed, sig = m.group(1), m.group(2).split(";"), m.group(3)
    if ak not in keys:
        return gateway_denial("ak %s not exist" % ak)
    sk, token, expires = keys[ak]
    headers = {k.lower(): v for k, v in h.headers.items()}
    if signed != sorted(signed) or "host" not in signed or "x-sdk-date" not in signed:
        return gateway_denial("verify aksk signature fail, SignedHeaders must hold host "
                              "and x-sdk-date")
    date = headers.get("x-sdk-date", "")
    try:
        when = calendar.timegm(time.strptime(date, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        return gateway_denial("verify aksk signature fail, bad x-sdk-date")
    now = server_time(h.server.cfg)
    if abs(now - when) > SKEW:
        return gateway_denial(
            "calc aksk signature fail:signature expired, signature time:%s,server time:%s"
            % (date, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))))
    if token is not None:
        if ("x-security-token" not in signed
                or headers.get("x-security-token") != token):
            return gateway_denial("verify securitytoken fail")
        if time.time() > expires:
            return gateway_denial("verify securitytoken fail: the securitytoken has expired")
    split = urllib.parse.urlsplit(h.path)
    cr = canonical_request(h.command, split.path, split.query, headers, signed)
    sts = "\n".join([SIGN_ALG, date, hashlib.sha256(cr.encode()).hexdigest()])
    if not hmac.compare_digest(hmac_hex(sk, sts), sig):
        return gateway_denial("verify aksk signature fail, canonicalRequest:"
                              + cr.replace("\n", "|"))
    return None


def read_keys(path):
    """AK -> (SK, security token or None, expiry) from "AK SK [TOKEN]" lines."""
    keys = {}
    if path is None:
        return keys
    try:
        with open(path) as f:
            for line in f:
                fields = line.split()
                if len(fields) in (2, 3):
                    keys[fields[0]] = (fields[1], fields[2] if len(fields) == 3 else None,
                                       float("inf"))
    except FileNotFoundError:
        pass
    return keys


# -------------------------------------------------------- metadata service ----

class Metadata:
    """The temporary key pairs handed out, shared with the CSMS side."""

    def __init__(self, project):
        self.project = project or "0123456789abcdef0123456789abcdef"
        self.lock = threading.Lock()
        self.pairs = {}        # generation -> (ak, sk, token, expires)
        self.tokens = set()

    def pair(self, generation, lifetime):
        with self.lock:
            if generation not in self.pairs:
                self.pairs[generation] = (
                    "TMPAK%04d%s" % (generation, secrets.token_hex(6).upper()),
                    secrets.token_urlsafe(30), "ST" + secrets.token_urlsafe(600),
                    time.time() + lifetime)
            return self.pairs[generation]

    def keys(self):
        with self.lock:
            return {ak: (sk, tok, exp) for ak, sk, tok, exp in self.pairs.values()}


def iso(when, fraction=True):
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when))
    return text + (".%06dZ" % int((when % 1) * 1e6) if fraction else "Z")


class MetadataHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IO_TIMEOUT

    def log_message(self, format, *args):
        pass

    def send(self, status, data, ctype="application/json"):
        if isinstance(data, str):
            data = data.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        self.close_connection = True
        srv = self.server
        srv.csms.record(self, "metadata")
        states = read_states(srv.csms.cfg.states)
        meta = srv.csms.metadata
        path = urllib.parse.urlsplit(self.path).path
        if path == "/meta-data/latest/api/token" and self.command == "PUT":
            mode = states.get("@token", "ok")
            if mode == "hang":
                time.sleep(30)
                return
            if mode != "ok":
                self.send(int(mode), "")
                return
            if "X-Metadata-Token-Ttl-Seconds" not in self.headers:
                self.send(400, "missing X-Metadata-Token-Ttl-Seconds")
                return
            token = secrets.token_urlsafe(24)
            meta.tokens.add(token)
            self.send(200, token, "text/plain")
            return
        if self.command != "GET" or path not in ("/openstack/latest/securitykey",
                                                 "/openstack/latest/meta_data.json"):
            self.send(404, "not found", "text/plain")
            return
        # a token that was asked for must come back; without the token step, none
        token = self.headers.get("X-Metadata-Token")
        if states.get("@token", "ok") == "ok" and token not in meta.tokens:
            self.send(401, "Unauthorized: a session token is required", "text/plain")
            return
        if path.endswith("meta_data.json"):
            mode = states.get("@meta", "ok")
            doc = {"uuid": "6a4dc8ae-0d3f-4c59-8a55-2d1d2a4f4a6e", "region_id": "cn-north-4",
                   "availability_zone": "cn-north-4a", "name": "csms-test"}
            if mode == "ok":
                doc["project_id"] = meta.project
            elif mode == "badproject":
                doc["project_id"] = "../etc"
            self.send(200, json.dumps(doc))
            return
        mode = states.get("@key", "ok")
        if mode == "hang":
            time.sleep(30)
            return
        if mode == "noagency":
            self.send(401, json.dumps({"error": {"message": "Please configure Cloud Service "
                                                 "Agency first", "code": 401}}))
            return
        if mode == "500":
            self.send(500, "internal error", "text/plain")
            return
        if mode == "malformed":
            self.send(200, '{"credential":{"access":"AK","secret":}}')
            return
        ak, sk, tok, exp = meta.pair(int(states.get("@generation", "1")),
                                     float(states.get("@expires", "3600")))
        cred = {"access": ak, "secret": sk, "securitytoken": tok,
                "expires_at": iso(exp, fraction=mode != "nofraction")}
        if mode == "nosecuritytoken":
            del cred["securitytoken"]
        self.send(200, json.dumps({"credential": cred}))


for _method in ("GET", "PUT", "POST", "HEAD"):
    setattr(MetadataHandler, "do_" + _method, MetadataHandler.handle_any)


class MetadataServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, csms):
        self.csms = csms
        super().__init__(("127.0.0.1", 0), MetadataHandler)


# ---------------------------------------------------------------- server ----

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IO_TIMEOUT

    def version_string(self):
        return "api-gateway"

    def date_time_string(self, timestamp=None):
        return email.utils.formatdate(server_time(self.server.cfg), usegmt=True)

    def log_message(self, format, *args):    # no access log
        pass

    def handle_any(self):
        # keep-alive unless the client said otherwise (parse_request set close_connection)
        self.aborted = False
        self.request_id = secrets.token_hex(16)
        self.secret_name = None
        self.server.record(self)
        self.drain_body()
        cfg = self.server.cfg
        parts = urllib.parse.urlsplit(self.path).path.split("/")
        if (self.command != "GET" or len(parts) != 5 or parts[0] != ""
                or parts[1] != "v1" or parts[3] != "secrets"
                or not parts[2] or not parts[4]
                or (cfg.project is not None and parts[2] != cfg.project)):
            reply(self, 404, NOT_PUBLISHED)
            return
        if "Authorization" in self.headers:
            keys = read_keys(cfg.aksk)
            keys.update(self.server.metadata.keys())
            denial = check_signature(self, keys)
            if denial is not None:
                denial(self, None)
                return
        elif cfg.token is not None and self.headers.get("X-Auth-Token") != cfg.token:
            reply(self, 401, BAD_TOKEN)
            return
        self.secret_name = urllib.parse.unquote(parts[4])
        mapping = dict(cfg.mapping)
        mapping.update(read_states(cfg.states))
        if "*" in mapping:
            mapping[self.secret_name] = mapping["*"]
        scenario_for(self.secret_name, mapping)(self, self.secret_name)

    def drain_body(self):
        """Read a request body, if any, so closing does not reset the peer."""
        try:
            left = min(int(self.headers.get("Content-Length", "0")), 1 << 20)
        except ValueError:
            return
        while left > 0:
            got = self.rfile.read(min(left, 65536))
            if not got:
                break
            left -= len(got)

    def finish(self):
        super().finish()
        if getattr(self, "aborted", False):
            return
        # Best-effort TLS close_notify, without waiting for the peer's.
        try:
            self.connection.settimeout(0)
            self.connection.unwrap()
        except (OSError, ValueError):
            pass


for _method in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
    setattr(Handler, "do_" + _method, Handler.handle_any)


class StandinServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops SYNs when 32 clients connect at once
    # (concurrency tests, bench/run); each dropped one waits a 1 s retransmit.
    request_queue_size = 128

    def __init__(self, cfg, context):
        self.cfg = cfg
        self.context = context
        self.counts = {}
        self.connections = 0
        self.count_lock = threading.Lock()
        self.log_lock = threading.Lock()
        self.log = open(cfg.log, "a", encoding="utf-8")
        self.metadata = Metadata(cfg.project)
        super().__init__(("127.0.0.1", cfg.port), Handler)

    def get_request(self):
        # No handshake here: it runs in the request thread (finish_request),
        # so a slow or broken client cannot stall the accept loop.
        sock, addr = self.socket.accept()
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return self.context.wrap_socket(sock, server_side=True,
                                            do_handshake_on_connect=False), addr
        except (OSError, ValueError):
            sock.close()
            raise OSError("wrap_socket failed")

    def finish_request(self, request, client_address):
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            request.do_handshake()
        except (OSError, ValueError):
            return                      # handshake failures are expected
        with self.count_lock:
            self.connections += 1
            request.conn_id = self.connections
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], OSError):
            return                      # client went away, reset, timed out
        super().handle_error(request, client_address)   # traceback to stderr

    def count(self, name):
        with self.count_lock:
            self.counts[name] = self.counts.get(name, 0) + 1
            return self.counts[name]

    def record(self, h, server="csms"):
        headers = {}
        for key, value in h.headers.items():
            key = key.lower()
            headers[key] = headers[key] + ", " + value if key in headers else value
        line = json.dumps({"method": h.command, "path": h.path, "server": server,
                           "conn": getattr(h.connection, "conn_id", 0),
                           "headers": headers, "t": time.monotonic(), "wall": time.time()})
        with self.log_lock:
            self.log.write(line + "\n")
            self.log.flush()


# ------------------------------------------------------------------ main ----

def parse_map(values):
    mapping = {}
    for value in values:
        for item in filter(None, value.split(",")):
            name, sep, st = item.partition("=")
            if not sep or not name:
                raise SystemExit("--map: expected NAME=STATE, got %r" % item)
            mapping[name] = st
    return mapping


def read_states(path):
    if path is None:
        return {}
    try:
        with open(path) as f:
            return parse_map(line.strip() for line in f)
    except FileNotFoundError:
        return {}


def parse_args(argv):
    p = argparse.ArgumentParser(description="Fake CSMS ShowSecret server.")
    p.add_argument("--pki", required=True, help="directory made by gen-pki.sh")
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True, help="JSON-lines request log")
    p.add_argument("--cert", default="server",
                   choices=["server", "otherca-server", "wronghost", "expired"])
    p.add_argument("--tls-max", choices=["1.1", "1.2", "1.3"])
    p.add_argument("--token")
    p.add_argument("--project")
    p.add_argument("--map", action="append", default=[],
                   metavar="NAME=STATE[,NAME=STATE...]")
    p.add_argument("--states", help="NAME=STATE lines, re-read per request")
    p.add_argument("--aksk", help="AK SK [TOKEN] lines the gateway knows, re-read per request")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any)")
    p.add_argument("--metadata-port-file",
                   help="also serve the ECS metadata service; its port goes here")
    p.add_argument("--exit-with-parent", action="store_true")
    cfg = p.parse_args(argv)
    cfg.mapping = parse_map(cfg.map)
    return cfg


def tls_context(cfg):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert = os.path.join(cfg.pki, cfg.cert + ".pem")
    key = os.path.join(cfg.pki, cfg.cert + ".key")
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ValueError) as e:
        raise SystemExit("csms_standin.py: cannot load %s / %s: %s"
                         % (cert, key, e))
    if cfg.tls_max == "1.1":
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():     # "TLSv1_1 is deprecated"
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    elif cfg.tls_max == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def write_port(path, port):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, path)


def watch_parent():
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)


def main(argv):
    check_table()
    cfg = parse_args(argv)
    server = StandinServer(cfg, tls_context(cfg))

    def stop(signum, frame):
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if cfg.exit_with_parent:
        threading.Thread(target=watch_parent, daemon=True).start()

    if cfg.metadata_port_file:
        meta = MetadataServer(server)
        threading.Thread(target=meta.serve_forever, kwargs={"poll_interval": 0.2},
                         daemon=True).start()
        write_port(cfg.metadata_port_file, meta.server_address[1])
    write_port(cfg.port_file, server.server_address[1])
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        server.log.close()


if __name__ == "__main__":
    main(sys.argv[1:])
