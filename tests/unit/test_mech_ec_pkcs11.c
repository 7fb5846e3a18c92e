/*
 * Every elliptic curve of the token through the PKCS#11 API, the way an
 * application uses it: C_GenerateKeyPair on P-256, P-384, P-521,
 * secp256k1, X25519 and X448; C_Sign and C_Verify with CKM_ECDSA and every
 * CKM_ECDSA_SHA* row; C_DeriveKey with CKM_ECDH1_DERIVE (and the cofactor
 * variant) both ways, with the null and an X9.63 KDF, into generic secret
 * and AES keys that then agree on an AES-GCM encryption; a public key
 * created from a compressed point; C_GetMechanismList listing the family.
 */
#include <stdlib.h>
#include <string.h>

#include "module.h"

static const CK_BYTE oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const CK_BYTE oid_p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const CK_BYTE oid_p521[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23 };
static const CK_BYTE oid_k256[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a };
static const CK_BYTE oid_x25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x6e };
static const CK_BYTE oid_x448[] = { 0x06, 0x03, 0x2b, 0x65, 0x6f };

/* A curve: its parameters, key generation mechanism and sizes. */
typedef struct tcurve {
	const char *name;
	const CK_BYTE *oid;
	size_t oid_len;
	CK_MECHANISM_TYPE gen;
	size_t fb;     /* field bytes: signature halves, shared secret */
	size_t pt_len; /* bare public point */
} tcurve;

static const tcurve curves[] = {
	{ "P-256", oid_p256, sizeof(oid_p256), CKM_EC_KEY_PAIR_GEN, 32, 65 },
	{ "P-384", oid_p384, sizeof(oid_p384), CKM_EC_KEY_PAIR_GEN, 48, 97 },
	{ "P-521", oid_p521, sizeof(oid_p521), CKM_EC_KEY_PAIR_GEN, 66, 133 },
	{ "secp256k1", oid_k256, sizeof(oid_k256), CKM_EC_KEY_PAIR_GEN, 32, 65 },
	{ "X25519", oid_x25519, sizeof(oid_x25519), CKM_EC_MONTGOMERY_KEY_PAIR_GEN, 32, 32 },
	{ "X448", oid_x448, sizeof(oid_x448), CKM_EC_MONTGOMERY_KEY_PAIR_GEN, 56, 56 },
};

static CK_SESSION_HANDLE sess = CK_INVALID_HANDLE;
static CK_SLOT_ID slot;

/* A session key pair on c that may sign and verify (prime curves) and
 * derive; the private key sensitive. */
static CK_RV gen_pair(const tcurve *c, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	CK_MECHANISM m = { c->gen, NULL, 0 };
	bool ec = c->gen == CKM_EC_KEY_PAIR_GEN;
	CK_ATTRIBUTE pt[] = {
		CH_T_ATTR(CKA_EC_PARAMS, c->oid, c->oid_len),
		CH_T_BOOL(CKA_TOKEN, false),
		CH_T_BOOL(CKA_VERIFY, ec),
	};
	CK_ATTRIBUTE st[] = {
		CH_T_BOOL(CKA_TOKEN, false),
		CH_T_BOOL(CKA_SENSITIVE, true),
		CH_T_BOOL(CKA_SIGN, ec),
		CH_T_BOOL(CKA_DERIVE, true),
	};

	return P11->C_GenerateKeyPair(sess, &m, pt, CH_T_ARRAY_LEN(pt), st, CH_T_ARRAY_LEN(st), pub,
	                              priv);
}

/* The bare point of a public key (CKA_EC_POINT is a DER OCTET STRING). */
static bool bare_point(const tcurve *c, CK_OBJECT_HANDLE pub, CK_BYTE *out)
{
	CK_BYTE v[140];
	CK_ULONG n = sizeof(v);
	size_t hdr = c->pt_len < 0x80 ? 2 : 3;

	if (!CHECK_RV(ch_t_get(sess, pub, CKA_EC_POINT, v, &n), CKR_OK) ||
	    !CHECK(n == hdr + c->pt_len && v[0] == 0x04))
		return false;
	memcpy(out, v + hdr, c->pt_len);
	return true;
}

static void test_ecdsa_every_curve_and_hash(void)
{
	static const CK_MECHANISM_TYPE mechs[] = {
		CKM_ECDSA_SHA1,     CKM_ECDSA_SHA224,   CKM_ECDSA_SHA256,   CKM_ECDSA_SHA384,
		CKM_ECDSA_SHA512,   CKM_ECDSA_SHA3_224, CKM_ECDSA_SHA3_256, CKM_ECDSA_SHA3_384,
		CKM_ECDSA_SHA3_512, CKM_ECDSA,
	};
	CK_BYTE msg[64], sig[140];
	CK_OBJECT_HANDLE pub, priv;
	CK_ULONG n;

	CHECK_RV(P11->C_GenerateRandom(sess, msg, sizeof(msg)), CKR_OK);
	for (size_t c = 0; c < 4; c++) {
		if (!CHECK_RV(gen_pair(&curves[c], &pub, &priv), CKR_OK))
			continue;
		for (size_t i = 0; i < CH_T_ARRAY_LEN(mechs); i++) {
			CK_MECHANISM m = { mechs[i], NULL, 0 };

			n = sizeof(sig);
			if (!CHECK_RV(P11->C_SignInit(sess, &m, priv), CKR_OK) ||
			    !CHECK_RV(P11->C_Sign(sess, msg, sizeof(msg), sig, &n), CKR_OK))
				continue;
			CHECK_UL(n, 2 * curves[c].fb);
			CHECK_RV(P11->C_VerifyInit(sess, &m, pub), CKR_OK);
			CHECK_RV(P11->C_Verify(sess, msg, sizeof(msg), sig, n), CKR_OK);
			sig[n - 1] ^= 1;
			CHECK_RV(P11->C_VerifyInit(sess, &m, pub), CKR_OK);
			CHECK_RV(P11->C_Verify(sess, msg, sizeof(msg), sig, n),
			         CKR_SIGNATURE_INVALID);
		}
	}
}

static void test_ec_public_key_from_compressed_point(void)
{
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_KEY_TYPE kt = CKK_EC;
	CK_MECHANISM m = { CKM_ECDSA_SHA384, NULL, 0 };
	CK_OBJECT_HANDLE pub, priv, cpub;
	CK_BYTE pt[97], comp[51], sig[96];
	CK_ULONG n = sizeof(sig);
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),
		CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_BOOL(CKA_TOKEN, false),
		CH_T_BOOL(CKA_VERIFY, true),
		CH_T_ATTR(CKA_EC_PARAMS, oid_p384, sizeof(oid_p384)),
		CH_T_ATTR(CKA_EC_POINT, comp, sizeof(comp)),
	};

	if (!CHECK_RV(gen_pair(&curves[1], &pub, &priv), CKR_OK) ||
	    !bare_point(&curves[1], pub, pt))
		return;
	comp[0] = 0x04;
	comp[1] = 49;
	comp[2] = (CK_BYTE)(0x02 | (pt[96] & 1));
	memcpy(comp + 3, pt + 1, 48);
	if (!CHECK_RV(P11->C_CreateObject(sess, t, CH_T_ARRAY_LEN(t), &cpub), CKR_OK))
		return;
	CHECK_RV(P11->C_SignInit(sess, &m, priv), CKR_OK);
	CHECK_RV(P11->C_Sign(sess, (CK_BYTE_PTR) "abc", 3, sig, &n), CKR_OK);
	CHECK_RV(P11->C_VerifyInit(sess, &m, cpub), CKR_OK);
	CHECK_RV(P11->C_Verify(sess, (CK_BYTE_PTR) "abc", 3, sig, n), CKR_OK);
}

/* C_DeriveKey from base with the peer's point pt; the new key's handle. */
static CK_RV derive(CK_MECHANISM_TYPE mech, CK_OBJECT_HANDLE base, const CK_BYTE *pt, size_t pt_len,
                    CK_EC_KDF_TYPE kdf, CK_KEY_TYPE kt, CK_ULONG len, CK_OBJECT_HANDLE *key)
{
	static const CK_BYTE info[] = { 'e', 'c', 'd', 'h' };
	CK_ECDH1_DERIVE_PARAMS p = { kdf, kdf == CKD_NULL ? 0 : sizeof(info),
		                     kdf == CKD_NULL ? NULL : (CK_BYTE_PTR)info, (CK_ULONG)pt_len,
		                     (CK_BYTE_PTR)pt };
	CK_MECHANISM m = { mech, &p, sizeof(p) };
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),      CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_BOOL(CKA_TOKEN, false),      CH_T_BOOL(CKA_SENSITIVE, false),
		CH_T_BOOL(CKA_EXTRACTABLE, true), CH_T_BOOL(CKA_ENCRYPT, true),
		CH_T_BOOL(CKA_DECRYPT, true),     CH_T_ULONG(CKA_VALUE_LEN, &len),
	};

	return P11->C_DeriveKey(sess, &m, base, t, CH_T_ARRAY_LEN(t) - (len == 0), key);
}

/* CKA_VALUE of a derived key into v (128 bytes); its length. */
static CK_ULONG value_of(CK_OBJECT_HANDLE k, CK_BYTE *v)
{
	CK_ULONG n = 128;

	if (!CHECK_RV(ch_t_get(sess, k, CKA_VALUE, v, &n), CKR_OK))
		return 0;
	return n;
}

static void ecdh_curve(const tcurve *c)
{
	CK_OBJECT_HANDLE apub, apriv, bpub, bpriv, k1, k2;
	CK_BYTE apt[133], bpt[133], v1[128], v2[128], iv[12] = { 0 }, ct[64];
	CK_ULONG n1, n2, ctn = sizeof(ct), ptn;
	CK_GCM_PARAMS gp;
	CK_MECHANISM gcm;
	bool ec = c->gen == CKM_EC_KEY_PAIR_GEN;

	if (!CHECK_RV(gen_pair(c, &apub, &apriv), CKR_OK) ||
	    !CHECK_RV(gen_pair(c, &bpub, &bpriv), CKR_OK) || !bare_point(c, apub, apt) ||
	    !bare_point(c, bpub, bpt))
		return;
	/* The raw secret, both ways. */
	if (CHECK_RV(derive(CKM_ECDH1_DERIVE, apriv, bpt, c->pt_len, CKD_NULL, CKK_GENERIC_SECRET,
	                    0, &k1),
	             CKR_OK) &&
	    CHECK_RV(derive(ec ? CKM_ECDH1_COFACTOR_DERIVE : CKM_ECDH1_DERIVE, bpriv, apt,
	                    c->pt_len, CKD_NULL, CKK_GENERIC_SECRET, 0, &k2),
	             CKR_OK)) {
		n1 = value_of(k1, v1);
		n2 = value_of(k2, v2);
		CHECK_UL(n1, c->fb);
		if (!CHECK(n1 == n2 && memcmp(v1, v2, n1) == 0))
			fprintf(stderr, "\t%s: the two sides disagree\n", c->name);
	}
	/* AES keys through the X9.63 KDF: one side's ciphertext decrypts on
	 * the other's. */
	if (!CHECK_RV(derive(CKM_ECDH1_DERIVE, apriv, bpt, c->pt_len, CKD_SHA256_KDF, CKK_AES, 32,
	                     &k1),
	              CKR_OK) ||
	    !CHECK_RV(derive(CKM_ECDH1_DERIVE, bpriv, apt, c->pt_len, CKD_SHA256_KDF, CKK_AES, 32,
	                     &k2),
	              CKR_OK))
		return;
	ch_t_gcm(&gcm, &gp, iv, NULL, 0);
	CHECK_RV(P11->C_EncryptInit(sess, &gcm, k1), CKR_OK);
	CHECK_RV(P11->C_Encrypt(sess, (CK_BYTE_PTR) "sixteen byte msg", 16, ct, &ctn), CKR_OK);
	ptn = sizeof(v1);
	CHECK_RV(P11->C_DecryptInit(sess, &gcm, k2), CKR_OK);
	CHECK_RV(P11->C_Decrypt(sess, ct, ctn, v1, &ptn), CKR_OK);
	CHECK(ptn == 16 && memcmp(v1, "sixteen byte msg", 16) == 0);
	/* A public key is no base key. */
	CHECK_RV(derive(CKM_ECDH1_DERIVE, apub, bpt, c->pt_len, CKD_NULL, CKK_GENERIC_SECRET, 0,
	                &k1),
	         CKR_KEY_TYPE_INCONSISTENT);
}

static void test_ecdh_every_curve_both_ways(void)
{
	for (size_t c = 0; c < CH_T_ARRAY_LEN(curves); c++)
		ecdh_curve(&curves[c]);
}

static void test_mechanism_list_has_the_family(void)
{
	static const CK_MECHANISM_TYPE want[] = {
		CKM_EC_KEY_PAIR_GEN,
		CKM_EC_EDWARDS_KEY_PAIR_GEN,
		CKM_EC_MONTGOMERY_KEY_PAIR_GEN,
		CKM_ECDSA,
		CKM_ECDSA_SHA1,
		CKM_ECDSA_SHA224,
		CKM_ECDSA_SHA256,
		CKM_ECDSA_SHA384,
		CKM_ECDSA_SHA512,
		CKM_ECDSA_SHA3_224,
		CKM_ECDSA_SHA3_256,
		CKM_ECDSA_SHA3_384,
		CKM_ECDSA_SHA3_512,
		CKM_EDDSA,
		CKM_ECDH1_DERIVE,
		CKM_ECDH1_COFACTOR_DERIVE,
	};
	CK_MECHANISM_TYPE list[256];
	CK_ULONG n = CH_T_ARRAY_LEN(list);

	if (!CHECK_RV(P11->C_GetMechanismList(slot, list, &n), CKR_OK))
		return;
	for (size_t i = 0; i < CH_T_ARRAY_LEN(want); i++) {
		bool found = false;

		for (CK_ULONG j = 0; j < n; j++)
			found |= list[j] == want[i];
		if (!CHECK(found))
			fprintf(stderr, "\tmechanism 0x%lx missing\n", want[i]);
	}
}

int main(void)
{
	ch_t_env env;

	if (CHECK(ch_t_setup(&env)) && CHECK_RV(ch_t_user_session(&env, true, &sess), CKR_OK)) {
		slot = env.slot;
		test_mechanism_list_has_the_family();
		test_ecdsa_every_curve_and_hash();
		test_ec_public_key_from_compressed_point();
		test_ecdh_every_curve_both_ways();
	}
	ch_t_env_free(&env);
	return ch_test_done();
}
