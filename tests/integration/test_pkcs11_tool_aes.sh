#!/usr/bin/env bash
#
# test_pkcs11_tool_aes.sh: the AES family as OpenSC's pkcs11-tool (0.23, Debian 12) drives it.
#
# AES keys are written from known bytes, so every result can be checked against openssl or a
# published answer: AES-ECB, AES-CBC and AES-CBC-PAD encryption equal `openssl enc` byte for
# byte and decrypt back; data that is not a multiple of 16 bytes is CKR_DATA_LEN_RANGE under
# ECB/CBC; a CBC-PAD ciphertext with bad padding is CKR_ENCRYPTED_DATA_INVALID, multi-part
# decryption having released only the blocks before the padded one; C_WrapKey with
# AES-KEY-WRAP gives RFC 3394's answer (section 4.6) and C_UnwrapKey brings the key back; and
# the mechanism list shows each AES and ChaCha20 mechanism with its sizes and flags.
#
# With CH_T_FORWARD=1 (ctest: integration_test_pkcs11_tool_aes_forwarded) the registration "aes"
# is a forwarded slot backed by a private SoftHSMv2 token, and every step runs against it, with
# two differences, both because a forwarded slot is the backend's: an error (bad padding, a
# modified wrapping) must come back with the code SoftHSM itself gives for the same call on the
# same key (checked straight on SoftHSM: it says CKR_GENERAL_ERROR where the software token says
# CKR_ENCRYPTED_DATA_INVALID or CKR_WRAPPED_KEY_INVALID), and the mechanism list must name the
# AES mechanisms and only mechanisms SoftHSM lists (it has no ChaCha20, and other sizes and flags).
set -Eeuo pipefail

# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ch_setup
ch_forward_mode aes

# expect_rv STEP SOFT_RV HSM_ARGS...: the last call failed with SOFT_RV, or when forwarding with
# the code SoftHSM itself gives for pkcs11-tool HSM_ARGS... on the backend token.
expect_rv()
{
	local step=$1 want=$2 got
	shift 2
	if [[ $CH_FWD == 1 ]]; then
		local out=$CH_OUT cmd=$CH_CMD
		ch_hsm --token-label hsm-aes --login --pin "$CH_HSM_PIN" "$@"
		want=$(ch_rv_in_output)
		[[ -n $want ]] || want="(SoftHSM gave no CKR_ code: $(tail -n 1 <<<"$CH_OUT"))"
		CH_OUT=$out CH_CMD=$cmd
	fi
	got=$(ch_rv_in_output)
	ch_expect_eq "$step: $want" "$want" "$got"
}

SO_PIN=87654321
USER_PIN=12345678
D=$CH_TMP
IV=000102030405060708090a0b0c0d0e0f

user()
{
	ch_p11 --token-label aes --login --pin "$USER_PIN" "$@"
}

echo "== a registration with two known AES keys"
ch_p11 --slot "$CH_REG_SLOT" --init-token --label aes --so-pin "$SO_PIN"
ch_expect_ok "--init-token succeeds"
ch_p11 --token-label aes --login --login-type so --so-pin "$SO_PIN" --init-pin --pin "$USER_PIN"
ch_expect_ok "--init-pin succeeds"

KEY=603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4
ch_unhex "$KEY" "$D/key.bin"
user -w "$D/key.bin" --type secrkey --key-type AES:32 --id 20 --label data-key --usage-decrypt
ch_expect_ok "writing a 256-bit AES key succeeds"

head -c 96 /dev/urandom >"$D/p96.bin"
head -c 100 /dev/urandom >"$D/p100.bin"

echo "== AES-ECB, AES-CBC, AES-CBC-PAD against openssl enc"
for mode in ECB CBC CBC-PAD; do
	case $mode in
	ECB) ossl=(-aes-256-ecb -nopad) in=$D/p96.bin ;;
	CBC) ossl=(-aes-256-cbc -nopad -iv "$IV") in=$D/p96.bin ;;
	CBC-PAD) ossl=(-aes-256-cbc -iv "$IV") in=$D/p100.bin ;;
	esac
	user --encrypt -m "AES-$mode" --id 20 --iv "$IV" -i "$in" -o "$D/$mode.ct"
	ch_expect_ok "AES-$mode encrypt succeeds"
	ch_run openssl enc "${ossl[@]}" -K "$KEY" -in "$in" -out "$D/$mode.ossl"
	ch_expect_ok "openssl enc ${ossl[0]} succeeds"
	ch_expect_same_file "AES-$mode gives openssl's ciphertext" "$D/$mode.ossl" "$D/$mode.ct"
	user --decrypt -m "AES-$mode" --id 20 --iv "$IV" -i "$D/$mode.ct" -o "$D/$mode.pt"
	ch_expect_ok "AES-$mode decrypt succeeds"
	ch_expect_same_file "AES-$mode decrypts to the plaintext" "$in" "$D/$mode.pt"
done

for mode in ECB CBC; do
	user --encrypt -m "AES-$mode" --id 20 --iv "$IV" -i "$D/p100.bin" -o "$D/$mode.bad"
	ch_expect_fails "AES-$mode of 100 bytes fails"
	ch_expect_text "... with CKR_DATA_LEN_RANGE" 'CKR_DATA_LEN_RANGE'
done

# Two blocks whose last plaintext byte is 0x00: no PKCS#7 padding ends that way.
{
	head -c 31 /dev/urandom
	printf '\x00'
} >"$D/badpad.pt"
ch_run openssl enc -aes-256-cbc -nopad -iv "$IV" -K "$KEY" -in "$D/badpad.pt" \
	-out "$D/badpad.ct"
ch_expect_ok "openssl makes a ciphertext whose padding is wrong"
rm -f "$D/badpad.out"
user --decrypt -m AES-CBC-PAD --id 20 --iv "$IV" -i "$D/badpad.ct" -o "$D/badpad.out"
ch_expect_fails "AES-CBC-PAD decrypt of bad padding fails"
expect_rv "... with" CKR_ENCRYPTED_DATA_INVALID --decrypt -m AES-CBC-PAD --id 20 --iv "$IV" \
	-i "$D/badpad.ct" -o "$D/badpad.hsm"
# pkcs11-tool decrypts in parts: C_DecryptUpdate released the first block, and the last one,
# which holds the padding, was held back and never released.
head -c 16 "$D/badpad.pt" >"$D/badpad.first"
ch_expect_same_file "only the blocks before the padded one were released" "$D/badpad.first" \
	"$D/badpad.out"

echo "== AES-KEY-WRAP: RFC 3394 section 4.6 through C_WrapKey and C_UnwrapKey"
ch_unhex 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f "$D/kek.bin"
ch_unhex 00112233445566778899aabbccddeeff000102030405060708090a0b0c0d0e0f "$D/inner.bin"
user -w "$D/kek.bin" --type secrkey --key-type AES:32 --id 40 --label kek --usage-wrap
ch_expect_ok "writing the key-encryption key succeeds"
user -w "$D/inner.bin" --type secrkey --key-type AES:32 --id 41 --label inner --extractable
ch_expect_ok "writing the key to wrap succeeds"
user --wrap -m AES-KEY-WRAP --id 40 --application-id 41 -o "$D/wrapped.bin"
ch_expect_ok "C_WrapKey with AES-KEY-WRAP succeeds"
ch_expect_eq "the wrapped key is RFC 3394's" \
	28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b9b7a02dd21 \
	"$(ch_hex "$D/wrapped.bin")"
user --unwrap -m AES-KEY-WRAP --id 40 -i "$D/wrapped.bin" --key-type AES: --application-id 42 \
	--extractable
ch_expect_ok "C_UnwrapKey with AES-KEY-WRAP succeeds"
user --read-object --type secrkey --id 42 -o "$D/unwrapped.bin"
ch_expect_ok "the unwrapped key can be read"
ch_expect_same_file "the unwrapped key is the one wrapped" "$D/inner.bin" "$D/unwrapped.bin"
# The last byte changed: the integrity check fails.
{
	head -c 39 "$D/wrapped.bin"
	printf '\x00'
} >"$D/wrapped.bad"
user --unwrap -m AES-KEY-WRAP --id 40 -i "$D/wrapped.bad" --key-type AES: --application-id 43
ch_expect_fails "C_UnwrapKey of a modified wrapping fails"
expect_rv "... with" CKR_WRAPPED_KEY_INVALID --unwrap -m AES-KEY-WRAP --id 40 \
	-i "$D/wrapped.bad" --key-type AES: --application-id 44

echo "== the mechanism list"
if [[ $CH_FWD == 1 ]]; then
	ch_expect_backend_mechs aes hsm-aes AES-KEY-GEN AES-ECB AES-CBC AES-CBC-PAD AES-CTR \
		AES-GCM AES-KEY-WRAP AES-CMAC
	ch_finish
fi
ch_p11 --token-label aes -M
ch_expect_ok "--list-mechanisms succeeds"
for mech in AES-ECB AES-CBC AES-CBC-PAD AES-CTR AES-KEY-WRAP mechtype-0x1088 mechtype-0x210B; do
	ch_expect_lines "$mech: 16..32-byte keys, encrypt, decrypt, wrap, unwrap" \
		"^  $mech, keySize=\\{16,32\\}, encrypt, decrypt, wrap, unwrap\$" 1
done
ch_expect_lines "AES-GCM also does the message-based functions" \
	'^  AES-GCM, keySize=\{16,32\}, encrypt, decrypt, wrap, unwrap, other flags=0x6$' 1
for mech in AES-CMAC mechtype-0x108B; do
	ch_expect_lines "$mech signs and verifies" "^  $mech, keySize=\\{16,32\\}, sign, verify\$" 1
done
ch_expect_lines "ChaCha20 key generation: 32-byte keys" \
	'^  mechtype-0x1225, keySize=\{32,32\}, generate$' 1
ch_expect_lines "ChaCha20 encrypts and decrypts" \
	'^  mechtype-0x1226, keySize=\{32,32\}, encrypt, decrypt$' 1
ch_expect_lines "ChaCha20-Poly1305 encrypts, decrypts and does messages" \
	'^  mechtype-0x4021, keySize=\{32,32\}, encrypt, decrypt, other flags=0x6$' 1

ch_finish
