#!/usr/bin/env bash
#
# test_participant_login.sh: named participants as a PKCS#11 2.40 client sees them, through
# pkcs11-tool's --pin 'name:pin' (issue 3, item 1).
#
# pkcs11-tool knows nothing of participants: it passes the PIN string to C_Login, and the module
# reads "name:pin" as a login of that participant.  There is no admin tool to rely on yet, so the
# participants are made by the unit test binary itself (test_participants --setup-for-shell DIR,
# which leaves a store with token "t", the default SO and user, alice with operator|user and carl
# with auditor only).  Then: alice generates a key and lists it, a wrong PIN or an unknown name is
# CKR_PIN_INCORRECT, the auditor may log in but not make keys nor see private ones, a participant
# whose roles do not fit the login type gets CKR_USER_TYPE_INVALID, and the default user's bare
# PIN still works beside them.
set -Eeuo pipefail

# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ch_setup

# The PINs test_participants --setup-for-shell uses (tests/unit/module.h, test_participants.c).
SO_PIN=so-pin-8172-kestrel
USER_PIN=user-pin-3945-heron
ALICE=alice:alice-pin-1
CARL=carl:carl-pin-22

setup_bin=${CH_TEST_BIN:-}/tests/test_participants
if [[ -z ${CH_TEST_BIN:-} || ! -x $setup_bin ]]; then
	ch_fail "the participant setup program exists" "an executable $setup_bin" \
		"CH_TEST_BIN='${CH_TEST_BIN:-}' (run the tests with ctest)"
	ch_finish
fi

p11()
{
	ch_p11 --token-label t "$@"
}

echo "== a store with participants alice and carl"
ch_run "$setup_bin" --setup-for-shell "$CH_TMP"
ch_expect_ok "test_participants --setup-for-shell made the store"
ch_expect_text "... with alice and carl" 'with alice and carl'

ch_p11 -L
ch_expect_ok "-L lists the store's slots"
ch_expect_text "token t is there" 'token label        : t'

echo "== alice logs in with name:pin"
p11 --login --pin "$ALICE" --keygen --key-type AES:32 --label alice-key --id 41 --private
ch_expect_ok "alice (operator|user) generates a private AES key"
ch_expect_text "it is a 256-bit AES key" 'Secret Key Object; AES length 32'
ch_expect_text "... labelled alice-key" 'label:      alice-key'

p11 --login --pin "$ALICE" -O
ch_expect_ok "alice lists objects"
ch_expect_text "alice sees her key" 'label:      alice-key'
alice_listing=$CH_OUT

p11 --login --pin "$ALICE" --generate-random 16 -o "$CH_TMP/rand.bin"
ch_expect_ok "alice draws random bytes"
ch_expect_size "... 16 of them" "$CH_TMP/rand.bin" 16

echo "== wrong PINs and unknown names"
p11 --login --pin 'alice:nope' -O
ch_expect_fails "alice with a wrong PIN is refused"
ch_expect_text "... with CKR_PIN_INCORRECT" 'CKR_PIN_INCORRECT'
ch_expect_no_text "... and lists nothing" 'alice-key'

p11 --login --pin 'mallory:alice-pin-1' -O
ch_expect_fails "an unknown participant is refused"
ch_expect_text "... with CKR_PIN_INCORRECT" 'CKR_PIN_INCORRECT'

p11 --login --pin 'carl:alice-pin-1' -O
ch_expect_fails "carl with alice's PIN is refused"
ch_expect_text "... with CKR_PIN_INCORRECT" 'CKR_PIN_INCORRECT'

p11 --login --pin 'alice-pin-1' -O
ch_expect_fails "alice's PIN without her name is a wrong default-user PIN"
ch_expect_text "... with CKR_PIN_INCORRECT" 'CKR_PIN_INCORRECT'

p11 --login --pin "$ALICE" -O
ch_expect_ok "after the refusals alice still logs in"
ch_expect_eq "... and sees the same objects" "$alice_listing" "$CH_OUT"

echo "== roles"
p11 --login --pin "$CARL" -O
ch_expect_ok "carl (auditor) logs in as a user"
ch_expect_no_text "carl does not see alice's private key" 'alice-key'

p11 -O
ch_expect_ok "-O without login succeeds"
ch_expect_no_text "without login alice's private key is hidden" 'alice-key'

p11 --login --pin "$CARL" --keygen --key-type AES:32 --label carl-key
ch_expect_fails "carl may not generate keys"
# OpenSC 0.23 has no name for CKR_ACTION_PROHIBITED (0x1b) and prints its number.
ch_expect_text "... CKR_ACTION_PROHIBITED" '(0x1b)'

# An SO login needs a read-write session (pkcs11-tool opens read-only ones unless told).
p11 --session-rw --login --login-type so --so-pin "$ALICE" -O
ch_expect_fails "alice (no admin role) may not log in as the SO"
ch_expect_text "... CKR_USER_TYPE_INVALID" 'CKR_USER_TYPE_INVALID'

p11 --session-rw --login --login-type so --so-pin "$SO_PIN" -O
ch_expect_ok "the SO's bare PIN still logs in"

echo "== the default user beside them"
p11 --login --pin "$USER_PIN" -O
ch_expect_ok "the default user's bare PIN logs in"
ch_expect_text "the default user (an operator) sees alice's key" 'label:      alice-key'

p11 --login --pin "default:$USER_PIN" -O
ch_expect_ok "default:PIN names the default user"

p11 --login --pin "$USER_PIN" --keygen --key-type AES:32 --label default-key
ch_expect_ok "the default user generates a key"

p11 --login --pin "$ALICE" -O
ch_expect_text "alice still sees her key" 'label:      alice-key'

echo "== alice changes her PIN the 2.40 way"
# pkcs11-tool logs in with --pin and passes the same string to C_SetPIN as the old PIN, so a
# participant who logs in as "alice:PIN" gives "alice:PIN" as the old PIN too.
p11 --login --pin "$ALICE" --change-pin --new-pin alice-pin-2
ch_expect_ok "--change-pin with --pin 'alice:PIN' succeeds"

p11 --login --pin 'alice:alice-pin-2' -O
ch_expect_ok "alice logs in with her new PIN"
ch_expect_text "... and sees her key" 'label:      alice-key'

p11 --login --pin "$ALICE" -O
ch_expect_fails "alice's old PIN no longer works"

p11 --login --pin "$USER_PIN" -O
ch_expect_ok "the default user's PIN is unchanged"
p11 --login --pin "$CARL" -O
ch_expect_ok "carl's PIN is unchanged"

ch_finish
