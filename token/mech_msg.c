/*
 * Message-based encryption and decryption (PKCS#11 3.0 sections 5.9 and
 * 5.11) for the AEAD mechanisms: CKM_AES_GCM and CKM_CHACHA20_POLY1305.
 *
 * A message-based operation is a key and a mechanism under which many
 * messages are sealed, each with its own IV or nonce, associated data and
 * tag, passed per message in CK_GCM_MESSAGE_PARAMS or
 * CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS.  Rather than a second
 * implementation of each AEAD, every message here is one ordinary operation
 * of the family (ch_op_init with the single-message parameters the family
 * already understands), whose output ct || tag is split into the ciphertext
 * and the caller's pTag; decryption joins them the other way.  So the
 * message API gets the families' checks, tag handling and wiping for free,
 * including the rule that no plaintext leaves before its tag is checked.
 *
 * IVs (GCM, encryption): with CKG_NO_GENERATE the caller's IV is used as
 * given; otherwise the token writes it into pIv, keeping the leading
 * ulIvFixedBits of the caller's IV.  CKG_GENERATE and CKG_GENERATE_RANDOM
 * fill the rest from the DRBG; CKG_GENERATE_COUNTER puts a counter there,
 * started at a random value when the operation begins and stepped once per
 * message, so the IVs of one operation never repeat (and two operations
 * under one key collide only by chance, as random IVs would).
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "mech_impl.h"

#define GCM_IV_MAX  256 /* the longest IV a message may carry here */
#define MSG_TAG_MAX 16

struct ch_msg {
	bool enc;
	CK_MECHANISM_TYPE type;
	ch_attrs *key;   /* a copy, wiped on free */
	ch_op *op;       /* the message in progress (Begin ... Next) */
	CK_BYTE ctr[16]; /* CKG_GENERATE_COUNTER: the next counter, big endian */
	bool ctr_set;
};

/* One message's parameters, as the family's single-message mechanism
 * wants them. */
typedef struct msg_params {
	CK_MECHANISM m;
	CK_GCM_PARAMS gcm;
	CK_SALSA20_CHACHA20_POLY1305_PARAMS chacha;
	CK_BYTE *tag; /* the caller's pTag */
	size_t tag_len;
} msg_params;

void ch_msg_free(ch_msg *msg)
{
	if (msg == NULL)
		return;
	ch_op_free(msg->op);
	ch_attrs_free(msg->key);
	OPENSSL_clear_free(msg, sizeof(*msg));
}

const ch_attrs *ch_msg_key(const ch_msg *msg)
{
	return msg->key;
}

/* Adds 1 to the big-endian counter of n bytes. */
static void ctr_step(CK_BYTE *c, size_t n)
{
	while (n-- > 0)
		if (++c[n] != 0)
			break;
}

/* Writes a fresh IV into p->pIv per p->ivGenerator (encryption only). */
static CK_RV gcm_make_iv(ch_msg *msg, CK_GCM_MESSAGE_PARAMS *p)
{
	size_t fixed = p->ulIvFixedBits / 8, n = p->ulIvLen, free_len;
	CK_BYTE rnd[GCM_IV_MAX];
	CK_RV rv;

	if (p->ivGenerator == CKG_NO_GENERATE)
		return CKR_OK;
	if (p->ulIvFixedBits % 8 != 0 || fixed >= n)
		return CKR_MECHANISM_PARAM_INVALID;
	free_len = n - fixed;
	switch (p->ivGenerator) {
	case CKG_GENERATE:
	case CKG_GENERATE_RANDOM:
		if ((rv = ch_rng_priv_bytes(rnd, free_len)) != CKR_OK)
			return rv;
		memcpy(p->pIv + fixed, rnd, free_len);
		return CKR_OK;
	case CKG_GENERATE_COUNTER:
		if (free_len > sizeof(msg->ctr))
			return CKR_MECHANISM_PARAM_INVALID;
		if (!msg->ctr_set) {
			if ((rv = ch_rng_priv_bytes(msg->ctr, sizeof(msg->ctr))) != CKR_OK)
				return rv;
			msg->ctr_set = true;
		}
		memcpy(p->pIv + fixed, msg->ctr + sizeof(msg->ctr) - free_len, free_len);
		ctr_step(msg->ctr, sizeof(msg->ctr));
		return CKR_OK;
	default:
		return CKR_MECHANISM_PARAM_INVALID;
	}
}

/* Reads the caller's per-message parameter into mp; gen: generate the IV
 * now (an encryption that will run, not a length query). */
static CK_RV params_of(ch_msg *msg, void *param, CK_ULONG plen, const CK_BYTE *aad,
                       CK_ULONG aad_len, bool gen, msg_params *mp)
{
	CK_RV rv;

	memset(mp, 0, sizeof(*mp));
	mp->m.mechanism = msg->type;
	if (param == NULL)
		return CKR_ARGUMENTS_BAD;
	if (msg->type == CKM_AES_GCM) {
		CK_GCM_MESSAGE_PARAMS *p = param;

		if (plen != sizeof(*p) || p->pIv == NULL || p->ulIvLen == 0 ||
		    p->ulIvLen > GCM_IV_MAX || p->pTag == NULL || p->ulTagBits % 8 != 0 ||
		    p->ulTagBits / 8 > MSG_TAG_MAX)
			return CKR_MECHANISM_PARAM_INVALID;
		if (gen && msg->enc && (rv = gcm_make_iv(msg, p)) != CKR_OK)
			return rv;
		mp->gcm.pIv = p->pIv;
		mp->gcm.ulIvLen = p->ulIvLen;
		mp->gcm.ulIvBits = p->ulIvLen * 8;
		mp->gcm.pAAD = (CK_BYTE_PTR)aad;
		mp->gcm.ulAADLen = aad_len;
		mp->gcm.ulTagBits = p->ulTagBits;
		mp->m.pParameter = &mp->gcm;
		mp->m.ulParameterLen = sizeof(mp->gcm);
		mp->tag = p->pTag;
		mp->tag_len = p->ulTagBits / 8;
		return CKR_OK;
	}
	if (msg->type == CKM_CHACHA20_POLY1305) {
		CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS *p = param;

		if (plen != sizeof(*p) || p->pNonce == NULL || p->pTag == NULL)
			return CKR_MECHANISM_PARAM_INVALID;
		mp->chacha.pNonce = p->pNonce;
		mp->chacha.ulNonceLen = p->ulNonceLen;
		mp->chacha.pAAD = (CK_BYTE_PTR)aad;
		mp->chacha.ulAADLen = aad_len;
		mp->m.pParameter = &mp->chacha;
		mp->m.ulParameterLen = sizeof(mp->chacha);
		mp->tag = p->pTag;
		mp->tag_len = MSG_TAG_MAX;
		return CKR_OK;
	}
	return CKR_MECHANISM_INVALID;
}

static CK_RV msg_init(bool enc, const CK_MECHANISM *m, const ch_attrs *key, ch_msg **out)
{
	CK_MECHANISM_INFO info;
	CK_BYTE iv[12] = { 0 }, tag[MSG_TAG_MAX];
	CK_GCM_MESSAGE_PARAMS gp = { iv, sizeof(iv), 0, CKG_NO_GENERATE, tag, 128 };
	CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS cp = { iv, sizeof(iv), tag };
	ch_msg *msg = NULL;
	msg_params mp;
	ch_op *probe = NULL;
	CK_RV rv = CKR_MECHANISM_INVALID;

	*out = NULL;
	if (ch_mech_info(m->mechanism, &info) != CKR_OK ||
	    !(info.flags & (enc ? CKF_MESSAGE_ENCRYPT : CKF_MESSAGE_DECRYPT)))
		goto out;
	/* The parameters come with each message. */
	rv = CKR_MECHANISM_PARAM_INVALID;
	if (m->pParameter != NULL || m->ulParameterLen != 0)
		goto out;
	rv = CKR_HOST_MEMORY;
	if ((msg = OPENSSL_zalloc(sizeof(*msg))) == NULL || (msg->key = ch_attrs_dup(key)) == NULL)
		goto out;
	msg->enc = enc;
	msg->type = m->mechanism;
	/* A trial message start checks the key as the family would. */
	if ((rv = params_of(msg, m->mechanism == CKM_AES_GCM ? (void *)&gp : (void *)&cp,
	                    m->mechanism == CKM_AES_GCM ? sizeof(gp) : sizeof(cp), NULL, 0, false,
	                    &mp)) != CKR_OK ||
	    (rv = ch_op_init(enc ? CH_OP_ENCRYPT : CH_OP_DECRYPT, &mp.m, msg->key, &probe)) !=
	            CKR_OK)
		goto out;
	*out = msg;
	msg = NULL; /* transferred */
out:
	ch_op_free(probe);
	ch_msg_free(msg);
	return rv;
}

/* Starts msg->op for one message. */
static CK_RV msg_start(ch_msg *msg, const msg_params *mp)
{
	ch_op_free(msg->op);
	msg->op = NULL;
	return ch_op_init(msg->enc ? CH_OP_ENCRYPT : CH_OP_DECRYPT, &mp->m, msg->key, &msg->op);
}

/* Ends the message in progress (after its last part or an error). */
static void msg_end(ch_msg *msg)
{
	ch_op_free(msg->op);
	msg->op = NULL;
}

/* Encrypts in into out, the tag into mp->tag; op fresh. */
static CK_RV seal_all(ch_msg *msg, const msg_params *mp, const CK_BYTE *in, CK_ULONG in_len,
                      CK_BYTE *out, CK_ULONG *out_len)
{
	CK_BYTE tag[MSG_TAG_MAX];
	CK_ULONG n = *out_len, t = sizeof(tag);
	CK_RV rv;

	if ((rv = ch_op_update(msg->op, in, in_len, out, &n)) != CKR_OK ||
	    (rv = ch_op_final(msg->op, tag, &t)) != CKR_OK)
		goto out;
	rv = CKR_GENERAL_ERROR;
	if (t != mp->tag_len)
		goto out;
	memcpy(mp->tag, tag, t);
	*out_len = n;
	rv = CKR_OK;
out:
	OPENSSL_cleanse(tag, sizeof(tag));
	return rv;
}

/* Decrypts ct with the tag from mp->tag into out; op fresh or holding the
 * parts so far.  Nothing reaches out unless the tag checks. */
static CK_RV open_all(ch_msg *msg, const msg_params *mp, const CK_BYTE *in, CK_ULONG in_len,
                      CK_BYTE *out, CK_ULONG *out_len)
{
	CK_ULONG none = 0;
	CK_RV rv;

	if ((rv = ch_op_update(msg->op, in, in_len, out, &none)) != CKR_OK ||
	    (rv = ch_op_update(msg->op, mp->tag, mp->tag_len, out, &none)) != CKR_OK)
		return rv;
	return ch_op_final(msg->op, out, out_len);
}

/* The plaintext or ciphertext length of a message with in_len more bytes
 * (AEAD output is as long as its input; parts held back count too). */
static CK_ULONG msg_out_len(const ch_msg *msg, CK_ULONG in_len)
{
	return in_len + (msg->op != NULL && !msg->enc ? (CK_ULONG)msg->op->buf_len : 0);
}

static CK_RV msg_one(ch_msg *msg, void *param, CK_ULONG plen, const CK_BYTE *aad, CK_ULONG aad_len,
                     const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	msg_params mp;
	CK_RV rv;

	if (msg->op != NULL)
		return CKR_OPERATION_ACTIVE; /* a Begin ... Next message is open */
	if (out == NULL) {
		if ((rv = params_of(msg, param, plen, aad, aad_len, false, &mp)) != CKR_OK)
			return rv;
		*out_len = in_len;
		return CKR_OK;
	}
	if (*out_len < in_len) {
		*out_len = in_len;
		return CKR_BUFFER_TOO_SMALL;
	}
	if ((rv = params_of(msg, param, plen, aad, aad_len, true, &mp)) != CKR_OK ||
	    (rv = msg_start(msg, &mp)) != CKR_OK)
		goto out;
	rv = msg->enc ? seal_all(msg, &mp, in, in_len, out, out_len)
	              : open_all(msg, &mp, in, in_len, out, out_len);
out:
	if (rv == CKR_ENCRYPTED_DATA_INVALID && out != NULL)
		OPENSSL_cleanse(out, in_len);
	msg_end(msg);
	return rv;
}

static CK_RV msg_begin(ch_msg *msg, void *param, CK_ULONG plen, const CK_BYTE *aad,
                       CK_ULONG aad_len)
{
	msg_params mp;
	CK_RV rv;

	if (msg->op != NULL)
		return CKR_OPERATION_ACTIVE;
	if ((rv = params_of(msg, param, plen, aad, aad_len, true, &mp)) == CKR_OK)
		rv = msg_start(msg, &mp);
	if (rv != CKR_OK)
		msg_end(msg);
	return rv;
}

static CK_RV msg_next(ch_msg *msg, void *param, CK_ULONG plen, const CK_BYTE *in, CK_ULONG in_len,
                      CK_BYTE *out, CK_ULONG *out_len, CK_FLAGS flags)
{
	bool last = (flags & CKF_END_OF_MESSAGE) != 0;
	msg_params mp;
	CK_ULONG need;
	CK_RV rv;

	if (msg->op == NULL)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (flags & ~CKF_END_OF_MESSAGE)
		return CKR_ARGUMENTS_BAD;
	/* The tag pointer (and nothing else) is read from this call's
	 * parameter: the IV was fixed by Begin. */
	if ((rv = params_of(msg, param, plen, NULL, 0, false, &mp)) != CKR_OK)
		goto out;
	/* Decryption holds every part until the tag is checked. */
	need = msg->enc ? in_len : last ? msg_out_len(msg, in_len) : 0;
	if (out == NULL) {
		*out_len = need;
		return CKR_OK;
	}
	if (*out_len < need) {
		*out_len = need;
		return CKR_BUFFER_TOO_SMALL;
	}
	if (!last) {
		rv = ch_op_update(msg->op, in, in_len, out, out_len);
		if (rv != CKR_OK)
			goto out;
		return CKR_OK;
	}
	rv = msg->enc ? seal_all(msg, &mp, in, in_len, out, out_len)
	              : open_all(msg, &mp, in, in_len, out, out_len);
out:
	msg_end(msg);
	return rv;
}

/*
 * The entry points (token/mech.h), each between ERR_set_mark() and
 * ERR_pop_to_mark() like the rest of the registry's.
 */
CK_RV ch_msg_init(bool enc, const CK_MECHANISM *m, const ch_attrs *key, ch_msg **out)
{
	CK_RV rv;

	if (m == NULL || out == NULL)
		return CKR_ARGUMENTS_BAD;
	ERR_set_mark();
	rv = msg_init(enc, m, key, out);
	ERR_pop_to_mark();
	return rv;
}

CK_RV ch_msg_one(ch_msg *msg, void *param, CK_ULONG plen, const CK_BYTE *aad, CK_ULONG aad_len,
                 const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	CK_RV rv;

	if (msg == NULL || out_len == NULL || (aad == NULL && aad_len > 0) ||
	    (in == NULL && in_len > 0))
		return CKR_ARGUMENTS_BAD;
	ERR_set_mark();
	rv = msg_one(msg, param, plen, aad, aad_len, in, in_len, out, out_len);
	ERR_pop_to_mark();
	return rv;
}

CK_RV ch_msg_begin(ch_msg *msg, void *param, CK_ULONG plen, const CK_BYTE *aad, CK_ULONG aad_len)
{
	CK_RV rv;

	if (msg == NULL || (aad == NULL && aad_len > 0))
		return CKR_ARGUMENTS_BAD;
	ERR_set_mark();
	rv = msg_begin(msg, param, plen, aad, aad_len);
	ERR_pop_to_mark();
	return rv;
}

CK_RV ch_msg_next(ch_msg *msg, void *param, CK_ULONG plen, const CK_BYTE *in, CK_ULONG in_len,
                  CK_BYTE *out, CK_ULONG *out_len, CK_FLAGS flags)
{
	CK_RV rv;

	if (msg == NULL || out_len == NULL || (in == NULL && in_len > 0))
		return CKR_ARGUMENTS_BAD;
	ERR_set_mark();
	rv = msg_next(msg, param, plen, in, in_len, out, out_len, flags);
	ERR_pop_to_mark();
	return rv;
}
