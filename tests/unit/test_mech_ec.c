/*
 * The EC family (token/mech_ec.c; ECDH is test_mech_ecdh.c) driven through
 * token/mech.h: CKM_EC_KEY_PAIR_GEN on every curve, CKM_ECDSA and every
 * CKM_ECDSA_SHA* row (each checked against CKM_ECDSA over a digest computed
 * here), PKCS#8 encodings, and verification against Wycheproof's
 * ecdsa_secp256r1_sha256_p1363_test.json (P1363's fixed-size r || s is the
 * PKCS#11 signature format; test_wycheproof_ec.c runs every file through
 * the module).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "attrs.h"
#include "check.h"
#include "mech.h"
#include "vectors.h"

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

/* "abc" and its SHA-256 (FIPS 180-2, appendix B.1). */
static const CK_BYTE abc[] = { 'a', 'b', 'c' };
static const CK_BYTE abc_sha256[] = {
	0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
	0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
	0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
};

static const CK_MECHANISM mech_gen = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
static const CK_MECHANISM mech_ecdsa = { CKM_ECDSA, NULL, 0 };
static const CK_MECHANISM mech_sha256 = { CKM_ECDSA_SHA256, NULL, 0 };

/* A bare EC key object of that class with the given usage flag. */
static ch_attrs *ec_obj(CK_OBJECT_CLASS cls, CK_ATTRIBUTE_TYPE usage, bool allowed)
{
	ch_attrs *a = ch_attrs_new();

	if (a == NULL || ch_attrs_set_ulong(a, CKA_CLASS, cls) != CKR_OK ||
	    ch_attrs_set_ulong(a, CKA_KEY_TYPE, CKK_EC) != CKR_OK ||
	    ch_attrs_set_bool(a, usage, allowed) != CKR_OK) {
		ch_attrs_free(a);
		return NULL;
	}
	return a;
}

/* Generates a key pair on the curve named by the DER OID params. */
static CK_RV gen_pair(const CK_BYTE *params, CK_ULONG len, ch_attrs **pub, ch_attrs **priv)
{
	CK_RV rv = CKR_HOST_MEMORY;

	*pub = ec_obj(CKO_PUBLIC_KEY, CKA_VERIFY, true);
	*priv = ec_obj(CKO_PRIVATE_KEY, CKA_SIGN, true);
	if (*pub == NULL || *priv == NULL)
		goto out;
	if (params != NULL && (rv = ch_attrs_set(*pub, CKA_EC_PARAMS, params, len)) != CKR_OK)
		goto out;
	rv = ch_mech_generate_key_pair(&mech_gen, *pub, *priv);
out:
	if (rv != CKR_OK) {
		ch_attrs_free(*pub);
		ch_attrs_free(*priv);
		*pub = *priv = NULL;
	}
	return rv;
}

static CK_RV sign_once(const CK_MECHANISM *m, const ch_attrs *key, const CK_BYTE *in,
                       CK_ULONG in_len, CK_BYTE *sig, CK_ULONG *sig_len)
{
	ch_op *op = NULL;
	CK_RV rv;

	if ((rv = ch_op_init(CH_OP_SIGN, m, key, &op)) == CKR_OK)
		rv = ch_op_oneshot(op, in, in_len, sig, sig_len);
	ch_op_free(op);
	return rv;
}

/* Signs in parts of chunk bytes with C_SignUpdate / C_SignFinal. */
static CK_RV sign_parts(const CK_MECHANISM *m, const ch_attrs *key, const CK_BYTE *in,
                        CK_ULONG in_len, size_t chunk, CK_BYTE *sig, CK_ULONG *sig_len)
{
	ch_op *op = NULL;
	CK_ULONG done = 0, n;
	CK_RV rv;

	if ((rv = ch_op_init(CH_OP_SIGN, m, key, &op)) != CKR_OK)
		goto out;
	while (done < in_len) {
		n = in_len - done < chunk ? in_len - done : chunk;
		if ((rv = ch_op_update(op, in + done, n, NULL, NULL)) != CKR_OK)
			goto out;
		done += n;
	}
	rv = ch_op_final(op, sig, sig_len);
out:
	ch_op_free(op);
	return rv;
}

static CK_RV verify_once(const CK_MECHANISM *m, const ch_attrs *key, const CK_BYTE *in,
                         CK_ULONG in_len, const CK_BYTE *sig, CK_ULONG sig_len)
{
	ch_op *op = NULL;
	CK_RV rv;

	if ((rv = ch_op_init(CH_OP_VERIFY, m, key, &op)) == CKR_OK)
		rv = ch_op_verify(op, in, in_len, sig, sig_len);
	ch_op_free(op);
	return rv;
}

static CK_RV verify_parts(const CK_MECHANISM *m, const ch_attrs *key, const CK_BYTE *in,
                          CK_ULONG in_len, size_t chunk, const CK_BYTE *sig, CK_ULONG sig_len)
{
	ch_op *op = NULL;
	CK_ULONG done = 0, n;
	CK_RV rv;

	if ((rv = ch_op_init(CH_OP_VERIFY, m, key, &op)) != CKR_OK)
		goto out;
	while (done < in_len) {
		n = in_len - done < chunk ? in_len - done : chunk;
		if ((rv = ch_op_update(op, in + done, n, NULL, NULL)) != CKR_OK)
			goto out;
		done += n;
	}
	rv = ch_op_verify_final(op, sig, sig_len);
out:
	ch_op_free(op);
	return rv;
}

static void test_ec_mechanism_info(void)
{
	static const CK_MECHANISM_TYPE sig[] = {
		CKM_ECDSA,          CKM_ECDSA_SHA1,     CKM_ECDSA_SHA224,   CKM_ECDSA_SHA256,
		CKM_ECDSA_SHA384,   CKM_ECDSA_SHA512,   CKM_ECDSA_SHA3_224, CKM_ECDSA_SHA3_256,
		CKM_ECDSA_SHA3_384, CKM_ECDSA_SHA3_512,
	};
	const CK_FLAGS ec = CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
	CK_MECHANISM_INFO info;
	CK_KEY_TYPE kt = 0;
	size_t i;

	CHECK_RV(ch_mech_info(CKM_EC_KEY_PAIR_GEN, &info), CKR_OK);
	CHECK_UL(info.ulMinKeySize, 256);
	CHECK_UL(info.ulMaxKeySize, 521);
	CHECK_UL(info.flags, CKF_GENERATE_KEY_PAIR | ec);
	/* Compressed points are taken wherever a point comes in. */
	for (i = 0; i < sizeof(sig) / sizeof(sig[0]); i++) {
		CHECK_RV(ch_mech_info(sig[i], &info), CKR_OK);
		CHECK_UL(info.ulMinKeySize, 256);
		CHECK_UL(info.ulMaxKeySize, 521);
		CHECK_UL(info.flags, CKF_SIGN | CKF_VERIFY | ec | CKF_EC_COMPRESS);
	}
	/* ECDH1 also on X25519 (255 bits) and X448, named by curveName too. */
	CHECK_RV(ch_mech_info(CKM_ECDH1_DERIVE, &info), CKR_OK);
	CHECK_UL(info.ulMinKeySize, 255);
	CHECK_UL(info.ulMaxKeySize, 521);
	CHECK_UL(info.flags, CKF_DERIVE | ec | CKF_EC_COMPRESS | CKF_EC_CURVENAME);
	CHECK_RV(ch_mech_info(CKM_ECDH1_COFACTOR_DERIVE, &info), CKR_OK);
	CHECK_UL(info.ulMinKeySize, 256);
	CHECK_UL(info.ulMaxKeySize, 521);
	CHECK_UL(info.flags, CKF_DERIVE | ec | CKF_EC_COMPRESS);
	CHECK_RV(ch_mech_keygen_type(CKM_EC_KEY_PAIR_GEN, true, &kt), CKR_OK);
	CHECK_UL(kt, CKK_EC);
	CHECK_RV(ch_mech_keygen_type(CKM_EC_KEY_PAIR_GEN, false, &kt), CKR_MECHANISM_INVALID);
	CHECK_RV(ch_mech_keygen_type(CKM_ECDSA, true, &kt), CKR_MECHANISM_INVALID);
}

/* Generates on one curve and checks the encodings and a round trip. */
static void keygen_curve(const CK_BYTE *oid, CK_ULONG oid_len, size_t fb)
{
	ch_attrs *pub = NULL, *priv = NULL;
	const ch_attr *pt, *d, *pp;
	CK_BYTE sig[2 * 66 + 1];
	CK_ULONG n;

	if (!CHECK_RV(gen_pair(oid, oid_len, &pub, &priv), CKR_OK))
		return;
	pt = ch_attrs_get(pub, CKA_EC_POINT);
	d = ch_attrs_get(priv, CKA_VALUE);
	pp = ch_attrs_get(priv, CKA_EC_PARAMS);
	if (!CHECK(pt != NULL && d != NULL && pp != NULL))
		goto out;
	/* DER OCTET STRING around 04 || X || Y. */
	if (2 * fb + 1 < 0x80) {
		CHECK_UL(pt->len, 2 * fb + 3);
		CHECK(pt->value[0] == 0x04 && pt->value[1] == 2 * fb + 1 && pt->value[2] == 0x04);
	} else {
		CHECK_UL(pt->len, 2 * fb + 4);
		CHECK(pt->value[0] == 0x04 && pt->value[1] == 0x81 && pt->value[2] == 2 * fb + 1 &&
		      pt->value[3] == 0x04);
	}
	CHECK_UL(d->len, fb);
	CHECK(pp->len == oid_len && memcmp(pp->value, oid, oid_len) == 0);

	n = sizeof(sig);
	CHECK_RV(sign_once(&mech_sha256, priv, abc, sizeof(abc), sig, &n), CKR_OK);
	CHECK_UL(n, 2 * fb);
	CHECK_RV(verify_once(&mech_sha256, pub, abc, sizeof(abc), sig, n), CKR_OK);
	CHECK_RV(verify_once(&mech_ecdsa, pub, abc_sha256, sizeof(abc_sha256), sig, n), CKR_OK);
	sig[n / 2] ^= 0x40;
	CHECK_RV(verify_once(&mech_sha256, pub, abc, sizeof(abc), sig, n), CKR_SIGNATURE_INVALID);
out:
	ch_attrs_free(pub);
	ch_attrs_free(priv);
}

static void test_ec_keygen_curves(void)
{
	keygen_curve(oid_p256, sizeof(oid_p256), 32);
	keygen_curve(oid_p384, sizeof(oid_p384), 48);
	keygen_curve(oid_p521, sizeof(oid_p521), 66);
	keygen_curve(oid_k256, sizeof(oid_k256), 32);
}

static void test_ec_keygen_two_pairs_differ(void)
{
	ch_attrs *pub1 = NULL, *priv1 = NULL, *pub2 = NULL, *priv2 = NULL;
	const ch_attr *d1, *d2;

	if (CHECK_RV(gen_pair(oid_p256, sizeof(oid_p256), &pub1, &priv1), CKR_OK) &&
	    CHECK_RV(gen_pair(oid_p256, sizeof(oid_p256), &pub2, &priv2), CKR_OK)) {
		d1 = ch_attrs_get(priv1, CKA_VALUE);
		d2 = ch_attrs_get(priv2, CKA_VALUE);
		if (CHECK(d1 != NULL && d2 != NULL && d1->len == d2->len))
			CHECK(memcmp(d1->value, d2->value, d1->len) != 0);
	}
	ch_attrs_free(pub1);
	ch_attrs_free(priv1);
	ch_attrs_free(pub2);
	ch_attrs_free(priv2);
}

static void test_ec_keygen_params_errors(void)
{
	/* brainpoolP256r1, 1.3.36.3.3.2.8.1.1.7: a curve the token lacks. */
	static const CK_BYTE brainpool[] = { 0x06, 0x09, 0x2b, 0x24, 0x03, 0x03,
		                             0x02, 0x08, 0x01, 0x01, 0x07 };
	static const CK_BYTE ed25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
	static const CK_BYTE implicit_ca[] = { 0x05, 0x00 };
	static const CK_BYTE explicit_seq[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	static const CK_BYTE curve_name[] = { 0x13, 0x05, 'P', '-', '2', '5', '6' };
	static const CK_BYTE short_len[] = { 0x06, 0x09, 0x2a, 0x86, 0x48,
		                             0xce, 0x3d, 0x03, 0x01, 0x07 };
	static const CK_BYTE trailing[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
		                            0x3d, 0x03, 0x01, 0x07, 0x00 };
	static const CK_BYTE open_oid[] = { 0x06, 0x02, 0x2a, 0x86 };
	static const CK_BYTE padded_oid[] = { 0x06, 0x03, 0x2a, 0x80, 0x01 };
	static const CK_BYTE octets[] = { 0x04, 0x01, 0x00 };
	static const CK_BYTE one[] = { 0x06 };
	static const struct {
		const CK_BYTE *v;
		CK_ULONG len;
		CK_RV rv;
	} cases[] = {
		{ brainpool, sizeof(brainpool), CKR_CURVE_NOT_SUPPORTED },
		{ ed25519, sizeof(ed25519), CKR_CURVE_NOT_SUPPORTED },
		{ implicit_ca, sizeof(implicit_ca), CKR_CURVE_NOT_SUPPORTED },
		{ explicit_seq, sizeof(explicit_seq), CKR_CURVE_NOT_SUPPORTED },
		{ curve_name, sizeof(curve_name), CKR_CURVE_NOT_SUPPORTED },
		{ short_len, sizeof(short_len), CKR_ATTRIBUTE_VALUE_INVALID },
		{ trailing, sizeof(trailing), CKR_ATTRIBUTE_VALUE_INVALID },
		{ open_oid, sizeof(open_oid), CKR_ATTRIBUTE_VALUE_INVALID },
		{ padded_oid, sizeof(padded_oid), CKR_ATTRIBUTE_VALUE_INVALID },
		{ octets, sizeof(octets), CKR_ATTRIBUTE_VALUE_INVALID },
		{ one, sizeof(one), CKR_ATTRIBUTE_VALUE_INVALID },
		{ oid_p256, 0, CKR_ATTRIBUTE_VALUE_INVALID },
	};
	ch_attrs *pub = NULL, *priv = NULL;
	CK_BYTE junk[8] = { 0 };
	CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, junk, sizeof(junk) };
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (!CHECK_RV(gen_pair(cases[i].v, cases[i].len, &pub, &priv), cases[i].rv))
			fprintf(stderr, "\tCKA_EC_PARAMS case %zu\n", i);
	CHECK_RV(gen_pair(NULL, 0, &pub, &priv), CKR_TEMPLATE_INCOMPLETE);

	pub = ec_obj(CKO_PUBLIC_KEY, CKA_VERIFY, true);
	priv = ec_obj(CKO_PRIVATE_KEY, CKA_SIGN, true);
	if (CHECK(pub != NULL && priv != NULL) &&
	    CHECK_RV(ch_attrs_set(pub, CKA_EC_PARAMS, oid_p256, sizeof(oid_p256)), CKR_OK)) {
		CHECK_RV(ch_mech_generate_key_pair(&m, pub, priv), CKR_MECHANISM_PARAM_INVALID);
		m = (CK_MECHANISM){ CKM_ECDSA, NULL, 0 };
		CHECK_RV(ch_mech_generate_key_pair(&m, pub, priv), CKR_MECHANISM_INVALID);
		m = (CK_MECHANISM){ CKM_AES_KEY_GEN, NULL, 0 };
		CHECK_RV(ch_mech_generate_key_pair(&m, pub, priv), CKR_MECHANISM_INVALID);
		CHECK(ch_attrs_get(priv, CKA_VALUE) == NULL);
	}
	ch_attrs_free(pub);
	ch_attrs_free(priv);
}

/* A verification key from a Wycheproof uncompressed point, given as CKA_EC_POINT
 * either DER-wrapped or bare. */
static ch_attrs *wp_public_key(const vec_bytes *pt, bool wrap)
{
	ch_attrs *a = ec_obj(CKO_PUBLIC_KEY, CKA_VERIFY, true);
	CK_BYTE der[2 + 65];
	CK_RV rv = CKR_HOST_MEMORY;

	if (a == NULL || pt->len != 65)
		goto out;
	if ((rv = ch_attrs_set(a, CKA_EC_PARAMS, oid_p256, sizeof(oid_p256))) != CKR_OK)
		goto out;
	if (wrap) {
		der[0] = 0x04;
		der[1] = 65;
		memcpy(der + 2, pt->p, 65);
		rv = ch_attrs_set(a, CKA_EC_POINT, der, sizeof(der));
	} else {
		rv = ch_attrs_set(a, CKA_EC_POINT, pt->p, pt->len);
	}
out:
	if (rv != CKR_OK) {
		ch_attrs_free(a);
		a = NULL;
	}
	return a;
}

/* What the Wycheproof vectors checked, by expected answer. */
typedef struct ecdsa_counts {
	unsigned valid, invalid, bad_len, parts;
} ecdsa_counts;

/* One Wycheproof verification test with key; every fourth one, and every
 * valid one, is also verified in parts. */
static void ecdsa_vector(const ch_attrs *key, const json_t *t, bool parts, ecdsa_counts *c)
{
	vec_bytes msg = { 0 }, sig = { 0 };
	long long id = vec_int(t, "tcId");
	CK_RV want;

	if (!CHECK(vec_hex(t, "msg", &msg) && vec_hex(t, "sig", &sig)))
		goto out;
	if (strcmp(vec_str(t, "result"), "valid") == 0) {
		want = CKR_OK;
		c->valid++;
	} else if (sig.len != 64) {
		want = CKR_SIGNATURE_LEN_RANGE;
		c->bad_len++;
	} else {
		want = CKR_SIGNATURE_INVALID;
		c->invalid++;
	}
	if (!CHECK_RV(verify_once(&mech_sha256, key, msg.p, msg.len, sig.p, sig.len), want))
		fprintf(stderr, "\ttcId %lld (%s)\n", id, vec_str(t, "comment"));
	if (want == CKR_OK || parts) {
		if (!CHECK_RV(verify_parts(&mech_sha256, key, msg.p, msg.len, 3, sig.p, sig.len),
		              want))
			fprintf(stderr, "\ttcId %lld (multi-part)\n", id);
		c->parts++;
	}
out:
	vec_bytes_free(&msg);
	vec_bytes_free(&sig);
}

static void test_ecdsa_wycheproof_p256_sha256(void)
{
	json_t *root = vec_load("wycheproof/testvectors_v1/ecdsa_secp256r1_sha256_p1363_test.json");
	const json_t *groups, *g, *pk, *tests;
	ecdsa_counts c = { 0 };
	vec_bytes pt = { 0 };
	ch_attrs *key;
	size_t i, j;

	if (!CHECK(root != NULL))
		return;
	groups = json_object_get(root, "testGroups");
	CHECK(json_array_size(groups) > 0);
	for (i = 0; i < json_array_size(groups); i++) {
		g = json_array_get(groups, i);
		pk = json_object_get(g, "publicKey");
		if (!CHECK(strcmp(vec_str(pk, "curve"), "secp256r1") == 0) ||
		    !CHECK(vec_hex(pk, "uncompressed", &pt)))
			continue;
		/* Alternate the two CKA_EC_POINT forms a created key may use. */
		key = wp_public_key(&pt, i % 2 == 0);
		vec_bytes_free(&pt);
		if (!CHECK(key != NULL))
			continue;
		tests = json_object_get(g, "tests");
		for (j = 0; j < json_array_size(tests); j++)
			ecdsa_vector(key, json_array_get(tests, j), j % 4 == 0, &c);
		ch_attrs_free(key);
	}
	printf("ecdsa_secp256r1_sha256_p1363_test.json: %u valid (CKR_OK), %u invalid "
	       "(CKR_SIGNATURE_INVALID), %u of the wrong length (CKR_SIGNATURE_LEN_RANGE), "
	       "of %lld; %u also verified in parts\n",
	       c.valid, c.invalid, c.bad_len, vec_int(root, "numberOfTests"), c.parts);
	CHECK_UL(c.valid + c.invalid + c.bad_len, vec_int(root, "numberOfTests"));
	CHECK(c.valid > 100 && c.invalid > 50 && c.bad_len > 0);
	json_decref(root);
}

static void test_ecdsa_multipart_equals_single_part(void)
{
	ch_attrs *pub = NULL, *priv = NULL;
	CK_BYTE data[777], sig[64], sig2[64];
	CK_ULONG n = sizeof(sig), n2 = sizeof(sig2);

	if (!CHECK_RV(gen_pair(oid_p256, sizeof(oid_p256), &pub, &priv), CKR_OK))
		return;
	CHECK_RV(ch_random(data, sizeof(data)), CKR_OK);
	CHECK_RV(sign_parts(&mech_sha256, priv, data, sizeof(data), 100, sig, &n), CKR_OK);
	CHECK_UL(n, 64);
	CHECK_RV(verify_once(&mech_sha256, pub, data, sizeof(data), sig, n), CKR_OK);
	CHECK_RV(verify_parts(&mech_sha256, pub, data, sizeof(data), 1, sig, n), CKR_OK);
	CHECK_RV(sign_once(&mech_sha256, priv, data, sizeof(data), sig2, &n2), CKR_OK);
	CHECK_RV(verify_parts(&mech_sha256, pub, data, sizeof(data), 64, sig2, n2), CKR_OK);
	/* Signing the known hash raw verifies as ECDSA_SHA256 of the data, and back. */
	n = sizeof(sig);
	CHECK_RV(sign_once(&mech_ecdsa, priv, abc_sha256, sizeof(abc_sha256), sig, &n), CKR_OK);
	CHECK_RV(verify_once(&mech_sha256, pub, abc, sizeof(abc), sig, n), CKR_OK);
	CHECK_RV(verify_parts(&mech_sha256, pub, abc, sizeof(abc), 1, sig, n), CKR_OK);
	CHECK_RV(verify_once(&mech_ecdsa, pub, abc, sizeof(abc), sig, n), CKR_SIGNATURE_INVALID);
	/* Empty data, in one part and with no update at all. */
	n = sizeof(sig);
	CHECK_RV(sign_parts(&mech_sha256, priv, NULL, 0, 1, sig, &n), CKR_OK);
	CHECK_RV(verify_once(&mech_sha256, pub, NULL, 0, sig, n), CKR_OK);
	ch_attrs_free(pub);
	ch_attrs_free(priv);
}

static void test_ecdsa_raw_is_single_part(void)
{
	ch_attrs *pub = NULL, *priv = NULL;
	CK_BYTE sig[64];
	CK_ULONG n = sizeof(sig);
	ch_op *op = NULL;

	if (!CHECK_RV(gen_pair(oid_p256, sizeof(oid_p256), &pub, &priv), CKR_OK))
		return;
	if (CHECK_RV(ch_op_init(CH_OP_SIGN, &mech_ecdsa, priv, &op), CKR_OK)) {
		CHECK_RV(ch_op_update(op, abc_sha256, 32, NULL, NULL), CKR_FUNCTION_NOT_SUPPORTED);
		CHECK_RV(ch_op_final(op, sig, &n), CKR_OPERATION_NOT_INITIALIZED);
	}
	ch_op_free(op);
	op = NULL;
	if (CHECK_RV(ch_op_init(CH_OP_SIGN, &mech_ecdsa, priv, &op), CKR_OK))
		CHECK_RV(ch_op_final(op, sig, &n), CKR_FUNCTION_NOT_SUPPORTED);
	ch_op_free(op);
	op = NULL;
	if (CHECK_RV(ch_op_init(CH_OP_VERIFY, &mech_ecdsa, pub, &op), CKR_OK))
		CHECK_RV(ch_op_update(op, abc_sha256, 32, NULL, NULL), CKR_FUNCTION_NOT_SUPPORTED);
	ch_op_free(op);
	op = NULL;
	if (CHECK_RV(ch_op_init(CH_OP_VERIFY, &mech_ecdsa, pub, &op), CKR_OK))
		CHECK_RV(ch_op_verify_final(op, sig, 64), CKR_FUNCTION_NOT_SUPPORTED);
	ch_op_free(op);
	ch_attrs_free(pub);
	ch_attrs_free(priv);
}

static void test_ecdsa_buffer_convention_keeps_operation(void)
{
	ch_attrs *pub = NULL, *priv = NULL;
	CK_BYTE sig[64];
	CK_ULONG n;
	ch_op *op = NULL;
	CK_RV rv;

	if (!CHECK_RV(gen_pair(oid_p256, sizeof(oid_p256), &pub, &priv), CKR_OK))
		return;
	if (!CHECK_RV(ch_op_init(CH_OP_SIGN, &mech_sha256, priv, &op), CKR_OK))
		goto out;
	n = 0;
	rv = ch_op_oneshot(op, abc, sizeof(abc), NULL, &n);
	CHECK_RV(rv, CKR_OK);
	CHECK(!ch_op_ends(rv, NULL));
	CHECK_UL(n, 64);
	n = 63;
	CHECK_RV(ch_op_oneshot(op, abc, sizeof(abc), sig, &n), CKR_BUFFER_TOO_SMALL);
	CHECK_UL(n, 64);
	n = 64;
	CHECK_RV(ch_op_oneshot(op, abc, sizeof(abc), sig, &n), CKR_OK);
	CHECK_UL(n, 64);
	CHECK_RV(verify_once(&mech_sha256, pub, abc, sizeof(abc), sig, n), CKR_OK);
	ch_op_free(op);
	op = NULL;

	/* The same on C_SignFinal: the queries do not finish the hash. */
	if (!CHECK_RV(ch_op_init(CH_OP_SIGN, &mech_sha256, priv, &op), CKR_OK))
		goto out;
	CHECK_RV(ch_op_update(op, abc, 1, NULL, NULL), CKR_OK);
	n = 0;
	CHECK_RV(ch_op_final(op, NULL, &n), CKR_OK);
	CHECK_UL(n, 64);
	n = 10;
	CHECK_RV(ch_op_final(op, sig, &n), CKR_BUFFER_TOO_SMALL);
	CHECK_UL(n, 64);
	CHECK_RV(ch_op_update(op, abc + 1, 2, NULL, NULL), CKR_OK);
	n = sizeof(sig);
	CHECK_RV(ch_op_final(op, sig, &n), CKR_OK);
	CHECK_RV(verify_once(&mech_sha256, pub, abc, sizeof(abc), sig, n), CKR_OK);
	/* C_Sign cannot follow C_SignUpdate. */
	ch_op_free(op);
	op = NULL;
	if (!CHECK_RV(ch_op_init(CH_OP_SIGN, &mech_sha256, priv, &op), CKR_OK))
		goto out;
	CHECK_RV(ch_op_update(op, abc, 1, NULL, NULL), CKR_OK);
	n = sizeof(sig);
	CHECK_RV(ch_op_oneshot(op, abc, 3, sig, &n), CKR_OPERATION_ACTIVE);
out:
	ch_op_free(op);
	ch_attrs_free(pub);
	ch_attrs_free(priv);
}

static void test_ecdsa_signature_length_and_tamper(void)
{
	ch_attrs *pub = NULL, *priv = NULL;
	CK_BYTE sig[66];
	CK_ULONG n = sizeof(sig);

	if (!CHECK_RV(gen_pair(oid_p256, sizeof(oid_p256), &pub, &priv), CKR_OK))
		return;
	CHECK_RV(sign_once(&mech_ecdsa, priv, abc_sha256, 32, sig, &n), CKR_OK);
	CHECK_UL(n, 64);
	CHECK_RV(verify_once(&mech_ecdsa, pub, abc_sha256, 32, sig, 64), CKR_OK);
	CHECK_RV(verify_once(&mech_ecdsa, pub, abc_sha256, 32, sig, 63), CKR_SIGNATURE_LEN_RANGE);
	CHECK_RV(verify_once(&mech_ecdsa, pub, abc_sha256, 32, sig, 65), CKR_SIGNATURE_LEN_RANGE);
	CHECK_RV(verify_once(&mech_ecdsa, pub, abc_sha256, 32, NULL, 0), CKR_SIGNATURE_LEN_RANGE);
	CHECK_RV(verify_parts(&mech_sha256, pub, abc, 3, 1, sig, 0), CKR_SIGNATURE_LEN_RANGE);
	CHECK_RV(verify_once(&mech_ecdsa, pub, abc_sha256, 31, sig, 64), CKR_SIGNATURE_INVALID);
	sig[0] ^= 0x01;
	CHECK_RV(verify_once(&mech_ecdsa, pub, abc_sha256, 32, sig, 64), CKR_SIGNATURE_INVALID);
	sig[0] ^= 0x01;
	sig[63] ^= 0x80;
	CHECK_RV(verify_once(&mech_ecdsa, pub, abc_sha256, 32, sig, 64), CKR_SIGNATURE_INVALID);
	memset(sig, 0, 64);
	CHECK_RV(verify_once(&mech_ecdsa, pub, abc_sha256, 32, sig, 64), CKR_SIGNATURE_INVALID);
	ch_attrs_free(pub);
	ch_attrs_free(priv);
}

static void test_ecdsa_key_class_type_and_usage(void)
{
	ch_attrs *pub = NULL, *priv = NULL, *aes = NULL;
	CK_BYTE junk[4] = { 0 }, v[32] = { 1 };
	CK_MECHANISM with_param = { CKM_ECDSA_SHA256, junk, sizeof(junk) };
	ch_op *op = NULL;

	if (!CHECK_RV(gen_pair(oid_p256, sizeof(oid_p256), &pub, &priv), CKR_OK))
		return;
	CHECK_RV(ch_op_init(CH_OP_SIGN, &mech_sha256, pub, &op), CKR_KEY_TYPE_INCONSISTENT);
	CHECK_RV(ch_op_init(CH_OP_VERIFY, &mech_sha256, priv, &op), CKR_KEY_TYPE_INCONSISTENT);
	CHECK_RV(ch_op_init(CH_OP_SIGN, &with_param, priv, &op), CKR_MECHANISM_PARAM_INVALID);
	CHECK_RV(ch_op_init(CH_OP_ENCRYPT, &mech_ecdsa, pub, &op), CKR_MECHANISM_INVALID);
	CHECK_RV(ch_op_init(CH_OP_DECRYPT, &mech_ecdsa, priv, &op), CKR_MECHANISM_INVALID);

	aes = ch_attrs_new();
	if (CHECK(aes != NULL)) {
		CHECK_RV(ch_attrs_set_ulong(aes, CKA_CLASS, CKO_SECRET_KEY), CKR_OK);
		CHECK_RV(ch_attrs_set_ulong(aes, CKA_KEY_TYPE, CKK_AES), CKR_OK);
		CHECK_RV(ch_attrs_set_bool(aes, CKA_SIGN, true), CKR_OK);
		CHECK_RV(ch_attrs_set(aes, CKA_VALUE, v, sizeof(v)), CKR_OK);
		CHECK_RV(ch_op_init(CH_OP_SIGN, &mech_sha256, aes, &op), CKR_KEY_TYPE_INCONSISTENT);
		/* A private key object of another type. */
		CHECK_RV(ch_attrs_set_ulong(aes, CKA_CLASS, CKO_PRIVATE_KEY), CKR_OK);
		CHECK_RV(ch_attrs_set_ulong(aes, CKA_KEY_TYPE, CKK_RSA), CKR_OK);
		CHECK_RV(ch_op_init(CH_OP_SIGN, &mech_ecdsa, aes, &op), CKR_KEY_TYPE_INCONSISTENT);
	}

	CHECK_RV(ch_attrs_set_bool(priv, CKA_SIGN, false), CKR_OK);
	CHECK_RV(ch_op_init(CH_OP_SIGN, &mech_sha256, priv, &op), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CHECK_RV(ch_attrs_set_bool(pub, CKA_VERIFY, false), CKR_OK);
	CHECK_RV(ch_op_init(CH_OP_VERIFY, &mech_ecdsa, pub, &op), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CHECK(op == NULL);
	ch_attrs_free(aes);
	ch_attrs_free(pub);
	ch_attrs_free(priv);
}

static void test_ecdsa_malformed_keys(void)
{
	static const CK_BYTE brainpool[] = { 0x06, 0x09, 0x2b, 0x24, 0x03, 0x03,
		                             0x02, 0x08, 0x01, 0x01, 0x07 };
	ch_attrs *pub = NULL, *priv = NULL;
	const ch_attr *pt, *d;
	CK_BYTE point[67], scalar[33], sig[64];
	CK_ULONG n = sizeof(sig);
	ch_op *op = NULL;

	if (!CHECK_RV(gen_pair(oid_p256, sizeof(oid_p256), &pub, &priv), CKR_OK))
		return;
	pt = ch_attrs_get(pub, CKA_EC_POINT);
	d = ch_attrs_get(priv, CKA_VALUE);
	if (!CHECK(pt != NULL && pt->len == 67 && d != NULL && d->len == 32))
		goto out;
	memcpy(point, pt->value, 67);
	memcpy(scalar + 1, d->value, 32);
	scalar[0] = 0;

	/* The bare point works as well as the DER-wrapped one. */
	CHECK_RV(sign_once(&mech_sha256, priv, abc, 3, sig, &n), CKR_OK);
	CHECK_RV(ch_attrs_set(pub, CKA_EC_POINT, point + 2, 65), CKR_OK);
	CHECK_RV(verify_once(&mech_sha256, pub, abc, 3, sig, n), CKR_OK);
	/* A point off the curve, a truncated one. */
	point[66] ^= 0x01;
	CHECK_RV(ch_attrs_set(pub, CKA_EC_POINT, point, 67), CKR_OK);
	CHECK_RV(ch_op_init(CH_OP_VERIFY, &mech_sha256, pub, &op), CKR_KEY_TYPE_INCONSISTENT);
	point[66] ^= 0x01;
	/* The compressed point, bare and wrapped, verifies; the other parity
	 * is another point, and a hybrid (06/07) prefix is refused. */
	point[2] = (CK_BYTE)(0x02 | (point[66] & 1));
	CHECK_RV(ch_attrs_set(pub, CKA_EC_POINT, point + 2, 33), CKR_OK);
	CHECK_RV(verify_once(&mech_sha256, pub, abc, 3, sig, n), CKR_OK);
	point[0] = 0x04;
	point[1] = 33;
	CHECK_RV(ch_attrs_set(pub, CKA_EC_POINT, point, 35), CKR_OK);
	CHECK_RV(verify_once(&mech_sha256, pub, abc, 3, sig, n), CKR_OK);
	point[1] = 65;
	point[2] ^= 0x01;
	CHECK_RV(ch_attrs_set(pub, CKA_EC_POINT, point + 2, 33), CKR_OK);
	CHECK_RV(verify_once(&mech_sha256, pub, abc, 3, sig, n), CKR_SIGNATURE_INVALID);
	point[2] = 0x06 | (point[66] & 1);
	CHECK_RV(ch_attrs_set(pub, CKA_EC_POINT, point + 2, 65), CKR_OK);
	CHECK_RV(ch_op_init(CH_OP_VERIFY, &mech_sha256, pub, &op), CKR_KEY_TYPE_INCONSISTENT);
	point[2] = 0x04;
	CHECK_RV(ch_attrs_set(pub, CKA_EC_POINT, point, 66), CKR_OK);
	CHECK_RV(ch_op_init(CH_OP_VERIFY, &mech_sha256, pub, &op), CKR_KEY_TYPE_INCONSISTENT);
	ch_attrs_remove(pub, CKA_EC_POINT);
	CHECK_RV(ch_op_init(CH_OP_VERIFY, &mech_sha256, pub, &op), CKR_KEY_TYPE_INCONSISTENT);
	/* Unknown and missing curves. */
	CHECK_RV(ch_attrs_set(pub, CKA_EC_PARAMS, brainpool, sizeof(brainpool)), CKR_OK);
	CHECK_RV(ch_op_init(CH_OP_VERIFY, &mech_sha256, pub, &op), CKR_CURVE_NOT_SUPPORTED);
	ch_attrs_remove(pub, CKA_EC_PARAMS);
	CHECK_RV(ch_op_init(CH_OP_VERIFY, &mech_sha256, pub, &op), CKR_KEY_TYPE_INCONSISTENT);

	/* A scalar one byte too long, zero, too big, missing. */
	CHECK_RV(ch_attrs_set(priv, CKA_VALUE, scalar, 33), CKR_OK);
	CHECK_RV(ch_op_init(CH_OP_SIGN, &mech_sha256, priv, &op), CKR_KEY_SIZE_RANGE);
	memset(scalar, 0, sizeof(scalar));
	CHECK_RV(ch_attrs_set(priv, CKA_VALUE, scalar, 32), CKR_OK);
	CHECK_RV(ch_op_init(CH_OP_SIGN, &mech_sha256, priv, &op), CKR_KEY_TYPE_INCONSISTENT);
	memset(scalar, 0xff, sizeof(scalar)); /* above the group order */
	CHECK_RV(ch_attrs_set(priv, CKA_VALUE, scalar, 32), CKR_OK);
	CHECK_RV(ch_op_init(CH_OP_SIGN, &mech_sha256, priv, &op), CKR_KEY_TYPE_INCONSISTENT);
	ch_attrs_remove(priv, CKA_VALUE);
	CHECK_RV(ch_op_init(CH_OP_SIGN, &mech_sha256, priv, &op), CKR_KEY_TYPE_INCONSISTENT);
	CHECK(op == NULL);
out:
	ch_op_free(op);
	ch_attrs_free(pub);
	ch_attrs_free(priv);
}

/* The hash-then-sign rows and OpenSSL's names of their digests. */
static const struct {
	CK_MECHANISM_TYPE mech;
	const char *md;
} hash_rows[] = {
	{ CKM_ECDSA_SHA1, "SHA1" },         { CKM_ECDSA_SHA224, "SHA224" },
	{ CKM_ECDSA_SHA256, "SHA256" },     { CKM_ECDSA_SHA384, "SHA384" },
	{ CKM_ECDSA_SHA512, "SHA512" },     { CKM_ECDSA_SHA3_224, "SHA3-224" },
	{ CKM_ECDSA_SHA3_256, "SHA3-256" }, { CKM_ECDSA_SHA3_384, "SHA3-384" },
	{ CKM_ECDSA_SHA3_512, "SHA3-512" },
};

#define NHASH (sizeof(hash_rows) / sizeof(hash_rows[0]))

/* Every CKM_ECDSA_SHA* row on every curve: its signature verifies as
 * CKM_ECDSA over the digest computed here, and back, in one part and in
 * several. */
static void test_ecdsa_every_hash_row_every_curve(void)
{
	ch_attrs *pub = NULL, *priv = NULL;
	CK_BYTE data[301], sig[132], h[64];
	unsigned int hlen;
	CK_ULONG n;
	size_t c, i;

	CHECK_RV(ch_random(data, sizeof(data)), CKR_OK);
	for (c = 0; c < NCURVES; c++) {
		if (!CHECK_RV(gen_pair(tcurves[c].oid, tcurves[c].oid_len, &pub, &priv), CKR_OK))
			continue;
		for (i = 0; i < NHASH; i++) {
			CK_MECHANISM m = { hash_rows[i].mech, NULL, 0 };

			if (!CHECK(EVP_Digest(data, sizeof(data), h, &hlen,
			                      EVP_get_digestbyname(hash_rows[i].md), NULL) == 1))
				continue;
			n = sizeof(sig);
			CHECK_RV(sign_once(&m, priv, data, sizeof(data), sig, &n), CKR_OK);
			CHECK_UL(n, 2 * tcurves[c].fb);
			CHECK_RV(verify_once(&m, pub, data, sizeof(data), sig, n), CKR_OK);
			CHECK_RV(verify_parts(&m, pub, data, sizeof(data), 77, sig, n), CKR_OK);
			if (!CHECK_RV(verify_once(&mech_ecdsa, pub, h, hlen, sig, n), CKR_OK))
				fprintf(stderr, "\t%s on curve %zu\n", hash_rows[i].md, c);
			n = sizeof(sig);
			CHECK_RV(sign_parts(&m, priv, data, sizeof(data), 100, sig, &n), CKR_OK);
			CHECK_RV(verify_once(&mech_ecdsa, pub, h, hlen, sig, n), CKR_OK);
			n = sizeof(sig);
			CHECK_RV(sign_once(&mech_ecdsa, priv, h, hlen, sig, &n), CKR_OK);
			CHECK_RV(verify_once(&m, pub, data, sizeof(data), sig, n), CKR_OK);
			data[0] ^= 1;
			CHECK_RV(verify_once(&m, pub, data, sizeof(data), sig, n),
			         CKR_SIGNATURE_INVALID);
			data[0] ^= 1;
		}
		ch_attrs_free(pub);
		ch_attrs_free(priv);
		pub = priv = NULL;
	}
}

/* ch_key_export / ch_key_import (PKCS#8) keep an EC key on every curve. */
static void test_ec_pkcs8_encodings(void)
{
	ch_attrs *pub = NULL, *priv = NULL, *back = NULL;
	const ch_attr *d, *d2, *prm;
	CK_BYTE *der = NULL, sig[132];
	CK_ULONG der_len = 0, n;
	size_t c;

	for (c = 0; c < NCURVES; c++) {
		if (!CHECK_RV(gen_pair(tcurves[c].oid, tcurves[c].oid_len, &pub, &priv), CKR_OK) ||
		    !CHECK((back = ec_obj(CKO_PRIVATE_KEY, CKA_SIGN, true)) != NULL) ||
		    !CHECK_RV(ch_key_export(priv, &der, &der_len), CKR_OK))
			goto next;
		if (!CHECK_RV(ch_key_import(back, der, der_len), CKR_OK))
			goto next;
		d = ch_attrs_get(priv, CKA_VALUE);
		d2 = ch_attrs_get(back, CKA_VALUE);
		prm = ch_attrs_get(back, CKA_EC_PARAMS);
		CHECK(d != NULL && d2 != NULL && d->len == d2->len &&
		      memcmp(d->value, d2->value, d->len) == 0);
		CHECK(prm != NULL && prm->len == tcurves[c].oid_len &&
		      memcmp(prm->value, tcurves[c].oid, prm->len) == 0);
		n = sizeof(sig);
		CHECK_RV(sign_once(&mech_sha256, back, abc, 3, sig, &n), CKR_OK);
		CHECK_RV(verify_once(&mech_sha256, pub, abc, 3, sig, n), CKR_OK);
		/* An EC PrivateKeyInfo is no Edwards key. */
		CHECK_RV(ch_attrs_set_ulong(back, CKA_KEY_TYPE, CKK_EC_EDWARDS), CKR_OK);
		CHECK_RV(ch_key_import(back, der, der_len), CKR_WRAPPED_KEY_INVALID);
	next:
		OPENSSL_clear_free(der, der_len);
		der = NULL;
		ch_attrs_free(pub);
		ch_attrs_free(priv);
		ch_attrs_free(back);
		pub = priv = back = NULL;
	}
}

int main(void)
{
	test_ec_mechanism_info();
	test_ecdsa_every_hash_row_every_curve();
	test_ec_pkcs8_encodings();
	test_ec_keygen_curves();
	test_ec_keygen_two_pairs_differ();
	test_ec_keygen_params_errors();
	test_ecdsa_wycheproof_p256_sha256();
	test_ecdsa_multipart_equals_single_part();
	test_ecdsa_raw_is_single_part();
	test_ecdsa_buffer_convention_keeps_operation();
	test_ecdsa_signature_length_and_tamper();
	test_ecdsa_key_class_type_and_usage();
	test_ecdsa_malformed_keys();
	return ch_test_done();
}
