#!/usr/bin/env bash
#
# test_backup.sh: backup and restore through the admin tool (issue 8, points 7 and 8).
# `cipherhub backup > FILE` writes a registration to one encrypted file; the store is lost;
# `cipherhub restore < FILE` with the backup's SO PIN brings it into a new store, where
# pkcs11-tool signs with the restored key (openssl verifies under the public key taken before
# the backup), the old signature verifies, and the audit log verifies and says backup.restore.
# A key family of three versions (version 1 with a ciphertext from before the rotations,
# version 2 disabled, version 3 the primary with a bound of encryptions) comes back whole:
# `key versions` lists the same versions, states and counts, version 1 still decrypts its old
# ciphertext, and `key rotate` makes version 4.
# A tampered or truncated file, a wrong PIN, and a second restore of the same registration
# are refused with a clear message, and nothing is restored.
set -Eeuo pipefail

# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ch_setup

D=$CH_TMP
SO_PIN=so-pin-bk-1357
USER_PIN=user-pin-bk-2468
ch_tool_setup

# as_so ARGS...: the tool acting as "so".
as_so()
{
	"$run_tool" env CIPHERHUB_PIN="$SO_PIN" "$TOOL" --module "$CH_TEST_MODULE" "$@"
}

# backup FILE: `cipherhub backup` as "so", standard output into FILE.
backup()
{
	# shellcheck disable=SC2016 # expanded by the inner bash
	"$run_tool" env CIPHERHUB_PIN="$SO_PIN" bash -c '"${@:2}" >"$1"' backup "$1" \
		"$TOOL" --module "$CH_TEST_MODULE" backup
}

# restore FILE PIN: `cipherhub restore` with FILE on standard input, the PIN on --pin-fd 3.
restore()
{
	# shellcheck disable=SC2016 # expanded by the inner bash
	"$run_tool" bash -c '"${@:3}" <"$1" 3<<<"$2"' restore "$1" "$2" \
		"$TOOL" --module "$CH_TEST_MODULE" --pin-fd 3 restore
}

user()
{
	ch_p11 --token-label bk --login --pin "$USER_PIN" "$@"
}

# keys ARGS...: the tool acting as the default user (an operator).
keys()
{
	"$run_tool" env CIPHERHUB_PIN="$USER_PIN" "$TOOL" --module "$CH_TEST_MODULE" --as default "$@"
}

# versions: "VERSION:STATE:ENCRYPTIONS ..." of the family fam, from `key versions --json`.
versions()
{
	keys key versions fam --json
	python3 -c '
import json, sys
print(" ".join("%s:%s:%s" % (v["version"], v["state"], v["encryptions"])
               for v in map(json.loads, filter(str.strip, sys.stdin))))' <<<"$CH_OUT"
}

# no_registration STEP: the store has no registration labelled bk.
no_registration()
{
	ch_p11 -L
	ch_expect_no_text "$1" "token label        : bk"
}

echo "== a registration with an EC key, a signature, the public key"
ch_p11 --init-token --slot 1 --label bk --so-pin "$SO_PIN"
ch_expect_ok "--init-token"
ch_p11 --token-label bk --login --login-type so --so-pin "$SO_PIN" --init-pin --pin "$USER_PIN"
ch_expect_ok "--init-pin"
user --keypairgen --key-type EC:prime256v1 --id 01 --label sig --usage-sign
ch_expect_ok "an EC key pair"
head -c 500 /dev/urandom >"$D/msg.bin"
user --sign -m ECDSA-SHA256 --id 01 -i "$D/msg.bin" -o "$D/old.sig"
ch_expect_ok "a signature before the backup"
ch_p11 --token-label bk --list-objects --type pubkey
point=$(awk '/^  EC_POINT: / { print $2; exit }' <<<"$CH_OUT")
point=${point#04} # the OCTET STRING tag
point=${point:2}  # its length
ch_unhex "3059301306072a8648ce3d020106082a8648ce3d030107034200$point" "$D/pub.der"
ch_run openssl pkey -pubin -inform DER -in "$D/pub.der" -noout
ch_expect_ok "the public key, kept outside the token"

echo "== a key family of three versions"
IV=000102030405060708090a0b0c0d0e0f
head -c 48 /dev/urandom >"$D/plain.bin"
user --keygen --key-type AES:32 --label fam --id 0a --usage-decrypt
ch_expect_ok "an AES key 'fam'"
user --encrypt -m AES-CBC-PAD --id 0a --iv "$IV" -i "$D/plain.bin" -o "$D/v1.ct"
ch_expect_ok "... which encrypts before any rotation"
keys key max-encryptions fam 1000
ch_expect_ok "key max-encryptions fam 1000"
keys key rotate fam
ch_expect_ok "key rotate fam (version 2)"
keys key rotate fam
ch_expect_ok "key rotate fam (version 3)"
keys key disable fam 2
ch_expect_ok "key disable fam 2"
fam_before=$(versions)
ch_expect_eq "... versions, states and counts" \
	"1:decrypt-only:1 2:disabled:0 3:active:0" "$fam_before"

echo "== backup"
backup "$D/bk.chbk"
ch_expect_ok "cipherhub backup"
ch_expect_text "... saying so" "backup of 'bk' written"
ch_expect_eq "... a file in the backup format" "CHBK" "$(head -c 4 "$D/bk.chbk")"
ch_expect_eq "... whose body is encrypted (not even the public point shows)" 0 "$(grep -c "$point" <(xxd -p -c 100000 "$D/bk.chbk") || true)"

if command -v script >/dev/null; then
	# shellcheck disable=SC2016 # expanded by the inner bash
	"$run_tool" env CIPHERHUB_PIN="$SO_PIN" BK_TOOL="$TOOL" BK_MODULE="$CH_TEST_MODULE" \
		script -qec '"$BK_TOOL" --module "$BK_MODULE" backup' /dev/null
	ch_expect_fails "a backup is not written to a terminal"
	ch_expect_text "... saying so" "redirect standard output to a file"
fi

echo "== the store is lost: a new one"
rm -f "$D"/store.db*
export CIPHERHUB_STORE=$D/new.db
no_registration "the new store has no registration"

echo "== refused: tampered, truncated, wrong PIN"
cp "$D/bk.chbk" "$D/tampered"
size=$(stat -c %s "$D/bk.chbk")
printf '\x5a' | dd of="$D/tampered" bs=1 seek=$((size - 30)) conv=notrunc status=none
restore "$D/tampered" "$SO_PIN"
ch_expect_fails "a tampered backup is refused"
ch_expect_text "... saying so" "tampered with or damaged; nothing was restored"
no_registration "... and nothing was restored"
head -c $((size - 100)) "$D/bk.chbk" >"$D/truncated"
restore "$D/truncated" "$SO_PIN"
ch_expect_fails "a truncated backup is refused"
ch_expect_text "... saying so" "the backup is truncated"
no_registration "... and nothing was restored"
restore "$D/bk.chbk" "wrong-pin-0000"
ch_expect_eq "a wrong PIN is refused (exit 5)" 5 "$CH_RC"
ch_expect_text "... saying so" "not the SO PIN"
no_registration "... and nothing was restored"

echo "== restore"
restore "$D/bk.chbk" "$SO_PIN"
ch_expect_ok "cipherhub restore"
ch_expect_text "... naming the registration and its slot" "restored 'bk' into slot 1"
ch_p11 -L
ch_expect_text "pkcs11-tool lists it" "token label        : bk"
user --sign -m ECDSA-SHA256 --id 01 -i "$D/msg.bin" -o "$D/new.sig" --signature-format openssl
ch_expect_ok "pkcs11-tool signs with the restored key"
ch_run openssl dgst -sha256 -verify "$D/pub.der" -keyform DER -signature "$D/new.sig" \
	"$D/msg.bin"
ch_expect_text "... and openssl verifies it under the old public key" "Verified OK"
user --verify -m ECDSA-SHA256 --id 01 -i "$D/msg.bin" --signature-file "$D/old.sig"
ch_expect_text "the signature from before the backup verifies" "Signature is valid"
ch_expect_eq "the key family comes back with its versions, states and counts" \
	"$fam_before" "$(versions)"
user --decrypt -m AES-CBC-PAD --id 0a --iv "$IV" -i "$D/v1.ct" -o "$D/v1.pt"
ch_expect_ok "... version 1 decrypts its ciphertext from before the rotations"
ch_expect_same_file "... to the plaintext" "$D/plain.bin" "$D/v1.pt"
keys key rotate fam
ch_expect_ok "... and key rotate makes the next version"
ch_expect_text "... version 4" "version 4 is the primary, version 3 decrypts only"
as_so audit verify
ch_expect_ok "the audit log verifies"
as_so audit show
ch_expect_lines "... and records the restore" 'backup\.restore +CKR_OK' 1
ch_expect_lines "... after the records from before" 'token\.init +CKR_OK' 1

echo "== a second restore"
restore "$D/bk.chbk" "$SO_PIN"
ch_expect_eq "the same registration again is refused (exit 4)" 4 "$CH_RC"
ch_expect_text "... saying so" "already has that registration"
as_so registrations
ch_expect_lines "... and the store still has one registration" "'?bk'?" 1

ch_finish
