/*
 * The digest family: CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384,
 * CKM_SHA512, CKM_SHA512_224, CKM_SHA512_256 and CKM_SHA3_224/256/384/512
 * (the SHA-1, SHA-2 and SHA-3 sections of the PKCS#11 3.0 mechanisms
 * specification), over OpenSSL's EVP digest API with the digests mech.c
 * fetches once.
 *
 * A digest takes no key and no parameter.  Every row runs single-part and
 * multi-part the same way: updates feed the EVP_MD_CTX, the final call (or
 * the one-shot call, which the driver runs as update then final) writes
 * the digest.  C_DigestKey feeds a secret key's value through the same
 * update hook, so a digest of a key mixes with data in any order.
 *
 * The buffer convention is the driver's: out_len answers the digest size
 * exactly, so a length query or a short buffer leaves the context as it
 * was and the operation can go on.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "mech_impl.h"

/* Sets up the digest context; row->arg is the ch_md_id. */
static CK_RV digest_start(ch_op *op, const CK_MECHANISM *m, const ch_attrs *key)
{
	const EVP_MD *md = ch_mech_md((ch_md_id)op->row->arg);

	(void)m;
	(void)key;
	if (md == NULL)
		return CKR_GENERAL_ERROR;
	if ((op->mdctx = EVP_MD_CTX_new()) == NULL)
		return CKR_HOST_MEMORY;
	if (EVP_DigestInit_ex2(op->mdctx, md, NULL) != 1)
		return CKR_FUNCTION_FAILED;
	return CKR_OK;
}

static CK_RV digest_out_len(const ch_op *op, ch_stage stage, CK_ULONG in_len, CK_ULONG *need)
{
	(void)in_len;
	/* Digests produce nothing per part; the driver never asks for
	 * CH_STAGE_UPDATE of a kind without output, but answer truthfully. */
	*need = stage == CH_STAGE_UPDATE ? 0 : ch_md_size((ch_md_id)op->row->arg);
	return CKR_OK;
}

static CK_RV digest_update(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                           CK_ULONG *out_len)
{
	(void)out;
	(void)out_len;
	if (in_len > 0 && EVP_DigestUpdate(op->mdctx, in, in_len) != 1)
		return CKR_FUNCTION_FAILED;
	return CKR_OK;
}

/* Writes the digest; out has room for ch_md_size() bytes (out_len said so). */
static CK_RV digest_final(ch_op *op, CK_BYTE *out, CK_ULONG *out_len)
{
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(op->mdctx, out, &n) != 1)
		return CKR_FUNCTION_FAILED;
	if (n != ch_md_size((ch_md_id)op->row->arg))
		return CKR_GENERAL_ERROR;
	*out_len = n;
	return CKR_OK;
}

static const ch_mech_ops digest_ops = {
	.start = digest_start,
	.out_len = digest_out_len,
	.update = digest_update,
	.final = digest_final,
};

/* clang-format off */
#define DIGEST_ROW(mech, md)                                                   \
	{                                                                      \
		.type = (mech), .info = { 0, 0, CKF_DIGEST },                  \
		.key_use = CH_KEY_NONE, .key_type = CK_UNAVAILABLE_INFORMATION, \
		.ops = &digest_ops, .arg = (md),                               \
	}
/* clang-format on */

/* The family's rows; digests have no key, so the sizes are 0. */
static const ch_mech digest_mechs[] = {
	DIGEST_ROW(CKM_SHA_1, CH_MD_SHA1),
	DIGEST_ROW(CKM_SHA224, CH_MD_SHA224),
	DIGEST_ROW(CKM_SHA256, CH_MD_SHA256),
	DIGEST_ROW(CKM_SHA384, CH_MD_SHA384),
	DIGEST_ROW(CKM_SHA512, CH_MD_SHA512),
	DIGEST_ROW(CKM_SHA512_224, CH_MD_SHA512_224),
	DIGEST_ROW(CKM_SHA512_256, CH_MD_SHA512_256),
	DIGEST_ROW(CKM_SHA3_224, CH_MD_SHA3_224),
	DIGEST_ROW(CKM_SHA3_256, CH_MD_SHA3_256),
	DIGEST_ROW(CKM_SHA3_384, CH_MD_SHA3_384),
	DIGEST_ROW(CKM_SHA3_512, CH_MD_SHA3_512),
};

const ch_mech_family ch_family_digest = CH_FAMILY(digest_mechs);
