/*
 * Mechanism registry: every CKM_* the software token implements, and the
 * one place that runs a cryptographic operation over OpenSSL 3.
 *
 * Each mechanism family lives in its own file (mech_aes.c, mech_ec.c, ...)
 * and contributes ch_mech entries to the table in mech.c.  Looking up a
 * mechanism the table lacks answers CKR_MECHANISM_INVALID.  The backend sees
 * only this header: keys come in as attribute sets (ch_attrs), results go out
 * through PKCS#11 buffers, and no OpenSSL type crosses the line.
 *
 * Buffer convention (PKCS#11 3.0 section 5.2): a NULL output pointer asks
 * for the length; a short buffer gets CKR_BUFFER_TOO_SMALL with the needed
 * length; both leave the operation active.  The caller ends an operation
 * after any other result of a one-shot or final call (ch_op_ends()).
 */
#ifndef CH_TOKEN_MECH_H
#define CH_TOKEN_MECH_H

#include <stdbool.h>

#include "cipherhub/pkcs11.h"
#include "attrs.h"

/* The kinds of operation.  The first CH_OP_KINDS are the ones a session
 * holds open across calls (one of each at a time); wrap and unwrap run
 * within one call (C_WrapKey, C_UnwrapKey) over the same family hooks as
 * encrypt and decrypt, with the key's CKA_WRAP / CKA_UNWRAP and the
 * mechanism's CKF_WRAP / CKF_UNWRAP instead. */
typedef enum ch_op_kind {
	CH_OP_ENCRYPT,
	CH_OP_DECRYPT,
	CH_OP_SIGN,
	CH_OP_VERIFY,
	CH_OP_DIGEST,
	CH_OP_KINDS, /* session-held kinds end here */
	CH_OP_WRAP = CH_OP_KINDS,
	CH_OP_UNWRAP,
	CH_OP_ALL_KINDS
} ch_op_kind;

typedef struct ch_mech ch_mech; /* one row of the registry; see mech_impl.h */
typedef struct ch_op ch_op;     /* an operation in progress */

/* The registry, for C_GetMechanismList and C_GetMechanismInfo. */
CK_ULONG ch_mech_count(void);
CK_MECHANISM_TYPE ch_mech_type_at(CK_ULONG i);
/* CKR_OK, or CKR_MECHANISM_INVALID for a mechanism not in the table. */
CK_RV ch_mech_info(CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info);

/* The class and key type a key-generation mechanism produces
 * (CKM_AES_KEY_GEN: CKO_SECRET_KEY/CKK_AES; CKM_EC_KEY_PAIR_GEN: the private
 * key's, CKO_PRIVATE_KEY/CKK_EC).  CKR_MECHANISM_INVALID otherwise. */
CK_RV ch_mech_keygen_type(CK_MECHANISM_TYPE type, bool pair, CK_KEY_TYPE *kt);

/* C_GenerateKey: key was built by ch_object_build (class, key type, usage,
 * CKA_VALUE_LEN where given); fills in the key material (CKA_VALUE ...).
 * Returns CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID,
 * CKR_TEMPLATE_INCOMPLETE (no CKA_VALUE_LEN), CKR_KEY_SIZE_RANGE, ... */
CK_RV ch_mech_generate_key(const CK_MECHANISM *m, ch_attrs *key);

/* C_GenerateKeyPair: reads the domain parameters (CKA_EC_PARAMS,
 * CKA_MODULUS_BITS ...) from pub, fills CKA_EC_POINT ... into pub and the
 * private material (and a copy of the parameters) into priv. */
CK_RV ch_mech_generate_key_pair(const CK_MECHANISM *m, ch_attrs *pub, ch_attrs *priv);

/* Starts an operation of that kind with key (NULL for digests).  Checks, in
 * this order: mechanism known and able to do that kind
 * (CKR_MECHANISM_INVALID), its parameter (CKR_MECHANISM_PARAM_INVALID), the
 * key's class and type (CKR_KEY_TYPE_INCONSISTENT), the key's usage
 * attribute CKA_ENCRYPT/CKA_DECRYPT/CKA_SIGN/CKA_VERIFY
 * (CKR_KEY_FUNCTION_NOT_PERMITTED), its size (CKR_KEY_SIZE_RANGE).  The
 * operation keeps what it needs of the key; key may be freed after.  On
 * success *op is set and the caller frees it with ch_op_free(). */
CK_RV ch_op_init(ch_op_kind kind, const CK_MECHANISM *m, const ch_attrs *key, ch_op **op);

/* Wipes and frees an operation.  Accepts NULL. */
void ch_op_free(ch_op *op);

ch_op_kind ch_op_kind_of(const ch_op *op);

/* C_Encrypt, C_Decrypt, C_Sign, C_Digest: the whole data in one call. */
CK_RV ch_op_oneshot(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len);

/* C_EncryptUpdate, C_DecryptUpdate (out/out_len used), C_SignUpdate,
 * C_VerifyUpdate, C_DigestUpdate (out NULL, out_len NULL). */
CK_RV ch_op_update(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len);

/* C_EncryptFinal, C_DecryptFinal, C_SignFinal, C_DigestFinal. */
CK_RV ch_op_final(ch_op *op, CK_BYTE *out, CK_ULONG *out_len);

/* C_Verify (data and signature at once) and C_VerifyFinal (after updates).
 * CKR_OK, CKR_SIGNATURE_INVALID or CKR_SIGNATURE_LEN_RANGE. */
CK_RV ch_op_verify(ch_op *op, const CK_BYTE *data, CK_ULONG len, const CK_BYTE *sig,
                   CK_ULONG sig_len);
CK_RV ch_op_verify_final(ch_op *op, const CK_BYTE *sig, CK_ULONG sig_len);

/* True when a one-shot or final call that returned rv with output pointer
 * out has ended the operation (everything but a length query or a short
 * buffer). */
bool ch_op_ends(CK_RV rv, const CK_BYTE *out);

/* C_WrapKey's cryptography: encrypts in (the encoding of the key to wrap,
 * from ch_key_export) under wrapping_key with m.  Checks as ch_op_init
 * does, with CKF_WRAP and the key's CKA_WRAP.  The buffer convention of a
 * one-shot call applies (out NULL: the length).  Returns CKR_OK,
 * CKR_BUFFER_TOO_SMALL, CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID,
 * CKR_WRAPPING_KEY_TYPE_INCONSISTENT, CKR_KEY_FUNCTION_NOT_PERMITTED,
 * CKR_WRAPPING_KEY_SIZE_RANGE, CKR_KEY_SIZE_RANGE (in cannot be wrapped
 * with m: wrong length for the mode). */
CK_RV ch_mech_wrap(const CK_MECHANISM *m, const ch_attrs *wrapping_key, const CK_BYTE *in,
                   CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len);

/* C_UnwrapKey's cryptography: decrypts in under unwrapping_key with m into
 * a new buffer in *out (*out_len bytes; the caller wipes and frees it with
 * OPENSSL_clear_free).  Checks as ch_op_init, with CKF_UNWRAP and
 * CKA_UNWRAP.  Every failure to decrypt or authenticate is the one code
 * CKR_WRAPPED_KEY_INVALID (no padding or tag oracle); a wrong length is
 * CKR_WRAPPED_KEY_LEN_RANGE; key problems get the UNWRAPPING_KEY codes. */
CK_RV ch_mech_unwrap(const CK_MECHANISM *m, const ch_attrs *unwrapping_key, const CK_BYTE *in,
                     CK_ULONG in_len, CK_BYTE **out, CK_ULONG *out_len);

/*
 * CKM_CH_AES_GCM_VERSIONED (token/mech_aes_vgcm.c; the format is in
 * cipherhub/vendor.h).  A decryption or unwrap starts with one version of a
 * family, as any operation; the backend adds the family's other versions
 * the caller may use, and the header of the ciphertext picks one.
 */
#define CH_FAMILY_ID_LEN 8

/* The family id and version of a key, as versioned headers and the CKA_ID
 * of later versions carry them: a version above 1 takes the first 8 bytes
 * of its 12-byte CKA_ID; version 1 and plain keys (version 1) the first 8
 * bytes of their CKA_UNIQUE_ID (hex).  version may be NULL.  CKR_OK, or
 * CKR_KEY_TYPE_INCONSISTENT when the key has neither. */
CK_RV ch_key_family(const ch_attrs *key, CK_BYTE fam[CH_FAMILY_ID_LEN], CK_ULONG *version);

/* Adds key (another version of the family op was started with, which must
 * have CKA_DECRYPT, or CKA_UNWRAP for an unwrap) to a versioned decryption
 * not yet run.  A version already there is kept.  CKR_OK,
 * CKR_ARGUMENTS_BAD (another mechanism, or op already ran),
 * CKR_KEY_TYPE_INCONSISTENT (not an AES key, or of another family),
 * CKR_KEY_FUNCTION_NOT_PERMITTED, CKR_KEY_SIZE_RANGE, CKR_HOST_MEMORY. */
CK_RV ch_op_add_key(ch_op *op, const ch_attrs *key);

/* ch_mech_unwrap for CKM_CH_AES_GCM_VERSIONED with the n_more other versions
 * in more added to the key set (see ch_op_add_key; each must be fit). */
CK_RV ch_mech_unwrap_versioned(const CK_MECHANISM *m, const ch_attrs *unwrapping_key,
                               const ch_attrs *const *more, size_t n_more, const CK_BYTE *in,
                               CK_ULONG in_len, CK_BYTE **out, CK_ULONG *out_len);

/* C_DeriveKey's cryptography: key was built by ch_object_build
 * (CH_ORIGIN_DERIVE: class and key type from the template, CKA_VALUE_LEN
 * where given); fills in its CKA_VALUE from base (NULL for mechanisms
 * without a base key) and m's parameter.  Checks the mechanism
 * (CKF_DERIVE), the base key's class, type and CKA_DERIVE, then the
 * family's hook.  CKR_OK, CKR_MECHANISM_INVALID,
 * CKR_MECHANISM_PARAM_INVALID, CKR_KEY_TYPE_INCONSISTENT,
 * CKR_KEY_FUNCTION_NOT_PERMITTED, CKR_TEMPLATE_INCOMPLETE (no length where
 * the key type has none), CKR_KEY_SIZE_RANGE, ... */
CK_RV ch_mech_derive(const CK_MECHANISM *m, const ch_attrs *base, ch_attrs *key);

/* The bytes C_WrapKey wraps for a key: CKA_VALUE of a secret key, the
 * PKCS#8 PrivateKeyInfo (DER) of a private key.  *out is a new buffer the
 * caller wipes and frees with OPENSSL_clear_free.  CKR_OK,
 * CKR_KEY_NOT_WRAPPABLE (a class or key type the token cannot encode),
 * CKR_HOST_MEMORY. */
/* Parses an asymmetric key object (RSA, EC, Edwards, Montgomery; private or
 * public by its CKA_CLASS) once and keeps the EVP_PKEY with it
 * (ch_attrs.parsed), so operations started from it and its copies skip the
 * parsing.  Anything else, or a key that does not parse, is left as it was
 * (its operations then report the error).  For the key cache. */
void ch_key_parse(ch_attrs *key);

CK_RV ch_key_export(const ch_attrs *key, CK_BYTE **out, CK_ULONG *out_len);

/* The reverse, for C_UnwrapKey: puts the key material in (CKA_VALUE of a
 * secret key; a private key's components, from PKCS#8) into key, an object
 * built by ch_object_build for CH_ORIGIN_UNWRAP whose class and key type
 * are set.  For a private key the PKCS#8 algorithm must match the key type.
 * CKR_OK, CKR_WRAPPED_KEY_INVALID (malformed or of another type),
 * CKR_HOST_MEMORY. */
CK_RV ch_key_import(ch_attrs *key, const CK_BYTE *in, CK_ULONG in_len);

/* The security strength of a key in bits, as NIST SP 800-57 part 1 counts
 * it: a secret key's length in bits (at most 256), an RSA key's by its
 * modulus (2048: 112, 3072: 128, 7680: 192, 15360: 256), an elliptic-curve
 * key's half its order (P-256 and Ed25519: 128).  0 when the key cannot be
 * read.  C_WrapKey refuses to wrap a key under a weaker one. */
unsigned ch_key_strength(const ch_attrs *key);

/*
 * Message-based encryption and decryption (PKCS#11 3.0 sections 5.9 and
 * 5.11; token/mech_msg.c) for the AEAD mechanisms whose info carries
 * CKF_MESSAGE_ENCRYPT / CKF_MESSAGE_DECRYPT.  param is the caller's
 * per-message CK_GCM_MESSAGE_PARAMS or CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS:
 * encryption may write a generated IV into it and always writes the tag to
 * its pTag; decryption reads the tag from there.
 */
typedef struct ch_msg ch_msg;

/* C_MessageEncryptInit / C_MessageDecryptInit: checks the mechanism
 * (CKR_MECHANISM_INVALID; a parameter here is CKR_MECHANISM_PARAM_INVALID)
 * and the key as ch_op_init would, and keeps a copy of the key.  Caller
 * frees *out with ch_msg_free. */
CK_RV ch_msg_init(bool enc, const CK_MECHANISM *m, const ch_attrs *key, ch_msg **out);

/* C_EncryptMessage / C_DecryptMessage: one whole message.  The buffer
 * convention applies; a tag that does not match is CKR_ENCRYPTED_DATA_INVALID
 * with nothing written; CKR_OPERATION_ACTIVE while a Begin...Next message is
 * open. */
CK_RV ch_msg_one(ch_msg *msg, void *param, CK_ULONG plen, const CK_BYTE *aad, CK_ULONG aad_len,
                 const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len);

/* C_EncryptMessageBegin / C_DecryptMessageBegin: opens a message. */
CK_RV ch_msg_begin(ch_msg *msg, void *param, CK_ULONG plen, const CK_BYTE *aad, CK_ULONG aad_len);

/* C_EncryptMessageNext / C_DecryptMessageNext: one part; flags
 * CKF_END_OF_MESSAGE ends the message (the tag is written or checked).
 * Decryption returns no bytes before the last part, which returns them all. */
CK_RV ch_msg_next(ch_msg *msg, void *param, CK_ULONG plen, const CK_BYTE *in, CK_ULONG in_len,
                  CK_BYTE *out, CK_ULONG *out_len, CK_FLAGS flags);

/* Wipes and frees.  Accepts NULL. */
void ch_msg_free(ch_msg *msg);

/* The key the operation works with (its copy; valid until ch_msg_free). */
const ch_attrs *ch_msg_key(const ch_msg *msg);

/* C_GenerateRandom: len bytes from OpenSSL's DRBG. */
CK_RV ch_random(CK_BYTE *out, CK_ULONG len);

#endif
