#!/usr/bin/env bash
# deploy/pki.sh - a small certificate authority for poolwatch's mutual TLS.
#
# Needs openssl (Debian package `openssl`). Every key is EC P-256, written
# mode 0600; an existing key is never overwritten without --force.
#
#   pki.sh init DIR                                  the CA: DIR/ca.pem, DIR/ca.key (10 years)
#   pki.sh collector DIR NAME [--ip IP]... [--dns NAME]...
#                                                    DIR/collectors/NAME.pem + .key (2 years,
#                                                    serverAuth; SANs: NAME, every --dns, every --ip)
#   pki.sh agent DIR AGENT_ID                        DIR/agents/AGENT_ID.pem + .key (1 year,
#                                                    clientAuth, CN = AGENT_ID = the agent's id)
#   pki.sh renew DIR collector NAME | agent AGENT_ID [--new-key]
#                                                    a new certificate, same name and SANs, for the
#                                                    same key (a new key with --new-key)
#   pki.sh revoke DIR collector NAME | agent AGENT_ID
#                                                    puts every certificate issued for it on
#                                                    DIR/crl.pem; DIR/ca+crl.pem for collectors
#   pki.sh show FILE                                 what a certificate says
#
# Options for init, collector, agent, renew: --days N (validity), --force.
# Rotation without losing data: deploy/README.md, "Certificates".
set -euo pipefail

PROG=pki.sh
die() { echo "$PROG: $*" >&2; exit 1; }
usage() { sed -n '2,24s/^# \{0,1\}//p' "$0"; exit "${1:-1}"; }

command -v openssl >/dev/null 2>&1 || die "openssl not found (Debian: apt-get install openssl)"

# Parsed options (per command).
FORCE=0 NEWKEY=0 DAYS="" IPS=() DNSS=() ARGS=()

parse_opts() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --force) FORCE=1 ;;
            --new-key) NEWKEY=1 ;;
            --days) [ $# -ge 2 ] || die "--days needs a number"; DAYS=$2; shift ;;
            --ip) [ $# -ge 2 ] || die "--ip needs an address"; IPS+=("$2"); shift ;;
            --dns) [ $# -ge 2 ] || die "--dns needs a name"; DNSS+=("$2"); shift ;;
            -h|--help) usage 0 ;;
            --*) die "unknown option $1 (see $PROG --help)" ;;
            *) ARGS+=("$1") ;;
        esac
        shift
    done
    if [ -n "$DAYS" ]; then
        [[ $DAYS =~ ^[1-9][0-9]{0,4}$ ]] || die "--days $DAYS: a whole number of days, 1..99999"
    fi
}

# Agent ids go into the certificate's CN and must be valid agent ids
# (common/wire.h); this conservative subset also keeps openssl's -subj and
# file names simple.
check_id() {
    [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$ ]] \
        || die "\"$1\": use 1-128 characters from A-Z a-z 0-9 . _ : @ - (starting with a letter or digit)"
}

check_ip() {
    [[ $1 =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ || $1 =~ ^[0-9A-Fa-f:]+$ && $1 == *:* ]] \
        || die "--ip $1: not an IPv4 or IPv6 address"
}

check_dns() {
    [[ $1 =~ ^[A-Za-z0-9*]([A-Za-z0-9.-]{0,252})$ ]] || die "\"$1\": not a DNS name"
}

need_ca() {
    if [ ! -f "$1/ca.pem" ] || [ ! -f "$1/ca.key" ]; then
        die "$1 holds no CA (ca.pem, ca.key): run $PROG init $1 first"
    fi
}

# refuse_existing FILE...: stop unless --force, naming the first that exists.
refuse_existing() {
    local f
    [ "$FORCE" = 1 ] && return 0
    for f in "$@"; do
        [ -e "$f" ] && die "$f exists: refusing to overwrite it (--force to replace it; $PROG renew re-issues a certificate for its key)"
    done
    return 0
}

# Scratch files (configs, requests) go to a private directory; a file's new
# version is written beside it and renamed over it (same filesystem, so an
# agent reloading on SIGHUP sees the old file or the new one, never half).
WORK=$(mktemp -d)
TMPS=()
cleanup() { rm -rf "$WORK"; [ ${#TMPS[@]} -eq 0 ] || rm -f "${TMPS[@]}"; }
trap cleanup EXIT

# new_key FILE: an EC P-256 private key, mode 0600, written atomically.
new_key() {
    local t=$1.tmp.$$
    TMPS+=("$t")
    (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$t" 2>/dev/null) \
        || die "openssl could not make a key"
    chmod 0600 "$t"
    mv -f "$t" "$1"
}

# A minimal openssl config: the subject comes from -subj, extensions from [ext].
# write_cnf FILE EXTENSION-LINES...
write_cnf() {
    local f=$1
    shift
    {
        printf '[req]\ndistinguished_name = dn\n[dn]\n[ext]\n'
        printf '%s\n' "$@"
    } >"$f"
}

# sign DIR KEY CERT CN DAYS EXTENSION-LINES...: a certificate for KEY signed by
# DIR's CA. A copy stays in DIR/issued/{agents,collectors}/CN/SERIAL.pem, so
# that revoke can list every certificate ever issued for a name, not only
# the newest.
sign() {
    local dir=$1 key=$2 cert=$3 cn=$4 days=$5 cnf=$WORK/req.cnf csr=$WORK/req.csr t=$3.tmp.$$
    local kept
    kept=$dir/issued/$(basename "$(dirname "$cert")")/$cn
    shift 5
    TMPS+=("$t")
    write_cnf "$cnf" "$@"
    openssl req -new -config "$cnf" -key "$key" -subj "/CN=$cn" -out "$csr" 2>/dev/null \
        || die "openssl could not make a request for $key"
    # A random 127-bit serial: no serial file to keep, no collisions to fear.
    openssl x509 -req -in "$csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
        -set_serial "0x$(openssl rand -hex 16 | sed 's/^./7/')" -days "$days" -sha256 \
        -extfile "$cnf" -extensions ext -out "$t" 2>/dev/null \
        || die "openssl could not sign $cert with $dir/ca.key"
    chmod 0644 "$t"
    mkdir -p "$kept"
    cp "$t" "$kept/$(openssl x509 -in "$t" -noout -serial | cut -d= -f2).pem"
    mv -f "$t" "$cert"
}

LEAF_EXT=("basicConstraints = critical,CA:FALSE"
          "keyUsage = critical,digitalSignature"
          "subjectKeyIdentifier = hash"
          "authorityKeyIdentifier = keyid")

cmd_init() {
    parse_opts "$@"
    [ ${#ARGS[@]} -eq 1 ] || die "usage: $PROG init DIR [--days N] [--force]"
    local dir=${ARGS[0]} cnf=$WORK/ca.cnf t
    mkdir -p "$dir"
    chmod 0700 "$dir"
    refuse_existing "$dir/ca.key" "$dir/ca.pem"
    new_key "$dir/ca.key"
    write_cnf "$cnf" "basicConstraints = critical,CA:TRUE,pathlen:0" \
        "keyUsage = critical,keyCertSign,cRLSign" "subjectKeyIdentifier = hash"
    t=$dir/ca.pem.tmp.$$
    TMPS+=("$t")
    openssl req -x509 -new -config "$cnf" -extensions ext -key "$dir/ca.key" -sha256 \
        -days "${DAYS:-3650}" -subj "/O=poolwatch/CN=poolwatch CA $(date -u +%Y-%m-%d)" \
        -set_serial "0x$(openssl rand -hex 16 | sed 's/^./7/')" -out "$t" 2>/dev/null \
        || die "openssl could not make the CA certificate"
    chmod 0644 "$t"
    mv -f "$t" "$dir/ca.pem"
    echo "CA in $dir: ca.pem (give it to every agent and collector), ca.key (keep it here, offline if you can)"
}

# collector_issue DIR NAME DAYS: (re)issues DIR/collectors/NAME.pem from NAME.san.
collector_issue() {
    local dir=$1 name=$2 days=$3 d=$1/collectors
    sign "$dir" "$d/$name.key" "$d/$name.pem" "$name" "$days" "${LEAF_EXT[@]}" \
        "extendedKeyUsage = serverAuth" "subjectAltName = $(cat "$d/$name.san")"
}

cmd_collector() {
    parse_opts "$@"
    [ ${#ARGS[@]} -eq 2 ] || die "usage: $PROG collector DIR NAME [--ip IP]... [--dns NAME]... [--days N] [--force]"
    local dir=${ARGS[0]} name=${ARGS[1]} d san ip n
    need_ca "$dir"
    check_dns "$name"
    d=$dir/collectors
    mkdir -p "$d"
    chmod 0700 "$d"
    refuse_existing "$d/$name.key" "$d/$name.pem"
    # Agents check the collector's name against the SANs: the host part of
    # their --collector URL must be one of these. mbed TLS 2.28 (the agent's
    # TLS library) compares that host as text with every SAN and ignores the
    # type, so an address is listed twice: as IP (for standard verifiers)
    # and as DNS text (for the agent).
    san="DNS:$name"
    for n in "${DNSS[@]+"${DNSS[@]}"}"; do check_dns "$n"; san+=",DNS:$n"; done
    for ip in "${IPS[@]+"${IPS[@]}"}"; do check_ip "$ip"; san+=",IP:$ip,DNS:$ip"; done
    echo "$san" >"$d/$name.san"
    new_key "$d/$name.key"
    collector_issue "$dir" "$name" "${DAYS:-730}"
    echo "collector certificate: $d/$name.pem, key $d/$name.key (SANs: $san)"
    echo "run: poolwatch-collector --listen tls+tcp://0.0.0.0:7410 --tls-ca $dir/ca.pem --tls-cert $d/$name.pem --tls-key $d/$name.key"
}

cmd_agent() {
    parse_opts "$@"
    [ ${#ARGS[@]} -eq 2 ] || die "usage: $PROG agent DIR AGENT_ID [--days N] [--force]"
    local dir=${ARGS[0]} id=${ARGS[1]} d
    need_ca "$dir"
    check_id "$id"
    d=$dir/agents
    mkdir -p "$d"
    chmod 0700 "$d"
    refuse_existing "$d/$id.key" "$d/$id.pem"
    new_key "$d/$id.key"
    sign "$dir" "$d/$id.key" "$d/$id.pem" "$id" "${DAYS:-365}" "${LEAF_EXT[@]}" \
        "extendedKeyUsage = clientAuth"
    echo "agent certificate: $d/$id.pem, key $d/$id.key (agent id $id)"
    echo "run: poolwatch-agent --collector tls+tcp://COLLECTOR:7410 --tls-ca $dir/ca.pem --tls-cert $d/$id.pem --tls-key $d/$id.key"
}

cmd_renew() {
    parse_opts "$@"
    [ ${#ARGS[@]} -eq 3 ] || die "usage: $PROG renew DIR collector NAME | agent AGENT_ID [--new-key] [--days N]"
    local dir=${ARGS[0]} kind=${ARGS[1]} name=${ARGS[2]} d
    need_ca "$dir"
    case "$kind" in
        collector) check_dns "$name"; d=$dir/collectors ;;
        agent) check_id "$name"; d=$dir/agents ;;
        *) die "renew what? collector NAME or agent AGENT_ID" ;;
    esac
    [ -f "$d/$name.key" ] || die "$d/$name.key does not exist: make it with $PROG $kind $dir $name"
    [ "$kind" = agent ] || [ -f "$d/$name.san" ] || die "$d/$name.san is missing: make the collector again with $PROG collector ... --force"
    # The new key lands before the certificate: reload (SIGHUP) or restart only after this finishes.
    [ "$NEWKEY" = 1 ] && new_key "$d/$name.key"
    if [ "$kind" = collector ]; then
        collector_issue "$dir" "$name" "${DAYS:-730}"
    else
        sign "$dir" "$d/$name.key" "$d/$name.pem" "$name" "${DAYS:-365}" "${LEAF_EXT[@]}" \
            "extendedKeyUsage = clientAuth"
    fi
    echo "renewed $d/$name.pem ($(openssl x509 -in "$d/$name.pem" -noout -enddate))$([ "$NEWKEY" = 1 ] && echo ", new key $d/$name.key")"
    if [ "$kind" = agent ]; then
        echo "then: copy it to the agent and run: systemctl reload poolwatch-agent (or kill -HUP its pid)"
    else
        echo "then: copy it to the collector and run: systemctl restart poolwatch-collector (agents spool meanwhile)"
    fi
}

# The revocation list lives in DIR/crl/ (openssl ca's database). Its
# nextUpdate is the CA's own end of validity: mbed TLS refuses every
# certificate once a CRL it was given is past nextUpdate, and a list that
# only grows has no reason to expire sooner.
cmd_revoke() {
    parse_opts "$@"
    [ ${#ARGS[@]} -eq 3 ] || die "usage: $PROG revoke DIR collector NAME | agent AGENT_ID"
    local dir=${ARGS[0]} kind=${ARGS[1]} name=${ARGS[2]} d days
    need_ca "$dir"
    case "$kind" in
        collector) check_dns "$name"; d=$dir/collectors ;;
        agent) check_id "$name"; d=$dir/agents ;;
        *) die "revoke what? collector NAME or agent AGENT_ID" ;;
    esac
    local issued c n=0 all=0
    issued=$dir/issued/$(basename "$d")/$name
    for c in "$issued"/*.pem; do [ -f "$c" ] && all=$((all + 1)); done
    [ "$all" -gt 0 ] || die "no certificate was issued for $kind $name in $dir"
    mkdir -p "$dir/crl"
    [ -f "$dir/crl/index.txt" ] || : >"$dir/crl/index.txt"
    [ -f "$dir/crl/crlnumber" ] || echo 1000 >"$dir/crl/crlnumber"
    days=$(( ( $(date -d "$(openssl x509 -in "$dir/ca.pem" -noout -enddate | cut -d= -f2)" +%s) - $(date +%s) ) / 86400 ))
    [ "$days" -ge 1 ] || die "the CA in $dir has expired: make a new one"
    printf '[ca]\ndefault_ca = d\n[d]\ndatabase = %s\ncrlnumber = %s\ndefault_md = sha256\ndefault_crl_days = %s\n' \
        "$dir/crl/index.txt" "$dir/crl/crlnumber" "$days" >"$WORK/crl.cnf"
    for c in "$issued"/*.pem; do
        if openssl ca -config "$WORK/crl.cnf" -cert "$dir/ca.pem" -keyfile "$dir/ca.key" -revoke "$c" \
            >/dev/null 2>"$WORK/err"; then
            n=$((n + 1))
        else
            grep -qi "already revoked" "$WORK/err" || die "openssl ca: $(tail -1 "$WORK/err")"
        fi
    done
    local t=$dir/crl.pem.tmp.$$
    TMPS+=("$t")
    openssl ca -config "$WORK/crl.cnf" -cert "$dir/ca.pem" -keyfile "$dir/ca.key" -gencrl -out "$t" \
        >/dev/null 2>"$WORK/err" || die "openssl ca -gencrl: $(tail -1 "$WORK/err")"
    chmod 0644 "$t"
    mv -f "$t" "$dir/crl.pem"
    t=$dir/ca+crl.pem.tmp.$$
    TMPS+=("$t")
    cat "$dir/ca.pem" "$dir/crl.pem" >"$t"
    chmod 0644 "$t"
    mv -f "$t" "$dir/ca+crl.pem"
    echo "revoked $n certificate(s) of $kind $name ($all ever issued); list: $dir/crl.pem"
    echo "then: give $dir/ca+crl.pem to the collector as --tls-ca and restart it (agents spool meanwhile)"
}

cmd_show() {
    [ $# -eq 1 ] || die "usage: $PROG show FILE"
    openssl x509 -in "$1" -noout -subject -issuer -serial -startdate -enddate \
        -ext subjectAltName,extendedKeyUsage,basicConstraints 2>/dev/null \
        || die "$1: not a PEM certificate"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case "$cmd" in
    init) cmd_init "$@" ;;
    collector) cmd_collector "$@" ;;
    agent) cmd_agent "$@" ;;
    renew) cmd_renew "$@" ;;
    revoke) cmd_revoke "$@" ;;
    show) cmd_show "$@" ;;
    -h|--help|help) usage 0 ;;
    *) die "unknown command $cmd (init, collector, agent, renew, revoke, show)" ;;
esac
