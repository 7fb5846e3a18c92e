/*
 * rsa_util.h: what the RSA tests (test_mech_rsa.c, test_wycheproof_rsa.c)
 * share: RSA keys imported through C_CreateObject from their components,
 * the single-call sign / verify / encrypt / decrypt sequences, the
 * PKCS#11 names of Wycheproof's hash names, DER DigestInfo prefixes, PSS
 * and OAEP parameters, and the fixture of test_mech_rsa*.c (a token, a
 * session and a 2048-bit key imported three ways).
 *
 * Header-only and static inline, like module.h: each test is one
 * executable.  Include module.h and vectors.h first.
 */
#ifndef CH_TESTS_RSA_UTIL_H
#define CH_TESTS_RSA_UTIL_H

#include <string.h>

#include <openssl/evp.h>

#include "module.h"
#include "vectors.h"

/* The components of an RSA key, big-endian without leading zeros:
 * v[0] n, v[1] e, v[2] d, v[3] p, v[4] q, v[5] dP, v[6] dQ, v[7] qInv.
 * count is 2 (public), 3 (private without CRT) or 8. */
enum { RT_N, RT_E, RT_D, RT_P, RT_Q, RT_DP, RT_DQ, RT_QINV, RT_PARTS };

typedef struct rt_key {
	vec_bytes v[RT_PARTS];
	size_t count;
} rt_key;

static const CK_ATTRIBUTE_TYPE rt_attr_types[RT_PARTS] = {
	CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_PRIVATE_EXPONENT, CKA_PRIME_1,
	CKA_PRIME_2, CKA_EXPONENT_1,      CKA_EXPONENT_2,       CKA_COEFFICIENT,
};

/* Wycheproof's member names for them. */
static const char *const rt_json_names[RT_PARTS] = {
	"modulus", "publicExponent", "privateExponent", "prime1",
	"prime2",  "exponent1",      "exponent2",       "coefficient",
};

/* Drops leading zero bytes (Wycheproof's integers are two's complement). */
static inline void rt_strip(vec_bytes *b)
{
	size_t i = 0;

	while (i + 1 < b->len && b->p[i] == 0)
		i++;
	if (i > 0) {
		memmove(b->p, b->p + i, b->len - i);
		b->len -= i;
	}
}

static inline void rt_key_free(rt_key *k)
{
	for (size_t i = 0; i < RT_PARTS; i++)
		vec_bytes_free(&k->v[i]);
	k->count = 0;
}

/* Reads the first count components from a Wycheproof publicKey or
 * privateKey object.  False (and a message) when one is missing. */
static inline bool rt_key_from_json(const json_t *obj, size_t count, rt_key *k)
{
	memset(k, 0, sizeof(*k));
	for (size_t i = 0; i < count; i++) {
		if (!vec_hex(obj, rt_json_names[i], &k->v[i])) {
			rt_key_free(k);
			return false;
		}
		rt_strip(&k->v[i]);
	}
	k->count = count;
	return true;
}

/* Usage flags for the imported keys. */
#define RT_SIGN  0x1u /* CKA_SIGN / CKA_VERIFY */
#define RT_CRYPT 0x2u /* CKA_DECRYPT / CKA_ENCRYPT */
#define RT_WRAP  0x4u /* CKA_UNWRAP / CKA_WRAP */

/* Imports the public half of k (a session object). */
static inline CK_RV rt_create_public(CK_SESSION_HANDLE h, const rt_key *k, unsigned use,
                                     CK_OBJECT_HANDLE *o)
{
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_KEY_TYPE kt = CKK_RSA;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),
		CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_ATTR(CKA_MODULUS, k->v[RT_N].p, k->v[RT_N].len),
		CH_T_ATTR(CKA_PUBLIC_EXPONENT, k->v[RT_E].p, k->v[RT_E].len),
		CH_T_BOOL(CKA_VERIFY, use & RT_SIGN),
		CH_T_BOOL(CKA_ENCRYPT, use & RT_CRYPT),
		CH_T_BOOL(CKA_WRAP, use & RT_WRAP),
	};

	return P11->C_CreateObject(h, t, CH_T_ARRAY_LEN(t), o);
}

/* Imports k as a private key with its first parts components (3: no CRT,
 * 8: all of them). */
static inline CK_RV rt_create_private(CK_SESSION_HANDLE h, const rt_key *k, size_t parts,
                                      unsigned use, CK_OBJECT_HANDLE *o)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = CKK_RSA;
	CK_ATTRIBUTE t[6 + RT_PARTS] = {
		CH_T_ULONG(CKA_CLASS, &cls),
		CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_BOOL(CKA_PRIVATE, false),
		CH_T_BOOL(CKA_SIGN, use & RT_SIGN),
		CH_T_BOOL(CKA_DECRYPT, use & RT_CRYPT),
		CH_T_BOOL(CKA_UNWRAP, use & RT_WRAP),
	};
	CK_ULONG n = 6;

	for (size_t i = 0; i < parts && i < k->count; i++) {
		CK_ATTRIBUTE a = CH_T_ATTR(rt_attr_types[i], k->v[i].p, k->v[i].len);

		t[n++] = a;
	}
	return P11->C_CreateObject(h, t, n, o);
}

/* C_SignInit + C_Sign into sig (*sig_len bytes of room). */
static inline CK_RV rt_sign(CK_SESSION_HANDLE h, const CK_MECHANISM *m, CK_OBJECT_HANDLE key,
                            const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *sig, CK_ULONG *sig_len)
{
	CK_RV rv = P11->C_SignInit(h, (CK_MECHANISM_PTR)m, key);

	if (rv != CKR_OK)
		return rv;
	return P11->C_Sign(h, (CK_BYTE_PTR)in, in_len, sig, sig_len);
}

/* C_VerifyInit + C_Verify; an init failure is returned as is. */
static inline CK_RV rt_verify(CK_SESSION_HANDLE h, const CK_MECHANISM *m, CK_OBJECT_HANDLE key,
                              const CK_BYTE *in, CK_ULONG in_len, const CK_BYTE *sig,
                              CK_ULONG sig_len)
{
	CK_RV rv = P11->C_VerifyInit(h, (CK_MECHANISM_PTR)m, key);

	if (rv != CKR_OK)
		return rv;
	return P11->C_Verify(h, (CK_BYTE_PTR)in, in_len, (CK_BYTE_PTR)sig, sig_len);
}

static inline CK_RV rt_encrypt(CK_SESSION_HANDLE h, const CK_MECHANISM *m, CK_OBJECT_HANDLE key,
                               const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	CK_RV rv = P11->C_EncryptInit(h, (CK_MECHANISM_PTR)m, key);

	if (rv != CKR_OK)
		return rv;
	return P11->C_Encrypt(h, (CK_BYTE_PTR)in, in_len, out, out_len);
}

static inline CK_RV rt_decrypt(CK_SESSION_HANDLE h, const CK_MECHANISM *m, CK_OBJECT_HANDLE key,
                               const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	CK_RV rv = P11->C_DecryptInit(h, (CK_MECHANISM_PTR)m, key);

	if (rv != CKR_OK)
		return rv;
	return P11->C_Decrypt(h, (CK_BYTE_PTR)in, in_len, out, out_len);
}

/* A hash by its Wycheproof name ("SHA-256", "SHA3-256" ...): the PKCS#11
 * hash mechanism, MGF1 generator, PKCS#1 v1.5 and PSS signing mechanisms,
 * OpenSSL's name, and the DER DigestInfo prefix (RFC 8017 section 9.2,
 * note 1; NIST CSOR for the SHA-3 OIDs). */
typedef struct rt_hash {
	const char *name;
	CK_MECHANISM_TYPE mech;
	CK_ULONG mgf;
	CK_MECHANISM_TYPE pkcs1, pss;
	const char *ossl;
	size_t size;
	CK_BYTE prefix[19];
} rt_hash;

/* clang-format off */
#define RT_DI(oid_last, len) {0x30, 0x11 + (len), 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, \
                              0x65, 0x03, 0x04, 0x02, (oid_last), 0x05, 0x00, 0x04, (len)}
/* clang-format on */

static const rt_hash rt_hashes[] = {
	{ "SHA-1",
	  CKM_SHA_1,
	  CKG_MGF1_SHA1,
	  CKM_SHA1_RSA_PKCS,
	  CKM_SHA1_RSA_PKCS_PSS,
	  "SHA1",
	  20,
	  /* SHA-1's OID is shorter: 1.3.14.3.2.26, 15 bytes of prefix */
	  { 0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
	    0x14 } },
	{ "SHA-224", CKM_SHA224, CKG_MGF1_SHA224, CKM_SHA224_RSA_PKCS, CKM_SHA224_RSA_PKCS_PSS,
	  "SHA2-224", 28, RT_DI(0x04, 28) },
	{ "SHA-256", CKM_SHA256, CKG_MGF1_SHA256, CKM_SHA256_RSA_PKCS, CKM_SHA256_RSA_PKCS_PSS,
	  "SHA2-256", 32, RT_DI(0x01, 32) },
	{ "SHA-384", CKM_SHA384, CKG_MGF1_SHA384, CKM_SHA384_RSA_PKCS, CKM_SHA384_RSA_PKCS_PSS,
	  "SHA2-384", 48, RT_DI(0x02, 48) },
	{ "SHA-512", CKM_SHA512, CKG_MGF1_SHA512, CKM_SHA512_RSA_PKCS, CKM_SHA512_RSA_PKCS_PSS,
	  "SHA2-512", 64, RT_DI(0x03, 64) },
	{ "SHA3-224", CKM_SHA3_224, CKG_MGF1_SHA3_224, CKM_SHA3_224_RSA_PKCS,
	  CKM_SHA3_224_RSA_PKCS_PSS, "SHA3-224", 28, RT_DI(0x07, 28) },
	{ "SHA3-256", CKM_SHA3_256, CKG_MGF1_SHA3_256, CKM_SHA3_256_RSA_PKCS,
	  CKM_SHA3_256_RSA_PKCS_PSS, "SHA3-256", 32, RT_DI(0x08, 32) },
	{ "SHA3-384", CKM_SHA3_384, CKG_MGF1_SHA3_384, CKM_SHA3_384_RSA_PKCS,
	  CKM_SHA3_384_RSA_PKCS_PSS, "SHA3-384", 48, RT_DI(0x09, 48) },
	{ "SHA3-512", CKM_SHA3_512, CKG_MGF1_SHA3_512, CKM_SHA3_512_RSA_PKCS,
	  CKM_SHA3_512_RSA_PKCS_PSS, "SHA3-512", 64, RT_DI(0x0a, 64) },
};

#define RT_HASHES CH_T_ARRAY_LEN(rt_hashes)

static inline const rt_hash *rt_hash_by_name(const char *name)
{
	for (size_t i = 0; i < RT_HASHES; i++)
		if (strcmp(rt_hashes[i].name, name) == 0)
			return &rt_hashes[i];
	return NULL;
}

/* Length of a DigestInfo prefix (SHA-1's is 15 bytes, the others 19). */
static inline size_t rt_prefix_len(const rt_hash *hh)
{
	return hh->mech == CKM_SHA_1 ? 15 : 19;
}

/* The digest alone (for CKM_RSA_PKCS_PSS), into out (64 bytes room);
 * returns its length, 0 on failure.  Test glue, with OpenSSL. */
static inline size_t rt_digest(const rt_hash *hh, const CK_BYTE *msg, size_t len, CK_BYTE *out)
{
	EVP_MD *md = EVP_MD_fetch(NULL, hh->ossl, NULL);
	unsigned int n = 0;

	if (md == NULL || EVP_Digest(msg, len, out, &n, md, NULL) != 1)
		n = 0;
	EVP_MD_free(md);
	return n;
}

/* The DER DigestInfo of msg under hh into out (at least 19 + 64 bytes);
 * returns its length, 0 on failure.  Test glue, with OpenSSL. */
static inline size_t rt_digest_info(const rt_hash *hh, const CK_BYTE *msg, size_t len, CK_BYTE *out)
{
	size_t pl = rt_prefix_len(hh);
	unsigned int n = 0;

	memcpy(out, hh->prefix, pl);
	n = (unsigned int)rt_digest(hh, msg, len, out + pl);
	return n == hh->size ? pl + n : 0;
}

/* The modulus length of the 2048-bit fixture key, in bytes, and room
 * for anything an 8192-bit key produces. */
#define RT_KB  256
#define RT_BUF 1024

static const CK_BYTE rt_msg[] __attribute__((unused)) =
        "The quick brown fox jumps over the lazy dog";
#define RT_MSG_LEN (sizeof(rt_msg) - 1)

/* A test's world (rt_fx_open): a token, a user session, the imported 2048-bit key
 * (pub: verify + encrypt; priv: sign + decrypt, with CRT; plain: the same
 * without CRT). */
typedef struct rt_fx {
	ch_t_env e;
	CK_SESSION_HANDLE h;
	rt_key k;
	CK_OBJECT_HANDLE pub, priv, plain;
} rt_fx;

/* Loads the first key of a Wycheproof file's privateKey objects. */
static inline bool rt_load_key(const char *file, rt_key *k)
{
	char rel[256];
	json_t *root;
	bool ok;

	snprintf(rel, sizeof(rel), "wycheproof/testvectors_v1/%s", file);
	if ((root = vec_load(rel)) == NULL)
		return false;
	ok = rt_key_from_json(
	        json_object_get(json_array_get(json_object_get(root, "testGroups"), 0),
	                        "privateKey"),
	        RT_PARTS, k);
	json_decref(root);
	return ok;
}

static inline bool rt_fx_open(rt_fx *f)
{
	memset(f, 0, sizeof(*f));
	if (!CHECK(ch_t_setup(&f->e)) || !CHECK_RV(ch_t_user_session(&f->e, true, &f->h), CKR_OK) ||
	    !CHECK(rt_load_key("rsa_pkcs1_2048_test.json", &f->k)) ||
	    !CHECK_UL(f->k.v[RT_N].len, RT_KB))
		return false;
	return CHECK_RV(rt_create_public(f->h, &f->k, RT_SIGN | RT_CRYPT, &f->pub), CKR_OK) &&
	       CHECK_RV(rt_create_private(f->h, &f->k, RT_PARTS, RT_SIGN | RT_CRYPT, &f->priv),
	                CKR_OK) &&
	       CHECK_RV(rt_create_private(f->h, &f->k, 3, RT_SIGN | RT_CRYPT, &f->plain), CKR_OK);
}

static inline void rt_fx_close(rt_fx *f)
{
	rt_key_free(&f->k);
	ch_t_env_free(&f->e);
}

/* The mechanism with a PSS parameter of hash hh and salt = digest size. */
static inline void rt_pss_mech(CK_MECHANISM *m, CK_RSA_PKCS_PSS_PARAMS *p, CK_MECHANISM_TYPE type,
                               const rt_hash *hh, CK_ULONG salt)
{
	p->hashAlg = hh->mech;
	p->mgf = hh->mgf;
	p->sLen = salt;
	m->mechanism = type;
	m->pParameter = p;
	m->ulParameterLen = sizeof(*p);
}

static inline void rt_oaep_mech(CK_MECHANISM *m, CK_RSA_PKCS_OAEP_PARAMS *p, const rt_hash *hh,
                                const rt_hash *mgf, const void *label, CK_ULONG label_len)
{
	p->hashAlg = hh->mech;
	p->mgf = mgf->mgf;
	p->source = CKZ_DATA_SPECIFIED;
	p->pSourceData = (CK_VOID_PTR)label;
	p->ulSourceDataLen = label_len;
	m->mechanism = CKM_RSA_PKCS_OAEP;
	m->pParameter = p;
	m->ulParameterLen = sizeof(*p);
}

#endif /* CH_TESTS_RSA_UTIL_H */
