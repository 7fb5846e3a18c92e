/*
 * Edwards and Montgomery keys (token/mech_edwards.c, ECDH in
 * token/mech_ecdh.c) through the module: C_GenerateKeyPair with
 * CKM_EC_EDWARDS_KEY_PAIR_GEN and CKM_EC_MONTGOMERY_KEY_PAIR_GEN on every
 * curve and both CKA_EC_PARAMS forms, CKM_EDDSA sign and verify in one and
 * several parts (RFC 8032 known answers, signatures checked with OpenSSL
 * apart from the module), the CK_EDDSA_PARAMS the token can and cannot do,
 * X25519/X448 derived both ways (ch_mech_derive until C_DeriveKey is
 * wired), PKCS#8 encodings of the private keys, and the mechanism info.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "attrs.h"
#include "mech.h"
#include "module.h"

static const CK_BYTE oid_ed25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
static const CK_BYTE oid_ed448[] = { 0x06, 0x03, 0x2b, 0x65, 0x71 };
static const CK_BYTE oid_x25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x6e };
static const CK_BYTE oid_x448[] = { 0x06, 0x03, 0x2b, 0x65, 0x6f };
static const CK_BYTE name_ed25519[] = { 0x13, 0x0c, 'e', 'd', 'w', 'a', 'r',
	                                'd',  's',  '2', '5', '5', '1', '9' };
static const CK_BYTE name_ed448[] = {
	0x13, 0x0a, 'e', 'd', 'w', 'a', 'r', 'd', 's', '4', '4', '8'
};
static const CK_BYTE name_x25519[] = {
	0x13, 0x0a, 'c', 'u', 'r', 'v', 'e', '2', '5', '5', '1', '9'
};
static const CK_BYTE name_x448[] = { 0x13, 0x08, 'c', 'u', 'r', 'v', 'e', '4', '4', '8' };
static const CK_BYTE oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };

/* A curve as the tests use it. */
typedef struct xcurve {
	const char *ossl; /* OpenSSL key type */
	const CK_BYTE *oid, *name;
	size_t oid_len, name_len;
	size_t bytes, sig_bytes;
} xcurve;

static const xcurve ed25519 = {
	"ED25519", oid_ed25519, name_ed25519, sizeof(oid_ed25519), sizeof(name_ed25519), 32, 64
};
static const xcurve ed448 = { "ED448", oid_ed448, name_ed448, sizeof(oid_ed448), sizeof(name_ed448),
	                      57,      114 };
static const xcurve x25519 = {
	"X25519", oid_x25519, name_x25519, sizeof(oid_x25519), sizeof(name_x25519), 32, 0
};
static const xcurve x448 = {
	"X448", oid_x448, name_x448, sizeof(oid_x448), sizeof(name_x448), 56, 0
};

static CK_SESSION_HANDLE sess = CK_INVALID_HANDLE;
static CK_SLOT_ID slot;

/* Generates a session key pair (extractable, not sensitive) of mech on c,
 * naming the curve by OID or by curveName. */
static CK_RV gen_pair(CK_MECHANISM_TYPE mech, const xcurve *c, bool by_name, CK_OBJECT_HANDLE *pub,
                      CK_OBJECT_HANDLE *priv)
{
	CK_MECHANISM m = { mech, NULL, 0 };
	bool ed = mech == CKM_EC_EDWARDS_KEY_PAIR_GEN;
	CK_ATTRIBUTE pt[] = {
		CH_T_ATTR(CKA_EC_PARAMS, by_name ? c->name : c->oid,
		          by_name ? c->name_len : c->oid_len),
		CH_T_BOOL(CKA_TOKEN, false),
		CH_T_BOOL(CKA_VERIFY, ed),
	};
	CK_ATTRIBUTE st[] = {
		CH_T_BOOL(CKA_TOKEN, false),
		CH_T_BOOL(CKA_SENSITIVE, false),
		CH_T_BOOL(CKA_SIGN, ed),
		CH_T_BOOL(CKA_DERIVE, !ed),
	};

	return P11->C_GenerateKeyPair(sess, &m, pt, CH_T_ARRAY_LEN(pt), st, CH_T_ARRAY_LEN(st), pub,
	                              priv);
}

/* Imports a key pair from its raw halves. */
static CK_RV create_pair(CK_KEY_TYPE kt, const xcurve *c, const CK_BYTE *seed, const CK_BYTE *pk,
                         CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	CK_OBJECT_CLASS pc = CKO_PUBLIC_KEY, sc = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE pt[] = {
		CH_T_ULONG(CKA_CLASS, &pc),
		CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_BOOL(CKA_TOKEN, false),
		CH_T_BOOL(CKA_VERIFY, true),
		CH_T_ATTR(CKA_EC_PARAMS, c->oid, c->oid_len),
		CH_T_ATTR(CKA_EC_POINT, pk, c->bytes),
	};
	CK_ATTRIBUTE st[] = {
		CH_T_ULONG(CKA_CLASS, &sc),
		CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_BOOL(CKA_TOKEN, false),
		CH_T_BOOL(CKA_SIGN, true),
		CH_T_ATTR(CKA_EC_PARAMS, c->oid, c->oid_len),
		CH_T_ATTR(CKA_VALUE, seed, c->bytes),
	};
	CK_RV rv;

	if ((rv = P11->C_CreateObject(sess, pt, CH_T_ARRAY_LEN(pt), pub)) != CKR_OK)
		return rv;
	return P11->C_CreateObject(sess, st, CH_T_ARRAY_LEN(st), priv);
}

/* C_Sign, or C_SignUpdate in parts of chunk bytes and C_SignFinal. */
static CK_RV sign(const CK_MECHANISM *m, CK_OBJECT_HANDLE key, const CK_BYTE *msg, CK_ULONG len,
                  size_t chunk, CK_BYTE *sig, CK_ULONG *sig_len)
{
	CK_ULONG done = 0, n;
	CK_RV rv;

	if ((rv = P11->C_SignInit(sess, (CK_MECHANISM_PTR)m, key)) != CKR_OK)
		return rv;
	if (chunk == 0)
		return P11->C_Sign(sess, (CK_BYTE_PTR)msg, len, sig, sig_len);
	while (done < len) {
		n = len - done < chunk ? len - done : chunk;
		if ((rv = P11->C_SignUpdate(sess, (CK_BYTE_PTR)msg + done, n)) != CKR_OK)
			return rv;
		done += n;
	}
	return P11->C_SignFinal(sess, sig, sig_len);
}

static CK_RV verify(const CK_MECHANISM *m, CK_OBJECT_HANDLE key, const CK_BYTE *msg, CK_ULONG len,
                    size_t chunk, const CK_BYTE *sig, CK_ULONG sig_len)
{
	CK_ULONG done = 0, n;
	CK_RV rv;

	if ((rv = P11->C_VerifyInit(sess, (CK_MECHANISM_PTR)m, key)) != CKR_OK)
		return rv;
	if (chunk == 0)
		return P11->C_Verify(sess, (CK_BYTE_PTR)msg, len, (CK_BYTE_PTR)sig, sig_len);
	while (done < len) {
		n = len - done < chunk ? len - done : chunk;
		if ((rv = P11->C_VerifyUpdate(sess, (CK_BYTE_PTR)msg + done, n)) != CKR_OK)
			return rv;
		done += n;
	}
	return P11->C_VerifyFinal(sess, (CK_BYTE_PTR)sig, sig_len);
}

/* The raw public key of a generated key: CKA_EC_POINT must be a DER
 * OCTET STRING of c->bytes. */
static bool raw_public(CK_OBJECT_HANDLE pub, const xcurve *c, CK_BYTE *out)
{
	CK_BYTE v[80];
	CK_ULONG n = sizeof(v);

	if (!CHECK_RV(ch_t_get(sess, pub, CKA_EC_POINT, v, &n), CKR_OK) ||
	    !CHECK(n == c->bytes + 2 && v[0] == 0x04 && v[1] == c->bytes))
		return false;
	memcpy(out, v + 2, c->bytes);
	return true;
}

/* OpenSSL's own verdict on an EdDSA signature. */
static bool openssl_verifies(const xcurve *c, const CK_BYTE *pk, const CK_BYTE *msg, size_t len,
                             const CK_BYTE *sig, size_t sig_len)
{
	EVP_PKEY *k = EVP_PKEY_new_raw_public_key_ex(NULL, c->ossl, NULL, pk, c->bytes);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok = k != NULL && md != NULL &&
	          EVP_DigestVerifyInit_ex(md, NULL, NULL, NULL, NULL, k, NULL) == 1 &&
	          EVP_DigestVerify(md, sig, sig_len, msg, len) == 1;

	EVP_MD_CTX_free(md);
	EVP_PKEY_free(k);
	return ok;
}

static void eddsa_round_trip(const xcurve *c, bool by_name)
{
	static const CK_MECHANISM m = { CKM_EDDSA, NULL, 0 };
	CK_OBJECT_HANDLE pub, priv;
	CK_BYTE msg[300], sig[120], sig2[120], pk[57];
	CK_ULONG n = sizeof(sig), n2 = sizeof(sig2);
	CK_ULONG kt = 0, len = sizeof(kt);

	if (!CHECK_RV(gen_pair(CKM_EC_EDWARDS_KEY_PAIR_GEN, c, by_name, &pub, &priv), CKR_OK))
		return;
	CHECK_RV(ch_t_get(sess, priv, CKA_KEY_TYPE, &kt, &len), CKR_OK);
	CHECK_UL(kt, CKK_EC_EDWARDS);
	if (!raw_public(pub, c, pk))
		return;
	CHECK_RV(P11->C_GenerateRandom(sess, msg, sizeof(msg)), CKR_OK);
	CHECK_RV(sign(&m, priv, msg, sizeof(msg), 0, sig, &n), CKR_OK);
	CHECK_UL(n, c->sig_bytes);
	CHECK(openssl_verifies(c, pk, msg, sizeof(msg), sig, n));
	CHECK_RV(verify(&m, pub, msg, sizeof(msg), 0, sig, n), CKR_OK);
	CHECK_RV(verify(&m, pub, msg, sizeof(msg), 7, sig, n), CKR_OK);
	/* Deterministic: the multi-part signature is the same bytes. */
	CHECK_RV(sign(&m, priv, msg, sizeof(msg), 100, sig2, &n2), CKR_OK);
	CHECK(n2 == n && memcmp(sig, sig2, n) == 0);
	/* Empty message, tampering, wrong lengths. */
	n2 = sizeof(sig2);
	CHECK_RV(sign(&m, priv, NULL, 0, 0, sig2, &n2), CKR_OK);
	CHECK_RV(verify(&m, pub, NULL, 0, 5, sig2, n2), CKR_OK);
	CHECK(openssl_verifies(c, pk, (const CK_BYTE *)"", 0, sig2, n2));
	sig[3] ^= 0x10;
	CHECK_RV(verify(&m, pub, msg, sizeof(msg), 0, sig, n), CKR_SIGNATURE_INVALID);
	sig[3] ^= 0x10;
	msg[0] ^= 1;
	CHECK_RV(verify(&m, pub, msg, sizeof(msg), 50, sig, n), CKR_SIGNATURE_INVALID);
	CHECK_RV(verify(&m, pub, msg, sizeof(msg), 0, sig, n - 1), CKR_SIGNATURE_LEN_RANGE);
	CHECK_RV(verify(&m, pub, msg, sizeof(msg), 9, sig, n + 1), CKR_SIGNATURE_LEN_RANGE);
}

static void test_eddsa_generate_sign_verify_every_curve(void)
{
	eddsa_round_trip(&ed25519, false);
	eddsa_round_trip(&ed25519, true);
	eddsa_round_trip(&ed448, false);
	eddsa_round_trip(&ed448, true);
}

static void test_eddsa_buffer_convention(void)
{
	static const CK_MECHANISM m = { CKM_EDDSA, NULL, 0 };
	CK_OBJECT_HANDLE pub, priv;
	CK_BYTE sig[114];
	CK_ULONG n;

	if (!CHECK_RV(gen_pair(CKM_EC_EDWARDS_KEY_PAIR_GEN, &ed448, false, &pub, &priv), CKR_OK))
		return;
	CHECK_RV(P11->C_SignInit(sess, (CK_MECHANISM_PTR)&m, priv), CKR_OK);
	n = 0;
	CHECK_RV(P11->C_Sign(sess, (CK_BYTE_PTR) "abc", 3, NULL, &n), CKR_OK);
	CHECK_UL(n, 114);
	n = 113;
	CHECK_RV(P11->C_Sign(sess, (CK_BYTE_PTR) "abc", 3, sig, &n), CKR_BUFFER_TOO_SMALL);
	CHECK_UL(n, 114);
	CHECK_RV(P11->C_Sign(sess, (CK_BYTE_PTR) "abc", 3, sig, &n), CKR_OK);
	CHECK_RV(verify(&m, pub, (const CK_BYTE *)"abc", 3, 1, sig, n), CKR_OK);
	/* The same on C_SignFinal: queries keep the buffered message. */
	CHECK_RV(P11->C_SignInit(sess, (CK_MECHANISM_PTR)&m, priv), CKR_OK);
	CHECK_RV(P11->C_SignUpdate(sess, (CK_BYTE_PTR) "a", 1), CKR_OK);
	n = 0;
	CHECK_RV(P11->C_SignFinal(sess, NULL, &n), CKR_OK);
	n = 10;
	CHECK_RV(P11->C_SignFinal(sess, sig, &n), CKR_BUFFER_TOO_SMALL);
	CHECK_RV(P11->C_SignUpdate(sess, (CK_BYTE_PTR) "bc", 2), CKR_OK);
	n = sizeof(sig);
	CHECK_RV(P11->C_SignFinal(sess, sig, &n), CKR_OK);
	CHECK_RV(verify(&m, pub, (const CK_BYTE *)"abc", 3, 0, sig, n), CKR_OK);
}

/* RFC 8032 section 7.1, TEST 1 (Ed25519, empty message) and section 7.4,
 * "-----Blank" (Ed448, empty message, empty context). */
static void test_eddsa_rfc8032_known_answers(void)
{
	static const char *const kat[2][3] = {
		{ "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
		  "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
		  "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
		  "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b" },
		{ "6c82a562cb808d10d632be89c8513ebf6c929f34ddfa8c9f63c9960ef6e348a3"
		  "528c8a3fcc2f044e39a3fc5b94492f8f032e7549a20098f95b",
		  "5fd7449b59b461fd2ce787ec616ad46a1da1342485a70e1f8a0ea75d80e96778"
		  "edf124769b46c7061bd6783df1e50f6cd1fa1abeafe8256180",
		  "533a37f6bbe457251f023c0d88f976ae2dfb504a843e34d2074fd823d41a591f"
		  "2b233f034f628281f2fd7a22ddd47d7828c59bd0a21bfd3980ff0d2028d4b18a"
		  "9df63e006c5d1c2d345b925d8dc00b4104852db99ac5c7cdda8530a113a0f4db"
		  "b61149f05a7363268c71d95808ff2e652600" },
	};
	static const CK_MECHANISM m = { CKM_EDDSA, NULL, 0 };
	const xcurve *cs[2] = { &ed25519, &ed448 };
	CK_BYTE seed[57], pk[57], want[114], sig[114];
	CK_OBJECT_HANDLE pub, priv;
	CK_ULONG n;

	for (int i = 0; i < 2; i++) {
		const xcurve *c = cs[i];

		if (!CHECK(ch_t_unhex(kat[i][0], seed, sizeof(seed)) == c->bytes &&
		           ch_t_unhex(kat[i][1], pk, sizeof(pk)) == c->bytes &&
		           ch_t_unhex(kat[i][2], want, sizeof(want)) == c->sig_bytes))
			continue;
		if (!CHECK_RV(create_pair(CKK_EC_EDWARDS, c, seed, pk, &pub, &priv), CKR_OK))
			continue;
		n = sizeof(sig);
		CHECK_RV(sign(&m, priv, NULL, 0, 0, sig, &n), CKR_OK);
		if (!CHECK(n == c->sig_bytes && memcmp(sig, want, n) == 0))
			fprintf(stderr, "\t%s: not RFC 8032's signature\n", c->ossl);
		CHECK_RV(verify(&m, pub, NULL, 0, 0, want, c->sig_bytes), CKR_OK);
	}
}

static void test_eddsa_params_only_pure_variants(void)
{
	CK_EDDSA_PARAMS p = { CK_FALSE, 0, NULL };
	CK_MECHANISM m = { CKM_EDDSA, &p, sizeof(p) };
	static const CK_MECHANISM pure = { CKM_EDDSA, NULL, 0 };
	CK_OBJECT_HANDLE p25, s25, p448, s448;
	CK_BYTE ctx[3] = { 'c', 't', 'x' }, sig[114], sig2[114];
	CK_ULONG n = sizeof(sig), n2 = sizeof(sig2);

	if (!CHECK_RV(gen_pair(CKM_EC_EDWARDS_KEY_PAIR_GEN, &ed25519, false, &p25, &s25), CKR_OK) ||
	    !CHECK_RV(gen_pair(CKM_EC_EDWARDS_KEY_PAIR_GEN, &ed448, false, &p448, &s448), CKR_OK))
		return;
	/* Ed448 with phFlag false and no context is pure Ed448. */
	CHECK_RV(sign(&m, s448, (const CK_BYTE *)"abc", 3, 0, sig, &n), CKR_OK);
	CHECK_RV(sign(&pure, s448, (const CK_BYTE *)"abc", 3, 0, sig2, &n2), CKR_OK);
	CHECK(n == n2 && memcmp(sig, sig2, n) == 0);
	CHECK_RV(verify(&m, p448, (const CK_BYTE *)"abc", 3, 0, sig2, n2), CKR_OK);
	/* Any parameter on Ed25519 asks for Ed25519ctx or Ed25519ph. */
	CHECK_RV(P11->C_SignInit(sess, &m, s25), CKR_MECHANISM_PARAM_INVALID);
	CHECK_RV(P11->C_VerifyInit(sess, &m, p25), CKR_MECHANISM_PARAM_INVALID);
	/* Ed448ph, Ed448 with a context: OpenSSL 3.0 has no "instance". */
	p.phFlag = CK_TRUE;
	CHECK_RV(P11->C_SignInit(sess, &m, s448), CKR_MECHANISM_PARAM_INVALID);
	p.phFlag = CK_FALSE;
	p.pContextData = ctx;
	p.ulContextDataLen = sizeof(ctx);
	CHECK_RV(P11->C_SignInit(sess, &m, s448), CKR_MECHANISM_PARAM_INVALID);
	CHECK_RV(P11->C_VerifyInit(sess, &m, p448), CKR_MECHANISM_PARAM_INVALID);
	/* Malformed parameters. */
	p.pContextData = NULL;
	CHECK_RV(P11->C_SignInit(sess, &m, s448), CKR_MECHANISM_PARAM_INVALID);
	p.ulContextDataLen = 0;
	m.ulParameterLen = sizeof(p) - 1;
	CHECK_RV(P11->C_SignInit(sess, &m, s448), CKR_MECHANISM_PARAM_INVALID);
	m.pParameter = NULL;
	m.ulParameterLen = sizeof(p);
	CHECK_RV(P11->C_SignInit(sess, &m, s448), CKR_MECHANISM_PARAM_INVALID);
}

static void test_eddsa_key_types_and_curves(void)
{
	static const CK_MECHANISM eddsa = { CKM_EDDSA, NULL, 0 }, ecdsa = { CKM_ECDSA, NULL, 0 };
	static const CK_BYTE bad_name[] = { 0x13, 0x07, 'e', 'd', '2', '5', '5', '1', '9' };
	static const CK_BYTE opensc_curve25519[] = { 0x13, 0x0b, 'c', 'u', 'r', 'v',
		                                     'e',  '2',  '5', '5', '1', '9' };
	static const CK_BYTE bad_len[] = { 0x13, 0x09, 'c', 'u', 'r', 'v', 'e', '4', '4', '8' };
	CK_BYTE pk[32];
	CK_MECHANISM gen = { CKM_EC_EDWARDS_KEY_PAIR_GEN, NULL, 0 };
	CK_OBJECT_HANDLE pub, priv, epub, epriv, xpub, xpriv;
	CK_ATTRIBUTE pt[] = { CH_T_ATTR(CKA_EC_PARAMS, oid_x25519, sizeof(oid_x25519)),
		              CH_T_BOOL(CKA_TOKEN, false) };
	CK_ATTRIBUTE st[] = { CH_T_BOOL(CKA_TOKEN, false), CH_T_BOOL(CKA_SIGN, true) };

	if (!CHECK_RV(gen_pair(CKM_EC_EDWARDS_KEY_PAIR_GEN, &ed25519, false, &pub, &priv),
	              CKR_OK) ||
	    !CHECK_RV(ch_t_gen_ec(sess, false, "p256", &epub, &epriv), CKR_OK) ||
	    !CHECK_RV(gen_pair(CKM_EC_MONTGOMERY_KEY_PAIR_GEN, &x25519, false, &xpub, &xpriv),
	              CKR_OK))
		return;
	CHECK_RV(P11->C_SignInit(sess, (CK_MECHANISM_PTR)&ecdsa, priv), CKR_KEY_TYPE_INCONSISTENT);
	CHECK_RV(P11->C_SignInit(sess, (CK_MECHANISM_PTR)&eddsa, epriv), CKR_KEY_TYPE_INCONSISTENT);
	CHECK_RV(P11->C_SignInit(sess, (CK_MECHANISM_PTR)&eddsa, xpriv), CKR_KEY_TYPE_INCONSISTENT);
	CHECK_RV(P11->C_SignInit(sess, (CK_MECHANISM_PTR)&eddsa, pub), CKR_KEY_TYPE_INCONSISTENT);
	/* A Montgomery curve for an Edwards key, an unknown name, P-256. */
	CHECK_RV(P11->C_GenerateKeyPair(sess, &gen, pt, 2, st, 2, &pub, &priv),
	         CKR_CURVE_NOT_SUPPORTED);
	pt[0].pValue = (CK_VOID_PTR)bad_name;
	pt[0].ulValueLen = sizeof(bad_name);
	CHECK_RV(P11->C_GenerateKeyPair(sess, &gen, pt, 2, st, 2, &pub, &priv),
	         CKR_CURVE_NOT_SUPPORTED);
	pt[0].pValue = (CK_VOID_PTR)oid_p256;
	pt[0].ulValueLen = sizeof(oid_p256);
	CHECK_RV(P11->C_GenerateKeyPair(sess, &gen, pt, 2, st, 2, &pub, &priv),
	         CKR_CURVE_NOT_SUPPORTED);
	gen.mechanism = CKM_EC_MONTGOMERY_KEY_PAIR_GEN;
	pt[0].pValue = (CK_VOID_PTR)oid_ed448;
	pt[0].ulValueLen = sizeof(oid_ed448);
	CHECK_RV(P11->C_GenerateKeyPair(sess, &gen, pt, 2, st, 2, &pub, &priv),
	         CKR_CURVE_NOT_SUPPORTED);
	/* OpenSC 0.23's malformed "curve25519" (length 11 for 10 bytes) is
	 * taken for X25519, and for nothing else; other malformed names are
	 * not. */
	pt[0].pValue = (CK_VOID_PTR)opensc_curve25519;
	pt[0].ulValueLen = sizeof(opensc_curve25519);
	if (CHECK_RV(P11->C_GenerateKeyPair(sess, &gen, pt, 2, st, 2, &pub, &priv), CKR_OK))
		CHECK(raw_public(pub, &x25519, pk));
	gen.mechanism = CKM_EC_EDWARDS_KEY_PAIR_GEN;
	CHECK_RV(P11->C_GenerateKeyPair(sess, &gen, pt, 2, st, 2, &pub, &priv),
	         CKR_ATTRIBUTE_VALUE_INVALID);
	gen.mechanism = CKM_EC_MONTGOMERY_KEY_PAIR_GEN;
	pt[0].pValue = (CK_VOID_PTR)bad_len;
	pt[0].ulValueLen = sizeof(bad_len);
	CHECK_RV(P11->C_GenerateKeyPair(sess, &gen, pt, 2, st, 2, &pub, &priv),
	         CKR_ATTRIBUTE_VALUE_INVALID);
}

/* The attributes of a generated key, as ch_mech_derive takes them. */
static ch_attrs *fetch_private(CK_OBJECT_HANDLE priv, const xcurve *c, bool by_name)
{
	ch_attrs *a = ch_attrs_new();
	CK_BYTE v[64];
	CK_ULONG n = sizeof(v);

	if (a == NULL || !CHECK_RV(ch_t_get(sess, priv, CKA_VALUE, v, &n), CKR_OK) ||
	    !CHECK_UL(n, c->bytes) || ch_attrs_set_ulong(a, CKA_CLASS, CKO_PRIVATE_KEY) != CKR_OK ||
	    ch_attrs_set_ulong(a, CKA_KEY_TYPE, CKK_EC_MONTGOMERY) != CKR_OK ||
	    ch_attrs_set_bool(a, CKA_DERIVE, true) != CKR_OK ||
	    ch_attrs_set(a, CKA_EC_PARAMS, by_name ? c->name : c->oid,
	                 by_name ? c->name_len : c->oid_len) != CKR_OK ||
	    ch_attrs_set(a, CKA_VALUE, v, n) != CKR_OK) {
		ch_attrs_free(a);
		a = NULL;
	}
	OPENSSL_cleanse(v, sizeof(v));
	return a;
}

/* Derives a generic secret of len bytes (0: no CKA_VALUE_LEN) from base
 * and the peer's point with kdf; the value into out. */
static CK_RV derive(CK_MECHANISM_TYPE mech, const ch_attrs *base, const CK_BYTE *pt, size_t pt_len,
                    CK_EC_KDF_TYPE kdf, CK_ULONG len, CK_BYTE *out, size_t *out_len)
{
	CK_BYTE info[5] = { 1, 2, 3, 4, 5 };
	CK_ECDH1_DERIVE_PARAMS p = { kdf, kdf == CKD_NULL ? 0 : sizeof(info),
		                     kdf == CKD_NULL ? NULL : info, (CK_ULONG)pt_len,
		                     (CK_BYTE_PTR)pt };
	CK_MECHANISM m = { mech, &p, sizeof(p) };
	ch_attrs *key = ch_attrs_new();
	const ch_attr *v;
	CK_RV rv = CKR_HOST_MEMORY;

	if (key == NULL || ch_attrs_set_ulong(key, CKA_CLASS, CKO_SECRET_KEY) != CKR_OK ||
	    ch_attrs_set_ulong(key, CKA_KEY_TYPE, CKK_GENERIC_SECRET) != CKR_OK ||
	    (len > 0 && ch_attrs_set_ulong(key, CKA_VALUE_LEN, len) != CKR_OK))
		goto out;
	if ((rv = ch_mech_derive(&m, base, key)) == CKR_OK) {
		v = ch_attrs_get(key, CKA_VALUE);
		if (v == NULL || v->len > 128) {
			rv = CKR_GENERAL_ERROR;
			goto out;
		}
		memcpy(out, v->value, v->len);
		*out_len = v->len;
	}
out:
	ch_attrs_free(key);
	return rv;
}

static void xdh_round_trip(const xcurve *c)
{
	CK_OBJECT_HANDLE apub, apriv, bpub, bpriv;
	ch_attrs *a = NULL, *b = NULL;
	CK_BYTE apk[57], bpk[57], wrapped[60], s1[128], s2[128];
	size_t n1 = 0, n2 = 0;

	if (!CHECK_RV(gen_pair(CKM_EC_MONTGOMERY_KEY_PAIR_GEN, c, false, &apub, &apriv), CKR_OK) ||
	    !CHECK_RV(gen_pair(CKM_EC_MONTGOMERY_KEY_PAIR_GEN, c, true, &bpub, &bpriv), CKR_OK) ||
	    !raw_public(apub, c, apk) || !raw_public(bpub, c, bpk))
		return;
	a = fetch_private(apriv, c, false);
	b = fetch_private(bpriv, c, true);
	if (!CHECK(a != NULL && b != NULL))
		goto out;
	/* Both ways, bare and wrapped public data, with and without a KDF. */
	CHECK_RV(derive(CKM_ECDH1_DERIVE, a, bpk, c->bytes, CKD_NULL, 0, s1, &n1), CKR_OK);
	wrapped[0] = 0x04;
	wrapped[1] = (CK_BYTE)c->bytes;
	memcpy(wrapped + 2, apk, c->bytes);
	CHECK_RV(derive(CKM_ECDH1_DERIVE, b, wrapped, c->bytes + 2, CKD_NULL, 0, s2, &n2), CKR_OK);
	CHECK(n1 == c->bytes && n2 == n1 && memcmp(s1, s2, n1) == 0);
	CHECK_RV(derive(CKM_ECDH1_DERIVE, a, bpk, c->bytes, CKD_SHA256_KDF, 40, s1, &n1), CKR_OK);
	CHECK_RV(derive(CKM_ECDH1_DERIVE, b, apk, c->bytes, CKD_SHA256_KDF, 40, s2, &n2), CKR_OK);
	CHECK(n1 == 40 && n2 == 40 && memcmp(s1, s2, n1) == 0);
	/* The cofactor variant is for prime curves; wrong lengths are
	 * another curve's points. */
	CHECK_RV(derive(CKM_ECDH1_COFACTOR_DERIVE, a, bpk, c->bytes, CKD_NULL, 0, s1, &n1),
	         CKR_KEY_TYPE_INCONSISTENT);
	CHECK_RV(derive(CKM_ECDH1_DERIVE, a, bpk, c->bytes - 1, CKD_NULL, 0, s1, &n1),
	         CKR_MECHANISM_PARAM_INVALID);
	CHECK_RV(derive(CKM_ECDH1_DERIVE, a, wrapped, c->bytes + 1, CKD_NULL, 0, s1, &n1),
	         CKR_MECHANISM_PARAM_INVALID);
	/* The all-zero point is of low order: the secret would be zero. */
	memset(bpk, 0, sizeof(bpk));
	CHECK_RV(derive(CKM_ECDH1_DERIVE, a, bpk, c->bytes, CKD_NULL, 0, s1, &n1),
	         CKR_MECHANISM_PARAM_INVALID);
out:
	ch_attrs_free(a);
	ch_attrs_free(b);
}

static void test_xdh_generate_and_derive_both_ways(void)
{
	xdh_round_trip(&x25519);
	xdh_round_trip(&x448);
}

/* PKCS#8 through ch_key_export / ch_key_import keeps the key. */
static void pkcs8_round_trip(CK_KEY_TYPE kt, const xcurve *c)
{
	CK_BYTE seed[57];
	ch_attrs *k = ch_attrs_new(), *k2 = ch_attrs_new();
	const ch_attr *v, *prm;
	CK_BYTE *der = NULL;
	CK_ULONG der_len = 0;

	if (!CHECK(k != NULL && k2 != NULL))
		goto out;
	CHECK_RV(P11->C_GenerateRandom(sess, seed, c->bytes), CKR_OK);
	CHECK_RV(ch_attrs_set_ulong(k, CKA_CLASS, CKO_PRIVATE_KEY), CKR_OK);
	CHECK_RV(ch_attrs_set_ulong(k, CKA_KEY_TYPE, kt), CKR_OK);
	CHECK_RV(ch_attrs_set(k, CKA_EC_PARAMS, c->name, c->name_len), CKR_OK);
	CHECK_RV(ch_attrs_set(k, CKA_VALUE, seed, c->bytes), CKR_OK);
	CHECK_RV(ch_attrs_set_ulong(k2, CKA_CLASS, CKO_PRIVATE_KEY), CKR_OK);
	CHECK_RV(ch_attrs_set_ulong(k2, CKA_KEY_TYPE, kt), CKR_OK);
	if (!CHECK_RV(ch_key_export(k, &der, &der_len), CKR_OK))
		goto out;
	CHECK_RV(ch_key_import(k2, der, der_len), CKR_OK);
	v = ch_attrs_get(k2, CKA_VALUE);
	prm = ch_attrs_get(k2, CKA_EC_PARAMS);
	CHECK(v != NULL && v->len == c->bytes && memcmp(v->value, seed, c->bytes) == 0);
	CHECK(prm != NULL && prm->len == c->oid_len && memcmp(prm->value, c->oid, c->oid_len) == 0);
	/* Not importable as the other key type. */
	CHECK_RV(ch_attrs_set_ulong(k2, CKA_KEY_TYPE,
	                            kt == CKK_EC_EDWARDS ? CKK_EC_MONTGOMERY : CKK_EC_EDWARDS),
	         CKR_OK);
	CHECK_RV(ch_key_import(k2, der, der_len), CKR_WRAPPED_KEY_INVALID);
	CHECK_RV(ch_attrs_set_ulong(k2, CKA_KEY_TYPE, CKK_EC), CKR_OK);
	CHECK_RV(ch_key_import(k2, der, der_len), CKR_WRAPPED_KEY_INVALID);
out:
	OPENSSL_clear_free(der, der_len);
	ch_attrs_free(k);
	ch_attrs_free(k2);
}

static void test_ecx_pkcs8_encodings(void)
{
	pkcs8_round_trip(CKK_EC_EDWARDS, &ed25519);
	pkcs8_round_trip(CKK_EC_EDWARDS, &ed448);
	pkcs8_round_trip(CKK_EC_MONTGOMERY, &x25519);
	pkcs8_round_trip(CKK_EC_MONTGOMERY, &x448);
}

static void test_edwards_mechanism_info(void)
{
	static const struct {
		CK_MECHANISM_TYPE type;
		CK_ULONG min, max;
		CK_FLAGS flags;
	} want[] = {
		{ CKM_EC_EDWARDS_KEY_PAIR_GEN, 255, 448, CKF_GENERATE_KEY_PAIR },
		{ CKM_EC_MONTGOMERY_KEY_PAIR_GEN, 255, 448, CKF_GENERATE_KEY_PAIR },
		{ CKM_EDDSA, 255, 448, CKF_SIGN | CKF_VERIFY },
	};
	CK_MECHANISM_INFO info;

	for (size_t i = 0; i < CH_T_ARRAY_LEN(want); i++) {
		if (!CHECK_RV(P11->C_GetMechanismInfo(slot, want[i].type, &info), CKR_OK))
			continue;
		CHECK_UL(info.ulMinKeySize, want[i].min);
		CHECK_UL(info.ulMaxKeySize, want[i].max);
		CHECK_UL(info.flags, want[i].flags | CKF_EC_F_P | CKF_EC_OID | CKF_EC_CURVENAME);
	}
}

int main(void)
{
	ch_t_env env;

	if (CHECK(ch_t_setup(&env)) && CHECK_RV(ch_t_user_session(&env, true, &sess), CKR_OK)) {
		slot = env.slot;
		test_edwards_mechanism_info();
		test_eddsa_generate_sign_verify_every_curve();
		test_eddsa_buffer_convention();
		test_eddsa_rfc8032_known_answers();
		test_eddsa_params_only_pure_variants();
		test_eddsa_key_types_and_curves();
		test_xdh_generate_and_derive_both_ways();
		test_ecx_pkcs8_encodings();
	}
	ch_t_env_free(&env);
	return ch_test_done();
}
