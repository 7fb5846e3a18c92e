/*
 * The HMAC family: CKM_<hash>_HMAC and CKM_<hash>_HMAC_GENERAL for SHA-1,
 * SHA-224/256/384/512, SHA-512/224, SHA-512/256 and SHA3-224/256/384/512
 * (the hash sections of the PKCS#11 3.0 mechanisms specification), with
 * the key generators CKM_GENERIC_SECRET_KEY_GEN ("Generic secret key") and
 * the hash-specific CKM_<hash>_KEY_GEN of 3.0 that make the
 * CKK_<hash>_HMAC key types.
 *
 * MACs run over OpenSSL's EVP_MAC "HMAC", fetched once per process (below,
 * under a pthread_once, like the digests in mech.c).  The plain rows give
 * the full tag; the _GENERAL rows take a CK_MAC_GENERAL_PARAMS, the tag
 * length in bytes, 1 to the hash size, and give the leftmost bytes of the
 * tag.  Verification recomputes the tag and compares it in constant time
 * (CRYPTO_memcmp); a signature of any other length than the tag is
 * CKR_SIGNATURE_LEN_RANGE.
 *
 * Keys are CKK_GENERIC_SECRET or the CKK_<hash>_HMAC of the row's hash,
 * 1 to HMAC_KEY_MAX bytes (an HMAC takes any key length; the bound keeps
 * what the mechanism info says true).  Mechanism info sizes are bytes.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "mech_impl.h"

#define HMAC_KEY_MAX   16384             /* bytes, for signing and verifying */
#define SECRET_GEN_MAX CH_RANDOM_KEY_MAX /* bytes, for the key generators */

static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;
static EVP_MAC *hmac_mac;

static void hmac_fetch(void)
{
	hmac_mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

/* The fetched HMAC, or NULL when the provider lacks it; never freed. */
static EVP_MAC *hmac_get(void)
{
	if (pthread_once(&hmac_once, hmac_fetch) != 0)
		return NULL;
	return hmac_mac;
}

/* C_GenerateKey: CKA_VALUE_LEN bytes (1 to SECRET_GEN_MAX) of fresh key,
 * for every key generator of this family. */
static CK_RV secret_generate_key(const ch_mech *row, const CK_MECHANISM *m, ch_attrs *key)
{
	return ch_mech_random_key(m, key, 1, SECRET_GEN_MAX, 1, 0);
}

static const ch_mech_ops secret_keygen_ops = {
	.generate_key = secret_generate_key,
};

/* Per-operation state of the MAC rows. */
typedef ch_mac_state hmac_state;

/* CKM_<hash>_HMAC takes no parameter. */
static CK_RV hmac_param(ch_op *op, const CK_MECHANISM *m)
{
	hmac_state *st = op->st;

	st->tag_len = ch_md_size((ch_md_id)op->row->arg);
	return ch_mech_no_param(m);
}

/* CKM_<hash>_HMAC_GENERAL: a CK_MAC_GENERAL_PARAMS, 1 to the hash size. */
static CK_RV hmac_general_param(ch_op *op, const CK_MECHANISM *m)
{
	hmac_state *st = op->st;
	CK_MAC_GENERAL_PARAMS len;

	if (m->pParameter == NULL || m->ulParameterLen != sizeof(len))
		return CKR_MECHANISM_PARAM_INVALID;
	memcpy(&len, m->pParameter, sizeof(len));
	if (len < 1 || len > ch_md_size((ch_md_id)op->row->arg))
		return CKR_MECHANISM_PARAM_INVALID;
	st->tag_len = len;
	return CKR_OK;
}

/* The row's own key type or a generic secret. */
static bool hmac_key_type_ok(const ch_mech *row, CK_KEY_TYPE kt)
{
	return kt == CKK_GENERIC_SECRET || kt == row->key_type;
}

/* Keys the MAC context with the key's value and the row's digest. */
static CK_RV hmac_start(ch_op *op, const CK_MECHANISM *m, const ch_attrs *key)
{
	hmac_state *st = op->st;
	const ch_attr *v = ch_attrs_get(key, CKA_VALUE);
	const EVP_MD *md = ch_mech_md((ch_md_id)op->row->arg);
	EVP_MAC *mac = hmac_get();
	OSSL_PARAM prm[2];

	(void)m;
	if (v == NULL || v->value == NULL)
		return CKR_KEY_TYPE_INCONSISTENT;
	if (v->len < 1 || v->len > HMAC_KEY_MAX)
		return CKR_KEY_SIZE_RANGE;
	if (md == NULL || mac == NULL)
		return CKR_GENERAL_ERROR;
	if ((st->ctx = EVP_MAC_CTX_new(mac)) == NULL)
		return CKR_HOST_MEMORY;
	prm[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	                                          (char *)EVP_MD_get0_name(md), 0);
	prm[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(st->ctx, v->value, v->len, prm) != 1)
		return CKR_FUNCTION_FAILED;
	return CKR_OK;
}

static const ch_mech_ops hmac_ops = {
	.state_size = sizeof(hmac_state),
	.param = hmac_param,
	.start = hmac_start,
	.out_len = ch_mac_out_len,
	.update = ch_mac_update,
	.final = ch_mac_final,
	.verify_final = ch_mac_verify_final,
	.cleanup = ch_mac_cleanup,
	.key_type_ok = hmac_key_type_ok,
};

static const ch_mech_ops hmac_general_ops = {
	.state_size = sizeof(hmac_state),
	.param = hmac_general_param,
	.start = hmac_start,
	.out_len = ch_mac_out_len,
	.update = ch_mac_update,
	.final = ch_mac_final,
	.verify_final = ch_mac_verify_final,
	.cleanup = ch_mac_cleanup,
	.key_type_ok = hmac_key_type_ok,
};

/* clang-format off */
#define MAC_ROW(mech, hooks, kt, md)                                           \
	{                                                                      \
		.type = (mech), .info = { 1, HMAC_KEY_MAX, CKF_SIGN | CKF_VERIFY }, \
		.key_use = CH_KEY_SECRET, .key_type = (kt), .ops = (hooks),    \
		.arg = (md),                                                   \
	}
#define HMAC_ROWS(hmac, general, kt, md)                                       \
	MAC_ROW(hmac, &hmac_ops, kt, md), MAC_ROW(general, &hmac_general_ops, kt, md)
#define GEN_ROW(mech, kt)                                                      \
	{                                                                      \
		.type = (mech), .info = { 1, SECRET_GEN_MAX, CKF_GENERATE },   \
		.key_use = CH_KEY_SECRET, .key_type = (kt),                    \
		.ops = &secret_keygen_ops,                                     \
	}
/* clang-format on */

/* The family's rows; sizes are key bytes. */
static const ch_mech hmac_mechs[] = {
	HMAC_ROWS(CKM_SHA_1_HMAC, CKM_SHA_1_HMAC_GENERAL, CKK_SHA_1_HMAC, CH_MD_SHA1),
	HMAC_ROWS(CKM_SHA224_HMAC, CKM_SHA224_HMAC_GENERAL, CKK_SHA224_HMAC, CH_MD_SHA224),
	HMAC_ROWS(CKM_SHA256_HMAC, CKM_SHA256_HMAC_GENERAL, CKK_SHA256_HMAC, CH_MD_SHA256),
	HMAC_ROWS(CKM_SHA384_HMAC, CKM_SHA384_HMAC_GENERAL, CKK_SHA384_HMAC, CH_MD_SHA384),
	HMAC_ROWS(CKM_SHA512_HMAC, CKM_SHA512_HMAC_GENERAL, CKK_SHA512_HMAC, CH_MD_SHA512),
	HMAC_ROWS(CKM_SHA512_224_HMAC, CKM_SHA512_224_HMAC_GENERAL, CKK_SHA512_224_HMAC,
	          CH_MD_SHA512_224),
	HMAC_ROWS(CKM_SHA512_256_HMAC, CKM_SHA512_256_HMAC_GENERAL, CKK_SHA512_256_HMAC,
	          CH_MD_SHA512_256),
	HMAC_ROWS(CKM_SHA3_224_HMAC, CKM_SHA3_224_HMAC_GENERAL, CKK_SHA3_224_HMAC, CH_MD_SHA3_224),
	HMAC_ROWS(CKM_SHA3_256_HMAC, CKM_SHA3_256_HMAC_GENERAL, CKK_SHA3_256_HMAC, CH_MD_SHA3_256),
	HMAC_ROWS(CKM_SHA3_384_HMAC, CKM_SHA3_384_HMAC_GENERAL, CKK_SHA3_384_HMAC, CH_MD_SHA3_384),
	HMAC_ROWS(CKM_SHA3_512_HMAC, CKM_SHA3_512_HMAC_GENERAL, CKK_SHA3_512_HMAC, CH_MD_SHA3_512),
	GEN_ROW(CKM_GENERIC_SECRET_KEY_GEN, CKK_GENERIC_SECRET),
	GEN_ROW(CKM_SHA_1_KEY_GEN, CKK_SHA_1_HMAC),
	GEN_ROW(CKM_SHA224_KEY_GEN, CKK_SHA224_HMAC),
	GEN_ROW(CKM_SHA256_KEY_GEN, CKK_SHA256_HMAC),
	GEN_ROW(CKM_SHA384_KEY_GEN, CKK_SHA384_HMAC),
	GEN_ROW(CKM_SHA512_KEY_GEN, CKK_SHA512_HMAC),
	GEN_ROW(CKM_SHA512_224_KEY_GEN, CKK_SHA512_224_HMAC),
	GEN_ROW(CKM_SHA512_256_KEY_GEN, CKK_SHA512_256_HMAC),
	GEN_ROW(CKM_SHA3_224_KEY_GEN, CKK_SHA3_224_HMAC),
	GEN_ROW(CKM_SHA3_256_KEY_GEN, CKK_SHA3_256_HMAC),
	GEN_ROW(CKM_SHA3_384_KEY_GEN, CKK_SHA3_384_HMAC),
	GEN_ROW(CKM_SHA3_512_KEY_GEN, CKK_SHA3_512_HMAC),
};

const ch_mech_family ch_family_hmac = CH_FAMILY(hmac_mechs);
