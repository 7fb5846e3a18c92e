#!/usr/bin/env bash
#
# test_forward_removed.sh: the HSM's token directory removed while a client runs (issue 7,
# item 5), with SoftHSMv2 as the HSM.
#
# One client process (fwd_client) opens a session on the forwarded slot, logs in, generates a
# key and signs; the script then removes SoftHSM's whole token directory (keeping a copy).  The
# same process goes on: signing and creating an object on the forwarded slot must fail (with
# SoftHSM's code, or CKR_DEVICE_ERROR / CKR_DEVICE_REMOVED / CKR_SESSION_HANDLE_INVALID: any
# failure, but no crash and no hang), while the software registration on slot 1 keeps working in
# that process and in another one.  The script puts the directory back; the same process closes
# its sessions on the forwarded slot (C_CloseAllSessions, as an application that saw them fail
# would; until then its login stands and C_Login is rightly CKR_USER_ALREADY_LOGGED_IN), and a
# new C_OpenSession and C_Login on the forwarded slot work again and the key signs again.  (SoftHSM
# itself needs a C_Finalize and C_Initialize to see a token directory come back: Cipher Hub must
# do that, or its like, for the last part to pass; the test ends by showing that on SoftHSM
# alone.)  Running as root, "made unreadable" (chmod)
# would not stop SoftHSM, so the test removes the directory.
set -Eeuo pipefail

# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ch_setup
ch_softhsm_setup

D=$CH_TMP
SO_PIN=so-pin-fwd-4711
USER_PIN=user-pin-fwd-0815
FWD=$CH_FORWARD_SLOT0
CLIENT=${CH_TEST_BIN:-$(dirname "$CH_TEST_MODULE")}/tests/fwd_client
if [[ ! -x $CLIENT ]]; then
	ch_fail "fwd_client is built" "an executable $CLIENT" "none (run with ctest)"
	ch_finish
fi
if readelf -d "$CLIENT" 2>/dev/null | grep -q 'NEEDED.*libasan'; then
	client_env=()
else
	client_env=("${CH_MOD_ENV[@]}")
fi
# SoftHSM, loaded into the client, is not ours: its leaks are not looked for.
client_env+=(ASAN_OPTIONS=detect_leaks=0 LSAN_OPTIONS=detect_leaks=0)

ch_softhsm_token hsm-payments
ch_forward_add payments

# wait_for FILE: waits (at most 60 s) until FILE exists; false when it never does.
wait_for()
{
	local i
	for ((i = 0; i < 600; i++)); do
		[[ -e $1 ]] && return 0
		kill -0 "$client_pid" 2>/dev/null || { [[ -e $1 ]]; return; }
		sleep 0.1
	done
	return 1
}

# step_rv STEP: the CK_RV the client printed for STEP, the Nth time with "STEP#N" (default 1).
step_rv()
{
	local step=${1%#*} n=1
	[[ $1 == *#* ]] && n=${1##*#}
	awk -v s="$step: " -v n="$n" 'index($0, s) == 1 && ++k == n { print substr($0, length(s) + 1) }' \
		"$D/client.out"
}
expect_step()
{
	CH_CMD="fwd_client (output in $D/client.out): $2"
	CH_OUT=$(cat "$D/client.out")
	ch_expect_eq "$1" "$3" "$(step_rv "$2")"
}
expect_step_fails()
{
	local rv
	CH_CMD="fwd_client (output in $D/client.out): $2"
	CH_OUT=$(cat "$D/client.out")
	rv=$(step_rv "$2")
	if [[ -n $rv && $rv != CKR_OK ]]; then
		ch_pass "$1 ($rv)"
	else
		ch_fail "$1" "a CK_RV other than CKR_OK" "'$rv'"
	fi
}

echo "== the registrations"
ch_p11 --slot "$FWD" --init-token --label payments --so-pin "$SO_PIN"
ch_expect_ok "--init-token creates the forwarded registration payments"
ch_p11 --slot "$FWD" --login --login-type so --so-pin "$SO_PIN" --init-pin --pin "$USER_PIN"
ch_expect_ok "... and its user PIN"
ch_p11 --slot 1 --init-token --label local --so-pin "$SO_PIN"
ch_expect_ok "a software registration local on slot 1"
ch_p11 --token-label local --login --login-type so --so-pin "$SO_PIN" --init-pin --pin "$USER_PIN"
ch_expect_ok "... and its user PIN"

echo "== a client runs; the token directory goes away and comes back"
timeout -k 5 120 env "${client_env[@]}" "$CLIENT" "$CH_TEST_MODULE" \
	open "$FWD" login "$USER_PIN" keygen fk sign \
	touch "$D/ready" wait "$D/gone" \
	sign create gone-object find fk random info "$FWD" open "$FWD" \
	open 1 login "$USER_PIN" keygen sk sign \
	touch "$D/measured" wait "$D/back" \
	closeall "$FWD" open "$FWD" login "$USER_PIN" find fk sign create back-object \
	>"$D/client.out" 2>&1 </dev/null &
client_pid=$!

if wait_for "$D/ready"; then
	ch_pass "the client has signed on the forwarded slot"
	cp -a "$CH_HSM_TOKENS" "$D/tokens.saved"
	rm -rf "$CH_HSM_TOKENS"
	touch "$D/gone"
	if wait_for "$D/measured"; then
		ch_pass "the client went on after the removal"
		ch_p11 --token-label local --login --pin "$USER_PIN" --keypairgen \
			--key-type EC:prime256v1 --label other-process --usage-sign
		ch_expect_ok "another process uses the software registration meanwhile"
		ch_p11 -L
		ch_expect_ok "... and lists the slots"
		ch_expect_text "... slot 1 among them" 'token label        : local'
	else
		ch_fail "the client went on after the removal" "$D/measured" "not created"
	fi
	cp -a "$D/tokens.saved" "$CH_HSM_TOKENS"
	touch "$D/back"
else
	ch_fail "the client has signed on the forwarded slot" "$D/ready" "not created"
	touch "$D/gone" "$D/back"
fi
client_rc=0
wait "$client_pid" || client_rc=$?
CH_CMD="fwd_client ... (background)"
CH_OUT=$(cat "$D/client.out")
CH_RC=$client_rc
ch_expect_ok "the client exits 0: no crash, no hang, every wait met"
ch_expect_no_text "no sanitizer report" 'Sanitizer'
ch_expect_no_text "... no UBSan report" 'runtime error:'
printf '%s\n' "$CH_OUT" | sed 's/^/    client | /'

echo "== before the removal"
expect_step "C_OpenSession on the forwarded slot" "open $FWD" CKR_OK
expect_step "C_Login" login CKR_OK
expect_step "C_GenerateKeyPair" "keygen fk" CKR_OK
expect_step "C_Sign" sign CKR_OK

echo "== while the directory is gone"
expect_step_fails "C_Sign with the key in the removed token fails" "sign#2"
expect_step_fails "C_CreateObject of a token object fails" "create gone-object"
expect_step "the software slot: C_OpenSession" "open 1" CKR_OK
expect_step "... C_Login" "login#2" CKR_OK
expect_step "... C_GenerateKeyPair" "keygen sk" CKR_OK
expect_step "... C_Sign" "sign#3" CKR_OK

echo "== after the directory is back"
expect_step "the client closes its forwarded sessions" "closeall $FWD" CKR_OK
expect_step "a new C_OpenSession on the forwarded slot" "open $FWD#3" CKR_OK
expect_step "... C_Login" "login#3" CKR_OK
expect_step "... the key is found again" "find fk#2" CKR_OK
expect_step "... and signs" "sign#4" CKR_OK
expect_step "... a token object can be created" "create back-object" CKR_OK
expect_step "C_Finalize" finalize CKR_OK

ch_p11 --slot "$FWD" --login --pin "$USER_PIN" -O --type privkey
ch_expect_ok "a new process logs in to the forwarded slot"
ch_expect_text "... and sees the key" 'label:      fk'

echo "== for comparison: SoftHSM itself, without Cipher Hub"
# The same removal with SoftHSM loaded directly: its calls fail the same way, and once the
# directory is back it works again only after C_Finalize and C_Initialize (its token is marked
# invalid until then): what Cipher Hub has to do, or its like, for the checks above.
ch_hsm -L
hsm_slot=$(sed -n 's/^Slot [0-9]* (\(0x[0-9a-f]*\)): .*/\1/p' <<<"$CH_OUT" | head -n 1)
rm -f "$D/ready" "$D/gone" "$D/measured" "$D/back"
timeout -k 5 120 env "${client_env[@]}" "$CLIENT" "$CH_HSM_MODULE" \
	open "$hsm_slot" login "$CH_HSM_PIN" find fk sign touch "$D/ready" wait "$D/gone" \
	sign touch "$D/measured" wait "$D/back" \
	closeall "$hsm_slot" open "$hsm_slot" login "$CH_HSM_PIN" find fk sign \
	reinit open "$hsm_slot" login "$CH_HSM_PIN" find fk sign \
	>"$D/client.out" 2>&1 </dev/null &
client_pid=$!
if wait_for "$D/ready"; then
	rm -rf "$CH_HSM_TOKENS"
	touch "$D/gone"
	wait_for "$D/measured" || true
	cp -a "$D/tokens.saved" "$CH_HSM_TOKENS"
fi
touch "$D/gone" "$D/back"
client_rc=0
wait "$client_pid" || client_rc=$?
CH_CMD="fwd_client $CH_HSM_MODULE ... (background)"
CH_OUT=$(cat "$D/client.out")
CH_RC=$client_rc
ch_expect_ok "SoftHSM alone: the client exits 0"
printf '%s\n' "$CH_OUT" | sed 's/^/    softhsm | /'
expect_step "SoftHSM alone: the key signs before the removal" sign CKR_OK
expect_step_fails "SoftHSM alone: C_Sign fails while the directory is gone" "sign#2"
expect_step_fails "SoftHSM alone: after it is back, a new session and login still fail" \
	"login#2"
expect_step "SoftHSM alone: after C_Finalize and C_Initialize, C_Login works" "login#3" CKR_OK
expect_step "SoftHSM alone: ... and the key signs again" "sign#4" CKR_OK

ch_finish
