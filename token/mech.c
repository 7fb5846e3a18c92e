/*
 * The mechanism registry and the generic operation driver (token/mech.h).
 *
 * The registry is the table below: one row per CKM_* the software token
 * implements, with the CK_MECHANISM_INFO that C_GetMechanismInfo reports
 * and the hooks of the family file (mech_aes.c, mech_ec.c, ...) that does
 * the work.  A mechanism missing from the table is CKR_MECHANISM_INVALID.
 *
 * The driver owns everything the families share, so that each family only
 * does cryptography: the order of the checks at init (mechanism, parameter,
 * key class and type, usage attribute, key size), the PKCS#11 buffer
 * convention (a NULL output asks for the length, a short buffer gets
 * CKR_BUFFER_TOO_SMALL; both keep the operation), the rule that a one-shot
 * call cannot follow an update, single-part-only mechanisms, and freeing
 * and wiping an operation's OpenSSL objects and state.
 *
 * Algorithms (EVP_CIPHER, EVP_MD) are fetched once per process rather than
 * per operation: a fetch searches the provider store under its lock, and
 * operations must not contend on a process-wide lock.
 */
#include <assert.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "mech_impl.h"

/* The registry: every family's rows, in the order C_GetMechanismList
 * reports them. */
static const ch_mech_family *const families[] = {
	&ch_family_digest, &ch_family_hmac,    &ch_family_aes, &ch_family_chacha, &ch_family_rsa,
	&ch_family_ec,     &ch_family_edwards, &ch_family_kdf, &ch_family_vgcm,
};

#define FAMILY_COUNT (sizeof(families) / sizeof(families[0]))

/* Names to fetch, indexed by ch_cipher_id and ch_md_id. */
static const char *const cipher_names[CH_CIPHERS] = {
	[CH_CIPHER_AES_128_GCM] = "AES-128-GCM",
	[CH_CIPHER_AES_192_GCM] = "AES-192-GCM",
	[CH_CIPHER_AES_256_GCM] = "AES-256-GCM",
	[CH_CIPHER_AES_128_ECB] = "AES-128-ECB",
	[CH_CIPHER_AES_192_ECB] = "AES-192-ECB",
	[CH_CIPHER_AES_256_ECB] = "AES-256-ECB",
	[CH_CIPHER_AES_128_CBC] = "AES-128-CBC",
	[CH_CIPHER_AES_192_CBC] = "AES-192-CBC",
	[CH_CIPHER_AES_256_CBC] = "AES-256-CBC",
	[CH_CIPHER_AES_128_CTR] = "AES-128-CTR",
	[CH_CIPHER_AES_192_CTR] = "AES-192-CTR",
	[CH_CIPHER_AES_256_CTR] = "AES-256-CTR",
	[CH_CIPHER_AES_128_CCM] = "AES-128-CCM",
	[CH_CIPHER_AES_192_CCM] = "AES-192-CCM",
	[CH_CIPHER_AES_256_CCM] = "AES-256-CCM",
	[CH_CIPHER_AES_128_WRAP] = "AES-128-WRAP",
	[CH_CIPHER_AES_192_WRAP] = "AES-192-WRAP",
	[CH_CIPHER_AES_256_WRAP] = "AES-256-WRAP",
	[CH_CIPHER_AES_128_WRAP_PAD] = "AES-128-WRAP-PAD",
	[CH_CIPHER_AES_192_WRAP_PAD] = "AES-192-WRAP-PAD",
	[CH_CIPHER_AES_256_WRAP_PAD] = "AES-256-WRAP-PAD",
	[CH_CIPHER_CHACHA20_POLY1305] = "ChaCha20-Poly1305",
	[CH_CIPHER_CHACHA20] = "ChaCha20",
};

static const char *const md_names[CH_MDS] = {
	[CH_MD_SHA1] = "SHA1",
	[CH_MD_SHA224] = "SHA2-224",
	[CH_MD_SHA256] = "SHA2-256",
	[CH_MD_SHA384] = "SHA2-384",
	[CH_MD_SHA512] = "SHA2-512",
	[CH_MD_SHA512_224] = "SHA2-512/224",
	[CH_MD_SHA512_256] = "SHA2-512/256",
	[CH_MD_SHA3_224] = "SHA3-224",
	[CH_MD_SHA3_256] = "SHA3-256",
	[CH_MD_SHA3_384] = "SHA3-384",
	[CH_MD_SHA3_512] = "SHA3-512",
};

/* The hash mechanisms and MGF1 generators, indexed by ch_md_id, with the
 * digests' sizes. */
static const struct {
	CK_MECHANISM_TYPE mech;
	CK_ULONG mgf;
	size_t size;
} md_facts[CH_MDS] = {
	[CH_MD_SHA1] = { CKM_SHA_1, CKG_MGF1_SHA1, 20 },
	[CH_MD_SHA224] = { CKM_SHA224, CKG_MGF1_SHA224, 28 },
	[CH_MD_SHA256] = { CKM_SHA256, CKG_MGF1_SHA256, 32 },
	[CH_MD_SHA384] = { CKM_SHA384, CKG_MGF1_SHA384, 48 },
	[CH_MD_SHA512] = { CKM_SHA512, CKG_MGF1_SHA512, 64 },
	[CH_MD_SHA512_224] = { CKM_SHA512_224, 0, 28 },
	[CH_MD_SHA512_256] = { CKM_SHA512_256, 0, 32 },
	[CH_MD_SHA3_224] = { CKM_SHA3_224, CKG_MGF1_SHA3_224, 28 },
	[CH_MD_SHA3_256] = { CKM_SHA3_256, CKG_MGF1_SHA3_256, 32 },
	[CH_MD_SHA3_384] = { CKM_SHA3_384, CKG_MGF1_SHA3_384, 48 },
	[CH_MD_SHA3_512] = { CKM_SHA3_512, CKG_MGF1_SHA3_512, 64 },
};

ch_md_id ch_md_from_mech(CK_MECHANISM_TYPE type)
{
	for (int i = 0; i < CH_MDS; i++)
		if (md_facts[i].mech == type)
			return (ch_md_id)i;
	return CH_MD_NONE;
}

ch_md_id ch_md_from_mgf(CK_ULONG mgf)
{
	for (int i = 0; i < CH_MDS; i++)
		if (mgf != 0 && md_facts[i].mgf == mgf)
			return (ch_md_id)i;
	return CH_MD_NONE;
}

size_t ch_md_size(ch_md_id id)
{
	return (int)id >= 0 && id < CH_MDS ? md_facts[id].size : 0;
}

static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *ciphers[CH_CIPHERS];
static EVP_MD *mds[CH_MDS];

/* Fetches every algorithm the table may use; a missing one stays NULL and
 * only the mechanisms needing it fail. */
static void fetch_all(void)
{
	size_t i;

	for (i = 0; i < CH_CIPHERS; i++)
		ciphers[i] = EVP_CIPHER_fetch(NULL, cipher_names[i], NULL);
	for (i = 0; i < CH_MDS; i++)
		mds[i] = EVP_MD_fetch(NULL, md_names[i], NULL);
}

const EVP_CIPHER *ch_mech_cipher(ch_cipher_id id)
{
	if ((int)id < 0 || id >= CH_CIPHERS)
		return NULL;
	if (pthread_once(&fetch_once, fetch_all) != 0)
		return NULL;
	return ciphers[id];
}

const EVP_MD *ch_mech_md(ch_md_id id)
{
	if ((int)id < 0 || id >= CH_MDS)
		return NULL;
	if (pthread_once(&fetch_once, fetch_all) != 0)
		return NULL;
	return mds[id];
}

static const ch_mech *mech_find(CK_MECHANISM_TYPE type)
{
	size_t f, i;

	for (f = 0; f < FAMILY_COUNT; f++)
		for (i = 0; i < families[f]->count; i++)
			if (families[f]->rows[i].type == type)
				return &families[f]->rows[i];
	return NULL;
}

CK_ULONG ch_mech_count(void)
{
	CK_ULONG n = 0;

	for (size_t f = 0; f < FAMILY_COUNT; f++)
		n += families[f]->count;
	return n;
}

CK_MECHANISM_TYPE ch_mech_type_at(CK_ULONG i)
{
	for (size_t f = 0; f < FAMILY_COUNT; f++) {
		if (i < families[f]->count)
			return families[f]->rows[i].type;
		i -= families[f]->count;
	}
	assert(!"mechanism index out of range");
	return CK_UNAVAILABLE_INFORMATION;
}

CK_RV ch_mech_info(CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info)
{
	const ch_mech *row = mech_find(type);

	if (row == NULL)
		return CKR_MECHANISM_INVALID;
	if (info == NULL)
		return CKR_ARGUMENTS_BAD;
	*info = row->info;
	return CKR_OK;
}

CK_RV ch_mech_keygen_type(CK_MECHANISM_TYPE type, bool pair, CK_KEY_TYPE *kt)
{
	const ch_mech *row = mech_find(type);
	CK_FLAGS need = pair ? CKF_GENERATE_KEY_PAIR : CKF_GENERATE;

	if (row == NULL || !(row->info.flags & need))
		return CKR_MECHANISM_INVALID;
	if (kt == NULL)
		return CKR_ARGUMENTS_BAD;
	*kt = row->key_type;
	return CKR_OK;
}

CK_RV ch_mech_no_param(const CK_MECHANISM *m)
{
	return m->ulParameterLen == 0 ? CKR_OK : CKR_MECHANISM_PARAM_INVALID;
}

CK_RV ch_mech_random_key(const CK_MECHANISM *m, ch_attrs *key, CK_ULONG min, CK_ULONG max,
                         CK_ULONG step, CK_ULONG dflt)
{
	CK_BYTE value[CH_RANDOM_KEY_MAX];
	CK_ULONG len = dflt;
	CK_RV rv;

	assert(max <= CH_RANDOM_KEY_MAX && step > 0);
	if ((rv = ch_mech_no_param(m)) != CKR_OK)
		goto out;
	rv = CKR_TEMPLATE_INCOMPLETE;
	if (ch_attrs_get(key, CKA_VALUE_LEN) == NULL && dflt == 0)
		goto out;
	rv = CKR_ATTRIBUTE_VALUE_INVALID;
	if (ch_attrs_get(key, CKA_VALUE_LEN) != NULL && !ch_attrs_ulong(key, CKA_VALUE_LEN, &len))
		goto out;
	rv = CKR_KEY_SIZE_RANGE;
	if (len < min || len > max || len > CH_RANDOM_KEY_MAX || (len - min) % step != 0)
		goto out;
	if ((rv = ch_rng_priv_bytes(value, len)) != CKR_OK)
		goto out;
	rv = ch_attrs_set(key, CKA_VALUE, value, len);
out:
	OPENSSL_cleanse(value, sizeof(value));
	return rv;
}

static CK_RV generate_key(const CK_MECHANISM *m, ch_attrs *key)
{
	const ch_mech *row;

	if (m == NULL || key == NULL)
		return CKR_ARGUMENTS_BAD;
	row = mech_find(m->mechanism);
	if (row == NULL || !(row->info.flags & CKF_GENERATE) || row->ops->generate_key == NULL)
		return CKR_MECHANISM_INVALID;
	return row->ops->generate_key(row, m, key);
}

static CK_RV generate_key_pair(const CK_MECHANISM *m, ch_attrs *pub, ch_attrs *priv)
{
	const ch_mech *row;

	if (m == NULL || pub == NULL || priv == NULL)
		return CKR_ARGUMENTS_BAD;
	row = mech_find(m->mechanism);
	if (row == NULL || !(row->info.flags & CKF_GENERATE_KEY_PAIR) ||
	    row->ops->generate_key_pair == NULL)
		return CKR_MECHANISM_INVALID;
	return row->ops->generate_key_pair(row, m, pub, priv);
}

/* The CKF_* flag a row needs for an operation kind, and the key's usage
 * attribute for it. */
static CK_FLAGS kind_flag(ch_op_kind kind)
{
	static const CK_FLAGS flags[CH_OP_ALL_KINDS] = {
		[CH_OP_ENCRYPT] = CKF_ENCRYPT, [CH_OP_DECRYPT] = CKF_DECRYPT,
		[CH_OP_SIGN] = CKF_SIGN,       [CH_OP_VERIFY] = CKF_VERIFY,
		[CH_OP_DIGEST] = CKF_DIGEST,   [CH_OP_WRAP] = CKF_WRAP,
		[CH_OP_UNWRAP] = CKF_UNWRAP,
	};

	return (int)kind >= 0 && kind < CH_OP_ALL_KINDS ? flags[kind] : 0;
}

static CK_ATTRIBUTE_TYPE kind_usage(ch_op_kind kind)
{
	switch (kind) {
	case CH_OP_ENCRYPT:
		return CKA_ENCRYPT;
	case CH_OP_DECRYPT:
		return CKA_DECRYPT;
	case CH_OP_SIGN:
		return CKA_SIGN;
	case CH_OP_VERIFY:
		return CKA_VERIFY;
	case CH_OP_WRAP:
		return CKA_WRAP;
	case CH_OP_UNWRAP:
		return CKA_UNWRAP;
	default:
		return CK_UNAVAILABLE_INFORMATION;
	}
}

/* The class of key a row takes for an operation kind. */
static CK_OBJECT_CLASS kind_class(const ch_mech *row, ch_op_kind kind)
{
	if (row->key_use == CH_KEY_SECRET)
		return CKO_SECRET_KEY;
	return kind == CH_OP_ENCRYPT || kind == CH_OP_VERIFY || kind == CH_OP_WRAP
	               ? CKO_PUBLIC_KEY
	               : CKO_PRIVATE_KEY;
}

static bool key_type_ok(const ch_mech *row, CK_KEY_TYPE kt)
{
	if (row->ops->key_type_ok != NULL)
		return row->ops->key_type_ok(row, kt);
	return kt == row->key_type;
}

/* Class, key type and usage attribute of key for this operation. */
static CK_RV check_key(const ch_mech *row, ch_op_kind kind, const ch_attrs *key)
{
	CK_ULONG cls, kt;

	if (row->key_use == CH_KEY_NONE)
		return CKR_OK;
	if (key == NULL)
		return CKR_KEY_HANDLE_INVALID;
	if (!ch_attrs_ulong(key, CKA_CLASS, &cls) || cls != kind_class(row, kind) ||
	    !ch_attrs_ulong(key, CKA_KEY_TYPE, &kt) || !key_type_ok(row, kt))
		return CKR_KEY_TYPE_INCONSISTENT;
	/* An absent usage attribute does not permit the use. */
	if (!ch_attrs_bool(key, kind_usage(kind), false))
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	return CKR_OK;
}

static CK_RV op_init(ch_op_kind kind, const CK_MECHANISM *m, const ch_attrs *key, ch_op **opp)
{
	const ch_mech *row;
	ch_op *op = NULL;
	CK_RV rv = CKR_ARGUMENTS_BAD;

	if (opp == NULL)
		return CKR_ARGUMENTS_BAD;
	*opp = NULL;
	if (m == NULL || kind_flag(kind) == 0)
		goto out;
	rv = CKR_MECHANISM_INVALID;
	row = mech_find(m->mechanism);
	if (row == NULL || !(row->info.flags & kind_flag(kind)))
		goto out;

	rv = CKR_HOST_MEMORY;
	if ((op = OPENSSL_zalloc(sizeof(*op))) == NULL)
		goto out;
	op->row = row;
	op->kind = kind;
	op->state = CH_OP_FRESH;
	if (row->ops->state_size > 0 && (op->st = OPENSSL_zalloc(row->ops->state_size)) == NULL)
		goto out;

	if (row->ops->param != NULL)
		rv = row->ops->param(op, m);
	else
		rv = ch_mech_no_param(m);
	if (rv != CKR_OK)
		goto out;
	if ((rv = check_key(row, kind, key)) != CKR_OK)
		goto out;
	if (row->ops->start != NULL && (rv = row->ops->start(op, m, key)) != CKR_OK)
		goto out;

	*opp = op;
	op = NULL; /* transferred */
	rv = CKR_OK;
out:
	ch_op_free(op);
	return rv;
}

void ch_op_free(ch_op *op)
{
	if (op == NULL)
		return;
	if (op->row != NULL && op->row->ops->cleanup != NULL)
		op->row->ops->cleanup(op);
	EVP_CIPHER_CTX_free(op->cctx);
	EVP_MD_CTX_free(op->mdctx);
	EVP_PKEY_CTX_free(op->pctx);
	EVP_PKEY_free(op->pkey);
	OPENSSL_clear_free(op->buf, op->buf_cap);
	if (op->st != NULL)
		OPENSSL_clear_free(op->st, op->row->ops->state_size);
	OPENSSL_clear_free(op, sizeof(*op));
}

ch_op_kind ch_op_kind_of(const ch_op *op)
{
	return op->kind;
}

bool ch_op_ends(CK_RV rv, const CK_BYTE *out)
{
	if (rv == CKR_BUFFER_TOO_SMALL)
		return false;
	return !(rv == CKR_OK && out == NULL);
}

CK_RV ch_op_buffer_append(ch_op *op, const CK_BYTE *in, CK_ULONG len)
{
	size_t need, cap;
	CK_BYTE *nb;

	if (len == 0)
		return CKR_OK;
	if (len > SIZE_MAX - op->buf_len)
		return CKR_DATA_LEN_RANGE;
	need = op->buf_len + len;
	if (need > op->buf_cap) {
		cap = op->buf_cap < 256 ? 256 : op->buf_cap;
		while (cap < need)
			cap = cap > SIZE_MAX / 2 ? need : cap * 2;
		if ((nb = OPENSSL_malloc(cap)) == NULL)
			return CKR_HOST_MEMORY;
		if (op->buf_len > 0)
			memcpy(nb, op->buf, op->buf_len);
		OPENSSL_clear_free(op->buf, op->buf_cap);
		op->buf = nb;
		op->buf_cap = cap;
	}
	memcpy(op->buf + op->buf_len, in, len);
	op->buf_len = need;
	return CKR_OK;
}

/* True for the kinds whose update calls produce output. */
static bool kind_outputs(ch_op_kind kind)
{
	return kind == CH_OP_ENCRYPT || kind == CH_OP_DECRYPT || kind == CH_OP_WRAP ||
	       kind == CH_OP_UNWRAP;
}

/*
 * The buffer convention for a call that produces output: asks the family
 * for the length; with out NULL answers it (a length query), with a short
 * buffer answers CKR_BUFFER_TOO_SMALL.  Returns CKR_OK with *go true when
 * the call should run, else the code to return with *go false.
 */
static CK_RV out_check(const ch_op *op, ch_stage stage, CK_ULONG in_len, const CK_BYTE *out,
                       CK_ULONG *out_len, bool *go)
{
	CK_ULONG need = 0;
	CK_RV rv;

	*go = false;
	if (op->row->ops->out_len == NULL)
		return CKR_GENERAL_ERROR;
	if ((rv = op->row->ops->out_len(op, stage, in_len, &need)) != CKR_OK)
		return rv;
	if (out == NULL) {
		*out_len = need;
		return CKR_OK;
	}
	if (*out_len < need && !op->row->ops->out_is_bound) {
		*out_len = need;
		return CKR_BUFFER_TOO_SMALL;
	}
	*go = true;
	return CKR_OK;
}

/* Checks that op can take a call; a call of the wrong shape ends it. */
static CK_RV op_usable(ch_op *op, bool multi_part)
{
	if (op == NULL || op->state == CH_OP_DONE)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (multi_part && (op->row->flags & CH_MECH_SINGLE_PART)) {
		op->state = CH_OP_DONE;
		return CKR_FUNCTION_NOT_SUPPORTED;
	}
	if (!multi_part && op->state != CH_OP_FRESH) {
		/* C_Encrypt and friends cannot end a multi-part operation. */
		op->state = CH_OP_DONE;
		return CKR_OPERATION_ACTIVE;
	}
	return CKR_OK;
}

/* The default one-shot: update then final, the final part written after
 * the update's output. */
static CK_RV oneshot_by_parts(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                              CK_ULONG *out_len)
{
	const ch_mech_ops *ops = op->row->ops;
	CK_ULONG cap = *out_len, n1 = cap, n2;
	CK_RV rv;

	if (ops->update == NULL || ops->final == NULL)
		return CKR_GENERAL_ERROR;
	if (kind_outputs(op->kind)) {
		if ((rv = ops->update(op, in, in_len, out, &n1)) != CKR_OK)
			return rv;
	} else {
		n1 = 0;
		if ((rv = ops->update(op, in, in_len, NULL, NULL)) != CKR_OK)
			return rv;
	}
	n2 = cap - n1;
	if ((rv = ops->final(op, out + n1, &n2)) != CKR_OK)
		return rv;
	*out_len = n1 + n2;
	return CKR_OK;
}

static CK_RV op_oneshot(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                        CK_ULONG *out_len)
{
	CK_RV rv;
	bool go;

	if ((rv = op_usable(op, false)) != CKR_OK)
		return rv;
	rv = CKR_ARGUMENTS_BAD;
	if (out_len == NULL || (in == NULL && in_len > 0) || op->kind == CH_OP_VERIFY)
		goto out;
	if ((rv = out_check(op, CH_STAGE_ONESHOT, in_len, out, out_len, &go)) != CKR_OK || !go)
		goto out;
	if (op->row->ops->oneshot != NULL)
		rv = op->row->ops->oneshot(op, in, in_len, out, out_len);
	else
		rv = oneshot_by_parts(op, in, in_len, out, out_len);
out:
	if (ch_op_ends(rv, out))
		op->state = CH_OP_DONE;
	return rv;
}

static CK_RV op_update(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                       CK_ULONG *out_len)
{
	CK_RV rv;
	bool go;

	if ((rv = op_usable(op, true)) != CKR_OK)
		return rv;
	rv = CKR_ARGUMENTS_BAD;
	if (in == NULL && in_len > 0)
		goto out;
	if (op->row->ops->update == NULL) {
		rv = CKR_FUNCTION_NOT_SUPPORTED;
		goto out;
	}
	if (kind_outputs(op->kind)) {
		if (out_len == NULL)
			goto out;
		rv = out_check(op, CH_STAGE_UPDATE, in_len, out, out_len, &go);
		if (rv != CKR_OK || !go)
			goto out;
		rv = op->row->ops->update(op, in, in_len, out, out_len);
	} else {
		rv = op->row->ops->update(op, in, in_len, NULL, NULL);
	}
	if (rv == CKR_OK)
		op->state = CH_OP_UPDATING;
out:
	if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL)
		op->state = CH_OP_DONE;
	return rv;
}

static CK_RV op_final(ch_op *op, CK_BYTE *out, CK_ULONG *out_len)
{
	CK_RV rv;
	bool go;

	if ((rv = op_usable(op, true)) != CKR_OK)
		return rv;
	rv = CKR_ARGUMENTS_BAD;
	if (out_len == NULL || op->kind == CH_OP_VERIFY)
		goto out;
	if (op->row->ops->final == NULL) {
		rv = CKR_FUNCTION_NOT_SUPPORTED;
		goto out;
	}
	if ((rv = out_check(op, CH_STAGE_FINAL, 0, out, out_len, &go)) != CKR_OK || !go)
		goto out;
	rv = op->row->ops->final(op, out, out_len);
out:
	if (ch_op_ends(rv, out))
		op->state = CH_OP_DONE;
	return rv;
}

static CK_RV op_verify(ch_op *op, const CK_BYTE *data, CK_ULONG len, const CK_BYTE *sig,
                       CK_ULONG sig_len)
{
	const ch_mech_ops *ops;
	CK_RV rv;

	if ((rv = op_usable(op, false)) != CKR_OK)
		return rv;
	ops = op->row->ops;
	rv = CKR_ARGUMENTS_BAD;
	if (op->kind != CH_OP_VERIFY || (data == NULL && len > 0) || (sig == NULL && sig_len > 0))
		goto out;
	if (ops->verify != NULL) {
		rv = ops->verify(op, data, len, sig, sig_len);
	} else if (ops->update != NULL && ops->verify_final != NULL) {
		if ((rv = ops->update(op, data, len, NULL, NULL)) == CKR_OK)
			rv = ops->verify_final(op, sig, sig_len);
	} else {
		rv = CKR_GENERAL_ERROR;
	}
out:
	op->state = CH_OP_DONE;
	return rv;
}

static CK_RV op_verify_final(ch_op *op, const CK_BYTE *sig, CK_ULONG sig_len)
{
	CK_RV rv;

	if ((rv = op_usable(op, true)) != CKR_OK)
		return rv;
	rv = CKR_ARGUMENTS_BAD;
	if (op->kind != CH_OP_VERIFY || (sig == NULL && sig_len > 0))
		goto out;
	if (op->row->ops->verify_final == NULL) {
		rv = CKR_FUNCTION_NOT_SUPPORTED;
		goto out;
	}
	rv = op->row->ops->verify_final(op, sig, sig_len);
out:
	op->state = CH_OP_DONE;
	return rv;
}

/*
 * The entry points of mech.h.  Each runs between ERR_set_mark() and
 * ERR_pop_to_mark(): errors OpenSSL queues while we work (a failed tag
 * check, a refused key) must not stay in the calling thread's queue, where
 * an application's own OpenSSL code (SSL_get_error, for one) would find them.
 */
CK_RV ch_mech_generate_key(const CK_MECHANISM *m, ch_attrs *key)
{
	CK_RV rv;

	ERR_set_mark();
	rv = generate_key(m, key);
	ERR_pop_to_mark();
	return rv;
}

CK_RV ch_mech_generate_key_pair(const CK_MECHANISM *m, ch_attrs *pub, ch_attrs *priv)
{
	CK_RV rv;

	ERR_set_mark();
	rv = generate_key_pair(m, pub, priv);
	ERR_pop_to_mark();
	return rv;
}

CK_RV ch_op_init(ch_op_kind kind, const CK_MECHANISM *m, const ch_attrs *key, ch_op **op)
{
	CK_RV rv;

	ERR_set_mark();
	rv = op_init(kind, m, key, op);
	ERR_pop_to_mark();
	return rv;
}

CK_RV ch_op_oneshot(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	CK_RV rv;

	ERR_set_mark();
	rv = op_oneshot(op, in, in_len, out, out_len);
	ERR_pop_to_mark();
	return rv;
}

CK_RV ch_op_update(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	CK_RV rv;

	ERR_set_mark();
	rv = op_update(op, in, in_len, out, out_len);
	ERR_pop_to_mark();
	return rv;
}

CK_RV ch_op_final(ch_op *op, CK_BYTE *out, CK_ULONG *out_len)
{
	CK_RV rv;

	ERR_set_mark();
	rv = op_final(op, out, out_len);
	ERR_pop_to_mark();
	return rv;
}

CK_RV ch_op_verify(ch_op *op, const CK_BYTE *data, CK_ULONG len, const CK_BYTE *sig,
                   CK_ULONG sig_len)
{
	CK_RV rv;

	ERR_set_mark();
	rv = op_verify(op, data, len, sig, sig_len);
	ERR_pop_to_mark();
	return rv;
}

CK_RV ch_op_verify_final(ch_op *op, const CK_BYTE *sig, CK_ULONG sig_len)
{
	CK_RV rv;

	ERR_set_mark();
	rv = op_verify_final(op, sig, sig_len);
	ERR_pop_to_mark();
	return rv;
}

/* Maps what the generic init reports about a key to the codes C_WrapKey
 * and C_UnwrapKey use for their wrapping key. */
static CK_RV wrapping_key_rv(CK_RV rv, bool wrap)
{
	if (rv == CKR_KEY_TYPE_INCONSISTENT)
		return wrap ? CKR_WRAPPING_KEY_TYPE_INCONSISTENT
		            : CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT;
	if (rv == CKR_KEY_SIZE_RANGE)
		return wrap ? CKR_WRAPPING_KEY_SIZE_RANGE : CKR_UNWRAPPING_KEY_SIZE_RANGE;
	if (rv == CKR_KEY_HANDLE_INVALID)
		return wrap ? CKR_WRAPPING_KEY_HANDLE_INVALID : CKR_UNWRAPPING_KEY_HANDLE_INVALID;
	return rv;
}

static CK_RV mech_wrap(const CK_MECHANISM *m, const ch_attrs *wrapping_key, const CK_BYTE *in,
                       CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	ch_op *op = NULL;
	CK_RV rv;

	if ((rv = op_init(CH_OP_WRAP, m, wrapping_key, &op)) != CKR_OK) {
		rv = wrapping_key_rv(rv, true);
		goto out;
	}
	rv = op_oneshot(op, in, in_len, out, out_len);
	/* The data here is a key: a length the mode cannot take is the key's
	 * size. */
	if (rv == CKR_DATA_LEN_RANGE)
		rv = CKR_KEY_SIZE_RANGE;
out:
	ch_op_free(op);
	return rv;
}

static CK_RV mech_unwrap(const CK_MECHANISM *m, const ch_attrs *unwrapping_key,
                         const ch_attrs *const *more, size_t n_more, const CK_BYTE *in,
                         CK_ULONG in_len, CK_BYTE **out, CK_ULONG *out_len)
{
	ch_op *op = NULL;
	CK_BYTE *buf = NULL;
	CK_ULONG cap = 0, n;
	CK_RV rv;

	*out = NULL;
	*out_len = 0;
	if ((rv = op_init(CH_OP_UNWRAP, m, unwrapping_key, &op)) != CKR_OK) {
		rv = wrapping_key_rv(rv, false);
		goto out;
	}
	/* As for a decryption: a version unfit for the set stays out of it
	 * (a header naming it is then refused). */
	for (size_t i = 0; i < n_more; i++)
		if ((rv = ch_op_add_key(op, more[i])) == CKR_HOST_MEMORY)
			goto out;
	if ((rv = op_oneshot(op, in, in_len, NULL, &cap)) != CKR_OK)
		goto out;
	rv = CKR_HOST_MEMORY;
	if ((buf = OPENSSL_malloc(cap > 0 ? cap : 1)) == NULL)
		goto out;
	n = cap;
	rv = op_oneshot(op, in, in_len, buf, &n);
	if (rv != CKR_OK)
		goto out;
	/* The caller wipes *out_len bytes: nothing a mode left past them may
	 * outlive the call. */
	if (n < cap)
		OPENSSL_cleanse(buf + n, cap - n);
	*out = buf;
	*out_len = n;
	buf = NULL; /* transferred */
out:
	/* One code for every way the wrapped bytes can be wrong, whatever the
	 * mode said: padding, tag and integrity-check failures look alike. */
	if (rv == CKR_ENCRYPTED_DATA_INVALID)
		rv = CKR_WRAPPED_KEY_INVALID;
	else if (rv == CKR_ENCRYPTED_DATA_LEN_RANGE || rv == CKR_DATA_LEN_RANGE)
		rv = CKR_WRAPPED_KEY_LEN_RANGE;
	OPENSSL_clear_free(buf, cap);
	ch_op_free(op);
	return rv;
}

static CK_RV mech_derive(const CK_MECHANISM *m, const ch_attrs *base, ch_attrs *key)
{
	const ch_mech *row;
	CK_ULONG cls, kt;

	if (m == NULL || key == NULL)
		return CKR_ARGUMENTS_BAD;
	row = mech_find(m->mechanism);
	if (row == NULL || !(row->info.flags & CKF_DERIVE) || row->ops->derive == NULL)
		return CKR_MECHANISM_INVALID;
	/* Data objects come only from the rows that make them, and only them. */
	if (!ch_attrs_ulong(key, CKA_CLASS, &cls) ||
	    (cls == CKO_DATA) != ((row->flags & CH_MECH_DERIVES_DATA) != 0))
		return CKR_TEMPLATE_INCONSISTENT;
	if (row->key_use != CH_KEY_NONE) {
		if (base == NULL)
			return CKR_KEY_HANDLE_INVALID;
		if (!ch_attrs_ulong(base, CKA_CLASS, &cls) ||
		    cls != (row->key_use == CH_KEY_SECRET ? CKO_SECRET_KEY : CKO_PRIVATE_KEY) ||
		    !ch_attrs_ulong(base, CKA_KEY_TYPE, &kt) || !key_type_ok(row, kt))
			return CKR_KEY_TYPE_INCONSISTENT;
		if (!ch_attrs_bool(base, CKA_DERIVE, false))
			return CKR_KEY_FUNCTION_NOT_PERMITTED;
	}
	return row->ops->derive(row, m, base, key);
}

CK_RV ch_mech_wrap(const CK_MECHANISM *m, const ch_attrs *wrapping_key, const CK_BYTE *in,
                   CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	CK_RV rv;

	if (out_len == NULL || (in == NULL && in_len > 0))
		return CKR_ARGUMENTS_BAD;
	ERR_set_mark();
	rv = mech_wrap(m, wrapping_key, in, in_len, out, out_len);
	ERR_pop_to_mark();
	return rv;
}

CK_RV ch_mech_unwrap(const CK_MECHANISM *m, const ch_attrs *unwrapping_key, const CK_BYTE *in,
                     CK_ULONG in_len, CK_BYTE **out, CK_ULONG *out_len)
{
	CK_RV rv;

	if (out == NULL || out_len == NULL || (in == NULL && in_len > 0))
		return CKR_ARGUMENTS_BAD;
	ERR_set_mark();
	rv = mech_unwrap(m, unwrapping_key, NULL, 0, in, in_len, out, out_len);
	ERR_pop_to_mark();
	return rv;
}

CK_RV ch_mech_unwrap_versioned(const CK_MECHANISM *m, const ch_attrs *unwrapping_key,
                               const ch_attrs *const *more, size_t n_more, const CK_BYTE *in,
                               CK_ULONG in_len, CK_BYTE **out, CK_ULONG *out_len)
{
	CK_RV rv;

	if (out == NULL || out_len == NULL || (in == NULL && in_len > 0) ||
	    (more == NULL && n_more > 0))
		return CKR_ARGUMENTS_BAD;
	ERR_set_mark();
	rv = mech_unwrap(m, unwrapping_key, more, n_more, in, in_len, out, out_len);
	ERR_pop_to_mark();
	return rv;
}

CK_RV ch_mech_derive(const CK_MECHANISM *m, const ch_attrs *base, ch_attrs *key)
{
	CK_RV rv;

	ERR_set_mark();
	rv = mech_derive(m, base, key);
	ERR_pop_to_mark();
	return rv;
}
