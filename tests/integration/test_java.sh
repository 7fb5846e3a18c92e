#!/usr/bin/env bash
#
# test_java.sh: Java (OpenJDK 17, Debian's default-jdk-headless) through its SunPKCS11 provider.
# default-jdk-headless pulls in openjdk-17-jdk-headless and -jre-headless: about 115 MB to
# download and 265 MB installed, some 25 s to unpack (tests/run installs it once).
#
# An RSA 2048 and an ECDSA P-256 key pair are generated on the token with pkcs11-tool; openssl
# issues a certificate for each token key's public half (from a test CA, -force_pubkey), and
# pkcs11-tool writes it to the token with the key's CKA_ID, which is how SunPKCS11 pairs a private
# key with its certificate into a key entry.  Then, with a SunPKCS11 configuration file (name,
# library, slot: the token's slot ID, stable in Cipher Hub):
#  - `keytool -list -keystore NONE -storetype PKCS11` lists both key entries, each with the
#    SHA-256 fingerprint openssl computes for its certificate; a wrong PIN fails to load;
#  - `jarsigner` signs a jar made with `jar`, with the RSA key (SHA256withRSA) and with the EC key
#    (SHA256withECDSA); `jarsigner -verify -strict` against a trust store holding the test CA and
#    the signer passes, `openssl cms -verify` checks the signature block on its own, and a jar
#    changed after signing fails verification;
#  - a participant (alice, operator and user, added with the admin tool) gives `alice:PIN` as the
#    store password: her key is listed and signs; the default participant may not sign with it.
#
# The JVM runs with the sanitizer runtimes preloaded (lib.sh's ch_run_mod) and the module built
# with them: HotSpot installs its own signal handlers after ASan's and this works.
#
# Known limit of OpenJDK 17's SunPKCS11, not of the module: it passes a PIN to C_Login as the
# low byte of each Java char (Latin-1), not as UTF-8 as PKCS#11 says, so a PIN with non-ASCII
# characters set by a UTF-8 client (pkcs11-tool, the admin tool) never matches from Java
# (pkcs11-spy shows "p\xe4ssw\xf6rd" for "pässwörd"; SoftHSMv2 behaves the same).  The test's
# participant PIN is therefore ASCII, with spaces and longer than 32 bytes.
set -Eeuo pipefail

# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ch_setup

SO_PIN=87654321
USER_PIN=12345678
ALICE_PIN='a long passphrase with spaces, beyond 32 bytes'
D=$CH_TMP
MOD=$CH_TEST_MODULE
ADMIN_TOOL=${CH_TEST_BIN:-$(dirname "$MOD")}/cipherhub
# Java tools keep nothing in the real home directory.
JOPT=(-J-Duser.home="$D")
P11KS=(-keystore NONE -storetype PKCS11 -providerClass sun.security.pkcs11.SunPKCS11
	-providerArg "$D/cipherhub.cfg")
TRUST=(-keystore "$D/trust.p12" -storetype PKCS12 -storepass trust-pass)

user()
{
	ch_p11 --token-label java --login --pin "$USER_PIN" "$@"
}

# token_pub KEYID PEMFILE: the token's public key KEYID as openssl's PEM.  RSA keys through
# pkcs11-tool --read-object; for EC keys that reads freed memory inside pkcs11-tool 0.23 (see
# test_pkcs11_tool_ec.sh), so the SubjectPublicKeyInfo of a P-256 key is built from the
# CKA_EC_POINT that --list-objects prints.
token_pub()
{
	local id=$1 out=$2 point
	ch_p11 --token-label java --list-objects --type pubkey
	point=$(awk -v id="$id" '/^Public Key Object/ { pt = "" } /^  EC_POINT: / { pt = $2 }
		/^  ID: / && $2 == id { print pt; exit }' <<<"$CH_OUT")
	if [[ -z $point ]]; then
		ch_p11 --token-label java --read-object --type pubkey --id "$id" -o "$D/pub-$id.der"
		ch_expect_ok "pkcs11-tool reads RSA public key $id"
	else
		ch_expect_eq "EC public key $id: a 65-byte point in an OCTET STRING" 044104 "${point:0:6}"
		ch_unhex "3059301306072a8648ce3d020106082a8648ce3d030107034200${point:4}" "$D/pub-$id.der"
	fi
	ch_run openssl pkey -pubin -inform DER -in "$D/pub-$id.der" -out "$out"
	ch_expect_ok "... which openssl takes"
}

# token_cert KEYID SUBJECT FILE PIN: openssl issues a certificate (DER) for the token's public
# key KEYID from the test CA, and pkcs11-tool writes it to the token with the same CKA_ID.
token_cert()
{
	local id=$1 subject=$2 out=$3 pin=$4
	token_pub "$id" "$D/pub-$id.pem"
	ch_run openssl req -new -key "$D/ca.key" -subj "$subject" -out "$D/req-$id.csr"
	ch_expect_ok "a request for '$subject' (signed by the CA key; its public key is replaced)"
	ch_run openssl x509 -req -in "$D/req-$id.csr" -force_pubkey "$D/pub-$id.pem" \
		-CA "$D/ca.pem" -CAkey "$D/ca.key" -set_serial "0x10$id" -days 365 \
		-extfile "$D/leaf.ext" -outform DER -out "$out"
	ch_expect_ok "the CA issues the certificate for token key $id"
	ch_p11 --token-label java --login --pin "$pin" --write-object "$out" --type cert \
		--id "$id" --label "$(basename "$out" .der)"
	ch_expect_ok "pkcs11-tool writes the certificate with CKA_ID $id"
}

# fingerprint DERFILE: the certificate's SHA-256 fingerprint as keytool prints it.
fingerprint()
{
	openssl x509 -inform DER -in "$1" -noout -fingerprint -sha256 | sed 's/^.*=//'
}

# sign_and_verify ALIAS SIGALG PIN: jarsigner signs a copy of app.jar with the token key ALIAS,
# then the signature is verified by jarsigner (strict, trusting the CA) and by openssl.
sign_and_verify()
{
	local alias=$1 sigalg=$2 pin=$3 jar=$D/signed-$1.jar block
	cp "$D/app.jar" "$jar"
	ch_run_mod jarsigner "${JOPT[@]}" "${P11KS[@]}" -storepass "$pin" -sigalg "$sigalg" \
		"$jar" "$alias"
	ch_expect_ok "jarsigner signs with $alias ($sigalg)"
	ch_expect_text "... and says so" 'jar signed.'
	ch_run jarsigner "${JOPT[@]}" -verify -strict "${TRUST[@]}" "$jar"
	ch_expect_ok "jarsigner -verify -strict passes ($alias)"
	ch_expect_text "... 'jar verified.'" 'jar verified.'
	ch_expect_no_text "... without signer errors" 'signer errors'
	rm -rf "$D/x-$alias"
	mkdir "$D/x-$alias"
	(cd "$D/x-$alias" && jar xf "$jar")
	block=$(find "$D/x-$alias/META-INF" -name "${alias^^}.*" ! -name '*.SF' | head -n 1)
	ch_run openssl cms -verify -binary -inform DER -in "${block:-missing}" \
		-content "$D/x-$alias/META-INF/${alias^^}.SF" -CAfile "$D/ca.pem" -purpose any \
		-out /dev/null
	ch_expect_text "openssl verifies the signature block (${block##*/})" 'Verification successful'
}

echo "== a registration with an RSA and an EC key pair"
ch_p11 --init-token --label java --so-pin "$SO_PIN"
ch_expect_ok "--init-token succeeds"
ch_p11 --token-label java --login --login-type so --so-pin "$SO_PIN" --init-pin --pin "$USER_PIN"
ch_expect_ok "--init-pin succeeds"
user --keypairgen --key-type rsa:2048 --id 01 --label rsakey --usage-sign
ch_expect_ok "an RSA 2048 key pair is generated"
user --keypairgen --key-type EC:prime256v1 --id 02 --label eckey --usage-sign
ch_expect_ok "an ECDSA P-256 key pair is generated"

echo "== certificates for the token's keys"
ch_run openssl req -new -x509 -newkey rsa:2048 -nodes -keyout "$D/ca.key" -subj /CN=Test-CA \
	-days 400 -out "$D/ca.pem"
ch_expect_ok "openssl makes a test CA"
printf 'basicConstraints = CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = codeSigning\n' \
	>"$D/leaf.ext"
token_cert 01 "/CN=Java RSA signer" "$D/rsakey.der" "$USER_PIN"
token_cert 02 "/CN=Java EC signer" "$D/eckey.der" "$USER_PIN"

echo "== the SunPKCS11 configuration"
ch_p11 -L
slot=$(awk '/^Slot [0-9]+ \(0x[0-9a-f]+\)/ { id = $3 } /token label *: java$/ { print id; exit }' \
	<<<"$CH_OUT" | tr -d '():')
ch_expect_eq "pkcs11-tool -L names the token's slot ID" "0x" "${slot:0:2}"
printf 'name = CipherHub\nlibrary = %s\nslot = %d\n' "$MOD" "$slot" >"$D/cipherhub.cfg"

echo "== keytool -list"
ch_run_mod keytool "${JOPT[@]}" -list "${P11KS[@]}" -storepass "$USER_PIN"
ch_expect_ok "keytool -list loads the token as a PKCS11 key store"
ch_expect_text "... through the SunPKCS11 provider named in the configuration" \
	'Keystore provider: SunPKCS11-CipherHub'
ch_expect_text "... two entries" 'Your keystore contains 2 entries'
ch_expect_text "... the RSA key paired with its certificate" 'rsakey, PrivateKeyEntry,'
ch_expect_text "... with openssl's fingerprint of that certificate" \
	"Certificate fingerprint (SHA-256): $(fingerprint "$D/rsakey.der")"
ch_expect_text "... the EC key paired with its certificate" 'eckey, PrivateKeyEntry,'
ch_expect_text "... with openssl's fingerprint of that certificate" \
	"Certificate fingerprint (SHA-256): $(fingerprint "$D/eckey.der")"
ch_run_mod keytool "${JOPT[@]}" -list "${P11KS[@]}" -storepass 99999999
ch_expect_fails "keytool -list with a wrong PIN fails"
ch_expect_text "... to load the key store" 'load failed'

echo "== jarsigner"
mkdir "$D/content"
printf 'Hello from a jar signed by a Cipher Hub key.\n' >"$D/content/hello.txt"
ch_run jar cf "$D/app.jar" -C "$D/content" hello.txt
ch_expect_ok "jar makes a jar"
ch_run keytool "${JOPT[@]}" -importcert -noprompt -alias test-ca -file "$D/ca.pem" "${TRUST[@]}"
ch_expect_ok "a trust store with the test CA"
for alias in rsakey eckey; do
	ch_run keytool "${JOPT[@]}" -importcert -noprompt -alias "$alias" -file "$D/$alias.der" \
		"${TRUST[@]}"
	ch_expect_ok "... and the signer $alias"
done
sign_and_verify rsakey SHA256withRSA "$USER_PIN"
sign_and_verify eckey SHA256withECDSA "$USER_PIN"

cp "$D/signed-rsakey.jar" "$D/tampered.jar"
printf 'Changed after signing.\n' >"$D/content/hello.txt"
ch_run jar uf "$D/tampered.jar" -C "$D/content" hello.txt
ch_expect_ok "a signed jar's entry is changed"
ch_run jarsigner "${JOPT[@]}" -verify -strict "${TRUST[@]}" "$D/tampered.jar"
ch_expect_fails "jarsigner -verify rejects it"
ch_expect_text "... naming the digest error" 'digest error for hello.txt'

echo "== a participant: alice:PIN as the store password"
CIPHERHUB_PIN=$SO_PIN CIPHERHUB_NEW_PIN=$ALICE_PIN ch_run_mod "$ADMIN_TOOL" \
	--module "$MOD" --token java participant add alice --roles operator,user
ch_expect_ok "the admin tool adds alice"
ch_p11 --token-label java --login --pin "alice:$ALICE_PIN" --keypairgen --key-type rsa:2048 \
	--id 03 --label alicekey --usage-sign
ch_expect_ok "alice generates her own RSA key"
token_cert 03 "/CN=Alice" "$D/alicekey.der" "alice:$ALICE_PIN"
ch_run keytool "${JOPT[@]}" -importcert -noprompt -alias alicekey -file "$D/alicekey.der" \
	"${TRUST[@]}"
ch_expect_ok "... her certificate in the trust store"
ch_run_mod keytool "${JOPT[@]}" -list "${P11KS[@]}" -storepass "alice:$ALICE_PIN"
ch_expect_ok "keytool -list with alice:PIN"
ch_expect_text "... lists alice's key entry" 'alicekey, PrivateKeyEntry,'
ch_expect_text "... with its certificate's fingerprint" \
	"Certificate fingerprint (SHA-256): $(fingerprint "$D/alicekey.der")"
sign_and_verify alicekey SHA256withRSA "alice:$ALICE_PIN"
cp "$D/app.jar" "$D/refused.jar"
ch_run_mod jarsigner "${JOPT[@]}" "${P11KS[@]}" -storepass "$USER_PIN" -debug "$D/refused.jar" \
	alicekey
ch_expect_fails "the default participant may not sign with alice's key"
ch_expect_text "... the token refuses the key to it (jarsigner -debug shows the cause)" \
	'PKCS11Exception: CKR_KEY_FUNCTION_NOT_PERMITTED'
ch_finish
