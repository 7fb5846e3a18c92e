#!/usr/bin/env bash
# The benchmark (tools/chbench, tools/bench) runs against the built module and its result checks
# pass: signatures verify under OpenSSL, ciphertexts decrypt back, MACs match, finds find.  Tiny
# durations and few objects, so the tool cannot rot; no timing is ever asserted.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
ch_setup

bin=$(dirname "$CH_TEST_MODULE")/chbench
ch_expect_eq "chbench is built next to the module" yes "$([[ -x $bin ]] && echo yes || echo no)"

ch_run "$bin" --module "$CH_TEST_MODULE" --init --token bench --time 0.02 --threads 2 --objects 20
ch_expect_ok "chbench --init --objects 20: every result check passes"
for op in rsa2048_sign ecdsa_p256_sign ed25519_sign hmac_sha256_64 aes_gcm_64 aes_gcm_1m \
	find_label hmac_sha256_64@0 hmac_sha256_64@20 create login rss; do
	ch_expect_text "chbench reports $op" "R $op "
done
ch_expect_text "sign runs on two threads" "R rsa2048_sign 2 "
ch_expect_no_text "no result check failed" "CHECK FAILED"

ch_run "$bin" --module "$CH_TEST_MODULE" --cold --token bench --objects 20
ch_expect_ok "chbench --cold finds an object with no login"
ch_expect_text "cold start reported" "R cold_start 1 "

ch_run "$bin" --module "$CH_TEST_MODULE" --token bench --time 0.02 --ops hmac_sha256_64,aes_gcm_64
ch_expect_ok "chbench on an existing token with --ops"
ch_expect_no_text "--ops runs only what it names" "R rsa2048_sign"

ch_run "$bin" --raw --time 0.02
ch_expect_ok "chbench --raw: OpenSSL's own results check"

ch_run "$bin" --module "$CH_TEST_MODULE" --token no-such-token
ch_expect_fails "chbench refuses a token that is not there"

# The comparison script, when SoftHSMv2 is installed (its leaks are not ours).
if [[ -f /usr/lib/softhsm/libsofthsm2.so ]]; then
	ch_run env ASAN_OPTIONS=detect_leaks=0 "$CH_TEST_SRC/tools/bench" \
		--build "$(dirname "$CH_TEST_MODULE")" --time 0.02 --objects 5 --no-audit-row
	ch_expect_ok "tools/bench runs all three and prints the table"
	ch_expect_text "the ratio table" "| RSA-2048 sign, CKM_SHA256_RSA_PKCS"
else
	ch_note "SoftHSMv2 not installed: tools/bench not run"
fi

ch_finish
