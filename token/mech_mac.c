/*
 * The hooks every MAC over OpenSSL's EVP_MAC shares (HMAC in mech_hmac.c,
 * CMAC in mech_aes_mac.c): feeding data, giving out the leftmost tag_len
 * bytes of the tag, and checking a tag in constant time.  A family sets up
 * st->ctx and st->tag_len in its own param and start hooks; the state is a
 * ch_mac_state (mech_impl.h).
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "mech_impl.h"

CK_RV ch_mac_out_len(const ch_op *op, ch_stage stage, CK_ULONG in_len, CK_ULONG *need)
{
	const ch_mac_state *st = op->st;

	*need = stage == CH_STAGE_UPDATE ? 0 : st->tag_len;
	return CKR_OK;
}

CK_RV ch_mac_update(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	ch_mac_state *st = op->st;

	if (in_len > 0 && EVP_MAC_update(st->ctx, in, in_len) != 1)
		return CKR_FUNCTION_FAILED;
	return CKR_OK;
}

/* The whole tag into full (EVP_MAX_MD_SIZE bytes), at least tag_len. */
static CK_RV mac_tag(ch_mac_state *st, CK_BYTE *full)
{
	size_t n = 0;

	if (EVP_MAC_final(st->ctx, full, &n, EVP_MAX_MD_SIZE) != 1)
		return CKR_FUNCTION_FAILED;
	return n >= st->tag_len ? CKR_OK : CKR_GENERAL_ERROR;
}

CK_RV ch_mac_final(ch_op *op, CK_BYTE *out, CK_ULONG *out_len)
{
	ch_mac_state *st = op->st;
	CK_BYTE full[EVP_MAX_MD_SIZE];
	CK_RV rv;

	if ((rv = mac_tag(st, full)) == CKR_OK) {
		memcpy(out, full, st->tag_len);
		*out_len = st->tag_len;
	}
	OPENSSL_cleanse(full, sizeof(full));
	return rv;
}

CK_RV ch_mac_verify_final(ch_op *op, const CK_BYTE *sig, CK_ULONG sig_len)
{
	ch_mac_state *st = op->st;
	CK_BYTE full[EVP_MAX_MD_SIZE];
	CK_RV rv = CKR_SIGNATURE_LEN_RANGE;

	if (sig_len != st->tag_len)
		goto out;
	if ((rv = mac_tag(st, full)) != CKR_OK)
		goto out;
	rv = CRYPTO_memcmp(full, sig, st->tag_len) == 0 ? CKR_OK : CKR_SIGNATURE_INVALID;
out:
	OPENSSL_cleanse(full, sizeof(full));
	return rv;
}

void ch_mac_cleanup(ch_op *op)
{
	ch_mac_state *st = op->st;

	EVP_MAC_CTX_free(st->ctx);
	st->ctx = NULL;
}
