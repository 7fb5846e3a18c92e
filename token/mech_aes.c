/*
 * The AES family (PKCS#11 3.0 sections 2.13 to 2.16) over OpenSSL's EVP
 * cipher and MAC APIs: the family's table, CKM_AES_KEY_GEN, and the block
 * modes CKM_AES_ECB, CKM_AES_CBC, CKM_AES_CBC_PAD and CKM_AES_CTR.  GCM
 * and CCM live in mech_aes_aead.c, CMAC in mech_aes_mac.c, key wrap in
 * mech_aes_wrap.c.
 *
 * The block modes keep OpenSSL's context free of partial blocks: whatever
 * does not make a whole block yet waits in op->buf, and EVP only ever sees
 * whole blocks with its padding off.  That makes every output length exact
 * and known before the call (PKCS#11's buffer convention needs it):
 *   - ECB and CBC: each update returns the whole blocks it completes; data
 *     that is not a multiple of 16 bytes is CKR_DATA_LEN_RANGE (encrypt) or
 *     CKR_ENCRYPTED_DATA_LEN_RANGE (decrypt), found at the final call.
 *   - CBC_PAD encrypt: as CBC, and the final call returns the padded last
 *     block (PKCS#7: 1 to 16 bytes of value n).
 *   - CBC_PAD decrypt: each update holds back the last block it could
 *     decrypt, since it may be the padded one; the final call decrypts it
 *     and strips the padding.  How much padding there is is known only
 *     after decrypting, so this row reports upper bounds (out_is_bound) and
 *     answers short buffers itself.  The padding is checked in constant
 *     time and every bad padding is CKR_ENCRYPTED_DATA_INVALID.
 *   - CTR: a stream; each update returns what it was given.  The counter is
 *     the low ulCounterBits bits of cb; data that would wrap it is refused
 *     (CKR_DATA_LEN_RANGE, CKR_ENCRYPTED_DATA_LEN_RANGE for decrypt) before
 *     any of it is processed.
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "mech_aes.h"

#define AES_BLOCK 16

/* The block modes, in ch_mech.arg. */
enum blk_mode { BLK_ECB, BLK_CBC, BLK_CBC_PAD, BLK_CTR };

/* Per-operation state of the block modes. */
typedef struct blk_state {
	CK_BYTE iv[AES_BLOCK]; /* CBC's IV, CTR's counter block */
	uint64_t ctr_max;      /* CTR: blocks the counter allows; UINT64_MAX: no limit */
	uint64_t ctr_done;     /* CTR: bytes processed */
} blk_state;

CK_RV ch_aes_key(const ch_attrs *key, ch_cipher_id first, const CK_BYTE **value,
                 const EVP_CIPHER **cipher)
{
	const ch_attr *v = ch_attrs_get(key, CKA_VALUE);
	int size;

	if (v == NULL || v->value == NULL)
		return CKR_KEY_TYPE_INCONSISTENT;
	switch (v->len) {
	case 16:
		size = 0;
		break;
	case 24:
		size = 1;
		break;
	case 32:
		size = 2;
		break;
	default:
		return CKR_KEY_SIZE_RANGE;
	}
	if ((*cipher = ch_mech_cipher((ch_cipher_id)(first + size))) == NULL)
		return CKR_GENERAL_ERROR;
	*value = v->value;
	return CKR_OK;
}

CK_RV ch_cipher_run(EVP_CIPHER_CTX *c, CK_BYTE *out, const CK_BYTE *in, size_t len, size_t *written)
{
	size_t done = 0, total = 0;
	int n, w;

	while (done < len) {
		n = len - done > CH_EVP_CHUNK ? CH_EVP_CHUNK : (int)(len - done);
		if (EVP_CipherUpdate(c, out != NULL ? out + total : NULL, &w, in + done, n) != 1 ||
		    w < 0)
			return CKR_FUNCTION_FAILED;
		done += (size_t)n;
		total += (size_t)w;
	}
	*written = total;
	return CKR_OK;
}

/* C_GenerateKey with CKM_AES_KEY_GEN: CKA_VALUE_LEN bytes of fresh key. */
static CK_RV aes_generate_key(const ch_mech *row, const CK_MECHANISM *m, ch_attrs *key)
{
	return ch_mech_random_key(m, key, 16, 32, 8, 0);
}

static const ch_mech_ops aes_keygen_ops = {
	.generate_key = aes_generate_key,
};

/* ---------------------------------------------------------------------- */
/* ECB, CBC, CBC_PAD, CTR                                                  */
/* ---------------------------------------------------------------------- */

static enum blk_mode blk_mode_of(const ch_op *op)
{
	return (enum blk_mode)op->row->arg;
}

/* Blocks a CTR counter of the low bits bits of cb (big endian) can still
 * count, or UINT64_MAX when that is 2^64 or more (more than any data). */
static uint64_t ctr_blocks_left(const CK_BYTE cb[AES_BLOCK], CK_ULONG bits)
{
	uint64_t hi = 0, lo = 0, mask;
	int i;

	for (i = 0; i < 8; i++) {
		hi = hi << 8 | cb[i];
		lo = lo << 8 | cb[8 + i];
	}
	if (bits < 64) {
		lo &= ((uint64_t)1 << bits) - 1;
		return ((uint64_t)1 << bits) - lo;
	}
	if (bits > 64) {
		/* Unless every counter bit above the low 64 is set, at least
		 * 2^64 blocks remain. */
		mask = bits == 128 ? UINT64_MAX : ((uint64_t)1 << (bits - 64)) - 1;
		if ((hi & mask) != mask)
			return UINT64_MAX;
	}
	return lo == 0 ? UINT64_MAX : (uint64_t)0 - lo; /* 2^64 - lo */
}

/* The parameter: none for ECB, a 16-byte IV for CBC and CBC_PAD, a
 * CK_AES_CTR_PARAMS for CTR. */
static CK_RV blk_param(ch_op *op, const CK_MECHANISM *m)
{
	blk_state *st = op->st;
	const CK_AES_CTR_PARAMS *ctr;

	switch (blk_mode_of(op)) {
	case BLK_ECB:
		return ch_mech_no_param(m);
	case BLK_CBC:
	case BLK_CBC_PAD:
		if (m->pParameter == NULL || m->ulParameterLen != AES_BLOCK)
			return CKR_MECHANISM_PARAM_INVALID;
		memcpy(st->iv, m->pParameter, AES_BLOCK);
		return CKR_OK;
	case BLK_CTR:
		ctr = m->pParameter;
		if (ctr == NULL || m->ulParameterLen != sizeof(*ctr))
			return CKR_MECHANISM_PARAM_INVALID;
		if (ctr->ulCounterBits < 1 || ctr->ulCounterBits > 128)
			return CKR_MECHANISM_PARAM_INVALID;
		memcpy(st->iv, ctr->cb, AES_BLOCK);
		st->ctr_max = ctr_blocks_left(ctr->cb, ctr->ulCounterBits);
		return CKR_OK;
	}
	return CKR_GENERAL_ERROR;
}

static CK_RV blk_start(ch_op *op, const CK_MECHANISM *m, const ch_attrs *key)
{
	static const ch_cipher_id first[] = {
		[BLK_ECB] = CH_CIPHER_AES_128_ECB,
		[BLK_CBC] = CH_CIPHER_AES_128_CBC,
		[BLK_CBC_PAD] = CH_CIPHER_AES_128_CBC,
		[BLK_CTR] = CH_CIPHER_AES_128_CTR,
	};
	blk_state *st = op->st;
	enum blk_mode mode = blk_mode_of(op);
	const CK_BYTE *value;
	const EVP_CIPHER *cipher;
	CK_RV rv;

	(void)m;
	if ((rv = ch_aes_key(key, first[mode], &value, &cipher)) != CKR_OK)
		return rv;
	if ((op->cctx = EVP_CIPHER_CTX_new()) == NULL)
		return CKR_HOST_MEMORY;
	if (EVP_CipherInit_ex2(op->cctx, cipher, value, mode == BLK_ECB ? NULL : st->iv,
	                       ch_op_encrypts(op), NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(op->cctx, 0) != 1)
		return CKR_FUNCTION_FAILED;
	return CKR_OK;
}

/* How many of total pending bytes an update can process now: whole blocks,
 * less the last one when a CBC_PAD decryption must hold it back. */
static size_t blk_emit(const ch_op *op, size_t total)
{
	if (blk_mode_of(op) == BLK_CBC_PAD && ch_op_decrypts(op))
		return total > 0 ? (total - 1) / AES_BLOCK * AES_BLOCK : 0;
	return total / AES_BLOCK * AES_BLOCK;
}

static CK_RV blk_len_range(const ch_op *op)
{
	return ch_op_encrypts(op) ? CKR_DATA_LEN_RANGE : CKR_ENCRYPTED_DATA_LEN_RANGE;
}

/* CTR: CKR_OK when len more bytes keep the counter from wrapping. */
static CK_RV ctr_room(const ch_op *op, CK_ULONG len)
{
	const blk_state *st = op->st;
	uint64_t total;

	if (len > UINT64_MAX - st->ctr_done)
		return blk_len_range(op);
	total = st->ctr_done + len;
	if (total / AES_BLOCK + (total % AES_BLOCK != 0) > st->ctr_max)
		return blk_len_range(op);
	return CKR_OK;
}

/* Exact lengths, except CBC_PAD decryption's final and one-shot calls,
 * which answer an upper bound (the padding is not yet known). */
static CK_RV blk_out_len(const ch_op *op, ch_stage stage, CK_ULONG in_len, CK_ULONG *need)
{
	enum blk_mode mode = blk_mode_of(op);
	size_t held = op->buf_len;
	CK_RV rv;

	if (mode == BLK_CTR) {
		if ((rv = ctr_room(op, in_len)) != CKR_OK)
			return rv;
		*need = stage == CH_STAGE_FINAL ? 0 : in_len;
		return CKR_OK;
	}
	switch (stage) {
	case CH_STAGE_UPDATE:
		if (in_len > SIZE_MAX - held)
			return blk_len_range(op);
		*need = blk_emit(op, held + in_len);
		return CKR_OK;
	case CH_STAGE_ONESHOT: /* nothing is pending before a one-shot call */
		if (mode == BLK_CBC_PAD && ch_op_encrypts(op)) {
			if (in_len > ULONG_MAX - AES_BLOCK)
				return CKR_DATA_LEN_RANGE;
			*need = in_len / AES_BLOCK * AES_BLOCK + AES_BLOCK;
			return CKR_OK;
		}
		if (in_len % AES_BLOCK != 0 || (mode == BLK_CBC_PAD && in_len == 0))
			return blk_len_range(op);
		*need = in_len;
		return CKR_OK;
	case CH_STAGE_FINAL:
		if (mode == BLK_CBC_PAD && ch_op_encrypts(op)) {
			*need = AES_BLOCK;
			return CKR_OK;
		}
		if (mode == BLK_CBC_PAD) {
			if (held != AES_BLOCK) /* the block held back */
				return CKR_ENCRYPTED_DATA_LEN_RANGE;
			*need = AES_BLOCK;
			return CKR_OK;
		}
		if (held != 0)
			return blk_len_range(op);
		*need = 0;
		return CKR_OK;
	}
	return CKR_GENERAL_ERROR;
}

/* For the rows whose lengths the driver did not check (out_is_bound):
 * answers a short buffer for an exactly known length. */
static CK_RV blk_room(const ch_op *op, CK_ULONG need, CK_ULONG *out_len)
{
	if (op->row->ops->out_is_bound && *out_len < need) {
		*out_len = need;
		return CKR_BUFFER_TOO_SMALL;
	}
	return CKR_OK;
}

/* Runs whole blocks (len a multiple of 16, or anything for CTR). */
static CK_RV blk_run(ch_op *op, const CK_BYTE *in, size_t len, CK_BYTE *out)
{
	size_t w = 0;
	CK_RV rv;

	if (len == 0)
		return CKR_OK;
	if ((rv = ch_cipher_run(op->cctx, out, in, len, &w)) != CKR_OK)
		return rv;
	return w == len ? CKR_OK : CKR_GENERAL_ERROR;
}

static CK_RV blk_update(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                        CK_ULONG *out_len)
{
	blk_state *st = op->st;
	CK_BYTE blk[AES_BLOCK];
	size_t held = op->buf_len, emit, used = 0, w = 0, take;
	static const CK_BYTE none[1];
	CK_RV rv;

	if (in == NULL)
		in = none; /* in_len is 0 */
	if (blk_mode_of(op) == BLK_CTR) {
		if ((rv = blk_room(op, in_len, out_len)) != CKR_OK ||
		    (rv = blk_run(op, in, in_len, out)) != CKR_OK)
			return rv;
		st->ctr_done += in_len;
		*out_len = in_len;
		return CKR_OK;
	}
	emit = blk_emit(op, held + in_len);
	if ((rv = blk_room(op, emit, out_len)) != CKR_OK)
		return rv;
	if (emit > 0 && held > 0) {
		/* Complete the held block first. */
		take = AES_BLOCK - held;
		memcpy(blk, op->buf, held);
		memcpy(blk + held, in, take);
		rv = blk_run(op, blk, AES_BLOCK, out);
		OPENSSL_cleanse(blk, sizeof(blk));
		if (rv != CKR_OK)
			return rv;
		used = take;
		w = AES_BLOCK;
		OPENSSL_cleanse(op->buf, op->buf_len);
		op->buf_len = 0;
	}
	if ((rv = blk_run(op, in + used, emit - w, out + w)) != CKR_OK)
		return rv;
	used += emit - w;
	if ((rv = ch_op_buffer_append(op, in + used, in_len - used)) != CKR_OK)
		return rv;
	*out_len = emit;
	return CKR_OK;
}

/* The number of PKCS#7 padding bytes of the decrypted block b (1 to 16),
 * or 0 when the padding is malformed.  Constant time: every byte is
 * looked at, the same way, whatever the padding. */
static size_t pkcs7_pad_len(const CK_BYTE b[AES_BLOCK])
{
	unsigned pad = b[AES_BLOCK - 1], bad, i, in_pad;

	/* bad gets bit 8 set for any fault: pad 0, pad > 16, a wrong byte. */
	bad = (pad - 1u) & 0x100u;   /* pad == 0 */
	bad |= (16u - pad) & 0x100u; /* pad > 16 */
	for (i = 0; i < AES_BLOCK; i++) {
		/* in_pad: all ones when byte i is among the last pad bytes. */
		in_pad = 0u - (((AES_BLOCK - 1u - i) - pad) >> 8 & 1u);
		bad |= in_pad & (((unsigned)b[i] ^ pad) + 0xffu) & 0x100u;
	}
	/* mask is all ones when bad is 0 */
	return (size_t)(pad & ((bad >> 8) - 1u));
}

static CK_RV blk_final(ch_op *op, CK_BYTE *out, CK_ULONG *out_len)
{
	enum blk_mode mode = blk_mode_of(op);
	EVP_CIPHER_CTX *tmp = NULL;
	CK_BYTE blk[AES_BLOCK];
	size_t held = op->buf_len, pad, n = 0;
	CK_RV rv = CKR_OK;

	if (mode != BLK_CBC_PAD) {
		*out_len = 0;
		return CKR_OK;
	}
	if (ch_op_encrypts(op)) {
		if ((rv = blk_room(op, AES_BLOCK, out_len)) != CKR_OK)
			return rv;
		pad = AES_BLOCK - held;
		if (held > 0)
			memcpy(blk, op->buf, held);
		memset(blk + held, (int)pad, pad);
		rv = blk_run(op, blk, AES_BLOCK, out);
		OPENSSL_cleanse(blk, sizeof(blk));
		if (rv == CKR_OK)
			*out_len = AES_BLOCK;
		return rv;
	}
	/* Decrypt the held block on a copy of the context, so that a short
	 * buffer leaves the operation as it was. */
	if ((tmp = EVP_CIPHER_CTX_new()) == NULL)
		return CKR_HOST_MEMORY;
	rv = CKR_FUNCTION_FAILED;
	if (EVP_CIPHER_CTX_copy(tmp, op->cctx) != 1)
		goto out;
	if ((rv = ch_cipher_run(tmp, blk, op->buf, AES_BLOCK, &n)) != CKR_OK)
		goto out;
	rv = CKR_ENCRYPTED_DATA_INVALID;
	if ((pad = pkcs7_pad_len(blk)) == 0)
		goto out;
	n = AES_BLOCK - pad;
	rv = CKR_BUFFER_TOO_SMALL;
	if (*out_len < n) {
		*out_len = n;
		goto out;
	}
	memcpy(out, blk, n);
	*out_len = n;
	rv = CKR_OK;
out:
	OPENSSL_cleanse(blk, sizeof(blk));
	EVP_CIPHER_CTX_free(tmp);
	return rv;
}

/* CBC_PAD decryption in one call: decrypts into a scratch buffer, strips
 * the padding, and copies out only what the caller's buffer takes; a short
 * buffer rewinds the IV so that the retry starts over. */
static CK_RV cbc_pad_open(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                          CK_ULONG *out_len)
{
	blk_state *st = op->st;
	CK_BYTE *tmp = NULL;
	size_t pad, n = 0;
	CK_RV rv = CKR_FUNCTION_FAILED;

	if (EVP_CipherInit_ex2(op->cctx, NULL, NULL, st->iv, 0, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(op->cctx, 0) != 1)
		goto out;
	rv = CKR_HOST_MEMORY;
	if ((tmp = OPENSSL_malloc(in_len)) == NULL)
		goto out;
	if ((rv = blk_run(op, in, in_len, tmp)) != CKR_OK)
		goto out;
	rv = CKR_ENCRYPTED_DATA_INVALID;
	if ((pad = pkcs7_pad_len(tmp + in_len - AES_BLOCK)) == 0)
		goto out;
	n = in_len - pad;
	if (*out_len < n) {
		*out_len = n;
		rv = CKR_BUFFER_TOO_SMALL;
		goto out;
	}
	memcpy(out, tmp, n);
	*out_len = n;
	rv = CKR_OK;
out:
	OPENSSL_clear_free(tmp, in_len);
	return rv;
}

static CK_RV blk_oneshot(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                         CK_ULONG *out_len)
{
	CK_ULONG need = 0, n1, n2;
	CK_RV rv;

	if (blk_mode_of(op) == BLK_CBC_PAD && ch_op_decrypts(op))
		return cbc_pad_open(op, in, in_len, out, out_len);
	if ((rv = blk_out_len(op, CH_STAGE_ONESHOT, in_len, &need)) != CKR_OK ||
	    (rv = blk_room(op, need, out_len)) != CKR_OK)
		return rv;
	n1 = need;
	if ((rv = blk_update(op, in, in_len, out, &n1)) != CKR_OK)
		return rv;
	n2 = need - n1;
	if ((rv = blk_final(op, out + n1, &n2)) != CKR_OK)
		return rv;
	*out_len = n1 + n2;
	return CKR_OK;
}

static const ch_mech_ops aes_blk_ops = {
	.state_size = sizeof(blk_state),
	.param = blk_param,
	.start = blk_start,
	.out_len = blk_out_len,
	.oneshot = blk_oneshot,
	.update = blk_update,
	.final = blk_final,
};

/* CBC_PAD: the same hooks, with upper-bound lengths. */
static const ch_mech_ops aes_blk_pad_ops = {
	.state_size = sizeof(blk_state),
	.param = blk_param,
	.start = blk_start,
	.out_len = blk_out_len,
	.out_is_bound = true,
	.oneshot = blk_oneshot,
	.update = blk_update,
	.final = blk_final,
};

/* ---------------------------------------------------------------------- */
/* The table                                                               */
/* ---------------------------------------------------------------------- */

#define AES_CIPHER_FLAGS (CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP)

/* The family's rows; sizes are key bytes.  The flags are those PKCS#11
 * 3.0 lists for each mechanism (2.13 to 2.16). */
static const ch_mech aes_mechs[] = {
	{
	        .type = CKM_AES_KEY_GEN,
	        .info = { 16, 32, CKF_GENERATE },
	        .key_use = CH_KEY_SECRET,
	        .key_type = CKK_AES,
	        .ops = &aes_keygen_ops,
	},
	{
	        .type = CKM_AES_ECB,
	        .info = { 16, 32, AES_CIPHER_FLAGS },
	        .key_use = CH_KEY_SECRET,
	        .key_type = CKK_AES,
	        .ops = &aes_blk_ops,
	        .arg = BLK_ECB,
	},
	{
	        .type = CKM_AES_CBC,
	        .info = { 16, 32, AES_CIPHER_FLAGS },
	        .key_use = CH_KEY_SECRET,
	        .key_type = CKK_AES,
	        .ops = &aes_blk_ops,
	        .arg = BLK_CBC,
	},
	{
	        .type = CKM_AES_CBC_PAD,
	        .info = { 16, 32, AES_CIPHER_FLAGS },
	        .key_use = CH_KEY_SECRET,
	        .key_type = CKK_AES,
	        .ops = &aes_blk_pad_ops,
	        .arg = BLK_CBC_PAD,
	},
	{
	        .type = CKM_AES_CTR,
	        .info = { 16, 32, AES_CIPHER_FLAGS },
	        .key_use = CH_KEY_SECRET,
	        .key_type = CKK_AES,
	        .ops = &aes_blk_ops,
	        .arg = BLK_CTR,
	},
	{
	        .type = CKM_AES_GCM,
	        .info = { 16, 32, AES_CIPHER_FLAGS | CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT },
	        .key_use = CH_KEY_SECRET,
	        .key_type = CKK_AES,
	        .ops = &ch_aes_gcm_ops,
	},
	{
	        .type = CKM_AES_CCM,
	        .info = { 16, 32, AES_CIPHER_FLAGS },
	        .key_use = CH_KEY_SECRET,
	        .key_type = CKK_AES,
	        .ops = &ch_aes_ccm_ops,
	},
	{
	        .type = CKM_AES_CMAC,
	        .info = { 16, 32, CKF_SIGN | CKF_VERIFY },
	        .key_use = CH_KEY_SECRET,
	        .key_type = CKK_AES,
	        .ops = &ch_aes_cmac_ops,
	        .arg = 0,
	},
	{
	        .type = CKM_AES_CMAC_GENERAL,
	        .info = { 16, 32, CKF_SIGN | CKF_VERIFY },
	        .key_use = CH_KEY_SECRET,
	        .key_type = CKK_AES,
	        .ops = &ch_aes_cmac_ops,
	        .arg = 1,
	},
	{
	        .type = CKM_AES_KEY_WRAP,
	        .info = { 16, 32, AES_CIPHER_FLAGS },
	        .flags = CH_MECH_SINGLE_PART,
	        .key_use = CH_KEY_SECRET,
	        .key_type = CKK_AES,
	        .ops = &ch_aes_kw_ops,
	},
	{
	        .type = CKM_AES_KEY_WRAP_KWP,
	        .info = { 16, 32, AES_CIPHER_FLAGS },
	        .flags = CH_MECH_SINGLE_PART,
	        .key_use = CH_KEY_SECRET,
	        .key_type = CKK_AES,
	        .ops = &ch_aes_kwp_ops,
	},
};

const ch_mech_family ch_family_aes = CH_FAMILY(aes_mechs);
