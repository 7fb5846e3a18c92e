/*
 * RSA keys in key management: C_WrapKey / C_UnwrapKey of secret keys under
 * RSA (CKM_RSA_PKCS, CKM_RSA_PKCS_OAEP, CKM_RSA_X_509) and of RSA private
 * keys under AES-GCM (PKCS#8, through ch_rsa_pkey_load and
 * ch_rsa_pkey_store), through the module; and the same hooks and the
 * PKCS#8 codec directly (token/mech.h: ch_key_export, ch_key_import,
 * ch_mech_wrap, ch_mech_unwrap), with keys with and without CRT.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "attrs.h"
#include "mech.h"
#include "module.h"
#include "vectors.h"
#include "rsa_util.h"

/* ---------------------------------------------------------------------- */
/* Through token/mech.h: the PKCS#8 codec and the wrap / unwrap hooks.     */

/* k as a key object of that class with the first parts components and
 * the given usage attribute set. */
static ch_attrs *key_attrs(const rt_key *k, CK_OBJECT_CLASS cls, size_t parts,
                           CK_ATTRIBUTE_TYPE usage)
{
	ch_attrs *a = ch_attrs_new();
	bool ok = a != NULL && ch_attrs_set_ulong(a, CKA_CLASS, cls) == CKR_OK &&
	          ch_attrs_set_ulong(a, CKA_KEY_TYPE, CKK_RSA) == CKR_OK &&
	          ch_attrs_set_bool(a, usage, true) == CKR_OK;

	for (size_t i = 0; ok && i < parts; i++)
		ok = ch_attrs_set(a, rt_attr_types[i], k->v[i].p, k->v[i].len) == CKR_OK;
	if (!ok) {
		ch_attrs_free(a);
		return NULL;
	}
	return a;
}

static void test_rsa_pkcs8_export_import_round_trip(void)
{
	ch_attrs *priv = NULL, *plain = NULL, *back = NULL, *pub = NULL;
	CK_BYTE *der = NULL;
	CK_ULONG der_len = 0;
	rt_key k;

	memset(&k, 0, sizeof(k));
	REQUIRE(rt_load_key("rsa_pkcs1_3072_test.json", &k));
	REQUIRE((priv = key_attrs(&k, CKO_PRIVATE_KEY, RT_PARTS, CKA_SIGN)) != NULL);
	REQUIRE_RV(ch_key_export(priv, &der, &der_len), CKR_OK);
	REQUIRE((back = ch_attrs_new()) != NULL);
	REQUIRE_RV(ch_attrs_set_ulong(back, CKA_CLASS, CKO_PRIVATE_KEY), CKR_OK);
	REQUIRE_RV(ch_attrs_set_ulong(back, CKA_KEY_TYPE, CKK_RSA), CKR_OK);
	REQUIRE_RV(ch_key_import(back, der, der_len), CKR_OK);
	for (size_t i = 0; i < RT_PARTS; i++) {
		const ch_attr *v = ch_attrs_get(back, rt_attr_types[i]);

		CHECK(v != NULL && v->len == k.v[i].len && memcmp(v->value, k.v[i].p, v->len) == 0);
	}
	/* A truncated encoding is not a key. */
	ch_attrs_remove(back, CKA_MODULUS);
	CHECK_RV(ch_key_import(back, der, der_len - 1), CKR_WRAPPED_KEY_INVALID);
	/* A public key is not wrappable. */
	REQUIRE((pub = key_attrs(&k, CKO_PUBLIC_KEY, 2, CKA_VERIFY)) != NULL);
	OPENSSL_clear_free(der, der_len);
	der = NULL;
	CHECK_RV(ch_key_export(pub, &der, &der_len), CKR_KEY_NOT_WRAPPABLE);
	/* Without CRT components a key has no PKCS#8 (RSAPrivateKey requires
	 * them, and the token does not factor n from d): OpenSSL's encoder
	 * refuses it, and ch_key_export (token/mech_key.c) reports that. */
	REQUIRE((plain = key_attrs(&k, CKO_PRIVATE_KEY, 3, CKA_SIGN)) != NULL);
	OPENSSL_clear_free(der, der_len);
	der = NULL;
	der_len = 0;
	CHECK_RV(ch_key_export(plain, &der, &der_len), CKR_KEY_NOT_WRAPPABLE);
	CHECK(der == NULL);
out:
	OPENSSL_clear_free(der, der_len);
	ch_attrs_free(priv);
	ch_attrs_free(plain);
	ch_attrs_free(back);
	ch_attrs_free(pub);
	rt_key_free(&k);
}

static void test_rsa_wrap_and_unwrap_hooks(void)
{
	static const CK_BYTE aes[32] = {
		1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
		16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30
	};
	ch_attrs *wk = NULL, *uk = NULL, *uk_plain = NULL, *no_wrap = NULL;
	CK_RSA_PKCS_OAEP_PARAMS op;
	CK_MECHANISM mechs[3];
	CK_BYTE wrapped[RT_BUF], big[RT_KB];
	CK_BYTE *out = NULL;
	CK_ULONG wl, ol = 0;
	rt_key k;

	memset(&k, 0, sizeof(k));
	REQUIRE(rt_load_key("rsa_pkcs1_2048_test.json", &k));
	REQUIRE((wk = key_attrs(&k, CKO_PUBLIC_KEY, 2, CKA_WRAP)) != NULL);
	REQUIRE((uk = key_attrs(&k, CKO_PRIVATE_KEY, RT_PARTS, CKA_UNWRAP)) != NULL);
	REQUIRE((uk_plain = key_attrs(&k, CKO_PRIVATE_KEY, 3, CKA_UNWRAP)) != NULL);
	REQUIRE((no_wrap = key_attrs(&k, CKO_PUBLIC_KEY, 2, CKA_ENCRYPT)) != NULL);
	mechs[0] = (CK_MECHANISM){ CKM_RSA_PKCS, NULL, 0 };
	rt_oaep_mech(&mechs[1], &op, rt_hash_by_name("SHA-256"), rt_hash_by_name("SHA-256"), "l",
	             1);
	mechs[2] = (CK_MECHANISM){ CKM_RSA_X_509, NULL, 0 };
	for (size_t i = 0; i < 3; i++) {
		size_t want = i == 2 ? RT_KB : sizeof(aes);

		wl = 0;
		CHECK_RV(ch_mech_wrap(&mechs[i], wk, aes, sizeof(aes), NULL, &wl), CKR_OK);
		CHECK_UL(wl, RT_KB);
		wl = sizeof(wrapped);
		REQUIRE_RV(ch_mech_wrap(&mechs[i], wk, aes, sizeof(aes), wrapped, &wl), CKR_OK);
		REQUIRE_RV(ch_mech_unwrap(&mechs[i], uk, wrapped, wl, &out, &ol), CKR_OK);
		/* Raw RSA gives back k bytes, the key left-padded with zeros. */
		CHECK(ol == want && memcmp(out + want - sizeof(aes), aes, sizeof(aes)) == 0);
		OPENSSL_clear_free(out, ol);
		out = NULL;
		REQUIRE_RV(ch_mech_unwrap(&mechs[i], uk_plain, wrapped, wl, &out, &ol), CKR_OK);
		CHECK(ol == want && memcmp(out + want - sizeof(aes), aes, sizeof(aes)) == 0);
		OPENSSL_clear_free(out, ol);
		out = NULL;
		/* Damaged or cut short. */
		if (i < 2) {
			wrapped[5] ^= 0x40;
			CHECK_RV(ch_mech_unwrap(&mechs[i], uk, wrapped, wl, &out, &ol),
			         CKR_WRAPPED_KEY_INVALID);
		}
		CHECK_RV(ch_mech_unwrap(&mechs[i], uk, wrapped, wl - 1, &out, &ol),
		         CKR_WRAPPED_KEY_LEN_RANGE);
		CHECK(out == NULL);
		/* The key's usage attributes: CKA_WRAP, CKA_UNWRAP. */
		wl = sizeof(wrapped);
		CHECK_RV(ch_mech_wrap(&mechs[i], no_wrap, aes, sizeof(aes), wrapped, &wl),
		         CKR_KEY_FUNCTION_NOT_PERMITTED);
		CHECK_RV(ch_mech_unwrap(&mechs[i], wk, wrapped, RT_KB, &out, &ol),
		         CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT);
	}
	/* Too much to wrap: the key is too big for the mechanism. */
	memset(big, 0, sizeof(big));
	wl = sizeof(wrapped);
	CHECK_RV(ch_mech_wrap(&mechs[0], wk, big, RT_KB - 10, wrapped, &wl), CKR_KEY_SIZE_RANGE);
	wl = sizeof(wrapped);
	CHECK_RV(ch_mech_wrap(&mechs[1], wk, big, RT_KB - 65, wrapped, &wl), CKR_KEY_SIZE_RANGE);
out:
	OPENSSL_clear_free(out, ol);
	ch_attrs_free(wk);
	ch_attrs_free(uk);
	ch_attrs_free(uk_plain);
	ch_attrs_free(no_wrap);
	rt_key_free(&k);
}

/* ---------------------------------------------------------------------- */
/* C_WrapKey and C_UnwrapKey through the module.                          */

/* Creates an extractable secret key of that type and value. */
static CK_RV make_secret(CK_SESSION_HANDLE h, CK_KEY_TYPE kt, const CK_BYTE *v, CK_ULONG len,
                         bool wrap, bool unwrap, CK_OBJECT_HANDLE *o)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),      CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_BOOL(CKA_WRAP, wrap),        CH_T_BOOL(CKA_UNWRAP, unwrap),
		CH_T_BOOL(CKA_EXTRACTABLE, true), CH_T_ATTR(CKA_VALUE, v, len),
	};

	return P11->C_CreateObject(h, t, CH_T_ARRAY_LEN(t), o);
}

/* An AES-128 key leaves under a 3072-bit RSA key (128 bits of strength
 * each) with every RSA wrapping mechanism and comes back the same; an
 * AES-256 key is stronger than the wrapping key and stays. */
static void test_rsa_wraps_and_unwraps_secret_keys(void)
{
	static const CK_BYTE k128[16] = "sixteen byte key";
	static const CK_BYTE k256[32] = "thirty-two bytes of an AES key!";
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE gen = CKK_GENERIC_SECRET;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),
		CH_T_ULONG(CKA_KEY_TYPE, &gen),
		CH_T_BOOL(CKA_EXTRACTABLE, true),
	};
	CK_OBJECT_HANDLE wk, uk, aes, big, back;
	CK_RSA_PKCS_OAEP_PARAMS op;
	CK_MECHANISM mechs[3];
	CK_BYTE blob[RT_BUF], v[RT_BUF];
	CK_ULONG bl, vl;
	rt_key k;
	rt_fx f;

	memset(&k, 0, sizeof(k));
	if (!rt_fx_open(&f))
		goto out;
	REQUIRE(rt_load_key("rsa_pkcs1_3072_test.json", &k));
	REQUIRE_RV(rt_create_public(f.h, &k, RT_WRAP, &wk), CKR_OK);
	REQUIRE_RV(rt_create_private(f.h, &k, RT_PARTS, RT_WRAP, &uk), CKR_OK);
	REQUIRE_RV(make_secret(f.h, CKK_AES, k128, sizeof(k128), false, false, &aes), CKR_OK);
	REQUIRE_RV(make_secret(f.h, CKK_AES, k256, sizeof(k256), false, false, &big), CKR_OK);
	mechs[0] = (CK_MECHANISM){ CKM_RSA_PKCS, NULL, 0 };
	rt_oaep_mech(&mechs[1], &op, rt_hash_by_name("SHA-384"), rt_hash_by_name("SHA-1"), "lbl",
	             3);
	mechs[2] = (CK_MECHANISM){ CKM_RSA_X_509, NULL, 0 };
	for (size_t i = 0; i < 3; i++) {
		bl = 0;
		CHECK_RV(P11->C_WrapKey(f.h, &mechs[i], wk, aes, NULL, &bl), CKR_OK);
		CHECK_UL(bl, 384);
		bl = sizeof(blob);
		REQUIRE_RV(P11->C_WrapKey(f.h, &mechs[i], wk, aes, blob, &bl), CKR_OK);
		REQUIRE_RV(
		        P11->C_UnwrapKey(f.h, &mechs[i], uk, blob, bl, t, CH_T_ARRAY_LEN(t), &back),
		        CKR_OK);
		vl = sizeof(v);
		CHECK_RV(ch_t_get(f.h, back, CKA_VALUE, v, &vl), CKR_OK);
		/* Raw RSA gives back k bytes, the key left-padded with zeros,
		 * unless the unwrapping layer cuts them to a CKA_VALUE_LEN. */
		if (i < 2)
			CHECK_UL(vl, sizeof(k128));
		else
			CHECK(vl == sizeof(k128) || vl == 384);
		CHECK(vl >= sizeof(k128) && memcmp(v + vl - sizeof(k128), k128, sizeof(k128)) == 0);
		if (i < 2) {
			blob[9] ^= 0x10;
			CHECK_RV(P11->C_UnwrapKey(f.h, &mechs[i], uk, blob, bl, t,
			                          CH_T_ARRAY_LEN(t), &back),
			         CKR_WRAPPED_KEY_INVALID);
		}
		CHECK_RV(P11->C_UnwrapKey(f.h, &mechs[i], uk, blob, bl - 1, t, CH_T_ARRAY_LEN(t),
		                          &back),
		         CKR_WRAPPED_KEY_LEN_RANGE);
		bl = sizeof(blob);
		CHECK_RV(P11->C_WrapKey(f.h, &mechs[i], wk, big, blob, &bl), CKR_KEY_NOT_WRAPPABLE);
		/* The other halves, and keys that may not wrap. */
		CHECK_RV(P11->C_WrapKey(f.h, &mechs[i], uk, aes, blob, &bl),
		         CKR_WRAPPING_KEY_TYPE_INCONSISTENT);
		CHECK_RV(P11->C_WrapKey(f.h, &mechs[i], f.pub, aes, blob, &bl),
		         CKR_KEY_FUNCTION_NOT_PERMITTED);
	}
	/* PSS does not wrap. */
	{
		CK_RSA_PKCS_PSS_PARAMS pp;
		CK_MECHANISM m;

		rt_pss_mech(&m, &pp, CKM_RSA_PKCS_PSS, rt_hash_by_name("SHA-256"), 32);
		bl = sizeof(blob);
		CHECK_RV(P11->C_WrapKey(f.h, &m, wk, aes, blob, &bl), CKR_MECHANISM_INVALID);
	}
out:
	rt_key_free(&k);
	rt_fx_close(&f);
}

/* An RSA private key wrapped (PKCS#8 under AES-GCM) and unwrapped signs
 * exactly as the original, CRT components and all. */
static void test_rsa_private_key_survives_wrap_and_unwrap(void)
{
	static const CK_BYTE kek_v[32] = "an AES key wrapping an RSA key!";
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = CKK_RSA;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),
		CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_BOOL(CKA_SIGN, true),
	};
	CK_MECHANISM s = { CKM_SHA256_RSA_PKCS, NULL, 0 }, m;
	CK_GCM_PARAMS gp;
	CK_BYTE iv[12] = { 9, 9, 9 }, blob[4096], s1[RT_BUF], s2[RT_BUF], v[RT_BUF];
	CK_ULONG bl = sizeof(blob), l1 = sizeof(s1), l2 = sizeof(s2), vl = sizeof(v);
	CK_OBJECT_HANDLE kek, back;
	rt_fx f;

	if (!rt_fx_open(&f))
		goto out;
	REQUIRE_RV(make_secret(f.h, CKK_AES, kek_v, sizeof(kek_v), true, true, &kek), CKR_OK);
	ch_t_gcm(&m, &gp, iv, NULL, 0);
	REQUIRE_RV(P11->C_WrapKey(f.h, &m, kek, f.priv, blob, &bl), CKR_OK);
	REQUIRE_RV(P11->C_UnwrapKey(f.h, &m, kek, blob, bl, t, CH_T_ARRAY_LEN(t), &back), CKR_OK);
	CHECK_RV(ch_t_get(f.h, back, CKA_PRIME_2, v, &vl), CKR_OK);
	CHECK(vl == f.k.v[RT_Q].len && memcmp(v, f.k.v[RT_Q].p, vl) == 0);
	CHECK_RV(rt_sign(f.h, &s, f.priv, rt_msg, RT_MSG_LEN, s1, &l1), CKR_OK);
	CHECK_RV(rt_sign(f.h, &s, back, rt_msg, RT_MSG_LEN, s2, &l2), CKR_OK);
	CHECK(l1 == l2 && memcmp(s1, s2, l1) == 0);
	/* A key without CRT components has no PKCS#8 to wrap. */
	bl = sizeof(blob);
	CHECK_RV(P11->C_WrapKey(f.h, &m, kek, f.plain, blob, &bl), CKR_KEY_NOT_WRAPPABLE);
	/* Unwrapped as an RSA key, the bytes must be an RSA PKCS#8. */
	{
		static const CK_BYTE junk[40] = "not a PrivateKeyInfo at all, just text";
		CK_OBJECT_HANDLE enc;
		CK_BYTE jb[128];
		CK_ULONG jl = sizeof(jb);
		CK_ATTRIBUTE et[] = {
			CH_T_ULONG(CKA_CLASS, &(CK_OBJECT_CLASS){ CKO_SECRET_KEY }),
			CH_T_ULONG(CKA_KEY_TYPE, &(CK_KEY_TYPE){ CKK_AES }),
			CH_T_BOOL(CKA_ENCRYPT, true),
			CH_T_ATTR(CKA_VALUE, kek_v, sizeof(kek_v)),
		};

		REQUIRE_RV(P11->C_CreateObject(f.h, et, CH_T_ARRAY_LEN(et), &enc), CKR_OK);
		REQUIRE_RV(rt_encrypt(f.h, &m, enc, junk, sizeof(junk), jb, &jl), CKR_OK);
		CHECK_RV(P11->C_UnwrapKey(f.h, &m, kek, jb, jl, t, CH_T_ARRAY_LEN(t), &back),
		         CKR_WRAPPED_KEY_INVALID);
	}
out:
	rt_fx_close(&f);
}

/* A PKCS#1 v1.5 unwrap whose padding is good but whose plaintext makes no
 * key of the template's type fails exactly as a bad padding does: one
 * code, so C_UnwrapKey is no padding oracle (Bardou et al. 2012). */
static void test_rsa_pkcs1_unwrap_is_no_padding_oracle(void)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE aes = CKK_AES;
	CK_ATTRIBUTE t[] = { CH_T_ULONG(CKA_CLASS, &cls), CH_T_ULONG(CKA_KEY_TYPE, &aes) };
	CK_MECHANISM m = { CKM_RSA_PKCS, NULL, 0 };
	CK_BYTE ct[RT_BUF], junk[RT_KB];
	CK_ULONG cl = sizeof(ct);
	CK_OBJECT_HANDLE uk, o;
	rt_fx f;

	if (!rt_fx_open(&f))
		goto out;
	REQUIRE_RV(rt_create_private(f.h, &f.k, RT_PARTS, RT_WRAP, &uk), CKR_OK);
	REQUIRE_RV(rt_encrypt(f.h, &m, f.pub, (const CK_BYTE *)"seven b", 7, ct, &cl), CKR_OK);
	CHECK_RV(P11->C_UnwrapKey(f.h, &m, uk, ct, cl, t, CH_T_ARRAY_LEN(t), &o),
	         CKR_WRAPPED_KEY_INVALID);
	memset(junk, 0x33, sizeof(junk));
	CHECK_RV(P11->C_UnwrapKey(f.h, &m, uk, junk, sizeof(junk), t, CH_T_ARRAY_LEN(t), &o),
	         CKR_WRAPPED_KEY_INVALID);
	/* Sixteen bytes make an AES key. */
	cl = sizeof(ct);
	REQUIRE_RV(rt_encrypt(f.h, &m, f.pub, (const CK_BYTE *)"sixteen bytes ok", 16, ct, &cl),
	           CKR_OK);
	CHECK_RV(P11->C_UnwrapKey(f.h, &m, uk, ct, cl, t, CH_T_ARRAY_LEN(t), &o), CKR_OK);
out:
	rt_fx_close(&f);
}

int main(void)
{
	test_rsa_pkcs8_export_import_round_trip();
	test_rsa_wrap_and_unwrap_hooks();
	test_rsa_wraps_and_unwraps_secret_keys();
	test_rsa_private_key_survives_wrap_and_unwrap();
	test_rsa_pkcs1_unwrap_is_no_padding_oracle();
	return ch_test_done();
}
