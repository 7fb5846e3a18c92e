#!/usr/bin/env bash
#
# test_gnutls.sh: GnuTLS's tools (gnutls-bin 3.7, Debian 12) against the module, issue 5 item 4.
#
# p11tool generates an RSA and an EC key pair in a registration, lists them with their RFC 7512
# URIs and signs with each (--test-sign, which also verifies against the public key on the
# token); certtool makes a self-signed certificate with each token key (given as URIs), and
# p11tool --write stores it on the token beside its key (same CKA_ID).  Then gnutls-serv serves
# TLS with key and certificate both given as PKCS#11 URIs and gnutls-cli connects, verifying the
# server against that certificate: TLS 1.3 with the RSA key (PIN from GNUTLS_PIN), TLS 1.2 with
# the EC key (PIN in the URI, ?pin-value=).  Data must flow both ways (gnutls-serv --echo).  A
# client trusting another certificate must fail, and so must a server given a wrong PIN.
#
# gnutls-serv listens on every address and has no option to bind one, so the whole script runs
# in a network namespace of its own (unshare -n; -r -n when not root) in which only the loopback
# interface exists.
#
# Under the AddressSanitizer runtime, which the tests preload for the sanitized module, GnuTLS's
# tools hang at exit in libp11-kit's destructor (freelocale waits for glibc's setlocale lock);
# that happens without our module too (certtool with a key file, p11tool with SoftHSMv2), and
# not when P11_KIT_DEBUG is set, so the test sets it empty (no debug output).
set -Eeuo pipefail

if [[ -z ${CH_GNUTLS_NETNS:-} ]]; then
	ns=(-n)
	[[ $(id -u) == 0 ]] || ns=(-r -n)
	exec unshare "${ns[@]}" env CH_GNUTLS_NETNS=1 bash "${BASH_SOURCE[0]}" "$@"
fi

# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ch_setup

D=$CH_TMP
SO_PIN=87654321
USER_PIN='web user pin 2026'
TOKEN="pkcs11:token=web"
export P11_KIT_DEBUG=
unset GNUTLS_PIN GNUTLS_SO_PIN

# The server in the background, and its end whatever happens.
srv_pid=
stop_server()
{
	if [[ -n $srv_pid ]]; then
		kill "$srv_pid" 2>/dev/null || true
		wait "$srv_pid" 2>/dev/null || true
		srv_pid=
	fi
}
# shellcheck disable=SC2317 # called from the EXIT trap
set_status()
{
	return "$1"
}
# shellcheck disable=SC2317 # the EXIT trap
on_exit()
{
	local rc=$?
	stop_server
	set_status "$rc" || true
	ch__on_exit
}
trap on_exit EXIT

ch_run ip link set lo up
ch_expect_ok "the namespace's loopback is up"
ch_run ip -o link show
ch_expect_lines "... and it is the only interface" '^[0-9]+: ' 1

p11tool_()
{
	ch_run_mod p11tool --provider "$CH_TEST_MODULE" "$@"
}
p11tool_user()
{
	ch_run_mod env GNUTLS_PIN="$USER_PIN" p11tool --provider "$CH_TEST_MODULE" --login "$@"
}

# A free TCP port on 127.0.0.1 (nothing else runs in this namespace).
free_port()
{
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server LOG ARGS...: gnutls-serv --echo on a free port ($port), waits until it listens.
start_server()
{
	local log=$1 i
	shift
	port=$(free_port)
	env "${CH_MOD_ENV[@]}" timeout -k 5 "$CH_TIMEOUT" gnutls-serv --provider "$CH_TEST_MODULE" \
		--echo -p "$port" "$@" >"$log" 2>&1 </dev/null &
	srv_pid=$!
	for ((i = 0; i < 100; i++)); do
		grep -q 'listening on IPv4' "$log" && return 0
		kill -0 "$srv_pid" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}

# client CAFILE ARGS...: gnutls-cli to 127.0.0.1:$port trusting CAFILE, sending $D/hello.txt.
client()
{
	local ca=$1
	shift
	# shellcheck disable=SC2016 # the inner script expands its own arguments
	ch_run bash -c 'exec gnutls-cli --x509cafile "$1" -p "$2" "${@:3}" 127.0.0.1 <"$0"' \
		"$D/hello.txt" "$ca" "$port" "$@"
}

echo "== a registration"
ch_run_mod pkcs11-tool --module "$CH_TEST_MODULE" --slot 1 --init-token --label web \
	--so-pin "$SO_PIN"
ch_expect_ok "pkcs11-tool --init-token"
ch_run_mod pkcs11-tool --module "$CH_TEST_MODULE" --token-label web --login --login-type so \
	--so-pin "$SO_PIN" --init-pin --pin "$USER_PIN"
ch_expect_ok "pkcs11-tool --init-pin"

p11tool_ --list-tokens
ch_expect_ok "p11tool --list-tokens"
ch_expect_lines "p11tool shows the registration with its URI" \
	'^	URL: pkcs11:model=registration;manufacturer=Cipher%20Hub;serial=[0-9a-f]{16};token=web$' 1

echo "== p11tool generates keys"
p11tool_user --generate-privkey RSA --bits 2048 --label web-rsa --id 01 --outfile "$D/rsa.pub" \
	"$TOKEN"
ch_expect_ok "p11tool --generate-privkey RSA --bits 2048"
p11tool_user --generate-privkey ECDSA --curve secp256r1 --label web-ec --id 02 \
	--outfile "$D/ec.pub" "$TOKEN"
ch_expect_ok "p11tool --generate-privkey ECDSA --curve secp256r1"
ch_run openssl pkey -pubin -in "$D/rsa.pub" -noout -text
ch_expect_text "the RSA public key is 2048 bits" 'Public-Key: (2048 bit)'
ch_run openssl pkey -pubin -in "$D/ec.pub" -noout -text
ch_expect_text "the EC public key is on P-256" 'NIST CURVE: P-256'

echo "== p11tool lists them with URIs"
p11tool_ --list-all "$TOKEN"
ch_expect_ok "--list-all without login"
ch_expect_lines "without login: the two public keys" '^	Type: Public key' 2
ch_expect_lines "... and no private key" '^	Type: Private key' 0
p11tool_user --list-all "$TOKEN"
ch_expect_ok "--list-all with login"
listing=$CH_OUT
uri_re='^	URL: pkcs11:model=registration;manufacturer=Cipher%20Hub;serial=[0-9a-f]{16};token=web'
ch_expect_lines "the RSA private key's URI" "$uri_re;id=%01;object=web-rsa;type=private\$" 1
ch_expect_lines "the RSA public key's URI" "$uri_re;id=%01;object=web-rsa;type=public\$" 1
ch_expect_lines "the EC private key's URI" "$uri_re;id=%02;object=web-ec;type=private\$" 1
ch_expect_lines "the EC public key's URI" "$uri_re;id=%02;object=web-ec;type=public\$" 1
ch_expect_text "the RSA key's type" 'Type: Private key (RSA-2048)'
ch_expect_text "the EC key's type" 'Type: Private key (EC/ECDSA-SECP256R1)'
rsa_priv=$(sed -n 's/^	URL: \(.*id=%01;object=web-rsa;type=private\)$/\1/p' <<<"$listing")
ec_priv=$(sed -n 's/^	URL: \(.*id=%02;object=web-ec;type=private\)$/\1/p' <<<"$listing")

p11tool_user --list-all "$rsa_priv"
ch_expect_lines "the listed URI finds its object again, and only it" '^Object [0-9]+:' 1
ch_expect_text "... the RSA private key" "URL: $rsa_priv"

echo "== p11tool --test-sign"
p11tool_user --test-sign "$rsa_priv"
ch_expect_ok "--test-sign with the RSA key"
ch_expect_text "... signs" 'Signing using RSA-SHA256... ok'
ch_expect_text "... and verifies against the token's public key" \
	'Verifying against public key in the token... ok'
p11tool_user --test-sign "$ec_priv"
ch_expect_ok "--test-sign with the EC key"
ch_expect_text "... signs" 'Signing using ECDSA-SHA256... ok'
ch_expect_text "... and verifies against the token's public key" \
	'Verifying against public key in the token... ok'
p11tool_ --test-sign "$rsa_priv"
ch_expect_fails "--test-sign without login fails"

echo "== certtool makes certificates with the token keys; p11tool writes them to the token"
printf '%s\n' 'cn = "localhost"' 'serial = 11' 'expiration_days = 2' 'signing_key' \
	'encryption_key' 'tls_www_server' 'dns_name = "localhost"' 'ip_address = "127.0.0.1"' \
	>"$D/server.tmpl"
for k in rsa:01:web-rsa ec:02:web-ec; do
	IFS=: read -r alg id label <<<"$k"
	ch_run_mod env GNUTLS_PIN="$USER_PIN" certtool --provider "$CH_TEST_MODULE" \
		--generate-self-signed --template "$D/server.tmpl" \
		--load-privkey "$TOKEN;id=%$id;type=private" --load-pubkey "$TOKEN;id=%$id;type=public" \
		--outfile "$D/$alg.crt"
	ch_expect_ok "$alg: certtool --generate-self-signed with the token key"
	ch_run openssl x509 -in "$D/$alg.crt" -noout -pubkey
	ch_expect_eq "$alg: the certificate holds the token's public key" "$(cat "$D/$alg.pub")" "$CH_OUT"
	ch_run openssl verify -CAfile "$D/$alg.crt" "$D/$alg.crt"
	ch_expect_text "$alg: openssl verifies the token's signature on it" ': OK'
	p11tool_user --write --load-certificate "$D/$alg.crt" --label "$label" --id "$id" "$TOKEN"
	ch_expect_ok "$alg: p11tool --write stores it on the token"
done
p11tool_ --list-all-certs "$TOKEN"
ch_expect_lines "both certificates are listed without login, by their keys' IDs and labels" \
	"$uri_re;id=%0[12];object=web-(rsa|ec);type=cert\$" 2
p11tool_ --export "$TOKEN;id=%01;type=cert" --outfile "$D/rsa.back.crt"
ch_expect_ok "p11tool --export of the RSA certificate"
ch_run openssl x509 -in "$D/rsa.back.crt" -noout -fingerprint -sha256
back=$CH_OUT
ch_run openssl x509 -in "$D/rsa.crt" -noout -fingerprint -sha256
ch_expect_eq "... gives back the same certificate" "$CH_OUT" "$back"

echo "== gnutls-serv with the RSA key and certificate as URIs, TLS 1.3, gnutls-cli"
printf 'GET /ledger HTTP/1.0\r\n\r\n' >"$D/hello.txt"
export GNUTLS_PIN=$USER_PIN
if start_server "$D/serv-rsa.log" --x509keyfile "$TOKEN;id=%01;type=private" \
	--x509certfile "$TOKEN;id=%01;type=cert"; then
	ch_pass "gnutls-serv (RSA, PIN from GNUTLS_PIN) listens on port $port"
else
	CH_OUT=$(cat "$D/serv-rsa.log")
	ch_fail "gnutls-serv (RSA) listens" "'listening on IPv4' in its log" "not within 10 s"
fi
unset GNUTLS_PIN
client "$D/rsa.crt" --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.3'
ch_expect_ok "gnutls-cli connects"
ch_expect_text "the handshake completes" 'Handshake was completed'
ch_expect_text "the server's certificate verifies against the token's certificate" \
	'The certificate is trusted.'
ch_expect_text "TLS 1.3 with an RSA signature made in the token" '(TLS1.3-X.509)-'
ch_expect_text "... RSA-PSS" '(RSA-PSS-RSAE-SHA256)'
ch_expect_text "the request is echoed back through the tunnel" 'GET /ledger HTTP/1.0'
client "$D/ec.crt" --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.3'
ch_expect_fails "a client trusting another certificate refuses the server"
ch_expect_no_text "... and sends nothing" 'GET /ledger'
stop_server
CH_OUT=$(cat "$D/serv-rsa.log")
ch_expect_text "the server received the request" 'received cmd: GET /ledger HTTP/1.0'

echo "== gnutls-serv with the EC key, PIN in the URI, TLS 1.2"
if start_server "$D/serv-ec.log" \
	--x509keyfile "$TOKEN;id=%02;type=private?pin-value=${USER_PIN// /%20}" \
	--x509certfile "$TOKEN;id=%02;type=cert"; then
	ch_pass "gnutls-serv (EC, ?pin-value=) listens on port $port"
else
	CH_OUT=$(cat "$D/serv-ec.log")
	ch_fail "gnutls-serv (EC) listens" "'listening on IPv4' in its log" "not within 10 s"
fi
client "$D/ec.crt" --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.2'
ch_expect_ok "gnutls-cli connects"
ch_expect_text "the handshake completes" 'Handshake was completed'
ch_expect_text "the server's certificate verifies" 'The certificate is trusted.'
ch_expect_text "TLS 1.2 with ECDSA made in the token" '(TLS1.2-X.509)-(ECDHE-SECP256R1)-(ECDSA-SHA256)'
ch_expect_text "the request is echoed back" 'GET /ledger HTTP/1.0'
stop_server

echo "== a wrong PIN"
if start_server "$D/serv-bad.log" --x509keyfile "$TOKEN;id=%02;type=private?pin-value=wrong-pin" \
	--x509certfile "$TOKEN;id=%02;type=cert"; then
	client "$D/ec.crt" --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.2'
	ch_expect_fails "with a wrong PIN no handshake completes"
	ch_expect_no_text "... and nothing is echoed" 'GET /ledger'
else
	CH_OUT=$(cat "$D/serv-bad.log")
	ch_pass "with a wrong PIN gnutls-serv does not start"
	ch_expect_text "... for the PIN" 'Error in provided PIN'
	ch_expect_no_text "... and it did not say it listens" 'listening on IPv4'
fi
stop_server

ch_finish
