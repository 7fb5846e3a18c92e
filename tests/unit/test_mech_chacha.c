/*
 * The ChaCha20 family (token/mech_chacha.c) through the module:
 * CKM_CHACHA20_KEY_GEN, CKM_CHACHA20_POLY1305 against every vector of
 * Wycheproof's chacha20_poly1305_test.json (keys imported with
 * C_CreateObject), the 12-byte nonce rule, decryption that releases
 * nothing before the tag is checked, the message-based API, the plain
 * CKM_CHACHA20 stream against RFC 8439 section 2.4.2 with its counter
 * rules, and the mechanism information.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p11_crypt.h"
#include "vectors.h"
#include "wycheproof_run.h"

#define NONCE 12
#define TAG   16

static void chacha_mech(CK_MECHANISM *m, CK_SALSA20_CHACHA20_POLY1305_PARAMS *p,
                        const CK_BYTE *nonce, CK_ULONG nonce_len, const CK_BYTE *aad,
                        CK_ULONG aad_len)
{
	memset(p, 0, sizeof(*p));
	p->pNonce = (CK_BYTE_PTR)nonce;
	p->ulNonceLen = nonce_len;
	p->pAAD = (CK_BYTE_PTR)aad;
	p->ulAADLen = aad_len;
	m->mechanism = CKM_CHACHA20_POLY1305;
	m->pParameter = p;
	m->ulParameterLen = sizeof(*p);
}

static void chacha_vec(CK_SESSION_HANDLE h, const json_t *g, const json_t *t, counts *c)
{
	vec_bytes key = { 0 }, iv = { 0 }, aad = { 0 }, msg = { 0 }, ct = { 0 }, tag = { 0 };
	vec_bytes ctt = { 0 };
	CK_OBJECT_HANDLE k = CK_INVALID_HANDLE;
	CK_SALSA20_CHACHA20_POLY1305_PARAMS p;
	CK_MECHANISM m;
	CK_RV rv, rv2;

	(void)g;
	if (!vec_hex(t, "key", &key) || !vec_hex(t, "iv", &iv) || !vec_hex(t, "aad", &aad) ||
	    !vec_hex(t, "msg", &msg) || !vec_hex(t, "ct", &ct) || !vec_hex(t, "tag", &tag)) {
		miss(c, t, "vector decoding", CKR_OK);
		goto out;
	}
	ctt.len = ct.len + tag.len;
	if ((ctt.p = malloc(ctt.len + 1)) == NULL) {
		miss(c, t, "malloc", CKR_HOST_MEMORY);
		goto out;
	}
	memcpy(ctt.p, ct.p, ct.len);
	memcpy(ctt.p + ct.len, tag.p, tag.len);
	rv = ch_t_secret(h, CKK_CHACHA20, key.p, key.len, CH_T_ENC | CH_T_DEC, &k);
	if (rv != CKR_OK) {
		miss(c, t, "C_CreateObject", rv);
		goto out;
	}
	chacha_mech(&m, &p, iv.p, iv.len, aad.p, aad.len);
	if (iv.len != NONCE) {
		rv = P11->C_EncryptInit(h, &m, k);
		rv2 = P11->C_DecryptInit(h, &m, k);
		if (rv != CKR_MECHANISM_PARAM_INVALID || rv2 != CKR_MECHANISM_PARAM_INVALID ||
		    !is_result(t, "invalid"))
			miss(c, t, "C_EncryptInit/C_DecryptInit with a nonce not 12 bytes long",
			     rv != CKR_MECHANISM_PARAM_INVALID ? rv : rv2);
		else
			c->invalid++;
		goto out;
	}
	aead_vector(h, &m, k, &msg, &ctt, c, t);
out:
	if (k != CK_INVALID_HANDLE)
		(void)P11->C_DestroyObject(h, k);
	vec_bytes_free(&key);
	vec_bytes_free(&iv);
	vec_bytes_free(&aad);
	vec_bytes_free(&msg);
	vec_bytes_free(&ct);
	vec_bytes_free(&tag);
	vec_bytes_free(&ctt);
}

static void test_wycheproof_chacha20_poly1305(void)
{
	counts c;

	run_file("chacha20_poly1305_test.json", chacha_vec, &c);
	CHECK(c.valid > 250 && c.invalid > 60);
}

static void test_chacha_mechanism_info(void)
{
	ch_t_env e;
	CK_MECHANISM_INFO info;

	memset(&e, 0, sizeof(e));
	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(P11->C_GetMechanismInfo(e.slot, CKM_CHACHA20_KEY_GEN, &info), CKR_OK);
	CHECK_UL(info.ulMinKeySize, 32);
	CHECK_UL(info.ulMaxKeySize, 32);
	CHECK_UL(info.flags, CKF_GENERATE);
	REQUIRE_RV(P11->C_GetMechanismInfo(e.slot, CKM_CHACHA20_POLY1305, &info), CKR_OK);
	CHECK_UL(info.ulMinKeySize, 32);
	CHECK_UL(info.ulMaxKeySize, 32);
	CHECK_UL(info.flags, CKF_ENCRYPT | CKF_DECRYPT | CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT);
out:
	ch_t_env_free(&e);
}

/* Generated keys: 32 bytes, the attributes a generated key gets, usable at
 * once; a CKA_VALUE_LEN other than 32 is refused. */
static void test_chacha_keygen(void)
{
	CK_MECHANISM gen = { CKM_CHACHA20_KEY_GEN, NULL, 0 };
	CK_ULONG len32 = 32, len16 = 16, got, n = 0;
	CK_ATTRIBUTE t[] = {
		CH_T_BOOL(CKA_ENCRYPT, true),
		CH_T_BOOL(CKA_DECRYPT, true),
		CH_T_BOOL(CKA_EXTRACTABLE, true),
	};
	CK_ATTRIBUTE t32[] = {
		CH_T_ULONG(CKA_VALUE_LEN, &len32),
		CH_T_BOOL(CKA_ENCRYPT, true),
	};
	CK_ATTRIBUTE t16[] = {
		CH_T_ULONG(CKA_VALUE_LEN, &len16),
		CH_T_BOOL(CKA_ENCRYPT, true),
	};
	CK_BYTE v1[64], v2[64], nonce[NONCE] = { 1 }, msg[40] = { 7 };
	CK_BYTE *ct = NULL, *pt = NULL;
	CK_ULONG l1 = sizeof(v1), l2 = sizeof(v2), ctn = 0, ptn = 0;
	CK_KEY_TYPE kt = 0;
	CK_MECHANISM_TYPE km = 0;
	CK_SALSA20_CHACHA20_POLY1305_PARAMS p;
	CK_MECHANISM m;
	CK_OBJECT_HANDLE k1 = CK_INVALID_HANDLE, k2 = CK_INVALID_HANDLE, k3;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	ch_t_env e;

	memset(&e, 0, sizeof(e));
	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(P11->C_GenerateKey(h, &gen, t, CH_T_ARRAY_LEN(t), &k1), CKR_OK);
	REQUIRE_RV(P11->C_GenerateKey(h, &gen, t32, CH_T_ARRAY_LEN(t32), &k2), CKR_OK);
	CHECK_RV(P11->C_GenerateKey(h, &gen, t16, CH_T_ARRAY_LEN(t16), &k3), CKR_KEY_SIZE_RANGE);
	gen.pParameter = msg;
	gen.ulParameterLen = 4;
	CHECK_RV(P11->C_GenerateKey(h, &gen, t, CH_T_ARRAY_LEN(t), &k3),
	         CKR_MECHANISM_PARAM_INVALID);

	CHECK_RV(ch_t_get(h, k1, CKA_VALUE, v1, &l1), CKR_OK);
	CHECK_RV(ch_t_get(h, k2, CKA_VALUE, v2, &l2), CKR_OK);
	CHECK_UL(l1, 32);
	CHECK_UL(l2, 32);
	CHECK(memcmp(v1, v2, 32) != 0);
	got = sizeof(n);
	CHECK_RV(ch_t_get(h, k1, CKA_VALUE_LEN, &n, &got), CKR_OK);
	CHECK_UL(n, 32);
	got = sizeof(kt);
	CHECK_RV(ch_t_get(h, k1, CKA_KEY_TYPE, &kt, &got), CKR_OK);
	CHECK_UL(kt, CKK_CHACHA20);
	got = sizeof(km);
	CHECK_RV(ch_t_get(h, k1, CKA_KEY_GEN_MECHANISM, &km, &got), CKR_OK);
	CHECK_UL(km, CKM_CHACHA20_KEY_GEN);
	CHECK(ch_t_get_bool(h, k1, CKA_LOCAL) == 1);

	/* The key works, both ways. */
	chacha_mech(&m, &p, nonce, NONCE, NULL, 0);
	CHECK_RV(ch_t_crypt(h, true, &m, k1, msg, sizeof(msg), &ct, &ctn), CKR_OK);
	CHECK_UL(ctn, sizeof(msg) + TAG);
	CHECK_RV(ch_t_crypt(h, false, &m, k1, ct, ctn, &pt, &ptn), CKR_OK);
	CHECK(ch_t_same(pt, ptn, msg, sizeof(msg)));
out:
	free(ct);
	free(pt);
	if (h != CK_INVALID_HANDLE)
		(void)P11->C_CloseSession(h);
	ch_t_env_free(&e);
}

/* The nonce must be exactly 12 bytes (OpenSSL itself would pad a short
 * one); other parameter faults; keys of another size or type. */
static void test_chacha_parameter_and_key_errors(void)
{
	static const CK_BYTE key[32] = { 0x42 }, nonce[16] = { 0 };
	static const CK_ULONG bad_nonces[] = { 0, 1, 8, 11, 13, 16 };
	CK_SALSA20_CHACHA20_POLY1305_PARAMS p;
	CK_MECHANISM m;
	CK_OBJECT_HANDLE k = CK_INVALID_HANDLE, bad, aes = CK_INVALID_HANDLE;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	ch_t_env e;
	size_t i;

	memset(&e, 0, sizeof(e));
	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_secret(h, CKK_CHACHA20, key, 32, CH_T_ENC | CH_T_DEC, &k), CKR_OK);
	CHECK_RV(ch_t_secret(h, CKK_CHACHA20, key, 16, CH_T_ENC, &bad),
	         CKR_ATTRIBUTE_VALUE_INVALID);
	CHECK_RV(ch_t_secret(h, CKK_CHACHA20, key, 31, CH_T_ENC, &bad),
	         CKR_ATTRIBUTE_VALUE_INVALID);
	for (i = 0; i < CH_T_ARRAY_LEN(bad_nonces); i++) {
		chacha_mech(&m, &p, nonce, bad_nonces[i], NULL, 0);
		if (!CHECK_RV(P11->C_EncryptInit(h, &m, k), CKR_MECHANISM_PARAM_INVALID) ||
		    !CHECK_RV(P11->C_DecryptInit(h, &m, k), CKR_MECHANISM_PARAM_INVALID))
			fprintf(stderr, "\tnonce of %lu bytes\n", bad_nonces[i]);
	}
	chacha_mech(&m, &p, NULL, NONCE, NULL, 0);
	CHECK_RV(P11->C_EncryptInit(h, &m, k), CKR_MECHANISM_PARAM_INVALID);
	chacha_mech(&m, &p, nonce, NONCE, NULL, 3);
	CHECK_RV(P11->C_EncryptInit(h, &m, k), CKR_MECHANISM_PARAM_INVALID);
	chacha_mech(&m, &p, nonce, NONCE, NULL, 0);
	m.ulParameterLen = sizeof(p) - 1;
	CHECK_RV(P11->C_EncryptInit(h, &m, k), CKR_MECHANISM_PARAM_INVALID);
	m.pParameter = NULL;
	m.ulParameterLen = 0;
	CHECK_RV(P11->C_EncryptInit(h, &m, k), CKR_MECHANISM_PARAM_INVALID);

	/* An AES key does not do ChaCha20. */
	REQUIRE_RV(ch_t_secret(h, CKK_AES, key, 32, CH_T_ENC, &aes), CKR_OK);
	chacha_mech(&m, &p, nonce, NONCE, NULL, 0);
	CHECK_RV(P11->C_EncryptInit(h, &m, aes), CKR_KEY_TYPE_INCONSISTENT);
	/* Nor does a ChaCha20 key sign. */
	CHECK_RV(P11->C_SignInit(h, &m, k), CKR_MECHANISM_INVALID);
out:
	if (h != CK_INVALID_HANDLE)
		(void)P11->C_CloseSession(h);
	ch_t_env_free(&e);
}

/* Multi-part decryption returns nothing from its updates; a bad tag
 * leaves the output wiped and answers CKR_ENCRYPTED_DATA_INVALID. */
static void test_chacha_decrypt_holds_plaintext_until_tag(void)
{
	static const CK_BYTE key[32] = { 9, 8, 7 }, nonce[NONCE] = { 3 }, aad[5] = "head";
	CK_BYTE msg[300], out[400];
	CK_BYTE *ct = NULL;
	CK_ULONG ctn = 0, n;
	CK_SALSA20_CHACHA20_POLY1305_PARAMS p;
	CK_MECHANISM m;
	CK_OBJECT_HANDLE k;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	ch_t_env e;
	size_t i;

	memset(&e, 0, sizeof(e));
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (CK_BYTE)(i * 7 + 1);
	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_secret(h, CKK_CHACHA20, key, 32, CH_T_ENC | CH_T_DEC, &k), CKR_OK);
	chacha_mech(&m, &p, nonce, NONCE, aad, sizeof(aad));
	REQUIRE_RV(ch_t_crypt(h, true, &m, k, msg, sizeof(msg), &ct, &ctn), CKR_OK);
	REQUIRE(ctn == sizeof(msg) + TAG);

	REQUIRE_RV(P11->C_DecryptInit(h, &m, k), CKR_OK);
	memset(out, 0, sizeof(out));
	n = sizeof(out);
	CHECK_RV(P11->C_DecryptUpdate(h, ct, 200, out, &n), CKR_OK);
	CHECK_UL(n, 0);
	n = sizeof(out);
	CHECK_RV(P11->C_DecryptUpdate(h, ct + 200, ctn - 200, out, &n), CKR_OK);
	CHECK_UL(n, 0);
	n = sizeof(out);
	CHECK_RV(P11->C_DecryptFinal(h, out, &n), CKR_OK);
	CHECK(ch_t_same(out, n, msg, sizeof(msg)));

	ct[ctn - 1] ^= 0x80;
	memset(out, 0x5a, sizeof(out));
	n = sizeof(out);
	REQUIRE_RV(P11->C_DecryptInit(h, &m, k), CKR_OK);
	CHECK_RV(P11->C_Decrypt(h, ct, ctn, out, &n), CKR_ENCRYPTED_DATA_INVALID);
	for (i = 0; i < sizeof(msg); i++)
		if (out[i] != 0)
			break;
	CHECK_UL(i, sizeof(msg));
	/* A different AAD fails the same way. */
	ct[ctn - 1] ^= 0x80;
	chacha_mech(&m, &p, nonce, NONCE, aad, sizeof(aad) - 1);
	n = sizeof(out);
	REQUIRE_RV(P11->C_DecryptInit(h, &m, k), CKR_OK);
	CHECK_RV(P11->C_Decrypt(h, ct, ctn, out, &n), CKR_ENCRYPTED_DATA_INVALID);
	/* Shorter than a tag. */
	n = sizeof(out);
	REQUIRE_RV(P11->C_DecryptInit(h, &m, k), CKR_OK);
	CHECK_RV(P11->C_Decrypt(h, ct, TAG - 1, out, &n), CKR_ENCRYPTED_DATA_LEN_RANGE);
out:
	free(ct);
	if (h != CK_INVALID_HANDLE)
		(void)P11->C_CloseSession(h);
	ch_t_env_free(&e);
}

/* The message-based API (C_EncryptMessage, C_DecryptMessage) gives what
 * the single-part calls give, with the tag in pTag; a wrong tag fails. */
static void test_chacha_message_api_matches_single_part(void)
{
	static const CK_BYTE key[32] = { 0x11, 0x22 }, aad[9] = "envelope";
	CK_BYTE nonce[NONCE] = { 0xa0, 1, 2 }, msg[77], tag[TAG], ct[100], pt[100];
	CK_BYTE *one = NULL;
	CK_ULONG onen = 0, n, pn;
	CK_SALSA20_CHACHA20_POLY1305_PARAMS p;
	CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS mp = { nonce, NONCE, tag };
	CK_MECHANISM m, mm = { CKM_CHACHA20_POLY1305, NULL, 0 };
	CK_OBJECT_HANDLE k;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	ch_t_env e;
	size_t i;

	memset(&e, 0, sizeof(e));
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (CK_BYTE)(i ^ 0x5c);
	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_secret(h, CKK_CHACHA20, key, 32, CH_T_ENC | CH_T_DEC, &k), CKR_OK);
	chacha_mech(&m, &p, nonce, NONCE, aad, sizeof(aad));
	REQUIRE_RV(ch_t_crypt(h, true, &m, k, msg, sizeof(msg), &one, &onen), CKR_OK);
	REQUIRE(onen == sizeof(msg) + TAG);

	REQUIRE_RV(P11->C_MessageEncryptInit(h, &mm, k), CKR_OK);
	n = sizeof(ct);
	CHECK_RV(P11->C_EncryptMessage(h, &mp, sizeof(mp), (CK_BYTE_PTR)aad, sizeof(aad), msg,
	                               sizeof(msg), ct, &n),
	         CKR_OK);
	CHECK(ch_t_same(ct, n, one, sizeof(msg)));
	CHECK(memcmp(tag, one + sizeof(msg), TAG) == 0);
	CHECK_RV(P11->C_MessageEncryptFinal(h), CKR_OK);

	REQUIRE_RV(P11->C_MessageDecryptInit(h, &mm, k), CKR_OK);
	pn = sizeof(pt);
	CHECK_RV(P11->C_DecryptMessage(h, &mp, sizeof(mp), (CK_BYTE_PTR)aad, sizeof(aad), ct, n, pt,
	                               &pn),
	         CKR_OK);
	CHECK(ch_t_same(pt, pn, msg, sizeof(msg)));
	tag[3] ^= 1;
	pn = sizeof(pt);
	CHECK_RV(P11->C_DecryptMessage(h, &mp, sizeof(mp), (CK_BYTE_PTR)aad, sizeof(aad), ct, n, pt,
	                               &pn),
	         CKR_ENCRYPTED_DATA_INVALID);
	/* The 12-byte nonce rule holds here too. */
	mp.ulNonceLen = 8;
	pn = sizeof(pt);
	CHECK_RV(P11->C_DecryptMessage(h, &mp, sizeof(mp), (CK_BYTE_PTR)aad, sizeof(aad), ct, n, pt,
	                               &pn),
	         CKR_MECHANISM_PARAM_INVALID);
	CHECK_RV(P11->C_MessageDecryptFinal(h), CKR_OK);
out:
	free(one);
	if (h != CK_INVALID_HANDLE)
		(void)P11->C_CloseSession(h);
	ch_t_env_free(&e);
}

static void chacha20_mech(CK_MECHANISM *m, CK_CHACHA20_PARAMS *p, CK_BYTE *ctr, CK_ULONG ctr_bits,
                          CK_BYTE *nonce, CK_ULONG nonce_bits)
{
	p->pBlockCounter = ctr;
	p->blockCounterBits = ctr_bits;
	p->pNonce = nonce;
	p->ulNonceBits = nonce_bits;
	m->mechanism = CKM_CHACHA20;
	m->pParameter = p;
	m->ulParameterLen = sizeof(*p);
}

/* RFC 8439 section 2.4.2: the "sunscreen" example, counter 1. */
static void test_chacha20_rfc8439_and_counter_rules(void)
{
	static const char pt[] = "Ladies and Gentlemen of the class of '99: If I could offer you "
	                         "only one tip for the future, sunscreen would be it.";
	static const CK_BYTE want[114] = {
		0x6e, 0x2e, 0x35, 0x9a, 0x25, 0x68, 0xf9, 0x80, 0x41, 0xba, 0x07, 0x28, 0xdd,
		0x0d, 0x69, 0x81, 0xe9, 0x7e, 0x7a, 0xec, 0x1d, 0x43, 0x60, 0xc2, 0x0a, 0x27,
		0xaf, 0xcc, 0xfd, 0x9f, 0xae, 0x0b, 0xf9, 0x1b, 0x65, 0xc5, 0x52, 0x47, 0x33,
		0xab, 0x8f, 0x59, 0x3d, 0xab, 0xcd, 0x62, 0xb3, 0x57, 0x16, 0x39, 0xd6, 0x24,
		0xe6, 0x51, 0x52, 0xab, 0x8f, 0x53, 0x0c, 0x35, 0x9f, 0x08, 0x61, 0xd8, 0x07,
		0xca, 0x0d, 0xbf, 0x50, 0x0d, 0x6a, 0x61, 0x56, 0xa3, 0x8e, 0x08, 0x8a, 0x22,
		0xb6, 0x5e, 0x52, 0xbc, 0x51, 0x4d, 0x16, 0xcc, 0xf8, 0x06, 0x81, 0x8c, 0xe9,
		0x1a, 0xb7, 0x79, 0x37, 0x36, 0x5a, 0xf9, 0x0b, 0xbf, 0x74, 0xa3, 0x5b, 0xe6,
		0xb4, 0x0b, 0x8e, 0xed, 0xf2, 0x78, 0x5e, 0x42, 0x87, 0x4d,
	};
	static const size_t chunks[] = { 1, 7, 63, 64, 65 };
	CK_BYTE key[32], ctr[8] = { 1 }, nonce[12] = { 0, 0, 0, 0, 0, 0, 0, 0x4a };
	CK_BYTE ctr64[8] = { 1 }, nonce64[8] = { 0, 0, 0, 0x4a }, zeros[200] = { 0 };
	CK_BYTE *out = NULL;
	CK_ULONG n = 0;
	CK_CHACHA20_PARAMS p;
	CK_MECHANISM m;
	CK_MECHANISM_INFO info;
	CK_OBJECT_HANDLE k;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	ch_t_env e;
	size_t i;

	memset(&e, 0, sizeof(e));
	for (i = 0; i < 32; i++)
		key[i] = (CK_BYTE)i;
	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(P11->C_GetMechanismInfo(e.slot, CKM_CHACHA20, &info), CKR_OK);
	CHECK_UL(info.ulMinKeySize, 32);
	CHECK_UL(info.ulMaxKeySize, 32);
	CHECK_UL(info.flags, CKF_ENCRYPT | CKF_DECRYPT);
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_secret(h, CKK_CHACHA20, key, 32, CH_T_ENC | CH_T_DEC, &k), CKR_OK);

	chacha20_mech(&m, &p, ctr, 32, nonce, 96);
	CHECK_RV(ch_t_crypt(h, true, &m, k, (const CK_BYTE *)pt, 114, &out, &n), CKR_OK);
	CHECK(ch_t_same(out, n, want, 114));
	free(out);
	out = NULL;
	CHECK_RV(ch_t_crypt(h, false, &m, k, want, 114, &out, &n), CKR_OK);
	CHECK(ch_t_same(out, n, (const CK_BYTE *)pt, 114));
	free(out);
	out = NULL;
	for (i = 0; i < CH_T_ARRAY_LEN(chunks); i++) {
		if (!CHECK_RV(ch_t_crypt_parts(h, true, &m, k, (const CK_BYTE *)pt, 114, chunks[i],
		                               &out, &n),
		              CKR_OK) ||
		    !CHECK(ch_t_same(out, n, want, 114)))
			fprintf(stderr, "\tCKM_CHACHA20 in chunks of %zu\n", chunks[i]);
		free(out);
		out = NULL;
	}
	/* The 64-bit counter and nonce over the same 16 bytes of state give
	 * the same stream. */
	chacha20_mech(&m, &p, ctr64, 64, nonce64, 64);
	CHECK_RV(ch_t_crypt(h, true, &m, k, (const CK_BYTE *)pt, 114, &out, &n), CKR_OK);
	CHECK(ch_t_same(out, n, want, 114));
	free(out);
	out = NULL;

	/* A 32-bit counter at 0xffffffff has one block left, at 0xfffffffe two. */
	memset(ctr, 0xff, 4);
	chacha20_mech(&m, &p, ctr, 32, nonce, 96);
	CHECK_RV(ch_t_crypt(h, true, &m, k, zeros, 64, &out, &n), CKR_OK);
	free(out);
	out = NULL;
	CHECK_RV(ch_t_crypt(h, true, &m, k, zeros, 65, &out, &n), CKR_DATA_LEN_RANGE);
	CHECK_RV(ch_t_crypt(h, false, &m, k, zeros, 65, &out, &n), CKR_ENCRYPTED_DATA_LEN_RANGE);
	ctr[0] = 0xfe;
	CHECK_RV(ch_t_crypt(h, true, &m, k, zeros, 128, &out, &n), CKR_OK);
	free(out);
	out = NULL;
	CHECK_RV(ch_t_crypt(h, true, &m, k, zeros, 129, &out, &n), CKR_DATA_LEN_RANGE);
	CHECK_RV(ch_t_crypt_parts(h, true, &m, k, zeros, 129, 100, &out, &n), CKR_DATA_LEN_RANGE);
	free(out);
	out = NULL;
	/* A 64-bit counter carries past its low word. */
	memset(ctr64, 0xff, 4);
	chacha20_mech(&m, &p, ctr64, 64, nonce64, 64);
	CHECK_RV(ch_t_crypt(h, true, &m, k, zeros, 200, &out, &n), CKR_OK);
	CHECK_UL(n, 200);
	free(out);
	out = NULL;

	/* Parameters: the two layouts only, both pointers. */
	chacha20_mech(&m, &p, ctr, 32, nonce, 64);
	CHECK_RV(P11->C_EncryptInit(h, &m, k), CKR_MECHANISM_PARAM_INVALID);
	chacha20_mech(&m, &p, ctr, 64, nonce, 96);
	CHECK_RV(P11->C_EncryptInit(h, &m, k), CKR_MECHANISM_PARAM_INVALID);
	chacha20_mech(&m, &p, ctr, 0, nonce, 128);
	CHECK_RV(P11->C_EncryptInit(h, &m, k), CKR_MECHANISM_PARAM_INVALID);
	chacha20_mech(&m, &p, NULL, 32, nonce, 96);
	CHECK_RV(P11->C_EncryptInit(h, &m, k), CKR_MECHANISM_PARAM_INVALID);
	chacha20_mech(&m, &p, ctr, 32, NULL, 96);
	CHECK_RV(P11->C_DecryptInit(h, &m, k), CKR_MECHANISM_PARAM_INVALID);
	chacha20_mech(&m, &p, ctr, 32, nonce, 96);
	m.ulParameterLen = sizeof(p) - 1;
	CHECK_RV(P11->C_EncryptInit(h, &m, k), CKR_MECHANISM_PARAM_INVALID);
out:
	free(out);
	if (h != CK_INVALID_HANDLE)
		(void)P11->C_CloseSession(h);
	ch_t_env_free(&e);
}

int main(void)
{
	test_wycheproof_chacha20_poly1305();
	test_chacha_mechanism_info();
	test_chacha_keygen();
	test_chacha_parameter_and_key_errors();
	test_chacha_decrypt_holds_plaintext_until_tag();
	test_chacha_message_api_matches_single_part();
	test_chacha20_rfc8439_and_counter_rules();
	return ch_test_done();
}
