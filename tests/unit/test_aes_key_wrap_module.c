/*
 * C_WrapKey and C_UnwrapKey through the module under every AES mechanism
 * that wraps (PKCS#11 3.0 lists ECB, CBC, CBC_PAD, CTR, GCM, CCM, KEY_WRAP
 * and KEY_WRAP_KWP with CKF_WRAP | CKF_UNWRAP): a key wrapped and unwrapped
 * again comes back with the same value; the length rules of each mode show
 * up as CKR_KEY_SIZE_RANGE on wrap and CKR_WRAPPED_KEY_LEN_RANGE on unwrap;
 * a tampered wrapping under an authenticating mode is
 * CKR_WRAPPED_KEY_INVALID; and the length query of C_WrapKey is exact.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p11_crypt.h"

static CK_BYTE iv16[16] = { 0x10, 0x32, 0x54, 0x76 };
static CK_BYTE iv12[12] = { 0xc0, 0xff, 0xee };

typedef struct wrap_case {
	const char *name;
	CK_MECHANISM m;
	bool authenticates; /* a flipped bit must be CKR_WRAPPED_KEY_INVALID */
	bool any_length;    /* wraps keys that are not a multiple of 16 bytes */
} wrap_case;

static void test_aes_modes_wrap_and_unwrap_keys(void)
{
	static const CK_BYTE kek_value[32] = { 0x4b, 0x45, 0x4b, 1, 2, 3 };
	static const CK_ULONG key_lens[] = { 16, 24, 32 };
	CK_AES_CTR_PARAMS ctr = { 32, { 0xfe } };
	CK_GCM_PARAMS gcm = { iv12, sizeof(iv12), 96, NULL, 0, 128 };
	CK_CCM_PARAMS ccm = { 0, iv12, 12, NULL, 0, 16 };
	wrap_case cases[] = {
		{ "CKM_AES_ECB", { CKM_AES_ECB, NULL, 0 }, false, false },
		{ "CKM_AES_CBC", { CKM_AES_CBC, iv16, 16 }, false, false },
		{ "CKM_AES_CBC_PAD", { CKM_AES_CBC_PAD, iv16, 16 }, false, true },
		{ "CKM_AES_CTR", { CKM_AES_CTR, &ctr, sizeof(ctr) }, false, true },
		{ "CKM_AES_GCM", { CKM_AES_GCM, &gcm, sizeof(gcm) }, true, true },
		{ "CKM_AES_CCM", { CKM_AES_CCM, &ccm, sizeof(ccm) }, true, true },
		{ "CKM_AES_KEY_WRAP", { CKM_AES_KEY_WRAP, NULL, 0 }, true, false },
		{ "CKM_AES_KEY_WRAP_KWP", { CKM_AES_KEY_WRAP_KWP, NULL, 0 }, true, true },
	};
	CK_BYTE value[32], *blob = NULL, *back = NULL;
	CK_ULONG blob_len, back_len;
	CK_OBJECT_HANDLE kek = CK_INVALID_HANDLE;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	ch_t_env e;
	size_t i, j;
	CK_RV rv;

	memset(&e, 0, sizeof(e));
	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_secret(h, CKK_AES, kek_value, 32, CH_T_WRAP, &kek), CKR_OK);
	for (i = 0; i < CH_T_ARRAY_LEN(cases); i++) {
		for (j = 0; j < CH_T_ARRAY_LEN(key_lens); j++) {
			CK_ULONG len = key_lens[j];

			REQUIRE_RV(P11->C_GenerateRandom(h, value, len), CKR_OK);
			ccm.ulDataLen = len; /* CCM: the key's length, given up front */
			rv = ch_t_wrap_secret(h, &cases[i].m, kek, value, len, &blob, &blob_len);
			if (!cases[i].any_length && len % 16 != 0 &&
			    cases[i].m.mechanism != CKM_AES_KEY_WRAP) {
				if (!CHECK_RV(rv, CKR_KEY_SIZE_RANGE))
					fprintf(stderr, "\t%s, %lu-byte key\n", cases[i].name, len);
				free(blob);
				blob = NULL;
				continue;
			}
			if (!CHECK_RV(rv, CKR_OK)) {
				fprintf(stderr, "\t%s, %lu-byte key: C_WrapKey\n", cases[i].name,
				        len);
				continue;
			}
			rv = ch_t_unwrap_secret(h, &cases[i].m, kek, blob, blob_len, &back,
			                        &back_len);
			if (!CHECK_RV(rv, CKR_OK) || !CHECK(ch_t_same(back, back_len, value, len)))
				fprintf(stderr, "\t%s, %lu-byte key: C_UnwrapKey\n", cases[i].name,
				        len);
			free(back);
			back = NULL;
			if (cases[i].authenticates) {
				blob[blob_len - 1] ^= 0x01;
				rv = ch_t_unwrap_secret(h, &cases[i].m, kek, blob, blob_len, &back,
				                        &back_len);
				if (!CHECK_RV(rv, CKR_WRAPPED_KEY_INVALID))
					fprintf(stderr, "\t%s, %lu-byte key: tampered\n",
					        cases[i].name, len);
				free(back);
				back = NULL;
			}
			free(blob);
			blob = NULL;
		}
	}
	/* Unwrapping lengths the mode cannot have come from. */
	REQUIRE(P11->C_GenerateRandom(h, value, 32) == CKR_OK);
	CHECK_RV(ch_t_unwrap_secret(h, &cases[0].m, kek, value, 20, &back, &back_len),
	         CKR_WRAPPED_KEY_LEN_RANGE);
	CHECK_RV(ch_t_unwrap_secret(h, &cases[6].m, kek, value, 20, &back, &back_len),
	         CKR_WRAPPED_KEY_LEN_RANGE);
	/* A key cannot be wrapped under a key that only encrypts. */
	{
		CK_OBJECT_HANDLE enc;

		REQUIRE_RV(ch_t_secret(h, CKK_AES, kek_value, 32, CH_T_ENC, &enc), CKR_OK);
		CHECK_RV(ch_t_wrap_secret(h, &cases[6].m, enc, value, 16, &blob, &blob_len),
		         CKR_KEY_FUNCTION_NOT_PERMITTED);
		free(blob);
		blob = NULL;
	}
out:
	free(blob);
	free(back);
	if (h != CK_INVALID_HANDLE)
		(void)P11->C_CloseSession(h);
	ch_t_env_free(&e);
}

int main(void)
{
	test_aes_modes_wrap_and_unwrap_keys();
	return ch_test_done();
}
