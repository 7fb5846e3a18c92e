/*
 * The RSA family (token/mech_rsa.c, token/mech_rsa_ops.c) through the
 * module's PKCS#11 interface: C_GetMechanismInfo, key pair generation,
 * import with and without CRT components, round trips of every signature
 * and encryption mechanism, the length, parameter and key checks, the
 * buffer convention.  Wrapping and unwrapping are test_mech_rsa_wrap.c's.
 *
 * Imported keys come from Wycheproof's files (2048 bits from
 * rsa_pkcs1_2048_test.json, a 1024-bit one from rsa_oaep_misc_test.json);
 * three key pairs are generated (2048 bits with e = 65537 and e = 3, and
 * one of 3072 bits), no more: generation is slow.
 */
#include <stdlib.h>
#include <string.h>

#include "module.h"
#include "vectors.h"
#include "rsa_util.h"

static void test_rsa_mechanism_list_and_info(void)
{
	static const struct {
		CK_MECHANISM_TYPE type;
		CK_FLAGS flags;
	} want[] = {
		{ CKM_RSA_PKCS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR },
		{ CKM_RSA_PKCS,
		  CKF_SIGN | CKF_VERIFY | CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP },
		{ CKM_RSA_X_509,
		  CKF_SIGN | CKF_VERIFY | CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP },
		{ CKM_RSA_PKCS_OAEP, CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP },
		{ CKM_RSA_PKCS_PSS, CKF_SIGN | CKF_VERIFY },
	};
	CK_MECHANISM_TYPE list[256];
	CK_ULONG n = CH_T_ARRAY_LEN(list), found = 0;
	CK_MECHANISM_INFO info;
	rt_fx f;

	if (!rt_fx_open(&f))
		goto out;
	REQUIRE_RV(P11->C_GetMechanismList(f.e.slot, list, &n), CKR_OK);
	for (size_t i = 0; i < CH_T_ARRAY_LEN(want) + 2 * RT_HASHES; i++) {
		CK_MECHANISM_TYPE t;
		CK_FLAGS fl = CKF_SIGN | CKF_VERIFY;
		bool listed = false;

		if (i < CH_T_ARRAY_LEN(want)) {
			t = want[i].type;
			fl = want[i].flags;
		} else if (i < CH_T_ARRAY_LEN(want) + RT_HASHES) {
			t = rt_hashes[i - CH_T_ARRAY_LEN(want)].pkcs1;
		} else {
			t = rt_hashes[i - CH_T_ARRAY_LEN(want) - RT_HASHES].pss;
		}
		for (CK_ULONG j = 0; j < n; j++)
			listed = listed || list[j] == t;
		found += listed;
		if (!CHECK(listed))
			fprintf(stderr, "mechanism 0x%lx not listed\n", (unsigned long)t);
		if (!CHECK_RV(P11->C_GetMechanismInfo(f.e.slot, t, &info), CKR_OK))
			continue;
		CHECK_UL(info.ulMinKeySize, 2048);
		CHECK_UL(info.ulMaxKeySize, 8192);
		CHECK_UL(info.flags, fl);
	}
	CHECK_UL(found, CH_T_ARRAY_LEN(want) + 2 * RT_HASHES);
	/* Not offered: sign-recover, X9.31, MD5. */
	CHECK_RV(P11->C_GetMechanismInfo(f.e.slot, CKM_RSA_X9_31, &info), CKR_MECHANISM_INVALID);
	CHECK_RV(P11->C_GetMechanismInfo(f.e.slot, CKM_MD5_RSA_PKCS, &info), CKR_MECHANISM_INVALID);
out:
	rt_fx_close(&f);
}

/* Reads an attribute into b (at most RT_BUF bytes). */
static CK_RV get_bytes(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, CK_BYTE *b,
                       CK_ULONG *len)
{
	*len = RT_BUF;
	return ch_t_get(h, o, type, b, len);
}

/* Generates a key pair of 2048 bits, with public exponent e (NULL: the
 * default), for signing and encryption. */
static CK_RV gen_pair(CK_SESSION_HANDLE h, const CK_BYTE *e, CK_ULONG e_len, CK_ULONG bits,
                      CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	CK_MECHANISM m = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE pt[4] = {
		CH_T_ULONG(CKA_MODULUS_BITS, &bits),
		CH_T_BOOL(CKA_VERIFY, true),
		CH_T_BOOL(CKA_ENCRYPT, true),
		CH_T_ATTR(CKA_PUBLIC_EXPONENT, e, e_len),
	};
	CK_ATTRIBUTE st[] = {
		CH_T_BOOL(CKA_SIGN, true),
		CH_T_BOOL(CKA_DECRYPT, true),
	};

	return P11->C_GenerateKeyPair(h, &m, pt, e != NULL ? 4 : 3, st, CH_T_ARRAY_LEN(st), pub,
	                              priv);
}

/* A generated pair has every component, consistent between the halves,
 * and the attributes of a generated key. */
static void check_generated(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv,
                            const CK_BYTE *e, CK_ULONG e_len)
{
	CK_BYTE a[RT_BUF], b[RT_BUF];
	CK_ULONG al, bl, bits = 0, bl2 = sizeof(bits), mech = 0, ml = sizeof(mech);
	static const CK_ATTRIBUTE_TYPE crt[] = { CKA_PRIVATE_EXPONENT, CKA_PRIME_1,
		                                 CKA_PRIME_2,          CKA_EXPONENT_1,
		                                 CKA_EXPONENT_2,       CKA_COEFFICIENT };

	CHECK_RV(get_bytes(h, pub, CKA_MODULUS, a, &al), CKR_OK);
	CHECK_UL(al, 256);
	CHECK(al > 0 && (a[0] & 0x80) != 0); /* exactly 2048 bits */
	CHECK_RV(get_bytes(h, priv, CKA_MODULUS, b, &bl), CKR_OK);
	CHECK(al == bl && memcmp(a, b, al) == 0);
	CHECK_RV(ch_t_get(h, pub, CKA_MODULUS_BITS, &bits, &bl2), CKR_OK);
	CHECK_UL(bits, 2048);
	CHECK_RV(get_bytes(h, pub, CKA_PUBLIC_EXPONENT, a, &al), CKR_OK);
	CHECK(al == e_len && memcmp(a, e, e_len) == 0);
	CHECK_RV(get_bytes(h, priv, CKA_PUBLIC_EXPONENT, b, &bl), CKR_OK);
	CHECK(al == bl && memcmp(a, b, al) == 0);
	for (size_t i = 0; i < CH_T_ARRAY_LEN(crt); i++) {
		CHECK_RV(get_bytes(h, priv, crt[i], b, &bl), CKR_OK);
		CHECK(bl > 0 && bl <= 256);
	}
	CHECK(ch_t_get_bool(h, pub, CKA_LOCAL) == 1);
	CHECK(ch_t_get_bool(h, priv, CKA_LOCAL) == 1);
	CHECK_RV(ch_t_get(h, priv, CKA_KEY_GEN_MECHANISM, &mech, &ml), CKR_OK);
	CHECK_UL(mech, CKM_RSA_PKCS_KEY_PAIR_GEN);
}

/* Signs with the pair through every signature mechanism and checks the
 * signature verifies (and fails once altered); encrypts and decrypts
 * with every encryption mechanism. */
static void round_trips(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv, size_t kb)
{
	CK_BYTE sig[RT_BUF], ct[RT_BUF], pt[RT_BUF], dg[64];
	CK_ULONG sl, cl, pl;
	CK_MECHANISM m;
	CK_RSA_PKCS_PSS_PARAMS pp;
	CK_RSA_PKCS_OAEP_PARAMS op;

	for (size_t i = 0; i < RT_HASHES; i++) {
		const rt_hash *hh = &rt_hashes[i];
		CK_MECHANISM types[2] = { { hh->pkcs1, NULL, 0 }, { 0, NULL, 0 } };
		size_t dl;

		rt_pss_mech(&types[1], &pp, hh->pss, hh, hh->size);
		for (size_t j = 0; j < 2; j++) {
			sl = sizeof(sig);
			if (!CHECK_RV(rt_sign(h, &types[j], priv, rt_msg, RT_MSG_LEN, sig, &sl),
			              CKR_OK)) {
				fprintf(stderr, "    with %s (%s)\n", hh->name,
				        j ? "PSS" : "PKCS#1");
				continue;
			}
			CHECK_UL(sl, kb);
			CHECK_RV(rt_verify(h, &types[j], pub, rt_msg, RT_MSG_LEN, sig, sl), CKR_OK);
			sig[sl / 2] ^= 1;
			CHECK_RV(rt_verify(h, &types[j], pub, rt_msg, RT_MSG_LEN, sig, sl),
			         CKR_SIGNATURE_INVALID);
		}
		/* The raw rows over what the hashing rows sign. */
		dl = rt_digest_info(hh, rt_msg, RT_MSG_LEN, pt);
		m = (CK_MECHANISM){ CKM_RSA_PKCS, NULL, 0 };
		sl = sizeof(sig);
		CHECK_RV(rt_sign(h, &m, priv, pt, dl, sig, &sl), CKR_OK);
		m.mechanism = hh->pkcs1;
		CHECK_RV(rt_verify(h, &m, pub, rt_msg, RT_MSG_LEN, sig, sl), CKR_OK);
		dl = rt_digest(hh, rt_msg, RT_MSG_LEN, dg);
		rt_pss_mech(&m, &pp, CKM_RSA_PKCS_PSS, hh, hh->size);
		sl = sizeof(sig);
		CHECK_RV(rt_sign(h, &m, priv, dg, dl, sig, &sl), CKR_OK);
		rt_pss_mech(&m, &pp, hh->pss, hh, hh->size);
		CHECK_RV(rt_verify(h, &m, pub, rt_msg, RT_MSG_LEN, sig, sl), CKR_OK);
	}

	/* Raw RSA: sign is the inverse of verify, over k bytes. */
	m = (CK_MECHANISM){ CKM_RSA_X_509, NULL, 0 };
	sl = sizeof(sig);
	CHECK_RV(rt_sign(h, &m, priv, rt_msg, RT_MSG_LEN, sig, &sl), CKR_OK);
	CHECK_UL(sl, kb);
	CHECK_RV(rt_verify(h, &m, pub, rt_msg, RT_MSG_LEN, sig, sl), CKR_OK);

	/* Encryption. */
	m = (CK_MECHANISM){ CKM_RSA_PKCS, NULL, 0 };
	cl = sizeof(ct);
	pl = sizeof(pt);
	CHECK_RV(rt_encrypt(h, &m, pub, rt_msg, RT_MSG_LEN, ct, &cl), CKR_OK);
	CHECK_UL(cl, kb);
	CHECK_RV(rt_decrypt(h, &m, priv, ct, cl, pt, &pl), CKR_OK);
	CHECK(pl == RT_MSG_LEN && memcmp(pt, rt_msg, RT_MSG_LEN) == 0);
	for (size_t i = 0; i < RT_HASHES; i++) {
		rt_oaep_mech(&m, &op, &rt_hashes[i], &rt_hashes[(i + 2) % RT_HASHES],
		             i % 2 ? "label" : NULL, i % 2 ? 5 : 0);
		cl = sizeof(ct);
		pl = sizeof(pt);
		if (!CHECK_RV(rt_encrypt(h, &m, pub, rt_msg, RT_MSG_LEN, ct, &cl), CKR_OK))
			fprintf(stderr, "    OAEP with %s\n", rt_hashes[i].name);
		CHECK_RV(rt_decrypt(h, &m, priv, ct, cl, pt, &pl), CKR_OK);
		CHECK(pl == RT_MSG_LEN && memcmp(pt, rt_msg, RT_MSG_LEN) == 0);
	}
	m = (CK_MECHANISM){ CKM_RSA_X_509, NULL, 0 };
	cl = sizeof(ct);
	pl = sizeof(pt);
	CHECK_RV(rt_encrypt(h, &m, pub, rt_msg, RT_MSG_LEN, ct, &cl), CKR_OK);
	CHECK_RV(rt_decrypt(h, &m, priv, ct, cl, pt, &pl), CKR_OK);
	/* k bytes back, the input left-padded with zeros. */
	CHECK_UL(pl, kb);
	CHECK(pl == kb && memcmp(pt + kb - RT_MSG_LEN, rt_msg, RT_MSG_LEN) == 0 && pt[0] == 0 &&
	      pt[kb - RT_MSG_LEN - 1] == 0);
}

static void test_rsa_generated_pair_works_with_every_mechanism(void)
{
	static const CK_BYTE f4[] = { 0x01, 0x00, 0x01 };
	CK_OBJECT_HANDLE pub, priv;
	rt_fx f;

	if (!rt_fx_open(&f))
		goto out;
	REQUIRE_RV(gen_pair(f.h, NULL, 0, 2048, &pub, &priv), CKR_OK);
	check_generated(f.h, pub, priv, f4, sizeof(f4));
	round_trips(f.h, pub, priv, 256);
out:
	rt_fx_close(&f);
}

static void test_rsa_generation_takes_exponent_3(void)
{
	static const CK_BYTE three[] = { 0x03 };
	CK_MECHANISM m = { CKM_SHA256_RSA_PKCS, NULL, 0 };
	CK_BYTE sig[RT_BUF];
	CK_ULONG sl = sizeof(sig);
	CK_OBJECT_HANDLE pub, priv;
	rt_fx f;

	if (!rt_fx_open(&f))
		goto out;
	REQUIRE_RV(gen_pair(f.h, three, sizeof(three), 2048, &pub, &priv), CKR_OK);
	check_generated(f.h, pub, priv, three, sizeof(three));
	CHECK_RV(rt_sign(f.h, &m, priv, rt_msg, RT_MSG_LEN, sig, &sl), CKR_OK);
	CHECK_RV(rt_verify(f.h, &m, pub, rt_msg, RT_MSG_LEN, sig, sl), CKR_OK);
out:
	rt_fx_close(&f);
}

/* One larger generated key (3072 bits: generation is slow), with the
 * mechanisms whose lengths depend on the modulus. */
static void test_rsa_generation_of_3072_bits(void)
{
	CK_MECHANISM m = { CKM_SHA512_RSA_PKCS_PSS, NULL, 0 };
	CK_RSA_PKCS_PSS_PARAMS pp;
	CK_RSA_PKCS_OAEP_PARAMS op;
	CK_BYTE sig[RT_BUF], in[RT_BUF], pt[RT_BUF];
	CK_ULONG sl = sizeof(sig), pl = sizeof(pt), bits = 0, bl = sizeof(bits);
	CK_OBJECT_HANDLE pub, priv;
	const rt_hash *s512 = rt_hash_by_name("SHA-512");
	rt_fx f;

	if (!rt_fx_open(&f))
		goto out;
	REQUIRE_RV(gen_pair(f.h, NULL, 0, 3072, &pub, &priv), CKR_OK);
	CHECK_RV(ch_t_get(f.h, pub, CKA_MODULUS_BITS, &bits, &bl), CKR_OK);
	CHECK_UL(bits, 3072);
	rt_pss_mech(&m, &pp, CKM_SHA512_RSA_PKCS_PSS, s512, 64);
	CHECK_RV(rt_sign(f.h, &m, priv, rt_msg, RT_MSG_LEN, sig, &sl), CKR_OK);
	CHECK_UL(sl, 384);
	CHECK_RV(rt_verify(f.h, &m, pub, rt_msg, RT_MSG_LEN, sig, sl), CKR_OK);
	/* OAEP with SHA-512 takes 384 - 130 bytes. */
	memset(in, 0xa5, sizeof(in));
	rt_oaep_mech(&m, &op, s512, s512, NULL, 0);
	sl = sizeof(sig);
	CHECK_RV(rt_encrypt(f.h, &m, pub, in, 384 - 130, sig, &sl), CKR_OK);
	CHECK_RV(rt_decrypt(f.h, &m, priv, sig, sl, pt, &pl), CKR_OK);
	CHECK(pl == 384 - 130 && memcmp(pt, in, pl) == 0);
	sl = sizeof(sig);
	CHECK_RV(rt_encrypt(f.h, &m, pub, in, 384 - 129, sig, &sl), CKR_DATA_LEN_RANGE);
out:
	rt_fx_close(&f);
}

static void test_rsa_generation_rejects_bad_templates(void)
{
	static const CK_BYTE even[] = { 0x01, 0x00, 0x00 }, one[] = { 0x01 }, zero[] = { 0x00 };
	CK_MECHANISM m = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_OBJECT_HANDLE pub, priv;
	CK_ULONG bits = 2048;
	CK_ATTRIBUTE no_bits[] = { CH_T_BOOL(CKA_VERIFY, true) };
	CK_ATTRIBUTE st[] = { CH_T_BOOL(CKA_SIGN, true) };
	CK_BYTE big_e[40];
	rt_fx f;

	if (!rt_fx_open(&f))
		goto out;
	CHECK_RV(gen_pair(f.h, NULL, 0, 1024, &pub, &priv), CKR_KEY_SIZE_RANGE);
	CHECK_RV(gen_pair(f.h, NULL, 0, 2047, &pub, &priv), CKR_KEY_SIZE_RANGE);
	CHECK_RV(gen_pair(f.h, NULL, 0, 8193, &pub, &priv), CKR_KEY_SIZE_RANGE);
	CHECK_RV(gen_pair(f.h, even, sizeof(even), 2048, &pub, &priv), CKR_ATTRIBUTE_VALUE_INVALID);
	CHECK_RV(gen_pair(f.h, one, sizeof(one), 2048, &pub, &priv), CKR_ATTRIBUTE_VALUE_INVALID);
	CHECK_RV(gen_pair(f.h, zero, sizeof(zero), 2048, &pub, &priv), CKR_ATTRIBUTE_VALUE_INVALID);
	memset(big_e, 0xff, sizeof(big_e)); /* odd, but 320 bits */
	CHECK_RV(gen_pair(f.h, big_e, sizeof(big_e), 2048, &pub, &priv),
	         CKR_ATTRIBUTE_VALUE_INVALID);
	/* Above 3072 bits OpenSSL's public operation takes 64-bit exponents at
	 * most: refused before any (slow) generation. */
	CHECK_RV(gen_pair(f.h, big_e, 9, 4096, &pub, &priv), CKR_ATTRIBUTE_VALUE_INVALID);
	CHECK_RV(P11->C_GenerateKeyPair(f.h, &m, no_bits, 1, st, 1, &pub, &priv),
	         CKR_TEMPLATE_INCOMPLETE);
	m.pParameter = &bits;
	m.ulParameterLen = sizeof(bits);
	{
		CK_ATTRIBUTE pt[] = { CH_T_ULONG(CKA_MODULUS_BITS, &bits) };

		CHECK_RV(P11->C_GenerateKeyPair(f.h, &m, pt, 1, st, 1, &pub, &priv),
		         CKR_MECHANISM_PARAM_INVALID);
	}
out:
	rt_fx_close(&f);
}

/* The key without CRT components signs exactly as the CRT key does
 * (PKCS#1 v1.5 is deterministic) and decrypts the same. */
static void test_rsa_private_key_without_crt_signs_and_decrypts(void)
{
	CK_MECHANISM m = { CKM_SHA384_RSA_PKCS, NULL, 0 };
	CK_BYTE s1[RT_BUF], s2[RT_BUF], ct[RT_BUF], pt[RT_BUF];
	CK_ULONG l1 = sizeof(s1), l2 = sizeof(s2), cl = sizeof(ct), pl = sizeof(pt);
	rt_fx f;

	if (!rt_fx_open(&f))
		goto out;
	CHECK_RV(rt_sign(f.h, &m, f.priv, rt_msg, RT_MSG_LEN, s1, &l1), CKR_OK);
	CHECK_RV(rt_sign(f.h, &m, f.plain, rt_msg, RT_MSG_LEN, s2, &l2), CKR_OK);
	CHECK(l1 == RT_KB && l2 == RT_KB && memcmp(s1, s2, RT_KB) == 0);
	CHECK_RV(rt_verify(f.h, &m, f.pub, rt_msg, RT_MSG_LEN, s2, l2), CKR_OK);
	m.mechanism = CKM_RSA_PKCS;
	CHECK_RV(rt_encrypt(f.h, &m, f.pub, rt_msg, RT_MSG_LEN, ct, &cl), CKR_OK);
	CHECK_RV(rt_decrypt(f.h, &m, f.plain, ct, cl, pt, &pl), CKR_OK);
	CHECK(pl == RT_MSG_LEN && memcmp(pt, rt_msg, RT_MSG_LEN) == 0);
out:
	rt_fx_close(&f);
}

/* Creates a private key from k with component i replaced by v (or left
 * out when v is NULL), then tries C_SignInit with it. */
static CK_RV sign_init_with(rt_fx *f, size_t parts, size_t i, const CK_BYTE *v, CK_ULONG len)
{
	rt_key k = f->k;
	vec_bytes saved = k.v[i];
	CK_OBJECT_HANDLE o = CK_INVALID_HANDLE;
	CK_MECHANISM m = { CKM_SHA256_RSA_PKCS, NULL, 0 };
	CK_RV rv;

	k.v[i].p = (unsigned char *)v;
	k.v[i].len = len;
	if (v == NULL) {
		/* Leave component i out: move the later ones down. */
		CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
		CK_KEY_TYPE kt = CKK_RSA;
		CK_ATTRIBUTE t[3 + RT_PARTS] = { CH_T_ULONG(CKA_CLASS, &cls),
			                         CH_T_ULONG(CKA_KEY_TYPE, &kt),
			                         CH_T_BOOL(CKA_SIGN, true) };
		CK_ULONG n = 3;

		for (size_t j = 0; j < parts; j++) {
			CK_ATTRIBUTE a = CH_T_ATTR(rt_attr_types[j], f->k.v[j].p, f->k.v[j].len);

			if (j != i)
				t[n++] = a;
		}
		rv = P11->C_CreateObject(f->h, t, n, &o);
	} else {
		rv = rt_create_private(f->h, &k, parts, RT_SIGN, &o);
	}
	k.v[i] = saved;
	if (rv != CKR_OK)
		return rv;
	rv = P11->C_SignInit(f->h, &m, o);
	if (rv == CKR_OK) {
		CK_BYTE sig[RT_BUF];
		CK_ULONG sl = sizeof(sig);

		(void)P11->C_Sign(f->h, (CK_BYTE_PTR)rt_msg, RT_MSG_LEN, sig, &sl);
	}
	(void)P11->C_DestroyObject(f->h, o);
	return rv;
}

static void test_rsa_malformed_keys_are_refused_at_init(void)
{
	CK_BYTE v[RT_KB + 1];
	CK_OBJECT_HANDLE o;
	CK_MECHANISM m = { CKM_SHA256_RSA_PKCS, NULL, 0 };
	rt_key small;
	rt_fx f;

	memset(&small, 0, sizeof(small));
	if (!rt_fx_open(&f))
		goto out;
	/* Whole keys, then one thing wrong at a time. */
	CHECK_RV(sign_init_with(&f, RT_PARTS, RT_D, f.k.v[RT_D].p, f.k.v[RT_D].len), CKR_OK);
	CHECK_RV(sign_init_with(&f, 3, RT_D, f.k.v[RT_D].p, f.k.v[RT_D].len), CKR_OK);
	/* No public exponent (PKCS#11 2.40 on: tokens store it). */
	CHECK_RV(sign_init_with(&f, RT_PARTS, RT_E, NULL, 0), CKR_KEY_TYPE_INCONSISTENT);
	/* Some CRT components without the others. */
	CHECK_RV(sign_init_with(&f, 4, RT_D, f.k.v[RT_D].p, f.k.v[RT_D].len),
	         CKR_KEY_TYPE_INCONSISTENT);
	CHECK_RV(sign_init_with(&f, RT_PARTS, RT_QINV, NULL, 0), CKR_KEY_TYPE_INCONSISTENT);
	CHECK_RV(sign_init_with(&f, RT_PARTS, RT_P, NULL, 0), CKR_KEY_TYPE_INCONSISTENT);
	/* p * q != n. */
	memcpy(v, f.k.v[RT_P].p, f.k.v[RT_P].len);
	v[f.k.v[RT_P].len - 1] ^= 2;
	CHECK_RV(sign_init_with(&f, RT_PARTS, RT_P, v, f.k.v[RT_P].len), CKR_KEY_TYPE_INCONSISTENT);
	/* Even public exponent, exponent 1, d >= n, even modulus. */
	v[0] = 0x01;
	v[1] = 0x00;
	v[2] = 0x00;
	CHECK_RV(sign_init_with(&f, RT_PARTS, RT_E, v, 3), CKR_KEY_TYPE_INCONSISTENT);
	v[0] = 0x01;
	CHECK_RV(sign_init_with(&f, RT_PARTS, RT_E, v, 1), CKR_KEY_TYPE_INCONSISTENT);
	memset(v, 0xff, RT_KB);
	CHECK_RV(sign_init_with(&f, 3, RT_D, v, RT_KB), CKR_KEY_TYPE_INCONSISTENT);
	memcpy(v, f.k.v[RT_N].p, RT_KB);
	v[RT_KB - 1] ^= 1;
	CHECK_RV(sign_init_with(&f, 3, RT_N, v, RT_KB), CKR_KEY_TYPE_INCONSISTENT);
	/* 1024-bit keys are below the minimum, for every kind. */
	REQUIRE(rt_load_key("rsa_oaep_misc_test.json", &small));
	REQUIRE_RV(rt_create_public(f.h, &small, RT_SIGN | RT_CRYPT, &o), CKR_OK);
	CHECK_RV(P11->C_VerifyInit(f.h, &m, o), CKR_KEY_SIZE_RANGE);
	m.mechanism = CKM_RSA_PKCS;
	CHECK_RV(P11->C_EncryptInit(f.h, &m, o), CKR_KEY_SIZE_RANGE);
	REQUIRE_RV(rt_create_private(f.h, &small, RT_PARTS, RT_SIGN | RT_CRYPT, &o), CKR_OK);
	CHECK_RV(P11->C_SignInit(f.h, &m, o), CKR_KEY_SIZE_RANGE);
	CHECK_RV(P11->C_DecryptInit(f.h, &m, o), CKR_KEY_SIZE_RANGE);
out:
	rt_key_free(&small);
	rt_fx_close(&f);
}

static void test_rsa_wrong_key_class_or_usage(void)
{
	CK_MECHANISM m = { CKM_SHA256_RSA_PKCS, NULL, 0 }, e = { CKM_RSA_PKCS, NULL, 0 };
	CK_OBJECT_HANDLE pub_only_verify, ec_pub, ec_priv;
	rt_fx f;

	if (!rt_fx_open(&f))
		goto out;
	CHECK_RV(P11->C_SignInit(f.h, &m, f.pub), CKR_KEY_TYPE_INCONSISTENT);
	CHECK_RV(P11->C_VerifyInit(f.h, &m, f.priv), CKR_KEY_TYPE_INCONSISTENT);
	CHECK_RV(P11->C_EncryptInit(f.h, &e, f.priv), CKR_KEY_TYPE_INCONSISTENT);
	CHECK_RV(P11->C_DecryptInit(f.h, &e, f.pub), CKR_KEY_TYPE_INCONSISTENT);
	REQUIRE_RV(rt_create_public(f.h, &f.k, RT_SIGN, &pub_only_verify), CKR_OK);
	CHECK_RV(P11->C_EncryptInit(f.h, &e, pub_only_verify), CKR_KEY_FUNCTION_NOT_PERMITTED);
	REQUIRE_RV(ch_t_gen_ec(f.h, false, "ec", &ec_pub, &ec_priv), CKR_OK);
	CHECK_RV(P11->C_SignInit(f.h, &m, ec_priv), CKR_KEY_TYPE_INCONSISTENT);
	CHECK_RV(P11->C_VerifyInit(f.h, &m, ec_pub), CKR_KEY_TYPE_INCONSISTENT);
out:
	rt_fx_close(&f);
}

static void test_rsa_length_rules(void)
{
	CK_MECHANISM m = { CKM_RSA_PKCS, NULL, 0 };
	CK_RSA_PKCS_OAEP_PARAMS op;
	CK_RSA_PKCS_PSS_PARAMS pp;
	CK_BYTE in[RT_KB + 1], out[RT_BUF], sig[RT_BUF];
	CK_ULONG ol, sl;
	rt_fx f;

	if (!rt_fx_open(&f))
		goto out;
	memset(in, 0x5a, sizeof(in));
	/* CKM_RSA_PKCS: k - 11 bytes in at most. */
	ol = sizeof(out);
	CHECK_RV(rt_sign(f.h, &m, f.priv, in, RT_KB - 11, out, &ol), CKR_OK);
	CHECK_RV(rt_verify(f.h, &m, f.pub, in, RT_KB - 11, out, ol), CKR_OK);
	CHECK_RV(rt_verify(f.h, &m, f.pub, in, RT_KB - 10, out, ol), CKR_DATA_LEN_RANGE);
	CHECK_RV(rt_verify(f.h, &m, f.pub, in, RT_KB - 11, out, ol - 1), CKR_SIGNATURE_LEN_RANGE);
	CHECK_RV(rt_verify(f.h, &m, f.pub, in, RT_KB - 11, out, ol + 1), CKR_SIGNATURE_LEN_RANGE);
	ol = sizeof(out);
	CHECK_RV(rt_sign(f.h, &m, f.priv, in, RT_KB - 10, out, &ol), CKR_DATA_LEN_RANGE);
	ol = sizeof(out);
	CHECK_RV(rt_encrypt(f.h, &m, f.pub, in, RT_KB - 11, out, &ol), CKR_OK);
	ol = sizeof(out);
	CHECK_RV(rt_encrypt(f.h, &m, f.pub, in, RT_KB - 10, out, &ol), CKR_DATA_LEN_RANGE);
	ol = sizeof(out);
	CHECK_RV(rt_decrypt(f.h, &m, f.priv, in, RT_KB - 1, out, &ol),
	         CKR_ENCRYPTED_DATA_LEN_RANGE);
	ol = sizeof(out);
	CHECK_RV(rt_decrypt(f.h, &m, f.priv, in, RT_KB + 1, out, &ol),
	         CKR_ENCRYPTED_DATA_LEN_RANGE);
	ol = sizeof(out);
	CHECK_RV(rt_decrypt(f.h, &m, f.priv, in, RT_KB, out, &ol), CKR_ENCRYPTED_DATA_INVALID);

	/* OAEP with SHA-256: k - 2 * 32 - 2 bytes at most. */
	rt_oaep_mech(&m, &op, rt_hash_by_name("SHA-256"), rt_hash_by_name("SHA-256"), NULL, 0);
	ol = sizeof(out);
	CHECK_RV(rt_encrypt(f.h, &m, f.pub, in, RT_KB - 66, out, &ol), CKR_OK);
	ol = sizeof(out);
	CHECK_RV(rt_encrypt(f.h, &m, f.pub, in, RT_KB - 65, out, &ol), CKR_DATA_LEN_RANGE);
	ol = sizeof(out);
	CHECK_RV(rt_decrypt(f.h, &m, f.priv, in, RT_KB, out, &ol), CKR_ENCRYPTED_DATA_INVALID);

	/* CKM_RSA_PKCS_PSS: a digest of hashAlg's size exactly. */
	rt_pss_mech(&m, &pp, CKM_RSA_PKCS_PSS, rt_hash_by_name("SHA-256"), 32);
	sl = sizeof(sig);
	CHECK_RV(rt_sign(f.h, &m, f.priv, in, 31, sig, &sl), CKR_DATA_LEN_RANGE);
	sl = sizeof(sig);
	CHECK_RV(rt_sign(f.h, &m, f.priv, in, 33, sig, &sl), CKR_DATA_LEN_RANGE);
	sl = sizeof(sig);
	CHECK_RV(rt_sign(f.h, &m, f.priv, in, 32, sig, &sl), CKR_OK);
	CHECK_RV(rt_verify(f.h, &m, f.pub, in, 32, sig, sl), CKR_OK);
	CHECK_RV(rt_verify(f.h, &m, f.pub, in, 33, sig, sl), CKR_DATA_LEN_RANGE);

	/* CKM_RSA_X_509: up to k bytes, as a number below the modulus. */
	m = (CK_MECHANISM){ CKM_RSA_X_509, NULL, 0 };
	ol = sizeof(out);
	CHECK_RV(rt_encrypt(f.h, &m, f.pub, in, RT_KB + 1, out, &ol), CKR_DATA_LEN_RANGE);
	ol = sizeof(out);
	CHECK_RV(rt_encrypt(f.h, &m, f.pub, f.k.v[RT_N].p, RT_KB, out, &ol), CKR_DATA_LEN_RANGE);
	ol = sizeof(out);
	CHECK_RV(rt_sign(f.h, &m, f.priv, f.k.v[RT_N].p, RT_KB, out, &ol), CKR_DATA_LEN_RANGE);
	memcpy(in, f.k.v[RT_N].p, RT_KB);
	in[RT_KB - 1] -= 1; /* n - 1: the largest input */
	ol = sizeof(out);
	CHECK_RV(rt_encrypt(f.h, &m, f.pub, in, RT_KB, out, &ol), CKR_OK);
	sl = sizeof(sig);
	CHECK_RV(rt_decrypt(f.h, &m, f.priv, out, ol, sig, &sl), CKR_OK);
	CHECK(sl == RT_KB && memcmp(sig, in, RT_KB) == 0);
	/* A ciphertext at or above the modulus does not decrypt. */
	ol = sizeof(out);
	CHECK_RV(rt_decrypt(f.h, &m, f.priv, f.k.v[RT_N].p, RT_KB, out, &ol),
	         CKR_ENCRYPTED_DATA_INVALID);
	ol = sizeof(out);
	CHECK_RV(rt_sign(f.h, &m, f.priv, in, 0, out, &ol), CKR_OK); /* zero signs to zero */
	CHECK_RV(rt_verify(f.h, &m, f.pub, in, 0, out, ol), CKR_OK);
	CHECK_RV(rt_verify(f.h, &m, f.pub, in, 1, out, ol), CKR_SIGNATURE_INVALID);
out:
	rt_fx_close(&f);
}

static void test_rsa_mechanism_parameters(void)
{
	CK_RSA_PKCS_PSS_PARAMS pp;
	CK_RSA_PKCS_OAEP_PARAMS op;
	CK_MECHANISM m;
	CK_BYTE sig[RT_BUF], ct[RT_BUF], pt[RT_BUF], dg[32] = { 0 };
	CK_ULONG sl, cl, pl, word = 0;
	const rt_hash *s256 = rt_hash_by_name("SHA-256"), *s1 = rt_hash_by_name("SHA-1");
	rt_fx f;

	if (!rt_fx_open(&f))
		goto out;
	/* No parameter where none is taken. */
	m = (CK_MECHANISM){ CKM_SHA256_RSA_PKCS, &word, sizeof(word) };
	CHECK_RV(P11->C_SignInit(f.h, &m, f.priv), CKR_MECHANISM_PARAM_INVALID);
	m.mechanism = CKM_RSA_X_509;
	CHECK_RV(P11->C_EncryptInit(f.h, &m, f.pub), CKR_MECHANISM_PARAM_INVALID);

	/* PSS: the hash-then-sign row fixes hashAlg. */
	rt_pss_mech(&m, &pp, CKM_SHA256_RSA_PKCS_PSS, s1, 20);
	CHECK_RV(P11->C_SignInit(f.h, &m, f.priv), CKR_MECHANISM_PARAM_INVALID);
	rt_pss_mech(&m, &pp, CKM_SHA256_RSA_PKCS_PSS, s256, 32);
	pp.mgf = s1->mgf; /* another MGF1 digest is fine */
	CHECK_RV(P11->C_SignInit(f.h, &m, f.priv), CKR_OK);
	sl = sizeof(sig);
	CHECK_RV(P11->C_Sign(f.h, (CK_BYTE_PTR)rt_msg, RT_MSG_LEN, sig, &sl), CKR_OK);
	CHECK_RV(rt_verify(f.h, &m, f.pub, rt_msg, RT_MSG_LEN, sig, sl), CKR_OK);
	pp.mgf = CKG_MGF1_SHA256; /* verify with another MGF: invalid */
	CHECK_RV(rt_verify(f.h, &m, f.pub, rt_msg, RT_MSG_LEN, sig, sl), CKR_SIGNATURE_INVALID);
	pp.sLen = 20; /* another salt length: invalid */
	pp.mgf = s1->mgf;
	CHECK_RV(rt_verify(f.h, &m, f.pub, rt_msg, RT_MSG_LEN, sig, sl), CKR_SIGNATURE_INVALID);
	pp.mgf = 0;
	CHECK_RV(P11->C_SignInit(f.h, &m, f.priv), CKR_MECHANISM_PARAM_INVALID);
	rt_pss_mech(&m, &pp, CKM_RSA_PKCS_PSS, s256, 32);
	pp.hashAlg = CKM_MD5;
	CHECK_RV(P11->C_SignInit(f.h, &m, f.priv), CKR_MECHANISM_PARAM_INVALID);
	rt_pss_mech(&m, &pp, CKM_RSA_PKCS_PSS, s256, 32);
	m.ulParameterLen = sizeof(pp) - 1;
	CHECK_RV(P11->C_SignInit(f.h, &m, f.priv), CKR_MECHANISM_PARAM_INVALID);
	m.pParameter = NULL;
	m.ulParameterLen = 0;
	CHECK_RV(P11->C_SignInit(f.h, &m, f.priv), CKR_MECHANISM_PARAM_INVALID);
	/* The largest salt: emLen - hLen - 2 = 256 - 32 - 2; one more fails. */
	rt_pss_mech(&m, &pp, CKM_RSA_PKCS_PSS, s256, RT_KB - 34);
	sl = sizeof(sig);
	CHECK_RV(rt_sign(f.h, &m, f.priv, dg, 32, sig, &sl), CKR_OK);
	CHECK_RV(rt_verify(f.h, &m, f.pub, dg, 32, sig, sl), CKR_OK);
	pp.sLen = RT_KB - 33;
	CHECK_RV(P11->C_SignInit(f.h, &m, f.priv), CKR_MECHANISM_PARAM_INVALID);
	CHECK_RV(P11->C_VerifyInit(f.h, &m, f.pub), CKR_MECHANISM_PARAM_INVALID);

	/* OAEP. */
	rt_oaep_mech(&m, &op, s256, s256, "label", 5);
	cl = sizeof(ct);
	CHECK_RV(rt_encrypt(f.h, &m, f.pub, rt_msg, RT_MSG_LEN, ct, &cl), CKR_OK);
	pl = sizeof(pt);
	op.ulSourceDataLen = 4; /* another label */
	CHECK_RV(rt_decrypt(f.h, &m, f.priv, ct, cl, pt, &pl), CKR_ENCRYPTED_DATA_INVALID);
	op.pSourceData = NULL;
	CHECK_RV(P11->C_DecryptInit(f.h, &m, f.priv), CKR_MECHANISM_PARAM_INVALID);
	rt_oaep_mech(&m, &op, s256, s256, NULL, 0);
	op.source = 0; /* no label, no source: taken as the empty label */
	cl = sizeof(ct);
	CHECK_RV(rt_encrypt(f.h, &m, f.pub, rt_msg, RT_MSG_LEN, ct, &cl), CKR_OK);
	op.source = CKZ_DATA_SPECIFIED;
	pl = sizeof(pt);
	CHECK_RV(rt_decrypt(f.h, &m, f.priv, ct, cl, pt, &pl), CKR_OK);
	op.source = 2;
	CHECK_RV(P11->C_EncryptInit(f.h, &m, f.pub), CKR_MECHANISM_PARAM_INVALID);
	rt_oaep_mech(&m, &op, s256, s256, NULL, 0);
	op.hashAlg = CKM_SHA512_224;
	CHECK_RV(P11->C_EncryptInit(f.h, &m, f.pub), CKR_MECHANISM_PARAM_INVALID);
	rt_oaep_mech(&m, &op, s256, s256, NULL, 0);
	op.mgf = 0x77;
	CHECK_RV(P11->C_EncryptInit(f.h, &m, f.pub), CKR_MECHANISM_PARAM_INVALID);
	rt_oaep_mech(&m, &op, s256, s256, NULL, 0);
	m.ulParameterLen = 0;
	CHECK_RV(P11->C_EncryptInit(f.h, &m, f.pub), CKR_MECHANISM_PARAM_INVALID);
	/* OAEP does not sign. */
	rt_oaep_mech(&m, &op, s256, s256, NULL, 0);
	CHECK_RV(P11->C_SignInit(f.h, &m, f.priv), CKR_MECHANISM_INVALID);
out:
	rt_fx_close(&f);
}

static void test_rsa_buffer_convention_keeps_operation(void)
{
	CK_MECHANISM m = { CKM_SHA256_RSA_PKCS, NULL, 0 };
	CK_BYTE sig[RT_BUF], ct[RT_BUF], pt[RT_BUF];
	CK_ULONG sl, cl, pl;
	rt_fx f;

	if (!rt_fx_open(&f))
		goto out;
	/* C_Sign: length query, short buffer, then the signature. */
	REQUIRE_RV(P11->C_SignInit(f.h, &m, f.priv), CKR_OK);
	sl = 0;
	CHECK_RV(P11->C_Sign(f.h, (CK_BYTE_PTR)rt_msg, RT_MSG_LEN, NULL, &sl), CKR_OK);
	CHECK_UL(sl, RT_KB);
	sl = RT_KB - 1;
	CHECK_RV(P11->C_Sign(f.h, (CK_BYTE_PTR)rt_msg, RT_MSG_LEN, sig, &sl), CKR_BUFFER_TOO_SMALL);
	CHECK_UL(sl, RT_KB);
	sl = sizeof(sig);
	CHECK_RV(P11->C_Sign(f.h, (CK_BYTE_PTR)rt_msg, RT_MSG_LEN, sig, &sl), CKR_OK);
	CHECK_RV(rt_verify(f.h, &m, f.pub, rt_msg, RT_MSG_LEN, sig, sl), CKR_OK);

	/* C_SignFinal after updates, the same three steps. */
	REQUIRE_RV(P11->C_SignInit(f.h, &m, f.priv), CKR_OK);
	CHECK_RV(P11->C_SignUpdate(f.h, (CK_BYTE_PTR)rt_msg, 10), CKR_OK);
	CHECK_RV(P11->C_SignUpdate(f.h, (CK_BYTE_PTR)rt_msg + 10, RT_MSG_LEN - 10), CKR_OK);
	CHECK_RV(P11->C_SignFinal(f.h, NULL, &sl), CKR_OK);
	CHECK_UL(sl, RT_KB);
	sl = 1;
	CHECK_RV(P11->C_SignFinal(f.h, sig + RT_KB, &sl), CKR_BUFFER_TOO_SMALL);
	sl = RT_KB;
	CHECK_RV(P11->C_SignFinal(f.h, sig + RT_KB, &sl), CKR_OK);
	/* Multi-part gives the one-shot signature (PKCS#1 v1.5 is
	 * deterministic). */
	CHECK(sl == RT_KB && memcmp(sig, sig + RT_KB, RT_KB) == 0);
	CHECK_RV(P11->C_SignFinal(f.h, sig, &sl), CKR_OPERATION_NOT_INITIALIZED);

	/* C_Decrypt: the query answers the bound, k - 11; a buffer shorter
	 * than the bound gets the bound, whatever the plaintext's length (no
	 * padding oracle through the buffer size), and keeps the operation. */
	m.mechanism = CKM_RSA_PKCS;
	cl = sizeof(ct);
	REQUIRE_RV(rt_encrypt(f.h, &m, f.pub, rt_msg, RT_MSG_LEN, ct, &cl), CKR_OK);
	REQUIRE_RV(P11->C_DecryptInit(f.h, &m, f.priv), CKR_OK);
	CHECK_RV(P11->C_Decrypt(f.h, ct, cl, NULL, &pl), CKR_OK);
	CHECK_UL(pl, RT_KB - 11);
	pl = RT_MSG_LEN;
	CHECK_RV(P11->C_Decrypt(f.h, ct, cl, pt, &pl), CKR_BUFFER_TOO_SMALL);
	CHECK_UL(pl, RT_KB - 11);
	pl = RT_KB - 11;
	CHECK_RV(P11->C_Decrypt(f.h, ct, cl, pt, &pl), CKR_OK);
	CHECK(pl == RT_MSG_LEN && memcmp(pt, rt_msg, RT_MSG_LEN) == 0);

	/* C_Encrypt: k; a short buffer keeps the operation. */
	REQUIRE_RV(P11->C_EncryptInit(f.h, &m, f.pub), CKR_OK);
	CHECK_RV(P11->C_Encrypt(f.h, (CK_BYTE_PTR)rt_msg, RT_MSG_LEN, NULL, &cl), CKR_OK);
	CHECK_UL(cl, RT_KB);
	cl = RT_KB - 1;
	CHECK_RV(P11->C_Encrypt(f.h, (CK_BYTE_PTR)rt_msg, RT_MSG_LEN, ct, &cl),
	         CKR_BUFFER_TOO_SMALL);
	CHECK_UL(cl, RT_KB);
	cl = RT_KB;
	CHECK_RV(P11->C_Encrypt(f.h, (CK_BYTE_PTR)rt_msg, RT_MSG_LEN, ct, &cl), CKR_OK);
out:
	rt_fx_close(&f);
}

static void test_rsa_single_part_rows_refuse_updates(void)
{
	CK_MECHANISM m = { CKM_RSA_PKCS, NULL, 0 };
	CK_RSA_PKCS_OAEP_PARAMS op;
	CK_BYTE out[RT_BUF];
	CK_ULONG ol = sizeof(out);
	rt_fx f;

	if (!rt_fx_open(&f))
		goto out;
	REQUIRE_RV(P11->C_SignInit(f.h, &m, f.priv), CKR_OK);
	CHECK_RV(P11->C_SignUpdate(f.h, (CK_BYTE_PTR)rt_msg, RT_MSG_LEN),
	         CKR_FUNCTION_NOT_SUPPORTED);
	REQUIRE_RV(P11->C_EncryptInit(f.h, &m, f.pub), CKR_OK);
	CHECK_RV(P11->C_EncryptUpdate(f.h, (CK_BYTE_PTR)rt_msg, RT_MSG_LEN, out, &ol),
	         CKR_FUNCTION_NOT_SUPPORTED);
	rt_oaep_mech(&m, &op, rt_hash_by_name("SHA-1"), rt_hash_by_name("SHA-1"), NULL, 0);
	REQUIRE_RV(P11->C_DecryptInit(f.h, &m, f.priv), CKR_OK);
	ol = sizeof(out);
	CHECK_RV(P11->C_DecryptUpdate(f.h, out, RT_KB, out, &ol), CKR_FUNCTION_NOT_SUPPORTED);
	m = (CK_MECHANISM){ CKM_RSA_X_509, NULL, 0 };
	REQUIRE_RV(P11->C_VerifyInit(f.h, &m, f.pub), CKR_OK);
	CHECK_RV(P11->C_VerifyUpdate(f.h, (CK_BYTE_PTR)rt_msg, RT_MSG_LEN),
	         CKR_FUNCTION_NOT_SUPPORTED);
out:
	rt_fx_close(&f);
}

/* The multi-part PSS signature verifies in one part and in parts. */
static void test_rsa_pss_multipart(void)
{
	CK_RSA_PKCS_PSS_PARAMS pp;
	CK_MECHANISM m;
	CK_BYTE sig[RT_BUF];
	CK_ULONG sl = sizeof(sig);
	rt_fx f;

	if (!rt_fx_open(&f))
		goto out;
	rt_pss_mech(&m, &pp, CKM_SHA3_256_RSA_PKCS_PSS, rt_hash_by_name("SHA3-256"), 32);
	REQUIRE_RV(P11->C_SignInit(f.h, &m, f.priv), CKR_OK);
	for (size_t i = 0; i < RT_MSG_LEN; i += 7)
		CHECK_RV(P11->C_SignUpdate(f.h, (CK_BYTE_PTR)rt_msg + i,
		                           RT_MSG_LEN - i < 7 ? RT_MSG_LEN - i : 7),
		         CKR_OK);
	CHECK_RV(P11->C_SignFinal(f.h, sig, &sl), CKR_OK);
	CHECK_RV(rt_verify(f.h, &m, f.pub, rt_msg, RT_MSG_LEN, sig, sl), CKR_OK);
	REQUIRE_RV(P11->C_VerifyInit(f.h, &m, f.pub), CKR_OK);
	CHECK_RV(P11->C_VerifyUpdate(f.h, (CK_BYTE_PTR)rt_msg, 5), CKR_OK);
	CHECK_RV(P11->C_VerifyUpdate(f.h, (CK_BYTE_PTR)rt_msg + 5, RT_MSG_LEN - 5), CKR_OK);
	CHECK_RV(P11->C_VerifyFinal(f.h, sig, sl), CKR_OK);
	REQUIRE_RV(P11->C_VerifyInit(f.h, &m, f.pub), CKR_OK);
	CHECK_RV(P11->C_VerifyUpdate(f.h, (CK_BYTE_PTR)rt_msg, RT_MSG_LEN - 1), CKR_OK);
	CHECK_RV(P11->C_VerifyFinal(f.h, sig, sl), CKR_SIGNATURE_INVALID);
	REQUIRE_RV(P11->C_VerifyInit(f.h, &m, f.pub), CKR_OK);
	CHECK_RV(P11->C_VerifyFinal(f.h, sig, sl - 1), CKR_SIGNATURE_LEN_RANGE);
out:
	rt_fx_close(&f);
}

int main(void)
{
	test_rsa_mechanism_list_and_info();
	test_rsa_generated_pair_works_with_every_mechanism();
	test_rsa_generation_takes_exponent_3();
	test_rsa_generation_of_3072_bits();
	test_rsa_generation_rejects_bad_templates();
	test_rsa_private_key_without_crt_signs_and_decrypts();
	test_rsa_malformed_keys_are_refused_at_init();
	test_rsa_wrong_key_class_or_usage();
	test_rsa_length_rules();
	test_rsa_mechanism_parameters();
	test_rsa_buffer_convention_keeps_operation();
	test_rsa_single_part_rows_refuse_updates();
	test_rsa_pss_multipart();
	return ch_test_done();
}
