#!/bin/sh
# gen-pki.sh DIR -- create the throwaway PKI used by the CSMS stand-in tests.
#
# Idempotent: does nothing when DIR/ca.pem exists.  Everything is generated in
# a temporary directory next to DIR and renamed into place in one step, so two
# concurrent runs cannot leave a half-written or mixed set of files.
#
#   ca.key ca.pem                      "pam_csms test CA", 10 years
#   server.key server.pem              leaf for IP:127.0.0.1 DNS:localhost, 2 years
#   other-ca.key other-ca.pem          an unrelated second CA
#   otherca-server.key/.pem            leaf for 127.0.0.1/localhost signed by other-ca
#   wronghost.key/.pem                 leaf signed by ca, DNS:wrong.example only
#   expired.key/.pem                   leaf signed by ca, valid 2020-01-01..2021-01-01
#
# Keys are EC P-256, signatures SHA-256.  Keys 0600, certificates 0644, DIR 0700.
set -eu

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
dir=$1
while [ "${dir%/}" != "$dir" ] && [ "$dir" != / ]; do dir=${dir%/}; done
[ -f "$dir/ca.pem" ] && exit 0

OPENSSL=${OPENSSL:-openssl}
parent=$(dirname "$dir")
mkdir -p "$parent"
tmp=$(mktemp -d "$parent/.pki.XXXXXX")
tmp=$(cd "$tmp" && pwd)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
umask 077
chmod 0700 "$tmp"

cat >"$tmp/openssl.cnf" <<'EOF'
[ req ]
distinguished_name = req_dn
prompt             = no
[ req_dn ]
CN = unused
[ v3_ca ]
basicConstraints       = critical, CA:TRUE
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
[ leaf_local ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, keyEncipherment
extendedKeyUsage       = serverAuth
subjectAltName         = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid
[ leaf_wrong ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, keyEncipherment
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:wrong.example
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid

# Only for the expired leaf: "openssl x509 -req" in OpenSSL 3.0 cannot set
# arbitrary validity dates, "openssl ca" can.
[ ca ]
default_ca = throwaway_ca
[ throwaway_ca ]
dir           = ./cadb
database      = $dir/index.txt
serial        = $dir/serial
new_certs_dir = $dir/new
default_md    = sha256
policy        = policy_any
unique_subject = no
copy_extensions = none
[ policy_any ]
commonName = supplied
EOF

# q CMD...: run CMD quietly; show its stderr only if it fails
q() {
    "$@" 2>"$tmp/stderr" || { st=$?; cat "$tmp/stderr" >&2; return $st; }
}

# newkey NAME: EC P-256 private key NAME.key
newkey() {
    q "$OPENSSL" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key"
}

# mkca NAME CN: self-signed CA, 10 years
mkca() {
    newkey "$1"
    q "$OPENSSL" req -config openssl.cnf -new -x509 -sha256 -days 3650 \
        -key "$1.key" -subj "/CN=$2" -extensions v3_ca -out "$1.pem"
}

# mkleaf NAME CN CA EXT: leaf signed by CA for 2 years, extensions section EXT
mkleaf() {
    newkey "$1"
    q "$OPENSSL" req -config openssl.cnf -new -sha256 -key "$1.key" \
        -subj "/CN=$2" -out "$1.csr"
    q "$OPENSSL" x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" \
        -set_serial "0x$("$OPENSSL" rand -hex 16)" -days 730 -sha256 \
        -extfile openssl.cnf -extensions "$4" -out "$1.pem"
    rm -f "$1.csr"
}

(
    cd "$tmp"
    mkca ca "pam_csms test CA"
    mkca other-ca "pam_csms unrelated test CA"
    mkleaf server localhost ca leaf_local
    mkleaf otherca-server localhost other-ca leaf_local
    mkleaf wronghost wrong.example ca leaf_wrong

    # expired leaf, via a throwaway "openssl ca" database
    newkey expired
    q "$OPENSSL" req -config openssl.cnf -new -sha256 -key expired.key \
        -subj "/CN=localhost" -out expired.csr
    mkdir -p cadb/new
    : >cadb/index.txt
    "$OPENSSL" rand -hex 16 >cadb/serial
    q "$OPENSSL" ca -batch -config openssl.cnf -notext -cert ca.pem -keyfile ca.key \
        -startdate 20200101000000Z -enddate 20210101000000Z \
        -extensions leaf_local -in expired.csr -out expired.pem
    rm -rf cadb expired.csr openssl.cnf
    if "$OPENSSL" x509 -in expired.pem -noout -checkend 0 >/dev/null; then
        echo "$0: expired.pem is not expired" >&2
        exit 1
    fi
    for n in server otherca-server wronghost expired; do
        case $n in otherca-*) ca=other-ca ;; *) ca=ca ;; esac
        "$OPENSSL" x509 -in "$n.pem" -noout -subject >/dev/null
        # expired.pem is expected to fail verification (only) for its dates
        [ "$n" = expired ] && continue
        q "$OPENSSL" verify -CAfile "$ca.pem" "$n.pem" >/dev/null
    done
    rm -f stderr
    chmod 0600 ./*.key
    chmod 0644 ./*.pem
)

# Publish atomically.  rename(2) also replaces an empty DIR; if a concurrent
# run won the race DIR is non-empty and has ca.pem, which is just as good.
if mv -T "$tmp" "$dir" 2>/dev/null; then
    trap - EXIT
    exit 0
fi
[ -f "$dir/ca.pem" ] && exit 0
echo "$0: $dir exists but has no ca.pem; remove it and retry" >&2
exit 1
