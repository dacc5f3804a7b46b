#!/bin/bash
# with-standin.sh [--cert NAME] [--tls-max V] [--map NAME=STATE,...]... -- CMD [ARGS...]
#
# Runs CMD while a CSMS stand-in (csms_standin.py) listens on 127.0.0.1, and
# exits with CMD's status.  The server is always stopped on exit.
#
# Environment in:
#   CSMS_TEST_PKI    PKI directory, created by gen-pki.sh if needed
#                    (default: $PWD/tests/pki, i.e. the build tree)
#   CSMS_TEST_TOKEN  if non-empty, the server requires this X-Auth-Token
#   PYTHON           Python interpreter (default: python3)
#   CSMS_KEEP=1      keep the run directory (log, server stderr) afterwards
# Environment for CMD:
#   CSMS_STANDIN_PORT     port on 127.0.0.1
#   CSMS_STANDIN_URL      https://127.0.0.1:$CSMS_STANDIN_PORT
#   CSMS_STANDIN_LOG      JSON-lines request log
#   CSMS_STANDIN_PROJECT  the only project id the server accepts
#   CSMS_STANDIN_STATES   NAME=STATE lines the server re-reads per request (see
#                         csms_standin.py --states); absent until a test writes it
#   CSMS_TEST_CA          $CSMS_TEST_PKI/ca.pem
#   CSMS_TEST_DIR         the run directory (private, removed afterwards)
#   CSMS_METADATA_URL     http://127.0.0.1:PORT, the stand-in's ECS metadata service
#   CSMS_STANDIN_AKSK     "AK SK" lines the stand-in's gateway knows, re-read per
#                         request; holds CSMS_TEST_AK and CSMS_TEST_SK to begin with
set -u

here=$(cd "$(dirname "$0")" && pwd)
project=0123456789abcdef0123456789abcdef

usage() {
    echo "usage: $0 [--cert NAME] [--tls-max V] [--map NAME=STATE,...] -- CMD [ARGS...]" >&2
    exit 2
}

opts=()
while [ $# -gt 0 ]; do
    case $1 in
        --cert|--tls-max|--map)
            [ $# -ge 2 ] || usage
            opts+=("$1" "$2"); shift 2 ;;
        --cert=*|--tls-max=*|--map=*)
            opts+=("$1"); shift ;;
        --) shift; break ;;
        -*) usage ;;
        *) break ;;
    esac
done
[ $# -gt 0 ] || usage
[ -n "${CSMS_TEST_TOKEN:-}" ] && opts+=(--token "$CSMS_TEST_TOKEN")

CSMS_TEST_PKI=${CSMS_TEST_PKI:-$PWD/tests/pki}
sh "$here/gen-pki.sh" "$CSMS_TEST_PKI" || {
    echo "$0: could not create the test PKI in $CSMS_TEST_PKI" >&2
    exit 1
}
CSMS_TEST_PKI=$(cd "$CSMS_TEST_PKI" && pwd) || exit 1

run=$(mktemp -d "${TMPDIR:-/tmp}/csms-standin.XXXXXX") || exit 1
chmod 0700 "$run"
pid=

# shellcheck disable=SC2317  # invoked via trap
cleanup() {
    local status=$?
    trap - EXIT HUP INT TERM
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null
        local _
        for _ in $(seq 20); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    if [ -s "$run/server.stderr" ]; then
        sed 's/^/csms_standin: /' "$run/server.stderr" >&2
    fi
    if [ "${CSMS_KEEP:-0}" = 1 ]; then
        echo "$0: kept $run" >&2
    else
        rm -rf "$run"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

CSMS_TEST_AK=${CSMS_TEST_AK:-QTWAOYTTINDUT2QVKYUC}
CSMS_TEST_SK=${CSMS_TEST_SK:-MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc}
printf '%s %s\n' "$CSMS_TEST_AK" "$CSMS_TEST_SK" >"$run/aksk"
"${PYTHON:-python3}" "$here/csms_standin.py" --pki "$CSMS_TEST_PKI" \
    --port-file "$run/port" --log "$run/requests.jsonl" --project "$project" \
    --states "$run/states" --aksk "$run/aksk" --metadata-port-file "$run/metadata-port" \
    --exit-with-parent "${opts[@]}" </dev/null >"$run/server.stderr" 2>&1 &
pid=$!

for _ in $(seq 100); do
    [ -s "$run/port" ] && break
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "$0: csms_standin.py exited before listening" >&2
        exit 1
    fi
    sleep 0.1
done
if [ ! -s "$run/port" ]; then
    echo "$0: csms_standin.py did not write its port within 10 s" >&2
    exit 1
fi

: >>"$run/requests.jsonl"
CSMS_STANDIN_PORT=$(cat "$run/port")
export CSMS_TEST_PKI CSMS_STANDIN_PORT
export CSMS_STANDIN_URL="https://127.0.0.1:$CSMS_STANDIN_PORT"
export CSMS_STANDIN_LOG="$run/requests.jsonl"
export CSMS_STANDIN_STATES="$run/states"
export CSMS_STANDIN_PROJECT="$project"
export CSMS_TEST_CA="$CSMS_TEST_PKI/ca.pem"
export CSMS_TEST_DIR="$run"
export CSMS_METADATA_URL="http://127.0.0.1:$(cat "$run/metadata-port")"
export CSMS_STANDIN_AKSK="$run/aksk" CSMS_TEST_AK CSMS_TEST_SK

"$@"
exit $?
