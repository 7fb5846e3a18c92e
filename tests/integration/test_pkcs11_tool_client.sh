#!/usr/bin/env bash
#
# test_pkcs11_tool_client.sh: what issue 5 item 1 asks of OpenSC's pkcs11-tool (0.23, Debian 12)
# beyond the per-family tests (test_pkcs11_tool.sh, _aes, _rsa, _ec): a participant who logs in
# with "name:pin" and a PIN of more than 32 characters with spaces, a colon and non-ASCII bytes;
# pkcs11-tool's --test with RSA, EC and AES keys on the token; --test-fork; --test-threads with
# threads initialising the module (NULL and CKF_OS_LOCKING_OK) and reading slots and tokens while
# the main thread logs in and signs; reading public keys (checked by openssl against the token's
# signatures); a certificate written beside its key pair (same CKA_ID) and read back; deleting
# every kind of object.
#
# pkcs11-tool 0.23's --test-threads knows only IN, IL (C_Initialize with NULL or with
# CKF_OS_LOCKING_OK), Pn (pause), GI (C_GetInfo), SL (C_GetSlotList) and Tn (C_GetTokenInfo):
# login and signing in the threads come with later OpenSC versions, so here the main thread
# does them (--login --test) while the threads run.  Its --test-fork forks a child that calls
# C_Initialize while the parent is initialised; the parent then logs in and signs.  Its --test
# looks only at mechanisms flagged CKF_HW unless given --allow-sw (a software token's mechanisms
# rightly are not) and tests only RSA keys in its signature and decryption parts.
#
# With CH_T_FORWARD=1 (ctest: integration_test_pkcs11_tool_client_forwarded) the registration
# "clients" is a forwarded slot (65536) backed by a private SoftHSMv2 token.  What differs there:
# OAEP uses SHA-1, the only OAEP hash SoftHSM 2.6 takes; the signature after --test-fork is
# CKM_ECDSA over openssl's SHA-256 hash (SoftHSM has no ECDSA-SHA256; the same signature); --test
# is not required to succeed or find no errors, since against SoftHSM itself it fails in its OAEP
# part (it asks for SHA-256), and beside the threads the main thread signs instead; and the
# threads' "T0" shows slot index 0, which there is the software free slot, not the forwarded
# registration, so its label is not looked for.
set -Eeuo pipefail

# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ch_setup
ch_forward_mode clients
OAEP_MD=sha256 OAEP_HASH=SHA256 OAEP_MGF=MGF1-SHA256
[[ $CH_FWD == 1 ]] && OAEP_MD=sha1 OAEP_HASH=SHA-1 OAEP_MGF=MGF1-SHA1

D=$CH_TMP
SO_PIN=87654321
# The default user's PIN: 47 bytes, spaces, a colon after a word that is no participant name
# (so the whole string is the PIN), UTF-8 letters.
USER_PIN='correct horse: battery stäple, Grüße 42 ✓ ok'
# alice's PIN, given as "alice:PIN" (the first colon splits; the rest may hold more colons).
ALICE_PIN='Ünïcødé pass phrase with spaces : and a colon 2026'
ALICE="alice:$ALICE_PIN"
unset CIPHERHUB_PIN CIPHERHUB_NEW_PIN CIPHERHUB_MODULE

TOOL=${CH_TOOL:-}
if [[ -z $TOOL && -n ${CH_TEST_BIN:-} && -x $CH_TEST_BIN/cipherhub ]]; then
	TOOL=$CH_TEST_BIN/cipherhub
fi
[[ -n $TOOL ]] || TOOL=$(dirname "$CH_TEST_MODULE")/cipherhub
if [[ ! -x $TOOL ]]; then
	ch_fail "the admin tool is built" "an executable at $TOOL" "none (set CH_TOOL)"
	ch_finish
fi

alice()
{
	ch_p11 --token-label clients --login --pin "$ALICE" "$@"
}

echo "== a registration, a long default-user PIN, participant alice"
ch_expect_eq "the default user's PIN is more than 32 bytes" 1 "$((${#USER_PIN} > 32))"
ch_expect_eq "alice's PIN is more than 32 characters" 1 "$((${#ALICE_PIN} > 32))"
ch_p11 --slot "$CH_REG_SLOT" --init-token --label clients --so-pin "$SO_PIN"
ch_expect_ok "--init-token succeeds"
ch_p11 --token-label clients --login --login-type so --so-pin "$SO_PIN" --init-pin \
	--pin "$USER_PIN"
ch_expect_ok "--init-pin with the long PIN succeeds"
ch_p11 --token-label clients --login --pin "$USER_PIN" -O
ch_expect_ok "the default user logs in with the long PIN"
ch_p11 --token-label clients --login --pin "${USER_PIN% ok}" -O
ch_expect_fails "the PIN without its last 3 bytes is refused"
ch_expect_text "... with CKR_PIN_INCORRECT" 'CKR_PIN_INCORRECT'
ch_p11 --token-label clients --login --pin "${USER_PIN/ä/a}" -O
ch_expect_fails "the PIN with 'ä' spelled 'a' is refused"

ch_run_mod env CIPHERHUB_PIN="$SO_PIN" CIPHERHUB_NEW_PIN="$ALICE_PIN" "$TOOL" \
	--module "$CH_TEST_MODULE" --token clients participant add alice --roles operator,user
ch_expect_ok "the admin tool adds alice (operator, user) with her long PIN"

alice -O
ch_expect_ok "alice logs in with 'alice:PIN'"
ch_p11 --token-label clients --login --pin "alice:${ALICE_PIN%2026}2025" -O
ch_expect_fails "alice with the last digit of her PIN changed is refused"
ch_expect_text "... with CKR_PIN_INCORRECT" 'CKR_PIN_INCORRECT'
ch_p11 --token-label clients --login --pin "$ALICE_PIN" -O
ch_expect_fails "alice's PIN without her name is not the default user's"

echo "== alice makes RSA, EC and AES keys"
alice --keypairgen --key-type rsa:2048 --id 01 --label rsa-key --usage-sign --usage-decrypt
ch_expect_ok "RSA-2048 key pair (id 01)"
alice --keypairgen --key-type EC:prime256v1 --id 02 --label ec-key --usage-sign
ch_expect_ok "EC P-256 key pair (id 02)"
alice --keygen --key-type AES:32 --id 03 --label aes-key --usage-decrypt
ch_expect_ok "AES-256 key (id 03)"
alice -O
ch_expect_lines "alice sees two private keys" '^Private Key Object' 2
ch_expect_lines "... two public keys" '^Public Key Object' 2
ch_expect_lines "... one secret key" '^Secret Key Object; AES length 32' 1

echo "== reading public keys"
ch_p11 --token-label clients --read-object --type pubkey --id 01 -o "$D/rsa.pub.der"
ch_expect_ok "--read-object of the RSA public key succeeds (no login needed)"
ch_run openssl pkey -pubin -inform DER -in "$D/rsa.pub.der" -out "$D/rsa.pub.pem"
ch_expect_ok "openssl reads it as a public key"
ch_run openssl pkey -pubin -in "$D/rsa.pub.pem" -noout -text
ch_expect_text "... a 2048-bit RSA key" 'Public-Key: (2048 bit)'

printf 'ship 12 crates to dock 7\n' >"$D/msg.txt"
alice --sign --mechanism SHA256-RSA-PKCS --id 01 -i "$D/msg.txt" -o "$D/rsa.sig"
ch_expect_ok "alice signs with SHA256-RSA-PKCS"
ch_run openssl dgst -sha256 -verify "$D/rsa.pub.pem" -signature "$D/rsa.sig" "$D/msg.txt"
ch_expect_text "openssl verifies it with the public key read from the token" 'Verified OK'

alice --list-objects --type pubkey --id 02
ec_point=$(sed -n 's/^  EC_POINT: *//p' <<<"$CH_OUT" | head -n 1)
ch_expect_eq "the EC public key's CKA_EC_POINT is a DER OCTET STRING of an uncompressed point" \
	044104 "${ec_point:0:6}"

echo "== encryption to the token, decryption by it"
ch_run openssl pkeyutl -encrypt -pubin -inkey "$D/rsa.pub.pem" -pkeyopt rsa_padding_mode:oaep \
	-pkeyopt "rsa_oaep_md:$OAEP_MD" -pkeyopt "rsa_mgf1_md:$OAEP_MD" -in "$D/msg.txt" \
	-out "$D/msg.oaep"
ch_expect_ok "openssl encrypts to the public key with OAEP-$OAEP_MD"
alice --decrypt --mechanism RSA-PKCS-OAEP --hash-algorithm "$OAEP_HASH" --mgf "$OAEP_MGF" --id 01 \
	-i "$D/msg.oaep" -o "$D/msg.dec"
ch_expect_ok "alice decrypts it in the token"
ch_expect_same_file "... to the message" "$D/msg.txt" "$D/msg.dec"

echo "== a certificate beside its key pair"
ch_run openssl req -x509 -newkey rsa:2048 -nodes -keyout "$D/ca.key" -subj /CN=clients-ca \
	-days 2 -out "$D/ca.pem"
ch_expect_ok "openssl makes a CA"
# A certificate for the token's RSA key as a CA issues it: OpenSSL 3.0's x509 has no -new, so
# from a throw-away request with the token's public key forced in.
ch_run openssl req -new -newkey rsa:2048 -nodes -keyout "$D/tmp.key" -subj /CN=rsa-key.clients \
	-out "$D/tmp.csr"
ch_expect_ok "openssl makes a request to carry the subject"
ch_run openssl x509 -req -in "$D/tmp.csr" -force_pubkey "$D/rsa.pub.pem" -CA "$D/ca.pem" \
	-CAkey "$D/ca.key" -days 2 -outform DER -out "$D/rsa.cert.der"
ch_expect_ok "openssl issues a certificate for the token's RSA key"
alice --write-object "$D/rsa.cert.der" --type cert --id 01 --label rsa-key
ch_expect_ok "--write-object of the certificate with the key pair's CKA_ID succeeds"
ch_p11 --token-label clients -O --type cert
ch_expect_text "the certificate is public: listed without login" 'subject:    DN: CN=rsa-key.clients'
ch_expect_text "... with the key pair's ID" 'ID:         01'
ch_p11 --token-label clients --read-object --type cert --id 01 -o "$D/rsa.cert.out"
ch_expect_same_file "the certificate reads back byte for byte" "$D/rsa.cert.der" "$D/rsa.cert.out"
ch_run openssl x509 -inform DER -in "$D/rsa.cert.out" -noout -pubkey
ch_run cmp -s <(printf '%s\n' "$CH_OUT") "$D/rsa.pub.pem"
ch_expect_ok "the certificate holds the token's public key"

echo "== pkcs11-tool --test with RSA, EC and AES keys present"
alice --test --allow-sw
if [[ $CH_FWD == 1 ]]; then
	ch_skip "--test succeeds and finds no errors" \
		"forwarded: it fails against SoftHSM itself, at OAEP with SHA-256"
	ch_expect_eq "... and it stops where SoftHSM stops: OAEP refused with CKR_ARGUMENTS_BAD" \
		CKR_ARGUMENTS_BAD "$(ch_rv_in_output)"
else
	ch_expect_ok "--test succeeds"
fi
ch_expect_text "its RSA signature mechanisms pass" 'SHA256-RSA-PKCS: OK'
ch_expect_text "its RSA decryption runs" '    RSA-PKCS-OAEP: '
if [[ $CH_FWD == 0 ]]; then
	ch_expect_no_text "no ERR line" 'ERR'
	ch_expect_text "it finds no errors" 'No errors'
fi

echo "== --test-fork"
fork_mech=ECDSA-SHA256 fork_in=$D/msg.txt
if [[ $CH_FWD == 1 ]] && ! ch_hsm_has_mech ECDSA-SHA256; then
	fork_mech=ECDSA fork_in=$D/msg.sha256
	openssl dgst -sha256 -binary "$D/msg.txt" >"$fork_in"
fi
alice --test-fork --sign --mechanism "$fork_mech" --id 02 -i "$fork_in" -o "$D/ec.sig" \
	-f openssl
ch_expect_ok "--test-fork, then signing in the parent, succeeds"
ch_expect_text "the child called C_Initialize" 'Calling C_Initialize in forked child process'
ch_expect_no_text "... without an error" 'error: PKCS11 function C_Initialize'
ch_unhex "3059301306072a8648ce3d020106082a8648ce3d030107034200${ec_point:4}" "$D/ec.pub.der"
ch_run openssl dgst -sha256 -verify "$D/ec.pub.der" -keyform DER -signature "$D/ec.sig" \
	"$D/msg.txt"
ch_expect_text "openssl verifies the parent's signature made after the fork" 'Verified OK'

echo "== --test-threads beside a logged-in --test"
# Forwarded, the main thread signs instead of running --test, which fails against SoftHSM itself
# (and then pkcs11-tool does not wait for its threads).
main_op=(--test --allow-sw)
[[ $CH_FWD == 1 ]] && main_op=(--sign -m SHA256-RSA-PKCS --id 01 -i "$D/msg.txt" -o "$D/thr.sig")
alice --test-threads ILGISLT0 --test-threads INSLT0GI --test-threads ILSLT0SLT0 \
	--test-threads INGISLT0 "${main_op[@]}"
ch_expect_ok "--test-threads with ${main_op[0]} succeeds"
# The threads print unsynchronised beside the main thread: one line may hold several threads'
# text, so these are counted as matches, not lines, and not anchored at either end of a line.
ch_expect_matches "four threads ran" 'Test thread [0-3] started with options:' 4
ch_expect_matches "two initialised with CKF_OS_LOCKING_OK" 'C_Initialize CKF_OS_LOCKING_OK' 2
ch_expect_matches "two with NULL" 'Test thread [0-3] C_Initialize\(NULL\)' 2
ch_expect_matches "C_Initialize answered OK once, ALREADY_INITIALIZED otherwise (of five calls)" \
	'C_Initialize(\(NULL\))? +(rv:|returned )CKR_(OK|CRYPTOKI_ALREADY_INITIALIZED)' 5
ch_expect_matches "... and OK exactly once" \
	'C_Initialize(\(NULL\))? +(rv:|returned )CKR_OK([^_]|$)' 1
ch_expect_matches "every thread read the token" \
	'C_GetTokenInfo from slot_index 0 using show_token' 5
ch_expect_text "every thread ended well" 'test_threads all threads have ended with CKR_OK'
if [[ $CH_FWD == 1 ]]; then
	ch_skip "the token was shown to the threads" "forwarded: slot index 0 is the free slot"
	ch_run openssl dgst -sha256 -verify "$D/rsa.pub.pem" -signature "$D/thr.sig" "$D/msg.txt"
	ch_expect_text "openssl verifies the main thread's signature" 'Verified OK'
else
	ch_expect_matches "the token was shown to the threads (5 times)" 'token label +: clients' 5
	ch_expect_text "the main thread's signatures pass" 'SHA256-RSA-PKCS: OK'
	ch_expect_text "the main thread finds no errors" 'No errors'
fi

echo "== deleting"
alice --delete-object --type cert --id 01
ch_expect_ok "--delete-object cert"
alice --delete-object --type privkey --id 01
ch_expect_ok "--delete-object privkey"
alice --delete-object --type pubkey --id 01
ch_expect_ok "--delete-object pubkey"
alice --delete-object --type secrkey --id 03
ch_expect_ok "--delete-object secrkey"
alice -O
ch_expect_no_text "no certificate is left" 'Certificate Object'
ch_expect_no_text "no RSA key is left" 'RSA'
ch_expect_no_text "no AES key is left" 'AES'
ch_expect_lines "the EC pair is still there (private)" '^Private Key Object; EC' 1
ch_expect_lines "... and public" '^Public Key Object; EC' 1
rm -f "$D/gone.der"
ch_p11 --token-label clients --read-object --type pubkey --id 01 -o "$D/gone.der"
ch_expect_fails "the deleted public key cannot be read"

ch_finish
