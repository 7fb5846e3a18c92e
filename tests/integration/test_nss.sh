#!/usr/bin/env bash
#
# test_nss.sh: NSS (Debian 12's libnss3-tools 3.87, the library Firefox and Chromium use) with
# the module added to an NSS database.
#
# pkcs11-tool makes RSA and EC key pairs in the token; NSS's certutil makes a certificate request
# with each token key, a test CA outside the token issues the certificates, and pkcs11-tool
# writes them to the token under their keys' CKA_ID.  Then, through a fresh NSS database in the
# temp dir: `modutil -add` registers the module, `certutil -L -h all` lists the token's
# certificates as user certificates (their keys found), `certutil -K -h TOKEN` lists its keys,
# `cmsutil -S` signs with token keys (checked by `cmsutil -D` and by `openssl cms -verify`), and
# `selfserv` and `tstclnt` complete TLS 1.2 and 1.3 handshakes with the server key and the
# client-authentication key both in the token.  PINs come from -f / -W password files.
#
# selfserv cannot be told an address to bind: it listens on every interface.  So the TLS part
# runs in a network namespace of its own (`unshare -n`: as root, or with a user namespace where
# unprivileged ones are allowed), where only its loopback interface exists.
set -Eeuo pipefail

# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ch_setup

SO_PIN=87654321
USER_PIN=12345678
D=$CH_TMP
DB=sql:$D/nssdb
PW=$D/pin.txt
printf '%s\n' "$USER_PIN" >"$PW"

user()
{
	ch_p11 --token-label nss --login --pin "$USER_PIN" "$@"
}

# nss CMD ARGS...: an NSS tool (it loads the module through the database).
nss()
{
	ch_run_mod "$@"
}

echo "== the token's keys"
ch_p11 --init-token --label nss --so-pin "$SO_PIN"
ch_expect_ok "--init-token succeeds"
ch_p11 --token-label nss --login --login-type so --so-pin "$SO_PIN" --init-pin --pin "$USER_PIN"
ch_expect_ok "--init-pin succeeds"
# label:CKA_ID:key type
KEYS=(server-rsa:01:rsa:2048 server-ec:02:EC:prime256v1 client-rsa:03:rsa:2048
	client-ec:04:EC:prime256v1)
for spec in "${KEYS[@]}"; do
	IFS=: read -r label id kt <<<"$spec"
	user --keypairgen --key-type "$kt" --id "$id" --label "$label" --usage-sign
	ch_expect_ok "$label: pkcs11-tool generates the key pair"
done

echo "== a fresh NSS database and modutil -add"
mkdir "$D/nssdb"
nss certutil -N -d "$DB" --empty-password
ch_expect_ok "certutil -N makes the database"
nss modutil -dbdir "$DB" -add "Cipher Hub" -libfile "$CH_TEST_MODULE" -force
ch_expect_ok "modutil -add registers the module"
ch_expect_text "... and says so" 'Module "Cipher Hub" added to database.'
nss modutil -dbdir "$DB" -list "Cipher Hub"
ch_expect_text "modutil -list shows the module loaded" 'Status: Enabled'
ch_expect_text "... with the token" 'Token Name: nss'

echo "== certificates for the token keys"
ch_run openssl req -x509 -newkey rsa:2048 -nodes -keyout "$D/ca.key" -subj '/CN=Cipher Hub test CA' \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
	-days 2 -out "$D/ca.crt"
ch_expect_ok "openssl makes a test CA (outside the token)"
nss certutil -A -d "$DB" -n test-ca -t CT,C,C -i "$D/ca.crt"
ch_expect_ok "certutil -A trusts the CA in the database"
# NSS wants keyEncipherment on an RSA TLS server certificate, digitalSignature on every one.
for kt in rsa ec; do
	usage=digitalSignature
	[[ $kt == rsa ]] && usage+=,keyEncipherment
	printf 'subjectAltName = IP:127.0.0.1\nkeyUsage = critical,%s\n%s\n' "$usage" \
		'extendedKeyUsage = serverAuth,clientAuth,emailProtection' >"$D/$kt.ext"
done
serial=1
for spec in "${KEYS[@]}"; do
	IFS=: read -r label id _ <<<"$spec"
	nss certutil -R -d "$DB" -h nss -f "$PW" -k "$id" -s "CN=$label" -a -o "$D/$label.req"
	ch_expect_ok "$label: certutil -R makes a request signed with the token key"
	ch_run openssl req -in "$D/$label.req" -verify -noout
	ch_expect_ok "$label: the request's signature verifies outside the token"
	serial=$((serial + 1))
	ch_run openssl x509 -req -in "$D/$label.req" -CA "$D/ca.crt" -CAkey "$D/ca.key" \
		-set_serial "$serial" -days 2 -extfile "$D/${label#*-}.ext" -outform DER \
		-out "$D/$label.der"
	ch_expect_ok "$label: the CA issues its certificate"
	user --write-object "$D/$label.der" --type cert --id "$id" --label "$label"
	ch_expect_ok "$label: pkcs11-tool writes it to the token under the key's CKA_ID"
	ch_run openssl x509 -inform DER -in "$D/$label.der" -pubkey -noout -out "$D/$label.pub"
done

echo "== certutil lists the token's certificates and keys"
nss certutil -L -d "$DB" -h all -f "$PW"
ch_expect_ok "certutil -L -h all succeeds"
for spec in "${KEYS[@]}"; do
	label=${spec%%:*}
	ch_expect_lines "$label: listed as a user certificate (its private key found)" \
		"^nss:$label +u,u,u\$" 1
done
ch_expect_lines "the CA is listed as trusted" '^test-ca +CT,C,C$' 1
nss certutil -K -d "$DB" -h nss -f "$PW"
ch_expect_ok "certutil -K -h nss succeeds"
ch_expect_lines "four private keys" '^< *[0-9]+> ' 4
ch_expect_lines "two RSA keys" '^< *[0-9]+> rsa ' 2
ch_expect_lines "two EC keys" '^< *[0-9]+> ec ' 2
for spec in "${KEYS[@]}"; do
	IFS=: read -r label id _ <<<"$spec"
	ch_expect_lines "$label: its key is listed by type, CKA_ID and label" \
		"^< *[0-9]+> (rsa|ec) +$id +$label\$" 1
done

echo "== cmsutil signs with token keys"
printf 'a message signed by a Cipher Hub key\n' >"$D/msg.txt"
for label in server-rsa client-ec; do
	# -G (a signing-time attribute): without signed attributes cmsutil 3.87 writes an ECDSA
	# signature as raw r||s instead of DER, BadSignature to itself and to openssl; NSS's own
	# softoken key does the same.  With attributes it encodes it right.
	nss cmsutil -S -G -N "nss:$label" -Y NONE -d "$DB" -f "$PW" -i "$D/msg.txt" \
		-o "$D/$label.p7s"
	ch_expect_ok "$label: cmsutil -S signs"
	nss cmsutil -D -d "$DB" -f "$PW" -i "$D/$label.p7s" -o "$D/$label.hdr" -h 1
	ch_expect_ok "$label: cmsutil -D decodes it"
	CH_OUT=$(<"$D/$label.hdr")
	ch_expect_text "$label: ... and finds the signature good" "signer0.status=GoodSignature"
	nss cmsutil -D -d "$DB" -f "$PW" -i "$D/$label.p7s" -o "$D/$label.out"
	ch_expect_same_file "$label: ... and gives the content back" "$D/msg.txt" "$D/$label.out"
	ch_run openssl cms -verify -inform DER -in "$D/$label.p7s" -CAfile "$D/ca.crt" \
		-out "$D/$label.ossl"
	ch_expect_ok "$label: openssl cms -verify accepts the signature"
	ch_expect_same_file "$label: ... on the same content" "$D/msg.txt" "$D/$label.ossl"
done
cp "$D/server-rsa.p7s" "$D/bad.p7s"
# The message text sits in the clear inside the SignedData: change one of its bytes.
offset=$(grep -obaF 'signed by' "$D/bad.p7s" | head -n1 | cut -d: -f1)
printf 'S' | dd of="$D/bad.p7s" bs=1 seek="$offset" conv=notrunc status=none
ch_run openssl cms -verify -inform DER -in "$D/bad.p7s" -CAfile "$D/ca.crt" -out /dev/null
ch_expect_fails "a changed message does not verify"

echo "== TLS: selfserv and tstclnt with client authentication from the token"
netns=(unshare -n)
[[ $(id -u) == 0 ]] || netns=(unshare -r -n)
cat >"$D/tls.sh" <<'EOF'
# Runs inside the namespace: $1 the database, $2 the PIN file.  Prints each step's output
# between "--- NAME" lines.  (Only bash builtins besides the programs it tests: with the
# sanitizer runtime preloaded, coreutils' cat aborts in ASan's aligned_alloc check.)
set -u
db=$1 pw=$2 dir=${2%/*} pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done' EXIT
ip link set lo up || { echo "--- no loopback"; exit 1; }
free_port()
{
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}
# serve NAME KEY-OPTION NICKNAME: selfserv requiring a client certificate; sets port.
serve()
{
	port=$(free_port)
	timeout 30 selfserv -d "$db" -f "$pw" -p "$port" "$2" "$3" -r -r -V tls1.2:tls1.3 \
		>"$dir/selfserv-$1.out" 2>&1 </dev/null &
	pids+=($!)
	for ((i = 0; i < 100; i++)); do
		timeout 2 tstclnt -h 127.0.0.1 -p "$port" -q -t 1 >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	echo "--- selfserv $1 did not start"
	printf '%s\n' "$(<"$dir/selfserv-$1.out")"
}
# client NAME VERSION [NICKNAME]: one request through tstclnt.
client()
{
	echo "--- $1"
	# From a file: with a pipe at its end tstclnt 3.87 polls stdin forever and never leaves.
	printf 'GET / HTTP/1.0\r\n\r\n' >"$dir/request"
	# Without a nickname tstclnt picks any user certificate of the database itself, so the
	# client without one runs without the database (-D; -o then accepts the server's).
	if [[ -n ${3:-} ]]; then
		set -- "$1" "$2" -d "$db" -W "$pw" -n "$3"
	else
		set -- "$1" "$2" -D -o
	fi
	timeout 20 tstclnt -h 127.0.0.1 -p "$port" -V "$2:$2" -v "${@:3}" <"$dir/request" 2>&1 |
		grep -v 'PR_Poll'
	echo "--- $1: exit status ${PIPESTATUS[0]}"
}
serve rsa -n nss:server-rsa
client "TLS 1.3, RSA server, EC client" tls1.3 nss:client-ec
client "TLS 1.2, RSA server, RSA client" tls1.2 nss:client-rsa
client "no client certificate" tls1.3
serve ec -e nss:server-ec
client "TLS 1.3, EC server, RSA client" tls1.3 nss:client-rsa
client "TLS 1.2, EC server, EC client" tls1.2 nss:client-ec
EOF
ch_run_mod "${netns[@]}" bash "$D/tls.sh" "$DB" "$PW"
if [[ $CH_RC != 0 ]] && grep -q 'unshare' <<<"$CH_OUT"; then
	ch_fail "a network namespace for selfserv" "unshare -n (root) or unshare -r -n to work" \
		"it does not here (not root, no unprivileged user namespaces)"
fi
tls_out=$CH_OUT

# section NAME: the output of one tstclnt run in tls.sh.
section()
{
	awk -v name="--- $1" '$0 == name { on = 1; next } /^--- / { on = 0 } on' <<<"$tls_out"
}

for spec in "TLS 1.3, RSA server, EC client|1.3|RSA|EC" "TLS 1.2, RSA server, RSA client|1.2|RSA|RSA" \
	"TLS 1.3, EC server, RSA client|1.3|EC|RSA" "TLS 1.2, EC server, EC client|1.2|EC|EC"; do
	IFS='|' read -r name version skt ckt <<<"$spec"
	sig=rsa_
	[[ $skt == EC ]] && sig=ecdsa_
	CH_OUT=$(section "$name")
	CH_CMD="tstclnt ($name) in $D/tls.sh"
	ch_expect_eq "$name: tstclnt exits 0" "--- $name: exit status 0" \
		"$(grep -F -- "--- $name: exit status" <<<"$tls_out" || true)"
	ch_expect_text "$name: the handshake is TLS $version" \
		"SSL version 3.$((${version#1.} + 1))"
	ch_expect_text "$name: tstclnt verified the server's certificate" "subject DN: CN=server-${skt,,}"
	ch_expect_text "$name: the server signed with its $skt token key" "Signature Scheme: $sig"
	ch_expect_text "$name: the server accepted the $ckt client token key and answered" \
		'HTTP/1.0 200 OK'
done
CH_OUT=$(section "no client certificate")
CH_CMD="tstclnt (no client certificate) in $D/tls.sh"
ch_expect_no_text "a client without a certificate gets no answer" 'HTTP/1.0 200 OK'
ch_expect_text "... the server asks for the certificate it requires" 'SSL_ERROR_RX_CERTIFICATE_REQUIRED_ALERT'

ch_finish
