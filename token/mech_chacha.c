/*
 * The ChaCha20 family: CKM_CHACHA20_KEY_GEN (32-byte CKK_CHACHA20 keys),
 * CKM_CHACHA20_POLY1305 (RFC 8439 AEAD, PKCS#11 3.0 section 2.41) and the
 * plain stream cipher CKM_CHACHA20 (section 2.40), over OpenSSL's
 * "ChaCha20-Poly1305" and "ChaCha20" ciphers.
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
 *
 * CKM_CHACHA20 takes a CK_CHACHA20_PARAMS: a 32-bit block counter with a
 * 96-bit nonce (RFC 8439) or a 64-bit counter with a 64-bit nonce (the
 * original ChaCha).  pBlockCounter holds the counter's bytes as they stand
 * in the ChaCha state, little endian (the layout QUIC header protection
 * and other PKCS#11 clients use), so counter || nonce is OpenSSL's 16-byte
 * IV.  Data that would take the counter past its last value (2^32 - 1 for
 * the 32-bit counter, where OpenSSL would carry into the nonce) is refused
 * with CKR_DATA_LEN_RANGE (CKR_ENCRYPTED_DATA_LEN_RANGE for decryption)
 * before any of it is processed.  Encryption and decryption are the same
 * stream: every update returns what it was given.
 */
#include <stdint.h>
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
	return ch_mech_random_key(m, key, CHACHA_KEY, CHACHA_KEY, 1, CHACHA_KEY);
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

/* ---------------------------------------------------------------------- */
/* CKM_CHACHA20                                                            */
/* ---------------------------------------------------------------------- */

#define CHACHA_BLOCK 64

/* Per-operation state of CKM_CHACHA20. */
typedef struct chacha_state {
	CK_BYTE iv[16];      /* counter || nonce, as OpenSSL takes them */
	uint64_t max_blocks; /* blocks the counter allows; UINT64_MAX: no limit */
	uint64_t done;       /* bytes processed */
} chacha_state;

static CK_RV chacha_param(ch_op *op, const CK_MECHANISM *m)
{
	const CK_CHACHA20_PARAMS *p = m->pParameter;
	chacha_state *st = op->st;
	size_t cb, i;
	uint64_t ctr = 0;

	if (p == NULL || m->ulParameterLen != sizeof(*p) || p->pBlockCounter == NULL ||
	    p->pNonce == NULL)
		return CKR_MECHANISM_PARAM_INVALID;
	if (!(p->blockCounterBits == 32 && p->ulNonceBits == 96) &&
	    !(p->blockCounterBits == 64 && p->ulNonceBits == 64))
		return CKR_MECHANISM_PARAM_INVALID;
	cb = p->blockCounterBits / 8;
	memcpy(st->iv, p->pBlockCounter, cb);
	memcpy(st->iv + cb, p->pNonce, sizeof(st->iv) - cb);
	for (i = cb; i-- > 0;)
		ctr = ctr << 8 | st->iv[i];
	if (cb == 4)
		st->max_blocks = ((uint64_t)1 << 32) - ctr;
	else
		st->max_blocks = ctr == 0 ? UINT64_MAX : (uint64_t)0 - ctr; /* 2^64 - ctr */
	return CKR_OK;
}

static CK_RV chacha_start(ch_op *op, const CK_MECHANISM *m, const ch_attrs *key)
{
	chacha_state *st = op->st;
	const ch_attr *v = ch_attrs_get(key, CKA_VALUE);
	const EVP_CIPHER *cipher;

	(void)m;
	if (v == NULL || v->value == NULL)
		return CKR_KEY_TYPE_INCONSISTENT;
	if (v->len != CHACHA_KEY)
		return CKR_KEY_SIZE_RANGE;
	if ((cipher = ch_mech_cipher(CH_CIPHER_CHACHA20)) == NULL)
		return CKR_GENERAL_ERROR;
	if ((op->cctx = EVP_CIPHER_CTX_new()) == NULL)
		return CKR_HOST_MEMORY;
	if (EVP_CipherInit_ex2(op->cctx, cipher, v->value, st->iv, ch_op_encrypts(op), NULL) != 1)
		return CKR_FUNCTION_FAILED;
	return CKR_OK;
}

static CK_RV chacha_out_len(const ch_op *op, ch_stage stage, CK_ULONG in_len, CK_ULONG *need)
{
	const chacha_state *st = op->st;
	CK_RV range = ch_op_encrypts(op) ? CKR_DATA_LEN_RANGE : CKR_ENCRYPTED_DATA_LEN_RANGE;
	uint64_t total;

	if (in_len > UINT64_MAX - st->done)
		return range;
	total = st->done + in_len;
	if (total / CHACHA_BLOCK + (total % CHACHA_BLOCK != 0) > st->max_blocks)
		return range;
	*need = stage == CH_STAGE_FINAL ? 0 : in_len;
	return CKR_OK;
}

static CK_RV chacha_update(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                           CK_ULONG *out_len)
{
	chacha_state *st = op->st;
	size_t w = 0;
	CK_RV rv;

	if (in_len > 0 && (rv = ch_cipher_run(op->cctx, out, in, in_len, &w)) != CKR_OK)
		return rv;
	if (w != in_len)
		return CKR_GENERAL_ERROR;
	st->done += in_len;
	*out_len = in_len;
	return CKR_OK;
}

static CK_RV chacha_final(ch_op *op, CK_BYTE *out, CK_ULONG *out_len)
{
	(void)op;
	(void)out;
	*out_len = 0;
	return CKR_OK;
}

static const ch_mech_ops chacha_ops = {
	.state_size = sizeof(chacha_state),
	.param = chacha_param,
	.start = chacha_start,
	.out_len = chacha_out_len,
	.update = chacha_update,
	.final = chacha_final,
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
	{
	        .type = CKM_CHACHA20,
	        .info = { CHACHA_KEY, CHACHA_KEY, CKF_ENCRYPT | CKF_DECRYPT },
	        .key_use = CH_KEY_SECRET,
	        .key_type = CKK_CHACHA20,
	        .ops = &chacha_ops,
	},
};

const ch_mech_family ch_family_chacha = CH_FAMILY(chacha_mechs);
