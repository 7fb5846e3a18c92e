/*
 * The RSA family (PKCS#11 3.0 mechanisms section 2.1): the key codec
 * between RSA key objects and OpenSSL's EVP_PKEY, CKM_RSA_PKCS_KEY_PAIR_GEN,
 * and the registry rows of every RSA mechanism the token offers:
 * PKCS#1 v1.5 (raw and with SHA-1/2/3), PSS (on a digest and with
 * SHA-1/2/3), OAEP, and raw RSA (CKM_RSA_X_509).  The operations
 * themselves live in mech_rsa_ops.c.
 *
 * Keys are 2048 to 8192 bits (CH_RSA_MIN_BITS, CH_RSA_MAX_BITS), with any
 * odd public exponent above 1 that OpenSSL's public operation takes
 * (below the modulus, and at most 64 bits for moduli above 3072 bits).  A
 * private key object holds CKA_MODULUS, CKA_PUBLIC_EXPONENT and
 * CKA_PRIVATE_EXPONENT, and either all five CRT components (CKA_PRIME_1,
 * CKA_PRIME_2, CKA_EXPONENT_1, CKA_EXPONENT_2, CKA_COEFFICIENT) or none;
 * without them OpenSSL computes with the private exponent alone, slower
 * but with the same results.  The public exponent is needed even for
 * private-key operations (OpenSSL blinds with it, and PKCS#11 2.40 on
 * requires tokens to store it): a private key without one does not fit
 * (CKR_KEY_TYPE_INCONSISTENT).
 *
 * Every key is checked each time it is loaded, with checks cheap enough
 * for every C_*Init: the size, the exponent rules above, 1 < d < n, and
 * for CRT keys n = p * q with p, q > 1.  OpenSSL's own full check
 * (primality of p and q) costs a fifth of a second for a 4096-bit key and
 * is not run; OpenSSL verifies each CRT result against the public key and
 * falls back to the private exponent, so inconsistent CRT components
 * cannot leak a factor.
 *
 * Private components pass through BN_secure_new numbers and wiped
 * buffers only.
 */
#include <stdint.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "mech_rsa.h"

/* The components of an RSA key object in PKCS#1 order, with OpenSSL's
 * names for them.  A public key is the first two; a private key the first
 * three, and the five CRT components all or none. */
static const struct rsa_part {
	CK_ATTRIBUTE_TYPE type;
	const char *param;
} rsa_parts[] = {
	{ CKA_MODULUS, OSSL_PKEY_PARAM_RSA_N },
	{ CKA_PUBLIC_EXPONENT, OSSL_PKEY_PARAM_RSA_E },
	{ CKA_PRIVATE_EXPONENT, OSSL_PKEY_PARAM_RSA_D },
	{ CKA_PRIME_1, OSSL_PKEY_PARAM_RSA_FACTOR1 },
	{ CKA_PRIME_2, OSSL_PKEY_PARAM_RSA_FACTOR2 },
	{ CKA_EXPONENT_1, OSSL_PKEY_PARAM_RSA_EXPONENT1 },
	{ CKA_EXPONENT_2, OSSL_PKEY_PARAM_RSA_EXPONENT2 },
	{ CKA_COEFFICIENT, OSSL_PKEY_PARAM_RSA_COEFFICIENT1 },
};

enum { P_N, P_E, P_D, P_P, P_Q, P_DP, P_DQ, P_QINV, RSA_PARTS };

#define RSA_PUBLIC_PARTS  2 /* n, e */
#define RSA_PRIVATE_PARTS 3 /* n, e, d: a private key without CRT */

/* A key's components as numbers: v[0 .. count-1] are set, count being
 * RSA_PUBLIC_PARTS, RSA_PRIVATE_PARTS or RSA_PARTS.  Everything from d on
 * is a secret and lives in secure numbers. */
typedef struct rsa_nums {
	BIGNUM *v[RSA_PARTS];
	size_t count;
} rsa_nums;

static void rsa_nums_clear(rsa_nums *k)
{
	for (size_t i = 0; i < RSA_PARTS; i++) {
		BN_clear_free(k->v[i]);
		k->v[i] = NULL;
	}
	k->count = 0;
}

static BIGNUM *rsa_num_new(size_t part)
{
	return part >= P_D ? BN_secure_new() : BN_new();
}

/* True when e is a public exponent the token takes for a modulus of
 * n_bits bits: odd, above 1, and within OpenSSL's limit for the public
 * operation on large moduli.  (Whether it is below the modulus is the
 * caller's check.) */
static bool rsa_e_ok(const BIGNUM *e, int n_bits)
{
	if (!BN_is_odd(e) || BN_is_one(e))
		return false;
	return n_bits <= OPENSSL_RSA_SMALL_MODULUS_BITS ||
	       BN_num_bits(e) <= OPENSSL_RSA_MAX_PUBEXP_BITS;
}

/* The cheap consistency checks of a key (see the top of the file).
 * CKR_OK, CKR_KEY_SIZE_RANGE or CKR_KEY_TYPE_INCONSISTENT; CKR_HOST_MEMORY. */
static CK_RV rsa_nums_check(const rsa_nums *k)
{
	const BIGNUM *n = k->v[P_N], *e = k->v[P_E], *d = k->v[P_D];
	int bits = BN_num_bits(n);
	BN_CTX *ctx = NULL;
	BIGNUM *pq;
	CK_RV rv = CKR_KEY_SIZE_RANGE;

	if (bits < CH_RSA_MIN_BITS || bits > CH_RSA_MAX_BITS)
		goto out;
	rv = CKR_KEY_TYPE_INCONSISTENT;
	if (!BN_is_odd(n) || !rsa_e_ok(e, bits) || BN_ucmp(e, n) >= 0)
		goto out;
	if (k->count >= RSA_PRIVATE_PARTS &&
	    (BN_is_zero(d) || BN_is_one(d) || BN_is_negative(d) || BN_ucmp(d, n) >= 0))
		goto out;
	if (k->count == RSA_PARTS) {
		rv = CKR_HOST_MEMORY;
		if ((ctx = BN_CTX_secure_new()) == NULL)
			goto out;
		BN_CTX_start(ctx);
		if ((pq = BN_CTX_get(ctx)) == NULL || !BN_mul(pq, k->v[P_P], k->v[P_Q], ctx))
			goto out;
		rv = CKR_KEY_TYPE_INCONSISTENT;
		if (BN_is_zero(k->v[P_P]) || BN_is_one(k->v[P_P]) || BN_is_zero(k->v[P_Q]) ||
		    BN_is_one(k->v[P_Q]) || BN_cmp(pq, n) != 0)
			goto out;
	}
	rv = CKR_OK;
out:
	if (ctx != NULL)
		BN_CTX_end(ctx);
	BN_CTX_free(ctx);
	return rv;
}

/* Reads a key object's components.  CKR_OK, CKR_KEY_TYPE_INCONSISTENT
 * (one missing, or some CRT components without the others),
 * CKR_HOST_MEMORY. */
static CK_RV rsa_nums_from_attrs(const ch_attrs *key, bool priv, rsa_nums *k)
{
	size_t want = priv ? RSA_PARTS : RSA_PUBLIC_PARTS, i;
	const ch_attr *a;
	CK_RV rv;

	for (i = 0; i < want; i++) {
		a = ch_attrs_get(key, rsa_parts[i].type);
		if (a == NULL || a->len == 0 || a->value == NULL || a->len > INT32_MAX)
			break;
		rv = CKR_HOST_MEMORY;
		if ((k->v[i] = rsa_num_new(i)) == NULL ||
		    BN_bin2bn(a->value, (int)a->len, k->v[i]) == NULL)
			goto out;
	}
	k->count = i;
	rv = CKR_KEY_TYPE_INCONSISTENT;
	if (i < (priv ? RSA_PRIVATE_PARTS : RSA_PUBLIC_PARTS))
		goto out;
	if (priv && i < RSA_PARTS) {
		/* No CRT, or an incomplete one: the rest must be absent. */
		if (i > RSA_PRIVATE_PARTS)
			goto out;
		for (i = P_P; i < RSA_PARTS; i++)
			if (ch_attrs_get(key, rsa_parts[i].type) != NULL)
				goto out;
	}
	rv = CKR_OK;
out:
	return rv;
}

/* Builds *out from k's components.  CKR_OK, CKR_KEY_TYPE_INCONSISTENT
 * (OpenSSL refuses them), CKR_HOST_MEMORY. */
static CK_RV rsa_nums_to_pkey(const rsa_nums *k, EVP_PKEY **out)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *prm = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	int sel = k->count > RSA_PUBLIC_PARTS ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY;
	CK_RV rv = CKR_HOST_MEMORY;

	if ((bld = OSSL_PARAM_BLD_new()) == NULL)
		goto out;
	for (size_t i = 0; i < k->count; i++)
		if (OSSL_PARAM_BLD_push_BN(bld, rsa_parts[i].param, k->v[i]) != 1)
			goto out;
	if ((prm = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, CH_PKEY_NAME_RSA, NULL)) == NULL)
		goto out;
	rv = CKR_KEY_TYPE_INCONSISTENT;
	if (EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, out, sel, prm) != 1)
		goto out;
	rv = CKR_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(prm); /* clears the secure part */
	OSSL_PARAM_BLD_free(bld);
	return rv;
}

CK_RV ch_rsa_pkey_load(const ch_attrs *key, bool priv, EVP_PKEY **out)
{
	rsa_nums k = { { NULL }, 0 };
	CK_RV rv;

	*out = NULL;
	if (ch_pkey_memo(key, priv, out))
		return CKR_OK;
	if ((rv = rsa_nums_from_attrs(key, priv, &k)) != CKR_OK ||
	    (rv = rsa_nums_check(&k)) != CKR_OK)
		goto out;
	rv = rsa_nums_to_pkey(&k, out);
out:
	rsa_nums_clear(&k);
	return rv;
}

/* Reads a private key's components from pkey.  CKR_OK,
 * CKR_WRAPPED_KEY_INVALID (not a two-prime RSA private key),
 * CKR_HOST_MEMORY. */
static CK_RV rsa_nums_from_pkey(EVP_PKEY *pkey, rsa_nums *k)
{
	BIGNUM *third = NULL;
	CK_RV rv = CKR_WRAPPED_KEY_INVALID;

	if (pkey == NULL || !EVP_PKEY_is_a(pkey, "RSA"))
		goto out;
	for (size_t i = 0; i < RSA_PARTS; i++) {
		rv = CKR_HOST_MEMORY;
		if ((k->v[i] = rsa_num_new(i)) == NULL)
			goto out;
		k->count = i + 1;
		rv = CKR_WRAPPED_KEY_INVALID;
		if (EVP_PKEY_get_bn_param(pkey, rsa_parts[i].param, &k->v[i]) != 1)
			goto out;
	}
	/* A multi-prime key has no PKCS#11 form. */
	if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_FACTOR3, &third) == 1)
		goto out;
	rv = CKR_OK;
out:
	BN_clear_free(third);
	return rv;
}

/* Writes one number as a big-endian attribute, through a wiped buffer. */
static CK_RV rsa_num_put(ch_attrs *key, CK_ATTRIBUTE_TYPE type, const BIGNUM *v)
{
	int len = BN_num_bytes(v);
	CK_BYTE *buf;
	CK_RV rv = CKR_HOST_MEMORY;

	if (len <= 0)
		return CKR_WRAPPED_KEY_INVALID; /* zero: no key has one */
	if ((buf = OPENSSL_secure_malloc((size_t)len)) == NULL)
		return CKR_HOST_MEMORY;
	if (BN_bn2bin(v, buf) == len)
		rv = ch_attrs_set(key, type, buf, (CK_ULONG)len);
	OPENSSL_secure_clear_free(buf, (size_t)len);
	return rv;
}

CK_RV ch_rsa_pkey_store(EVP_PKEY *pkey, ch_attrs *key)
{
	rsa_nums k = { { NULL }, 0 };
	CK_RV rv;

	if ((rv = rsa_nums_from_pkey(pkey, &k)) != CKR_OK)
		goto out;
	/* Only what ch_rsa_pkey_load will take again. */
	if ((rv = rsa_nums_check(&k)) != CKR_OK) {
		rv = rv == CKR_HOST_MEMORY ? rv : CKR_WRAPPED_KEY_INVALID;
		goto out;
	}
	for (size_t i = 0; i < RSA_PARTS; i++)
		if ((rv = rsa_num_put(key, rsa_parts[i].type, k.v[i])) != CKR_OK)
			goto out;
	rv = CKR_OK;
out:
	rsa_nums_clear(&k);
	return rv;
}

/* The public exponent C_GenerateKeyPair uses when the template has none. */
#define RSA_DEFAULT_E 65537

/* The largest public exponent key generation takes, in bits (FIPS 186-5
 * section A.1.1 bounds e below 2^256). */
#define RSA_GEN_MAX_E_BITS 256

/* C_GenerateKeyPair with CKM_RSA_PKCS_KEY_PAIR_GEN: CKA_MODULUS_BITS
 * (required; object.c has checked it is there) and CKA_PUBLIC_EXPONENT
 * (optional) from the public template.  The public key gets CKA_MODULUS and
 * CKA_PUBLIC_EXPONENT (ch_object_finish computes CKA_MODULUS_BITS from the
 * modulus), the private key every component. */
static CK_RV rsa_generate_key_pair(const ch_mech *row, const CK_MECHANISM *m, ch_attrs *pub,
                                   ch_attrs *priv)
{
	const ch_attr *ea = ch_attrs_get(pub, CKA_PUBLIC_EXPONENT);
	const ch_attr *n, *e;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *pe = NULL;
	CK_ULONG bits;
	CK_RV rv;

	(void)row;
	if ((rv = ch_mech_no_param(m)) != CKR_OK)
		goto out;
	rv = CKR_TEMPLATE_INCOMPLETE;
	if (!ch_attrs_ulong(pub, CKA_MODULUS_BITS, &bits))
		goto out;
	rv = CKR_KEY_SIZE_RANGE;
	if (bits < CH_RSA_MIN_BITS || bits > CH_RSA_MAX_BITS)
		goto out;
	rv = CKR_HOST_MEMORY;
	if ((pe = BN_new()) == NULL)
		goto out;
	if (ea == NULL)
		rv = BN_set_word(pe, RSA_DEFAULT_E) == 1 ? CKR_OK : CKR_HOST_MEMORY;
	else if (ea->len == 0 || ea->len > CH_RSA_MAX_BITS / 8)
		rv = CKR_ATTRIBUTE_VALUE_INVALID;
	else
		rv = BN_bin2bn(ea->value, (int)ea->len, pe) != NULL ? CKR_OK : CKR_HOST_MEMORY;
	if (rv != CKR_OK)
		goto out;
	rv = CKR_ATTRIBUTE_VALUE_INVALID;
	if (!rsa_e_ok(pe, (int)bits) || BN_num_bits(pe) > RSA_GEN_MAX_E_BITS)
		goto out;

	rv = CKR_FUNCTION_FAILED;
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, CH_PKEY_NAME_RSA, NULL)) == NULL ||
	    EVP_PKEY_keygen_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) != 1 ||
	    EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, pe) != 1 || EVP_PKEY_generate(ctx, &pkey) != 1)
		goto out;
	if ((rv = ch_rsa_pkey_store(pkey, priv)) != CKR_OK) {
		rv = rv == CKR_HOST_MEMORY ? rv : CKR_FUNCTION_FAILED;
		goto out;
	}
	rv = CKR_GENERAL_ERROR;
	if ((n = ch_attrs_get(priv, CKA_MODULUS)) == NULL ||
	    (e = ch_attrs_get(priv, CKA_PUBLIC_EXPONENT)) == NULL)
		goto out;
	if ((rv = ch_attrs_set(pub, CKA_MODULUS, n->value, n->len)) != CKR_OK ||
	    (rv = ch_attrs_set(pub, CKA_PUBLIC_EXPONENT, e->value, e->len)) != CKR_OK)
		goto out;
	rv = CKR_OK;
out:
	BN_free(pe);
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	return rv;
}

static const ch_mech_ops rsa_keygen_ops = {
	.generate_key_pair = rsa_generate_key_pair,
};

/* The flags of the rows that sign and verify only, and of those that also
 * encrypt, decrypt, wrap and unwrap (PKCS#11 3.0 mechanisms, table 2). */
#define RSA_SIG_FLAGS (CKF_SIGN | CKF_VERIFY)
#define RSA_ENC_FLAGS (CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP)

/* clang-format off */
#define RSA_ROW(t, fl, single, o, md)                                                              \
	{ .type = (t), .info = { CH_RSA_MIN_BITS, CH_RSA_MAX_BITS, (fl) }, .flags = (single),      \
	  .key_use = CH_KEY_PAIR, .key_type = CKK_RSA, .ops = (o), .arg = (md) }
/* clang-format on */

/* The family's rows; sizes are modulus bits.  Encryption and the rows that
 * take their input already hashed are single-part. */
static const ch_mech rsa_mechs[] = {
	{
	        .type = CKM_RSA_PKCS_KEY_PAIR_GEN,
	        .info = { CH_RSA_MIN_BITS, CH_RSA_MAX_BITS, CKF_GENERATE_KEY_PAIR },
	        .key_use = CH_KEY_PAIR,
	        .key_type = CKK_RSA,
	        .ops = &rsa_keygen_ops,
	        .arg = CH_MD_NONE,
	},
	RSA_ROW(CKM_RSA_PKCS, RSA_SIG_FLAGS | RSA_ENC_FLAGS, CH_MECH_SINGLE_PART, &ch_rsa_pkcs1_ops,
	        CH_MD_NONE),
	RSA_ROW(CKM_RSA_X_509, RSA_SIG_FLAGS | RSA_ENC_FLAGS, CH_MECH_SINGLE_PART, &ch_rsa_x509_ops,
	        CH_MD_NONE),
	RSA_ROW(CKM_RSA_PKCS_OAEP, RSA_ENC_FLAGS, CH_MECH_SINGLE_PART, &ch_rsa_oaep_ops,
	        CH_MD_NONE),
	RSA_ROW(CKM_RSA_PKCS_PSS, RSA_SIG_FLAGS, CH_MECH_SINGLE_PART, &ch_rsa_pss_ops, CH_MD_NONE),
	RSA_ROW(CKM_SHA1_RSA_PKCS, RSA_SIG_FLAGS, 0, &ch_rsa_pkcs1_ops, CH_MD_SHA1),
	RSA_ROW(CKM_SHA224_RSA_PKCS, RSA_SIG_FLAGS, 0, &ch_rsa_pkcs1_ops, CH_MD_SHA224),
	RSA_ROW(CKM_SHA256_RSA_PKCS, RSA_SIG_FLAGS, 0, &ch_rsa_pkcs1_ops, CH_MD_SHA256),
	RSA_ROW(CKM_SHA384_RSA_PKCS, RSA_SIG_FLAGS, 0, &ch_rsa_pkcs1_ops, CH_MD_SHA384),
	RSA_ROW(CKM_SHA512_RSA_PKCS, RSA_SIG_FLAGS, 0, &ch_rsa_pkcs1_ops, CH_MD_SHA512),
	RSA_ROW(CKM_SHA3_224_RSA_PKCS, RSA_SIG_FLAGS, 0, &ch_rsa_pkcs1_ops, CH_MD_SHA3_224),
	RSA_ROW(CKM_SHA3_256_RSA_PKCS, RSA_SIG_FLAGS, 0, &ch_rsa_pkcs1_ops, CH_MD_SHA3_256),
	RSA_ROW(CKM_SHA3_384_RSA_PKCS, RSA_SIG_FLAGS, 0, &ch_rsa_pkcs1_ops, CH_MD_SHA3_384),
	RSA_ROW(CKM_SHA3_512_RSA_PKCS, RSA_SIG_FLAGS, 0, &ch_rsa_pkcs1_ops, CH_MD_SHA3_512),
	RSA_ROW(CKM_SHA1_RSA_PKCS_PSS, RSA_SIG_FLAGS, 0, &ch_rsa_pss_ops, CH_MD_SHA1),
	RSA_ROW(CKM_SHA224_RSA_PKCS_PSS, RSA_SIG_FLAGS, 0, &ch_rsa_pss_ops, CH_MD_SHA224),
	RSA_ROW(CKM_SHA256_RSA_PKCS_PSS, RSA_SIG_FLAGS, 0, &ch_rsa_pss_ops, CH_MD_SHA256),
	RSA_ROW(CKM_SHA384_RSA_PKCS_PSS, RSA_SIG_FLAGS, 0, &ch_rsa_pss_ops, CH_MD_SHA384),
	RSA_ROW(CKM_SHA512_RSA_PKCS_PSS, RSA_SIG_FLAGS, 0, &ch_rsa_pss_ops, CH_MD_SHA512),
	RSA_ROW(CKM_SHA3_224_RSA_PKCS_PSS, RSA_SIG_FLAGS, 0, &ch_rsa_pss_ops, CH_MD_SHA3_224),
	RSA_ROW(CKM_SHA3_256_RSA_PKCS_PSS, RSA_SIG_FLAGS, 0, &ch_rsa_pss_ops, CH_MD_SHA3_256),
	RSA_ROW(CKM_SHA3_384_RSA_PKCS_PSS, RSA_SIG_FLAGS, 0, &ch_rsa_pss_ops, CH_MD_SHA3_384),
	RSA_ROW(CKM_SHA3_512_RSA_PKCS_PSS, RSA_SIG_FLAGS, 0, &ch_rsa_pss_ops, CH_MD_SHA3_512),
};

const ch_mech_family ch_family_rsa = CH_FAMILY(rsa_mechs);
