/*
 * Message-based encryption and decryption (PKCS#11 3.0 sections 5.9 and
 * 5.11) with AES-GCM: each message equals the single-part C_Encrypt of the
 * same IV and data, IVs are generated as the generator asks, tags go to
 * pTag and are checked on the way back, Begin/Next parts add up to the
 * whole message, and the operation's state rules hold.
 */
#include <string.h>

#include "check.h"
#include "module.h"

static const CK_BYTE key_value[32] = { 0xfe, 0xff, 0xe9, 0x92, 0x86, 0x65, 0x73, 0x1c,
	                               0x6d, 0x6a, 0x8f, 0x94, 0x67, 0x30, 0x83, 0x08,
	                               0xfe, 0xff, 0xe9, 0x92, 0x86, 0x65, 0x73, 0x1c,
	                               0x6d, 0x6a, 0x8f, 0x94, 0x67, 0x30, 0x83, 0x08 };
static const CK_BYTE text[45] = "forty-five bytes of message for the token...";
static CK_BYTE aad[7] = "headers";

typedef struct fixture {
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE key;
} fixture;

static bool setup(fixture *f)
{
	memset(f, 0, sizeof(*f));
	if (!ch_t_setup(&f->e))
		return false;
	REQUIRE_RV(ch_t_user_session(&f->e, true, &f->h), CKR_OK);
	REQUIRE_RV(ch_t_create_aes(f->h, false, true, true, false, "msg", key_value,
	                           sizeof(key_value), &f->key),
	           CKR_OK);
	return true;
out:
	return false;
}

static CK_MECHANISM gcm_msg = { CKM_AES_GCM, NULL, 0 };

static void msg_params(CK_GCM_MESSAGE_PARAMS *p, CK_BYTE *iv, CK_ULONG iv_len, CK_ULONG fixed,
                       CK_GENERATOR_FUNCTION gen, CK_BYTE *tag)
{
	p->pIv = iv;
	p->ulIvLen = iv_len;
	p->ulIvFixedBits = fixed;
	p->ivGenerator = gen;
	p->pTag = tag;
	p->ulTagBits = 128;
}

/* C_Encrypt with CKM_AES_GCM, for comparison: ct || tag into out. */
static CK_RV single_part(fixture *f, CK_BYTE *iv, CK_BYTE *out, CK_ULONG *len)
{
	CK_GCM_PARAMS p;
	CK_MECHANISM m;
	CK_RV rv;

	ch_t_gcm(&m, &p, iv, aad, sizeof(aad));
	if ((rv = P11->C_EncryptInit(f->h, &m, f->key)) != CKR_OK)
		return rv;
	return P11->C_Encrypt(f->h, (CK_BYTE_PTR)text, sizeof(text), out, len);
}

static void test_message_equals_single_part_gcm_and_decrypts_back(void)
{
	fixture f;
	CK_BYTE iv[12] = { 9, 8, 7, 6, 5, 4, 3, 2, 1 }, tag[16], ct[64], pt[64], ref[80];
	CK_ULONG n = 0, rn = sizeof(ref), pn;
	CK_GCM_MESSAGE_PARAMS p;

	REQUIRE(setup(&f));
	REQUIRE_RV(single_part(&f, iv, ref, &rn), CKR_OK);
	REQUIRE_RV(P11->C_MessageEncryptInit(f.h, &gcm_msg, f.key), CKR_OK);
	msg_params(&p, iv, sizeof(iv), 0, CKG_NO_GENERATE, tag);
	CHECK_RV(P11->C_EncryptMessage(f.h, &p, sizeof(p), aad, sizeof(aad), (CK_BYTE_PTR)text,
	                               sizeof(text), NULL, &n),
	         CKR_OK);
	CHECK_UL(n, sizeof(text));
	n = 4;
	CHECK_RV(P11->C_EncryptMessage(f.h, &p, sizeof(p), aad, sizeof(aad), (CK_BYTE_PTR)text,
	                               sizeof(text), ct, &n),
	         CKR_BUFFER_TOO_SMALL);
	n = sizeof(ct);
	REQUIRE_RV(P11->C_EncryptMessage(f.h, &p, sizeof(p), aad, sizeof(aad), (CK_BYTE_PTR)text,
	                                 sizeof(text), ct, &n),
	           CKR_OK);
	CHECK_UL(n, sizeof(text));
	CHECK(rn == n + 16 && memcmp(ref, ct, n) == 0 && memcmp(ref + n, tag, 16) == 0);
	CHECK_RV(P11->C_MessageEncryptFinal(f.h), CKR_OK);
	CHECK_RV(P11->C_MessageEncryptFinal(f.h), CKR_OPERATION_NOT_INITIALIZED);

	REQUIRE_RV(P11->C_MessageDecryptInit(f.h, &gcm_msg, f.key), CKR_OK);
	pn = sizeof(pt);
	CHECK_RV(P11->C_DecryptMessage(f.h, &p, sizeof(p), aad, sizeof(aad), ct, n, pt, &pn),
	         CKR_OK);
	CHECK(pn == sizeof(text) && memcmp(pt, text, pn) == 0);
	/* A wrong tag, or wrong associated data: nothing comes out. */
	tag[0] ^= 1;
	pn = sizeof(pt);
	memset(pt, 0xaa, sizeof(pt));
	CHECK_RV(P11->C_DecryptMessage(f.h, &p, sizeof(p), aad, sizeof(aad), ct, n, pt, &pn),
	         CKR_ENCRYPTED_DATA_INVALID);
	CHECK(!ch_t_contains(pt, sizeof(pt), text, 8));
	tag[0] ^= 1;
	pn = sizeof(pt);
	CHECK_RV(P11->C_DecryptMessage(f.h, &p, sizeof(p), aad, 3, ct, n, pt, &pn),
	         CKR_ENCRYPTED_DATA_INVALID);
	/* The operation outlives a failed message. */
	pn = sizeof(pt);
	CHECK_RV(P11->C_DecryptMessage(f.h, &p, sizeof(p), aad, sizeof(aad), ct, n, pt, &pn),
	         CKR_OK);
	CHECK_RV(P11->C_MessageDecryptFinal(f.h), CKR_OK);
out:
	ch_t_env_free(&f.e);
}

static void test_message_ivs_are_generated_as_asked(void)
{
	fixture f;
	CK_BYTE iv1[12] = { 0xca, 0xfe, 0xba, 0xbe }, iv2[12] = { 0xca, 0xfe, 0xba, 0xbe };
	CK_BYTE iv3[12] = { 1, 2, 3, 4 }, iv4[12] = { 1, 2, 3, 4 }, tag[16], ct[64], pt[64];
	CK_ULONG n = sizeof(ct), pn = sizeof(pt);
	CK_GCM_MESSAGE_PARAMS p;

	REQUIRE(setup(&f));
	REQUIRE_RV(P11->C_MessageEncryptInit(f.h, &gcm_msg, f.key), CKR_OK);
	msg_params(&p, iv1, 12, 32, CKG_GENERATE_RANDOM, tag);
	REQUIRE_RV(P11->C_EncryptMessage(f.h, &p, sizeof(p), NULL, 0, (CK_BYTE_PTR)text,
	                                 sizeof(text), ct, &n),
	           CKR_OK);
	msg_params(&p, iv2, 12, 32, CKG_GENERATE_RANDOM, tag);
	n = sizeof(ct);
	REQUIRE_RV(P11->C_EncryptMessage(f.h, &p, sizeof(p), NULL, 0, (CK_BYTE_PTR)text,
	                                 sizeof(text), ct, &n),
	           CKR_OK);
	/* The fixed part is kept, the rest is new each time. */
	CHECK(memcmp(iv1, "\xca\xfe\xba\xbe", 4) == 0 && memcmp(iv2, "\xca\xfe\xba\xbe", 4) == 0);
	CHECK(memcmp(iv1 + 4, iv2 + 4, 8) != 0);

	msg_params(&p, iv3, 12, 32, CKG_GENERATE_COUNTER, tag);
	n = sizeof(ct);
	REQUIRE_RV(P11->C_EncryptMessage(f.h, &p, sizeof(p), NULL, 0, (CK_BYTE_PTR)text,
	                                 sizeof(text), ct, &n),
	           CKR_OK);
	msg_params(&p, iv4, 12, 32, CKG_GENERATE_COUNTER, tag);
	n = sizeof(ct);
	REQUIRE_RV(P11->C_EncryptMessage(f.h, &p, sizeof(p), NULL, 0, (CK_BYTE_PTR)text,
	                                 sizeof(text), ct, &n),
	           CKR_OK);
	CHECK(memcmp(iv3, iv4, 4) == 0 && memcmp(iv3, "\x01\x02\x03\x04", 4) == 0);
	/* Consecutive counters: iv4 = iv3 + 1 in the free 64 bits. */
	CK_BYTE next[12];
	memcpy(next, iv3, 12);
	for (int i = 11; i >= 4 && ++next[i] == 0; i--)
		;
	CHECK(memcmp(next, iv4, 12) == 0);

	/* The generated IV is what decryption needs. */
	REQUIRE_RV(P11->C_MessageDecryptInit(f.h, &gcm_msg, f.key), CKR_OK);
	CHECK_RV(P11->C_DecryptMessage(f.h, &p, sizeof(p), NULL, 0, ct, n, pt, &pn), CKR_OK);
	CHECK(pn == sizeof(text) && memcmp(pt, text, pn) == 0);

	/* A fixed part as long as the IV leaves nothing to generate. */
	msg_params(&p, iv1, 12, 96, CKG_GENERATE_RANDOM, tag);
	n = sizeof(ct);
	CHECK_RV(P11->C_EncryptMessage(f.h, &p, sizeof(p), NULL, 0, (CK_BYTE_PTR)text, sizeof(text),
	                               ct, &n),
	         CKR_MECHANISM_PARAM_INVALID);
out:
	ch_t_env_free(&f.e);
}

static void test_message_parts_add_up_to_the_message(void)
{
	fixture f;
	CK_BYTE iv[12] = { 7 }, tag[16], whole[64], parts[64], pt[64], tag1[16];
	CK_ULONG n = sizeof(whole), got = 0, k, pn;
	CK_GCM_MESSAGE_PARAMS p;

	REQUIRE(setup(&f));
	REQUIRE_RV(P11->C_MessageEncryptInit(f.h, &gcm_msg, f.key), CKR_OK);
	msg_params(&p, iv, 12, 0, CKG_NO_GENERATE, tag1);
	REQUIRE_RV(P11->C_EncryptMessage(f.h, &p, sizeof(p), aad, sizeof(aad), (CK_BYTE_PTR)text,
	                                 sizeof(text), whole, &n),
	           CKR_OK);
	msg_params(&p, iv, 12, 0, CKG_NO_GENERATE, tag);
	REQUIRE_RV(P11->C_EncryptMessageBegin(f.h, &p, sizeof(p), aad, sizeof(aad)), CKR_OK);
	/* A whole message cannot start while one is open. */
	k = sizeof(parts);
	CHECK_RV(
	        P11->C_EncryptMessage(f.h, &p, sizeof(p), NULL, 0, (CK_BYTE_PTR)text, 4, parts, &k),
	        CKR_OPERATION_ACTIVE);
	for (CK_ULONG off = 0; off < sizeof(text); off += k) {
		CK_ULONG part = sizeof(text) - off < 10 ? sizeof(text) - off : 10;
		bool last = off + part == sizeof(text);

		k = sizeof(parts) - got;
		REQUIRE_RV(P11->C_EncryptMessageNext(f.h, &p, sizeof(p), (CK_BYTE_PTR)text + off,
		                                     part, parts + got, &k,
		                                     last ? CKF_END_OF_MESSAGE : 0),
		           CKR_OK);
		CHECK_UL(k, part);
		got += k;
		k = part;
	}
	CHECK(got == n && memcmp(parts, whole, n) == 0 && memcmp(tag, tag1, 16) == 0);
	CHECK_RV(P11->C_MessageEncryptFinal(f.h), CKR_OK);

	/* Decryption in parts: nothing before the last part, then all of it. */
	REQUIRE_RV(P11->C_MessageDecryptInit(f.h, &gcm_msg, f.key), CKR_OK);
	REQUIRE_RV(P11->C_DecryptMessageBegin(f.h, &p, sizeof(p), aad, sizeof(aad)), CKR_OK);
	pn = sizeof(pt);
	REQUIRE_RV(P11->C_DecryptMessageNext(f.h, &p, sizeof(p), whole, 20, pt, &pn, 0), CKR_OK);
	CHECK_UL(pn, 0);
	pn = 0;
	CHECK_RV(P11->C_DecryptMessageNext(f.h, &p, sizeof(p), whole + 20, n - 20, NULL, &pn,
	                                   CKF_END_OF_MESSAGE),
	         CKR_OK);
	CHECK_UL(pn, n);
	pn = sizeof(pt);
	CHECK_RV(P11->C_DecryptMessageNext(f.h, &p, sizeof(p), whole + 20, n - 20, pt, &pn,
	                                   CKF_END_OF_MESSAGE),
	         CKR_OK);
	CHECK(pn == sizeof(text) && memcmp(pt, text, pn) == 0);
	pn = sizeof(pt);
	CHECK_RV(P11->C_DecryptMessageNext(f.h, &p, sizeof(p), whole, 1, pt, &pn, 0),
	         CKR_OPERATION_NOT_INITIALIZED);
out:
	ch_t_env_free(&f.e);
}

static void test_message_operation_state_and_bad_input(void)
{
	fixture f;
	CK_BYTE iv[12] = { 0 }, tag[16], ct[64];
	CK_ULONG n = sizeof(ct);
	CK_GCM_MESSAGE_PARAMS p;
	CK_GCM_PARAMS gp;
	CK_MECHANISM with_param = { CKM_AES_GCM, &gp, sizeof(gp) };
	CK_MECHANISM keygen = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_OBJECT_HANDLE dec_only;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),
		CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_BOOL(CKA_DECRYPT, true),
		CH_T_ATTR(CKA_VALUE, key_value, 16),
	};

	REQUIRE(setup(&f));
	msg_params(&p, iv, 12, 0, CKG_NO_GENERATE, tag);
	CHECK_RV(P11->C_EncryptMessage(f.h, &p, sizeof(p), NULL, 0, (CK_BYTE_PTR)text, 4, ct, &n),
	         CKR_OPERATION_NOT_INITIALIZED);
	CHECK_RV(P11->C_MessageEncryptInit(f.h, &with_param, f.key), CKR_MECHANISM_PARAM_INVALID);
	CHECK_RV(P11->C_MessageEncryptInit(f.h, &keygen, f.key), CKR_MECHANISM_INVALID);
	CHECK_RV(P11->C_MessageEncryptInit(f.h, &gcm_msg, 0xbad), CKR_KEY_HANDLE_INVALID);
	CHECK_RV(P11->C_MessageEncryptInit(f.h, NULL, f.key), CKR_ARGUMENTS_BAD);
	REQUIRE_RV(P11->C_CreateObject(f.h, t, CH_T_ARRAY_LEN(t), &dec_only), CKR_OK);
	CHECK_RV(P11->C_MessageEncryptInit(f.h, &gcm_msg, dec_only),
	         CKR_KEY_FUNCTION_NOT_PERMITTED);
	CHECK_RV(P11->C_MessageDecryptInit(f.h, &gcm_msg, dec_only), CKR_OK);

	REQUIRE_RV(P11->C_MessageEncryptInit(f.h, &gcm_msg, f.key), CKR_OK);
	CHECK_RV(P11->C_MessageEncryptInit(f.h, &gcm_msg, f.key), CKR_OPERATION_ACTIVE);
	CHECK_RV(P11->C_EncryptMessage(f.h, NULL, 0, NULL, 0, (CK_BYTE_PTR)text, 4, ct, &n),
	         CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_EncryptMessage(f.h, &p, sizeof(p) - 1, NULL, 0, (CK_BYTE_PTR)text, 4, ct,
	                               &n),
	         CKR_MECHANISM_PARAM_INVALID);
	p.ulTagBits = 130;
	CHECK_RV(P11->C_EncryptMessage(f.h, &p, sizeof(p), NULL, 0, (CK_BYTE_PTR)text, 4, ct, &n),
	         CKR_MECHANISM_PARAM_INVALID);
	p.ulTagBits = 128;
	CHECK_RV(P11->C_EncryptMessageNext(f.h, &p, sizeof(p), (CK_BYTE_PTR)text, 4, ct, &n, 0),
	         CKR_OPERATION_NOT_INITIALIZED);
	/* Logged out, the key is gone from the operation's reach. */
	REQUIRE_RV(P11->C_MessageEncryptFinal(f.h), CKR_OK);
	REQUIRE_RV(P11->C_Logout(f.h), CKR_OK);
	CHECK_RV(P11->C_MessageEncryptInit(f.h, &gcm_msg, f.key), CKR_USER_NOT_LOGGED_IN);
out:
	ch_t_env_free(&f.e);
}

static const ch_t_case tests[] = {
	CH_T_CASE(test_message_equals_single_part_gcm_and_decrypts_back),
	CH_T_CASE(test_message_ivs_are_generated_as_asked),
	CH_T_CASE(test_message_parts_add_up_to_the_message),
	CH_T_CASE(test_message_operation_state_and_bad_input),
};

int main(void)
{
	return ch_t_run(tests, CH_T_ARRAY_LEN(tests));
}
