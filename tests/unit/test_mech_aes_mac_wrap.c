/*
 * AES-CMAC (token/mech_aes_mac.c) and AES key wrap (token/mech_aes_wrap.c)
 * driven through token/mech.h: the RFC 4493 CMAC examples, single and
 * multi-part, truncated tags of CKM_AES_CMAC_GENERAL, verification codes;
 * RFC 3394 section 4 and RFC 5649 section 6 key-wrap examples through
 * C_Encrypt/C_Decrypt and through C_WrapKey/C_UnwrapKey's cryptography,
 * the optional IV parameter, length rules, single-part only, the one code
 * for a failed integrity check, and the mechanism information of every
 * AES row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "attrs.h"
#include "check.h"
#include "mech.h"

static size_t unhex(const char *s, CK_BYTE *out, size_t max)
{
	size_t n = 0;

	for (; s[0] != '\0' && s[1] != '\0' && n < max; s += 2) {
		unsigned v;

		if (sscanf(s, "%2x", &v) != 1)
			break;
		out[n++] = (CK_BYTE)v;
	}
	return n;
}

/* An AES key with the usages given as a list of attribute types. */
static ch_attrs *aes_key(const CK_BYTE *v, CK_ULONG len, const CK_ATTRIBUTE_TYPE *use, size_t n)
{
	ch_attrs *a = ch_attrs_new();
	size_t i;

	if (a == NULL || ch_attrs_set_ulong(a, CKA_CLASS, CKO_SECRET_KEY) != CKR_OK ||
	    ch_attrs_set_ulong(a, CKA_KEY_TYPE, CKK_AES) != CKR_OK ||
	    ch_attrs_set(a, CKA_VALUE, v, len) != CKR_OK)
		goto fail;
	for (i = 0; i < n; i++)
		if (ch_attrs_set_bool(a, use[i], true) != CKR_OK)
			goto fail;
	return a;
fail:
	ch_attrs_free(a);
	return NULL;
}

static const CK_ATTRIBUTE_TYPE mac_use[] = { CKA_SIGN, CKA_VERIFY };
static const CK_ATTRIBUTE_TYPE crypt_use[] = { CKA_ENCRYPT, CKA_DECRYPT };
static const CK_ATTRIBUTE_TYPE wrap_use[] = { CKA_WRAP, CKA_UNWRAP };

static bool same(const CK_BYTE *a, CK_ULONG alen, const CK_BYTE *b, size_t blen)
{
	return alen == blen && (blen == 0 || memcmp(a, b, blen) == 0);
}

/* Sign in one call (chunk 0) or in updates of chunk bytes. */
static CK_RV sign(const CK_MECHANISM *m, const ch_attrs *k, const CK_BYTE *in, CK_ULONG len,
                  size_t chunk, CK_BYTE *sig, CK_ULONG *sig_len)
{
	ch_op *op = NULL;
	CK_ULONG done = 0, n, q = 0;
	CK_RV rv;

	if ((rv = ch_op_init(CH_OP_SIGN, m, k, &op)) != CKR_OK)
		goto out;
	if (chunk == 0) {
		if ((rv = ch_op_oneshot(op, in, len, NULL, &q)) != CKR_OK)
			goto out;
		CHECK_UL(q, *sig_len);
		rv = ch_op_oneshot(op, in, len, sig, sig_len);
		goto out;
	}
	do {
		n = len - done < chunk ? len - done : chunk;
		if ((rv = ch_op_update(op, in + done, n, NULL, NULL)) != CKR_OK)
			goto out;
		done += n;
	} while (done < len);
	if ((rv = ch_op_final(op, NULL, &q)) != CKR_OK)
		goto out;
	CHECK_UL(q, *sig_len);
	rv = ch_op_final(op, sig, sig_len);
out:
	ch_op_free(op);
	return rv;
}

static CK_RV verify(const CK_MECHANISM *m, const ch_attrs *k, const CK_BYTE *in, CK_ULONG len,
                    size_t chunk, const CK_BYTE *sig, CK_ULONG sig_len)
{
	ch_op *op = NULL;
	CK_ULONG done = 0, n;
	CK_RV rv;

	if ((rv = ch_op_init(CH_OP_VERIFY, m, k, &op)) != CKR_OK)
		goto out;
	if (chunk == 0) {
		rv = ch_op_verify(op, in, len, sig, sig_len);
		goto out;
	}
	do {
		n = len - done < chunk ? len - done : chunk;
		if ((rv = ch_op_update(op, in + done, n, NULL, NULL)) != CKR_OK)
			goto out;
		done += n;
	} while (done < len);
	rv = ch_op_verify_final(op, sig, sig_len);
out:
	ch_op_free(op);
	return rv;
}

/* RFC 4493 section 4, AES-128. */
static const char cmac_key[] = "2b7e151628aed2a6abf7158809cf4f3c";
static const char cmac_msg[] = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
                               "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";
static const struct {
	CK_ULONG len;
	const char *tag;
} cmac_examples[] = {
	{ 0, "bb1d6929e95937287fa37d129b756746" },
	{ 16, "070a16b46b4d4144f79bdd9dd04a287c" },
	{ 40, "dfa66747de9ae63030ca32611497c827" },
	{ 64, "51f0bebf7e3b9d92fc49741779363cfe" },
};

static void test_cmac_rfc4493_examples(void)
{
	static const size_t chunks[] = { 0, 1, 7, 16, 40 };
	CK_BYTE key[16], msg[64], tag[16], sig[32];
	CK_MAC_GENERAL_PARAMS glen;
	CK_MECHANISM m = { CKM_AES_CMAC, NULL, 0 };
	CK_MECHANISM g = { CKM_AES_CMAC_GENERAL, &glen, sizeof(glen) };
	CK_ULONG n;
	ch_attrs *k;
	size_t i, c;

	unhex(cmac_key, key, 16);
	unhex(cmac_msg, msg, 64);
	if (!CHECK((k = aes_key(key, 16, mac_use, 2)) != NULL))
		return;
	for (i = 0; i < sizeof(cmac_examples) / sizeof(cmac_examples[0]); i++) {
		unhex(cmac_examples[i].tag, tag, 16);
		for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
			n = 16;
			if (!CHECK_RV(sign(&m, k, msg, cmac_examples[i].len, chunks[c], sig, &n),
			              CKR_OK) ||
			    !CHECK(same(sig, n, tag, 16)))
				fprintf(stderr, "\tCMAC of %lu bytes, chunks of %zu\n",
				        cmac_examples[i].len, chunks[c]);
			if (!CHECK_RV(verify(&m, k, msg, cmac_examples[i].len, chunks[c], tag, 16),
			              CKR_OK))
				fprintf(stderr, "\tverify %lu bytes, chunks of %zu\n",
				        cmac_examples[i].len, chunks[c]);
		}
		/* _GENERAL: every tag length is the full tag's prefix. */
		for (glen = 1; glen <= 16; glen++) {
			n = glen;
			if (!CHECK_RV(sign(&g, k, msg, cmac_examples[i].len, 0, sig, &n), CKR_OK) ||
			    !CHECK(same(sig, n, tag, glen)))
				fprintf(stderr, "\tCMAC_GENERAL %lu bytes\n", glen);
			CHECK_RV(verify(&g, k, msg, cmac_examples[i].len, 5, tag, glen), CKR_OK);
		}
	}
	ch_attrs_free(k);
}

static void test_cmac_verify_codes_and_parameters(void)
{
	CK_BYTE key[16], msg[64], tag[16];
	CK_MAC_GENERAL_PARAMS glen = 8;
	CK_MECHANISM m = { CKM_AES_CMAC, NULL, 0 };
	CK_MECHANISM g = { CKM_AES_CMAC_GENERAL, &glen, sizeof(glen) };
	ch_attrs *k, *enc_only, *bad;
	ch_op *op = NULL;
	CK_ULONG bad_lens[] = { 0, 17, 32 };
	size_t i;

	unhex(cmac_key, key, 16);
	unhex(cmac_msg, msg, 64);
	unhex(cmac_examples[3].tag, tag, 16);
	k = aes_key(key, 16, mac_use, 2);
	enc_only = aes_key(key, 16, crypt_use, 2);
	bad = aes_key(key, 8, mac_use, 2);
	if (!CHECK(k != NULL && enc_only != NULL && bad != NULL))
		goto out;
	CHECK_RV(verify(&m, k, msg, 64, 0, tag, 15), CKR_SIGNATURE_LEN_RANGE);
	CHECK_RV(verify(&m, k, msg, 64, 0, tag, 17), CKR_SIGNATURE_LEN_RANGE);
	CHECK_RV(verify(&g, k, msg, 64, 0, tag, 16), CKR_SIGNATURE_LEN_RANGE);
	CHECK_RV(verify(&m, k, msg, 63, 0, tag, 16), CKR_SIGNATURE_INVALID);
	CHECK_RV(verify(&m, k, msg, 64, 9, tag, 16), CKR_OK);
	tag[15] ^= 1;
	CHECK_RV(verify(&m, k, msg, 64, 0, tag, 16), CKR_SIGNATURE_INVALID);
	CHECK_RV(verify(&m, k, msg, 64, 9, tag, 16), CKR_SIGNATURE_INVALID);
	CHECK_RV(verify(&g, k, msg, 64, 0, tag, 8), CKR_OK); /* the flip is past 8 bytes */
	tag[0] ^= 1;
	CHECK_RV(verify(&g, k, msg, 64, 0, tag, 8), CKR_SIGNATURE_INVALID);

	for (i = 0; i < sizeof(bad_lens) / sizeof(bad_lens[0]); i++) {
		glen = bad_lens[i];
		if (!CHECK_RV(ch_op_init(CH_OP_SIGN, &g, k, &op), CKR_MECHANISM_PARAM_INVALID))
			fprintf(stderr, "\tCK_MAC_GENERAL_PARAMS %lu\n", glen);
	}
	glen = 8;
	g.ulParameterLen = sizeof(glen) - 1;
	CHECK_RV(ch_op_init(CH_OP_SIGN, &g, k, &op), CKR_MECHANISM_PARAM_INVALID);
	g.pParameter = NULL;
	g.ulParameterLen = sizeof(glen);
	CHECK_RV(ch_op_init(CH_OP_SIGN, &g, k, &op), CKR_MECHANISM_PARAM_INVALID);
	m.pParameter = &glen;
	m.ulParameterLen = sizeof(glen);
	CHECK_RV(ch_op_init(CH_OP_SIGN, &m, k, &op), CKR_MECHANISM_PARAM_INVALID);
	m = (CK_MECHANISM){ CKM_AES_CMAC, NULL, 0 };
	CHECK_RV(ch_op_init(CH_OP_SIGN, &m, enc_only, &op), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CHECK_RV(ch_op_init(CH_OP_VERIFY, &m, enc_only, &op), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CHECK_RV(ch_op_init(CH_OP_SIGN, &m, bad, &op), CKR_KEY_SIZE_RANGE);
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &m, k, &op), CKR_MECHANISM_INVALID);
	CHECK(op == NULL);
out:
	ch_attrs_free(k);
	ch_attrs_free(enc_only);
	ch_attrs_free(bad);
}

/* ---------------------------------------------------------------------- */
/* Key wrap                                                                */
/* ---------------------------------------------------------------------- */

static const struct {
	const char *name;
	CK_MECHANISM_TYPE mech;
	const char *kek, *key, *wrapped;
} wrap_examples[] = {
	{ "RFC 3394 4.1", CKM_AES_KEY_WRAP, "000102030405060708090a0b0c0d0e0f",
	  "00112233445566778899aabbccddeeff", "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5" },
	{ "RFC 3394 4.2", CKM_AES_KEY_WRAP, "000102030405060708090a0b0c0d0e0f1011121314151617",
	  "00112233445566778899aabbccddeeff", "96778b25ae6ca435f92b5b97c050aed2468ab8a17ad84e5d" },
	{ "RFC 3394 4.6", CKM_AES_KEY_WRAP,
	  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
	  "00112233445566778899aabbccddeeff000102030405060708090a0b0c0d0e0f",
	  "28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b9b7a02dd21" },
	{ "RFC 5649 6 (20 bytes)", CKM_AES_KEY_WRAP_KWP,
	  "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8",
	  "c37b7e6492584340bed12207808941155068f738",
	  "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a" },
	{ "RFC 5649 6 (7 bytes)", CKM_AES_KEY_WRAP_KWP,
	  "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", "466f7250617369",
	  "afbeb0f07dfbf5419200f2ccb50bb24f" },
};

static CK_RV oneshot(ch_op_kind kind, const CK_MECHANISM *m, const ch_attrs *k, const CK_BYTE *in,
                     CK_ULONG len, CK_BYTE *out, CK_ULONG *out_len)
{
	ch_op *op = NULL;
	CK_RV rv;

	if ((rv = ch_op_init(kind, m, k, &op)) == CKR_OK)
		rv = ch_op_oneshot(op, in, len, out, out_len);
	ch_op_free(op);
	return rv;
}

static void test_key_wrap_rfc_examples(void)
{
	CK_BYTE kek[32], key[32], wrapped[48], out[64], *unwrapped = NULL;
	CK_ULONG kl, kyl, wl, n;
	CK_MECHANISM m;
	ch_attrs *ck, *wk;
	size_t i;

	for (i = 0; i < sizeof(wrap_examples) / sizeof(wrap_examples[0]); i++) {
		kl = unhex(wrap_examples[i].kek, kek, sizeof(kek));
		kyl = unhex(wrap_examples[i].key, key, sizeof(key));
		wl = unhex(wrap_examples[i].wrapped, wrapped, sizeof(wrapped));
		m = (CK_MECHANISM){ wrap_examples[i].mech, NULL, 0 };
		ck = aes_key(kek, kl, crypt_use, 2);
		wk = aes_key(kek, kl, wrap_use, 2);
		if (!CHECK(ck != NULL && wk != NULL))
			goto next;
		n = sizeof(out);
		if (!CHECK_RV(oneshot(CH_OP_ENCRYPT, &m, ck, key, kyl, out, &n), CKR_OK) ||
		    !CHECK(same(out, n, wrapped, wl)))
			fprintf(stderr, "\t%s: C_Encrypt\n", wrap_examples[i].name);
		n = sizeof(out);
		if (!CHECK_RV(oneshot(CH_OP_DECRYPT, &m, ck, wrapped, wl, out, &n), CKR_OK) ||
		    !CHECK(same(out, n, key, kyl)))
			fprintf(stderr, "\t%s: C_Decrypt\n", wrap_examples[i].name);
		n = 0;
		CHECK_RV(ch_mech_wrap(&m, wk, key, kyl, NULL, &n), CKR_OK);
		CHECK_UL(n, wl);
		n = sizeof(out);
		if (!CHECK_RV(ch_mech_wrap(&m, wk, key, kyl, out, &n), CKR_OK) ||
		    !CHECK(same(out, n, wrapped, wl)))
			fprintf(stderr, "\t%s: ch_mech_wrap\n", wrap_examples[i].name);
		if (!CHECK_RV(ch_mech_unwrap(&m, wk, wrapped, wl, &unwrapped, &n), CKR_OK) ||
		    !CHECK(same(unwrapped, n, key, kyl)))
			fprintf(stderr, "\t%s: ch_mech_unwrap\n", wrap_examples[i].name);
		OPENSSL_clear_free(unwrapped, n);
		unwrapped = NULL;
		/* A flipped bit fails the integrity check: one code each way. */
		wrapped[wl / 2] ^= 0x10;
		n = sizeof(out);
		CHECK_RV(oneshot(CH_OP_DECRYPT, &m, ck, wrapped, wl, out, &n),
		         CKR_ENCRYPTED_DATA_INVALID);
		CHECK_RV(ch_mech_unwrap(&m, wk, wrapped, wl, &unwrapped, &n),
		         CKR_WRAPPED_KEY_INVALID);
		CHECK(unwrapped == NULL);
		/* Wrapping needs CKA_WRAP, C_Encrypt CKA_ENCRYPT. */
		n = sizeof(out);
		CHECK_RV(ch_mech_wrap(&m, ck, key, kyl, out, &n), CKR_KEY_FUNCTION_NOT_PERMITTED);
		CHECK_RV(oneshot(CH_OP_ENCRYPT, &m, wk, key, kyl, out, &n),
		         CKR_KEY_FUNCTION_NOT_PERMITTED);
	next:
		ch_attrs_free(ck);
		ch_attrs_free(wk);
	}
}

/* The optional IV parameter (8 bytes for KW, 4 for KWP): a wrapping under
 * one IV does not unwrap under another; the default is the RFCs'. */
static void test_key_wrap_iv_parameter(void)
{
	static const CK_BYTE kw_default[8] = { 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6 };
	static const CK_BYTE kwp_default[4] = { 0xa6, 0x59, 0x59, 0xa6 };
	CK_BYTE kek[16], key[24] = { 3, 1, 4, 1, 5, 9, 2, 6 }, iv[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	CK_BYTE a[64], b[64], out[64];
	CK_ULONG an, bn, n;
	CK_MECHANISM plain, with;
	ch_attrs *k;
	int pad;

	unhex(wrap_examples[0].kek, kek, 16);
	if (!CHECK((k = aes_key(kek, 16, crypt_use, 2)) != NULL))
		return;
	for (pad = 0; pad < 2; pad++) {
		CK_MECHANISM_TYPE t = pad ? CKM_AES_KEY_WRAP_KWP : CKM_AES_KEY_WRAP;
		CK_ULONG ivl = pad ? 4 : 8;

		plain = (CK_MECHANISM){ t, NULL, 0 };
		with = (CK_MECHANISM){ t, (CK_VOID_PTR)(pad ? kwp_default : kw_default), ivl };
		an = bn = sizeof(a);
		CHECK_RV(oneshot(CH_OP_ENCRYPT, &plain, k, key, 24, a, &an), CKR_OK);
		CHECK_RV(oneshot(CH_OP_ENCRYPT, &with, k, key, 24, b, &bn), CKR_OK);
		CHECK(same(a, an, b, bn));
		with.pParameter = iv;
		bn = sizeof(b);
		CHECK_RV(oneshot(CH_OP_ENCRYPT, &with, k, key, 24, b, &bn), CKR_OK);
		CHECK(!same(a, an, b, bn));
		n = sizeof(out);
		CHECK_RV(oneshot(CH_OP_DECRYPT, &with, k, b, bn, out, &n), CKR_OK);
		CHECK(same(out, n, key, 24));
		n = sizeof(out);
		CHECK_RV(oneshot(CH_OP_DECRYPT, &plain, k, b, bn, out, &n),
		         CKR_ENCRYPTED_DATA_INVALID);
		/* Wrong IV sizes. */
		with.ulParameterLen = pad ? 8 : 4;
		CHECK_RV(oneshot(CH_OP_ENCRYPT, &with, k, key, 24, b, &bn),
		         CKR_MECHANISM_PARAM_INVALID);
		with.pParameter = NULL;
		with.ulParameterLen = ivl;
		CHECK_RV(oneshot(CH_OP_ENCRYPT, &with, k, key, 24, b, &bn),
		         CKR_MECHANISM_PARAM_INVALID);
	}
	ch_attrs_free(k);
}

static void test_key_wrap_lengths_and_single_part(void)
{
	CK_BYTE kek[16] = { 9 }, data[64] = { 1 }, out[96], wrapped[96], *u = NULL;
	CK_MECHANISM kw = { CKM_AES_KEY_WRAP, NULL, 0 }, kwp = { CKM_AES_KEY_WRAP_KWP, NULL, 0 };
	CK_ULONG n, wn, len;
	ch_attrs *k = aes_key(kek, 16, crypt_use, 2), *wk = aes_key(kek, 16, wrap_use, 2);
	ch_op *op = NULL;

	if (!CHECK(k != NULL && wk != NULL))
		goto out;
	/* KW: 16 bytes or more, in steps of 8; KWP: any length from 1. */
	for (len = 0; len <= 40; len++) {
		n = sizeof(out);
		if (!CHECK_RV(oneshot(CH_OP_ENCRYPT, &kw, k, data, len, out, &n),
		              len >= 16 && len % 8 == 0 ? CKR_OK : CKR_DATA_LEN_RANGE))
			fprintf(stderr, "\tKW of %lu bytes\n", len);
		wn = sizeof(wrapped);
		if (!CHECK_RV(oneshot(CH_OP_ENCRYPT, &kwp, k, data, len, wrapped, &wn),
		              len > 0 ? CKR_OK : CKR_DATA_LEN_RANGE))
			fprintf(stderr, "\tKWP of %lu bytes\n", len);
		if (len == 0)
			continue;
		CHECK_UL(wn, (len + 7) / 8 * 8 + 8);
		/* The KWP length query is an upper bound; a short buffer gets
		 * the exact length and the retry works. */
		if (!CHECK_RV(ch_op_init(CH_OP_DECRYPT, &kwp, k, &op), CKR_OK))
			continue;
		n = 0;
		CHECK_RV(ch_op_oneshot(op, wrapped, wn, NULL, &n), CKR_OK);
		CHECK_UL(n, wn - 8);
		n = len - 1;
		CHECK_RV(ch_op_oneshot(op, wrapped, wn, out, &n), CKR_BUFFER_TOO_SMALL);
		CHECK_UL(n, len);
		n = len;
		CHECK_RV(ch_op_oneshot(op, wrapped, wn, out, &n), CKR_OK);
		CHECK(same(out, n, data, len));
		ch_op_free(op);
		op = NULL;
		/* ch_mech_unwrap gives the exact length too. */
		if (CHECK_RV(ch_mech_unwrap(&kwp, wk, wrapped, wn, &u, &n), CKR_OK))
			CHECK(same(u, n, data, len));
		OPENSSL_clear_free(u, n);
		u = NULL;
	}
	/* Unwrapping lengths: KW at least 24 bytes, KWP 16, both in steps of 8. */
	n = sizeof(out);
	CHECK_RV(oneshot(CH_OP_DECRYPT, &kw, k, wrapped, 16, out, &n),
	         CKR_ENCRYPTED_DATA_LEN_RANGE);
	n = sizeof(out);
	CHECK_RV(oneshot(CH_OP_DECRYPT, &kw, k, wrapped, 25, out, &n),
	         CKR_ENCRYPTED_DATA_LEN_RANGE);
	n = sizeof(out);
	CHECK_RV(oneshot(CH_OP_DECRYPT, &kwp, k, wrapped, 8, out, &n),
	         CKR_ENCRYPTED_DATA_LEN_RANGE);
	CHECK_RV(ch_mech_unwrap(&kw, wk, wrapped, 20, &u, &n), CKR_WRAPPED_KEY_LEN_RANGE);
	n = sizeof(out);
	CHECK_RV(ch_mech_wrap(&kw, wk, data, 12, out, &n), CKR_KEY_SIZE_RANGE);

	/* Single-part only. */
	if (CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &kw, k, &op), CKR_OK)) {
		n = sizeof(out);
		CHECK_RV(ch_op_update(op, data, 16, out, &n), CKR_FUNCTION_NOT_SUPPORTED);
	}
out:
	ch_op_free(op);
	ch_attrs_free(k);
	ch_attrs_free(wk);
}

/* C_GetMechanismInfo for every row of the AES family. */
static void test_aes_mechanism_info(void)
{
	static const struct {
		CK_MECHANISM_TYPE type;
		CK_FLAGS flags;
	} rows[] = {
		{ CKM_AES_KEY_GEN, CKF_GENERATE },
		{ CKM_AES_ECB, CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP },
		{ CKM_AES_CBC, CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP },
		{ CKM_AES_CBC_PAD, CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP },
		{ CKM_AES_CTR, CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP },
		{ CKM_AES_GCM, CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP |
		                       CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT },
		{ CKM_AES_CCM, CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP },
		{ CKM_AES_CMAC, CKF_SIGN | CKF_VERIFY },
		{ CKM_AES_CMAC_GENERAL, CKF_SIGN | CKF_VERIFY },
		{ CKM_AES_KEY_WRAP, CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP },
		{ CKM_AES_KEY_WRAP_KWP, CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP },
	};
	CK_MECHANISM_INFO info;
	CK_ULONG i, j, n = ch_mech_count();
	bool listed;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (!CHECK_RV(ch_mech_info(rows[i].type, &info), CKR_OK)) {
			fprintf(stderr, "\tmechanism 0x%lx\n", rows[i].type);
			continue;
		}
		CHECK_UL(info.ulMinKeySize, 16);
		CHECK_UL(info.ulMaxKeySize, 32);
		if (!CHECK_UL(info.flags, rows[i].flags))
			fprintf(stderr, "\tmechanism 0x%lx\n", rows[i].type);
		for (listed = false, j = 0; j < n; j++)
			listed |= ch_mech_type_at(j) == rows[i].type;
		CHECK(listed);
	}
	/* Not offered: the 2.40 padding variant that is not RFC 5649. */
	CHECK_RV(ch_mech_info(CKM_AES_KEY_WRAP_PAD, &info), CKR_MECHANISM_INVALID);
}

int main(void)
{
	test_cmac_rfc4493_examples();
	test_cmac_verify_codes_and_parameters();
	test_key_wrap_rfc_examples();
	test_key_wrap_iv_parameter();
	test_key_wrap_lengths_and_single_part();
	test_aes_mechanism_info();
	return ch_test_done();
}
