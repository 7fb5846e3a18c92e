/*
 * Key derivation: HKDF (CKM_HKDF_DERIVE, CKM_HKDF_DATA, CKM_HKDF_KEY_GEN),
 * PBKDF2 (CKM_PKCS5_PBKD2, a key generator) and the NIST SP 800-108 KDFs
 * in counter and feedback mode (CKM_SP800_108_COUNTER_KDF,
 * CKM_SP800_108_FEEDBACK_KDF), after the PKCS#11 3.0 mechanisms sections
 * "HKDF Mechanisms", "PKCS #5 and PKCS #5-style password-based encryption"
 * and "SP800-108 Key Derivation", over OpenSSL's EVP_KDF "HKDF", "PBKDF2"
 * and "KBKDF", fetched once per process.
 *
 * The length of what is derived or generated is the new key's
 * CKA_VALUE_LEN, or the fixed length of its key type (CKK_CHACHA20: 32);
 * CKK_AES needs CKA_VALUE_LEN 16, 24 or 32.  Without it the answer is
 * CKR_TEMPLATE_INCOMPLETE.  The hooks write CKA_VALUE only: the
 * sensitivity rules of derived keys (CKA_ALWAYS_SENSITIVE and
 * CKA_NEVER_EXTRACTABLE from the base key, and for SP 800-108 the base
 * key's CKA_SENSITIVE and CKA_EXTRACTABLE as defaults) are the backend's.
 *
 * HKDF: base key CKK_HKDF or CKK_GENERIC_SECRET (the spec's two; other
 * secret key types are refused), of any length: the spec's sentence that
 * it "must be the size of the underlying hash" is not enforced, since
 * RFC 5869 (and Wycheproof) take input keying material of any length.  A
 * data object as the input key, which the spec also allows, is not
 * supported (the driver takes secret keys only).  bExtract and bExpand
 * choose OpenSSL's mode; extract only gives the PRK, hash-size bytes, and
 * a CKA_VALUE_LEN of anything else is CKR_TEMPLATE_INCONSISTENT; expand
 * makes at most 255 * hash size bytes (RFC 5869), more is
 * CKR_KEY_SIZE_RANGE.  The salt is ignored without bExtract and the info
 * without bExpand, as the spec says.  Salt CKF_HKDF_SALT_NULL or
 * CKF_HKDF_SALT_DATA (an empty salt equals no salt, as in RFC 5869);
 * CKF_HKDF_SALT_KEY names a key by handle, which the backend resolves into
 * CKF_HKDF_SALT_DATA before this hook runs (soft_keys.c), so here it is
 * CKR_MECHANISM_PARAM_INVALID.  pInfo longer than 1024 bytes (OpenSSL 3.0's
 * limit) is CKR_MECHANISM_PARAM_INVALID.  CKM_HKDF_DATA is the same into a
 * CKO_DATA object, whose length the backend passes as CKA_VALUE_LEN.
 *
 * PBKDF2: CK_PKCS5_PBKD2_PARAMS2 only (3.0, ulPasswordLen by value).  The
 * 2.20 CK_PKCS5_PBKD2_PARAMS has the same size on LP64 targets, so the two
 * cannot be told apart by ulParameterLen; a 2.20 caller's pointer read as
 * a length is far above PBKDF2_PASSWORD_MAX and is refused as
 * CKR_MECHANISM_PARAM_INVALID instead of being read.  Salt source
 * CKZ_SALT_SPECIFIED; PRFs HMAC-SHA-1, -SHA-224, -SHA-256, -SHA-384,
 * -SHA-512, -SHA-512/224, -SHA-512/256, with no pPrfData (GOST is not
 * offered).  The new key's CKA_KEY_TYPE comes from the template (any
 * secret key type).
 *
 * SP 800-108: what OpenSSL 3.0's KBKDF computes, and no more.  Its PRF
 * input is, per block i, [K(i-1) in feedback mode] || [i]_32 || fixed ||
 * [L]_32, with i a 32-bit big-endian counter starting at 1 and L the
 * output length in bits, 32-bit big-endian.  So the data parameters must
 * be, in this order:
 *   counter mode:  CK_SP800_108_ITERATION_VARIABLE with a
 *                  CK_SP800_108_COUNTER_FORMAT {big endian, 32 bits};
 *   feedback mode: CK_SP800_108_ITERATION_VARIABLE (no value), then
 *                  CK_SP800_108_COUNTER {big endian, 32 bits}, and an IV
 *                  (K(0)) that is empty or of the PRF's output size;
 *   then any number of non-empty CK_SP800_108_BYTE_ARRAY (concatenated:
 *   the fixed input), then at most one CK_SP800_108_DKM_LENGTH, last, with
 *   {CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS, big endian, 32 bits}.
 * Anything else (little-endian or 8/16/24-bit counters, byte arrays
 * before the counter, a feedback mode without a counter, the DKM length
 * elsewhere or summing segments, a feedback IV of another length, key
 * handles as data, additional derived keys, the double-pipeline mode) is
 * CKR_MECHANISM_PARAM_INVALID.  PRFs: CKM_<hash>_HMAC for the hashes of
 * mech_hmac.c (base key CKK_GENERIC_SECRET or that hash's CKK_<hash>_HMAC)
 * and CKM_AES_CMAC (base key CKK_AES, 16, 24 or 32 bytes).
 *
 * Mechanism info sizes: the SP 800-108 mechanisms report base key bits,
 * as their section of the spec says (8 to KDF_KEY_MAX * 8 over every PRF;
 * CMAC takes only AES keys of 128, 192 or 256 bits); the HKDF derive
 * mechanisms base key bytes; the generators the generated key's bytes.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "mech_impl.h"

#define KDF_KEY_MAX         16384             /* base key bytes */
#define KDF_OUT_MAX         16384             /* derived bytes (HKDF-SHA-512 gives at most 16320) */
#define GEN_MAX             CH_RANDOM_KEY_MAX /* generated key bytes */
#define HKDF_INFO_MAX       1024              /* OpenSSL 3.0's HKDF info limit */
#define PBKDF2_PASSWORD_MAX 4096
#define KBKDF_FIXED_MAX     65536 /* bytes of fixed input (the byte arrays together) */

/* The KDFs, fetched once and never freed. */
enum { KDF_HKDF, KDF_PBKDF2, KDF_KBKDF, KDFS };

static const char *const kdf_names[KDFS] = {
	[KDF_HKDF] = "HKDF",
	[KDF_PBKDF2] = "PBKDF2",
	[KDF_KBKDF] = "KBKDF",
};

static pthread_once_t kdf_once = PTHREAD_ONCE_INIT;
static EVP_KDF *kdfs[KDFS];

static void kdf_fetch(void)
{
	for (size_t i = 0; i < KDFS; i++)
		kdfs[i] = EVP_KDF_fetch(NULL, kdf_names[i], NULL);
}

static EVP_KDF *kdf_get(int id)
{
	if (pthread_once(&kdf_once, kdf_fetch) != 0)
		return NULL;
	return kdfs[id];
}

/* Runs a fetched KDF with prm into out (len bytes).  CKR_OK,
 * CKR_HOST_MEMORY, CKR_GENERAL_ERROR (no such KDF) or CKR_FUNCTION_FAILED. */
static CK_RV kdf_run(int id, const OSSL_PARAM *prm, CK_BYTE *out, size_t len)
{
	EVP_KDF *kdf = kdf_get(id);
	EVP_KDF_CTX *ctx = NULL;
	CK_RV rv = CKR_GENERAL_ERROR;

	if (kdf == NULL)
		goto out;
	rv = CKR_HOST_MEMORY;
	if ((ctx = EVP_KDF_CTX_new(kdf)) == NULL)
		goto out;
	rv = CKR_FUNCTION_FAILED;
	if (EVP_KDF_derive(ctx, out, len, prm) != 1)
		goto out;
	rv = CKR_OK;
out:
	EVP_KDF_CTX_free(ctx);
	return rv;
}

/* The number of bytes to make for key: its CKA_VALUE_LEN, or the fixed
 * length of its key type.  CKR_OK, CKR_TEMPLATE_INCOMPLETE (no length),
 * CKR_ATTRIBUTE_VALUE_INVALID (a length the key type cannot have). */
static CK_RV out_length(const ch_attrs *key, CK_ULONG *len)
{
	bool given = ch_attrs_get(key, CKA_VALUE_LEN) != NULL;
	CK_ULONG kt = CK_UNAVAILABLE_INFORMATION, n = 0;

	if (given && !ch_attrs_ulong(key, CKA_VALUE_LEN, &n))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	(void)ch_attrs_ulong(key, CKA_KEY_TYPE, &kt);
	switch (kt) {
	case CKK_CHACHA20:
		if (given && n != 32)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		n = 32;
		break;
	case CKK_AES:
		if (!given)
			return CKR_TEMPLATE_INCOMPLETE;
		if (n != 16 && n != 24 && n != 32)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		break;
	default:
		if (!given)
			return CKR_TEMPLATE_INCOMPLETE;
		if (n == 0)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		break;
	}
	*len = n;
	return CKR_OK;
}

/* The base key's value, 1 to KDF_KEY_MAX bytes. */
static CK_RV base_value(const ch_attrs *base, const ch_attr **v)
{
	*v = ch_attrs_get(base, CKA_VALUE);
	if (*v == NULL || (*v)->value == NULL)
		return CKR_KEY_TYPE_INCONSISTENT;
	if ((*v)->len < 1 || (*v)->len > KDF_KEY_MAX)
		return CKR_KEY_SIZE_RANGE;
	return CKR_OK;
}

/* Makes len bytes with the KDF and stores them as key's CKA_VALUE. */
static CK_RV kdf_to_key(int id, const OSSL_PARAM *prm, CK_ULONG len, ch_attrs *key)
{
	CK_BYTE *out = NULL;
	CK_RV rv = CKR_HOST_MEMORY;

	if ((out = OPENSSL_malloc(len)) == NULL)
		goto out;
	if ((rv = kdf_run(id, prm, out, len)) != CKR_OK)
		goto out;
	rv = ch_attrs_set(key, CKA_VALUE, out, len);
out:
	OPENSSL_clear_free(out, len);
	return rv;
}

/* A pointer OpenSSL accepts for an octet string of length 0. */
static void *octets(const void *p, CK_ULONG len)
{
	return len > 0 ? (void *)p : (void *)"";
}

/* ---------------------------------------------------------------------- */
/* Key generation: CKM_HKDF_KEY_GEN                                        */
/* ---------------------------------------------------------------------- */

/* CKA_VALUE_LEN bytes (1 to GEN_MAX) of fresh key. */
static CK_RV hkdf_generate_key(const ch_mech *row, const CK_MECHANISM *m, ch_attrs *key)
{
	return ch_mech_random_key(m, key, 1, GEN_MAX, 1, 0);
}

static const ch_mech_ops hkdf_keygen_ops = {
	.generate_key = hkdf_generate_key,
};

/* ---------------------------------------------------------------------- */
/* HKDF                                                                    */
/* ---------------------------------------------------------------------- */

static bool hkdf_key_type_ok(const ch_mech *row, CK_KEY_TYPE kt)
{
	(void)row;
	return kt == CKK_HKDF || kt == CKK_GENERIC_SECRET;
}

/* The output length of an HKDF run for key. */
static CK_RV hkdf_length(const CK_HKDF_PARAMS *p, size_t hlen, const ch_attrs *key, CK_ULONG *len)
{
	CK_ULONG n;
	CK_RV rv;

	if (!p->bExpand) {
		/* Extract only: the PRK, exactly the hash size. */
		if (ch_attrs_get(key, CKA_VALUE_LEN) != NULL) {
			if ((rv = out_length(key, &n)) != CKR_OK)
				return rv;
			if (n != hlen)
				return CKR_TEMPLATE_INCONSISTENT;
		}
		*len = hlen;
		return CKR_OK;
	}
	if ((rv = out_length(key, &n)) != CKR_OK)
		return rv;
	if (n > 255 * hlen)
		return CKR_KEY_SIZE_RANGE;
	*len = n;
	return CKR_OK;
}

/* C_DeriveKey with CKM_HKDF_DERIVE. */
static CK_RV hkdf_derive(const ch_mech *row, const CK_MECHANISM *m, const ch_attrs *base,
                         ch_attrs *key)
{
	const CK_HKDF_PARAMS *p = m->pParameter;
	const ch_attr *v;
	const EVP_MD *md;
	ch_md_id id;
	OSSL_PARAM prm[6], *q = prm;
	CK_ULONG len = 0;
	int mode;
	CK_RV rv = CKR_MECHANISM_PARAM_INVALID;

	(void)row;
	if (p == NULL || m->ulParameterLen != sizeof(*p))
		goto out;
	if (!p->bExtract && !p->bExpand)
		goto out;
	if ((id = ch_md_from_mech(p->prfHashMechanism)) == CH_MD_NONE)
		goto out;
	if (p->bExtract) {
		if (p->ulSaltType == CKF_HKDF_SALT_DATA) {
			if (p->pSalt == NULL && p->ulSaltLen > 0)
				goto out;
		} else if (p->ulSaltType != CKF_HKDF_SALT_NULL) {
			goto out; /* CKF_HKDF_SALT_KEY included: see the top */
		}
	}
	if (p->bExpand && ((p->pInfo == NULL && p->ulInfoLen > 0) || p->ulInfoLen > HKDF_INFO_MAX))
		goto out;
	if ((rv = hkdf_length(p, ch_md_size(id), key, &len)) != CKR_OK)
		goto out;
	if ((rv = base_value(base, &v)) != CKR_OK)
		goto out;
	rv = CKR_GENERAL_ERROR;
	if ((md = ch_mech_md(id)) == NULL)
		goto out;

	mode = p->bExtract && p->bExpand ? EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND
	       : p->bExtract             ? EVP_KDF_HKDF_MODE_EXTRACT_ONLY
	                                 : EVP_KDF_HKDF_MODE_EXPAND_ONLY;
	*q++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	*q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)EVP_MD_get0_name(md),
	                                        0);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, v->value, v->len);
	if (p->bExtract && p->ulSaltType == CKF_HKDF_SALT_DATA && p->ulSaltLen > 0)
		*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, p->pSalt,
		                                         p->ulSaltLen);
	if (p->bExpand && p->ulInfoLen > 0)
		*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, p->pInfo,
		                                         p->ulInfoLen);
	*q = OSSL_PARAM_construct_end();
	rv = kdf_to_key(KDF_HKDF, prm, len, key);
out:
	return rv;
}

static const ch_mech_ops hkdf_ops = {
	.key_type_ok = hkdf_key_type_ok,
	.derive = hkdf_derive,
};

/* ---------------------------------------------------------------------- */
/* PBKDF2                                                                  */
/* ---------------------------------------------------------------------- */

static ch_md_id pbkdf2_prf(CK_ULONG prf)
{
	switch (prf) {
	case CKP_PKCS5_PBKD2_HMAC_SHA1:
		return CH_MD_SHA1;
	case CKP_PKCS5_PBKD2_HMAC_SHA224:
		return CH_MD_SHA224;
	case CKP_PKCS5_PBKD2_HMAC_SHA256:
		return CH_MD_SHA256;
	case CKP_PKCS5_PBKD2_HMAC_SHA384:
		return CH_MD_SHA384;
	case CKP_PKCS5_PBKD2_HMAC_SHA512:
		return CH_MD_SHA512;
	case CKP_PKCS5_PBKD2_HMAC_SHA512_224:
		return CH_MD_SHA512_224;
	case CKP_PKCS5_PBKD2_HMAC_SHA512_256:
		return CH_MD_SHA512_256;
	default:
		return CH_MD_NONE;
	}
}

/* C_GenerateKey with CKM_PKCS5_PBKD2. */
static CK_RV pbkdf2_generate_key(const ch_mech *row, const CK_MECHANISM *m, ch_attrs *key)
{
	const CK_PKCS5_PBKD2_PARAMS2 *p = m->pParameter;
	const EVP_MD *md;
	ch_md_id id;
	OSSL_PARAM prm[6];
	uint64_t iter;
	int pkcs5 = 1; /* no SP 800-132 minimums: RFC 6070 has 1 iteration */
	CK_ULONG len = 0;
	CK_RV rv = CKR_MECHANISM_PARAM_INVALID;

	(void)row;
	if (p == NULL || m->ulParameterLen != sizeof(*p))
		goto out;
	if (p->saltSource != CKZ_SALT_SPECIFIED ||
	    (p->pSaltSourceData == NULL && p->ulSaltSourceDataLen > 0))
		goto out;
	if (p->iterations < 1 || (id = pbkdf2_prf(p->prf)) == CH_MD_NONE)
		goto out;
	if (p->pPrfData != NULL || p->ulPrfDataLen != 0)
		goto out;
	if ((p->pPassword == NULL && p->ulPasswordLen > 0) ||
	    p->ulPasswordLen > PBKDF2_PASSWORD_MAX)
		goto out;
	if ((rv = out_length(key, &len)) != CKR_OK)
		goto out;
	rv = CKR_KEY_SIZE_RANGE;
	if (len > GEN_MAX)
		goto out;
	rv = CKR_GENERAL_ERROR;
	if ((md = ch_mech_md(id)) == NULL)
		goto out;

	iter = p->iterations;
	prm[0] = OSSL_PARAM_construct_octet_string(
	        OSSL_KDF_PARAM_PASSWORD, octets(p->pPassword, p->ulPasswordLen), p->ulPasswordLen);
	prm[1] = OSSL_PARAM_construct_octet_string(
	        OSSL_KDF_PARAM_SALT, octets(p->pSaltSourceData, p->ulSaltSourceDataLen),
	        p->ulSaltSourceDataLen);
	prm[2] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_ITER, &iter);
	prm[3] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	                                          (char *)EVP_MD_get0_name(md), 0);
	prm[4] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_PKCS5, &pkcs5);
	prm[5] = OSSL_PARAM_construct_end();
	rv = kdf_to_key(KDF_PBKDF2, prm, len, key);
out:
	return rv;
}

static const ch_mech_ops pbkdf2_ops = {
	.generate_key = pbkdf2_generate_key,
};

/* ---------------------------------------------------------------------- */
/* SP 800-108                                                              */
/* ---------------------------------------------------------------------- */

/* The PRFs: HMAC with a digest and its key type, or AES-CMAC. */
static const struct {
	CK_MECHANISM_TYPE mech;
	ch_md_id md;
	CK_KEY_TYPE kt;
} kbkdf_hmacs[] = {
	{ CKM_SHA_1_HMAC, CH_MD_SHA1, CKK_SHA_1_HMAC },
	{ CKM_SHA224_HMAC, CH_MD_SHA224, CKK_SHA224_HMAC },
	{ CKM_SHA256_HMAC, CH_MD_SHA256, CKK_SHA256_HMAC },
	{ CKM_SHA384_HMAC, CH_MD_SHA384, CKK_SHA384_HMAC },
	{ CKM_SHA512_HMAC, CH_MD_SHA512, CKK_SHA512_HMAC },
	{ CKM_SHA512_224_HMAC, CH_MD_SHA512_224, CKK_SHA512_224_HMAC },
	{ CKM_SHA512_256_HMAC, CH_MD_SHA512_256, CKK_SHA512_256_HMAC },
	{ CKM_SHA3_224_HMAC, CH_MD_SHA3_224, CKK_SHA3_224_HMAC },
	{ CKM_SHA3_256_HMAC, CH_MD_SHA3_256, CKK_SHA3_256_HMAC },
	{ CKM_SHA3_384_HMAC, CH_MD_SHA3_384, CKK_SHA3_384_HMAC },
	{ CKM_SHA3_512_HMAC, CH_MD_SHA3_512, CKK_SHA3_512_HMAC },
};

#define KBKDF_HMACS (sizeof(kbkdf_hmacs) / sizeof(kbkdf_hmacs[0]))

/* Every key type some PRF takes; the derive hook matches it to the PRF. */
static bool kbkdf_key_type_ok(const ch_mech *row, CK_KEY_TYPE kt)
{
	(void)row;
	if (kt == CKK_GENERIC_SECRET || kt == CKK_AES)
		return true;
	for (size_t i = 0; i < KBKDF_HMACS; i++)
		if (kbkdf_hmacs[i].kt == kt)
			return true;
	return false;
}

/* The parts of a CK_SP800_108_KDF_PARAMS or _FEEDBACK_KDF_PARAMS. */
typedef struct kbkdf_req {
	CK_SP800_108_PRF_TYPE prf;
	const CK_PRF_DATA_PARAM *data;
	CK_ULONG n_data;
	const CK_BYTE *iv; /* feedback mode */
	CK_ULONG iv_len;
	bool feedback;
} kbkdf_req;

/* True for a counter format OpenSSL 3.0 produces: 32 bits, big endian. */
static bool counter_format_ok(const CK_PRF_DATA_PARAM *d)
{
	const CK_SP800_108_COUNTER_FORMAT *f = d->pValue;

	return f != NULL && d->ulValueLen == sizeof(*f) && !f->bLittleEndian &&
	       f->ulWidthInBits == 32;
}

static bool dkm_format_ok(const CK_PRF_DATA_PARAM *d)
{
	const CK_SP800_108_DKM_LENGTH_FORMAT *f = d->pValue;

	return f != NULL && d->ulValueLen == sizeof(*f) &&
	       f->dkmLengthMethod == CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS && !f->bLittleEndian &&
	       f->ulWidthInBits == 32;
}

/* Checks the data parameters against the layouts OpenSSL computes (see
 * the top of the file).  [*first, *end) are the byte arrays, *fixed_len
 * their total length, *use_l whether the DKM length follows them. */
static CK_RV kbkdf_layout(const kbkdf_req *r, CK_ULONG *first, CK_ULONG *end, size_t *fixed_len,
                          bool *use_l)
{
	const CK_PRF_DATA_PARAM *d = r->data;
	CK_ULONG i = 0;

	*fixed_len = 0;
	*use_l = false;
	if (d == NULL || r->n_data == 0)
		return CKR_MECHANISM_PARAM_INVALID;
	if (d[0].type != CK_SP800_108_ITERATION_VARIABLE)
		return CKR_MECHANISM_PARAM_INVALID;
	if (!r->feedback) {
		if (!counter_format_ok(&d[0]))
			return CKR_MECHANISM_PARAM_INVALID;
		i = 1;
	} else {
		if (d[0].pValue != NULL || d[0].ulValueLen != 0 || r->n_data < 2 ||
		    d[1].type != CK_SP800_108_COUNTER || !counter_format_ok(&d[1]))
			return CKR_MECHANISM_PARAM_INVALID;
		i = 2;
	}
	*first = i;
	for (; i < r->n_data && d[i].type == CK_SP800_108_BYTE_ARRAY; i++) {
		/* The spec wants byte arrays non-empty. */
		if (d[i].pValue == NULL || d[i].ulValueLen == 0 ||
		    d[i].ulValueLen > KBKDF_FIXED_MAX - *fixed_len)
			return CKR_MECHANISM_PARAM_INVALID;
		*fixed_len += d[i].ulValueLen;
	}
	*end = i;
	if (i < r->n_data && d[i].type == CK_SP800_108_DKM_LENGTH) {
		if (!dkm_format_ok(&d[i]))
			return CKR_MECHANISM_PARAM_INVALID;
		*use_l = true;
		i++;
	}
	return i == r->n_data ? CKR_OK : CKR_MECHANISM_PARAM_INVALID;
}

/* Reads the row's parameter structure into r. */
static CK_RV kbkdf_params(const ch_mech *row, const CK_MECHANISM *m, kbkdf_req *r)
{
	memset(r, 0, sizeof(*r));
	if (m->pParameter == NULL)
		return CKR_MECHANISM_PARAM_INVALID;
	r->feedback = row->type == CKM_SP800_108_FEEDBACK_KDF;
	if (r->feedback) {
		const CK_SP800_108_FEEDBACK_KDF_PARAMS *p = m->pParameter;

		if (m->ulParameterLen != sizeof(*p) || p->ulAdditionalDerivedKeys != 0 ||
		    p->pAdditionalDerivedKeys != NULL || (p->pIV == NULL) != (p->ulIVLen == 0) ||
		    p->ulIVLen > KBKDF_FIXED_MAX)
			return CKR_MECHANISM_PARAM_INVALID;
		r->prf = p->prfType;
		r->data = p->pDataParams;
		r->n_data = p->ulNumberOfDataParams;
		r->iv = p->pIV;
		r->iv_len = p->ulIVLen;
	} else {
		const CK_SP800_108_KDF_PARAMS *p = m->pParameter;

		if (m->ulParameterLen != sizeof(*p) || p->ulAdditionalDerivedKeys != 0 ||
		    p->pAdditionalDerivedKeys != NULL)
			return CKR_MECHANISM_PARAM_INVALID;
		r->prf = p->prfType;
		r->data = p->pDataParams;
		r->n_data = p->ulNumberOfDataParams;
	}
	return CKR_OK;
}

/* The MAC settings for r->prf and the base key: mac and either a digest
 * or a cipher name, and the PRF's output size in *prf_len.  CKR_MECHANISM_PARAM_INVALID (no such
 * PRF), CKR_KEY_TYPE_INCONSISTENT (a key of another PRF), CKR_KEY_SIZE_RANGE. */
static CK_RV kbkdf_prf(const kbkdf_req *r, const ch_attrs *base, const ch_attr *v, const char **mac,
                       const char **digest, const char **cipher, size_t *prf_len)
{
	CK_ULONG kt = CK_UNAVAILABLE_INFORMATION;
	const EVP_MD *md;

	(void)ch_attrs_ulong(base, CKA_KEY_TYPE, &kt);
	*digest = *cipher = NULL;
	if (r->prf == CKM_AES_CMAC) {
		if (kt != CKK_AES)
			return CKR_KEY_TYPE_INCONSISTENT;
		*mac = "CMAC";
		*prf_len = 16;
		switch (v->len) {
		case 16:
			*cipher = "AES-128-CBC";
			return CKR_OK;
		case 24:
			*cipher = "AES-192-CBC";
			return CKR_OK;
		case 32:
			*cipher = "AES-256-CBC";
			return CKR_OK;
		default:
			return CKR_KEY_SIZE_RANGE;
		}
	}
	for (size_t i = 0; i < KBKDF_HMACS; i++) {
		if (kbkdf_hmacs[i].mech != r->prf)
			continue;
		if (kt != CKK_GENERIC_SECRET && kt != kbkdf_hmacs[i].kt)
			return CKR_KEY_TYPE_INCONSISTENT;
		if ((md = ch_mech_md(kbkdf_hmacs[i].md)) == NULL)
			return CKR_GENERAL_ERROR;
		*mac = "HMAC";
		*digest = EVP_MD_get0_name(md);
		*prf_len = ch_md_size(kbkdf_hmacs[i].md);
		return CKR_OK;
	}
	return CKR_MECHANISM_PARAM_INVALID;
}

/* C_DeriveKey with CKM_SP800_108_COUNTER_KDF or _FEEDBACK_KDF. */
static CK_RV kbkdf_derive(const ch_mech *row, const CK_MECHANISM *m, const ch_attrs *base,
                          ch_attrs *key)
{
	kbkdf_req r;
	const ch_attr *v;
	const char *mac = NULL, *digest = NULL, *cipher = NULL;
	CK_BYTE *fixed = NULL;
	size_t fixed_len = 0, off = 0, prf_len = 0;
	CK_ULONG first = 0, end = 0, len = 0;
	OSSL_PARAM prm[9], *q = prm;
	int use_l_int, no_sep = 0;
	bool use_l = false;
	CK_RV rv;

	if ((rv = kbkdf_params(row, m, &r)) != CKR_OK ||
	    (rv = kbkdf_layout(&r, &first, &end, &fixed_len, &use_l)) != CKR_OK)
		goto out;
	if ((rv = base_value(base, &v)) != CKR_OK)
		goto out;
	/* An unknown PRF is the parameter's fault, before the key's. */
	if ((rv = kbkdf_prf(&r, base, v, &mac, &digest, &cipher, &prf_len)) != CKR_OK)
		goto out;
	/* OpenSSL 3.0 takes a feedback IV only of the PRF's output size. */
	rv = CKR_MECHANISM_PARAM_INVALID;
	if (r.feedback && r.iv_len != 0 && r.iv_len != prf_len)
		goto out;
	if ((rv = out_length(key, &len)) != CKR_OK)
		goto out;
	rv = CKR_KEY_SIZE_RANGE;
	if (len > KDF_OUT_MAX)
		goto out;

	rv = CKR_HOST_MEMORY;
	if ((fixed = OPENSSL_malloc(fixed_len > 0 ? fixed_len : 1)) == NULL)
		goto out;
	for (CK_ULONG i = first; i < end; i++) {
		if (r.data[i].ulValueLen > 0)
			memcpy(fixed + off, r.data[i].pValue, r.data[i].ulValueLen);
		off += r.data[i].ulValueLen;
	}

	use_l_int = use_l ? 1 : 0;
	*q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE,
	                                        r.feedback ? "feedback" : "counter", 0);
	*q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, (char *)mac, 0);
	if (digest != NULL)
		*q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)digest, 0);
	else
		*q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_CIPHER, (char *)cipher, 0);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, v->value, v->len);
	if (fixed_len > 0)
		*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, fixed, fixed_len);
	if (r.feedback && r.iv_len > 0)
		*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, (void *)r.iv,
		                                         r.iv_len);
	*q++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_KBKDF_USE_L, &use_l_int);
	*q++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_KBKDF_USE_SEPARATOR, &no_sep);
	*q = OSSL_PARAM_construct_end();
	rv = kdf_to_key(KDF_KBKDF, prm, len, key);
out:
	OPENSSL_clear_free(fixed, fixed_len > 0 ? fixed_len : 1);
	return rv;
}

static const ch_mech_ops kbkdf_ops = {
	.key_type_ok = kbkdf_key_type_ok,
	.derive = kbkdf_derive,
};

/* The family's rows; sizes are bytes (see the top). */
static const ch_mech kdf_mechs[] = {
	{
	        .type = CKM_HKDF_KEY_GEN,
	        .info = { 1, GEN_MAX, CKF_GENERATE },
	        .key_use = CH_KEY_SECRET,
	        .key_type = CKK_HKDF,
	        .ops = &hkdf_keygen_ops,
	},
	{
	        .type = CKM_HKDF_DERIVE,
	        .info = { 1, KDF_KEY_MAX, CKF_DERIVE },
	        .key_use = CH_KEY_SECRET,
	        .key_type = CKK_HKDF,
	        .ops = &hkdf_ops,
	},
	{
	        .type = CKM_HKDF_DATA,
	        .info = { 1, KDF_KEY_MAX, CKF_DERIVE },
	        .flags = CH_MECH_DERIVES_DATA,
	        .key_use = CH_KEY_SECRET,
	        .key_type = CKK_HKDF,
	        .ops = &hkdf_ops,
	},
	{
	        .type = CKM_PKCS5_PBKD2,
	        .info = { 1, GEN_MAX, CKF_GENERATE },
	        .key_use = CH_KEY_NONE,
	        .key_type = CK_UNAVAILABLE_INFORMATION, /* the template says */
	        .ops = &pbkdf2_ops,
	},
	{
	        .type = CKM_SP800_108_COUNTER_KDF,
	        .info = { 8, KDF_KEY_MAX * 8, CKF_DERIVE },
	        .key_use = CH_KEY_SECRET,
	        .key_type = CKK_GENERIC_SECRET,
	        .ops = &kbkdf_ops,
	},
	{
	        .type = CKM_SP800_108_FEEDBACK_KDF,
	        .info = { 8, KDF_KEY_MAX * 8, CKF_DERIVE },
	        .key_use = CH_KEY_SECRET,
	        .key_type = CKK_GENERIC_SECRET,
	        .ops = &kbkdf_ops,
	},
};

const ch_mech_family ch_family_kdf = CH_FAMILY(kdf_mechs);
