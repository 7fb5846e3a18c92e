/*
 * Sealing: the store's encryption and integrity, over OpenSSL.
 *
 * Each registration has a random 256-bit registration key.  It is never
 * stored in clear: each PIN (SO, user) derives a key-encryption key with a
 * deliberately slow KDF whose parameters are stored beside the wrapped copy,
 * so they can be raised later.  From the registration key, HKDF derives three
 * working keys, held in a ch_seal while someone is logged in:
 *
 *   enc   AES-256-GCM for secret and private attribute values; the
 *         associated data binds a value to its registration, object and
 *         attribute type, so a value moved elsewhere fails to open;
 *   mac   HMAC-SHA256 over an object's whole stored form (every attribute,
 *         sealed or not, in type order), so editing a policy attribute such
 *         as CKA_EXTRACTABLE, or dropping a row, is detected on load;
 *   index HMAC-SHA256 "blind index" of searchable sealed values, so
 *         C_FindObjects can match a private object's label in SQL without
 *         decrypting every object.
 */
#ifndef CH_TOKEN_SEAL_H
#define CH_TOKEN_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "cipherhub/pkcs11.h"

#define CH_REGKEY_LEN    32
#define CH_UUID_LEN      16
#define CH_MAC_LEN       32
#define CH_LOOKUP_LEN    16
#define CH_SALT_LEN      16
#define CH_SEAL_OVERHEAD (12 + 16) /* nonce + tag around every sealed value */

typedef enum ch_kdf_alg {
	CH_KDF_PBKDF2_SHA256 = 1,
	CH_KDF_SCRYPT = 2,
} ch_kdf_alg;

/* PIN KDF parameters.  Defaults: PBKDF2-HMAC-SHA256, 600,000 iterations
 * (OWASP's current minimum); scrypt N=2^17 r=8 p=1 when chosen. */
typedef struct ch_kdf_params {
	ch_kdf_alg alg;
	uint32_t iterations; /* PBKDF2 */
	uint32_t log2n;      /* scrypt */
	uint32_t r;
	uint32_t p;
} ch_kdf_params;

/* Sets *p to the defaults above. */
void ch_kdf_defaults(ch_kdf_params *p);

/* The name of the KDF ("pbkdf2-sha256", "scrypt"). */
const char *ch_kdf_name(ch_kdf_alg alg);

/* A PIN-wrapped registration key as stored: KDF parameters, salt and
 * nonce||AES-256-GCM(kek, regkey)||tag. */
typedef struct ch_wrapped_key {
	ch_kdf_params kdf;
	uint8_t salt[CH_SALT_LEN];
	uint8_t blob[12 + CH_REGKEY_LEN + 16];
} ch_wrapped_key;

/* Fills a buffer from OpenSSL's private DRBG.  CKR_OK or CKR_FUNCTION_FAILED. */
CK_RV ch_seal_random(uint8_t *out, size_t len);

/* The store's own AES-256-GCM and HKDF (algorithms fetched once), for every
 * format it writes: PIN-wrapped keys, sealed attributes, the HSM root's
 * derivation and backups. */
#define CH_SEAL_GCM_OVERHEAD 28 /* 12-byte nonce + 16-byte tag */

/* enc = 1: out gets nonce||ct||tag (in_len + CH_SEAL_GCM_OVERHEAD bytes)
 * under a fresh random nonce.  enc = 0: in is nonce||ct||tag; out gets the
 * in_len - CH_SEAL_GCM_OVERHEAD plaintext bytes only if the tag verifies,
 * and is wiped otherwise.  aad is authenticated, not encrypted.  1 on
 * success, 0 on any failure (including a bad tag). */
int ch_seal_gcm(int enc, const uint8_t key[32], const uint8_t *aad, size_t aad_len,
                const uint8_t *in, size_t in_len, uint8_t *out);

/* HKDF-SHA256 (RFC 5869) of ikm with salt (NULL: none) and the text info
 * into out_len bytes.  1 on success, 0 on failure. */
int ch_seal_hkdf(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
                 const char *info, uint8_t *out, size_t out_len);

/* Wraps regkey under a key derived from pin with params kdf; the associated
 * data binds the result to the registration (uuid), the user type and the
 * participant name.  CKR_OK, CKR_HOST_MEMORY or CKR_FUNCTION_FAILED. */
CK_RV ch_pin_wrap(const ch_kdf_params *kdf, const CK_UTF8CHAR *pin, CK_ULONG pin_len,
                  const uint8_t uuid[CH_UUID_LEN], CK_USER_TYPE who, const char *name,
                  const uint8_t regkey[CH_REGKEY_LEN], ch_wrapped_key *out);

/* Opens a wrapped key with pin.  CKR_OK with regkey filled (caller wipes),
 * CKR_PIN_INCORRECT when the PIN (or anything bound in) does not match,
 * CKR_FUNCTION_FAILED on an OpenSSL failure.  Costs one KDF run. */
CK_RV ch_pin_unwrap(const ch_wrapped_key *w, const CK_UTF8CHAR *pin, CK_ULONG pin_len,
                    const uint8_t uuid[CH_UUID_LEN], CK_USER_TYPE who, const char *name,
                    uint8_t regkey[CH_REGKEY_LEN]);

typedef struct ch_seal ch_seal;

/* Derives the working keys of one registration.  Returns NULL when out of
 * memory or when OpenSSL fails.  Free with ch_seal_free (which wipes). */
ch_seal *ch_seal_new(const uint8_t regkey[CH_REGKEY_LEN], const uint8_t uuid[CH_UUID_LEN]);
void ch_seal_free(ch_seal *s);

/* Encrypts one attribute value of object obj.  *out (malloc'd, len +
 * CH_SEAL_OVERHEAD bytes) is ciphertext and may be freed plainly. */
CK_RV ch_seal_encrypt(const ch_seal *s, uint64_t obj, CK_ATTRIBUTE_TYPE type, const uint8_t *in,
                      size_t len, uint8_t **out, size_t *out_len);

/* Decrypts and authenticates one sealed value.  CKR_OK with *out (caller
 * wipes and frees) or CKR_DEVICE_ERROR when the value does not open: wrong
 * object, wrong type, edited bytes.  Nothing is released on failure. */
CK_RV ch_seal_decrypt(const ch_seal *s, uint64_t obj, CK_ATTRIBUTE_TYPE type, const uint8_t *in,
                      size_t len, uint8_t **out, size_t *out_len);

/* The blind index of a searchable value. */
CK_RV ch_seal_lookup(const ch_seal *s, CK_ATTRIBUTE_TYPE type, const uint8_t *value, size_t len,
                     uint8_t out[CH_LOOKUP_LEN]);

/* HMAC-SHA256 under the registration's audit key (a fourth HKDF output),
 * over data: authenticates an audit record's chain hash. */
CK_RV ch_seal_audit_mac(const ch_seal *s, const uint8_t *data, size_t len, uint8_t out[CH_MAC_LEN]);

/* One row of an object as stored, for the object MAC. */
typedef struct ch_stored_attr {
	CK_ATTRIBUTE_TYPE type;
	int sealed;
	const uint8_t *value;
	size_t len;
} ch_stored_attr;

/* MAC over an object's stored rows (sorted by type, as given). */
CK_RV ch_seal_mac(const ch_seal *s, uint64_t obj, const ch_stored_attr *rows, size_t n,
                  uint8_t out[CH_MAC_LEN]);

#endif
