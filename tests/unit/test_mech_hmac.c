/*
 * The HMAC family (token/mech_hmac.c) through the module's PKCS#11 calls:
 * Wycheproof's hmac_sha256/384/512_test.json (full tags with CKM_*_HMAC,
 * truncated ones with CKM_*_HMAC_GENERAL), RFC 2202 / RFC 4231 known
 * answers, every hash against OpenSSL's own one-shot HMAC, multi-part equal
 * to single-part, the buffer convention, tag-length parameters, signature
 * lengths, key types and usage, and the key generators.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "module.h"
#include "vectors.h"

/* Every HMAC mechanism: plain, general, key type, key generator, hash size
 * and OpenSSL's digest name (for the independent computation). */
static const struct hmac_row {
	CK_MECHANISM_TYPE mech, general;
	CK_KEY_TYPE kt;
	CK_MECHANISM_TYPE gen;
	CK_ULONG size;
	const char *md;
} hmacs[] = {
	{ CKM_SHA_1_HMAC, CKM_SHA_1_HMAC_GENERAL, CKK_SHA_1_HMAC, CKM_SHA_1_KEY_GEN, 20, "SHA1" },
	{ CKM_SHA224_HMAC, CKM_SHA224_HMAC_GENERAL, CKK_SHA224_HMAC, CKM_SHA224_KEY_GEN, 28,
	  "SHA2-224" },
	{ CKM_SHA256_HMAC, CKM_SHA256_HMAC_GENERAL, CKK_SHA256_HMAC, CKM_SHA256_KEY_GEN, 32,
	  "SHA2-256" },
	{ CKM_SHA384_HMAC, CKM_SHA384_HMAC_GENERAL, CKK_SHA384_HMAC, CKM_SHA384_KEY_GEN, 48,
	  "SHA2-384" },
	{ CKM_SHA512_HMAC, CKM_SHA512_HMAC_GENERAL, CKK_SHA512_HMAC, CKM_SHA512_KEY_GEN, 64,
	  "SHA2-512" },
	{ CKM_SHA512_224_HMAC, CKM_SHA512_224_HMAC_GENERAL, CKK_SHA512_224_HMAC,
	  CKM_SHA512_224_KEY_GEN, 28, "SHA2-512/224" },
	{ CKM_SHA512_256_HMAC, CKM_SHA512_256_HMAC_GENERAL, CKK_SHA512_256_HMAC,
	  CKM_SHA512_256_KEY_GEN, 32, "SHA2-512/256" },
	{ CKM_SHA3_224_HMAC, CKM_SHA3_224_HMAC_GENERAL, CKK_SHA3_224_HMAC, CKM_SHA3_224_KEY_GEN, 28,
	  "SHA3-224" },
	{ CKM_SHA3_256_HMAC, CKM_SHA3_256_HMAC_GENERAL, CKK_SHA3_256_HMAC, CKM_SHA3_256_KEY_GEN, 32,
	  "SHA3-256" },
	{ CKM_SHA3_384_HMAC, CKM_SHA3_384_HMAC_GENERAL, CKK_SHA3_384_HMAC, CKM_SHA3_384_KEY_GEN, 48,
	  "SHA3-384" },
	{ CKM_SHA3_512_HMAC, CKM_SHA3_512_HMAC_GENERAL, CKK_SHA3_512_HMAC, CKM_SHA3_512_KEY_GEN, 64,
	  "SHA3-512" },
};

/* Imports a secret key of type kt with CKA_SIGN / CKA_VERIFY as given. */
static CK_RV create_secret(CK_SESSION_HANDLE h, CK_KEY_TYPE kt, const CK_BYTE *v, CK_ULONG len,
                           bool sign, bool verify, CK_OBJECT_HANDLE *o)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),  CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_BOOL(CKA_SIGN, sign),    CH_T_BOOL(CKA_VERIFY, verify),
		CH_T_ATTR(CKA_VALUE, v, len),
	};

	return P11->C_CreateObject(h, t, CH_T_ARRAY_LEN(t), o);
}

/* C_SignInit + C_Sign (after a length query). */
static CK_RV sign_once(CK_SESSION_HANDLE h, CK_MECHANISM *m, CK_OBJECT_HANDLE k, const CK_BYTE *in,
                       CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	CK_ULONG need = 0;
	CK_RV rv;

	if ((rv = P11->C_SignInit(h, m, k)) != CKR_OK)
		return rv;
	if ((rv = P11->C_Sign(h, (CK_BYTE_PTR)in, in_len, NULL, &need)) != CKR_OK)
		return rv;
	if (need > *out_len)
		return CKR_GENERAL_ERROR;
	*out_len = need;
	return P11->C_Sign(h, (CK_BYTE_PTR)in, in_len, out, out_len);
}

/* C_SignInit + C_SignUpdate in chunks + C_SignFinal. */
static CK_RV sign_parts(CK_SESSION_HANDLE h, CK_MECHANISM *m, CK_OBJECT_HANDLE k, const CK_BYTE *in,
                        CK_ULONG in_len, CK_ULONG chunk, CK_BYTE *out, CK_ULONG *out_len)
{
	CK_ULONG done = 0, n;
	CK_RV rv;

	if ((rv = P11->C_SignInit(h, m, k)) != CKR_OK)
		return rv;
	while (done < in_len) {
		n = in_len - done < chunk ? in_len - done : chunk;
		if ((rv = P11->C_SignUpdate(h, (CK_BYTE_PTR)in + done, n)) != CKR_OK)
			return rv;
		done += n;
	}
	return P11->C_SignFinal(h, out, out_len);
}

static CK_RV verify_once(CK_SESSION_HANDLE h, CK_MECHANISM *m, CK_OBJECT_HANDLE k,
                         const CK_BYTE *in, CK_ULONG in_len, const CK_BYTE *sig, CK_ULONG sig_len)
{
	CK_RV rv;

	if ((rv = P11->C_VerifyInit(h, m, k)) != CKR_OK)
		return rv;
	return P11->C_Verify(h, (CK_BYTE_PTR)in, in_len, (CK_BYTE_PTR)sig, sig_len);
}

static CK_RV verify_parts(CK_SESSION_HANDLE h, CK_MECHANISM *m, CK_OBJECT_HANDLE k,
                          const CK_BYTE *in, CK_ULONG in_len, CK_ULONG chunk, const CK_BYTE *sig,
                          CK_ULONG sig_len)
{
	CK_ULONG done = 0, n;
	CK_RV rv;

	if ((rv = P11->C_VerifyInit(h, m, k)) != CKR_OK)
		return rv;
	while (done < in_len) {
		n = in_len - done < chunk ? in_len - done : chunk;
		if ((rv = P11->C_VerifyUpdate(h, (CK_BYTE_PTR)in + done, n)) != CKR_OK)
			return rv;
		done += n;
	}
	return P11->C_VerifyFinal(h, (CK_BYTE_PTR)sig, sig_len);
}

static bool same_tag(const char *what, const CK_BYTE *got, CK_ULONG got_len, const CK_BYTE *want,
                     CK_ULONG want_len)
{
	char hg[129], hw[129];

	if (got_len == want_len && memcmp(got, want, want_len) == 0)
		return true;
	ch_t_hex(got, got_len < 64 ? got_len : 64, hg, false);
	ch_t_hex(want, want_len < 64 ? want_len : 64, hw, false);
	fprintf(stderr, "%s:\n    expected %s\n    got      %s\n", what, hw, hg);
	return false;
}

/* ---- Wycheproof -------------------------------------------------------- */

typedef struct wp_counts {
	unsigned total, valid_ok, invalid_rejected, acceptable_ok, acceptable_rejected;
} wp_counts;

/* One MacTest vector: C_Sign must give the tag of a valid vector and not
 * the tag of an invalid one; C_Verify must accept valid and reject
 * invalid.  Odd tcIds use the hash-specific key type and multi-part calls,
 * even ones a generic secret and single-part calls. */
static void hmac_vector(CK_SESSION_HANDLE h, const struct hmac_row *row, long long tag_bits,
                        const json_t *t, wp_counts *c)
{
	vec_bytes key = { 0 }, msg = { 0 }, tag = { 0 };
	long long id = vec_int(t, "tcId");
	const char *result = vec_str(t, "result");
	bool odd = id % 2 == 1, valid = strcmp(result, "valid") == 0;
	CK_MAC_GENERAL_PARAMS tlen = (CK_MAC_GENERAL_PARAMS)(tag_bits / 8);
	CK_MECHANISM m = { row->mech, NULL, 0 };
	CK_OBJECT_HANDLE k = CK_INVALID_HANDLE;
	CK_BYTE out[64];
	CK_ULONG out_len = sizeof(out);
	CK_RV srv, vrv;
	bool sign_matches, ok;

	c->total++;
	if (!CHECK(vec_hex(t, "key", &key) && vec_hex(t, "msg", &msg) && vec_hex(t, "tag", &tag)))
		goto out;
	if ((CK_ULONG)tag_bits != row->size * 8) {
		m.mechanism = row->general;
		m.pParameter = &tlen;
		m.ulParameterLen = sizeof(tlen);
	}
	if (!CHECK_RV(create_secret(h, odd ? row->kt : CKK_GENERIC_SECRET, key.p, key.len, true,
	                            true, &k),
	              CKR_OK))
		goto out;
	if (odd)
		srv = sign_parts(h, &m, k, msg.p, msg.len, 7, out, &out_len);
	else
		srv = sign_once(h, &m, k, msg.p, msg.len, out, &out_len);
	sign_matches = srv == CKR_OK && out_len == tag.len && memcmp(out, tag.p, tag.len) == 0;
	if (odd)
		vrv = verify_parts(h, &m, k, msg.p, msg.len, 5, tag.p, tag.len);
	else
		vrv = verify_once(h, &m, k, msg.p, msg.len, tag.p, tag.len);

	if (valid)
		ok = srv == CKR_OK && sign_matches && vrv == CKR_OK;
	else if (strcmp(result, "invalid") == 0)
		ok = !sign_matches && vrv != CKR_OK;
	else
		ok = (vrv == CKR_OK) == sign_matches;
	if (!ok) {
		fprintf(stderr, "tcId %lld (%s, tag %lld bits): C_Sign %s (tag %s), C_Verify %s\n",
		        id, result, tag_bits, ch_test_rv_name(srv),
		        sign_matches ? "matches" : "differs", ch_test_rv_name(vrv));
	} else if (valid) {
		c->valid_ok++;
	} else if (strcmp(result, "invalid") == 0) {
		c->invalid_rejected++;
	} else if (vrv == CKR_OK) {
		c->acceptable_ok++;
	} else {
		c->acceptable_rejected++;
	}
	CHECK(ok);
out:
	if (k != CK_INVALID_HANDLE)
		(void)P11->C_DestroyObject(h, k);
	vec_bytes_free(&key);
	vec_bytes_free(&msg);
	vec_bytes_free(&tag);
}

static void hmac_wycheproof_file(CK_SESSION_HANDLE h, const char *file, size_t row_index)
{
	char path[256];
	json_t *root;
	const json_t *groups, *g, *tests;
	size_t gi, ti;
	wp_counts c = { 0 };

	snprintf(path, sizeof(path), "wycheproof/testvectors_v1/%s", file);
	if (!CHECK((root = vec_load(path)) != NULL))
		return;
	groups = json_object_get(root, "testGroups");
	CHECK(json_array_size(groups) > 0);
	for (gi = 0; gi < json_array_size(groups); gi++) {
		g = json_array_get(groups, gi);
		tests = json_object_get(g, "tests");
		for (ti = 0; ti < json_array_size(tests); ti++)
			hmac_vector(h, &hmacs[row_index], vec_int(g, "tagSize"),
			            json_array_get(tests, ti), &c);
	}
	CHECK_UL(c.total, (CK_ULONG)vec_int(root, "numberOfTests"));
	CHECK_UL(c.valid_ok + c.invalid_rejected + c.acceptable_ok + c.acceptable_rejected,
	         c.total);
	fprintf(stderr,
	        "%s: %u vectors: %u valid ok, %u invalid rejected, %u acceptable (%u accepted, %u "
	        "rejected)\n",
	        file, c.total, c.valid_ok, c.invalid_rejected,
	        c.acceptable_ok + c.acceptable_rejected, c.acceptable_ok, c.acceptable_rejected);
	json_decref(root);
}

static void test_hmac_wycheproof(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	hmac_wycheproof_file(h, "hmac_sha256_test.json", 2);
	hmac_wycheproof_file(h, "hmac_sha384_test.json", 3);
	hmac_wycheproof_file(h, "hmac_sha512_test.json", 4);
out:
	ch_t_env_free(&e);
}

/* ---- Known answers and cross-checks ------------------------------------ */

static void test_hmac_rfc_known_answers(void)
{
	static const struct {
		CK_MECHANISM_TYPE mech;
		const char *key_hex, *msg, *tag_hex;
	} kats[] = {
		/* RFC 2202 test cases 1 and 2 (SHA-1). */
		{ CKM_SHA_1_HMAC, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There",
		  "b617318655057264e28bc0b6fb378c8ef146be00" },
		{ CKM_SHA_1_HMAC, "4a656665", "what do ya want for nothing?",
		  "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79" },
		/* RFC 4231 test cases 1 and 2. */
		{ CKM_SHA224_HMAC, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There",
		  "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22" },
		{ CKM_SHA256_HMAC, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There",
		  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
		{ CKM_SHA224_HMAC, "4a656665", "what do ya want for nothing?",
		  "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44" },
		{ CKM_SHA256_HMAC, "4a656665", "what do ya want for nothing?",
		  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
		{ CKM_SHA384_HMAC, "4a656665", "what do ya want for nothing?",
		  "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec373632244"
		  "5e8e2240ca5e69e2c78b3239ecfab21649" },
		{ CKM_SHA512_HMAC, "4a656665", "what do ya want for nothing?",
		  "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505"
		  "549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737" },
	};
	ch_t_env e;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE k;
	CK_BYTE key[64], want[64], got[64];
	CK_ULONG klen, wlen, glen;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	for (size_t i = 0; i < CH_T_ARRAY_LEN(kats); i++) {
		CK_MECHANISM m = { kats[i].mech, NULL, 0 };
		CK_ULONG mlen = (CK_ULONG)strlen(kats[i].msg);

		klen = ch_t_unhex(kats[i].key_hex, key, sizeof(key));
		wlen = ch_t_unhex(kats[i].tag_hex, want, sizeof(want));
		if (!CHECK_RV(create_secret(h, CKK_GENERIC_SECRET, key, klen, true, true, &k),
		              CKR_OK))
			continue;
		glen = sizeof(got);
		CHECK_RV(sign_once(h, &m, k, (const CK_BYTE *)kats[i].msg, mlen, got, &glen),
		         CKR_OK);
		CHECK(same_tag(kats[i].msg, got, glen, want, wlen));
		CHECK_RV(verify_once(h, &m, k, (const CK_BYTE *)kats[i].msg, mlen, want, wlen),
		         CKR_OK);
		(void)P11->C_DestroyObject(h, k);
	}
out:
	ch_t_env_free(&e);
}

/* Every hash, plain and general, single and multi-part, against OpenSSL's
 * own EVP_Q_mac (a different code path: no PKCS#11, no module). */
static void test_hmac_every_hash_matches_openssl(void)
{
	static const CK_ULONG chunks[] = { 1, 3, 64, 129 };
	ch_t_env e;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE k;
	CK_BYTE key[131], msg[300], want[64], got[64];
	size_t wlen;
	CK_ULONG glen;
	char what[96];

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (CK_BYTE)(i * 7 + 1);
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (CK_BYTE)(i * 13 + 5);
	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	for (size_t r = 0; r < CH_T_ARRAY_LEN(hmacs); r++) {
		CK_MECHANISM m = { hmacs[r].mech, NULL, 0 };
		CK_MAC_GENERAL_PARAMS tl = hmacs[r].size / 2 + 1;
		CK_MECHANISM mg = { hmacs[r].general, &tl, sizeof(tl) };

		REQUIRE(EVP_Q_mac(NULL, "HMAC", NULL, hmacs[r].md, NULL, key, sizeof(key), msg,
		                  sizeof(msg), want, sizeof(want), &wlen) != NULL);
		CHECK_UL(wlen, hmacs[r].size);
		REQUIRE_RV(create_secret(h, hmacs[r].kt, key, sizeof(key), true, true, &k), CKR_OK);
		glen = sizeof(got);
		CHECK_RV(sign_once(h, &m, k, msg, sizeof(msg), got, &glen), CKR_OK);
		snprintf(what, sizeof(what), "HMAC-%s one-shot", hmacs[r].md);
		CHECK(same_tag(what, got, glen, want, wlen));
		for (size_t c = 0; c < CH_T_ARRAY_LEN(chunks); c++) {
			glen = sizeof(got);
			CHECK_RV(sign_parts(h, &m, k, msg, sizeof(msg), chunks[c], got, &glen),
			         CKR_OK);
			snprintf(what, sizeof(what), "HMAC-%s in chunks of %lu", hmacs[r].md,
			         (unsigned long)chunks[c]);
			CHECK(same_tag(what, got, glen, want, wlen));
			CHECK_RV(verify_parts(h, &m, k, msg, sizeof(msg), chunks[c], want, wlen),
			         CKR_OK);
		}
		glen = sizeof(got);
		CHECK_RV(sign_once(h, &mg, k, msg, sizeof(msg), got, &glen), CKR_OK);
		snprintf(what, sizeof(what), "HMAC-%s general, %lu bytes", hmacs[r].md,
		         (unsigned long)tl);
		CHECK(same_tag(what, got, glen, want, tl));
		CHECK_RV(verify_once(h, &mg, k, msg, sizeof(msg), want, tl), CKR_OK);
		CHECK_RV(verify_once(h, &mg, k, msg, sizeof(msg), want, wlen),
		         CKR_SIGNATURE_LEN_RANGE);
		(void)P11->C_DestroyObject(h, k);
	}
out:
	ch_t_env_free(&e);
}

/* ---- Rules ------------------------------------------------------------- */

static void test_hmac_general_tag_length_parameter(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE k;
	CK_BYTE key[32] = { 1, 2, 3 }, tag[64];
	CK_ULONG glen;
	CK_MAC_GENERAL_PARAMS tl;
	CK_MECHANISM mg = { CKM_SHA256_HMAC_GENERAL, &tl, sizeof(tl) };
	CK_MECHANISM plain_param = { CKM_SHA256_HMAC, &tl, sizeof(tl) };
	CK_MECHANISM no_param = { CKM_SHA256_HMAC_GENERAL, NULL, 0 };
	CK_MECHANISM short_param = { CKM_SHA256_HMAC_GENERAL, &tl, sizeof(tl) - 1 };

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(create_secret(h, CKK_GENERIC_SECRET, key, sizeof(key), true, true, &k), CKR_OK);
	tl = 0;
	CHECK_RV(P11->C_SignInit(h, &mg, k), CKR_MECHANISM_PARAM_INVALID);
	tl = 33;
	CHECK_RV(P11->C_SignInit(h, &mg, k), CKR_MECHANISM_PARAM_INVALID);
	CHECK_RV(P11->C_VerifyInit(h, &mg, k), CKR_MECHANISM_PARAM_INVALID);
	tl = 16;
	CHECK_RV(P11->C_SignInit(h, &plain_param, k), CKR_MECHANISM_PARAM_INVALID);
	CHECK_RV(P11->C_SignInit(h, &no_param, k), CKR_MECHANISM_PARAM_INVALID);
	CHECK_RV(P11->C_SignInit(h, &short_param, k), CKR_MECHANISM_PARAM_INVALID);
	for (tl = 1; tl <= 32; tl += 31) {
		glen = sizeof(tag);
		CHECK_RV(sign_once(h, &mg, k, (const CK_BYTE *)"m", 1, tag, &glen), CKR_OK);
		CHECK_UL(glen, tl);
		CHECK_RV(verify_once(h, &mg, k, (const CK_BYTE *)"m", 1, tag, glen), CKR_OK);
	}
out:
	ch_t_env_free(&e);
}

static void test_hmac_verify_length_and_tamper(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE k;
	CK_MECHANISM m = { CKM_SHA384_HMAC, NULL, 0 };
	CK_BYTE key[48] = { 9 }, tag[64];
	CK_ULONG glen = sizeof(tag);

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(create_secret(h, CKK_SHA384_HMAC, key, sizeof(key), true, true, &k), CKR_OK);
	REQUIRE_RV(sign_once(h, &m, k, (const CK_BYTE *)"data", 4, tag, &glen), CKR_OK);
	CHECK_UL(glen, 48);
	CHECK_RV(verify_once(h, &m, k, (const CK_BYTE *)"data", 4, tag, 48), CKR_OK);
	CHECK_RV(verify_once(h, &m, k, (const CK_BYTE *)"data", 4, tag, 47),
	         CKR_SIGNATURE_LEN_RANGE);
	CHECK_RV(verify_once(h, &m, k, (const CK_BYTE *)"data", 4, tag, 0),
	         CKR_SIGNATURE_LEN_RANGE);
	CHECK_RV(verify_parts(h, &m, k, (const CK_BYTE *)"data", 4, 2, tag, 49),
	         CKR_SIGNATURE_LEN_RANGE);
	CHECK_RV(verify_once(h, &m, k, (const CK_BYTE *)"datA", 4, tag, 48), CKR_SIGNATURE_INVALID);
	for (size_t i = 0; i < 48; i += 47) {
		tag[i] ^= 0x01;
		CHECK_RV(verify_once(h, &m, k, (const CK_BYTE *)"data", 4, tag, 48),
		         CKR_SIGNATURE_INVALID);
		CHECK_RV(verify_parts(h, &m, k, (const CK_BYTE *)"data", 4, 3, tag, 48),
		         CKR_SIGNATURE_INVALID);
		tag[i] ^= 0x01;
	}
	/* The verify operation is over after a result. */
	CHECK_RV(P11->C_Verify(h, (CK_BYTE_PTR) "data", 4, tag, 48), CKR_OPERATION_NOT_INITIALIZED);
out:
	ch_t_env_free(&e);
}

static void test_hmac_buffer_convention_keeps_operation(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE k;
	CK_MECHANISM m = { CKM_SHA256_HMAC, NULL, 0 };
	CK_BYTE key[20], want[32], tag[64];
	CK_ULONG len;

	memset(key, 0x0b, sizeof(key));
	ch_t_unhex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", want,
	           sizeof(want));
	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(create_secret(h, CKK_GENERIC_SECRET, key, sizeof(key), true, true, &k), CKR_OK);

	REQUIRE_RV(P11->C_SignInit(h, &m, k), CKR_OK);
	len = 0;
	CHECK_RV(P11->C_Sign(h, (CK_BYTE_PTR) "Hi There", 8, NULL, &len), CKR_OK);
	CHECK_UL(len, 32);
	len = 31;
	CHECK_RV(P11->C_Sign(h, (CK_BYTE_PTR) "Hi There", 8, tag, &len), CKR_BUFFER_TOO_SMALL);
	CHECK_UL(len, 32);
	len = sizeof(tag);
	CHECK_RV(P11->C_Sign(h, (CK_BYTE_PTR) "Hi There", 8, tag, &len), CKR_OK);
	CHECK(same_tag("C_Sign after a short buffer", tag, len, want, 32));

	REQUIRE_RV(P11->C_SignInit(h, &m, k), CKR_OK);
	CHECK_RV(P11->C_SignUpdate(h, (CK_BYTE_PTR) "Hi ", 3), CKR_OK);
	CHECK_RV(P11->C_SignUpdate(h, (CK_BYTE_PTR) "There", 5), CKR_OK);
	len = 0;
	CHECK_RV(P11->C_SignFinal(h, NULL, &len), CKR_OK);
	CHECK_UL(len, 32);
	len = 1;
	CHECK_RV(P11->C_SignFinal(h, tag, &len), CKR_BUFFER_TOO_SMALL);
	len = 32;
	CHECK_RV(P11->C_SignFinal(h, tag, &len), CKR_OK);
	CHECK(same_tag("C_SignFinal after a short buffer", tag, len, want, 32));
	len = 32;
	CHECK_RV(P11->C_SignFinal(h, tag, &len), CKR_OPERATION_NOT_INITIALIZED);
out:
	ch_t_env_free(&e);
}

static void test_hmac_key_types_and_usage(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE k384, kgen, knosign, kaes;
	CK_MECHANISM m256 = { CKM_SHA256_HMAC, NULL, 0 };
	CK_MECHANISM m384 = { CKM_SHA384_HMAC, NULL, 0 };
	CK_BYTE key[32] = { 4, 5, 6 };

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(create_secret(h, CKK_SHA384_HMAC, key, sizeof(key), true, true, &k384), CKR_OK);
	REQUIRE_RV(create_secret(h, CKK_GENERIC_SECRET, key, sizeof(key), true, true, &kgen),
	           CKR_OK);
	REQUIRE_RV(create_secret(h, CKK_GENERIC_SECRET, key, sizeof(key), false, false, &knosign),
	           CKR_OK);
	REQUIRE_RV(ch_t_create_aes(h, false, true, false, true, "aes", key, 32, &kaes), CKR_OK);
	CHECK_RV(P11->C_SignInit(h, &m256, k384), CKR_KEY_TYPE_INCONSISTENT);
	CHECK_RV(P11->C_VerifyInit(h, &m256, k384), CKR_KEY_TYPE_INCONSISTENT);
	CHECK_RV(P11->C_SignInit(h, &m256, kaes), CKR_KEY_TYPE_INCONSISTENT);
	CHECK_RV(P11->C_SignInit(h, &m256, knosign), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CHECK_RV(P11->C_VerifyInit(h, &m256, knosign), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CHECK_RV(P11->C_SignInit(h, &m384, k384), CKR_OK);
	CHECK_RV(P11->C_SignInit(h, &m384, k384), CKR_OPERATION_ACTIVE);
	CHECK_RV(P11->C_VerifyInit(h, &m256, kgen), CKR_OK);
	CHECK_RV(P11->C_EncryptInit(h, &m256, kgen), CKR_MECHANISM_INVALID);
out:
	ch_t_env_free(&e);
}

static void test_hmac_key_generators(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE k, k2;
	CK_MECHANISM gen = { CKM_GENERIC_SECRET_KEY_GEN, NULL, 0 };
	CK_MECHANISM_INFO info;
	CK_ULONG len, kt, got_len, mech;
	CK_BYTE v1[512], v2[512], tag[64];
	CK_ULONG l1, l2;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	CHECK_RV(P11->C_GetMechanismInfo(e.slot, CKM_GENERIC_SECRET_KEY_GEN, &info), CKR_OK);
	CHECK_UL(info.ulMinKeySize, 1);
	CHECK_UL(info.ulMaxKeySize, 512);
	CHECK_UL(info.flags, CKF_GENERATE);

	{
		CK_ATTRIBUTE t[] = { CH_T_ULONG(CKA_VALUE_LEN, &len), CH_T_BOOL(CKA_SIGN, true),
			             CH_T_BOOL(CKA_VERIFY, true) };
		CK_ATTRIBUTE none[] = { CH_T_BOOL(CKA_SIGN, true) };

		for (len = 1; len <= 512; len = len == 1 ? 32 : len * 16) {
			CHECK_RV(P11->C_GenerateKey(h, &gen, t, CH_T_ARRAY_LEN(t), &k), CKR_OK);
			got_len = 0;
			CHECK_RV(ch_t_get(h, k, CKA_VALUE_LEN, &got_len,
			                  &(CK_ULONG){ sizeof(got_len) }),
			         CKR_OK);
			CHECK_UL(got_len, len);
		}
		len = 0;
		CHECK_RV(P11->C_GenerateKey(h, &gen, t, CH_T_ARRAY_LEN(t), &k), CKR_KEY_SIZE_RANGE);
		len = 513;
		CHECK_RV(P11->C_GenerateKey(h, &gen, t, CH_T_ARRAY_LEN(t), &k), CKR_KEY_SIZE_RANGE);
		CHECK_RV(P11->C_GenerateKey(h, &gen, none, 1, &k), CKR_TEMPLATE_INCOMPLETE);
		/* Two keys differ. */
		len = 32;
		REQUIRE_RV(P11->C_GenerateKey(h, &gen, t, CH_T_ARRAY_LEN(t), &k), CKR_OK);
		REQUIRE_RV(P11->C_GenerateKey(h, &gen, t, CH_T_ARRAY_LEN(t), &k2), CKR_OK);
		l1 = sizeof(v1);
		l2 = sizeof(v2);
		CHECK_RV(ch_t_get(h, k, CKA_VALUE, v1, &l1), CKR_OK);
		CHECK_RV(ch_t_get(h, k2, CKA_VALUE, v2, &l2), CKR_OK);
		CHECK(l1 == 32 && l2 == 32 && memcmp(v1, v2, 32) != 0);
	}

	for (size_t r = 0; r < CH_T_ARRAY_LEN(hmacs); r++) {
		CK_MECHANISM g = { hmacs[r].gen, NULL, 0 };
		CK_MECHANISM m = { hmacs[r].mech, NULL, 0 };
		CK_MECHANISM other = { hmacs[(r + 1) % CH_T_ARRAY_LEN(hmacs)].mech, NULL, 0 };
		CK_ATTRIBUTE t[] = { CH_T_ULONG(CKA_VALUE_LEN, &len), CH_T_BOOL(CKA_SIGN, true),
			             CH_T_BOOL(CKA_VERIFY, true) };
		CK_ULONG n = sizeof(kt);

		CHECK_RV(P11->C_GetMechanismInfo(e.slot, hmacs[r].gen, &info), CKR_OK);
		CHECK_UL(info.flags, CKF_GENERATE);
		CHECK_RV(P11->C_GetMechanismInfo(e.slot, hmacs[r].mech, &info), CKR_OK);
		CHECK_UL(info.flags, CKF_SIGN | CKF_VERIFY);
		CHECK_UL(info.ulMinKeySize, 1);
		CHECK_RV(P11->C_GetMechanismInfo(e.slot, hmacs[r].general, &info), CKR_OK);
		CHECK_UL(info.flags, CKF_SIGN | CKF_VERIFY);
		len = hmacs[r].size;
		if (!CHECK_RV(P11->C_GenerateKey(h, &g, t, CH_T_ARRAY_LEN(t), &k), CKR_OK))
			continue;
		CHECK_RV(ch_t_get(h, k, CKA_KEY_TYPE, &kt, &n), CKR_OK);
		CHECK_UL(kt, hmacs[r].kt);
		n = sizeof(mech);
		CHECK_RV(ch_t_get(h, k, CKA_KEY_GEN_MECHANISM, &mech, &n), CKR_OK);
		CHECK_UL(mech, hmacs[r].gen);
		CHECK(ch_t_get_bool(h, k, CKA_LOCAL) == 1);
		got_len = sizeof(tag);
		CHECK_RV(sign_once(h, &m, k, (const CK_BYTE *)"x", 1, tag, &got_len), CKR_OK);
		CHECK_UL(got_len, hmacs[r].size);
		CHECK_RV(P11->C_SignInit(h, &other, k), CKR_KEY_TYPE_INCONSISTENT);
	}
out:
	ch_t_env_free(&e);
}

int main(void)
{
	static const ch_t_case cases[] = {
		CH_T_CASE(test_hmac_wycheproof),
		CH_T_CASE(test_hmac_rfc_known_answers),
		CH_T_CASE(test_hmac_every_hash_matches_openssl),
		CH_T_CASE(test_hmac_general_tag_length_parameter),
		CH_T_CASE(test_hmac_verify_length_and_tamper),
		CH_T_CASE(test_hmac_buffer_convention_keeps_operation),
		CH_T_CASE(test_hmac_key_types_and_usage),
		CH_T_CASE(test_hmac_key_generators),
	};

	return ch_t_run(cases, CH_T_ARRAY_LEN(cases));
}
