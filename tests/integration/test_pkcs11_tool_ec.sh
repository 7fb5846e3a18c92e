#!/usr/bin/env bash
#
# test_pkcs11_tool_ec.sh: the elliptic-curve family as OpenSC's pkcs11-tool (0.23, Debian 12)
# drives it, checked by openssl.
#
# Key pairs on every prime curve (P-256, P-384, P-521, secp256k1), Ed25519 and X25519 are
# generated through pkcs11-tool; ECDSA signatures (raw r||s and the DER form openssl reads) are
# verified by the token and, where pkcs11-tool can export the public key, by openssl; a changed
# message fails; Ed25519 signatures verify in openssl; ECDH1-DERIVE gives the secret openssl
# computes from the other side.  pkcs11-tool's derive template asks for a key that both wraps
# and decrypts, which the key-role separation refuses: the test shows that refusal and then
# names the registration in [policy] legacy_key_roles, as a legacy client would need.
#
# Known limits of pkcs11-tool 0.23, not of the module (SoftHSMv2 shows the same): its
# --read-object of an EC public key fails for P-384 and P-521 ("cannot create EVP_PKEY") and
# reads freed memory inside OpenSSL for the others (AddressSanitizer reports it), so the test
# builds each SubjectPublicKeyInfo itself from the CKA_EC_POINT that --list-objects prints; it
# writes Ed25519 public keys as PEM; and --derive parses only prime-curve peer keys.
#
# With CH_T_FORWARD=1 (ctest: integration_test_pkcs11_tool_ec_forwarded) the registration "ec" is
# a forwarded slot backed by a private SoftHSMv2 token.  A forwarded slot's mechanisms are the
# backend's, and SoftHSM 2.6 has no hash-then-ECDSA mechanisms and no X25519: there, each
# ECDSA-SHAnnn signature is made with CKM_ECDSA over the hash openssl computes (the same
# signature, which openssl then checks the same way), X25519 is left out when SoftHSM lacks it,
# and the mechanism list must name only mechanisms SoftHSM lists.  The key-role refusal and
# [policy] legacy_key_roles are Cipher Hub's and are checked the same on both.
set -Eeuo pipefail

# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ch_setup
ch_forward_mode ec

SO_PIN=87654321
USER_PIN=12345678
D=$CH_TMP

user()
{
	ch_p11 --token-label ec --login --pin "$USER_PIN" "$@"
}

# ec_spki ID SPKI_PREFIX_HEX FILE: the public key ID as DER SubjectPublicKeyInfo: the prefix
# (SEQUENCE, algorithm, BIT STRING header) and the point out of the CKA_EC_POINT OCTET STRING.
ec_spki()
{
	local point
	# pkcs11-tool 0.23 lists every public key whatever --id says: take the one with ID.
	ch_p11 --token-label ec --list-objects --type pubkey
	point=$(awk -v id="$1" '
		/^Public Key Object/ { pt = "" }
		/^  EC_POINT: / { pt = $2 }
		/^  ID: / && $2 == id { print pt; exit }
	' <<<"$CH_OUT")
	point=${point#04}                      # the OCTET STRING tag
	[[ $point == 81* ]] && point=${point:2} # a long-form length
	point=${point:2}                       # the length itself
	ch_unhex "$2$point" "$3"
}

# SubjectPublicKeyInfo prefixes: id-ecPublicKey with the curve's OID, then the BIT STRING header.
declare -A SPKI=(
	[prime256v1]=3059301306072a8648ce3d020106082a8648ce3d030107034200
	[secp384r1]=3076301006072a8648ce3d020106052b81040022036200
	[secp521r1]=30819b301006072a8648ce3d020106052b8104002303818600
	[secp256k1]=3056301006072a8648ce3d020106052b8104000a034200
)

echo "== a registration"
ch_p11 --slot "$CH_REG_SLOT" --init-token --label ec --so-pin "$SO_PIN"
ch_expect_ok "--init-token succeeds"
ch_p11 --token-label ec --login --login-type so --so-pin "$SO_PIN" --init-pin --pin "$USER_PIN"
ch_expect_ok "--init-pin succeeds"
head -c 1000 /dev/urandom >"$D/msg.bin"
cp "$D/msg.bin" "$D/other.bin"
printf 'x' >>"$D/other.bin"

echo "== ECDSA on every prime curve"
# curve, key id, hash
for spec in prime256v1:01:sha256 secp384r1:02:sha384 secp521r1:03:sha512 secp256k1:04:sha256; do
	IFS=: read -r curve id hash <<<"$spec"
	user --keypairgen --key-type "EC:$curve" --id "$id" --label "$curve" --usage-sign
	ch_expect_ok "$curve: key pair generation succeeds"
	mech=ECDSA-${hash^^} in=$D/msg.bin other=$D/other.bin
	if [[ $CH_FWD == 1 ]] && ! ch_hsm_has_mech "$mech"; then
		# SoftHSM has no ECDSA-SHAnnn: CKM_ECDSA over openssl's hash is the same signature.
		mech=ECDSA in=$D/msg.$hash other=$D/other.$hash
		openssl dgst "-$hash" -binary "$D/msg.bin" >"$in"
		openssl dgst "-$hash" -binary "$D/other.bin" >"$other"
	fi
	user --sign -m "$mech" --id "$id" -i "$in" -o "$D/$curve.sig"
	ch_expect_ok "$curve: $mech signs"
	user --verify -m "$mech" --id "$id" -i "$in" --signature-file "$D/$curve.sig"
	ch_expect_text "$curve: the token verifies its signature" 'Signature is valid'
	user --verify -m "$mech" --id "$id" -i "$other" --signature-file "$D/$curve.sig"
	ch_expect_no_text "$curve: ... but not over another message" 'Signature is valid'
	ec_spki "$id" "${SPKI[$curve]}" "$D/$curve.pub"
	ch_run openssl pkey -pubin -inform DER -in "$D/$curve.pub" -noout
	ch_expect_ok "$curve: the public key, as the token holds it, is one openssl takes"
	user --sign -m "$mech" --id "$id" -i "$in" -o "$D/$curve.der" \
		--signature-format openssl
	ch_expect_ok "$curve: $mech signs in openssl's DER format"
	ch_run openssl dgst "-$hash" -verify "$D/$curve.pub" -keyform DER \
		-signature "$D/$curve.der" "$D/msg.bin"
	ch_expect_text "$curve: openssl verifies the signature" 'Verified OK'
done

echo "== Ed25519"
user --keypairgen --key-type EC:edwards25519 --id 10 --label ed --usage-sign
ch_expect_ok "Ed25519 key pair generation succeeds"
user --sign -m EDDSA --id 10 -i "$D/msg.bin" -o "$D/ed.sig"
ch_expect_ok "EDDSA signs"
ch_expect_size "... a 64-byte signature" "$D/ed.sig" 64
ch_p11 --token-label ec --read-object --type pubkey --id 10 -o "$D/ed.pub"
ch_expect_ok "the Ed25519 public key is exported"
ch_run openssl pkeyutl -verify -pubin -inkey "$D/ed.pub" -rawin -in "$D/msg.bin" \
	-sigfile "$D/ed.sig"
ch_expect_text "openssl verifies the Ed25519 signature" 'Signature Verified Successfully'
ch_run openssl pkeyutl -verify -pubin -inkey "$D/ed.pub" -rawin -in "$D/other.bin" \
	-sigfile "$D/ed.sig"
ch_expect_fails "... and rejects it over another message"

echo "== X25519"
if [[ $CH_FWD == 1 ]] && ! ch_hsm_has_mech '(EC-MONTGOMERY-KEY-PAIR-GEN|mechtype-0x1056)'; then
	ch_skip "X25519 key pair generation" "forwarded: SoftHSM has no X25519"
else
	user --keypairgen --key-type EC:curve25519 --id 11 --label x --usage-derive
	ch_expect_ok "X25519 key pair generation succeeds"
	user --list-objects --type pubkey --id 11
	ch_expect_text "... listed as a Montgomery key" 'EC_MONTGOMERY'
fi

echo "== ECDH1-DERIVE against openssl"
user --keypairgen --key-type EC:prime256v1 --id 20 --label dh --usage-derive
ch_expect_ok "a P-256 key pair for derivation"
ch_run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/peer.pem"
ch_expect_ok "openssl makes the peer's key"
ch_run openssl pkey -in "$D/peer.pem" -pubout -outform DER -out "$D/peer.der"
ch_expect_ok "... and its public half"
user --derive -m ECDH1-DERIVE --id 20 -i "$D/peer.der" -o "$D/secret.bin"
ch_expect_fails "pkcs11-tool's derive template (wrap and decrypt at once) is refused"
ch_expect_text "... as an inconsistent template" 'CKR_TEMPLATE_INCONSISTENT'

printf '\n[policy]\nlegacy_key_roles = ec\n' >>"$CIPHERHUB_CONF"
user --derive -m ECDH1-DERIVE --id 20 -i "$D/peer.der" -o "$D/secret.bin"
ch_expect_ok "with the registration in [policy] legacy_key_roles, ECDH1-DERIVE succeeds"
ec_spki 20 "${SPKI[prime256v1]}" "$D/dh.pub"
ch_run openssl pkeyutl -derive -inkey "$D/peer.pem" -peerkey "$D/dh.pub" -peerform DER \
	-out "$D/secret.ossl"
ch_expect_ok "openssl derives from the other side"
ch_expect_same_file "both sides hold the same secret" "$D/secret.ossl" "$D/secret.bin"

echo "== the mechanism list"
if [[ $CH_FWD == 1 ]]; then
	ch_expect_backend_mechs ec hsm-ec ECDSA-KEY-PAIR-GEN ECDSA ECDH1-DERIVE EDDSA
	ch_finish
fi
ch_p11 --token-label ec -M
ch_expect_ok "--list-mechanisms succeeds"
ch_expect_lines "ECDSA-SHA384 signs and verifies" '^  ECDSA-SHA384(,.*)?, sign, verify' 1
ch_expect_lines "ECDH1-DERIVE derives" '^  ECDH1-DERIVE(,.*)?, derive' 1
ch_expect_lines "EDDSA signs and verifies" '^  EDDSA(,.*)?, sign, verify' 1
ch_finish
