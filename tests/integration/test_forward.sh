#!/usr/bin/env bash
#
# test_forward.sh: registrations forwarded to an HSM (issue 7), with SoftHSMv2 as the HSM.
#
# One configuration holds four [forward:...] sections beside a software registration:
#   payments  (slot 65536) SoftHSM token hsm-payments, backend PIN from pin_file
#   broken    (slot 65537) a module path that does not exist
#   orders    (slot 65538) SoftHSM token hsm-orders, backend PIN from pin_env
#   lost      (slot 65539) SoftHSM, but a token URI that matches no token
# and the software registration "local" on slot 1.  The test checks: slot IDs, descriptions and
# token presence (C_GetSlotList(TRUE), C_GetTokenInfo and C_OpenSession on the absent ones are
# CKR_TOKEN_NOT_PRESENT, an error-level log line names the module path or the URI, every other
# slot works); C_InitToken on a forwarded slot (its label must be the section's name) and
# C_InitPIN, which leave the backend token alone; objects made directly in SoftHSM visible through
# the slot; participants, roles and grants enforced before a call reaches SoftHSM (an auditor
# cannot sign, the SO cannot use keys, bob cannot use alice's key until she grants it); keys
# generated through the slot live in SoftHSM, and a non-extractable one cannot be wrapped out
# (SoftHSM's own CKR_ code comes through); key-role separation on a forwarded template; the
# backend PIN in no output, log or store; the audit trail in Cipher Hub's store (show, verify);
# the admin tool's `registrations` view of kinds, backends and health (text and --json); a
# backend PIN from an inherited file descriptor (pin_fd).  test_forward_removed.sh covers the
# token directory removed while a client runs.
set -Eeuo pipefail

# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ch_setup
ch_softhsm_setup

D=$CH_TMP
SO_PIN=so-pin-fwd-4711
USER_PIN=user-pin-fwd-0815
ALICE_PIN=alice-pin-1234
BOB_PIN=bob-pin-5678
CARL_PIN=carl-pin-9012
FWD=$CH_FORWARD_SLOT0
unset CIPHERHUB_PIN CIPHERHUB_NEW_PIN CIPHERHUB_MODULE

# The admin tool (as test_admin_tool.sh finds it).
TOOL=${CH_TOOL:-}
[[ -z $TOOL && -n ${CH_TEST_BIN:-} ]] && TOOL=$CH_TEST_BIN/cipherhub
[[ -z $TOOL ]] && TOOL=$(dirname "$CH_TEST_MODULE")/cipherhub
CLIENT=${CH_TEST_BIN:-$(dirname "$CH_TEST_MODULE")}/tests/fwd_client
for prog in "$TOOL" "$CLIENT"; do
	if [[ ! -x $prog ]]; then
		ch_fail "the test programs are built" "an executable $prog" "none (run with ctest)"
		ch_finish
	fi
done
# The tool and fwd_client are built like the module: with the sanitizers they carry the runtime.
if readelf -d "$TOOL" 2>/dev/null | grep -q 'NEEDED.*libasan'; then
	run_built=ch_run
else
	run_built=ch_run_mod
fi
# SoftHSM, loaded into them, is not ours: its leaks are not looked for.
export LSAN_OPTIONS=detect_leaks=0

t()
{
	"$run_built" env ASAN_OPTIONS=detect_leaks=0 "$TOOL" --module "$CH_TEST_MODULE" "$@"
}
as()
{
	local name=$1 pin=$2
	shift 2
	"$run_built" env ASAN_OPTIONS=detect_leaks=0 CIPHERHUB_PIN="$pin" "$TOOL" \
		--module "$CH_TEST_MODULE" --token payments --as "$name" "$@"
}
add_participant()
{
	"$run_built" env ASAN_OPTIONS=detect_leaks=0 CIPHERHUB_PIN="$SO_PIN" CIPHERHUB_NEW_PIN="$3" \
		"$TOOL" --module "$CH_TEST_MODULE" --token payments participant add "$1" --roles "$2"
	ch_expect_ok "participant add $1 ($2) on the forwarded registration"
}
client()
{
	"$run_built" env ASAN_OPTIONS=detect_leaks=0 "$CLIENT" "$CH_TEST_MODULE" "$@"
}
# p ARGS...: pkcs11-tool on the forwarded registration payments; pu PIN ARGS...: logged in.
p()
{
	ch_p11 --slot "$FWD" "$@"
}
pu()
{
	local pin=$1
	shift
	ch_p11 --slot "$FWD" --login --pin "$pin" "$@"
}

# slot_block ID_HEX: the lines pkcs11-tool -L printed for slot ID_HEX (the last call's output).
slot_block()
{
	awk -v id="($1):" '/^Slot [0-9]+ / { on = ($3 == id) } on' <<<"$CH_OUT"
}
expect_block_text()
{
	if grep -qF -- "$3" <<<"$(slot_block "$2")"; then
		ch_pass "$1"
	else
		ch_fail "$1" "slot $2 showing '$3'" "$(slot_block "$2" | head -n 3 | tr '\n' '|')"
	fi
}

# expect_log_line STEP ERE: a line of the module log matches ERE (each process logs it once).
expect_log_line()
{
	CH_CMD="grep -E '$2' $D/module.log"
	CH_OUT=$(cat "$D/module.log" 2>/dev/null || true)
	if grep -qE -- "$2" <<<"$CH_OUT"; then
		ch_pass "$1"
	else
		ch_fail "$1" "a log line matching /$2/" "none"
	fi
}

echo "== SoftHSM: two backend tokens, one holding objects made without Cipher Hub"
ch_softhsm_token hsm-payments
ch_softhsm_token hsm-orders
printf 'made in the HSM\n' >"$D/hsm-note.txt"
ch_hsm --token-label hsm-payments --login --pin "$CH_HSM_PIN" --write-object "$D/hsm-note.txt" \
	--type data --label from-hsm
ch_expect_ok "a public data object written straight into SoftHSM"
ch_hsm --token-label hsm-payments --login --pin "$CH_HSM_PIN" --keypairgen \
	--key-type EC:prime256v1 --label hsm-made --id 77 --usage-sign
ch_expect_ok "an EC key pair generated straight in SoftHSM"

echo "== the configuration: four forwarded sections beside the software registrations"
ch_forward_add payments
ch_forward_add broken "module = $D/no-such-dir/libvendor-hsm.so" \
	"token = pkcs11:token=hsm-payments" "pin_file = $D/hsm-pin"
export CH_T_HSM_PIN=$CH_HSM_PIN
ch_forward_add orders "module = $CH_HSM_MODULE" "token = pkcs11:token=hsm-orders" \
	"pin_env = CH_T_HSM_PIN"
ch_forward_add lost "module = $CH_HSM_MODULE" "token = pkcs11:token=no-such-token" \
	"pin_file = $D/hsm-pin"

echo "== slots: IDs, descriptions, presence"
ch_p11 -L
ch_expect_ok "pkcs11-tool -L succeeds"
for id in 0x10000 0x10001 0x10002 0x10003; do
	ch_expect_lines "slot $id is listed" "^Slot [0-9]+ \\($id\\): " 1
done
ch_expect_lines "no other forwarded slot" '^Slot [0-9]+ \(0x1[0-9a-f]{4}\): ' 4
ch_expect_text "slot 1, the software one, is still there" 'Slot 0 (0x1):'
expect_block_text "0x10000 describes its backend" 0x10000 \
	"(0x10000): Cipher Hub forwarding to libsofthsm2.so"
expect_block_text "0x10001 names the missing module" 0x10001 \
	"(0x10001): Cipher Hub forwarding to libvendor-hsm.so"
expect_block_text "0x10002 describes its backend" 0x10002 \
	"(0x10002): Cipher Hub forwarding to libsofthsm2.so"
expect_block_text "payments' token is not initialised yet" 0x10000 'token state:   uninitialized'
expect_block_text "orders' token is not initialised yet" 0x10002 'token state:   uninitialized'
expect_block_text "the missing module's slot has no token" 0x10001 '(empty)'
expect_block_text "the unmatched URI's slot has no token" 0x10003 '(empty)'

client slots info 65537 open 65537 info 65539 open 65539 info 65536 info 1
ch_expect_ok "fwd_client runs"
ch_expect_lines "C_GetSlotList(TRUE) lists 1, 65536 and 65538 only" \
	'^slots: 1 65536 65538$' 1
ch_expect_text "C_GetTokenInfo on the missing module's slot: CKR_TOKEN_NOT_PRESENT" \
	'info 65537: CKR_TOKEN_NOT_PRESENT'
ch_expect_text "C_OpenSession on it: CKR_TOKEN_NOT_PRESENT" 'open 65537: CKR_TOKEN_NOT_PRESENT'
ch_expect_text "C_GetTokenInfo on the unmatched URI's slot: CKR_TOKEN_NOT_PRESENT" \
	'info 65539: CKR_TOKEN_NOT_PRESENT'
ch_expect_text "C_OpenSession on it: CKR_TOKEN_NOT_PRESENT" 'open 65539: CKR_TOKEN_NOT_PRESENT'
ch_expect_text "C_GetTokenInfo on the working forwarded slot: CKR_OK" 'info 65536: CKR_OK'
ch_expect_text "the software slot answers beside them" 'info 1: CKR_OK'
expect_log_line "an error-level log line names the missing module's path" \
	"^cipherhub\\[[0-9]+\\]: error: .*$D/no-such-dir/libvendor-hsm\\.so"
expect_log_line "an error-level log line names the URI that found no token" \
	'^cipherhub\[[0-9]+\]: error: .*pkcs11:token=no-such-token'

echo "== C_InitToken and C_InitPIN on a forwarded slot"
p --init-token --label paymentz --so-pin "$SO_PIN"
ch_expect_fails "--init-token with a label other than the section's name is refused"
ch_expect_text "... with CKR_ARGUMENTS_BAD" 'CKR_ARGUMENTS_BAD'
p --init-token --label payments --so-pin "$SO_PIN"
ch_expect_ok "--init-token --label payments creates the registration"
p --login --login-type so --so-pin "$SO_PIN" --init-pin --pin "$USER_PIN"
ch_expect_ok "--init-pin sets the default user's PIN"
ch_p11 --slot $((FWD + 2)) --init-token --label orders --so-pin "$SO_PIN"
ch_expect_ok "--init-token --label orders on slot 65538"
ch_p11 --slot $((FWD + 2)) --login --login-type so --so-pin "$SO_PIN" --init-pin \
	--pin "$USER_PIN"
ch_expect_ok "... and its --init-pin"
ch_p11 --slot 1 --init-token --label local --so-pin "$SO_PIN"
ch_expect_ok "a software registration 'local' on slot 1"
ch_p11 --token-label local --login --login-type so --so-pin "$SO_PIN" --init-pin --pin "$USER_PIN"
ch_expect_ok "... and its --init-pin"

ch_p11 -L
expect_block_text "slot 0x10000 now holds token payments" 0x10000 'token label        : payments'
expect_block_text "... of model 'forwarded'" 0x10000 'token model        : forwarded'
expect_block_text "... initialised" 0x10000 'token initialized'
expect_block_text "slot 0x10002 holds token orders" 0x10002 'token label        : orders'
expect_block_text "slot 0x1 holds the software registration local" 0x1 \
	'token label        : local'

ch_hsm -L
ch_expect_text "the backend token keeps its own label" 'token label        : hsm-payments'
ch_hsm --token-label hsm-payments --login --pin "$CH_HSM_PIN" -O
ch_expect_ok "the backend PIN still logs in to SoftHSM directly"
ch_expect_text "... and its objects are all there" "label:          'from-hsm'"

echo "== objects made in SoftHSM are visible through the forwarded slot"
p -O
ch_expect_ok "-O without login on the forwarded slot"
ch_expect_text "... shows the public data object made in SoftHSM" "label:          'from-hsm'"
ch_expect_no_text "... but not the private key" 'Private Key Object'
pu "$USER_PIN" -O
ch_expect_ok "-O logged in as the default user"
ch_expect_text "... shows SoftHSM's private key" 'label:      hsm-made'
pu "$USER_PIN" --read-object --type data --label from-hsm -o "$D/hsm-note.out"
ch_expect_same_file "SoftHSM's data object reads back byte for byte" "$D/hsm-note.txt" \
	"$D/hsm-note.out"
pu wrong-pin-0000 -O
ch_expect_fails "a wrong Cipher Hub PIN is refused"
ch_expect_text "... with CKR_PIN_INCORRECT" 'CKR_PIN_INCORRECT'
pu "$CH_HSM_PIN" -O
ch_expect_fails "the backend's PIN is not a Cipher Hub PIN"
ch_expect_text "... CKR_PIN_INCORRECT too" 'CKR_PIN_INCORRECT'

echo "== participants on the forwarded registration"
add_participant alice operator,user "$ALICE_PIN"
add_participant bob user "$BOB_PIN"
add_participant carl auditor "$CARL_PIN"
as so "$SO_PIN" participant list
ch_expect_ok "participant list on the forwarded registration"
ch_expect_lines "... alice, bob, carl, default and so" '^(alice|bob|carl|default|so) ' 5

echo "== a key generated through the slot lives in SoftHSM"
printf 'pay 100 to Alice\n' >"$D/msg.txt"
openssl dgst -sha256 -binary "$D/msg.txt" >"$D/msg.sha256"
pu "alice:$ALICE_PIN" --keypairgen --key-type EC:prime256v1 --label alice-sign --id a1 \
	--usage-sign
ch_expect_ok "alice generates an EC key pair through the forwarded slot"
ch_expect_text "... a P-256 key" 'Public Key Object; EC  EC_POINT 256 bits'
ch_hsm --token-label hsm-payments --login --pin "$CH_HSM_PIN" -O --type privkey
ch_expect_text "SoftHSM holds alice's private key" 'label:      alice-sign'
pu "alice:$ALICE_PIN" --sign -m ECDSA --id a1 -i "$D/msg.sha256" -o "$D/alice.sig"
ch_expect_ok "alice signs with it"
ch_expect_size "... a 64-byte ECDSA signature" "$D/alice.sig" 64
pu "alice:$ALICE_PIN" --verify -m ECDSA --id a1 -i "$D/msg.sha256" \
	--signature-file "$D/alice.sig"
ch_expect_text "... which verifies" 'Signature is valid'
ch_hsm --token-label hsm-payments --login --pin "$CH_HSM_PIN" --verify -m ECDSA --id a1 \
	-i "$D/msg.sha256" --signature-file "$D/alice.sig"
ch_expect_text "SoftHSM itself verifies it with the key it holds" 'Signature is valid'

echo "== roles and grants come before the HSM"
pu "bob:$BOB_PIN" --sign -m ECDSA --id a1 -i "$D/msg.sha256" -o "$D/bob.sig"
ch_expect_fails "bob cannot sign with alice's key without a grant"
pu "bob:$BOB_PIN" -O --type privkey
ch_expect_no_text "... nor see it" 'alice-sign'
as alice "$ALICE_PIN" grant alice-sign bob --ops sign
ch_expect_ok "alice grants bob sign on alice-sign"
pu "bob:$BOB_PIN" --sign -m ECDSA --id a1 -i "$D/msg.sha256" -o "$D/bob.sig"
ch_expect_ok "bob now signs with it"
pu "alice:$ALICE_PIN" --verify -m ECDSA --id a1 -i "$D/msg.sha256" --signature-file "$D/bob.sig"
ch_expect_text "... a valid signature" 'Signature is valid'
as alice "$ALICE_PIN" revoke alice-sign bob
ch_expect_ok "alice revokes bob's grant"
pu "bob:$BOB_PIN" --sign -m ECDSA --id a1 -i "$D/msg.sha256" -o "$D/bob2.sig"
ch_expect_fails "bob can no longer sign with it"

pu "carl:$CARL_PIN" --sign -m ECDSA --id a1 -i "$D/msg.sha256" -o "$D/carl.sig"
ch_expect_fails "carl (auditor) cannot sign"
pu "carl:$CARL_PIN" --keygen --key-type AES:32 --label carl-key
ch_expect_fails "carl cannot generate keys"
ch_expect_text "... CKR_ACTION_PROHIBITED" '(0x1b)'
p --session-rw --login --login-type so --so-pin "$SO_PIN" --sign -m ECDSA --id a1 \
	-i "$D/msg.sha256" -o "$D/so.sig"
ch_expect_fails "the SO cannot use keys"

pu "alice:wrong-pin-00" -O
ch_expect_fails "alice with a wrong PIN is refused"
ch_expect_text "... with CKR_PIN_INCORRECT" 'CKR_PIN_INCORRECT'
as so "$SO_PIN" participant list
ch_expect_lines "... and the failure is counted toward her lockout" '^alice +operator,user +1 +no$' 1
as so "$SO_PIN" participant unlock alice
ch_expect_ok "participant unlock alice clears the count"

echo "== key-role separation, extractability, backend codes"
pu "alice:$ALICE_PIN" --keygen --key-type AES:32 --label both-roles --usage-wrap --usage-decrypt
ch_expect_fails "a key that would both wrap and decrypt is refused"
ch_expect_text "... with CKR_TEMPLATE_INCONSISTENT" 'CKR_TEMPLATE_INCONSISTENT'
ch_hsm --token-label hsm-payments --login --pin "$CH_HSM_PIN" -O
ch_expect_no_text "... and nothing reached SoftHSM" 'both-roles'

pu "alice:$ALICE_PIN" --keygen --key-type AES:32 --label kek --id b1 --usage-wrap
ch_expect_ok "alice generates a wrapping key"
pu "alice:$ALICE_PIN" --keygen --key-type AES:32 --label sealed --id b2 --usage-decrypt
ch_expect_ok "alice generates a non-extractable AES key"
ch_expect_text "... never extractable, generated on the token" 'never extractable, local'
pu "alice:$ALICE_PIN" --wrap -m AES-KEY-WRAP --id b1 --application-id b2 -o "$D/sealed.wrapped"
ch_expect_fails "the non-extractable key cannot be wrapped out"
ch_expect_text "... SoftHSM's CKR_KEY_UNEXTRACTABLE comes through" 'CKR_KEY_UNEXTRACTABLE'
pu "alice:$ALICE_PIN" --read-object --type secrkey --id b2 -o "$D/sealed.value"
ch_expect_fails "... nor read"
ch_expect_text "... CKR_ATTRIBUTE_SENSITIVE" 'CKR_ATTRIBUTE_SENSITIVE'
pu "alice:$ALICE_PIN" --generate-random 32 -o "$D/rand.bin"
ch_expect_ok "random numbers come from the forwarded slot"
ch_expect_size "... 32 bytes" "$D/rand.bin" 32
pu "alice:$ALICE_PIN" --hash -m SHA256 -i "$D/msg.txt" -o "$D/msg.p11sha256"
ch_expect_ok "a digest through the forwarded slot"
ch_expect_same_file "... is SHA-256" "$D/msg.sha256" "$D/msg.p11sha256"

echo "== the backend PIN never leaves Cipher Hub"
leaked=
grep -qF -- "$CH_HSM_PIN" "$CIPHERHUB_STORE" && leaked+=" store"
grep -qF -- "$CH_HSM_PIN" "$D/module.log" 2>/dev/null && leaked+=" log"
grep -qF -- "$CH_HSM_PIN" "$CIPHERHUB_CONF" && leaked+=" configuration"
ch_expect_eq "the backend PIN is in no store, log or configuration" "" "$leaked"

echo "== the other registrations are separate"
ch_p11 --slot $((FWD + 2)) --login --pin "$USER_PIN" --keypairgen --key-type EC:prime256v1 \
	--label orders-key --id c1 --usage-sign
ch_expect_ok "orders (backend PIN from pin_env) generates a key"
ch_hsm --token-label hsm-orders --login --pin "$CH_HSM_PIN" -O --type privkey
ch_expect_text "... in SoftHSM token hsm-orders" 'label:      orders-key'
ch_hsm --token-label hsm-payments --login --pin "$CH_HSM_PIN" -O --type privkey
ch_expect_no_text "... not in hsm-payments" 'orders-key'
ch_p11 --slot $((FWD + 2)) --login --pin "$USER_PIN" -O
ch_expect_no_text "orders does not see payments' keys" 'alice-sign'
ch_p11 --token-label local --login --pin "$USER_PIN" --keypairgen --key-type EC:prime256v1 \
	--label local-key --usage-sign
ch_expect_ok "the software registration still generates keys"
ch_p11 --token-label local --login --pin "$USER_PIN" --sign -m ECDSA --label local-key \
	-i "$D/msg.sha256" -o "$D/local.sig"
ch_expect_ok "... and signs"
ch_hsm --token-label hsm-payments --login --pin "$CH_HSM_PIN" -O
ch_expect_no_text "... its key is not in SoftHSM" 'local-key'

echo "== the admin tool: registrations"
t registrations
ch_expect_ok "registrations succeeds with a slot whose module is missing"
ch_expect_lines "slot 1: local, software, healthy" '^1 +local +software +ok ' 1
ch_expect_lines "slot 65536: payments, forwarded to libsofthsm2.so, healthy" \
	'^65536 +payments +forwarded +ok +[^ ]+ +- .* libsofthsm2\.so$' 1
ch_expect_lines "slot 65537: forwarded to libvendor-hsm.so, no token" \
	'^65537 +- +forwarded +no-token .*libvendor-hsm\.so$' 1
ch_expect_lines "slot 65538: orders, forwarded, healthy" \
	'^65538 +orders +forwarded +ok .* libsofthsm2\.so$' 1
ch_expect_lines "slot 65539: forwarded to libsofthsm2.so, no token" \
	'^65539 +- +forwarded +no-token .*libsofthsm2\.so$' 1
t registrations --json
ch_expect_ok "registrations --json succeeds"
json=$CH_OUT
jqs()
{
	CH_CMD="jq: $1"
	jq -r -s "$1" <<<"$json" 2>&1 || true
}
ch_expect_eq "--json: one object per slot, forwarded slots 65536..65539" \
	"65536 65537 65538 65539" "$(jqs '[.[] | select(.slot >= 65536) | .slot] | join(" ")' |
		tr -d '"')"
ch_expect_eq "--json: kinds" "software forwarded forwarded forwarded forwarded" \
	"$(jqs '[.[] | select(.slot == 1 or .slot >= 65536) | .kind] | join(" ")')"
ch_expect_eq "--json: backends" "libsofthsm2.so libvendor-hsm.so libsofthsm2.so libsofthsm2.so" \
	"$(jqs '[.[] | select(.slot >= 65536) | .backend] | join(" ")')"
ch_expect_eq "--json: token presence" "true true false true false" \
	"$(jqs '[.[] | select(.slot == 1 or .slot >= 65536) | .token_present | tostring] | join(" ")')"
ch_expect_eq "--json: health" "ok ok no-token ok no-token" \
	"$(jqs '[.[] | select(.slot == 1 or .slot >= 65536) | .health] | join(" ")')"
ch_expect_eq "--json: payments is labelled and initialised" "payments true" \
	"$(jqs '.[] | select(.slot == 65536) | "\(.label) \(.initialized)"')"
ch_expect_eq "--json: objects: a number for software, null for forwarded (the HSM's)" \
	"number null" "$(jqs '[.[] | select(.slot == 1 or .slot == 65536) | .objects | type] | join(" ")')"
ch_expect_eq "--json: the software slot has no backend" null \
	"$(jqs '.[] | select(.slot == 1) | .backend')"
t --slot $((FWD + 1)) registrations
ch_expect_ok "registrations --slot 65537 shows the slot without a token"
ch_expect_lines "... as no-token" '^65537 .*no-token' 1

echo "== audit: Cipher Hub's store records the forwarded operations"
as carl "$CARL_PIN" audit show
ch_expect_ok "audit show as carl (auditor)"
ch_expect_text "... records logins" 'login'
ch_expect_text "... records the key generation" 'key.generate'
ch_expect_text "... records the signatures" 'key.sign'
ch_expect_text "... records alice's wrong PIN" 'CKR_PIN_INCORRECT'
ch_expect_text "... records the grant" 'grant.set'
as carl "$CARL_PIN" audit verify
ch_expect_ok "audit verify passes"
ch_expect_text "... the log is intact" 'is intact'

echo "== the backend PIN from an inherited file descriptor (pin_fd)"
{
	printf '[pin]\npbkdf2_iterations = 1000\n\n[log]\nlevel = warning\nfile = %s\n' \
		"$D/module-fd.log"
	printf '\n[forward:payments]\nmodule = %s\ntoken = pkcs11:token=hsm-payments\npin_fd = 3\n' \
		"$CH_HSM_MODULE"
} >"$D/fd.conf"
CIPHERHUB_CONF=$D/fd.conf ch_p11 --slot "$FWD" --login --pin "alice:$ALICE_PIN" --sign -m ECDSA \
	--id a1 -i "$D/msg.sha256" -o "$D/fd.sig" 3<"$D/hsm-pin"
ch_expect_ok "with pin_fd = 3 and the PIN on descriptor 3, alice signs"
CIPHERHUB_CONF=$D/fd.conf ch_p11 --slot "$FWD" --login --pin "alice:$ALICE_PIN" --sign -m ECDSA \
	--id a1 -i "$D/msg.sha256" -o "$D/fd2.sig" 3</dev/null
ch_expect_fails "with nothing on descriptor 3 the backend login fails cleanly"
printf 'not-the-hsm-pin\n' >"$D/wrong-hsm-pin"
CIPHERHUB_CONF=$D/fd.conf ch_p11 --slot "$FWD" --login --pin "alice:$ALICE_PIN" -O \
	3<"$D/wrong-hsm-pin"
ch_expect_fails "with a wrong backend PIN on descriptor 3 the login fails"
ch_expect_text "... with CKR_DEVICE_ERROR" 'CKR_DEVICE_ERROR'
as so "$SO_PIN" participant list
ch_expect_lines "... and is not counted against alice" '^alice +operator,user +0 +no$' 1

echo "== [policy] legacy_key_roles names the forwarded registration"
printf '\n[policy]\nlegacy_key_roles = payments\n' >>"$CIPHERHUB_CONF"
pu "alice:$ALICE_PIN" --keygen --key-type AES:32 --label both-roles --usage-wrap --usage-decrypt
ch_expect_ok "a key that both wraps and decrypts is then allowed"

ch_finish
