/*
 * The AES family: CKM_AES_KEY_GEN and CKM_AES_GCM (PKCS#11 3.0 section
 * 2.13), over OpenSSL's EVP cipher API.
 *
 * GCM output is ciphertext || tag.  Encryption streams: each update
 * returns as many bytes as it was given and the final call returns the tag.
 * Decryption cannot stream safely: plaintext from a ciphertext whose tag is
 * not yet checked must never reach the caller.  So C_DecryptUpdate only
 * buffers (and returns no bytes) and everything is decrypted and checked in
 * the final call; when the tag does not match, whatever was written to the
 * caller's buffer is wiped and the answer is CKR_ENCRYPTED_DATA_INVALID.
 *
 * The IV may be 1 to 128 bytes: OpenSSL 3.0's GCM takes no longer IV, so
 * longer ones are CKR_MECHANISM_PARAM_INVALID rather than a failure later.
 * Tags are 4 to 16 bytes, whole bytes only.
 */
#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "mech_impl.h"

#define GCM_IV_MAX       128
#define GCM_TAG_MIN_BITS 32
#define GCM_TAG_MAX_BITS 128

/* EVP_CipherUpdate takes an int length: longer input goes in chunks. */
#define EVP_CHUNK (1 << 30)

/* Per-operation state of CKM_AES_GCM. */
typedef struct gcm_state {
	size_t tag_len; /* bytes */
} gcm_state;

/* C_GenerateKey with CKM_AES_KEY_GEN: CKA_VALUE_LEN bytes of fresh key. */
static CK_RV aes_generate_key(const ch_mech *row, const CK_MECHANISM *m, ch_attrs *key)
{
	CK_BYTE value[32];
	CK_ULONG len = 0;
	CK_RV rv;

	if ((rv = ch_mech_no_param(m)) != CKR_OK)
		goto out;
	rv = CKR_TEMPLATE_INCOMPLETE;
	if (ch_attrs_get(key, CKA_VALUE_LEN) == NULL)
		goto out;
	rv = CKR_ATTRIBUTE_VALUE_INVALID;
	if (!ch_attrs_ulong(key, CKA_VALUE_LEN, &len))
		goto out;
	rv = CKR_KEY_SIZE_RANGE;
	if (len != 16 && len != 24 && len != 32)
		goto out;
	if ((rv = ch_rng_priv_bytes(value, len)) != CKR_OK)
		goto out;
	rv = ch_attrs_set(key, CKA_VALUE, value, len);
out:
	OPENSSL_cleanse(value, sizeof(value));
	return rv;
}

static const ch_mech_ops aes_keygen_ops = {
	.generate_key = aes_generate_key,
};

/* Runs len bytes through the cipher, in chunks EVP can take.  out NULL
 * feeds additional authenticated data.  *written gets the bytes produced. */
static CK_RV cipher_run(EVP_CIPHER_CTX *c, CK_BYTE *out, const CK_BYTE *in, size_t len,
                        size_t *written)
{
	size_t done = 0, total = 0;
	int n, w;

	while (done < len) {
		n = len - done > EVP_CHUNK ? EVP_CHUNK : (int)(len - done);
		if (EVP_CipherUpdate(c, out != NULL ? out + total : NULL, &w, in + done, n) != 1 ||
		    w < 0)
			return CKR_FUNCTION_FAILED;
		done += (size_t)n;
		total += (size_t)w;
	}
	*written = total;
	return CKR_OK;
}

/* Checks a CK_GCM_PARAMS (3.0 layout) and records the tag length. */
static CK_RV gcm_param(ch_op *op, const CK_MECHANISM *m)
{
	const CK_GCM_PARAMS *p = m->pParameter;
	gcm_state *st = op->st;

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
	const ch_attr *v = ch_attrs_get(key, CKA_VALUE);
	const EVP_CIPHER *cipher;
	OSSL_PARAM prm[2];
	size_t iv_len = p->ulIvLen, aad_out;
	int enc = ch_op_encrypts(op);
	CK_RV rv = CKR_KEY_TYPE_INCONSISTENT;

	if (v == NULL || v->value == NULL)
		goto out;
	rv = CKR_KEY_SIZE_RANGE;
	switch (v->len) {
	case 16:
		cipher = ch_mech_cipher(CH_CIPHER_AES_128_GCM);
		break;
	case 24:
		cipher = ch_mech_cipher(CH_CIPHER_AES_192_GCM);
		break;
	case 32:
		cipher = ch_mech_cipher(CH_CIPHER_AES_256_GCM);
		break;
	default:
		goto out;
	}
	rv = CKR_GENERAL_ERROR;
	if (cipher == NULL)
		goto out;
	rv = CKR_HOST_MEMORY;
	if ((op->cctx = EVP_CIPHER_CTX_new()) == NULL)
		goto out;
	rv = CKR_FUNCTION_FAILED;
	prm[0] = OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN, &iv_len);
	prm[1] = OSSL_PARAM_construct_end();
	if (EVP_CipherInit_ex2(op->cctx, cipher, NULL, NULL, enc, prm) != 1 ||
	    EVP_CipherInit_ex2(op->cctx, NULL, v->value, p->pIv, enc, NULL) != 1)
		goto out;
	if (p->ulAADLen > 0 &&
	    (rv = cipher_run(op->cctx, NULL, p->pAAD, p->ulAADLen, &aad_out)) != CKR_OK)
		goto out;
	rv = CKR_OK;
out:
	return rv;
}

static CK_RV gcm_out_len(const ch_op *op, ch_stage stage, CK_ULONG in_len, CK_ULONG *need)
{
	const gcm_state *st = op->st;
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
static CK_RV gcm_seal_part(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                           CK_ULONG *out_len)
{
	size_t w = 0;
	CK_RV rv;

	if ((rv = cipher_run(op->cctx, out, in, in_len, &w)) != CKR_OK)
		return rv;
	if (w != in_len) /* GCM is a stream mode: gcm_out_len promised in_len */
		return CKR_GENERAL_ERROR;
	*out_len = w;
	return CKR_OK;
}

/* Finishes encryption: writes the tag to out. */
static CK_RV gcm_seal_final(ch_op *op, CK_BYTE *out, CK_ULONG *out_len)
{
	gcm_state *st = op->st;
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
static CK_RV gcm_open(ch_op *op, const CK_BYTE *ct, size_t ct_len, CK_BYTE *out, CK_ULONG *out_len)
{
	gcm_state *st = op->st;
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
	if ((rv = cipher_run(op->cctx, out, ct, n, &w)) != CKR_OK)
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

static CK_RV gcm_update(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                        CK_ULONG *out_len)
{
	CK_RV rv;

	if (ch_op_encrypts(op))
		return gcm_seal_part(op, in, in_len, out, out_len);
	if ((rv = ch_op_buffer_append(op, in, in_len)) != CKR_OK)
		return rv;
	*out_len = 0;
	return CKR_OK;
}

static CK_RV gcm_final(ch_op *op, CK_BYTE *out, CK_ULONG *out_len)
{
	if (ch_op_encrypts(op))
		return gcm_seal_final(op, out, out_len);
	return gcm_open(op, op->buf, op->buf_len, out, out_len);
}

static CK_RV gcm_oneshot(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                         CK_ULONG *out_len)
{
	CK_ULONG n = 0, t = 0;
	CK_RV rv;

	if (ch_op_decrypts(op))
		return gcm_open(op, in, in_len, out, out_len);
	if ((rv = gcm_seal_part(op, in, in_len, out, &n)) != CKR_OK ||
	    (rv = gcm_seal_final(op, out + n, &t)) != CKR_OK)
		return rv;
	*out_len = n + t;
	return CKR_OK;
}

static const ch_mech_ops aes_gcm_ops = {
	.state_size = sizeof(gcm_state),
	.param = gcm_param,
	.start = gcm_start,
	.out_len = gcm_out_len,
	.oneshot = gcm_oneshot,
	.update = gcm_update,
	.final = gcm_final,
};

/* The family's rows; sizes are key bytes (PKCS#11 3.0 section 2.13). */
static const ch_mech aes_mechs[] = {
	{
	        .type = CKM_AES_KEY_GEN,
	        .info = { 16, 32, CKF_GENERATE },
	        .key_use = CH_KEY_SECRET,
	        .key_type = CKK_AES,
	        .ops = &aes_keygen_ops,
	},
	{
	        .type = CKM_AES_GCM,
	        .info = { 16, 32, CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP |
	                           CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT },
	        .key_use = CH_KEY_SECRET,
	        .key_type = CKK_AES,
	        .ops = &aes_gcm_ops,
	},
};

const ch_mech_family ch_family_aes = CH_FAMILY(aes_mechs);
