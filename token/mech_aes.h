/*
 * Inside the AES family: what its files (mech_aes.c for the key generator,
 * the block modes and the family's table; mech_aes_aead.c for GCM and CCM;
 * mech_aes_mac.c for CMAC; mech_aes_wrap.c for RFC 3394 and RFC 5649 key
 * wrap) share with each other, and the streaming AEAD hooks that
 * mech_chacha.c reuses for ChaCha20-Poly1305.  Only those files include it.
 */
#ifndef CH_TOKEN_MECH_AES_H
#define CH_TOKEN_MECH_AES_H

#include "mech_impl.h"

/* EVP_CipherUpdate takes an int length: longer input goes in chunks. */
#define CH_EVP_CHUNK (1 << 30)

/* The AES key of key (CKA_VALUE: 16, 24 or 32 bytes) and the cipher of
 * mode first (CH_CIPHER_AES_128_<mode>) for its size.  CKR_OK,
 * CKR_KEY_TYPE_INCONSISTENT (no CKA_VALUE), CKR_KEY_SIZE_RANGE, or
 * CKR_GENERAL_ERROR when OpenSSL lacks the cipher.  *value points into
 * key. */
CK_RV ch_aes_key(const ch_attrs *key, ch_cipher_id first, const CK_BYTE **value,
                 const EVP_CIPHER **cipher);

/* Runs len bytes through c in chunks EVP can take; out NULL feeds AAD.
 * *written gets the bytes produced.  CKR_OK or CKR_FUNCTION_FAILED. */
CK_RV ch_cipher_run(EVP_CIPHER_CTX *c, CK_BYTE *out, const CK_BYTE *in, size_t len,
                    size_t *written);

/*
 * A streaming AEAD (AES-GCM, ChaCha20-Poly1305) whose start hook has set
 * up op->cctx with key, IV and AAD, and whose state block begins with a
 * ch_aead_state.  Output is ciphertext || tag.  Encryption streams;
 * decryption buffers every update (returning nothing) and decrypts and
 * checks the tag in the final or one-shot call, wiping what it wrote when
 * the tag does not match (CKR_ENCRYPTED_DATA_INVALID).
 */
typedef struct ch_aead_state {
	size_t tag_len; /* bytes */
} ch_aead_state;

CK_RV ch_aead_out_len(const ch_op *op, ch_stage stage, CK_ULONG in_len, CK_ULONG *need);
CK_RV ch_aead_update(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                     CK_ULONG *out_len);
CK_RV ch_aead_final(ch_op *op, CK_BYTE *out, CK_ULONG *out_len);
CK_RV ch_aead_oneshot(ch_op *op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                      CK_ULONG *out_len);

/* The hooks of the other AES files, for the table in mech_aes.c. */
extern const ch_mech_ops ch_aes_gcm_ops;  /* mech_aes_aead.c */
extern const ch_mech_ops ch_aes_ccm_ops;  /* mech_aes_aead.c */
extern const ch_mech_ops ch_aes_cmac_ops; /* mech_aes_mac.c: CKM_AES_CMAC(_GENERAL) */
extern const ch_mech_ops ch_aes_kw_ops;   /* mech_aes_wrap.c: RFC 3394 */
extern const ch_mech_ops ch_aes_kwp_ops;  /* mech_aes_wrap.c: RFC 5649 */

#endif
