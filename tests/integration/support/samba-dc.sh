#!/usr/bin/env bash
# A throwaway Samba AD DC for the AD tests and the AD benchmark (Debian 12
# packages from .ci/install-samba; root). Used by support/samba.rs:
#
#   samba-dc.sh DIR OWNER_PID [LDIF...]
#
# Provisions realm EXAMPLE.TEST (base DC=example,DC=test) into the empty
# folder DIR with our own CA and a server certificate whose subjectAltName
# holds 127.0.0.1 (Samba's self-made one has none, which rustls refuses),
# creates the bind accounts, loads the LDIF files offline (ldbadd on sam.ldb),
# and starts `samba` in a private network namespace (`unshare -n`: AD's LDAP
# ports 389/636/3268/3269 are fixed, so each DC needs its own loopback).
# Clients reach it with `nsenter -t $(cat DIR/samba.pid) -n CMD`.
#
# A watchdog in the same namespace stops samba (SIGTERM, then SIGKILL) and
# removes DIR once OWNER_PID has exited: the test binary shares one DC across
# its tests and cannot stop it from a destructor.
#
# Facts behind the options: shared/reference/samba-ad.md (-s /dev/null keeps
# /etc/samba/smb.conf out; the run directories keep everything inside DIR;
# `server services = ldap` needs no winbindd; `-M single` is one process).
set -euo pipefail
D=$(realpath -m "$1"); OWNER=$2; shift 2
ADMINPASS=${ADMINPASS:-Adm1n-Passw0rd!}
SVCPASS=${SVCPASS:-Svc-Passw0rd!}
T0=$(date +%s%N)
phase() { echo "$1 $(( ($(date +%s%N) - T0) / 1000000 )) ms" >> "$D/timings"; }

[ ! -e "$D/etc/smb.conf" ] || { echo "$D is already provisioned" >&2; exit 1; }
mkdir -p "$D/tls" "$D/run"

# 1. CA + leaf with SANs.
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=sfsync test AD CA" \
    -keyout "$D/tls/ca.key" -out "$D/tls/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=dc1.example.test" \
    -keyout "$D/tls/key.pem" -out "$D/tls/server.csr" 2>/dev/null
printf '%s\n' 'subjectAltName=DNS:dc1.example.test,DNS:localhost,IP:127.0.0.1' \
    'basicConstraints=critical,CA:FALSE' 'keyUsage=digitalSignature,keyEncipherment' \
    'extendedKeyUsage=serverAuth' > "$D/tls/ext.cnf"
openssl x509 -req -in "$D/tls/server.csr" -CA "$D/tls/ca.pem" -CAkey "$D/tls/ca.key" \
    -CAcreateserial -days 30 -extfile "$D/tls/ext.cnf" -out "$D/tls/cert.pem" 2>/dev/null
chmod 600 "$D/tls/key.pem"          # samba refuses a group/world-readable key
phase certs

# 2. Provision. SAMBA_INTERNAL creates the DomainDnsZones/ForestDnsZones
#    partitions, so the domain root answers with AD's three continuation
#    references; the DNS server itself is not started.
samba-tool domain provision -s /dev/null --quiet \
    --realm=EXAMPLE.TEST --domain=EXAMPLE --server-role=dc \
    --dns-backend=SAMBA_INTERNAL --host-name=dc1 --host-ip=127.0.0.1 \
    --adminpass="$ADMINPASS" --targetdir="$D" \
    --option="interfaces = lo" --option="bind interfaces only = yes" \
    --option="server services = ldap" \
    --option="tls certfile = $D/tls/cert.pem" --option="tls keyfile = $D/tls/key.pem" \
    --option="tls cafile = $D/tls/ca.pem" \
    --option="pid directory = $D/run" --option="ncalrpc dir = $D/run/ncalrpc" \
    --option="winbindd socket directory = $D/run/winbindd" \
    --option="ntp signd socket directory = $D/run/ntp_signd" > "$D/provision.log" 2>&1 \
    || { cat "$D/provision.log" >&2; exit 1; }
S="$D/etc/smb.conf"
phase provisioned

# 3. Bind accounts: the service account (no mail, so never a person to sync),
#    a disabled one (AD data 533) and one that must change its password (773).
samba-tool user create sfsync "$SVCPASS" -s "$S" --given-name=Sync --surname=Service >/dev/null
samba-tool user setexpiry sfsync --noexpiry -s "$S" >/dev/null
samba-tool user create sfsync-off "$SVCPASS" -s "$S" >/dev/null
samba-tool user disable sfsync-off -s "$S" >/dev/null
samba-tool user create sfsync-new "$SVCPASS" -s "$S" --must-change-at-next-login >/dev/null
phase accounts

# 4. Bulk load offline, as system (uAC 512 without a password is accepted).
for l in "$@"; do ldbadd -H "$D/private/sam.ldb" "$l" >/dev/null; done
phase loaded

# 5. Start in a private network namespace, with the watchdog beside it. setsid:
#    neither is in the test's process group, so a Ctrl-C that kills the test
#    still leaves the watchdog to clean up.
setsid unshare -n sh -c '
    ip link set lo up
    samba -i -M single -s "$1" > "$2/samba.log" 2>&1 &
    echo $! > "$2/samba.pid"
    while kill -0 "$3" 2>/dev/null && kill -0 "$!" 2>/dev/null; do sleep 0.5; done
    P=$(cat "$2/samba.pid")
    kill -TERM "$P" 2>/dev/null
    for i in $(seq 1 50); do kill -0 "$P" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$P" 2>/dev/null
    rm -rf "$2"
' sh "$S" "$D" "$OWNER" > /dev/null 2>&1 < /dev/null &

for i in $(seq 1 600); do
    if [ -s "$D/samba.pid" ]; then
        P=$(cat "$D/samba.pid")
        kill -0 "$P" 2>/dev/null || { cat "$D/samba.log" >&2; exit 1; }
        if nsenter -t "$P" -n env LDAPTLS_CACERT="$D/tls/ca.pem" ldapsearch -x -H ldaps://127.0.0.1 \
            -D sfsync@example.test -w "$SVCPASS" -b '' -s base 1.1 >/dev/null 2>&1; then
            phase ready
            exit 0
        fi
    fi
    sleep 0.1
done
echo "samba did not answer LDAPS within 60 s" >&2
cat "$D/samba.log" >&2
exit 1
