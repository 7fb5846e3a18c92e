#!/usr/bin/env bash
#
# test_pkcs11_tool_rsa.sh: the RSA family as OpenSC's pkcs11-tool and openssl see it.
#
# An RSA key made by openssl is imported with pkcs11-tool --write-object (its CRT components
# included), and the two implementations check each other: PKCS#1 v1.5 signatures must be the
# same bytes openssl makes, PSS signatures must verify in openssl, ciphertexts openssl makes with
# PKCS#1 v1.5 and OAEP must decrypt in the module.  Then key pairs generated in the module
# (2048 bits; 1024 refused), pkcs11-tool's own --test, the mechanism list, and a key wrapped and
# unwrapped with CKM_RSA_PKCS.  pkcs11-tool's texts are those of OpenSC 0.23 (Debian 12).
#
# With CH_T_FORWARD=1 (ctest: integration_test_pkcs11_tool_rsa_forwarded) the registration "rsa"
# is a forwarded slot backed by a private SoftHSMv2 token.  A forwarded slot's mechanisms are the
# backend's, so there: the mechanism list is checked against SoftHSM's own (not the software
# token's key sizes and SHA-3 set); the 1024-bit refusal, which is the software token's minimum,
# is not checked (SoftHSM allows 512 bits and up); OAEP uses SHA-1, the only OAEP hash SoftHSM 2.6
# takes; the generated key signs with SHA512-RSA-PKCS when SoftHSM has no SHA3-256-RSA-PKCS; and
# pkcs11-tool --test is not required to find no errors, since against SoftHSM itself it fails in
# its OAEP part (it asks for SHA-256).
set -Eeuo pipefail

# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ch_setup
ch_forward_mode rsa
OAEP_MD=sha256 OAEP_HASH=SHA256 GEN_MECH=SHA3-256-RSA-PKCS
if [[ $CH_FWD == 1 ]]; then
	OAEP_MD=sha1 OAEP_HASH=SHA-1
	ch_hsm_has_mech SHA3-256-RSA-PKCS || GEN_MECH=SHA512-RSA-PKCS
fi

SO_PIN=87654321
USER_PIN=12345678
D=$CH_TMP

user()
{
	ch_p11 --token-label rsa --login --pin "$USER_PIN" "$@"
}

echo "== token"
ch_p11 --slot "$CH_REG_SLOT" --init-token --label rsa --so-pin "$SO_PIN"
ch_expect_ok "--init-token succeeds"
ch_p11 --token-label rsa --login --login-type so --so-pin "$SO_PIN" --init-pin --pin "$USER_PIN"
ch_expect_ok "--init-pin succeeds"

echo "== mechanisms"
ch_p11 --token-label rsa -M
if [[ $CH_FWD == 1 ]]; then
	ch_expect_backend_mechs rsa hsm-rsa RSA-PKCS-KEY-PAIR-GEN RSA-PKCS RSA-PKCS-OAEP \
		SHA256-RSA-PKCS SHA384-RSA-PKCS-PSS
else
	ch_expect_text "key pair generation, 2048 to 8192 bits" \
		'RSA-PKCS-KEY-PAIR-GEN, keySize={2048,8192}, generate_key_pair'
	ch_expect_text "CKM_RSA_PKCS signs, encrypts and wraps" \
		'RSA-PKCS, keySize={2048,8192}, encrypt, decrypt, sign, verify, wrap, unwrap'
	ch_expect_text "OAEP encrypts and wraps" 'RSA-PKCS-OAEP, keySize={2048,8192}, encrypt, decrypt, wrap, unwrap'
	ch_expect_text "PSS with SHA3-512 is listed" 'SHA3-512-RSA-PKCS-PSS, keySize={2048,8192}, sign, verify'
	ch_expect_lines "18 hash-then-sign mechanisms" '^  SHA[0-9-]+-RSA-PKCS(-PSS)?, keySize=\{2048,8192\}, sign, verify$' 18
fi

echo "== an openssl key, imported"
ch_run openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$D/key.pem"
ch_expect_ok "openssl generates a 2048-bit key"
ch_run openssl pkey -in "$D/key.pem" -outform DER -out "$D/key.der"
ch_expect_ok "openssl writes its PKCS#8"
ch_run openssl pkey -in "$D/key.pem" -pubout -outform DER -out "$D/pub.der"
ch_expect_ok "openssl writes its SubjectPublicKeyInfo"
ch_run openssl pkey -in "$D/key.pem" -pubout -out "$D/pub.pem"
ch_expect_ok "... and as PEM"
user --write-object "$D/key.der" --type privkey --id 11 --label imported --usage-sign --usage-decrypt
ch_expect_ok "--write-object of the private key succeeds"
ch_expect_text "pkcs11-tool reports an RSA private key" 'Private Key Object; RSA'
user --write-object "$D/pub.der" --type pubkey --id 11 --label imported --usage-sign --usage-decrypt
ch_expect_ok "--write-object of the public key succeeds"
ch_expect_text "pkcs11-tool reports a 2048-bit public key" 'Public Key Object; RSA 2048 bits'

printf 'a message for RSA\n' >"$D/msg.txt"

user --sign --mechanism SHA256-RSA-PKCS --id 11 -i "$D/msg.txt" -o "$D/sig.p11"
ch_expect_ok "SHA256-RSA-PKCS sign succeeds"
ch_expect_size "the signature is 256 bytes" "$D/sig.p11" 256
ch_run openssl dgst -sha256 -sign "$D/key.pem" -out "$D/sig.ossl" "$D/msg.txt"
ch_expect_ok "openssl signs the same message"
ch_expect_same_file "PKCS#1 v1.5 signatures are the same bytes as openssl's" "$D/sig.ossl" \
	"$D/sig.p11"
user --verify --mechanism SHA256-RSA-PKCS --id 11 -i "$D/msg.txt" --signature-file "$D/sig.ossl"
ch_expect_ok "the module verifies openssl's signature"
ch_expect_text "... and says so" 'Signature is valid'
printf 'another message\n' >"$D/forged.txt"
# (pkcs11-tool 0.23 reports a bad signature in its output and exits 0.)
user --verify --mechanism SHA256-RSA-PKCS --id 11 -i "$D/forged.txt" --signature-file "$D/sig.ossl"
ch_expect_text "the signature does not verify another message" 'Invalid signature'
ch_expect_no_text "... and is not called valid" 'Signature is valid'

user --sign --mechanism SHA384-RSA-PKCS-PSS --id 11 -i "$D/msg.txt" -o "$D/pss.p11"
ch_expect_ok "SHA384-RSA-PKCS-PSS sign succeeds"
ch_run openssl dgst -sha384 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:48 \
	-verify "$D/pub.pem" -signature "$D/pss.p11" "$D/msg.txt"
ch_expect_ok "openssl verifies the PSS signature (salt 48, MGF1-SHA384)"
ch_expect_text "... and says so" 'Verified OK'

ch_run openssl pkeyutl -encrypt -pubin -inkey "$D/pub.pem" -in "$D/msg.txt" -out "$D/ct.pkcs1"
ch_expect_ok "openssl encrypts with PKCS#1 v1.5"
user --decrypt --mechanism RSA-PKCS --id 11 -i "$D/ct.pkcs1" -o "$D/pt.pkcs1"
ch_expect_ok "RSA-PKCS decrypt succeeds"
ch_expect_same_file "it gives the message back" "$D/msg.txt" "$D/pt.pkcs1"

ch_run openssl pkeyutl -encrypt -pubin -inkey "$D/pub.pem" -in "$D/msg.txt" -out "$D/ct.oaep" \
	-pkeyopt rsa_padding_mode:oaep -pkeyopt "rsa_oaep_md:$OAEP_MD" -pkeyopt rsa_mgf1_md:sha1
ch_expect_ok "openssl encrypts with OAEP ($OAEP_MD, MGF1-SHA1)"
user --decrypt --mechanism RSA-PKCS-OAEP --hash-algorithm "$OAEP_HASH" --mgf MGF1-SHA1 --id 11 \
	-i "$D/ct.oaep" -o "$D/pt.oaep"
ch_expect_ok "RSA-PKCS-OAEP decrypt succeeds"
ch_expect_same_file "it gives the message back" "$D/msg.txt" "$D/pt.oaep"
# (After a failed C_Decrypt pkcs11-tool 0.23 retries with C_DecryptUpdate, which single-part
# OAEP refuses, so the last error it prints is CKR_FUNCTION_NOT_SUPPORTED.)
user --decrypt --mechanism RSA-PKCS-OAEP --hash-algorithm "$OAEP_HASH" --mgf MGF1-SHA256 --id 11 \
	-i "$D/ct.oaep" -o "$D/pt.bad"
ch_expect_fails "decrypting with another MGF fails"
if [[ ! -s $D/pt.bad ]]; then
	ch_pass "... and writes no plaintext"
else
	ch_fail "... and writes no plaintext" "an empty or missing $D/pt.bad" "$(ch_hex "$D/pt.bad")"
fi

echo "== generated keys"
if [[ $CH_FWD == 1 ]]; then
	ch_skip "--keypairgen rsa:1024 fails" "forwarded: SoftHSM's key sizes start at 512 bits"
else
	user --keypairgen --key-type rsa:1024 --label small --id 20
	ch_expect_fails "--keypairgen rsa:1024 fails"
	ch_expect_text "... with CKR_KEY_SIZE_RANGE" 'CKR_KEY_SIZE_RANGE'
fi
user --keypairgen --key-type rsa:2048 --label gen --id 21 --usage-sign --usage-decrypt
ch_expect_ok "--keypairgen rsa:2048 succeeds"
ch_expect_text "it made a 2048-bit public key" 'Public Key Object; RSA 2048 bits'
user --sign --mechanism "$GEN_MECH" --id 21 -i "$D/msg.txt" -o "$D/gen.sig"
ch_expect_ok "$GEN_MECH sign with the generated key succeeds"
user --verify --mechanism "$GEN_MECH" --id 21 -i "$D/msg.txt" --signature-file "$D/gen.sig"
ch_expect_text "the module verifies it" 'Signature is valid'

user --test --allow-sw
if [[ $CH_FWD == 1 ]]; then
	ch_skip "pkcs11-tool --test succeeds and finds no errors" \
		"forwarded: it fails against SoftHSM itself, at OAEP with SHA-256"
	ch_expect_eq "... and it stops where SoftHSM stops: OAEP refused with CKR_ARGUMENTS_BAD" \
		CKR_ARGUMENTS_BAD "$(ch_rv_in_output)"
else
	ch_expect_ok "pkcs11-tool --test succeeds"
fi
ch_expect_text "its RSA signature tests pass" 'testing signature mechanisms:'
ch_expect_text "its decryption tests run" 'Decryption (currently only for RSA)'
[[ $CH_FWD == 1 ]] || ch_expect_text "it finds no errors" 'No errors'

echo "== wrapping"
user --keypairgen --key-type rsa:3072 --label kek --id 30 --usage-wrap
ch_expect_ok "--keypairgen rsa:3072 for wrapping succeeds"
user --keygen --key-type AES:16 --label payload --id 31 --extractable
ch_expect_ok "an extractable AES-128 key"
user --wrap --mechanism RSA-PKCS --id 30 --application-id 31 -o "$D/wrapped"
ch_expect_ok "--wrap with RSA-PKCS succeeds"
ch_expect_size "the wrapped key is 384 bytes" "$D/wrapped" 384
user --unwrap --mechanism RSA-PKCS --id 30 -i "$D/wrapped" --key-type AES: --application-id 32 \
	--application-label back
ch_expect_ok "--unwrap with RSA-PKCS succeeds"
user -O --id 32
ch_expect_text "the unwrapped key is a 16-byte AES key" 'Secret Key Object; AES length 16'

ch_finish
