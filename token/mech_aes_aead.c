/*
 * AES's authenticated modes, CKM_AES_GCM and CKM_AES_CCM (PKCS#11 3.0
 * section 2.14), and the streaming AEAD hooks that ChaCha20-Poly1305
 * (mech_chacha.c) shares with GCM.
 *
 * Output is ciphertext || tag for both.  GCM encryption streams: each
 * update returns as many bytes as it was given and the final call returns
 * the tag.  Decryption cannot stream safely: plaintext from a ciphertext
 * whose tag is not yet checked must never reach the caller.  So
 * C_DecryptUpdate only buffers (and returns no bytes) and everything is
 * decrypted and checked in the final call; when the tag does not match,
 * whatever was written to the caller's buffer is wiped and the answer is
 * CKR_ENCRYPTED_DATA_INVALID.
 *
 * GCM IVs may be 1 to 128 bytes: OpenSSL 3.0's GCM takes no longer IV
 * (its AEAD_IVLEN parameter refuses more than 128), so longer ones are
 * CKR_MECHANISM_PARAM_INVALID rather than a failure later.  Tags are 4 to
 * 16 bytes, whole bytes only.
 *
 * CCM (SP 800-38C) needs the message length before the first block, and
 * OpenSSL runs it in one call: CK_CCM_PARAMS gives ulDataLen (the
 * plaintext's length, in both directions) up front, every update is
 * buffered, and the final or one-shot call does the work.  Nonces are 7 to
 * 13 bytes, MACs 4 to 16 bytes and even; ulDataLen must fit the length
 * field the nonce leaves (15 - nonce bytes).
 */
#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "mech_aes.h"

#define GCM_IV_MAX       128
#define GCM_TAG_MIN_BITS 32
#define GCM_TAG_MAX_BITS 128

#define CCM_NONCE_MIN 7
#define CCM_NONCE_MAX 13
#define CCM_MAC_MIN   4
#define CCM_MAC_MAX   16

/* ---------------------------------------------------------------------- */
/* Streaming AEAD (GCM, ChaCha20-Poly1305)                                 */
/* ---------------------------------------------------------------------- */

CK_RV ch_aead_out_len(const ch_op *op, ch_stage stage, CK_ULONG in_len, CK_ULONG *need)
{
	const ch_aead_state *st = op->st;
	CK_ULONG held = op->buf_len;

	if (ch_op_encrypts(op)) {
		switch (stage) {
		case CH_STAGE_ONESHOT:
			if (in_len > ULONG_MAX - st->tag_len)
				return CKR_DATA_LEN_RANGE;
			*need = in_len + st->tag_len;
			break;
		case CH_STAGE_UPDATE:
			*need = in_len;
			break;
		case CH_STAGE_FINAL:
			*need = st->tag_len;
			break;
		}
		return CKR_OK;
	}
	switch (stage) {
	case CH_STAGE_ONESHOT:
		if (in_len < st->tag_len)
			return CKR_ENCRYPTED_DATA_LEN_RANGE;
		*need = in_len - st->tag_len;
		break;
	case CH_STAGE_UPDATE:
		*need = 0; /* nothing before the tag is checked */
		break;
	case CH_STAGE_FINAL:
		if (held < st->tag_len)
			return CKR_ENCRYPTED_DATA_LEN_RANGE;
		*need = held - st->tag_len;
		break;
	}
	return CKR_OK;
}

/* Encrypts in into out (in_len bytes come out). */
static CK_RV aead_seal_part(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                            CK_ULONG *out_len)
{
	size_t w = 0;
	CK_RV rv;

	if ((rv = ch_cipher_run(op->cctx, out, in, in_len, &w)) != CKR_OK)
		return rv;
	if (w != in_len) /* a stream mode: ch_aead_out_len promised in_len */
		return CKR_GENERAL_ERROR;
	*out_len = w;
	return CKR_OK;
}

/* Finishes encryption: writes the tag to out. */
static CK_RV aead_seal_final(ch_op *op, CK_BYTE *out, CK_ULONG *out_len)
{
	ch_aead_state *st = op->st;
	CK_BYTE tail[EVP_MAX_BLOCK_LENGTH];
	OSSL_PARAM prm[2];
	int n = 0;

	if (EVP_EncryptFinal_ex(op->cctx, tail, &n) != 1 || n != 0)
		return CKR_FUNCTION_FAILED;
	prm[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, out, st->tag_len);
	prm[1] = OSSL_PARAM_construct_end();
	if (EVP_CIPHER_CTX_get_params(op->cctx, prm) != 1)
		return CKR_FUNCTION_FAILED;
	*out_len = st->tag_len;
	return CKR_OK;
}

/* Decrypts ct (ciphertext || tag, at least a tag long) into out and checks
 * the tag; on a mismatch wipes out.  out has room for ct_len - tag. */
static CK_RV aead_open(ch_op *op, const CK_BYTE *ct, size_t ct_len, CK_BYTE *out, CK_ULONG *out_len)
{
	ch_aead_state *st = op->st;
	size_t n = ct_len - st->tag_len, w = 0;
	CK_BYTE tag[16], tail[EVP_MAX_BLOCK_LENGTH];
	OSSL_PARAM prm[2];
	int f = 0;
	CK_RV rv = CKR_FUNCTION_FAILED;

	memcpy(tag, ct + n, st->tag_len);
	prm[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, st->tag_len);
	prm[1] = OSSL_PARAM_construct_end();
	if (EVP_CIPHER_CTX_set_params(op->cctx, prm) != 1)
		goto out;
	if ((rv = ch_cipher_run(op->cctx, out, ct, n, &w)) != CKR_OK)
		goto out;
	rv = CKR_GENERAL_ERROR;
	if (w != n)
		goto out;
	rv = CKR_ENCRYPTED_DATA_INVALID;
	if (EVP_DecryptFinal_ex(op->cctx, tail, &f) != 1 || f != 0)
		goto out;
	*out_len = n;
	rv = CKR_OK;
out:
	if (rv != CKR_OK && n > 0)
		OPENSSL_cleanse(out, n);
	OPENSSL_cleanse(tail, sizeof(tail));
	return rv;
}

CK_RV ch_aead_update(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	CK_RV rv;

	if (ch_op_encrypts(op))
		return aead_seal_part(op, in, in_len, out, out_len);
	if ((rv = ch_op_buffer_append(op, in, in_len)) != CKR_OK)
		return rv;
	*out_len = 0;
	return CKR_OK;
}

CK_RV ch_aead_final(ch_op *op, CK_BYTE *out, CK_ULONG *out_len)
{
	if (ch_op_encrypts(op))
		return aead_seal_final(op, out, out_len);
	return aead_open(op, op->buf, op->buf_len, out, out_len);
}

CK_RV ch_aead_oneshot(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                      CK_ULONG *out_len)
{
	CK_ULONG n = 0, t = 0;
	CK_RV rv;

	if (ch_op_decrypts(op))
		return aead_open(op, in, in_len, out, out_len);
	if ((rv = aead_seal_part(op, in, in_len, out, &n)) != CKR_OK ||
	    (rv = aead_seal_final(op, out + n, &t)) != CKR_OK)
		return rv;
	*out_len = n + t;
	return CKR_OK;
}

/* ---------------------------------------------------------------------- */
/* CKM_AES_GCM                                                             */
/* ---------------------------------------------------------------------- */

/* Checks a CK_GCM_PARAMS (3.0 layout) and records the tag length. */
static CK_RV gcm_param(ch_op *op, const CK_MECHANISM *m)
{
	const CK_GCM_PARAMS *p = m->pParameter;
	ch_aead_state *st = op->st;

	if (p == NULL || m->ulParameterLen != sizeof(*p))
		return CKR_MECHANISM_PARAM_INVALID;
	if (p->pIv == NULL || p->ulIvLen < 1 || p->ulIvLen > GCM_IV_MAX)
		return CKR_MECHANISM_PARAM_INVALID;
	if (p->ulIvBits != 0 && p->ulIvBits != p->ulIvLen * 8)
		return CKR_MECHANISM_PARAM_INVALID;
	if (p->pAAD == NULL && p->ulAADLen > 0)
		return CKR_MECHANISM_PARAM_INVALID;
	if (p->ulTagBits < GCM_TAG_MIN_BITS || p->ulTagBits > GCM_TAG_MAX_BITS ||
	    p->ulTagBits % 8 != 0)
		return CKR_MECHANISM_PARAM_INVALID;
	st->tag_len = p->ulTagBits / 8;
	return CKR_OK;
}

/* Sets up the cipher context with key, IV and AAD. */
static CK_RV gcm_start(ch_op *op, const CK_MECHANISM *m, const ch_attrs *key)
{
	const CK_GCM_PARAMS *p = m->pParameter;
	const CK_BYTE *value;
	const EVP_CIPHER *cipher;
	OSSL_PARAM prm[2];
	size_t iv_len = p->ulIvLen, aad_out;
	int enc = ch_op_encrypts(op);
	CK_RV rv;

	if ((rv = ch_aes_key(key, CH_CIPHER_AES_128_GCM, &value, &cipher)) != CKR_OK)
		goto out;
	rv = CKR_HOST_MEMORY;
	if ((op->cctx = EVP_CIPHER_CTX_new()) == NULL)
		goto out;
	rv = CKR_FUNCTION_FAILED;
	prm[0] = OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN, &iv_len);
	prm[1] = OSSL_PARAM_construct_end();
	if (EVP_CipherInit_ex2(op->cctx, cipher, NULL, NULL, enc, prm) != 1 ||
	    EVP_CipherInit_ex2(op->cctx, NULL, value, p->pIv, enc, NULL) != 1)
		goto out;
	if (p->ulAADLen > 0 &&
	    (rv = ch_cipher_run(op->cctx, NULL, p->pAAD, p->ulAADLen, &aad_out)) != CKR_OK)
		goto out;
	rv = CKR_OK;
out:
	return rv;
}

const ch_mech_ops ch_aes_gcm_ops = {
	.state_size = sizeof(ch_aead_state),
	.param = gcm_param,
	.start = gcm_start,
	.out_len = ch_aead_out_len,
	.oneshot = ch_aead_oneshot,
	.update = ch_aead_update,
	.final = ch_aead_final,
};

/* ---------------------------------------------------------------------- */
/* CKM_AES_CCM                                                             */
/* ---------------------------------------------------------------------- */

/* Per-operation state of CKM_AES_CCM. */
typedef struct ccm_state {
	CK_ULONG data_len; /* plaintext bytes, from CK_CCM_PARAMS */
	size_t mac_len;
} ccm_state;

/* Checks a CK_CCM_PARAMS and records the lengths. */
static CK_RV ccm_param(ch_op *op, const CK_MECHANISM *m)
{
	const CK_CCM_PARAMS *p = m->pParameter;
	ccm_state *st = op->st;
	CK_ULONG len_bytes;

	if (p == NULL || m->ulParameterLen != sizeof(*p))
		return CKR_MECHANISM_PARAM_INVALID;
	if (p->pNonce == NULL || p->ulNonceLen < CCM_NONCE_MIN || p->ulNonceLen > CCM_NONCE_MAX)
		return CKR_MECHANISM_PARAM_INVALID;
	if (p->ulMACLen < CCM_MAC_MIN || p->ulMACLen > CCM_MAC_MAX || p->ulMACLen % 2 != 0)
		return CKR_MECHANISM_PARAM_INVALID;
	if (p->pAAD == NULL && p->ulAADLen > 0)
		return CKR_MECHANISM_PARAM_INVALID;
	/* The length field is 15 - nonce bytes (2 to 8) and must hold
	 * ulDataLen; the tag must fit after it in a CK_ULONG. */
	len_bytes = 15 - p->ulNonceLen;
	if (len_bytes < sizeof(CK_ULONG) && p->ulDataLen >> (8 * len_bytes) != 0)
		return CKR_MECHANISM_PARAM_INVALID;
	if (p->ulDataLen > ULONG_MAX - CCM_MAC_MAX || p->ulDataLen > INT_MAX - CCM_MAC_MAX)
		return CKR_MECHANISM_PARAM_INVALID;
	st->data_len = p->ulDataLen;
	st->mac_len = p->ulMACLen;
	return CKR_OK;
}

/* Sets up the context: nonce and MAC sizes, key and nonce, the message
 * length, the AAD.  What is left is the one call with the data. */
static CK_RV ccm_start(ch_op *op, const CK_MECHANISM *m, const ch_attrs *key)
{
	const CK_CCM_PARAMS *p = m->pParameter;
	ccm_state *st = op->st;
	const CK_BYTE *value;
	const EVP_CIPHER *cipher;
	OSSL_PARAM prm[3];
	size_t nonce_len = p->ulNonceLen, w;
	int enc = ch_op_encrypts(op), n;
	CK_RV rv;

	if ((rv = ch_aes_key(key, CH_CIPHER_AES_128_CCM, &value, &cipher)) != CKR_OK)
		goto out;
	rv = CKR_HOST_MEMORY;
	if ((op->cctx = EVP_CIPHER_CTX_new()) == NULL)
		goto out;
	rv = CKR_FUNCTION_FAILED;
	prm[0] = OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN, &nonce_len);
	prm[1] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, NULL, st->mac_len);
	prm[2] = OSSL_PARAM_construct_end();
	if (EVP_CipherInit_ex2(op->cctx, cipher, NULL, NULL, enc, prm) != 1 ||
	    EVP_CipherInit_ex2(op->cctx, NULL, value, p->pNonce, enc, NULL) != 1)
		goto out;
	if (EVP_CipherUpdate(op->cctx, NULL, &n, NULL, (int)st->data_len) != 1)
		goto out;
	if (p->ulAADLen > 0 &&
	    (rv = ch_cipher_run(op->cctx, NULL, p->pAAD, p->ulAADLen, &w)) != CKR_OK)
		goto out;
	rv = CKR_OK;
out:
	return rv;
}

static CK_RV ccm_out_len(const ch_op *op, ch_stage stage, CK_ULONG in_len, CK_ULONG *need)
{
	const ccm_state *st = op->st;
	CK_ULONG whole = ch_op_encrypts(op) ? st->data_len : st->data_len + st->mac_len;
	CK_ULONG result = ch_op_encrypts(op) ? st->data_len + st->mac_len : st->data_len;
	CK_RV range = ch_op_encrypts(op) ? CKR_DATA_LEN_RANGE : CKR_ENCRYPTED_DATA_LEN_RANGE;

	switch (stage) {
	case CH_STAGE_ONESHOT:
		if (in_len != whole)
			return range;
		*need = result;
		break;
	case CH_STAGE_UPDATE:
		if (in_len > whole - op->buf_len)
			return range;
		*need = 0;
		break;
	case CH_STAGE_FINAL:
		if (op->buf_len != whole)
			return range;
		*need = result;
		break;
	}
	return CKR_OK;
}

/* The one CCM call: in is the whole plaintext (encrypt) or ciphertext ||
 * MAC (decrypt), of the length ccm_out_len checked. */
static CK_RV ccm_run(ch_op *op, const CK_BYTE *in, CK_BYTE *out, CK_ULONG *out_len)
{
	ccm_state *st = op->st;
	size_t n = st->data_len;
	CK_BYTE tag[CCM_MAC_MAX], tail[EVP_MAX_BLOCK_LENGTH];
	OSSL_PARAM prm[2];
	int w = 0;
	CK_RV rv = CKR_FUNCTION_FAILED;

	if (ch_op_encrypts(op)) {
		if (EVP_CipherUpdate(op->cctx, out, &w, in, (int)n) != 1 || (size_t)w != n ||
		    EVP_CipherFinal_ex(op->cctx, tail, &w) != 1 || w != 0)
			goto out;
		prm[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, out + n,
		                                           st->mac_len);
		prm[1] = OSSL_PARAM_construct_end();
		if (EVP_CIPHER_CTX_get_params(op->cctx, prm) != 1)
			goto out;
		*out_len = n + st->mac_len;
		rv = CKR_OK;
		goto out;
	}
	memcpy(tag, in + n, st->mac_len);
	prm[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, st->mac_len);
	prm[1] = OSSL_PARAM_construct_end();
	if (EVP_CIPHER_CTX_set_params(op->cctx, prm) != 1)
		goto out;
	/* OpenSSL checks the MAC within this call. */
	rv = CKR_ENCRYPTED_DATA_INVALID;
	if (EVP_CipherUpdate(op->cctx, n > 0 ? out : tail, &w, in, (int)n) != 1 || (size_t)w != n)
		goto out;
	*out_len = n;
	rv = CKR_OK;
out:
	if (rv != CKR_OK && ch_op_decrypts(op) && n > 0)
		OPENSSL_cleanse(out, n);
	OPENSSL_cleanse(tail, sizeof(tail));
	return rv;
}

static CK_RV ccm_update(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                        CK_ULONG *out_len)
{
	CK_RV rv;

	(void)out;
	if ((rv = ch_op_buffer_append(op, in, in_len)) != CKR_OK)
		return rv;
	*out_len = 0;
	return CKR_OK;
}

static CK_RV ccm_final(ch_op *op, CK_BYTE *out, CK_ULONG *out_len)
{
	/* An empty buffer is a valid empty message. */
	static const CK_BYTE none[1];

	return ccm_run(op, op->buf != NULL ? op->buf : none, out, out_len);
}

static CK_RV ccm_oneshot(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                         CK_ULONG *out_len)
{
	static const CK_BYTE none[1];

	(void)in_len; /* ccm_out_len checked it */
	return ccm_run(op, in != NULL ? in : none, out, out_len);
}

const ch_mech_ops ch_aes_ccm_ops = {
	.state_size = sizeof(ccm_state),
	.param = ccm_param,
	.start = ccm_start,
	.out_len = ccm_out_len,
	.oneshot = ccm_oneshot,
	.update = ccm_update,
	.final = ccm_final,
};
