#!/usr/bin/env bash
#
# test_p11kit_module.sh: the module registered with p11-kit through the shipped
# conf/cipherhub.module, as p11-kit aware programs find it.
#
# Installing Cipher Hub means dropping conf/cipherhub.module into p11-kit's module config
# directory; from then on p11-kit loads the module "managed" (p11-kit serialises C_Initialize and
# C_Finalize across callers) and its proxy, p11-kit-proxy.so, shows our slots among everyone
# else's.  This test proves that path with the real file: it parses (no p11-kit warning), p11-kit
# list-modules shows our registrations, and pkcs11-tool through the proxy lists, signs and
# verifies.  So as not to install anything on the machine, the test runs those programs in a
# private mount namespace (unshare -m) where a temp directory holding only our .module file is
# bind-mounted over p11-kit's config directory; as root p11-kit ignores ~/.config/pkcs11.
set -Eeuo pipefail

# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ch_setup

D=$CH_TMP
SO_PIN=87654321
USER_PIN=12345678
SYS_CONFIGS=$(pkg-config --variable p11_module_configs p11-kit-1)
PROXY=$(pkg-config --variable proxy_module p11-kit-1)

# The shipped file, with only its module: line pointing at the module under test (installed, the
# relative name resolves in p11-kit's module directory).
mkdir -p "$D/modules"
sed "s|^module:.*|module: $CH_TEST_MODULE|" "$CH_TEST_SRC/conf/cipherhub.module" \
	>"$D/modules/cipherhub.module"
ch_run diff "$CH_TEST_SRC/conf/cipherhub.module" "$D/modules/cipherhub.module"
ch_expect_lines "the test copy differs from conf/cipherhub.module in its module: line only" \
	'^[<>] ' 2

# in_p11kit CMD ARGS...: run a program that loads the module, in a mount namespace where p11-kit's
# module configs are just ours.  Root makes the namespace directly; anyone else through a user
# namespace (unshare -r) in which they are root.
ns_flags=(-m)
[[ $(id -u) == 0 ]] || ns_flags=(-r -m)
in_p11kit()
{
	# shellcheck disable=SC2016 # the inner script expands its own arguments
	ch_run unshare "${ns_flags[@]}" --propagation private bash -c \
		'mount --bind "$1" "$2" && shift 2 && exec "$@"' _ "$D/modules" "$SYS_CONFIGS" \
		env "${CH_MOD_ENV[@]}" "$@"
}

echo "== a registration to look at"
ch_p11 --slot 1 --init-token --label payments --so-pin "$SO_PIN"
ch_expect_ok "--init-token (module loaded directly) succeeds"
ch_p11 --token-label payments --login --login-type so --so-pin "$SO_PIN" --init-pin \
	--pin "$USER_PIN"
ch_expect_ok "--init-pin (module loaded directly) succeeds"
ch_p11 --token-label payments --login --pin "$USER_PIN" --keypairgen --key-type EC:prime256v1 \
	--label ec-key --id 20 --usage-sign
ch_expect_ok "--keypairgen (module loaded directly) succeeds"
ec_point=$(sed -n 's/^  EC_POINT: *//p' <<<"$CH_OUT" | head -n 1)

echo "== p11-kit reads conf/cipherhub.module"
in_p11kit p11-kit list-modules
ch_expect_ok "p11-kit list-modules succeeds"
ch_expect_text "p11-kit loads the module named by the file" "cipherhub: $CH_TEST_MODULE"
ch_expect_no_text "p11-kit has nothing to say about the file's settings" 'p11-kit:'
ch_expect_text "p11-kit sees the registration" 'token: payments'
ch_expect_text "... initialized" 'token-initialized'
ch_expect_text "... with its user PIN set" 'user-pin-initialized'

echo "== pkcs11-tool through p11-kit-proxy.so"
in_p11kit pkcs11-tool --module "$PROXY" -L
ch_expect_ok "pkcs11-tool -L through the proxy succeeds"
ch_expect_text "the proxy shows the registration" 'token label        : payments'
ch_expect_text "the proxy shows the free slot" 'token state:   uninitialized'

printf 'settle invoice 42\n' >"$D/msg.txt"
in_p11kit pkcs11-tool --module "$PROXY" --token-label payments --login --pin "$USER_PIN" \
	--sign --mechanism ECDSA-SHA256 --id 20 -i "$D/msg.txt" -o "$D/msg.sig" -f openssl
ch_expect_ok "ECDSA-SHA256 sign through the proxy succeeds"

in_p11kit pkcs11-tool --module "$PROXY" --token-label payments --login --pin "$USER_PIN" \
	--verify --mechanism ECDSA-SHA256 --id 20 -i "$D/msg.txt" --signature-file "$D/msg.sig" \
	-f openssl
ch_expect_text "the module accepts it through the proxy" 'Signature is valid'

# P-256 SubjectPublicKeyInfo header + the point inside CKA_EC_POINT's OCTET STRING.
ch_unhex "3059301306072a8648ce3d020106082a8648ce3d030107034200${ec_point:4}" "$D/pub.der"
ch_run openssl dgst -sha256 -verify "$D/pub.der" -keyform DER -signature "$D/msg.sig" \
	"$D/msg.txt"
ch_expect_text "openssl verifies the signature made through the proxy" 'Verified OK'

in_p11kit pkcs11-tool --module "$PROXY" --token-label payments --login --pin 00000000 -O
ch_expect_fails "a wrong PIN through the proxy fails"
ch_expect_text "... with CKR_PIN_INCORRECT" 'CKR_PIN_INCORRECT'

ch_finish
