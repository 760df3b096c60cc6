#!/usr/bin/env bash
# The Salesforce CLI against `sfsync emulator --tls`, run by hand or in CI
# when it installs cleanly (it is large, so it stays out of `.ci/test`):
#
#     tests/clients/sf-cli/run.sh
#
# Installs @salesforce/cli into target/clients/sf (once), starts the emulator
# with a CA made at start, logs in with an access token (the CLI then calls
# /services/oauth2/userinfo and reads its own User record), then runs
# `sf data query` and `sf data create record`. Prints one `ok` line per step
# and exits non-zero on the first wrong answer. Loopback only.
# Measured on the team machine (Node 20, 2 shared cores): first install
# 160 s and 293 MB in target/clients/sf; each later run about 20 s.
set -euo pipefail
cd "$(dirname "$0")/../../.."
root=$PWD
prefix=target/clients/sf
if ! cmp -s tests/clients/sf-cli/package.json "$prefix/package.json" || [ ! -x "$prefix/node_modules/.bin/sf" ]; then
    start=$(date +%s)
    mkdir -p "$prefix"
    cp tests/clients/sf-cli/package.json "$prefix/package.json"
    (cd "$prefix" && npm install --no-audit --no-fund --loglevel=error >&2)
    echo "installed @salesforce/cli in $(( $(date +%s) - start )) s" >&2
fi
sf="$root/$prefix/node_modules/.bin/sf"
cargo build --quiet --bin sfsync
work=$(mktemp -d)
trap 'kill $emu 2>/dev/null || true; rm -rf "$work"' EXIT
export HOME="$work/home" SF_DISABLE_TELEMETRY=true SF_AUTOUPDATE_DISABLE=true SF_USE_GENERIC_UNIX_KEYCHAIN=true
mkdir -p "$HOME"
target/debug/sfsync -q emulator --tls --listen 127.0.0.1:0 --tls-ca-file "$work/ca.pem" --admin-open >"$work/out" &
emu=$!
for _ in $(seq 50); do [ -s "$work/out" ] && [ "$(wc -l <"$work/out")" -ge 2 ] && break; sleep 0.1; done
url=$(sed -n 1p "$work/out")
export NODE_EXTRA_CA_CERTS="$work/ca.pem"
token=$(curl -s --cacert "$work/ca.pem" "$url/services/oauth2/token" \
    -d grant_type=password -d client_id=cli -d client_secret=cli \
    -d username=admin@acme.example.com -d password=pw | sed -E 's/.*"access_token":"([^"]+)".*/\1/')

SF_ACCESS_TOKEN="$token" "$sf" org login access-token --instance-url "$url" --alias emu --no-prompt --json >"$work/login.json"
grep -q '"status": 0' "$work/login.json" && echo "ok org_login_access_token"

"$sf" data query --query "SELECT Id, Username FROM User" --target-org emu --json >"$work/query.json"
grep -q '"totalSize": 0' "$work/query.json" && echo "ok data_query totalSize=0"

profile=$(curl -s --cacert "$work/ca.pem" -H "Authorization: Bearer $token" \
    "$url/services/data/v62.0/query?q=SELECT+Id+FROM+Profile+WHERE+Name+=+'Standard+User'" \
    | sed -E 's/.*"Id":"([^"]+)".*/\1/')
"$sf" data create record --sobject User --target-org emu --json --values \
    "Username=cli1@acme.example.com Email=cli1@acme.example.com LastName=Cli Alias=cli1 TimeZoneSidKey=Europe/London LocaleSidKey=en_GB EmailEncodingKey=UTF-8 LanguageLocaleKey=en_US ProfileId=$profile" \
    >"$work/create.json"
grep -q '"success": true' "$work/create.json" && echo "ok data_create_record"

"$sf" data query --query "SELECT Id, Username FROM User" --target-org emu --json >"$work/query2.json"
grep -q 'cli1@acme.example.com' "$work/query2.json" && echo "ok data_query_after_create totalSize=1"
