/*
 * AES key wrap (PKCS#11 3.0 section 2.16): CKM_AES_KEY_WRAP (RFC 3394,
 * NIST SP 800-38F KW) and CKM_AES_KEY_WRAP_KWP (RFC 5649, KWP), over
 * OpenSSL's AES-*-WRAP and AES-*-WRAP-PAD ciphers.
 *
 * Both are single-part and serve C_Encrypt/C_Decrypt as well as
 * C_WrapKey/C_UnwrapKey (the same hooks; ch_op_encrypts tells which way).
 * The parameter is an optional initial value: 8 bytes for KW (default
 * A6A6A6A6A6A6A6A6), 4 bytes for KWP (default A65959A6).
 *
 * Lengths: KW wraps 16 bytes or more in steps of 8 (an 8-byte input is
 * refused: RFC 3394 wraps at least two semiblocks) into 8 more; KWP wraps
 * 1 byte or more into the input rounded up to 8, plus 8.  Unwrapping
 * decrypts into a scratch buffer and releases nothing unless the integrity
 * check (and, for KWP, the padding) passes; every such failure is
 * CKR_ENCRYPTED_DATA_INVALID, which the driver turns into
 * CKR_WRAPPED_KEY_INVALID for C_UnwrapKey.  How long a KWP plaintext is
 * shows only after unwrapping, so KWP reports an upper bound (in - 8) and
 * answers short buffers itself; OpenSSL's wrap ciphers keep no state
 * between calls, so the retry simply unwraps again.
 */
#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "mech_aes.h"

#define KW_SEMIBLOCK 8
#define KW_MAX_IN    (INT_MAX - 2 * KW_SEMIBLOCK)

/* Per-operation state. */
typedef struct kw_state {
	CK_BYTE iv[KW_SEMIBLOCK];
	bool has_iv;
} kw_state;

static bool kw_padded(const ch_op *op)
{
	return op->row->ops == &ch_aes_kwp_ops;
}

static CK_RV kw_param(ch_op *op, const CK_MECHANISM *m)
{
	kw_state *st = op->st;
	CK_ULONG iv_len = kw_padded(op) ? 4 : KW_SEMIBLOCK;

	if (m->ulParameterLen == 0)
		return CKR_OK;
	if (m->pParameter == NULL || m->ulParameterLen != iv_len)
		return CKR_MECHANISM_PARAM_INVALID;
	memcpy(st->iv, m->pParameter, iv_len);
	st->has_iv = true;
	return CKR_OK;
}

static CK_RV kw_start(ch_op *op, const CK_MECHANISM *m, const ch_attrs *key)
{
	kw_state *st = op->st;
	const EVP_CIPHER *cipher;
	const CK_BYTE *value;
	CK_RV rv;

	(void)m;
	rv = ch_aes_key(key, kw_padded(op) ? CH_CIPHER_AES_128_WRAP_PAD : CH_CIPHER_AES_128_WRAP,
	                &value, &cipher);
	if (rv != CKR_OK)
		return rv;
	if ((op->cctx = EVP_CIPHER_CTX_new()) == NULL)
		return CKR_HOST_MEMORY;
	EVP_CIPHER_CTX_set_flags(op->cctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_CipherInit_ex2(op->cctx, cipher, value, st->has_iv ? st->iv : NULL,
	                       ch_op_encrypts(op), NULL) != 1)
		return CKR_FUNCTION_FAILED;
	return CKR_OK;
}

static CK_RV kw_out_len(const ch_op *op, ch_stage stage, CK_ULONG in_len, CK_ULONG *need)
{
	bool pad = kw_padded(op);

	if (stage != CH_STAGE_ONESHOT) /* single-part rows */
		return CKR_FUNCTION_NOT_SUPPORTED;
	if (ch_op_encrypts(op)) {
		if (in_len > KW_MAX_IN || in_len == 0 ||
		    (!pad && (in_len % KW_SEMIBLOCK != 0 || in_len < 2 * KW_SEMIBLOCK)))
			return CKR_DATA_LEN_RANGE;
		*need = (in_len + KW_SEMIBLOCK - 1) / KW_SEMIBLOCK * KW_SEMIBLOCK + KW_SEMIBLOCK;
		return CKR_OK;
	}
	if (in_len > KW_MAX_IN || in_len % KW_SEMIBLOCK != 0 ||
	    in_len < (pad ? 2 : 3) * KW_SEMIBLOCK)
		return CKR_ENCRYPTED_DATA_LEN_RANGE;
	*need = in_len - KW_SEMIBLOCK; /* exact for KW, a bound for KWP */
	return CKR_OK;
}

static CK_RV kw_oneshot(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                        CK_ULONG *out_len)
{
	CK_BYTE *tmp = NULL;
	CK_ULONG need = 0;
	int w = 0;
	CK_RV rv;

	if ((rv = kw_out_len(op, CH_STAGE_ONESHOT, in_len, &need)) != CKR_OK)
		goto out;
	if (ch_op_encrypts(op)) {
		rv = CKR_BUFFER_TOO_SMALL; /* only KWP rows get here short (bound) */
		if (*out_len < need) {
			*out_len = need;
			goto out;
		}
		rv = CKR_FUNCTION_FAILED;
		if (EVP_CipherUpdate(op->cctx, out, &w, in, (int)in_len) != 1 ||
		    (CK_ULONG)w != need)
			goto out;
		*out_len = need;
		rv = CKR_OK;
		goto out;
	}
	rv = CKR_HOST_MEMORY;
	if ((tmp = OPENSSL_malloc(in_len)) == NULL)
		goto out;
	/* Integrity check, and for KWP the padding, inside this call. */
	rv = CKR_ENCRYPTED_DATA_INVALID;
	if (EVP_CipherUpdate(op->cctx, tmp, &w, in, (int)in_len) != 1 || w <= 0 ||
	    (CK_ULONG)w > need)
		goto out;
	if (*out_len < (CK_ULONG)w) {
		*out_len = (CK_ULONG)w;
		rv = CKR_BUFFER_TOO_SMALL;
		goto out;
	}
	memcpy(out, tmp, (size_t)w);
	*out_len = (CK_ULONG)w;
	rv = CKR_OK;
out:
	OPENSSL_clear_free(tmp, in_len);
	return rv;
}

const ch_mech_ops ch_aes_kw_ops = {
	.state_size = sizeof(kw_state),
	.param = kw_param,
	.start = kw_start,
	.out_len = kw_out_len,
	.oneshot = kw_oneshot,
};

const ch_mech_ops ch_aes_kwp_ops = {
	.state_size = sizeof(kw_state),
	.param = kw_param,
	.start = kw_start,
	.out_len = kw_out_len,
	.out_is_bound = true,
	.oneshot = kw_oneshot,
};
