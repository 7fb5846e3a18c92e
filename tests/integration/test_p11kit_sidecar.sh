#!/usr/bin/env bash
#
# test_p11kit_sidecar.sh: the installed module as p11-kit finds it, and the module hosted by
# `p11-kit server` for applications that load only p11-kit-client.so (issue 5 item 2).
#
# 1. `cmake --install` of the build tree into a DESTDIR puts the module in p11-kit's module
#    directory and conf/cipherhub.module, unchanged, in its module config directory (both as
#    pkg-config names them).  To let p11-kit see exactly that installation without touching the
#    machine, the programs run in a private mount namespace (unshare -m; -r -m when not root)
#    where the DESTDIR's two directories are bind-mounted over the system's.  (p11-kit also reads
#    ~/.config/pkcs11/modules, but not as root, and CI runs as root.)  Then `p11-kit list-modules`
#    shows the module by its relative name and its registration; `p11tool --list-all
#    'pkcs11:token=...'` lists the objects with URIs; each URI is parsed by p11-kit's own parser
#    (tests/unit/uri_p11kit.c) and must name the token, class, CKA_ID and label the module holds,
#    and must find that object again, alone.
# 2. The sidecar: `p11-kit server --provider <installed module> <token URI>` on a unix socket in
#    the temp dir; pkcs11-tool loading /usr/lib/.../pkcs11/p11-kit-client.so with
#    P11_KIT_SERVER_ADDRESS sees only that token, logs in as participant alice ("alice:PIN"),
#    signs (verified by openssl with the public key it reads through the socket) and decrypts
#    (what openssl encrypted); a wrong PIN is refused through it too.  The application never
#    loads cipherhub-pkcs11.so (the dynamic loader's own list shows it) and has no store path in
#    its environment.  The server is killed at the end, and its socket goes with it.
set -Eeuo pipefail

# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ch_setup

D=$CH_TMP
SO_PIN=87654321
USER_PIN=12345678
ALICE_PIN='alice sidecar pin 77'
MOD_PATH=$(pkg-config --variable p11_module_path p11-kit-1)
MOD_CONFIGS=$(pkg-config --variable p11_module_configs p11-kit-1)
CLIENT=$MOD_PATH/p11-kit-client.so
export P11_KIT_DEBUG= # see test_gnutls.sh: GnuTLS's tools under the ASan runtime
unset CIPHERHUB_PIN CIPHERHUB_NEW_PIN CIPHERHUB_MODULE GNUTLS_PIN

if [[ -z ${CH_TEST_BIN:-} || ! -f $CH_TEST_BIN/cmake_install.cmake ]]; then
	ch_fail "the build tree is known" "CH_TEST_BIN naming a CMake build tree" \
		"CH_TEST_BIN='${CH_TEST_BIN:-}' (run the tests with ctest)"
	ch_finish
fi
URI_TOOL=$CH_TEST_BIN/tests/uri_p11kit
TOOL=$CH_TEST_BIN/cipherhub

# The server in the background, and its end whatever happens.
srv_pid=
# shellcheck disable=SC2317 # called from the EXIT trap
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

echo "== cmake --install into a DESTDIR"
ROOT=$D/root
ch_run env DESTDIR="$ROOT" cmake --install "$CH_TEST_BIN"
ch_expect_ok "cmake --install succeeds"
INSTALLED=$ROOT$MOD_PATH/cipherhub-pkcs11.so
ch_run cmp "$CH_TEST_MODULE" "$INSTALLED"
ch_expect_ok "the module is installed in p11-kit's module directory ($MOD_PATH)"
ch_run cmp "$CH_TEST_SRC/conf/cipherhub.module" "$ROOT$MOD_CONFIGS/cipherhub.module"
ch_expect_ok "conf/cipherhub.module is installed unchanged in $MOD_CONFIGS"
ch_run ls "$ROOT$MOD_CONFIGS"
ch_expect_eq "it is the only module config there" cipherhub.module "$CH_OUT"

# in_installed CMD ARGS...: run a program that loads p11-kit's modules, in a mount namespace
# where p11-kit's module directory and config directory are the DESTDIR's.
ns_flags=(-m)
[[ $(id -u) == 0 ]] || ns_flags=(-r -m)
in_installed()
{
	# shellcheck disable=SC2016 # the inner script expands its own arguments
	ch_run unshare "${ns_flags[@]}" --propagation private bash -c \
		'mount --bind "$1" "$2" && mount --bind "$3" "$4" && shift 4 && exec "$@"' _ \
		"$ROOT$MOD_CONFIGS" "$MOD_CONFIGS" "$ROOT$MOD_PATH" "$MOD_PATH" \
		env "${CH_MOD_ENV[@]}" "$@"
}

echo "== a registration with keys and a participant"
ch_p11 --slot 1 --init-token --label sidecar --so-pin "$SO_PIN"
ch_expect_ok "--init-token"
ch_p11 --token-label sidecar --login --login-type so --so-pin "$SO_PIN" --init-pin \
	--pin "$USER_PIN"
ch_expect_ok "--init-pin"
ch_run_mod env CIPHERHUB_PIN="$SO_PIN" CIPHERHUB_NEW_PIN="$ALICE_PIN" "$TOOL" \
	--module "$CH_TEST_MODULE" --token sidecar participant add alice --roles operator,user
ch_expect_ok "the admin tool adds alice"
ch_p11 --token-label sidecar --login --pin "alice:$ALICE_PIN" --keypairgen --key-type rsa:2048 \
	--id a1 --label 'signing key' --usage-sign --usage-decrypt
ch_expect_ok "alice makes an RSA key pair (id a1, label with a space)"
ch_p11 --token-label sidecar --login --pin "alice:$ALICE_PIN" --keypairgen \
	--key-type EC:prime256v1 --id 02 --label ec/1 --usage-sign
ch_expect_ok "alice makes an EC key pair (id 02, label with a slash)"
ch_p11 -L
serial=$(sed -n '/token label *: sidecar/,/serial num/s/^  serial num *: //p' <<<"$CH_OUT")
ch_expect_eq "the registration has a 16-digit serial" 16 "${#serial}"

echo "== p11-kit finds the installed module"
in_installed p11-kit list-modules
ch_expect_ok "p11-kit list-modules succeeds"
ch_expect_text "it loads the module by the .module file's relative name" \
	'cipherhub: cipherhub-pkcs11.so'
ch_expect_no_text "p11-kit has no complaint" 'p11-kit:'
ch_expect_text "it shows the registration" 'token: sidecar'
ch_expect_text "... by its serial" "serial-number: $serial"
ch_expect_text "... initialized, with a user PIN" 'user-pin-initialized'

echo "== p11tool lists the objects with RFC 7512 URIs"
in_installed p11tool --list-all 'pkcs11:token=sidecar'
ch_expect_ok "p11tool --list-all without login"
ch_expect_lines "... shows the two public keys" '^	Type: Public key' 2
in_installed env GNUTLS_PIN="alice:$ALICE_PIN" p11tool --login --list-all 'pkcs11:token=sidecar'
ch_expect_ok "p11tool --login --list-all as alice (GNUTLS_PIN=alice:PIN)"
ch_expect_lines "... shows four keys" '^	Type: (Public|Private) key' 4
mapfile -t uris < <(sed -n 's/^	URL: //p' <<<"$CH_OUT")
ch_expect_eq "four URIs" 4 "${#uris[@]}"
base="pkcs11:model=registration;manufacturer=Cipher%20Hub;serial=$serial;token=sidecar"
ch_expect_lines "the RSA private key's URI percent-encodes its ID and label" \
	"^	URL: $base;id=%A1;object=signing%20key;type=private\$" 1
ch_expect_lines "the EC public key's URI percent-encodes the slash" \
	"^	URL: $base;id=%02;object=ec%2F1;type=public\$" 1

# What p11-kit's parser reads from each URI; what the module says about the same object.
declare -A want=(
	[private:a1]="class=3 id=a1 object=signing key"
	[public:a1]="class=2 id=a1 object=signing key"
	[private:02]="class=3 id=02 object=ec/1"
	[public:02]="class=2 id=02 object=ec/1"
)
token_fields="token=sidecar manufacturer=Cipher Hub model=registration serial=$serial"
for uri in "${uris[@]}"; do
	ch_run "$URI_TOOL" "$uri"
	ch_expect_ok "p11-kit parses $uri"
	parsed=$CH_OUT
	type=${uri##*type=}
	id=${uri#*;id=%}
	id=${id%%;*}
	id=${id,,}
	ch_expect_eq "... the token and the object ($type, id $id)" \
		"$token_fields ${want[$type:$id]:-unexpected}" "$parsed"
	in_installed env GNUTLS_PIN="alice:$ALICE_PIN" p11tool --login --list-all "$uri"
	ch_expect_lines "... and the URI finds exactly one object" '^Object [0-9]+:' 1
	ch_expect_text "... that very one" "URL: $uri"
done
ch_run "$URI_TOOL" "$base;id=%zz"
ch_expect_fails "p11-kit's parser refuses a bad percent-encoding (the check can fail)"

echo "== the sidecar: p11-kit server hosting the installed module"
sock=$D/run/cipherhub.sock
mkdir -m 700 "$D/run"
env "${CH_MOD_ENV[@]}" timeout -k 5 "$CH_TIMEOUT" p11-kit server --foreground \
	--provider "$INSTALLED" --name "$sock" "pkcs11:token=sidecar;serial=$serial" \
	>"$D/server.out" 2>&1 </dev/null &
srv_pid=$!
for ((i = 0; i < 100; i++)); do
	[[ -S $sock ]] && grep -q '^P11_KIT_SERVER_ADDRESS=' "$D/server.out" && break
	sleep 0.1
done
CH_OUT=$(cat "$D/server.out")
ch_expect_text "the server prints the address to export" \
	"P11_KIT_SERVER_ADDRESS=unix:path=$sock; export P11_KIT_SERVER_ADDRESS;"
ch_expect_text "... and its PID" "P11_KIT_SERVER_PID="
address=$(sed -n 's/^P11_KIT_SERVER_ADDRESS=\([^;]*\);.*/\1/p' <<<"$CH_OUT")

# app ARGS...: the application: pkcs11-tool on p11-kit-client.so, without the sanitizer runtime
# (it loads no module of ours) and without the store's location in its environment.
app()
{
	ch_run env -u CIPHERHUB_STORE -u CIPHERHUB_CONF P11_KIT_SERVER_ADDRESS="$address" \
		pkcs11-tool --module "$CLIENT" "$@"
}

app -L
ch_expect_ok "the application lists slots through the socket"
ch_expect_lines "it sees one token" '^Slot [0-9]+ ' 1
ch_expect_text "... the registration" 'token label        : sidecar'
ch_expect_text "... by its serial" "serial num         : $serial"

app --login --pin "alice:$ALICE_PIN" -O
ch_expect_ok "alice logs in through the sidecar with 'alice:PIN'"
ch_expect_lines "... and sees both private keys" '^Private Key Object' 2

app --login --pin "alice:wrong pin" -O
ch_expect_fails "a wrong PIN through the sidecar is refused"
ch_expect_text "... with CKR_PIN_INCORRECT" 'CKR_PIN_INCORRECT'

app --read-object --type pubkey --id a1 -o "$D/rsa.der"
ch_expect_ok "the application reads the RSA public key"
ch_run openssl pkey -pubin -inform DER -in "$D/rsa.der" -out "$D/rsa.pem"
ch_expect_ok "... which openssl reads"

printf 'transfer 250 EUR to account 7\n' >"$D/msg.txt"
openssl dgst -sha256 -binary "$D/msg.txt" >"$D/msg.sha256"
# p11-kit 0.24's RPC carries only the mechanisms its protocol knows how to encode and hides the
# rest from the client's mechanism list: CKM_ECDSA_SHA256 and CKM_SHA256_RSA_PKCS_PSS among them
# (SoftHSMv2 behind p11-kit server loses SHA256-RSA-PKCS-PSS the same way).  So the application
# hashes and the token signs the hash: CKM_RSA_PKCS_PSS with its parameters, raw CKM_ECDSA.
ch_p11 --token-label sidecar -M
ch_expect_lines "the module offers ECDSA-SHA256 and SHA256-RSA-PKCS-PSS" \
	'^  (ECDSA-SHA256|SHA256-RSA-PKCS-PSS),' 2
app -M
ch_expect_lines "p11-kit-client.so hides both" '^  (ECDSA-SHA256|SHA256-RSA-PKCS-PSS),' 0
ch_expect_lines "... and keeps RSA-PKCS-PSS, ECDSA and RSA-PKCS-OAEP" \
	'^  (RSA-PKCS-PSS|ECDSA|RSA-PKCS-OAEP),' 3

app --login --pin "alice:$ALICE_PIN" --sign --mechanism RSA-PKCS-PSS --hash-algorithm SHA256 \
	--mgf MGF1-SHA256 --salt-len 32 --id a1 -i "$D/msg.sha256" -o "$D/msg.sig"
ch_expect_ok "alice signs (RSA-PSS, SHA-256) through the sidecar"
ch_run openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
	-verify "$D/rsa.pem" -signature "$D/msg.sig" "$D/msg.txt"
ch_expect_text "openssl verifies the signature" 'Verified OK'

app --login --pin "alice:$ALICE_PIN" --sign --mechanism ECDSA --id 02 -i "$D/msg.sha256" \
	-o "$D/msg.ecsig"
ch_expect_ok "alice signs (ECDSA) through the sidecar"
ch_expect_size "... a 64-byte r||s" "$D/msg.ecsig" 64
app --login --pin "alice:$ALICE_PIN" --verify --mechanism ECDSA --id 02 -i "$D/msg.sha256" \
	--signature-file "$D/msg.ecsig"
ch_expect_text "... and the token verifies it through the sidecar" 'Signature is valid'

ch_run openssl pkeyutl -encrypt -pubin -inkey "$D/rsa.pem" -pkeyopt rsa_padding_mode:oaep \
	-pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 -in "$D/msg.txt" -out "$D/msg.enc"
ch_expect_ok "openssl encrypts to the token's key"
app --login --pin "alice:$ALICE_PIN" --decrypt --mechanism RSA-PKCS-OAEP --hash-algorithm SHA256 \
	--mgf MGF1-SHA256 --id a1 -i "$D/msg.enc" -o "$D/msg.dec"
ch_expect_ok "alice decrypts through the sidecar"
ch_expect_same_file "... to the message" "$D/msg.txt" "$D/msg.dec"

ch_run env -u CIPHERHUB_STORE -u CIPHERHUB_CONF P11_KIT_SERVER_ADDRESS="$address" LD_DEBUG=libs \
	pkcs11-tool --module "$CLIENT" --login --pin "alice:$ALICE_PIN" -O
ch_expect_ok "the application, traced by the dynamic loader"
ch_expect_text "... loads p11-kit-client.so" 'p11-kit-client.so'
ch_expect_no_text "... and never cipherhub-pkcs11.so" 'cipherhub-pkcs11'

echo "== the server ends"
if kill -0 "$srv_pid" 2>/dev/null; then
	ch_pass "the server ran until the end"
else
	ch_fail "the server ran until the end" "a live server process" "it had exited"
fi
kill "$srv_pid"
wait "$srv_pid" || true
srv_pid=
if [[ -e $sock ]]; then
	ch_fail "the killed server removed its socket" "no $sock" "it is still there"
else
	ch_pass "the killed server removed its socket"
fi
ch_run grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$D/server.out"
ch_expect_fails "the server's output has no sanitizer report"
app -L
ch_expect_fails "with the server gone the application reaches no token"

ch_finish
