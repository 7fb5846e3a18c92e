/*
 * The ChaCha20 family: CKM_CHACHA20_KEY_GEN (32-byte CKK_CHACHA20 keys)
 * and CKM_CHACHA20_POLY1305 (RFC 8439 AEAD, PKCS#11 3.0 section 2.41), over
 * OpenSSL's "ChaCha20-Poly1305" cipher.
 *
 * The parameter is a CK_SALSA20_CHACHA20_POLY1305_PARAMS: a nonce of
 * exactly 12 bytes (OpenSSL would quietly pad a shorter one with zeros, so
 * the length is checked here, and the 8-byte original ChaCha nonce is not
 * offered) and optional AAD.  Output is ciphertext || 16-byte tag, through
 * the streaming AEAD hooks of mech_aes_aead.c: encryption streams,
 * decryption buffers its updates and releases nothing before the tag has
 * been checked (CKR_ENCRYPTED_DATA_INVALID, output wiped, otherwise).
 * The message-based API (mech_msg.c) runs each message as one such
 * operation.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "mech_aes.h"

#define CHACHA_KEY   32
#define CHACHA_NONCE 12
#define POLY1305_TAG 16

/* C_GenerateKey with CKM_CHACHA20_KEY_GEN: 32 fresh bytes.  CKA_VALUE_LEN
 * is optional; given, it must be 32. */
static CK_RV chacha_generate_key(const ch_mech *row, const CK_MECHANISM *m, ch_attrs *key)
{
	CK_BYTE value[CHACHA_KEY];
	CK_ULONG len = CHACHA_KEY;
	CK_RV rv;

	(void)row;
	if ((rv = ch_mech_no_param(m)) != CKR_OK)
		goto out;
	rv = CKR_ATTRIBUTE_VALUE_INVALID;
	if (ch_attrs_get(key, CKA_VALUE_LEN) != NULL && !ch_attrs_ulong(key, CKA_VALUE_LEN, &len))
		goto out;
	rv = CKR_KEY_SIZE_RANGE;
	if (len != CHACHA_KEY)
		goto out;
	if ((rv = ch_rng_priv_bytes(value, sizeof(value))) != CKR_OK)
		goto out;
	rv = ch_attrs_set(key, CKA_VALUE, value, sizeof(value));
out:
	OPENSSL_cleanse(value, sizeof(value));
	return rv;
}

static const ch_mech_ops chacha_keygen_ops = {
	.generate_key = chacha_generate_key,
};

static CK_RV chacha_poly_param(ch_op *op, const CK_MECHANISM *m)
{
	const CK_SALSA20_CHACHA20_POLY1305_PARAMS *p = m->pParameter;
	ch_aead_state *st = op->st;

	if (p == NULL || m->ulParameterLen != sizeof(*p))
		return CKR_MECHANISM_PARAM_INVALID;
	if (p->pNonce == NULL || p->ulNonceLen != CHACHA_NONCE)
		return CKR_MECHANISM_PARAM_INVALID;
	if (p->pAAD == NULL && p->ulAADLen > 0)
		return CKR_MECHANISM_PARAM_INVALID;
	st->tag_len = POLY1305_TAG;
	return CKR_OK;
}

static CK_RV chacha_poly_start(ch_op *op, const CK_MECHANISM *m, const ch_attrs *key)
{
	const CK_SALSA20_CHACHA20_POLY1305_PARAMS *p = m->pParameter;
	const ch_attr *v = ch_attrs_get(key, CKA_VALUE);
	const EVP_CIPHER *cipher;
	int enc = ch_op_encrypts(op);
	size_t w;
	CK_RV rv;

	if (v == NULL || v->value == NULL)
		return CKR_KEY_TYPE_INCONSISTENT;
	if (v->len != CHACHA_KEY)
		return CKR_KEY_SIZE_RANGE;
	if ((cipher = ch_mech_cipher(CH_CIPHER_CHACHA20_POLY1305)) == NULL)
		return CKR_GENERAL_ERROR;
	if ((op->cctx = EVP_CIPHER_CTX_new()) == NULL)
		return CKR_HOST_MEMORY;
	if (EVP_CipherInit_ex2(op->cctx, cipher, v->value, p->pNonce, enc, NULL) != 1)
		return CKR_FUNCTION_FAILED;
	if (p->ulAADLen > 0 &&
	    (rv = ch_cipher_run(op->cctx, NULL, p->pAAD, p->ulAADLen, &w)) != CKR_OK)
		return rv;
	return CKR_OK;
}

static const ch_mech_ops chacha_poly_ops = {
	.state_size = sizeof(ch_aead_state),
	.param = chacha_poly_param,
	.start = chacha_poly_start,
	.out_len = ch_aead_out_len,
	.oneshot = ch_aead_oneshot,
	.update = ch_aead_update,
	.final = ch_aead_final,
};

/* The family's rows; sizes are key bytes. */
static const ch_mech chacha_mechs[] = {
	{
	        .type = CKM_CHACHA20_KEY_GEN,
	        .info = { CHACHA_KEY, CHACHA_KEY, CKF_GENERATE },
	        .key_use = CH_KEY_SECRET,
	        .key_type = CKK_CHACHA20,
	        .ops = &chacha_keygen_ops,
	},
	{
	        .type = CKM_CHACHA20_POLY1305,
	        .info = { CHACHA_KEY, CHACHA_KEY,
	                  CKF_ENCRYPT | CKF_DECRYPT | CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT },
	        .key_use = CH_KEY_SECRET,
	        .key_type = CKK_CHACHA20,
	        .ops = &chacha_poly_ops,
	},
};

const ch_mech_family ch_family_chacha = CH_FAMILY(chacha_mechs);
