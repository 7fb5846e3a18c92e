#!/usr/bin/env bash
#
# test_key_lifecycle.sh: key families and versions through the admin tool and a stock
# pkcs11-tool (issue 8, points 1-3 and their bad inputs).
#
# On a fresh store: an operator makes an AES key with pkcs11-tool; `cipherhub key rotate` makes
# version 2; pkcs11-tool then finds exactly one key for encryption (the primary), encrypts with
# it by label, and cannot encrypt with version 1, which still decrypts what it encrypted before
# the rotation.  `key versions` (text and --json), `key min-version`, `key disable`/`enable`,
# `key destroy` and `rotate --due` (a family past its period is rotated once, even by two tools
# started together; an EC key pair past its period gets a new version of both halves, which
# sign and verify by label) are checked, and every bad input (missing family, missing version,
# minimum above the primary, destroying the primary, `rotate` without --due, `so` managing
# keys) exits non-zero with a message and leaves every object row of the store as it was.
# `key max-encryptions` bounds a family's encryptions: pkcs11-tool encryptions are counted
# (decryptions not), `rotate --due` rotates it once the primary reached the bound (once, even by
# two tools started together), and the new version carries the bound and counts from 0.
#
# Needs: pkcs11-tool, the built tool, sqlite3 (store snapshots), jq or python3.
set -Eeuo pipefail

# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ch_setup

D=$CH_TMP
SO_PIN=so-secret-4711
OPS_PIN=ops-pin-2468
IV=000102030405060708090a0b0c0d0e0f
ch_tool_setup
if ! command -v sqlite3 >/dev/null; then
	ch_note "sqlite3 is not installed: store snapshots not checked"
fi

# ops ARGS...: the tool acting as the operator "ops".
ops()
{
	"$run_tool" env CIPHERHUB_PIN="$OPS_PIN" "$TOOL" --module "$CH_TEST_MODULE" --as ops "$@"
}

# p11 ARGS...: pkcs11-tool logged in as "ops".
p11()
{
	ch_p11 --token-label keys --login --pin "ops:$OPS_PIN" "$@"
}

echo "== setup"
ch_p11 --slot 1 --init-token --label keys --so-pin "$SO_PIN"
ch_expect_ok "pkcs11-tool --init-token creates 'keys'"
"$run_tool" env CIPHERHUB_PIN="$SO_PIN" CIPHERHUB_NEW_PIN="$OPS_PIN" "$TOOL" \
	--module "$CH_TEST_MODULE" participant add ops --roles operator,user
ch_expect_ok "participant add ops (operator, user)"
p11 --keygen --key-type AES:32 --label payments-kek --id 01 --usage-decrypt
ch_expect_ok "ops makes the AES key payments-kek with pkcs11-tool"
head -c 48 /dev/urandom >"$D/plain.bin"
p11 --encrypt -m AES-CBC-PAD --label payments-kek --iv "$IV" -i "$D/plain.bin" -o "$D/v1.ct"
ch_expect_ok "pkcs11-tool encrypts under the plain key (version 1 to be)"

echo "== key versions, key rotate"
ops key versions payments-kek
ch_expect_ok "key versions of a plain key"
ch_expect_text "... shows it as a plain key" 'plain key'
ops key rotate payments-kek
ch_expect_ok "key rotate payments-kek"
ch_expect_text "... says version 2 is the primary" "version 2 is the primary, version 1 decrypts only"
ops key versions payments-kek --json
ch_expect_ok "key versions --json"
ch_expect_eq "... two versions" "1 2" "$(ch_field version | tr '\n' ' ' | sed 's/ $//')"
ch_expect_eq "... states" "decrypt-only active" "$(ch_field state | tr '\n' ' ' | sed 's/ $//')"
ch_expect_eq "... primary" "false true" "$(ch_field primary | tr '\n' ' ' | sed 's/ $//')"

echo "== a stock pkcs11-tool sees only the primary for encryption"
p11 --list-objects --type secrkey
ch_expect_ok "pkcs11-tool --list-objects"
ch_expect_lines "... two keys labelled payments-kek" 'label: +payments-kek' 2
ch_expect_lines "... exactly one of them may encrypt" 'Usage: +encrypt' 1
p11 --encrypt -m AES-CBC-PAD --label payments-kek --iv "$IV" -i "$D/plain.bin" -o "$D/v2.ct"
ch_expect_ok "pkcs11-tool encrypts by label after the rotation"
p11 --decrypt -m AES-CBC-PAD --label payments-kek --iv "$IV" -i "$D/v2.ct" -o "$D/v2.pt"
ch_expect_ok "... and decrypts by label with the key it found first (the primary)"
ch_expect_same_file "... to the plaintext" "$D/plain.bin" "$D/v2.pt"
ops key versions payments-kek --json
v1_id=$(sqlite3 "$CIPHERHUB_STORE" 'SELECT 1' >/dev/null 2>&1 && true)
p11 --list-objects --type secrkey
# pkcs11-tool prints "ID: <hex>" for each key; version 2's ID is 12 bytes ending 00000002.
ids=$(grep -E '^ +ID: +[0-9a-f]+' <<<"$CH_OUT" | awk '{print $2}' || true)
v2_id=$(grep -E '^[0-9a-f]{16}00000002$' <<<"$ids" | head -n 1 || true)
ch_expect_eq "version 2 has a family ID ending in its number" 24 "${#v2_id}"
v1_id=$(grep -v "^$v2_id$" <<<"$ids" | head -n 1 || true)
if [[ -n $v1_id ]]; then
	p11 --encrypt -m AES-CBC-PAD --id "$v1_id" --iv "$IV" -i "$D/plain.bin" -o "$D/bad.ct"
	ch_expect_fails "pkcs11-tool cannot encrypt with version 1 (by its ID)"
	p11 --decrypt -m AES-CBC-PAD --id "$v1_id" --iv "$IV" -i "$D/v1.ct" -o "$D/v1.pt"
	ch_expect_ok "... but version 1 decrypts what it encrypted before the rotation"
	ch_expect_same_file "... to the plaintext" "$D/plain.bin" "$D/v1.pt"
else
	ch_note "pkcs11-tool printed no CKA_ID for version 1: by-ID checks skipped"
fi

echo "== grants on a family"
"$run_tool" env CIPHERHUB_PIN="$SO_PIN" CIPHERHUB_NEW_PIN=app-pin-1357 "$TOOL" \
	--module "$CH_TEST_MODULE" participant add app --roles user
ch_expect_ok "participant add app (user)"
ops grant payments-kek app --ops encrypt,decrypt
ch_expect_ok "ops grants app the family payments-kek"
if [[ -n $v1_id ]]; then
	ch_p11 --token-label keys --login --pin "app:app-pin-1357" --decrypt -m AES-CBC-PAD \
		--id "$v1_id" --iv "$IV" -i "$D/v1.ct" -o "$D/app.pt"
	ch_expect_ok "... and app decrypts version 1's old ciphertext with it"
	ch_expect_same_file "... to the plaintext" "$D/plain.bin" "$D/app.pt"
fi
ch_p11 --token-label keys --login --pin "app:app-pin-1357" --encrypt -m AES-CBC-PAD \
	--label payments-kek --iv "$IV" -i "$D/plain.bin" -o "$D/app.ct"
ch_expect_ok "... and encrypts under the primary by label"

echo "== retiring"
ops key min-version payments-kek 2
ch_expect_ok "key min-version payments-kek 2"
if [[ -n $v1_id ]]; then
	p11 --decrypt -m AES-CBC-PAD --id "$v1_id" --iv "$IV" -i "$D/v1.ct" -o "$D/v1b.pt"
	ch_expect_fails "version 1 no longer decrypts"
fi
ops key min-version payments-kek 1
ch_expect_ok "key min-version payments-kek 1 (lowered again)"
ops key disable payments-kek 1
ch_expect_ok "key disable payments-kek 1"
ops key versions payments-kek --json
ch_expect_eq "... version 1 is disabled" "disabled active" \
	"$(ch_field state | tr '\n' ' ' | sed 's/ $//')"
ops key enable payments-kek 1
ch_expect_ok "key enable payments-kek 1"
ops key versions payments-kek --json
ch_expect_eq "... version 1 decrypts again" "decrypt-only active" \
	"$(ch_field state | tr '\n' ' ' | sed 's/ $//')"
ops key destroy payments-kek 1
ch_expect_ok "key destroy payments-kek 1"
ops key versions payments-kek --json
ch_expect_eq "... version 1 is destroyed, its metadata kept" "destroyed active" \
	"$(ch_field state | tr '\n' ' ' | sed 's/ $//')"

echo "== bad input changes nothing"
before=$(ch_store_snapshot)
ops key rotate no-such-family
ch_expect_rc "rotating a missing family exits 1" 1
ch_expect_text "... saying so" "no key family 'no-such-family'"
ops key disable payments-kek 7
ch_expect_rc "disabling a version that does not exist exits 1" 1
ch_expect_text "... saying so" "'payments-kek' has no version 7"
ops key min-version payments-kek 5
ch_expect_rc "a minimum above the primary exits 4" 4
ch_expect_text "... saying so, with the spec code" \
	"version 5 is above the primary of 'payments-kek'"
ch_expect_text "... CKR_ARGUMENTS_BAD" "CKR_ARGUMENTS_BAD"
ops key destroy payments-kek 2
ch_expect_rc "destroying the primary exits 4" 4
ch_expect_text "... saying to rotate first" "cannot be destroyed: rotate first"
ch_expect_text "... CKR_ACTION_PROHIBITED" "CKR_ACTION_PROHIBITED"
ops key enable payments-kek 1
ch_expect_rc "enabling a destroyed version exits 4" 4
ops key disable payments-kek zero
ch_expect_rc "a version that is not a number exits 1" 1
ops rotate
ch_expect_rc "rotate without --due exits 1" 1
"$run_tool" env CIPHERHUB_PIN="$SO_PIN" "$TOOL" --module "$CH_TEST_MODULE" key rotate payments-kek
ch_expect_rc "so cannot manage keys (1)" 1
ch_expect_eq "the store's objects did not move" "$before" "$(ch_store_snapshot)"

echo "== rotate --due"
p11 --keygen --key-type AES:16 --label hourly --usage-decrypt
ch_expect_ok "ops makes the key 'hourly'"
ops rotate --due
ch_expect_ok "rotate --due with no period set"
ch_expect_text "... rotates nothing" "0 families rotated"
ops key period hourly 1
ch_expect_ok "key period hourly 1"
sleep 2
# Two tools started together, as two hosts' timers would be: one new version between them.
ops rotate --due >/dev/null &
ops rotate --due
wait
ops key versions hourly --json
ch_expect_eq "two racing rotate --due made exactly one new version" "1 2" \
	"$(ch_field version | tr '\n' ' ' | sed 's/ $//')"
ch_expect_eq "... which carries the period" "1 1" \
	"$(ch_field rotation_period | tr '\n' ' ' | sed 's/ $//')"
ops key versions payments-kek --json
ch_expect_eq "... and payments-kek (no period) was left alone" "1 2" \
	"$(ch_field version | tr '\n' ' ' | sed 's/ $//')"
ops key period hourly 0
ch_expect_ok "key period hourly 0 (no more rotations)"

echo "== rotate --due rotates a key pair through its private half"
p11 --keypairgen --key-type EC:prime256v1 --label daily-sig --id 02 --usage-sign
ch_expect_ok "ops makes the EC key pair 'daily-sig'"
ops key period daily-sig 1
ch_expect_ok "key period daily-sig 1"
sleep 2
ops rotate --due
ch_expect_ok "rotate --due with a key pair past its period"
ch_expect_text "... rotates it" "rotated 'daily-sig': version 2 is the primary"
ch_expect_text "... and nothing else" "1 family rotated"
ops key versions daily-sig --json
ch_expect_eq "... the private half has versions 1 and 2" "1 2" \
	"$(ch_field version | tr '\n' ' ' | sed 's/ $//')"
ch_expect_eq "... version 2 is the primary" "false true" \
	"$(ch_field primary | tr '\n' ' ' | sed 's/ $//')"
p11 --list-objects --type pubkey
ch_expect_lines "... and the public half has two versions" 'label: +daily-sig' 2
p11 --list-objects --type privkey
ch_expect_lines "... exactly one private key labelled daily-sig may sign" 'Usage: +sign' 1
head -c 32 /dev/urandom >"$D/digest.bin"
p11 --sign -m ECDSA --label daily-sig -i "$D/digest.bin" -o "$D/daily.sig"
ch_expect_ok "pkcs11-tool signs by label with the new private key"
p11 --verify -m ECDSA --label daily-sig -i "$D/digest.bin" --signature-file "$D/daily.sig"
ch_expect_text "... and the new public key verifies it" 'Signature is valid'

ops key period daily-sig 0
ch_expect_ok "key period daily-sig 0 (no more rotations)"

echo "== rotate --due by number of encryptions"
# (pkcs11-tool picks a secret key for --encrypt by --id, not by --label.)
p11 --keygen --key-type AES:32 --label gcm-kek --id 0c --usage-decrypt
ch_expect_ok "ops makes the key 'gcm-kek'"
ops key max-encryptions gcm-kek 3
ch_expect_ok "key max-encryptions gcm-kek 3"
ch_expect_text "... says so" "due for rotation after 3 encryptions"
before=$(ch_store_snapshot)
ops key max-encryptions gcm-kek -1
ch_expect_rc "a bound that is not a number exits 1" 1
ops key max-encryptions no-such-family 3
ch_expect_rc "a bound on a missing family exits 1" 1
"$run_tool" env CIPHERHUB_PIN="$SO_PIN" "$TOOL" --module "$CH_TEST_MODULE" \
	key max-encryptions gcm-kek 5
ch_expect_rc "so cannot set a bound (1)" 1
ch_expect_eq "... and the store's objects did not move" "$before" "$(ch_store_snapshot)"
for i in 1 2; do
	p11 --encrypt -m AES-CBC-PAD --id 0c --iv "$IV" -i "$D/plain.bin" -o "$D/g$i.ct"
	ch_expect_ok "pkcs11-tool encryption $i under gcm-kek"
done
p11 --decrypt -m AES-CBC-PAD --id 0c --iv "$IV" -i "$D/g1.ct" -o "$D/g1.pt"
ch_expect_ok "... and a decryption (not counted)"
ops key versions gcm-kek --json
ch_expect_eq "... two encryptions counted, bound 3" "2 3" \
	"$(ch_field encryptions) $(ch_field max_encryptions)"
ops rotate --due
ch_expect_text "rotate --due below the bound rotates nothing" "0 families rotated"
p11 --encrypt -m AES-CBC-PAD --id 0c --iv "$IV" -i "$D/plain.bin" -o "$D/g3.ct"
ch_expect_ok "pkcs11-tool encryption 3 reaches the bound"
ops key versions gcm-kek
ch_expect_text "... key versions shows it" "3 of 3 encryptions made with version 1"
# Two tools started together, as two hosts' timers would be: one new version between them.
ops rotate --due >/dev/null &
ops rotate --due
wait
ops key versions gcm-kek --json
ch_expect_eq "two racing rotate --due made exactly one new version" "1 2" \
	"$(ch_field version | tr '\n' ' ' | sed 's/ $//')"
ch_expect_eq "... which carries the bound and counts from 0" "3 3 0" \
	"$(ch_field max_encryptions | tr '\n' ' ')$(ch_field encryptions | tail -n 1)"
ops rotate --due
ch_expect_text "... and the next rotate --due leaves it alone" "0 families rotated"
ops key max-encryptions gcm-kek 0
ch_expect_ok "key max-encryptions gcm-kek 0 (no bound)"
ch_expect_text "... says so" "no bound of encryptions"
ch_finish
