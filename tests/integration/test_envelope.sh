#!/usr/bin/env bash
#
# test_envelope.sh: versioned encryption, rewrap and envelope data keys through the admin tool
# (issue 8, points 4 and 5).
#
# On a fresh store, an operator makes an AES-256 key and a key-encryption key with pkcs11-tool.
# `cipherhub encrypt` writes a versioned ciphertext under version 1; after `key rotate` it still
# decrypts, `rewrap` moves it to version 2 (same plaintext), and `key min-version 2` makes the
# old ciphertext refused while the rewrapped one decrypts.  `datakey generate` wraps a fresh data
# key under the KEK; its plaintext is refused while the family's policy is off and, once `key
# datakey-plaintext KEK on`, written to a 0600 file; after a KEK rotation `datakey unwrap` gets
# the same bytes back.  Bad inputs (a changed ciphertext, --bytes 7, a missing family) exit
# non-zero with a message.
#
# Needs: pkcs11-tool (to make the keys), the built tool.
set -Eeuo pipefail

# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ch_setup

D=$CH_TMP
SO_PIN=so-secret-4711
OPS_PIN=ops-pin-2468
ch_tool_setup

# ops ARGS...: the tool acting as the operator (and user) "ops".
ops()
{
	"$run_tool" env CIPHERHUB_PIN="$OPS_PIN" "$TOOL" --module "$CH_TEST_MODULE" --as ops "$@"
}

# p11 ARGS...: pkcs11-tool logged in as "ops".
p11()
{
	ch_p11 --token-label keys --login --pin "ops:$OPS_PIN" "$@"
}

# version_of FILE: the key version a versioned ciphertext's header names.
version_of()
{
	od -An -tu1 -j12 -N4 "$1" | awk '{print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4}'
}

echo "== setup"
ch_p11 --slot 1 --init-token --label keys --so-pin "$SO_PIN"
ch_expect_ok "pkcs11-tool --init-token creates 'keys'"
"$run_tool" env CIPHERHUB_PIN="$SO_PIN" CIPHERHUB_NEW_PIN="$OPS_PIN" "$TOOL" \
	--module "$CH_TEST_MODULE" participant add ops --roles operator,user
ch_expect_ok "participant add ops (operator, user)"
p11 --keygen --key-type AES:32 --label orders --usage-decrypt
ch_expect_ok "ops makes the AES-256 key 'orders'"
p11 --keygen --key-type AES:32 --label payments-kek --usage-wrap
ch_expect_ok "ops makes the key-encryption key 'payments-kek'"
head -c 100 /dev/urandom >"$D/plain.bin"

echo "== encrypt, rotate, decrypt, rewrap"
ops encrypt orders --in "$D/plain.bin" --out "$D/v1.ct"
ch_expect_ok "encrypt under the plain key"
ch_expect_size "... header, data and tag" "$D/v1.ct" 144
ch_expect_eq "... the header names version 1" 1 "$(version_of "$D/v1.ct")"
ops key rotate orders
ch_expect_ok "key rotate orders"
ops decrypt orders --in "$D/v1.ct" --out "$D/v1.pt"
ch_expect_ok "the version-1 ciphertext decrypts after the rotation"
ch_expect_same_file "... to the plaintext" "$D/plain.bin" "$D/v1.pt"
ops rewrap orders --in "$D/v1.ct" --out "$D/v2.ct"
ch_expect_ok "rewrap the version-1 ciphertext"
ch_expect_text "... says it is version 2's now" "version 2"
ch_expect_eq "... the header names version 2" 2 "$(version_of "$D/v2.ct")"
ops decrypt orders --in "$D/v2.ct" --out "$D/v2.pt"
ch_expect_ok "the rewrapped ciphertext decrypts"
ch_expect_same_file "... to the same plaintext" "$D/plain.bin" "$D/v2.pt"
ops key min-version orders 2
ch_expect_ok "key min-version orders 2"
ops decrypt orders --in "$D/v1.ct" --out "$D/no.pt"
ch_expect_fails "the version-1 ciphertext is refused now"
ch_expect_text "... saying the version may not decrypt" "may not decrypt any more"
ch_expect_text "... with the module's code" "CKR_CH_KEY_VERSION_UNUSABLE"
ops decrypt orders --in "$D/v2.ct" --out "$D/v2b.pt"
ch_expect_ok "... while the version-2 one decrypts"
cp "$D/v2.ct" "$D/bad.ct"
printf 'X' | dd of="$D/bad.ct" bs=1 seek=50 conv=notrunc status=none
ops decrypt orders --in "$D/bad.ct" --out "$D/bad.pt"
ch_expect_fails "a changed ciphertext is refused"
ch_expect_text "... as not a ciphertext of the family" "CKR_ENCRYPTED_DATA_INVALID"

echo "== data keys"
ops datakey generate payments-kek --out "$D/dk1.wrapped" --plaintext-out "$D/dk1.key"
ch_expect_fails "datakey generate --plaintext-out while the policy is off"
ch_expect_text "... says the family keeps data keys in" "keeps data keys in the token"
if [[ -e $D/dk1.key ]]; then
	ch_fail "... writes no plaintext file" "no $D/dk1.key" "it exists"
else
	ch_pass "... writes no plaintext file"
fi
ops datakey generate payments-kek --out "$D/dk0.wrapped"
ch_expect_ok "datakey generate without the plaintext"
ch_expect_size "... a 32-byte key, wrapped" "$D/dk0.wrapped" 76
ops datakey unwrap payments-kek --in "$D/dk0.wrapped" --out "$D/dk0.key"
ch_expect_fails "datakey unwrap while the policy is off"
ops key datakey-plaintext payments-kek on
ch_expect_ok "key datakey-plaintext payments-kek on"
ops datakey generate payments-kek --bytes 16 --out "$D/dk1.wrapped" --plaintext-out "$D/dk1.key"
ch_expect_ok "datakey generate --bytes 16 --plaintext-out"
ch_expect_size "... the plaintext key" "$D/dk1.key" 16
ch_expect_eq "... written 0600" 600 "$(stat -c %a "$D/dk1.key")"
ch_expect_size "... the wrapped key" "$D/dk1.wrapped" 60
ops key rotate payments-kek
ch_expect_ok "key rotate payments-kek"
ops datakey unwrap payments-kek --in "$D/dk1.wrapped" --out "$D/dk1.back"
ch_expect_ok "datakey unwrap after the KEK rotation"
ch_expect_same_file "... gives the data key back" "$D/dk1.key" "$D/dk1.back"
ops datakey generate payments-kek --out "$D/dk2.wrapped"
ch_expect_ok "a new data key after the rotation"
ch_expect_eq "... is wrapped under version 2" 2 "$(version_of "$D/dk2.wrapped")"

echo "== bad inputs"
ops datakey generate payments-kek --bytes 7 --out "$D/x.wrapped"
ch_expect_fails "datakey generate --bytes 7"
ch_expect_text "... says what a data key has" "16, 24 or 32 bytes"
ops datakey generate no-such-kek --out "$D/x.wrapped"
ch_expect_fails "datakey generate of a missing family"
ch_expect_text "... names it" "no-such-kek"
ops rewrap payments-kek --in "$D/v2.ct" --out "$D/x.ct"
ch_expect_fails "rewrap with another family"
ops encrypt orders --in "$D/plain.bin" --out "$D/x.ct" --bytes 16
ch_expect_fails "--bytes does not apply to encrypt"
ch_finish
