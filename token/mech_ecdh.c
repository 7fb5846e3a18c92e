/*
 * Elliptic-curve Diffie-Hellman: CKM_ECDH1_DERIVE and
 * CKM_ECDH1_COFACTOR_DERIVE (PKCS#11 3.0 section 2.3.16 ff.), the derive
 * hook of the rows in mech_ec.c's table, over OpenSSL's EVP_PKEY_derive.
 *
 * The base key is a CKK_EC private key (P-256, P-384, P-521, secp256k1) or,
 * for CKM_ECDH1_DERIVE, a CKK_EC_MONTGOMERY one (X25519, X448: RFC 7748's
 * function is the Diffie-Hellman primitive there).  The parameter is a
 * CK_ECDH1_DERIVE_PARAMS:
 *   pPublicData  the other party's point, bare or in a DER OCTET STRING
 *                (mech_ec.c tells them apart), compressed or uncompressed
 *                on the prime curves; a point that is malformed, of another
 *                curve (wrong length) or not on the curve is
 *                CKR_MECHANISM_PARAM_INVALID: it is the parameter that is
 *                wrong, the domain parameters (the base key's) are fine;
 *   kdf          CKD_NULL (the shared secret itself: the X coordinate,
 *                field-size bytes, or the X25519/X448 output), or
 *                CKD_SHA1_KDF, CKD_SHA224/256/384/512_KDF and
 *                CKD_SHA3_224/256/384/512_KDF: the ANSI X9.63 KDF (OpenSSL's
 *                "X963KDF") over the secret with pSharedData as its
 *                SharedInfo.  CKD_NULL takes no shared data (the spec: it
 *                must be NULL with length 0).
 *
 * The derived key's length is CKA_VALUE_LEN when the template gives one,
 * else the key type's own (32 for ChaCha20), else (a generic secret or an
 * HMAC key without a length) the secret's length; an AES key without a
 * length is CKR_TEMPLATE_INCOMPLETE.  With CKD_NULL a shorter length
 * truncates the secret as the spec says: "the truncation removes bytes
 * from the leading end of the secret value", so the key is the secret's
 * trailing bytes; a longer one is CKR_KEY_SIZE_RANGE.
 *
 * On these curves the cofactor is 1 (prime curves), so the cofactor
 * variant computes the same secret; OpenSSL is asked for cofactor mode
 * anyway.  An all-zero X25519/X448 output (a low-order peer point) makes
 * OpenSSL fail, and that is CKR_MECHANISM_PARAM_INVALID too.
 *
 * The secret and every copy of it are wiped.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "mech_ec.h"

#define SECRET_MAX  66   /* the P-521 X coordinate */
#define DERIVED_MAX 1024 /* longest key the KDFs make here */

static pthread_once_t kdf_once = PTHREAD_ONCE_INIT;
static EVP_KDF *x963;

static void kdf_fetch(void)
{
	x963 = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_X963KDF, NULL);
}

/* The digest of a CKD_*, CH_MD_NONE for CKD_NULL; false for a KDF the
 * token does not offer. */
static bool kdf_md(CK_EC_KDF_TYPE kdf, ch_md_id *md)
{
	switch (kdf) {
	case CKD_NULL:
		*md = CH_MD_NONE;
		return true;
	case CKD_SHA1_KDF:
		*md = CH_MD_SHA1;
		return true;
	case CKD_SHA224_KDF:
		*md = CH_MD_SHA224;
		return true;
	case CKD_SHA256_KDF:
		*md = CH_MD_SHA256;
		return true;
	case CKD_SHA384_KDF:
		*md = CH_MD_SHA384;
		return true;
	case CKD_SHA512_KDF:
		*md = CH_MD_SHA512;
		return true;
	case CKD_SHA3_224_KDF:
		*md = CH_MD_SHA3_224;
		return true;
	case CKD_SHA3_256_KDF:
		*md = CH_MD_SHA3_256;
		return true;
	case CKD_SHA3_384_KDF:
		*md = CH_MD_SHA3_384;
		return true;
	case CKD_SHA3_512_KDF:
		*md = CH_MD_SHA3_512;
		return true;
	default:
		return false;
	}
}

/* The derived key's length in bytes (see the top of the file); natural is
 * the secret's length. */
static CK_RV derived_len(const ch_attrs *key, size_t natural, size_t *len)
{
	CK_ULONG kt = CKK_GENERIC_SECRET, vl;
	bool given = ch_attrs_ulong(key, CKA_VALUE_LEN, &vl);

	(void)ch_attrs_ulong(key, CKA_KEY_TYPE, &kt);
	switch (kt) {
	case CKK_AES:
		if (!given)
			return CKR_TEMPLATE_INCOMPLETE;
		if (vl != 16 && vl != 24 && vl != 32)
			return CKR_KEY_SIZE_RANGE;
		break;
	case CKK_CHACHA20:
		if (given && vl != 32)
			return CKR_KEY_SIZE_RANGE;
		vl = 32;
		break;
	default:
		if (!given)
			vl = natural;
		if (vl == 0)
			return CKR_KEY_SIZE_RANGE;
		break;
	}
	if (vl > DERIVED_MAX)
		return CKR_KEY_SIZE_RANGE;
	*len = vl;
	return CKR_OK;
}

/* X9.63 KDF: len bytes into out from secret and the shared info. */
static CK_RV x963_kdf(ch_md_id md, const CK_BYTE *secret, size_t secret_len, const CK_BYTE *info,
                      size_t info_len, CK_BYTE *out, size_t len)
{
	const EVP_MD *evp_md = ch_mech_md(md);
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM prm[4], *p = prm;
	CK_RV rv = CKR_GENERAL_ERROR;

	if (pthread_once(&kdf_once, kdf_fetch) != 0 || x963 == NULL || evp_md == NULL)
		goto out;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	                                        (char *)EVP_MD_get0_name(evp_md), 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, secret_len);
	if (info_len > 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info,
		                                         info_len);
	*p = OSSL_PARAM_construct_end();
	rv = CKR_HOST_MEMORY;
	if ((kctx = EVP_KDF_CTX_new(x963)) == NULL)
		goto out;
	rv = CKR_FUNCTION_FAILED;
	if (EVP_KDF_derive(kctx, out, len, prm) != 1)
		goto out;
	rv = CKR_OK;
out:
	EVP_KDF_CTX_free(kctx);
	return rv;
}

/* The shared secret of priv and the peer point into secret (SECRET_MAX
 * bytes). */
static CK_RV ecdh_secret(bool cofactor, EVP_PKEY *priv, EVP_PKEY *peer, CK_BYTE *secret,
                         size_t *secret_len)
{
	EVP_PKEY_CTX *ctx = NULL;
	size_t n = 0;
	CK_RV rv = CKR_HOST_MEMORY;

	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL)) == NULL)
		goto out;
	rv = CKR_FUNCTION_FAILED;
	if (EVP_PKEY_derive_init(ctx) != 1 ||
	    (cofactor && EVP_PKEY_CTX_set_ecdh_cofactor_mode(ctx, 1) != 1))
		goto out;
	/* The peer was checked when it was built; OpenSSL checks the curves
	 * match here, and a failed derive means a low-order point. */
	rv = CKR_MECHANISM_PARAM_INVALID;
	if (EVP_PKEY_derive_set_peer_ex(ctx, peer, 1) != 1 || EVP_PKEY_derive(ctx, NULL, &n) != 1 ||
	    n == 0 || n > SECRET_MAX || EVP_PKEY_derive(ctx, secret, &n) != 1)
		goto out;
	*secret_len = n;
	rv = CKR_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	return rv;
}

static CK_RV ecdh_derive(const ch_mech *row, const CK_MECHANISM *m, const ch_attrs *base,
                         ch_attrs *key)
{
	const CK_ECDH1_DERIVE_PARAMS *p = m->pParameter;
	const ch_ec_curve *c = NULL;
	EVP_PKEY *priv = NULL, *peer = NULL;
	const CK_BYTE *pt;
	size_t pt_len, secret_len = 0, len = 0;
	CK_BYTE secret[SECRET_MAX], *out = NULL;
	ch_md_id md = CH_MD_NONE;
	CK_RV rv = CKR_MECHANISM_PARAM_INVALID;

	if (p == NULL || m->ulParameterLen != sizeof(*p) || !kdf_md(p->kdf, &md) ||
	    p->pPublicData == NULL || p->ulPublicDataLen == 0 ||
	    (p->ulSharedDataLen > 0 && p->pSharedData == NULL) ||
	    (md == CH_MD_NONE && (p->ulSharedDataLen > 0 || p->pSharedData != NULL)))
		goto out;
	if ((rv = ch_ec_key_curve(base, &c)) != CKR_OK)
		goto out;
	rv = c->kt == CKK_EC ? ch_ec_pkey_load(base, true, &priv)
	                     : ch_ecx_pkey_load(base, true, &priv);
	if (rv != CKR_OK)
		goto out;
	rv = CKR_MECHANISM_PARAM_INVALID;
	if (!ch_ec_point_find(c, p->pPublicData, p->ulPublicDataLen, &pt, &pt_len))
		goto out;
	if ((rv = ch_ec_public_from_point(c, pt, pt_len, &peer)) != CKR_OK) {
		if (rv == CKR_KEY_TYPE_INCONSISTENT)
			rv = CKR_MECHANISM_PARAM_INVALID;
		goto out;
	}
	if ((rv = ecdh_secret(row->type == CKM_ECDH1_COFACTOR_DERIVE, priv, peer, secret,
	                      &secret_len)) != CKR_OK)
		goto out;
	if ((rv = derived_len(key, secret_len, &len)) != CKR_OK)
		goto out;
	if (md == CH_MD_NONE) {
		rv = CKR_KEY_SIZE_RANGE;
		if (len > secret_len)
			goto out;
		/* Truncation removes the leading bytes. */
		rv = ch_attrs_set(key, CKA_VALUE, secret + (secret_len - len), len);
		goto out;
	}
	rv = CKR_HOST_MEMORY;
	if ((out = OPENSSL_secure_malloc(len)) == NULL)
		goto out;
	if ((rv = x963_kdf(md, secret, secret_len, p->pSharedData, p->ulSharedDataLen, out, len)) !=
	    CKR_OK)
		goto out;
	rv = ch_attrs_set(key, CKA_VALUE, out, len);
out:
	if (out != NULL)
		OPENSSL_secure_clear_free(out, len);
	OPENSSL_cleanse(secret, sizeof(secret));
	EVP_PKEY_free(peer);
	EVP_PKEY_free(priv);
	return rv;
}

/* CKM_ECDH1_DERIVE also takes Montgomery keys; the cofactor variant is
 * for the prime curves only. */
static bool ecdh_key_type_ok(const ch_mech *row, CK_KEY_TYPE kt)
{
	return kt == CKK_EC || (row->type == CKM_ECDH1_DERIVE && kt == CKK_EC_MONTGOMERY);
}

const ch_mech_ops ch_ecdh_ops = {
	.key_type_ok = ecdh_key_type_ok,
	.derive = ecdh_derive,
};
