/*
 * Object model (see object.h): the PKCS#11 3.0 attribute rules for the five
 * object classes the software token holds.
 *
 * Every rule comes from one table.  An object of class C (key type K,
 * certificate type T) may hold exactly the attributes of the tables that
 * apply to it: storage, then the class's own table, then the key type's.
 * Each table row names one attribute, the kind of its value, its default,
 * and the spec's footnotes as flags (PKCS#11 3.0 base, section 4.2, table
 * "Common footnotes for object attribute tables").  Building, changing,
 * copying, reading and matching an object all ask the same rows, so
 * "may CKA_X of a CKO_Y change after creation" has one answer.
 *
 * Everything here works on copies: a failed check leaves the caller's set as
 * it was, and a result is handed over only when every check has passed.
 *
 * Cipher Hub's own choices, where the spec leaves things to the token
 * (footnote 9) or is silent, are marked "token-specific" below.  In short:
 *   - CKA_PRIVATE defaults to TRUE for private and secret keys, FALSE for
 *     everything else (public keys, certificates, data objects);
 *   - CKA_SENSITIVE defaults to FALSE and CKA_EXTRACTABLE to TRUE, the
 *     spec's historical defaults, so a key created without them behaves as
 *     in other tokens; applications that want protection ask for it;
 *   - every usage flag (CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN, CKA_VERIFY,
 *     CKA_SIGN_RECOVER, CKA_VERIFY_RECOVER, CKA_WRAP, CKA_UNWRAP, CKA_DERIVE)
 *     defaults to FALSE: a key can do only what its creator asked for;
 *   - data object attributes (CKA_APPLICATION, CKA_OBJECT_ID, CKA_VALUE) may
 *     be changed after creation, since data objects hold stored secrets that
 *     are rotated in place;
 *   - CKA_COPYABLE and CKA_DESTROYABLE may only be tightened (TRUE->FALSE),
 *     by C_SetAttributeValue or C_CopyObject;
 *   - CKA_WRAP_WITH_TRUSTED may be set FALSE->TRUE after creation, never
 *     back (footnote 11);
 *   - CKA_TRUSTED may be given or changed only by the SO (footnote 10 reads
 *     "only the SO may set TRUE"; we also keep anyone else from clearing it);
 *   - C_CopyObject of an object whose CKA_MODIFIABLE is FALSE may change only
 *     CKA_TOKEN, CKA_PRIVATE (and restate CKA_MODIFIABLE FALSE): the spec
 *     lets a copy change what "can ordinarily be modified", which for such an
 *     object is nothing else;
 *   - an attribute the token computes (footnotes 2, 4 and 6 together:
 *     CKA_LOCAL, CKA_KEY_GEN_MECHANISM, CKA_ALWAYS_SENSITIVE,
 *     CKA_NEVER_EXTRACTABLE, CKA_UNIQUE_ID) given by the caller is
 *     CKR_ATTRIBUTE_READ_ONLY; any other attribute given where its footnote
 *     says "must not" (CKA_VALUE_LEN on create, CKA_VALUE on generate, ...)
 *     is CKR_TEMPLATE_INCONSISTENT;
 *   - CKA_CHECK_VALUE given by the caller is stored, not verified (this file
 *     does no cryptography).
 *
 * Array attributes (CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE,
 * CKA_DERIVE_TEMPLATE) hold a template.  The caller passes an array of
 * CK_ATTRIBUTE; we validate each entry as we would a top-level one (known
 * type, right size, booleans normalised) and store the set in a canonical,
 * pointer-free form that the store can seal and MAC:
 *
 *	repeat, in ascending type order, no duplicates:
 *		type   8 bytes, big endian
 *		length 8 bytes, big endian
 *		value  length bytes
 *
 * ch_object_get() turns it back into CK_ATTRIBUTE arrays by the spec's
 * nested rules, and ch_object_template() hands it to the wrap/unwrap/derive
 * code as a ch_attrs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cipherhub/vendor.h"
#include "object.h"

/* Bytes counted for each attribute on top of its value by ch_object_size():
 * its type and length, as the store keeps them. */
#define CH_OBJECT_ATTR_OVERHEAD 16

/* Most entries an array attribute (CKA_WRAP_TEMPLATE ...) may hold. */
#define CH_TEMPLATE_MAX_ENTRIES 64

/* ---------------------------------------------------------------------- */
/* The rule table                                                          */
/* ---------------------------------------------------------------------- */

/* What a value must look like. */
enum kind {
	K_BOOL,     /* CK_BBOOL: exactly 1 byte; stored as 0 or 1 */
	K_ULONG,    /* CK_ULONG: exactly sizeof(CK_ULONG) */
	K_BYTES,    /* any byte string, possibly empty */
	K_UTF8,     /* well-formed UTF-8, possibly empty */
	K_DATE,     /* CK_DATE "YYYYMMDD" in ASCII digits, or empty */
	K_BIGINT,   /* big-endian integer or key value: at least one byte */
	K_TEMPLATE, /* array of CK_ATTRIBUTE, stored serialised (see above) */
	K_MECHS,    /* array of CK_MECHANISM_TYPE */
};

/* Default when the template does not give the attribute. */
enum def {
	D_NONE,    /* absent */
	D_FALSE,   /* CK_FALSE */
	D_TRUE,    /* CK_TRUE */
	D_EMPTY,   /* empty value */
	D_ULONG,   /* the rule's defval */
	D_PRIVATE, /* CKA_PRIVATE: token-specific, by class (see top) */
};

/* The spec's footnotes ... */
#define F_REQ_CREATE (1u << 0)  /* 1: must be given to C_CreateObject */
#define F_NO_CREATE  (1u << 1)  /* 2: must not be given to C_CreateObject */
#define F_REQ_GEN    (1u << 2)  /* 3: must be given to C_GenerateKey(Pair) */
#define F_NO_GEN     (1u << 3)  /* 4: must not be given to C_GenerateKey(Pair) */
#define F_REQ_UNWRAP (1u << 4)  /* 5: must be given to C_UnwrapKey */
#define F_NO_UNWRAP  (1u << 5)  /* 6: must not be given to C_UnwrapKey */
#define F_SENSITIVE  (1u << 6)  /* 7: hidden when sensitive or unextractable */
#define F_SET        (1u << 7)  /* 8: C_SetAttributeValue may change it */
#define F_COPY       (1u << 8)  /* 8: C_CopyObject may change it */
#define F_TOKEN_DEF  (1u << 9)  /* 9: default is token-specific */
#define F_SO_TRUE    (1u << 10) /* 10: only the SO may set it TRUE */
#define F_RO_TRUE    (1u << 11) /* 11: cannot change once TRUE */
#define F_RO_FALSE   (1u << 12) /* 12: cannot change once FALSE */
/* ... and ours. */
#define F_SO_CHANGE (1u << 13) /* only the SO may change it after creation */
#define F_MOD       (F_SET | F_COPY)
/* Set by the token alone (2, 4 and 6): the caller never gives it. */
#define F_COMPUTED (F_NO_CREATE | F_NO_GEN | F_NO_UNWRAP)

typedef struct rule {
	CK_ATTRIBUTE_TYPE type;
	uint8_t kind;
	uint8_t def;
	uint16_t flags;
	CK_ULONG defval; /* for D_ULONG */
} rule;

/* clang-format off */
#define RULE(t, k, d, f) {(t), (k), (d), (f), 0}
#define RULE_UL(t, f, v) {(t), K_ULONG, D_ULONG, (f), (v)}
/* clang-format on */

/* 4.4 Storage objects (every class here is one). */
static const rule storage_rules[] = {
	RULE(CKA_CLASS, K_ULONG, D_NONE, F_REQ_CREATE),
	RULE(CKA_TOKEN, K_BOOL, D_FALSE, F_COPY),
	RULE(CKA_PRIVATE, K_BOOL, D_PRIVATE, F_COPY | F_TOKEN_DEF),
	RULE(CKA_MODIFIABLE, K_BOOL, D_TRUE, F_COPY | F_RO_FALSE),
	RULE(CKA_LABEL, K_UTF8, D_EMPTY, F_MOD),
	RULE(CKA_COPYABLE, K_BOOL, D_TRUE, F_MOD | F_RO_FALSE),
	RULE(CKA_DESTROYABLE, K_BOOL, D_TRUE, F_MOD | F_RO_FALSE),
	RULE(CKA_UNIQUE_ID, K_UTF8, D_NONE, F_COMPUTED),
};

/* 4.5 Data objects.  Modifiable: token-specific (see top). */
static const rule data_rules[] = {
	RULE(CKA_APPLICATION, K_UTF8, D_EMPTY, F_MOD),
	RULE(CKA_OBJECT_ID, K_BYTES, D_EMPTY, F_MOD),
	RULE(CKA_VALUE, K_BYTES, D_EMPTY, F_MOD),
};

/* 4.6 Certificate objects, common attributes. */
static const rule cert_rules[] = {
	RULE(CKA_CERTIFICATE_TYPE, K_ULONG, D_NONE, F_REQ_CREATE),
	RULE(CKA_TRUSTED, K_BOOL, D_FALSE, F_SO_TRUE | F_SO_CHANGE),
	RULE_UL(CKA_CERTIFICATE_CATEGORY, F_TOKEN_DEF, CK_CERTIFICATE_CATEGORY_UNSPECIFIED),
	RULE(CKA_CHECK_VALUE, K_BYTES, D_NONE, 0),
	RULE(CKA_START_DATE, K_DATE, D_EMPTY, 0),
	RULE(CKA_END_DATE, K_DATE, D_EMPTY, 0),
	RULE(CKA_PUBLIC_KEY_INFO, K_BYTES, D_EMPTY, 0),
};

/* 4.6.3 X.509 public key certificates.  The spec lets only CKA_ID,
 * CKA_ISSUER and CKA_SERIAL_NUMBER change after creation. */
static const rule x509_rules[] = {
	RULE(CKA_SUBJECT, K_BYTES, D_NONE, F_REQ_CREATE),
	RULE(CKA_ID, K_BYTES, D_EMPTY, F_MOD),
	RULE(CKA_ISSUER, K_BYTES, D_EMPTY, F_MOD),
	RULE(CKA_SERIAL_NUMBER, K_BYTES, D_EMPTY, F_MOD),
	RULE(CKA_VALUE, K_BYTES, D_NONE, F_REQ_CREATE),
	RULE(CKA_URL, K_UTF8, D_EMPTY, 0),
	RULE(CKA_HASH_OF_SUBJECT_PUBLIC_KEY, K_BYTES, D_EMPTY, 0),
	RULE(CKA_HASH_OF_ISSUER_PUBLIC_KEY, K_BYTES, D_EMPTY, 0),
	RULE_UL(CKA_JAVA_MIDP_SECURITY_DOMAIN, 0, 0),
	RULE_UL(CKA_NAME_HASH_ALGORITHM, 0, CKM_SHA_1),
};

/* 4.7 Key objects, common attributes. */
static const rule key_rules[] = {
	RULE(CKA_KEY_TYPE, K_ULONG, D_NONE, F_REQ_CREATE | F_REQ_UNWRAP),
	RULE(CKA_ID, K_BYTES, D_EMPTY, F_MOD),
	RULE(CKA_START_DATE, K_DATE, D_EMPTY, F_MOD),
	RULE(CKA_END_DATE, K_DATE, D_EMPTY, F_MOD),
	RULE(CKA_DERIVE, K_BOOL, D_FALSE, F_MOD),
	RULE(CKA_LOCAL, K_BOOL, D_FALSE, F_COMPUTED),
	RULE_UL(CKA_KEY_GEN_MECHANISM, F_COMPUTED, CK_UNAVAILABLE_INFORMATION),
	RULE(CKA_ALLOWED_MECHANISMS, K_MECHS, D_NONE, 0),
};

/* 4.8 Public key objects. */
static const rule public_rules[] = {
	RULE(CKA_SUBJECT, K_BYTES, D_EMPTY, F_MOD),
	RULE(CKA_ENCRYPT, K_BOOL, D_FALSE, F_MOD | F_TOKEN_DEF),
	RULE(CKA_VERIFY, K_BOOL, D_FALSE, F_MOD | F_TOKEN_DEF),
	RULE(CKA_VERIFY_RECOVER, K_BOOL, D_FALSE, F_MOD | F_TOKEN_DEF),
	RULE(CKA_WRAP, K_BOOL, D_FALSE, F_MOD | F_TOKEN_DEF),
	RULE(CKA_TRUSTED, K_BOOL, D_FALSE, F_SO_TRUE | F_SO_CHANGE),
	RULE(CKA_WRAP_TEMPLATE, K_TEMPLATE, D_NONE, 0),
	RULE(CKA_PUBLIC_KEY_INFO, K_BYTES, D_EMPTY, 0),
};

/* 4.9 Private key objects. */
static const rule private_rules[] = {
	RULE(CKA_SUBJECT, K_BYTES, D_EMPTY, F_MOD),
	RULE(CKA_SENSITIVE, K_BOOL, D_FALSE, F_MOD | F_TOKEN_DEF | F_RO_TRUE),
	RULE(CKA_DECRYPT, K_BOOL, D_FALSE, F_MOD | F_TOKEN_DEF),
	RULE(CKA_SIGN, K_BOOL, D_FALSE, F_MOD | F_TOKEN_DEF),
	RULE(CKA_SIGN_RECOVER, K_BOOL, D_FALSE, F_MOD | F_TOKEN_DEF),
	RULE(CKA_UNWRAP, K_BOOL, D_FALSE, F_MOD | F_TOKEN_DEF),
	RULE(CKA_EXTRACTABLE, K_BOOL, D_TRUE, F_MOD | F_TOKEN_DEF | F_RO_FALSE),
	RULE(CKA_ALWAYS_SENSITIVE, K_BOOL, D_FALSE, F_COMPUTED),
	RULE(CKA_NEVER_EXTRACTABLE, K_BOOL, D_FALSE, F_COMPUTED),
	RULE(CKA_WRAP_WITH_TRUSTED, K_BOOL, D_FALSE, F_MOD | F_RO_TRUE),
	RULE(CKA_UNWRAP_TEMPLATE, K_TEMPLATE, D_NONE, 0),
	RULE(CKA_DERIVE_TEMPLATE, K_TEMPLATE, D_NONE, 0),
	RULE(CKA_ALWAYS_AUTHENTICATE, K_BOOL, D_FALSE, 0),
	RULE(CKA_PUBLIC_KEY_INFO, K_BYTES, D_EMPTY, 0),
};

/* 4.10 Secret key objects. */
static const rule secret_rules[] = {
	RULE(CKA_SENSITIVE, K_BOOL, D_FALSE, F_MOD | F_RO_TRUE),
	RULE(CKA_ENCRYPT, K_BOOL, D_FALSE, F_MOD | F_TOKEN_DEF),
	RULE(CKA_DECRYPT, K_BOOL, D_FALSE, F_MOD | F_TOKEN_DEF),
	RULE(CKA_SIGN, K_BOOL, D_FALSE, F_MOD | F_TOKEN_DEF),
	RULE(CKA_VERIFY, K_BOOL, D_FALSE, F_MOD | F_TOKEN_DEF),
	RULE(CKA_WRAP, K_BOOL, D_FALSE, F_MOD | F_TOKEN_DEF),
	RULE(CKA_UNWRAP, K_BOOL, D_FALSE, F_MOD | F_TOKEN_DEF),
	RULE(CKA_EXTRACTABLE, K_BOOL, D_TRUE, F_MOD | F_TOKEN_DEF | F_RO_FALSE),
	RULE(CKA_ALWAYS_SENSITIVE, K_BOOL, D_FALSE, F_COMPUTED),
	RULE(CKA_NEVER_EXTRACTABLE, K_BOOL, D_FALSE, F_COMPUTED),
	RULE(CKA_CHECK_VALUE, K_BYTES, D_NONE, 0),
	RULE(CKA_WRAP_WITH_TRUSTED, K_BOOL, D_FALSE, F_MOD | F_RO_TRUE),
	RULE(CKA_TRUSTED, K_BOOL, D_FALSE, F_SO_TRUE | F_SO_CHANGE),
	RULE(CKA_WRAP_TEMPLATE, K_TEMPLATE, D_NONE, 0),
	RULE(CKA_UNWRAP_TEMPLATE, K_TEMPLATE, D_NONE, 0),
	RULE(CKA_DERIVE_TEMPLATE, K_TEMPLATE, D_NONE, 0),
};

/* mech 2.1.2 RSA public key objects. */
static const rule rsa_public_rules[] = {
	RULE(CKA_MODULUS, K_BIGINT, D_NONE, F_REQ_CREATE | F_NO_GEN),
	RULE(CKA_MODULUS_BITS, K_ULONG, D_NONE, F_NO_CREATE | F_REQ_GEN),
	RULE(CKA_PUBLIC_EXPONENT, K_BIGINT, D_NONE, F_REQ_CREATE),
};

/* mech 2.1.3 RSA private key objects. */
static const rule rsa_private_rules[] = {
	RULE(CKA_MODULUS, K_BIGINT, D_NONE, F_REQ_CREATE | F_NO_GEN | F_NO_UNWRAP),
	RULE(CKA_PUBLIC_EXPONENT, K_BIGINT, D_NONE, F_NO_GEN | F_NO_UNWRAP),
	RULE(CKA_PRIVATE_EXPONENT, K_BIGINT, D_NONE,
	     F_REQ_CREATE | F_NO_GEN | F_NO_UNWRAP | F_SENSITIVE),
	RULE(CKA_PRIME_1, K_BIGINT, D_NONE, F_NO_GEN | F_NO_UNWRAP | F_SENSITIVE),
	RULE(CKA_PRIME_2, K_BIGINT, D_NONE, F_NO_GEN | F_NO_UNWRAP | F_SENSITIVE),
	RULE(CKA_EXPONENT_1, K_BIGINT, D_NONE, F_NO_GEN | F_NO_UNWRAP | F_SENSITIVE),
	RULE(CKA_EXPONENT_2, K_BIGINT, D_NONE, F_NO_GEN | F_NO_UNWRAP | F_SENSITIVE),
	RULE(CKA_COEFFICIENT, K_BIGINT, D_NONE, F_NO_GEN | F_NO_UNWRAP | F_SENSITIVE),
};

/* mech 2.3.3, 2.3.5, 2.3.7 EC, Edwards and Montgomery public keys. */
static const rule ec_public_rules[] = {
	RULE(CKA_EC_PARAMS, K_BIGINT, D_NONE, F_REQ_CREATE | F_REQ_GEN),
	RULE(CKA_EC_POINT, K_BIGINT, D_NONE, F_REQ_CREATE | F_NO_GEN),
};

/* mech 2.3.4, 2.3.6, 2.3.8 EC, Edwards and Montgomery private keys. */
static const rule ec_private_rules[] = {
	RULE(CKA_EC_PARAMS, K_BIGINT, D_NONE, F_REQ_CREATE | F_NO_GEN | F_NO_UNWRAP),
	RULE(CKA_VALUE, K_BIGINT, D_NONE, F_REQ_CREATE | F_NO_GEN | F_NO_UNWRAP | F_SENSITIVE),
};

/* mech 2.8.3 AES, 2.24 generic secret, the HMAC key types: CKA_VALUE_LEN is
 * given to C_GenerateKey, computed otherwise. */
static const rule secret_len_rules[] = {
	RULE(CKA_VALUE, K_BIGINT, D_NONE, F_REQ_CREATE | F_NO_GEN | F_NO_UNWRAP | F_SENSITIVE),
	RULE(CKA_VALUE_LEN, K_ULONG, D_NONE, F_NO_CREATE | F_REQ_GEN | F_NO_UNWRAP),
};

/* mech 2.40 ChaCha20: the length is fixed, so C_GenerateKey needs none. */
static const rule chacha_rules[] = {
	RULE(CKA_VALUE, K_BIGINT, D_NONE, F_REQ_CREATE | F_NO_GEN | F_NO_UNWRAP | F_SENSITIVE),
	RULE(CKA_VALUE_LEN, K_ULONG, D_NONE, F_NO_CREATE | F_NO_UNWRAP),
};

/* Issue 8: key versions (cipherhub/vendor.h), on every key class.  The
 * token sets them all (soft_version.c), but the rotation period and the
 * bound of encryptions and the data-key plaintext policy, which an operator
 * gives in a template or changes later.  None has a default: a plain key
 * has none of them. */
static const rule version_rules[] = {
	RULE(CKA_CH_VERSION, K_ULONG, D_NONE, F_COMPUTED),
	RULE(CKA_CH_STATE, K_ULONG, D_NONE, F_COMPUTED),
	RULE(CKA_CH_PRIMARY, K_BOOL, D_NONE, F_COMPUTED),
	RULE(CKA_CH_ROTATION_PERIOD, K_ULONG, D_NONE, F_MOD),
	RULE(CKA_CH_MIN_DECRYPT_VERSION, K_ULONG, D_NONE, F_COMPUTED),
	RULE(CKA_CH_CREATED, K_ULONG, D_NONE, F_COMPUTED),
	RULE(CKA_CH_USAGE, K_ULONG, D_NONE, F_COMPUTED),
	RULE(CKA_CH_DATAKEY_PLAINTEXT, K_BOOL, D_NONE, F_MOD),
	RULE(CKA_CH_MAX_ENCRYPTIONS, K_ULONG, D_NONE, F_MOD),
	/* Never stored: C_GetAttributeValue reads it from the key's count
	 * (soft_object.c, keyuse.h). */
	RULE(CKA_CH_ENCRYPTIONS, K_ULONG, D_NONE, F_COMPUTED),
};

/* Issue 8: the versions of a secret (a data object, see
 * CH_SECRET_APPLICATION) carry the same vendor attributes but the usage and
 * the rotation period, all set by the token. */
static const rule data_version_rules[] = {
	RULE(CKA_CH_VERSION, K_ULONG, D_NONE, F_COMPUTED),
	RULE(CKA_CH_STATE, K_ULONG, D_NONE, F_COMPUTED),
	RULE(CKA_CH_PRIMARY, K_BOOL, D_NONE, F_COMPUTED),
	RULE(CKA_CH_MIN_DECRYPT_VERSION, K_ULONG, D_NONE, F_COMPUTED),
	RULE(CKA_CH_CREATED, K_ULONG, D_NONE, F_COMPUTED),
};

/* What a version's family and lifecycle decide (soft_version.c), so no
 * template may change them on a version: its label and ID (the family and
 * version), and the usage attributes (CKA_CH_USAGE keeps the ones it was
 * made with; CKA_ENCRYPT etc. show what its state allows). */
static const CK_ATTRIBUTE_TYPE version_fixed[] = {
	CKA_LABEL, CKA_ID,     CKA_ENCRYPT, CKA_DECRYPT,      CKA_SIGN,           CKA_VERIFY,
	CKA_WRAP,  CKA_UNWRAP, CKA_DERIVE,  CKA_SIGN_RECOVER, CKA_VERIFY_RECOVER,
};

/* ... and on a secret's version its name, application and value: a new
 * value is a new version. */
static const CK_ATTRIBUTE_TYPE data_version_fixed[] = {
	CKA_LABEL, CKA_APPLICATION, CKA_VALUE,
	CKA_DESTROYABLE, /* a secret always goes with its registration (C_InitToken) */
};

typedef struct rule_table {
	const rule *r;
	size_t n;
} rule_table;

/* clang-format off */
#define TABLE(t) {(t), sizeof(t) / sizeof((t)[0])}
/* clang-format on */
#define CH_MAX_TABLES 5

/* Every table, for looking a type up regardless of class. */
static const rule_table all_tables[] = {
	TABLE(storage_rules),     TABLE(data_rules),      TABLE(cert_rules),
	TABLE(x509_rules),        TABLE(key_rules),       TABLE(public_rules),
	TABLE(private_rules),     TABLE(secret_rules),    TABLE(rsa_public_rules),
	TABLE(rsa_private_rules), TABLE(ec_public_rules), TABLE(ec_private_rules),
	TABLE(secret_len_rules),  TABLE(chacha_rules),    TABLE(version_rules),
};

/* The identity of an object: what decides which tables apply. */
typedef struct shape {
	CK_OBJECT_CLASS cls;
	CK_ULONG sub; /* key type, certificate type, or unused */
	rule_table t[CH_MAX_TABLES];
	size_t nt;
} shape;

static bool is_key_class(CK_OBJECT_CLASS cls)
{
	return cls == CKO_PUBLIC_KEY || cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY;
}

static bool is_asymmetric(CK_KEY_TYPE kt)
{
	return kt == CKK_RSA || kt == CKK_EC || kt == CKK_EC_EDWARDS || kt == CKK_EC_MONTGOMERY;
}

static bool is_symmetric(CK_KEY_TYPE kt)
{
	switch (kt) {
	case CKK_AES:
	case CKK_GENERIC_SECRET:
	case CKK_CHACHA20:
	case CKK_SHA_1_HMAC:
	case CKK_SHA224_HMAC:
	case CKK_SHA256_HMAC:
	case CKK_SHA384_HMAC:
	case CKK_SHA512_HMAC:
	case CKK_SHA512_224_HMAC:
	case CKK_SHA512_256_HMAC:
	case CKK_SHA3_224_HMAC:
	case CKK_SHA3_256_HMAC:
	case CKK_SHA3_384_HMAC:
	case CKK_SHA3_512_HMAC:
	case CKK_HKDF:
		return true;
	default:
		return false;
	}
}

/* Fills in s->t for s->cls and s->sub.  Returns CKR_OK,
 * CKR_ATTRIBUTE_VALUE_INVALID for a class, key type or certificate type we
 * do not know, or CKR_TEMPLATE_INCONSISTENT for a key type of another
 * class. */
static CK_RV shape_tables(shape *s)
{
	s->nt = 0;
	s->t[s->nt++] = (rule_table)TABLE(storage_rules);
	switch (s->cls) {
	case CKO_DATA:
		s->t[s->nt++] = (rule_table)TABLE(data_rules);
		s->t[s->nt++] = (rule_table)TABLE(data_version_rules);
		return CKR_OK;
	case CKO_CERTIFICATE:
		if (s->sub != CKC_X_509)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		s->t[s->nt++] = (rule_table)TABLE(cert_rules);
		s->t[s->nt++] = (rule_table)TABLE(x509_rules);
		return CKR_OK;
	case CKO_PUBLIC_KEY:
	case CKO_PRIVATE_KEY:
	case CKO_SECRET_KEY:
		break;
	default:
		return CKR_ATTRIBUTE_VALUE_INVALID;
	}
	if (!is_asymmetric(s->sub) && !is_symmetric(s->sub))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if ((s->cls == CKO_SECRET_KEY) != is_symmetric(s->sub))
		return CKR_TEMPLATE_INCONSISTENT;
	s->t[s->nt++] = (rule_table)TABLE(key_rules);
	s->t[s->nt++] = (rule_table)TABLE(version_rules);
	if (s->cls == CKO_PUBLIC_KEY) {
		s->t[s->nt++] = (rule_table)TABLE(public_rules);
		if (s->sub == CKK_RSA)
			s->t[s->nt++] = (rule_table)TABLE(rsa_public_rules);
		else
			s->t[s->nt++] = (rule_table)TABLE(ec_public_rules);
	} else if (s->cls == CKO_PRIVATE_KEY) {
		s->t[s->nt++] = (rule_table)TABLE(private_rules);
		if (s->sub == CKK_RSA)
			s->t[s->nt++] = (rule_table)TABLE(rsa_private_rules);
		else
			s->t[s->nt++] = (rule_table)TABLE(ec_private_rules);
	} else {
		s->t[s->nt++] = (rule_table)TABLE(secret_rules);
		if (s->sub == CKK_CHACHA20)
			s->t[s->nt++] = (rule_table)TABLE(chacha_rules);
		else
			s->t[s->nt++] = (rule_table)TABLE(secret_len_rules);
	}
	return CKR_OK;
}

/* Reads the shape of an existing object.  Returns CKR_OK or
 * CKR_GENERAL_ERROR for a set that no build of ours produced. */
static CK_RV shape_of(const ch_attrs *a, shape *s)
{
	CK_ULONG sub = CK_UNAVAILABLE_INFORMATION;

	if (!ch_attrs_ulong(a, CKA_CLASS, &s->cls))
		return CKR_GENERAL_ERROR;
	if (is_key_class(s->cls))
		(void)ch_attrs_ulong(a, CKA_KEY_TYPE, &sub);
	else if (s->cls == CKO_CERTIFICATE)
		(void)ch_attrs_ulong(a, CKA_CERTIFICATE_TYPE, &sub);
	s->sub = sub;
	return shape_tables(s) == CKR_OK ? CKR_OK : CKR_GENERAL_ERROR;
}

/* The rule for type in an object of this shape, or NULL when the class has
 * no such attribute. */
static const rule *shape_rule(const shape *s, CK_ATTRIBUTE_TYPE type)
{
	for (size_t i = 0; i < s->nt; i++)
		for (size_t j = 0; j < s->t[i].n; j++)
			if (s->t[i].r[j].type == type)
				return &s->t[i].r[j];
	return NULL;
}

/* The kind of type's values in any class, or -1 for a type we do not know.
 * A type has one kind wherever it appears (K_BIGINT and K_BYTES compare
 * alike). */
static int any_kind(CK_ATTRIBUTE_TYPE type)
{
	for (size_t i = 0; i < sizeof(all_tables) / sizeof(all_tables[0]); i++)
		for (size_t j = 0; j < all_tables[i].n; j++)
			if (all_tables[i].r[j].type == type)
				return all_tables[i].r[j].kind;
	return -1;
}

/* ---------------------------------------------------------------------- */
/* Values                                                                  */
/* ---------------------------------------------------------------------- */

static bool utf8_valid(const CK_BYTE *s, CK_ULONG len)
{
	CK_ULONG i = 0;

	while (i < len) {
		CK_BYTE c = s[i];
		uint32_t cp;
		int more;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			cp = c & 0x1F;
			more = 1;
		} else if ((c & 0xF0) == 0xE0) {
			cp = c & 0x0F;
			more = 2;
		} else if ((c & 0xF8) == 0xF0) {
			cp = c & 0x07;
			more = 3;
		} else {
			return false;
		}
		if (len - i <= (CK_ULONG)more)
			return false;
		for (int k = 1; k <= more; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		/* No overlong forms, surrogates or values past U+10FFFF. */
		if ((more == 1 && cp < 0x80) || (more == 2 && cp < 0x800) ||
		    (more == 3 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += (CK_ULONG)more + 1;
	}
	return true;
}

static bool date_valid(const CK_BYTE *d, CK_ULONG len)
{
	int month, day;

	if (len == 0)
		return true;
	if (len != 8)
		return false;
	for (int i = 0; i < 8; i++)
		if (d[i] < '0' || d[i] > '9')
			return false;
	month = (d[4] - '0') * 10 + (d[5] - '0');
	day = (d[6] - '0') * 10 + (d[7] - '0');
	return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

static void put_be64(CK_BYTE *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (CK_BYTE)v;
}

static uint64_t get_be64(const CK_BYTE *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static CK_RV value_check(int kind, const CK_BYTE *v, CK_ULONG len, CK_BYTE **norm,
                         CK_ULONG *norm_len);

/* Validates a caller's CK_ATTRIBUTE array (pValue/len of an array
 * attribute) and returns its canonical serialised form in *out (caller
 * frees, wiping: values may be secret).  CKR_ATTRIBUTE_VALUE_INVALID for a
 * malformed array, unknown or nested-array entries, duplicates or bad entry
 * values. */
static CK_RV template_serialise(const CK_BYTE *v, CK_ULONG len, CK_BYTE **out, CK_ULONG *out_len)
{
	ch_attrs *set = NULL;
	CK_ATTRIBUTE *in = NULL;
	CK_BYTE *buf = NULL, *p;
	CK_ULONG n, total = 0;
	CK_RV rv = CKR_ATTRIBUTE_VALUE_INVALID;

	*out = NULL;
	*out_len = 0;
	if (len % sizeof(CK_ATTRIBUTE) != 0)
		goto out;
	n = len / sizeof(CK_ATTRIBUTE);
	if (n > CH_TEMPLATE_MAX_ENTRIES)
		goto out;
	rv = CKR_HOST_MEMORY;
	if (n != 0) {
		/* The caller's array may be unaligned: copy it out. */
		if ((in = malloc(len)) == NULL)
			goto out;
		memcpy(in, v, len);
	}
	if ((set = ch_attrs_new()) == NULL)
		goto out;
	for (CK_ULONG i = 0; i < n; i++) {
		int kind = any_kind(in[i].type);
		CK_BYTE *nv = NULL;
		CK_ULONG nl = 0;

		rv = CKR_ATTRIBUTE_VALUE_INVALID;
		if (kind < 0 || kind == K_TEMPLATE || ch_attrs_get(set, in[i].type) != NULL ||
		    (in[i].pValue == NULL && in[i].ulValueLen != 0))
			goto out;
		if ((rv = value_check(kind, in[i].pValue, in[i].ulValueLen, &nv, &nl)) != CKR_OK)
			goto out;
		rv = ch_attrs_set(set, in[i].type, nv, nl);
		OPENSSL_clear_free(nv, nl);
		if (rv != CKR_OK)
			goto out;
		total += 16 + nl;
	}
	rv = CKR_HOST_MEMORY;
	if (total != 0 && (buf = malloc(total)) == NULL)
		goto out;
	p = buf;
	for (size_t i = 0; i < set->n; i++) {
		put_be64(p, set->v[i].type);
		put_be64(p + 8, set->v[i].len);
		if (set->v[i].len != 0)
			memcpy(p + 16, set->v[i].value, set->v[i].len);
		p += 16 + set->v[i].len;
	}
	*out = buf;
	*out_len = total;
	buf = NULL; /* transferred */
	rv = CKR_OK;
out:
	ch_attrs_free(set);
	free(in); /* holds pointers and lengths only */
	return rv;
}

/* Parses a serialised template into a new set (caller frees).  Returns
 * CKR_OK, CKR_HOST_MEMORY, or CKR_GENERAL_ERROR for bytes that no
 * template_serialise() wrote. */
static CK_RV template_parse(const CK_BYTE *v, CK_ULONG len, ch_attrs **out)
{
	ch_attrs *set = NULL;
	CK_ULONG off = 0;
	CK_RV rv = CKR_HOST_MEMORY;

	*out = NULL;
	if ((set = ch_attrs_new()) == NULL)
		goto out;
	while (off < len) {
		uint64_t type, l;

		rv = CKR_GENERAL_ERROR;
		if (len - off < 16)
			goto out;
		type = get_be64(v + off);
		l = get_be64(v + off + 8);
		off += 16;
		if (l > len - off || (set->n != 0 && type <= set->v[set->n - 1].type))
			goto out;
		if ((rv = ch_attrs_set(set, (CK_ATTRIBUTE_TYPE)type, v + off, (CK_ULONG)l)) !=
		    CKR_OK)
			goto out;
		off += (CK_ULONG)l;
	}
	*out = set;
	set = NULL; /* transferred */
	rv = CKR_OK;
out:
	ch_attrs_free(set);
	return rv;
}

/* Checks a value of that kind and returns the form we store in *norm
 * (caller frees with OPENSSL_clear_free): booleans become 0 or 1, templates
 * their serialised form, everything else a copy.  Returns CKR_OK,
 * CKR_ATTRIBUTE_VALUE_INVALID or CKR_HOST_MEMORY. */
static CK_RV value_check(int kind, const CK_BYTE *v, CK_ULONG len, CK_BYTE **norm,
                         CK_ULONG *norm_len)
{
	CK_BYTE *copy;
	bool ok;

	*norm = NULL;
	*norm_len = 0;
	switch (kind) {
	case K_BOOL:
		ok = len == sizeof(CK_BBOOL);
		break;
	case K_ULONG:
		ok = len == sizeof(CK_ULONG);
		break;
	case K_UTF8:
		ok = utf8_valid(v, len);
		break;
	case K_DATE:
		ok = date_valid(v, len);
		break;
	case K_BIGINT:
		ok = len != 0;
		break;
	case K_MECHS:
		ok = len % sizeof(CK_MECHANISM_TYPE) == 0;
		break;
	case K_TEMPLATE:
		return template_serialise(v, len, norm, norm_len);
	default:
		ok = true;
		break;
	}
	if (!ok)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (len == 0)
		return CKR_OK;
	if ((copy = malloc(len)) == NULL)
		return CKR_HOST_MEMORY;
	memcpy(copy, v, len);
	if (kind == K_BOOL)
		copy[0] = copy[0] != CK_FALSE ? CK_TRUE : CK_FALSE;
	*norm = copy;
	*norm_len = len;
	return CKR_OK;
}

/* Checks value v against the rule and stores its normal form in a. */
static CK_RV value_put(ch_attrs *a, const rule *r, const CK_BYTE *v, CK_ULONG len)
{
	CK_BYTE *nv = NULL;
	CK_ULONG nl = 0;
	CK_RV rv;

	if ((rv = value_check(r->kind, v, len, &nv, &nl)) == CKR_OK)
		rv = ch_attrs_set(a, r->type, nv, nl);
	OPENSSL_clear_free(nv, nl);
	return rv;
}

/* ---------------------------------------------------------------------- */
/* Class-specific checks                                                   */
/* ---------------------------------------------------------------------- */

/* Checks what the rows cannot say: value lengths tied to a key type, the
 * range of an enumeration.  Runs on a complete set.  Returns CKR_OK or
 * CKR_ATTRIBUTE_VALUE_INVALID. */
static CK_RV class_check(const shape *s, const ch_attrs *a)
{
	const ch_attr *v = ch_attrs_get(a, CKA_VALUE);
	CK_ULONG ul;

	if (s->cls == CKO_CERTIFICATE && ch_attrs_ulong(a, CKA_CERTIFICATE_CATEGORY, &ul) &&
	    ul > CK_CERTIFICATE_CATEGORY_OTHER_ENTITY)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (s->cls != CKO_SECRET_KEY || v == NULL)
		return CKR_OK;
	if (s->sub == CKK_AES && v->len != 16 && v->len != 24 && v->len != 32)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (s->sub == CKK_CHACHA20 && v->len != 32)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	return CKR_OK;
}

/* Number of significant bits of a big-endian integer. */
static CK_ULONG bigint_bits(const ch_attr *at)
{
	CK_ULONG i = 0, bits;
	CK_BYTE top;

	while (i < at->len && at->value[i] == 0)
		i++;
	if (i == at->len)
		return 0;
	bits = (at->len - i - 1) * 8;
	for (top = at->value[i]; top != 0; top >>= 1)
		bits++;
	return bits;
}

/* Sets the attributes the token computes from the key material:
 * CKA_VALUE_LEN of a secret key, CKA_MODULUS_BITS of an RSA public key.
 * A CKA_VALUE_LEN the caller gave must agree (CKR_TEMPLATE_INCONSISTENT). */
static CK_RV computed_lengths(const shape *s, ch_attrs *a)
{
	const ch_attr *at;
	CK_ULONG given;

	if (s->cls == CKO_SECRET_KEY && (at = ch_attrs_get(a, CKA_VALUE)) != NULL) {
		if (ch_attrs_ulong(a, CKA_VALUE_LEN, &given) && given != at->len)
			return CKR_TEMPLATE_INCONSISTENT;
		return ch_attrs_set_ulong(a, CKA_VALUE_LEN, at->len);
	}
	if (s->cls == CKO_PUBLIC_KEY && s->sub == CKK_RSA &&
	    (at = ch_attrs_get(a, CKA_MODULUS)) != NULL)
		return ch_attrs_set_ulong(a, CKA_MODULUS_BITS, bigint_bits(at));
	return CKR_OK;
}

/* ---------------------------------------------------------------------- */
/* Building                                                                */
/* ---------------------------------------------------------------------- */

/* Reads a CK_ULONG from the template set into *out, or leaves *out alone
 * when absent.  CKR_ATTRIBUTE_VALUE_INVALID when the size is wrong. */
static CK_RV template_ulong(const ch_attrs *t, CK_ATTRIBUTE_TYPE type, CK_ULONG *out)
{
	const ch_attr *at = ch_attrs_get(t, type);

	if (at == NULL)
		return CKR_OK;
	if (at->len != sizeof(CK_ULONG))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	memcpy(out, at->value, sizeof(CK_ULONG));
	return CKR_OK;
}

/* Combines what the caller of ch_object_build fixed with what the template
 * says: either may give it, and when both do they must agree. */
static CK_RV pick(const ch_attrs *t, CK_ATTRIBUTE_TYPE type, CK_ULONG fixed, CK_ULONG *out)
{
	CK_ULONG given = CK_UNAVAILABLE_INFORMATION;
	CK_RV rv;

	if ((rv = template_ulong(t, type, &given)) != CKR_OK)
		return rv;
	if (fixed != CK_UNAVAILABLE_INFORMATION && given != CK_UNAVAILABLE_INFORMATION &&
	    fixed != given)
		return CKR_TEMPLATE_INCONSISTENT;
	*out = fixed != CK_UNAVAILABLE_INFORMATION ? fixed : given;
	return *out == CK_UNAVAILABLE_INFORMATION ? CKR_TEMPLATE_INCOMPLETE : CKR_OK;
}

/* Works out the class and subtype of a new object. */
static CK_RV build_shape(ch_origin origin, CK_OBJECT_CLASS cls, CK_KEY_TYPE kt, const ch_attrs *t,
                         shape *s)
{
	CK_RV rv;

	if ((rv = pick(t, CKA_CLASS, cls, &s->cls)) != CKR_OK)
		return rv;
	s->sub = CK_UNAVAILABLE_INFORMATION;
	if (is_key_class(s->cls)) {
		if ((rv = pick(t, CKA_KEY_TYPE, kt, &s->sub)) != CKR_OK)
			return rv;
	} else if (s->cls == CKO_DATA || s->cls == CKO_CERTIFICATE) {
		/* Only C_CreateObject makes certificates, and data objects
		 * come from it and from C_DeriveKey (CKM_HKDF_DATA). */
		if (origin != CH_ORIGIN_CREATE &&
		    !(origin == CH_ORIGIN_DERIVE && s->cls == CKO_DATA))
			return CKR_TEMPLATE_INCONSISTENT;
		if (s->cls == CKO_CERTIFICATE &&
		    (rv = pick(t, CKA_CERTIFICATE_TYPE, CK_UNAVAILABLE_INFORMATION, &s->sub)) !=
		            CKR_OK)
			return rv;
	}
	return shape_tables(s);
}

/* The footnotes that say "must be given" and "must not be given" for an
 * origin.  C_DeriveKey has no footnotes of its own: the mechanism makes
 * the key material, so what generation forbids, derivation forbids, and
 * nothing is required of the template. */
static void origin_flags(ch_origin origin, uint16_t *req, uint16_t *forbid)
{
	switch (origin) {
	case CH_ORIGIN_CREATE:
		*req = F_REQ_CREATE;
		*forbid = F_NO_CREATE;
		break;
	case CH_ORIGIN_GENERATE:
		*req = F_REQ_GEN;
		*forbid = F_NO_GEN;
		break;
	case CH_ORIGIN_UNWRAP:
		*req = F_REQ_UNWRAP;
		*forbid = F_NO_UNWRAP;
		break;
	default:
		*req = 0;
		*forbid = F_NO_GEN;
		break;
	}
}

/* Applies one row's default to a. */
static CK_RV put_default(const shape *s, const rule *r, ch_attrs *a)
{
	switch (r->def) {
	case D_FALSE:
		return ch_attrs_set_bool(a, r->type, false);
	case D_TRUE:
		return ch_attrs_set_bool(a, r->type, true);
	case D_EMPTY:
		return ch_attrs_set(a, r->type, NULL, 0);
	case D_ULONG:
		return ch_attrs_set_ulong(a, r->type, r->defval);
	case D_PRIVATE:
		/* Token-specific: keys that hold secrets are private unless the
		 * caller says otherwise; everything else is public. */
		return ch_attrs_set_bool(a, r->type,
		                         s->cls == CKO_PRIVATE_KEY || s->cls == CKO_SECRET_KEY);
	default:
		return CKR_OK;
	}
}

/* The key-role separation rule (see ch_object_roles_ok in object.h). */
static bool roles_ok(const ch_attrs *a, const ch_object_env *env)
{
	if (env != NULL && env->legacy_key_roles)
		return true;
	if (ch_attrs_bool(a, CKA_WRAP, false) && ch_attrs_bool(a, CKA_DECRYPT, false))
		return false;
	return !(ch_attrs_bool(a, CKA_UNWRAP, false) && ch_attrs_bool(a, CKA_ENCRYPT, false));
}

bool ch_object_pair_roles_ok(const ch_attrs *pub, const ch_attrs *priv, const ch_object_env *env)
{
	if (env != NULL && env->legacy_key_roles)
		return true;
	if (ch_attrs_bool(pub, CKA_WRAP, false) && ch_attrs_bool(priv, CKA_DECRYPT, false))
		return false;
	return !(ch_attrs_bool(pub, CKA_ENCRYPT, false) && ch_attrs_bool(priv, CKA_UNWRAP, false));
}

CK_RV ch_object_build(ch_origin origin, CK_OBJECT_CLASS cls, CK_KEY_TYPE kt, const CK_ATTRIBUTE *t,
                      CK_ULONG n, const ch_object_env *env, ch_attrs **out)
{
	ch_attrs *tmpl = NULL, *a = NULL;
	bool so = env != NULL && env->so;
	uint16_t req, forbid;
	shape s;
	CK_RV rv;

	*out = NULL;
	if ((rv = ch_attrs_from_template(t, n, &tmpl)) != CKR_OK)
		goto out;
	if ((rv = build_shape(origin, cls, kt, tmpl, &s)) != CKR_OK)
		goto out;
	origin_flags(origin, &req, &forbid);

	/* CKA_CH_NEW_VERSION is a request to C_GenerateKey(Pair), or to
	 * C_CreateObject of a secret, read by its caller (soft_version.c), not
	 * an attribute of the object. */
	{
		const ch_attr *nv = ch_attrs_get(tmpl, CKA_CH_NEW_VERSION);

		if (nv != NULL) {
			rv = CKR_ATTRIBUTE_TYPE_INVALID;
			if (!(origin == CH_ORIGIN_GENERATE && is_key_class(s.cls)) &&
			    !(origin == CH_ORIGIN_CREATE && s.cls == CKO_DATA))
				goto out;
			rv = CKR_ATTRIBUTE_VALUE_INVALID;
			if (nv->len != sizeof(CK_BBOOL))
				goto out;
			ch_attrs_remove(tmpl, CKA_CH_NEW_VERSION);
		}
	}

	/* Every attribute given must belong to the class, be one the caller
	 * may give here, and hold a well-formed value. */
	for (size_t i = 0; i < tmpl->n; i++) {
		const ch_attr *at = &tmpl->v[i];
		const rule *r = shape_rule(&s, at->type);
		CK_BYTE *nv = NULL;
		CK_ULONG nl = 0;

		if (r == NULL) {
			rv = CKR_ATTRIBUTE_TYPE_INVALID;
			goto out;
		}
		if ((r->flags & F_COMPUTED) == F_COMPUTED) {
			rv = CKR_ATTRIBUTE_READ_ONLY;
			goto out;
		}
		if ((rv = value_check(r->kind, at->value, at->len, &nv, &nl)) != CKR_OK)
			goto out;
		if (r->kind == K_BOOL && nv[0] == CK_TRUE && (r->flags & F_SO_TRUE) && !so)
			rv = CKR_ATTRIBUTE_READ_ONLY;
		else if (r->flags & forbid)
			rv = CKR_TEMPLATE_INCONSISTENT;
		OPENSSL_clear_free(nv, nl);
		if (rv != CKR_OK)
			goto out;
	}

	/* Everything the origin requires must be there.  The class and key
	 * type were settled by build_shape(). */
	for (size_t i = 0; i < s.nt; i++) {
		for (size_t j = 0; j < s.t[i].n; j++) {
			const rule *r = &s.t[i].r[j];

			if ((r->flags & req) && r->type != CKA_CLASS && r->type != CKA_KEY_TYPE &&
			    ch_attrs_get(tmpl, r->type) == NULL) {
				rv = CKR_TEMPLATE_INCOMPLETE;
				goto out;
			}
		}
	}

	/* Defaults first, then the caller's values over them. */
	rv = CKR_HOST_MEMORY;
	if ((a = ch_attrs_new()) == NULL)
		goto out;
	for (size_t i = 0; i < s.nt; i++)
		for (size_t j = 0; j < s.t[i].n; j++)
			if ((rv = put_default(&s, &s.t[i].r[j], a)) != CKR_OK)
				goto out;
	for (size_t i = 0; i < tmpl->n; i++) {
		const rule *r = shape_rule(&s, tmpl->v[i].type);

		if ((rv = value_put(a, r, tmpl->v[i].value, tmpl->v[i].len)) != CKR_OK)
			goto out;
	}
	if ((rv = ch_attrs_set_ulong(a, CKA_CLASS, s.cls)) != CKR_OK ||
	    (is_key_class(s.cls) && (rv = ch_attrs_set_ulong(a, CKA_KEY_TYPE, s.sub)) != CKR_OK))
		goto out;
	if (origin == CH_ORIGIN_CREATE && (rv = computed_lengths(&s, a)) != CKR_OK)
		goto out;
	if ((rv = class_check(&s, a)) != CKR_OK)
		goto out;
	rv = CKR_TEMPLATE_INCONSISTENT;
	if (!roles_ok(a, env))
		goto out;
	/* A secret is a private, destroyable token object made by
	 * C_CreateObject (issue 8: its versions, grants and audit live in the
	 * store, and it goes with its registration). */
	if (ch_object_is_secret(a) &&
	    (origin != CH_ORIGIN_CREATE || !ch_object_is_token(a) || !ch_object_is_private(a) ||
	     !ch_attrs_bool(a, CKA_DESTROYABLE, true)))
		goto out;
	*out = a;
	a = NULL; /* transferred */
	rv = CKR_OK;
out:
	ch_attrs_free(tmpl);
	ch_attrs_free(a);
	return rv;
}

CK_RV ch_object_finish(ch_origin origin, CK_MECHANISM_TYPE mech, ch_attrs *a)
{
	ch_attrs *b = NULL;
	shape s;
	CK_RV rv;

	if ((rv = shape_of(a, &s)) != CKR_OK)
		goto out;
	rv = CKR_HOST_MEMORY;
	if ((b = ch_attrs_dup(a)) == NULL)
		goto out;
	/* A finished object has everything C_CreateObject would need. */
	for (size_t i = 0; i < s.nt; i++) {
		for (size_t j = 0; j < s.t[i].n; j++) {
			if ((s.t[i].r[j].flags & F_REQ_CREATE) &&
			    ch_attrs_get(b, s.t[i].r[j].type) == NULL) {
				rv = CKR_TEMPLATE_INCOMPLETE;
				goto out;
			}
		}
	}
	if ((rv = computed_lengths(&s, b)) != CKR_OK || (rv = class_check(&s, b)) != CKR_OK)
		goto out;
	if (is_key_class(s.cls)) {
		bool local = origin == CH_ORIGIN_GENERATE;

		if ((rv = ch_attrs_set_bool(b, CKA_LOCAL, local)) != CKR_OK ||
		    (rv = ch_attrs_set_ulong(b, CKA_KEY_GEN_MECHANISM,
		                             local ? mech : CK_UNAVAILABLE_INFORMATION)) != CKR_OK)
			goto out;
	}
	if (s.cls == CKO_PRIVATE_KEY || s.cls == CKO_SECRET_KEY) {
		/* Only a key born inside the token can have been sensitive and
		 * unextractable all its life.  A derived key is FALSE here; the
		 * derive code may raise it from its base key (spec 5.16.5). */
		bool gen = origin == CH_ORIGIN_GENERATE;
		bool sens = ch_attrs_bool(b, CKA_SENSITIVE, false);
		bool extr = ch_attrs_bool(b, CKA_EXTRACTABLE, true);

		if ((rv = ch_attrs_set_bool(b, CKA_ALWAYS_SENSITIVE, gen && sens)) != CKR_OK ||
		    (rv = ch_attrs_set_bool(b, CKA_NEVER_EXTRACTABLE, gen && !extr)) != CKR_OK)
			goto out;
	}
	/* Swap the finished entries in: a now owns b's array. */
	{
		ch_attrs tmp = *a;

		*a = *b;
		*b = tmp;
	}
	rv = CKR_OK;
out:
	ch_attrs_free(b);
	return rv;
}

/* ---------------------------------------------------------------------- */
/* Changing and copying                                                    */
/* ---------------------------------------------------------------------- */

/* Checks one entry of a C_SetAttributeValue or C_CopyObject template
 * against the rule and the object's current value, and writes the new value
 * into next. */
static CK_RV change_one(const shape *s, const ch_attrs *cur, const ch_attr *at, bool copy,
                        bool frozen, bool so, ch_attrs *next)
{
	const rule *r = shape_rule(s, at->type);
	CK_BYTE *nv = NULL;
	CK_ULONG nl = 0;
	CK_RV rv;

	if (r == NULL)
		return CKR_ATTRIBUTE_TYPE_INVALID;
	if ((rv = value_check(r->kind, at->value, at->len, &nv, &nl)) != CKR_OK)
		return rv;
	rv = CKR_ATTRIBUTE_READ_ONLY;
	/* A copy of an unmodifiable object keeps everything but what only a
	 * copy may change (CKA_TOKEN, CKA_PRIVATE, CKA_MODIFIABLE). */
	if (frozen && (r->flags & (F_COPY | F_SET | F_SO_CHANGE)) != F_COPY)
		goto out;
	if (r->flags & F_SO_CHANGE) {
		/* CKA_TRUSTED: the SO's decision alone. */
		if (!so)
			goto out;
	} else if (!(r->flags & (copy ? F_COPY : F_SET))) {
		goto out;
	}
	if (r->kind == K_BOOL) {
		bool was = ch_attrs_bool(cur, r->type, false), now = nv[0] == CK_TRUE;

		if (((r->flags & F_RO_TRUE) && was && !now) ||
		    ((r->flags & F_RO_FALSE) && !was && now) ||
		    ((r->flags & F_SO_TRUE) && now && !so))
			goto out;
	}
	rv = ch_attrs_set(next, r->type, nv, nl);
out:
	OPENSSL_clear_free(nv, nl);
	return rv;
}

/* The common body of ch_object_set and ch_object_copy. */
static CK_RV change(const ch_attrs *cur, const CK_ATTRIBUTE *t, CK_ULONG n,
                    const ch_object_env *env, bool copy, ch_attrs **out)
{
	ch_attrs *tmpl = NULL, *next = NULL;
	bool modifiable = ch_attrs_bool(cur, CKA_MODIFIABLE, true);
	bool so = env != NULL && env->so;
	shape s;
	CK_RV rv;

	*out = NULL;
	if ((rv = shape_of(cur, &s)) != CKR_OK)
		goto out;
	rv = CKR_ACTION_PROHIBITED;
	if (copy ? !ch_attrs_bool(cur, CKA_COPYABLE, true) : !modifiable)
		goto out;
	/* A copy of a version would be a second object with its number. */
	if (copy && ch_attrs_get(cur, CKA_CH_VERSION) != NULL)
		goto out;
	if ((rv = ch_attrs_from_template(t, n, &tmpl)) != CKR_OK)
		goto out;
	rv = CKR_ATTRIBUTE_READ_ONLY;
	for (size_t i = 0; ch_attrs_get(cur, CKA_CH_VERSION) != NULL &&
	                   i < sizeof(version_fixed) / sizeof(version_fixed[0]);
	     i++)
		if (ch_attrs_get(tmpl, version_fixed[i]) != NULL)
			goto out;
	for (size_t i = 0; ch_attrs_get(cur, CKA_CH_VERSION) != NULL && s.cls == CKO_DATA &&
	                   i < sizeof(data_version_fixed) / sizeof(data_version_fixed[0]);
	     i++)
		if (ch_attrs_get(tmpl, data_version_fixed[i]) != NULL)
			goto out;
	rv = CKR_HOST_MEMORY;
	if ((next = ch_attrs_dup(cur)) == NULL)
		goto out;
	for (size_t i = 0; i < tmpl->n; i++)
		if ((rv = change_one(&s, cur, &tmpl->v[i], copy, !modifiable, so, next)) != CKR_OK)
			goto out;
	if ((rv = class_check(&s, next)) != CKR_OK)
		goto out;
	rv = copy ? CKR_TEMPLATE_INCONSISTENT : CKR_ATTRIBUTE_VALUE_INVALID;
	if (!roles_ok(next, env))
		goto out;
	/* A data object does not become a secret after the fact: secrets are
	 * born versioned (C_CreateObject). */
	if (ch_object_is_secret(next) && !ch_object_is_secret(cur))
		goto out;
	if (copy)
		ch_attrs_remove(next, CKA_UNIQUE_ID);
	*out = next;
	next = NULL; /* transferred */
	rv = CKR_OK;
out:
	ch_attrs_free(tmpl);
	ch_attrs_free(next);
	return rv;
}

CK_RV ch_object_set(const ch_attrs *cur, const CK_ATTRIBUTE *t, CK_ULONG n,
                    const ch_object_env *env, ch_attrs **out)
{
	return change(cur, t, n, env, false, out);
}

CK_RV ch_object_copy(const ch_attrs *cur, const CK_ATTRIBUTE *t, CK_ULONG n,
                     const ch_object_env *env, ch_attrs **out)
{
	return change(cur, t, n, env, true, out);
}

bool ch_object_may_generate(const ch_attrs *a, CK_ATTRIBUTE_TYPE type)
{
	const rule *r;
	shape s;

	if (shape_of(a, &s) != CKR_OK || (r = shape_rule(&s, type)) == NULL)
		return false;
	return (r->flags & F_COMPUTED) != F_COMPUTED && !(r->flags & (F_NO_GEN | F_SO_CHANGE)) &&
	       r->kind != K_TEMPLATE;
}

CK_RV ch_object_may_destroy(const ch_attrs *a)
{
	/* Whether a family's primary may go (not while other versions are
	 * left) needs the family: soft_version_may_destroy. */
	return ch_attrs_bool(a, CKA_DESTROYABLE, true) ? CKR_OK : CKR_ACTION_PROHIBITED;
}

/* ---------------------------------------------------------------------- */
/* Reading                                                                 */
/* ---------------------------------------------------------------------- */

bool ch_object_attr_is_secret(const ch_attrs *a, CK_ATTRIBUTE_TYPE type)
{
	CK_OBJECT_CLASS cls = ch_object_class(a);

	switch (type) {
	case CKA_VALUE:
		/* A secret's value too (issue 8): sealed without a blind index,
		 * hidden from C_GetAttributeValue and searches unless
		 * soft_secret.c decides the caller may read it. */
		return cls == CKO_SECRET_KEY || cls == CKO_PRIVATE_KEY || ch_object_is_secret(a);
	case CKA_PRIVATE_EXPONENT:
	case CKA_PRIME_1:
	case CKA_PRIME_2:
	case CKA_EXPONENT_1:
	case CKA_EXPONENT_2:
	case CKA_COEFFICIENT:
		/* Only private keys have them; secret wherever they appear. */
		return true;
	default:
		return false;
	}
}

/* True when the value of type must not leave the token (footnote 7). */
static bool hidden(const ch_attrs *a, CK_ATTRIBUTE_TYPE type)
{
	/* When either flag is missing, assume the protective value. */
	return ch_object_attr_is_secret(a, type) &&
	       (ch_attrs_bool(a, CKA_SENSITIVE, true) || !ch_attrs_bool(a, CKA_EXTRACTABLE, false));
}

/* Keeps the first error of a C_GetAttributeValue call. */
static void note(CK_RV *rv, CK_RV err)
{
	if (*rv == CKR_OK)
		*rv = err;
}

/* Steps 3 to 5 of C_GetAttributeValue (spec 5.7.5) for one plain value. */
static CK_RV get_value(CK_VOID_PTR p, CK_ULONG *len, const CK_BYTE *v, CK_ULONG vlen)
{
	if (p == NULL) {
		*len = vlen;
		return CKR_OK;
	}
	if (*len < vlen) {
		*len = CK_UNAVAILABLE_INFORMATION;
		return CKR_BUFFER_TOO_SMALL;
	}
	if (vlen != 0)
		memcpy(p, v, vlen);
	*len = vlen;
	return CKR_OK;
}

/* An array attribute: its length is that of a CK_ATTRIBUTE array; with a
 * buffer, each entry gets the type of the stored attribute at that place
 * (ascending type order, the same on every call) and its value by steps 3
 * to 5, so the usual "ask lengths, allocate, ask values" sequence works one
 * level down. */
static CK_RV get_template(const ch_attr *at, CK_ATTRIBUTE *t)
{
	ch_attrs *inner = NULL;
	CK_ULONG need;
	CK_RV rv, ret = CKR_OK;

	if ((rv = template_parse(at->value, at->len, &inner)) != CKR_OK) {
		t->ulValueLen = CK_UNAVAILABLE_INFORMATION;
		return rv;
	}
	need = inner->n * sizeof(CK_ATTRIBUTE);
	if (t->pValue == NULL) {
		t->ulValueLen = need;
	} else if (t->ulValueLen < need) {
		t->ulValueLen = CK_UNAVAILABLE_INFORMATION;
		ret = CKR_BUFFER_TOO_SMALL;
	} else {
		CK_BYTE *base = t->pValue;

		for (size_t i = 0; i < inner->n; i++) {
			CK_ATTRIBUTE e;

			memcpy(&e, base + i * sizeof(e), sizeof(e));
			e.type = inner->v[i].type;
			if ((rv = get_value(e.pValue, &e.ulValueLen, inner->v[i].value,
			                    inner->v[i].len)) != CKR_OK)
				note(&ret, rv);
			memcpy(base + i * sizeof(e), &e, sizeof(e));
		}
		t->ulValueLen = need;
	}
	ch_attrs_free(inner);
	return ret;
}

CK_RV ch_object_get(const ch_attrs *a, CK_ATTRIBUTE *t, CK_ULONG n)
{
	CK_RV ret = CKR_OK, rv;

	for (CK_ULONG i = 0; i < n; i++) {
		const ch_attr *at = ch_attrs_get(a, t[i].type);

		if (at != NULL && hidden(a, at->type)) {
			t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			note(&ret, CKR_ATTRIBUTE_SENSITIVE);
		} else if (at == NULL) {
			t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			note(&ret, CKR_ATTRIBUTE_TYPE_INVALID);
		} else if (any_kind(at->type) == K_TEMPLATE) {
			if ((rv = get_template(at, &t[i])) != CKR_OK)
				note(&ret, rv);
		} else if ((rv = get_value(t[i].pValue, &t[i].ulValueLen, at->value, at->len)) !=
		           CKR_OK) {
			note(&ret, rv);
		}
	}
	return ret;
}

bool ch_object_match(const ch_attrs *a, const CK_ATTRIBUTE *t, CK_ULONG n)
{
	if (n != 0 && t == NULL)
		return false;
	for (CK_ULONG i = 0; i < n; i++) {
		const ch_attr *at = ch_attrs_get(a, t[i].type);
		int kind = any_kind(t[i].type);
		CK_BYTE *nv = NULL;
		CK_ULONG nl = 0;
		bool same;

		/* A hidden value is no search key: matching on it would reveal
		 * it one guess at a time. */
		if (at == NULL || hidden(a, at->type) || (t[i].pValue == NULL && t[i].ulValueLen))
			return false;
		if (kind < 0) {
			/* Not ours (set by the store or the front end): compare
			 * the bytes. */
			if (at->len != t[i].ulValueLen ||
			    (at->len && CRYPTO_memcmp(at->value, t[i].pValue, at->len) != 0))
				return false;
			continue;
		}
		if (value_check(kind, t[i].pValue, t[i].ulValueLen, &nv, &nl) != CKR_OK)
			return false;
		same = nl == at->len && (nl == 0 || CRYPTO_memcmp(nv, at->value, nl) == 0);
		OPENSSL_clear_free(nv, nl);
		if (!same)
			return false;
	}
	return true;
}

CK_RV ch_object_template(const ch_attrs *a, CK_ATTRIBUTE_TYPE type, ch_attrs **out)
{
	const ch_attr *at = ch_attrs_get(a, type);

	*out = NULL;
	if (at == NULL || any_kind(type) != K_TEMPLATE)
		return CKR_ATTRIBUTE_TYPE_INVALID;
	return template_parse(at->value, at->len, out);
}

CK_OBJECT_CLASS ch_object_class(const ch_attrs *a)
{
	CK_ULONG cls;

	return ch_attrs_ulong(a, CKA_CLASS, &cls) ? cls : CK_UNAVAILABLE_INFORMATION;
}

bool ch_object_is_token(const ch_attrs *a)
{
	return ch_attrs_bool(a, CKA_TOKEN, false);
}

bool ch_object_is_secret(const ch_attrs *a)
{
	const ch_attr *app = ch_attrs_get(a, CKA_APPLICATION);

	return ch_object_class(a) == CKO_DATA && app != NULL &&
	       app->len == sizeof(CH_SECRET_APPLICATION) - 1 &&
	       memcmp(app->value, CH_SECRET_APPLICATION, app->len) == 0;
}

bool ch_object_is_private(const ch_attrs *a)
{
	/* Missing means private: never expose an object by accident. */
	return ch_attrs_bool(a, CKA_PRIVATE, true);
}

CK_ULONG ch_object_size(const ch_attrs *a)
{
	CK_ULONG size = 0;

	for (size_t i = 0; a != NULL && i < a->n; i++)
		size += a->v[i].len + CH_OBJECT_ATTR_OVERHEAD;
	return size;
}
