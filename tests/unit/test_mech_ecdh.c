/*
 * ECDH (token/mech_ecdh.c) driven through token/mech.h on the prime
 * curves: CKM_ECDH1_DERIVE and CKM_ECDH1_COFACTOR_DERIVE both ways with
 * the point bare, DER-wrapped and compressed, every KDF (the X9.63 output
 * checked against OpenSSL's X963KDF run here, with and without shared
 * data), CKD_NULL truncation and the derived key's length rules, and the
 * parameter and base-key errors.  X25519/X448 are in test_mech_edwards.c,
 * the Wycheproof files in test_wycheproof_ec.c, C_DeriveKey in
 * test_mech_ec_pkcs11.c.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "attrs.h"
#include "check.h"
#include "mech.h"

static const CK_BYTE oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const CK_BYTE oid_p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const CK_BYTE oid_p521[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23 };
static const CK_BYTE oid_k256[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a };

/* The prime curves, with their field sizes in bytes. */
static const struct tcurve {
	const CK_BYTE *oid;
	size_t oid_len, fb;
} tcurves[] = {
	{ oid_p256, sizeof(oid_p256), 32 },
	{ oid_p384, sizeof(oid_p384), 48 },
	{ oid_p521, sizeof(oid_p521), 66 },
	{ oid_k256, sizeof(oid_k256), 32 },
};

#define NCURVES (sizeof(tcurves) / sizeof(tcurves[0]))

static const CK_MECHANISM mech_gen = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };

/* A bare EC key object of that class. */
static ch_attrs *ec_obj(CK_OBJECT_CLASS cls)
{
	ch_attrs *a = ch_attrs_new();

	if (a == NULL || ch_attrs_set_ulong(a, CKA_CLASS, cls) != CKR_OK ||
	    ch_attrs_set_ulong(a, CKA_KEY_TYPE, CKK_EC) != CKR_OK) {
		ch_attrs_free(a);
		return NULL;
	}
	return a;
}

/* A key pair on c whose private half may derive. */
static CK_RV gen_derive_pair(const struct tcurve *c, ch_attrs **pub, ch_attrs **priv)
{
	CK_RV rv = CKR_HOST_MEMORY;

	*pub = ec_obj(CKO_PUBLIC_KEY);
	*priv = ec_obj(CKO_PRIVATE_KEY);
	if (*pub == NULL || *priv == NULL)
		goto out;
	if ((rv = ch_attrs_set(*pub, CKA_EC_PARAMS, c->oid, c->oid_len)) != CKR_OK ||
	    (rv = ch_mech_generate_key_pair(&mech_gen, *pub, *priv)) != CKR_OK)
		goto out;
	rv = ch_attrs_set_bool(*priv, CKA_DERIVE, true);
out:
	if (rv != CKR_OK) {
		ch_attrs_free(*pub);
		ch_attrs_free(*priv);
		*pub = *priv = NULL;
	}
	return rv;
}

/* ECDH from base with the peer's point into a key of type kt (len 0: no
 * CKA_VALUE_LEN); its CKA_VALUE into out (128 bytes), *out_len bytes. */
static CK_RV derive(CK_MECHANISM_TYPE mech, const ch_attrs *base, const CK_BYTE *pt,
                    CK_ULONG pt_len, CK_EC_KDF_TYPE kdf, const CK_BYTE *info, CK_ULONG info_len,
                    CK_KEY_TYPE kt, CK_ULONG len, CK_BYTE *out, size_t *out_len)
{
	CK_ECDH1_DERIVE_PARAMS p = { kdf, info_len, (CK_BYTE_PTR)info, pt_len, (CK_BYTE_PTR)pt };
	CK_MECHANISM m = { mech, &p, sizeof(p) };
	ch_attrs *key = ch_attrs_new();
	const ch_attr *v;
	CK_RV rv = CKR_HOST_MEMORY;

	*out_len = 0;
	if (key == NULL || ch_attrs_set_ulong(key, CKA_CLASS, CKO_SECRET_KEY) != CKR_OK ||
	    ch_attrs_set_ulong(key, CKA_KEY_TYPE, kt) != CKR_OK ||
	    (len > 0 && ch_attrs_set_ulong(key, CKA_VALUE_LEN, len) != CKR_OK))
		goto out;
	if ((rv = ch_mech_derive(&m, base, key)) != CKR_OK)
		goto out;
	v = ch_attrs_get(key, CKA_VALUE);
	rv = CKR_GENERAL_ERROR;
	if (v == NULL || v->len > 128)
		goto out;
	memcpy(out, v->value, v->len);
	*out_len = v->len;
	rv = CKR_OK;
out:
	ch_attrs_free(key);
	return rv;
}

/* OpenSSL's X9.63 KDF, run here apart from the token. */
static bool x963(const char *md, const CK_BYTE *z, size_t zlen, const CK_BYTE *info,
                 size_t info_len, CK_BYTE *out, size_t len)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "X963KDF", NULL);
	EVP_KDF_CTX *ctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM prm[4] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md, 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)z, zlen),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len),
		OSSL_PARAM_construct_end(),
	};
	bool ok = ctx != NULL && EVP_KDF_derive(ctx, out, len, prm) == 1;

	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return ok;
}

/* The bare point of a generated public key (CKA_EC_POINT unwrapped). */
static const CK_BYTE *bare_point(const ch_attrs *pub, size_t fb, CK_ULONG *len)
{
	const ch_attr *pt = ch_attrs_get(pub, CKA_EC_POINT);
	size_t hdr = 2 * fb + 1 < 0x80 ? 2 : 3;

	if (pt == NULL || pt->len != hdr + 2 * fb + 1)
		return NULL;
	*len = 2 * fb + 1;
	return pt->value + hdr;
}

static void test_ecdh_both_ways_every_curve_and_kdf(void)
{
	static const struct {
		CK_EC_KDF_TYPE kdf;
		const char *md;
	} kdfs[] = {
		{ CKD_SHA1_KDF, "SHA1" },         { CKD_SHA224_KDF, "SHA224" },
		{ CKD_SHA256_KDF, "SHA256" },     { CKD_SHA384_KDF, "SHA384" },
		{ CKD_SHA512_KDF, "SHA512" },     { CKD_SHA3_224_KDF, "SHA3-224" },
		{ CKD_SHA3_256_KDF, "SHA3-256" }, { CKD_SHA3_384_KDF, "SHA3-384" },
		{ CKD_SHA3_512_KDF, "SHA3-512" },
	};
	static const CK_BYTE info[] = { 'c', 'i', 'p', 'h', 'e', 'r', 'h', 'u', 'b' };
	ch_attrs *apub = NULL, *apriv = NULL, *bpub = NULL, *bpriv = NULL;
	const CK_BYTE *apt = NULL, *bpt = NULL;
	const ch_attr *awrapped;
	CK_BYTE z[128], z2[128], k1[128], k2[128], want[128], comp[67];
	size_t zn, zn2, n1, n2, c, i;
	CK_ULONG alen, blen;

	for (c = 0; c < NCURVES; c++) {
		size_t fb = tcurves[c].fb;

		if (!CHECK_RV(gen_derive_pair(&tcurves[c], &apub, &apriv), CKR_OK) ||
		    !CHECK_RV(gen_derive_pair(&tcurves[c], &bpub, &bpriv), CKR_OK) ||
		    !CHECK((apt = bare_point(apub, fb, &alen)) != NULL &&
		           (bpt = bare_point(bpub, fb, &blen)) != NULL))
			goto next;
		awrapped = ch_attrs_get(apub, CKA_EC_POINT);
		/* CKD_NULL: the X coordinate, field-size bytes, both ways, the
		 * point bare, DER-wrapped or compressed. */
		CHECK_RV(derive(CKM_ECDH1_DERIVE, apriv, bpt, blen, CKD_NULL, NULL, 0,
		                CKK_GENERIC_SECRET, 0, z, &zn),
		         CKR_OK);
		CHECK_UL(zn, fb);
		CHECK_RV(derive(CKM_ECDH1_DERIVE, bpriv, awrapped->value, awrapped->len, CKD_NULL,
		                NULL, 0, CKK_GENERIC_SECRET, 0, z2, &zn2),
		         CKR_OK);
		CHECK(zn == zn2 && memcmp(z, z2, zn) == 0);
		comp[0] = (CK_BYTE)(0x02 | (apt[2 * fb] & 1));
		memcpy(comp + 1, apt + 1, fb);
		CHECK_RV(derive(CKM_ECDH1_DERIVE, bpriv, comp, fb + 1, CKD_NULL, NULL, 0,
		                CKK_GENERIC_SECRET, 0, z2, &zn2),
		         CKR_OK);
		CHECK(zn == zn2 && memcmp(z, z2, zn) == 0);
		/* The cofactor variant agrees (the cofactor is 1 here). */
		CHECK_RV(derive(CKM_ECDH1_COFACTOR_DERIVE, bpriv, apt, alen, CKD_NULL, NULL, 0,
		                CKK_GENERIC_SECRET, 0, z2, &zn2),
		         CKR_OK);
		CHECK(zn == zn2 && memcmp(z, z2, zn) == 0);
		/* Every KDF, with and without shared data, is X9.63 of z. */
		for (i = 0; i < sizeof(kdfs) / sizeof(kdfs[0]); i++) {
			CK_ULONG len = 20 + 9 * i;

			CHECK_RV(derive(CKM_ECDH1_DERIVE, apriv, bpt, blen, kdfs[i].kdf, info,
			                sizeof(info), CKK_GENERIC_SECRET, len, k1, &n1),
			         CKR_OK);
			CHECK_RV(derive(CKM_ECDH1_COFACTOR_DERIVE, bpriv, apt, alen, kdfs[i].kdf,
			                info, sizeof(info), CKK_GENERIC_SECRET, len, k2, &n2),
			         CKR_OK);
			CHECK(n1 == len && n2 == len && memcmp(k1, k2, len) == 0);
			if (CHECK(x963(kdfs[i].md, z, zn, info, sizeof(info), want, len)) &&
			    !CHECK(memcmp(k1, want, len) == 0))
				fprintf(stderr, "\t%s: not X9.63 of the secret\n", kdfs[i].md);
			CHECK_RV(derive(CKM_ECDH1_DERIVE, apriv, bpt, blen, kdfs[i].kdf, NULL, 0,
			                CKK_GENERIC_SECRET, len, k1, &n1),
			         CKR_OK);
			CHECK(x963(kdfs[i].md, z, zn, NULL, 0, want, len) &&
			      memcmp(k1, want, len) == 0);
		}
	next:
		ch_attrs_free(apub);
		ch_attrs_free(apriv);
		ch_attrs_free(bpub);
		ch_attrs_free(bpriv);
		apub = apriv = bpub = bpriv = NULL;
	}
}

static void test_ecdh_derived_key_lengths(void)
{
	ch_attrs *apub = NULL, *apriv = NULL, *bpub = NULL, *bpriv = NULL;
	const CK_BYTE *bpt = NULL;
	CK_BYTE z[128], k[128];
	size_t zn, n;
	CK_ULONG blen;

	if (!CHECK_RV(gen_derive_pair(&tcurves[2], &apub, &apriv), CKR_OK) ||
	    !CHECK_RV(gen_derive_pair(&tcurves[2], &bpub, &bpriv), CKR_OK) ||
	    !CHECK((bpt = bare_point(bpub, 66, &blen)) != NULL))
		goto out;
	CHECK_RV(derive(CKM_ECDH1_DERIVE, apriv, bpt, blen, CKD_NULL, NULL, 0, CKK_GENERIC_SECRET,
	                0, z, &zn),
	         CKR_OK);
	CHECK_UL(zn, 66);
	/* CKD_NULL truncation removes bytes from the leading end. */
	CHECK_RV(derive(CKM_ECDH1_DERIVE, apriv, bpt, blen, CKD_NULL, NULL, 0, CKK_GENERIC_SECRET,
	                16, k, &n),
	         CKR_OK);
	CHECK(n == 16 && memcmp(k, z + 66 - 16, 16) == 0);
	CHECK_RV(derive(CKM_ECDH1_DERIVE, apriv, bpt, blen, CKD_NULL, NULL, 0, CKK_AES, 32, k, &n),
	         CKR_OK);
	CHECK(n == 32 && memcmp(k, z + 66 - 32, 32) == 0);
	CHECK_RV(derive(CKM_ECDH1_DERIVE, apriv, bpt, blen, CKD_NULL, NULL, 0, CKK_GENERIC_SECRET,
	                67, k, &n),
	         CKR_KEY_SIZE_RANGE);
	/* The key type's rules: AES has no length of its own. */
	CHECK_RV(derive(CKM_ECDH1_DERIVE, apriv, bpt, blen, CKD_NULL, NULL, 0, CKK_AES, 0, k, &n),
	         CKR_TEMPLATE_INCOMPLETE);
	CHECK_RV(derive(CKM_ECDH1_DERIVE, apriv, bpt, blen, CKD_SHA256_KDF, NULL, 0, CKK_AES, 20, k,
	                &n),
	         CKR_KEY_SIZE_RANGE);
	CHECK_RV(derive(CKM_ECDH1_DERIVE, apriv, bpt, blen, CKD_NULL, NULL, 0, CKK_CHACHA20, 0, k,
	                &n),
	         CKR_OK);
	CHECK(n == 32 && memcmp(k, z + 66 - 32, 32) == 0);
	CHECK_RV(derive(CKM_ECDH1_DERIVE, apriv, bpt, blen, CKD_SHA512_KDF, NULL, 0,
	                CKK_GENERIC_SECRET, 0, k, &n),
	         CKR_OK);
	CHECK_UL(n, 66);
	CHECK_RV(derive(CKM_ECDH1_DERIVE, apriv, bpt, blen, CKD_SHA256_KDF, NULL, 0,
	                CKK_GENERIC_SECRET, 100, k, &n),
	         CKR_OK);
	CHECK_UL(n, 100);
out:
	ch_attrs_free(apub);
	ch_attrs_free(apriv);
	ch_attrs_free(bpub);
	ch_attrs_free(bpriv);
}

static void test_ecdh_parameter_and_key_errors(void)
{
	static const CK_BYTE info[] = { 1, 2, 3 };
	ch_attrs *apub = NULL, *apriv = NULL, *bpub = NULL, *bpriv = NULL, *cpub = NULL,
	         *cpriv = NULL;
	const CK_BYTE *bpt = NULL, *cpt = NULL;
	CK_BYTE k[128], bad[65];
	CK_ECDH1_DERIVE_PARAMS p;
	CK_MECHANISM m = { CKM_ECDH1_DERIVE, &p, sizeof(p) };
	ch_attrs *key = ch_attrs_new();
	size_t n;
	CK_ULONG blen, clen;

	if (!CHECK(key != NULL) || !CHECK_RV(gen_derive_pair(&tcurves[0], &apub, &apriv), CKR_OK) ||
	    !CHECK_RV(gen_derive_pair(&tcurves[0], &bpub, &bpriv), CKR_OK) ||
	    !CHECK_RV(gen_derive_pair(&tcurves[1], &cpub, &cpriv), CKR_OK) ||
	    !CHECK((bpt = bare_point(bpub, 32, &blen)) != NULL &&
	           (cpt = bare_point(cpub, 48, &clen)) != NULL))
		goto out;
	CHECK_RV(ch_attrs_set_ulong(key, CKA_CLASS, CKO_SECRET_KEY), CKR_OK);
	CHECK_RV(ch_attrs_set_ulong(key, CKA_KEY_TYPE, CKK_GENERIC_SECRET), CKR_OK);
	/* The parameter's shape. */
	p = (CK_ECDH1_DERIVE_PARAMS){ CKD_NULL, 0, NULL, blen, (CK_BYTE_PTR)bpt };
	m.ulParameterLen = sizeof(p) - 1;
	CHECK_RV(ch_mech_derive(&m, apriv, key), CKR_MECHANISM_PARAM_INVALID);
	m.pParameter = NULL;
	m.ulParameterLen = sizeof(p);
	CHECK_RV(ch_mech_derive(&m, apriv, key), CKR_MECHANISM_PARAM_INVALID);
	m.pParameter = &p;
	p.kdf = CKD_SHA1_KDF_ASN1;
	CHECK_RV(ch_mech_derive(&m, apriv, key), CKR_MECHANISM_PARAM_INVALID);
	p.kdf = CKD_SHA256_KDF_SP800;
	CHECK_RV(ch_mech_derive(&m, apriv, key), CKR_MECHANISM_PARAM_INVALID);
	CHECK(ch_attrs_get(key, CKA_VALUE) == NULL);
	/* CKD_NULL takes no shared data; shared data needs its bytes. */
	CHECK_RV(derive(CKM_ECDH1_DERIVE, apriv, bpt, blen, CKD_NULL, info, sizeof(info),
	                CKK_GENERIC_SECRET, 0, k, &n),
	         CKR_MECHANISM_PARAM_INVALID);
	CHECK_RV(derive(CKM_ECDH1_DERIVE, apriv, bpt, blen, CKD_SHA256_KDF, NULL, 3,
	                CKK_GENERIC_SECRET, 0, k, &n),
	         CKR_MECHANISM_PARAM_INVALID);
	/* The public data: missing, off the curve, of another curve, a
	 * hybrid or truncated encoding. */
	CHECK_RV(derive(CKM_ECDH1_DERIVE, apriv, NULL, 0, CKD_NULL, NULL, 0, CKK_GENERIC_SECRET, 0,
	                k, &n),
	         CKR_MECHANISM_PARAM_INVALID);
	CHECK_RV(derive(CKM_ECDH1_DERIVE, apriv, NULL, 65, CKD_NULL, NULL, 0, CKK_GENERIC_SECRET, 0,
	                k, &n),
	         CKR_MECHANISM_PARAM_INVALID);
	memcpy(bad, bpt, 65);
	bad[64] ^= 1;
	CHECK_RV(derive(CKM_ECDH1_DERIVE, apriv, bad, 65, CKD_NULL, NULL, 0, CKK_GENERIC_SECRET, 0,
	                k, &n),
	         CKR_MECHANISM_PARAM_INVALID);
	CHECK_RV(derive(CKM_ECDH1_DERIVE, apriv, cpt, clen, CKD_NULL, NULL, 0, CKK_GENERIC_SECRET,
	                0, k, &n),
	         CKR_MECHANISM_PARAM_INVALID);
	memcpy(bad, bpt, 65);
	bad[0] = 0x06 | (bad[64] & 1);
	CHECK_RV(derive(CKM_ECDH1_DERIVE, apriv, bad, 65, CKD_NULL, NULL, 0, CKK_GENERIC_SECRET, 0,
	                k, &n),
	         CKR_MECHANISM_PARAM_INVALID);
	CHECK_RV(derive(CKM_ECDH1_DERIVE, apriv, bpt, 64, CKD_NULL, NULL, 0, CKK_GENERIC_SECRET, 0,
	                k, &n),
	         CKR_MECHANISM_PARAM_INVALID);
	/* The base key: a public key, not for deriving, another mechanism. */
	CHECK_RV(ch_attrs_set_bool(bpub, CKA_DERIVE, true), CKR_OK);
	CHECK_RV(derive(CKM_ECDH1_DERIVE, bpub, bpt, blen, CKD_NULL, NULL, 0, CKK_GENERIC_SECRET, 0,
	                k, &n),
	         CKR_KEY_TYPE_INCONSISTENT);
	CHECK_RV(derive(CKM_ECDSA, apriv, bpt, blen, CKD_NULL, NULL, 0, CKK_GENERIC_SECRET, 0, k,
	                &n),
	         CKR_MECHANISM_INVALID);
	CHECK_RV(ch_attrs_set_bool(apriv, CKA_DERIVE, false), CKR_OK);
	CHECK_RV(derive(CKM_ECDH1_DERIVE, apriv, bpt, blen, CKD_NULL, NULL, 0, CKK_GENERIC_SECRET,
	                0, k, &n),
	         CKR_KEY_FUNCTION_NOT_PERMITTED);
out:
	ch_attrs_free(key);
	ch_attrs_free(apub);
	ch_attrs_free(apriv);
	ch_attrs_free(bpub);
	ch_attrs_free(bpriv);
	ch_attrs_free(cpub);
	ch_attrs_free(cpriv);
}

int main(void)
{
	test_ecdh_both_ways_every_curve_and_kdf();
	test_ecdh_derived_key_lengths();
	test_ecdh_parameter_and_key_errors();
	return ch_test_done();
}
