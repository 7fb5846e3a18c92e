/*
 * Inside the mechanism registry: the layout of a registry row (ch_mech), of
 * an operation in progress (ch_op), and the hooks a mechanism family
 * provides.  Only token/mech*.c include this header; everything else sees
 * token/mech.h.
 *
 * The split of work is fixed so that a new family is a table row in mech.c
 * plus a ch_mech_ops of hooks in its own file:
 *
 *   mech.c (the driver)                  the family's hooks
 *   -------------------------------      ---------------------------------
 *   finds the row, checks the kind       param: validates the CK_MECHANISM
 *   key class / type / usage attribute   start: loads the key, builds the
 *   the buffer convention (length           OpenSSL objects
 *     queries, short buffers)            out_len: how much a call produces
 *   the state machine (fresh, updating,  update / final / oneshot / verify:
 *     done) and single-part rows            the work, into a buffer that is
 *   freeing and wiping everything           known to be big enough
 *
 * OpenSSL objects live in the ch_op fields below and are freed by the
 * driver; anything else a family needs lives in its state block (st), a
 * zeroed allocation of ops->state_size bytes that the driver wipes and frees.
 *
 * Return codes the hooks share: missing or unparseable key material is
 * CKR_KEY_TYPE_INCONSISTENT (the key does not fit the mechanism), key
 * material of a size the mechanism does not take is CKR_KEY_SIZE_RANGE, an
 * EC key on a curve the token lacks is CKR_CURVE_NOT_SUPPORTED.
 */
#ifndef CH_TOKEN_MECH_IMPL_H
#define CH_TOKEN_MECH_IMPL_H

#include <stddef.h>

#include <openssl/evp.h>

#include "mech.h"

/* Which call of an operation is asking for an output length. */
typedef enum ch_stage {
	CH_STAGE_ONESHOT, /* C_Encrypt, C_Decrypt, C_Sign, C_Digest */
	CH_STAGE_UPDATE,  /* C_EncryptUpdate, C_DecryptUpdate */
	CH_STAGE_FINAL,   /* C_EncryptFinal, C_DecryptFinal, C_SignFinal, C_DigestFinal */
} ch_stage;

/* Which keys a row works with, by operation kind. */
typedef enum ch_key_use {
	CH_KEY_NONE,   /* digests: no key */
	CH_KEY_SECRET, /* every kind takes a CKO_SECRET_KEY (AES, HMAC, ...) */
	CH_KEY_PAIR,   /* encrypt and verify take the CKO_PUBLIC_KEY, decrypt and
	                * sign the CKO_PRIVATE_KEY (RSA, EC, EdDSA, ...) */
} ch_key_use;

/* Row flags.  CH_MECH_SINGLE_PART: one-shot calls only (CKM_ECDSA ...);
 * update and final calls get CKR_FUNCTION_NOT_SUPPORTED. */
#define CH_MECH_SINGLE_PART 0x1u
/* CH_MECH_DERIVES_DATA: C_DeriveKey makes a CKO_DATA object (CKM_HKDF_DATA),
 * whose length the backend hands the hook as CKA_VALUE_LEN; rows without it
 * make keys only. */
#define CH_MECH_DERIVES_DATA 0x2u

/* Hook shapes shared by several members of ch_mech_ops below. */
typedef CK_RV ch_keypair_fn(const ch_mech *row, const CK_MECHANISM *m, ch_attrs *pub,
                            ch_attrs *priv);
typedef CK_RV ch_run_fn(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                        CK_ULONG *out_len);
typedef CK_RV ch_derive_fn(const ch_mech *row, const CK_MECHANISM *m, const ch_attrs *base,
                           ch_attrs *key);
typedef CK_RV ch_verify_fn(ch_op *op, const CK_BYTE *data, CK_ULONG len, const CK_BYTE *sig,
                           CK_ULONG sig_len);

/* The hooks of one family.  Any hook may be NULL where the table rows using
 * these ops never need it (a key generator has no update ...).  Every hook
 * returns CKR_OK or a PKCS#11 error; on an error from any hook but param and
 * out_len the driver ends the operation, so a hook need not undo anything. */
typedef struct ch_mech_ops {
	/* Bytes of per-operation state (ch_op.st) the family wants; 0 for none. */
	size_t state_size;

	/* C_GenerateKey: writes the key material into key (see
	 * ch_mech_generate_key in mech.h).  Checks m's parameter itself
	 * (ch_mech_no_param() for mechanisms without one). */
	CK_RV (*generate_key)(const ch_mech *row, const CK_MECHANISM *m, ch_attrs *key);
	/* C_GenerateKeyPair: see ch_mech_generate_key_pair in mech.h. */
	ch_keypair_fn *generate_key_pair;

	/* Validates m's parameter for op->kind (CKR_MECHANISM_PARAM_INVALID).
	 * NULL: the mechanism takes no parameter, and the driver rejects a
	 * non-zero ulParameterLen.  It runs before the key is looked at; it may
	 * record scalars in op->st but must not keep pointers into m. */
	CK_RV (*param)(ch_op *op, const CK_MECHANISM *m);
	/* Loads the key (class, type and usage already checked; NULL for
	 * digests) and sets up the OpenSSL objects.  m is the same mechanism
	 * param saw, still valid during this call only. */
	CK_RV (*start)(ch_op *op, const CK_MECHANISM *m, const ch_attrs *key);

	/* Bytes the call at this stage will produce for in_len input bytes, in
	 * *need.  Exact, unless the family sets out_is_bound: then *need is an
	 * upper bound, the driver passes short buffers through, and the run
	 * hook must itself answer CKR_BUFFER_TOO_SMALL (with the exact length)
	 * without changing the operation.  An error here (say
	 * CKR_ENCRYPTED_DATA_LEN_RANGE) ends the operation. */
	CK_RV (*out_len)(const ch_op *op, ch_stage stage, CK_ULONG in_len, CK_ULONG *need);
	bool out_is_bound;

	/* The work.  out has room for *out_len bytes (at least what out_len
	 * answered unless out_is_bound); set *out_len to the bytes written.
	 * update for sign/verify/digest is called with out and out_len NULL.
	 * oneshot is optional: without it the driver runs update then final.
	 * verify checks a whole message at once (optional: without it the
	 * driver runs update then verify_final); both return CKR_OK,
	 * CKR_SIGNATURE_INVALID or CKR_SIGNATURE_LEN_RANGE. */
	ch_run_fn *oneshot;
	ch_run_fn *update;
	CK_RV (*final)(ch_op *op, CK_BYTE *out, CK_ULONG *out_len);
	ch_verify_fn *verify;
	CK_RV (*verify_final)(ch_op *op, const CK_BYTE *sig, CK_ULONG sig_len);

	/* Releases what st points to (not st itself, not the OpenSSL fields of
	 * ch_op: the driver frees those).  Optional. */
	void (*cleanup)(ch_op *op);

	/* Which key types the rows using these ops accept, when more than
	 * row->key_type (CKM_SHA256_HMAC takes CKK_GENERIC_SECRET and
	 * CKK_SHA256_HMAC; CKM_ECDH1_DERIVE takes CKK_EC and
	 * CKK_EC_MONTGOMERY).  NULL: exactly row->key_type. */
	bool (*key_type_ok)(const ch_mech *row, CK_KEY_TYPE kt);

	/* C_DeriveKey: see ch_mech_derive in mech.h.  The driver has checked
	 * the base key (class, type, CKA_DERIVE) unless the row's key_use is
	 * CH_KEY_NONE (base NULL); the hook checks m's parameter itself and
	 * writes CKA_VALUE into key. */
	ch_derive_fn *derive;
} ch_mech_ops;

/* One row of the registry: what C_GetMechanismInfo reports and how the
 * driver runs it. */
struct ch_mech {
	CK_MECHANISM_TYPE type;
	CK_MECHANISM_INFO info; /* the truth: sizes and CKF_* flags */
	unsigned flags;         /* CH_MECH_* */
	ch_key_use key_use;
	CK_KEY_TYPE key_type; /* keys it uses, or the key type it generates */
	const ch_mech_ops *ops;
	int arg; /* family-specific: a ch_md_id for hash-then-sign rows ... */
};

/* Where an operation stands. */
typedef enum ch_op_state {
	CH_OP_FRESH,    /* initialised, nothing run yet */
	CH_OP_UPDATING, /* at least one update done: only update/final follow */
	CH_OP_DONE,     /* ended: every call answers CKR_OPERATION_NOT_INITIALIZED */
} ch_op_state;

struct ch_op {
	const ch_mech *row;
	ch_op_kind kind;
	ch_op_state state;

	/* OpenSSL objects; the driver frees whichever are set. */
	EVP_CIPHER_CTX *cctx;
	EVP_MD_CTX *mdctx;
	EVP_PKEY *pkey;
	EVP_PKEY_CTX *pctx;

	/* Input held back by the family (ch_op_buffer_append); wiped on free. */
	CK_BYTE *buf;
	size_t buf_len, buf_cap;

	void *st; /* the family's state, ops->state_size bytes, zeroed at init */
};

/* A family's rows.  Each family file defines one (CH_FAMILY over its own
 * static table) and mech.c lists them all, so a family adds mechanisms
 * without touching any other file. */
typedef struct ch_mech_family {
	const ch_mech *rows;
	size_t count;
} ch_mech_family;

#define CH_FAMILY(table)                                                                           \
	{                                                                                          \
		(table), sizeof(table) / sizeof((table)[0])                                        \
	}

extern const ch_mech_family ch_family_aes;     /* mech_aes.c */
extern const ch_mech_family ch_family_chacha;  /* mech_chacha.c */
extern const ch_mech_family ch_family_digest;  /* mech_digest.c */
extern const ch_mech_family ch_family_hmac;    /* mech_hmac.c */
extern const ch_mech_family ch_family_kdf;     /* mech_kdf.c */
extern const ch_mech_family ch_family_rsa;     /* mech_rsa.c */
extern const ch_mech_family ch_family_ec;      /* mech_ec.c */
extern const ch_mech_family ch_family_edwards; /* mech_edwards.c */
extern const ch_mech_family ch_family_vgcm;    /* mech_aes_vgcm.c */

/* True for the kinds that run a family's encrypt path (encrypt, wrap) and
 * its decrypt path (decrypt, unwrap). */
static inline bool ch_op_encrypts(const ch_op *op)
{
	return op->kind == CH_OP_ENCRYPT || op->kind == CH_OP_WRAP;
}

static inline bool ch_op_decrypts(const ch_op *op)
{
	return op->kind == CH_OP_DECRYPT || op->kind == CH_OP_UNWRAP;
}

/* The state of a MAC row over EVP_MAC, and the hooks such rows share
 * (mech_mac.c): the family's param and start hooks set tag_len (the bytes
 * given out or checked) and ctx (initialised with the key); update, final,
 * verify_final (constant time; a wrong length is CKR_SIGNATURE_LEN_RANGE)
 * and cleanup are these. */
typedef struct ch_mac_state {
	EVP_MAC_CTX *ctx;
	size_t tag_len;
} ch_mac_state;

CK_RV ch_mac_out_len(const ch_op *op, ch_stage stage, CK_ULONG in_len, CK_ULONG *need);
CK_RV ch_mac_update(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len);
CK_RV ch_mac_final(ch_op *op, CK_BYTE *out, CK_ULONG *out_len);
CK_RV ch_mac_verify_final(ch_op *op, const CK_BYTE *sig, CK_ULONG sig_len);
void ch_mac_cleanup(ch_op *op);

/* The longest secret key ch_mech_random_key makes, in bytes. */
#define CH_RANDOM_KEY_MAX 512

/* C_GenerateKey of a key that is random bytes (AES, ChaCha20, generic
 * secret, HMAC and HKDF keys): m takes no parameter; the length is the
 * key's CKA_VALUE_LEN, or dflt when that is absent and dflt is not 0
 * (CKR_TEMPLATE_INCOMPLETE when both are missing); it must lie in
 * [min, max] and be min plus a multiple of step (CKR_KEY_SIZE_RANGE);
 * max is at most CH_RANDOM_KEY_MAX.  Writes CKA_VALUE from the private
 * DRBG. */
CK_RV ch_mech_random_key(const CK_MECHANISM *m, ch_attrs *key, CK_ULONG min, CK_ULONG max,
                         CK_ULONG step, CK_ULONG dflt);

/* CKR_OK when m carries no parameter (ulParameterLen 0), else
 * CKR_MECHANISM_PARAM_INVALID. */
CK_RV ch_mech_no_param(const CK_MECHANISM *m);

/* Appends len bytes to op->buf, growing it (the old copy is wiped).
 * CKR_OK, CKR_HOST_MEMORY, or CKR_DATA_LEN_RANGE when the total would not
 * fit in a size_t. */
CK_RV ch_op_buffer_append(ch_op *op, const CK_BYTE *in, CK_ULONG len);

/* Algorithms fetched once per process (the first call fetches them all
 * under a pthread_once) and never freed.  A new family adds its names to
 * the enums here and to the name tables in mech.c. */
typedef enum ch_cipher_id {
	/* AES modes: each mode's three key sizes in a row (128, 192, 256), so
	 * that a mode's first id plus 0, 1 or 2 picks the size. */
	CH_CIPHER_AES_128_GCM,
	CH_CIPHER_AES_192_GCM,
	CH_CIPHER_AES_256_GCM,
	CH_CIPHER_AES_128_ECB,
	CH_CIPHER_AES_192_ECB,
	CH_CIPHER_AES_256_ECB,
	CH_CIPHER_AES_128_CBC,
	CH_CIPHER_AES_192_CBC,
	CH_CIPHER_AES_256_CBC,
	CH_CIPHER_AES_128_CTR,
	CH_CIPHER_AES_192_CTR,
	CH_CIPHER_AES_256_CTR,
	CH_CIPHER_AES_128_CCM,
	CH_CIPHER_AES_192_CCM,
	CH_CIPHER_AES_256_CCM,
	CH_CIPHER_AES_128_WRAP, /* RFC 3394 */
	CH_CIPHER_AES_192_WRAP,
	CH_CIPHER_AES_256_WRAP,
	CH_CIPHER_AES_128_WRAP_PAD, /* RFC 5649 */
	CH_CIPHER_AES_192_WRAP_PAD,
	CH_CIPHER_AES_256_WRAP_PAD,
	CH_CIPHER_CHACHA20_POLY1305,
	CH_CIPHER_CHACHA20,
	CH_CIPHERS
} ch_cipher_id;

typedef enum ch_md_id {
	CH_MD_NONE = -1, /* a row that takes its input already hashed */
	CH_MD_SHA1,
	CH_MD_SHA224,
	CH_MD_SHA256,
	CH_MD_SHA384,
	CH_MD_SHA512,
	CH_MD_SHA512_224,
	CH_MD_SHA512_256,
	CH_MD_SHA3_224,
	CH_MD_SHA3_256,
	CH_MD_SHA3_384,
	CH_MD_SHA3_512,
	CH_MDS
} ch_md_id;

/* Key type names for EVP_PKEY_CTX_new_from_name when a context imports key
 * material (EVP_PKEY_fromdata) or generates a key: the OIDs under which the
 * default provider also knows RSA and EC keys.  OpenSSL 3.0 maps the names
 * "RSA" and "EC" to legacy NIDs and then hands the context to any ENGINE the
 * application made the default for that key type (`openssl req -engine
 * pkcs11` does, loading the module into the same process through libp11); an
 * engine's context can neither import nor generate from provider parameters,
 * so every key load would fail there with CKR_KEY_TYPE_INCONSISTENT.  A name
 * with no legacy NID goes to the provider directly. */
#define CH_PKEY_NAME_RSA "1.2.840.113549.1.1.1"
#define CH_PKEY_NAME_EC  "1.2.840.10045.2.1"

/* The digest of a hash mechanism (CKM_SHA256 -> CH_MD_SHA256), of an MGF1
 * generator (CKG_MGF1_SHA256 -> CH_MD_SHA256), or CH_MD_NONE when there is
 * none such.  Used for the hashAlg, mgf and prfHashMechanism fields of
 * mechanism parameters. */
ch_md_id ch_md_from_mech(CK_MECHANISM_TYPE type);
ch_md_id ch_md_from_mgf(CK_ULONG mgf);

/* The output size of a digest in bytes (0 for CH_MD_NONE). */
size_t ch_md_size(ch_md_id id);

/* The fetched cipher or digest, or NULL when the default provider lacks it
 * (callers answer CKR_MECHANISM_INVALID or CKR_GENERAL_ERROR).  The pointer
 * is valid for the life of the process; do not free it. */
const EVP_CIPHER *ch_mech_cipher(ch_cipher_id id);
const EVP_MD *ch_mech_md(ch_md_id id);

/* Fills out with len bytes from OpenSSL's private DRBG (RAND_priv_bytes),
 * for key material.  CKR_OK or CKR_FUNCTION_FAILED. */
CK_RV ch_rng_priv_bytes(CK_BYTE *out, size_t len);

/*
 * Key codecs of the asymmetric families: a key object's attributes to an
 * EVP_PKEY and back.  The families' own operations load keys with them, and
 * ch_key_export/ch_key_import (PKCS#8 wrapping of private keys) use them.
 *
 * *_pkey_load: builds *out (caller frees) from a public (priv false) or
 * private (priv true) key's attributes; CKR_OK, CKR_KEY_TYPE_INCONSISTENT
 * (material missing or not a valid key), CKR_CURVE_NOT_SUPPORTED,
 * CKR_KEY_SIZE_RANGE, CKR_HOST_MEMORY.
 * *_pkey_store: writes pkey's private components (and the public ones a
 * private key object holds: CKA_MODULUS, CKA_PUBLIC_EXPONENT; CKA_EC_PARAMS)
 * into key; CKR_OK, CKR_WRAPPED_KEY_INVALID (pkey is of another kind),
 * CKR_HOST_MEMORY.
 */
CK_RV ch_rsa_pkey_load(const ch_attrs *key, bool priv, EVP_PKEY **out); /* mech_rsa.c */

/* The *_pkey_load shortcut: when key carries its parsed form (ch_key_parse,
 * made when the key cache took the key), *out gets a new reference to it
 * and the answer is true. */
static inline bool ch_pkey_memo(const ch_attrs *key, bool priv, EVP_PKEY **out)
{
	EVP_PKEY *p = ch_attrs_parsed(key, priv);

	if (p == NULL || EVP_PKEY_up_ref(p) != 1)
		return false;
	*out = p;
	return true;
}

CK_RV ch_rsa_pkey_store(EVP_PKEY *pkey, ch_attrs *key);
/* CKK_EC (mech_ec.c), CKK_EC_EDWARDS and CKK_EC_MONTGOMERY (mech_edwards.c). */
CK_RV ch_ec_pkey_load(const ch_attrs *key, bool priv, EVP_PKEY **out);
CK_RV ch_ec_pkey_store(EVP_PKEY *pkey, ch_attrs *key);
CK_RV ch_ecx_pkey_load(const ch_attrs *key, bool priv, EVP_PKEY **out);
CK_RV ch_ecx_pkey_store(EVP_PKEY *pkey, ch_attrs *key);

#endif
