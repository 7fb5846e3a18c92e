/*
 * cipherhub/vendor.h: Cipher Hub's public extensions to PKCS#11.
 *
 * Two things live here, both for programs that know they talk to Cipher Hub
 * (the admin tool in tools/, tests, integrations):
 *
 *  - the vendor-defined number ranges for attributes, mechanisms, return
 *    values, object classes and key types.  Each range starts at a base made
 *    of the spec's *_VENDOR_DEFINED bit and the tag "CH" (0x4348) in bits
 *    16-29, and has room for 65536 values.  Values are added upward from
 *    base + 1 and never reused or renumbered: they end up in stores, logs
 *    and other programs' source.
 *
 *  - the vendor interface, returned by C_GetInterface("Cipher Hub", ...)
 *    (PKCS#11 3.0 section 5.4): a function table that starts with a
 *    CK_VERSION like every PKCS#11 interface, and holds the operations that
 *    PKCS#11 has no call for.  Later versions only append members; a caller
 *    checks version before using a member added after 1.0.
 *
 * One deliberate irregularity: bit 30 of an attribute type is
 * CKF_ARRAY_ATTRIBUTE (its value is a template, CK_ATTRIBUTE[]), and the 'C'
 * of "CH" (0x43) has that bit set.  So the attribute base clears it; an
 * attribute whose value really is a template is CKA_CH_ARRAY_BASE + n.
 */
#ifndef CIPHERHUB_VENDOR_H
#define CIPHERHUB_VENDOR_H

#include "cipherhub/pkcs11.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "CH" in the high half of a 32-bit value. */
#define CH_VENDOR_TAG 0x43480000UL

/* ---------------------------------------------------------------------- */
/* Vendor number ranges                                                   */
/* ---------------------------------------------------------------------- */

/* Attributes: 0x83480000 (scalar or byte-string values) and 0xC3480000
 * (template values, CKF_ARRAY_ATTRIBUTE set). */
#define CKA_CH_BASE       (CKA_VENDOR_DEFINED | (CH_VENDOR_TAG & ~CKF_ARRAY_ATTRIBUTE))
#define CKA_CH_ARRAY_BASE (CKA_CH_BASE | CKF_ARRAY_ATTRIBUTE)

/* Mechanisms: 0xC3480000. */
#define CKM_CH_BASE (CKM_VENDOR_DEFINED | CH_VENDOR_TAG)

/* Return values: 0xC3480000. */
#define CKR_CH_BASE (CKR_VENDOR_DEFINED | CH_VENDOR_TAG)

/* Object classes and key types: 0xC3480000. */
#define CKO_CH_BASE (CKO_VENDOR_DEFINED | CH_VENDOR_TAG)
#define CKK_CH_BASE (CKK_VENDOR_DEFINED | CH_VENDOR_TAG)

/*
 * Allocated values go below, one block per range, in numeric order, each
 * with the issue or design note that introduced it.
 */

/* Issue 3: the participant that created an object (UTF-8 name).  Kept by the
 * token beside the object and covered by its MAC; not settable. */
#define CKA_CH_OWNER (CKA_CH_BASE + 1)
/* Issue 3: internal tag under which a grant row is authenticated (never an
 * attribute of any object). */
#define CKA_CH_GRANT_TAG (CKA_CH_BASE + 2)

/*
 * Issue 8: key families and versions.  A family is the token keys of one
 * class sharing a CKA_LABEL in a registration; each version is its own
 * object.  A key made by C_GenerateKey or C_CreateObject is a plain key; it
 * becomes version 1 of its family when it is first rotated (or retired), and
 * gains the attributes below.  The token alone sets CKA_CH_VERSION,
 * CKA_CH_STATE, CKA_CH_PRIMARY, CKA_CH_CREATED and CKA_CH_USAGE (a template
 * giving them: CKR_ATTRIBUTE_READ_ONLY).
 */
/* CK_ULONG: the version number, 1, 2, ... within the family. */
#define CKA_CH_VERSION (CKA_CH_BASE + 3)
/* CK_ULONG: CH_KEY_STATE_*. */
#define CKA_CH_STATE (CKA_CH_BASE + 4)
/* CK_BBOOL: this version starts new encryptions, signatures, wraps and
 * derivations; exactly one version of a family is primary. */
#define CKA_CH_PRIMARY (CKA_CH_BASE + 5)
/* CK_ULONG seconds: the family's rotation period, 0 (or absent) for none.
 * Set by an operator in a template or with C_SetAttributeValue on the
 * primary; a new version copies it from the primary. */
#define CKA_CH_ROTATION_PERIOD (CKA_CH_BASE + 6)
/* CK_ULONG: the family's lowest version that may still decrypt, verify and
 * unwrap (1: every version).  Changed with CH_KeySetMinVersion only. */
#define CKA_CH_MIN_DECRYPT_VERSION (CKA_CH_BASE + 7)
/* CK_BBOOL, template only (never stored): C_GenerateKey or
 * C_GenerateKeyPair makes the next version of the family named by the
 * template's CKA_LABEL, which must exist (else CKR_TEMPLATE_INCONSISTENT). */
#define CKA_CH_NEW_VERSION (CKA_CH_BASE + 8)
/* CK_ULONG: when the key was made, seconds since 1970-01-01 UTC (what the
 * rotation period counts from).  Set on every token key the token makes. */
#define CKA_CH_CREATED (CKA_CH_BASE + 9)
/* CK_FLAGS: the usage attributes the version was made with (CH_USAGE_*);
 * CKA_ENCRYPT etc. show what the version may do now (see CH_KeyRotate). */
#define CKA_CH_USAGE (CKA_CH_BASE + 10)

/* CK_BBOOL, family policy: CH_DataKeyGenerate may return a data key's
 * plaintext beside its wrapped form, and a data key unwrapped under the
 * family may be made extractable and not sensitive.  CK_FALSE (or absent):
 * the plaintext never leaves the token.  Set by an operator in a template or
 * with C_SetAttributeValue on the primary; a new version copies it. */
#define CKA_CH_DATAKEY_PLAINTEXT (CKA_CH_BASE + 11)
/* CK_ULONG, family policy: a version is due for rotation once this many
 * encryptions were made with it (0 or absent: no bound).  For AES-GCM with
 * random 96-bit IVs, NIST SP 800-38D allows 2^32 per key; set it below that.
 * Set and copied like CKA_CH_ROTATION_PERIOD. */
#define CKA_CH_MAX_ENCRYPTIONS (CKA_CH_BASE + 12)
/* CK_ULONG, read-only: the encryptions (and wraps) recorded for this key so
 * far, from the audit log's key-use counts (which lag the uses by at most
 * one flush interval). */
#define CKA_CH_ENCRYPTIONS (CKA_CH_BASE + 13)

/*
 * Issue 8: secrets (named, versioned stored secrets: API keys, database
 * credentials).  A secret version is a token data object: CKO_DATA,
 * CKA_TOKEN and CKA_PRIVATE TRUE, CKA_APPLICATION CH_SECRET_APPLICATION,
 * CKA_LABEL the secret's name, CKA_VALUE its bytes (sealed in the store).
 * The versions of one secret are the secrets with its name in a
 * registration, and carry CKA_CH_VERSION, CKA_CH_STATE, CKA_CH_PRIMARY,
 * CKA_CH_MIN_DECRYPT_VERSION and CKA_CH_CREATED as key versions do (set by
 * the token alone); there are no usage attributes, the state alone decides.
 *  - C_CreateObject of a secret makes version 1 (the name must be new:
 *    CKR_ACTION_PROHIBITED otherwise); with CKA_CH_NEW_VERSION TRUE it
 *    makes the next version of the existing secret of that name
 *    (CKR_TEMPLATE_INCONSISTENT when there is none), in one transaction:
 *    the new one is the primary, the old primary becomes "previous"
 *    (CH_KEY_STATE_DECRYPT_ONLY: still readable), the grants carry over.
 *    A data object with CH_SECRET_APPLICATION that is not a private,
 *    destroyable token object, or not made by C_CreateObject, is
 *    CKR_TEMPLATE_INCONSISTENT; one without a CKA_LABEL (or an empty one)
 *    is CKR_TEMPLATE_INCOMPLETE.  CKA_DESTROYABLE cannot be changed on it.
 *  - CKA_VALUE is read with C_GetAttributeValue by a logged-in participant
 *    (CKU_USER) that created the secret or holds a CH_GRANT_READ grant for
 *    it, of a version that is active or previous and not below the
 *    minimum; anyone else gets CKR_ATTRIBUTE_SENSITIVE for it (and a
 *    participant with neither a grant nor the operator role does not see
 *    the object at all).  Every read, and every refused one, is audited
 *    (secret.read).  CKA_VALUE never matches in C_FindObjectsInit.
 *  - CH_KeySetState and CH_KeySetMinVersion take secret versions too
 *    (destroyed: the value is deleted from the store, the object stays);
 *    C_DestroyObject deletes a version (the primary only as the last one).
 *    On a version, CKA_LABEL, CKA_APPLICATION and CKA_VALUE are read-only.
 *    Only a secret's creator may grant CH_GRANT_READ on it (CH_GrantSet).
 *  - Forwarded registrations hold no secrets: CKR_FUNCTION_NOT_SUPPORTED.
 */
#define CH_SECRET_APPLICATION "cipherhub:secret"

/* Values of CKA_CH_STATE. */
#define CH_KEY_STATE_ACTIVE       1UL /* the primary: does everything its usage allows */
#define CH_KEY_STATE_DECRYPT_ONLY 2UL /* an older version: decrypt, verify, unwrap */
#define CH_KEY_STATE_DISABLED     3UL /* does nothing until enabled again */
#define CH_KEY_STATE_DESTROYED    4UL /* material gone; metadata kept for the audit trail */

/* Bits of CKA_CH_USAGE. */
#define CH_USAGE_ENCRYPT        0x001UL
#define CH_USAGE_DECRYPT        0x002UL
#define CH_USAGE_SIGN           0x004UL
#define CH_USAGE_VERIFY         0x008UL
#define CH_USAGE_WRAP           0x010UL
#define CH_USAGE_UNWRAP         0x020UL
#define CH_USAGE_DERIVE         0x040UL
#define CH_USAGE_SIGN_RECOVER   0x080UL
#define CH_USAGE_VERIFY_RECOVER 0x100UL

/*
 * Issue 8: versioned AES-256-GCM.  C_EncryptInit / C_WrapKey with a
 * family's primary (an AES key of 32 bytes) writes
 *   header (28 bytes) || ciphertext || tag (16 bytes)
 * where the header is 'C' 'H' 0x01, a kind byte (0x00: data from C_Encrypt,
 * 0x01: a key from C_WrapKey; neither opens as the other), the family id (8
 * bytes), the version (4 bytes, big endian) and a random 96-bit IV, and the
 * GCM additional data is the header followed by the mechanism's parameter.
 * GCM runs under HKDF-SHA256(the version's key, salt = the header's first 16
 * bytes, info "cipherhub versioned aes-gcm v1"), never under the stored key
 * itself, so no standard mechanism (CKM_AES_GCM) opens these outputs.
 * C_DecryptInit / C_UnwrapKey take any version of the family and decrypt
 * with the version the header names, so old ciphertexts need no bookkeeping.
 * Parameter: optional additional authenticated data (a CK_BYTE array; NULL
 * and 0 for none), the same for encryption and decryption.  Single-part
 * only (C_Encrypt, C_Decrypt).
 *
 * Cipher Hub's rules: the key named at C_DecryptInit / C_UnwrapKey must
 * itself be able to decrypt (unwrap); the header's version is used when the
 * caller could use it directly (its CKA_DECRYPT / CKA_UNWRAP is TRUE and
 * it is granted), else CKR_CH_KEY_VERSION_UNUSABLE.  A header of another
 * family, a malformed one, or a tag that does not match:
 * CKR_ENCRYPTED_DATA_INVALID (C_UnwrapKey: CKR_WRAPPED_KEY_INVALID); input
 * shorter than header and tag: CKR_ENCRYPTED_DATA_LEN_RANGE.  Keys must be
 * 32 bytes (else CKR_KEY_SIZE_RANGE).  A session key works as a family of
 * its own (family id from its CKA_UNIQUE_ID, version 1).  A data key
 * unwrapped under a family whose CKA_CH_DATAKEY_PLAINTEXT is not TRUE is
 * made sensitive and not extractable (a template asking otherwise:
 * CKR_TEMPLATE_INCONSISTENT).
 */
#define CKM_CH_AES_GCM_VERSIONED (CKM_CH_BASE + 1)
#define CH_VERSIONED_HEADER_LEN  28
#define CH_VERSIONED_TAG_LEN     16

/* Issue 8: CH_KeyRotate's key is no longer its family's primary (another
 * rotation, possibly in another process, committed first); nothing was
 * made. */
#define CKR_CH_KEY_NOT_PRIMARY (CKR_CH_BASE + 1)
/* Issue 8: a versioned ciphertext names a version of the key's family that
 * may not decrypt (disabled, destroyed, below the family's minimum
 * decryption version, or not granted to the caller) or does not exist. */
#define CKR_CH_KEY_VERSION_UNUSABLE (CKR_CH_BASE + 2)

/* ---------------------------------------------------------------------- */
/* The vendor interface                                                   */
/* ---------------------------------------------------------------------- */

/* Name for C_GetInterface, and the version this header describes. */
#define CH_INTERFACE_NAME          "Cipher Hub"
#define CH_INTERFACE_VERSION_MAJOR 1
#define CH_INTERFACE_VERSION_MINOR 3

/* Facts about one registration (a slot's token), for the admin tool. */
typedef struct CH_REGISTRATION_INFO {
	CK_BYTE uuid[16];             /* the registration's stable identity */
	CK_UTF8CHAR name[32];         /* blank padded, = token label */
	CK_ULONG schemaVersion;       /* store schema version */
	CK_ULONG objectCount;         /* token objects in the registration; CK_UNAVAILABLE_INFORMATION
	                                 for a forwarded one (its objects are its HSM's) */
	CK_ULONG kdfIterationsOrCost; /* PIN KDF iterations, or its cost parameter */
	CK_CHAR kdfName[16];          /* blank padded, e.g. "PBKDF2-SHA256" */
} CH_REGISTRATION_INFO;
typedef CH_REGISTRATION_INFO CK_PTR CH_REGISTRATION_INFO_PTR;

/*
 * Fills *info for the registration in slot.  Returns CKR_OK,
 * CKR_CRYPTOKI_NOT_INITIALIZED, CKR_SLOT_ID_INVALID, CKR_ARGUMENTS_BAD (info
 * NULL), CKR_TOKEN_NOT_RECOGNIZED (the slot holds no initialized
 * registration) or another error from the slot's backend.  Needs
 * C_Initialize.  The caller owns *info; nothing in it is secret.
 */
typedef CK_RV (*CH_C_GetRegistrationInfo)(CK_SLOT_ID slot, CH_REGISTRATION_INFO_PTR info);

/* ---- Participants (issue 3) ------------------------------------------ */

/*
 * A participant is a named login identity of one registration: a user, a
 * device or a service, with its own PIN (which wraps the registration key
 * separately) and a set of roles.  Names are 1 to CH_NAME_MAX bytes of
 * [A-Za-z0-9._-], starting with a letter or digit.  Two names are reserved:
 * "so", the registration's first admin (what C_InitToken's SO PIN opens, and
 * what a bare-PIN CKU_SO login uses), and "default", the participant
 * C_InitPIN creates (what a bare-PIN CKU_USER login uses).
 *
 * Logging in as a named participant: C_LoginUser(session, type, pin, name)
 * or, for PKCS#11 2.40 clients, C_Login(session, type, "name:pin").  A
 * participant with the admin role logs in as CKU_SO; any other role as
 * CKU_USER.
 */
#define CH_NAME_MAX 32

/* Roles, a bit set. */
#define CH_ROLE_ADMIN    0x1UL /* manages participants, grants and policy; is the SO */
#define CH_ROLE_OPERATOR 0x2UL /* creates, changes and destroys keys and objects */
#define CH_ROLE_USER     0x4UL /* uses the keys it is granted */
#define CH_ROLE_AUDITOR  0x8UL /* reads and verifies the audit log; uses no key */
#define CH_ROLES_ALL     0xFUL

typedef struct CH_PARTICIPANT_INFO {
	CK_UTF8CHAR name[CH_NAME_MAX]; /* blank padded */
	CK_FLAGS roles;                /* CH_ROLE_* */
	CK_ULONG failedLogins;         /* consecutive wrong PINs since the last good one */
	CK_BBOOL locked;               /* CK_TRUE once failedLogins reached the limit */
} CH_PARTICIPANT_INFO;
typedef CH_PARTICIPANT_INFO CK_PTR CH_PARTICIPANT_INFO_PTR;

/*
 * Adds participant name with roles and PIN.  The session must be R/W and
 * logged in as an admin (CKR_USER_NOT_LOGGED_IN otherwise).  CKR_OK;
 * CKR_ARGUMENTS_BAD for a malformed or reserved name or empty roles;
 * CKR_PIN_LEN_RANGE; CKR_ACTION_PROHIBITED when the name exists.
 */
typedef CK_RV (*CH_C_ParticipantAdd)(CK_SESSION_HANDLE session, CK_UTF8CHAR_PTR name,
                                     CK_ULONG nameLen, CK_FLAGS roles, CK_UTF8CHAR_PTR pin,
                                     CK_ULONG pinLen);

/* Removes a participant (admin, R/W).  CKR_ARGUMENTS_BAD for an unknown
 * name; CKR_ACTION_PROHIBITED for "so" or the last admin. */
typedef CK_RV (*CH_C_ParticipantRemove)(CK_SESSION_HANDLE session, CK_UTF8CHAR_PTR name,
                                        CK_ULONG nameLen);

/* Lists participants (admin or auditor), two-call convention: list NULL
 * gives the count; a short list CKR_BUFFER_TOO_SMALL. */
typedef CK_RV (*CH_C_ParticipantList)(CK_SESSION_HANDLE session, CH_PARTICIPANT_INFO_PTR list,
                                      CK_ULONG_PTR count);

/* Replaces a participant's roles (admin, R/W).  Removing the admin role
 * from the last admin, or changing "so", is CKR_ACTION_PROHIBITED. */
typedef CK_RV (*CH_C_ParticipantSetRoles)(CK_SESSION_HANDLE session, CK_UTF8CHAR_PTR name,
                                          CK_ULONG nameLen, CK_FLAGS roles);

/* Clears a participant's failed-login count and lock (admin, R/W). */
typedef CK_RV (*CH_C_ParticipantUnlock)(CK_SESSION_HANDLE session, CK_UTF8CHAR_PTR name,
                                        CK_ULONG nameLen);

/* ---- Grants (issue 3) -------------------------------------------------- */

/*
 * A grant lets a participant, or every participant holding a role, use one
 * key for some operations.  A key's creator may use it without a grant; other
 * participants see a private key only when they hold a grant for it (or the
 * operator role, which manages keys), and use it only for the granted
 * operations, whatever the key's own CKA_SIGN, CKA_DECRYPT, ... allow.
 * Grantee: a participant name, or "role:admin|operator|user|auditor".
 */
#define CH_GRANT_ENCRYPT 0x01UL
#define CH_GRANT_DECRYPT 0x02UL
#define CH_GRANT_SIGN    0x04UL
#define CH_GRANT_VERIFY  0x08UL
#define CH_GRANT_WRAP    0x10UL
#define CH_GRANT_UNWRAP  0x20UL
#define CH_GRANT_DERIVE  0x40UL
#define CH_GRANT_READ    0x80UL /* issue 8: read a secret's CKA_VALUE (the only bit of a secret) */
#define CH_GRANT_ALL     0xFFUL

#define CH_GRANTEE_MAX 40 /* "role:" + a role name, or a participant name */

typedef struct CH_GRANT_INFO {
	CK_UTF8CHAR grantee[CH_GRANTEE_MAX]; /* blank padded */
	CK_FLAGS operations;                 /* CH_GRANT_* */
} CH_GRANT_INFO;
typedef CH_GRANT_INFO CK_PTR CH_GRANT_INFO_PTR;

/* Sets the operations grantee may use key for; 0 revokes.  Needs an R/W
 * session of an admin or an operator.  CKR_OK; CKR_KEY_HANDLE_INVALID for a
 * missing key (or a session object: grants are for token keys and secrets);
 * CKR_ARGUMENTS_BAD for a malformed grantee, an unknown participant or role,
 * or unknown operation bits.  Issue 8: key may also be a secret (see
 * CH_SECRET_APPLICATION), whose only operation is CH_GRANT_READ (any other
 * bit: CKR_ARGUMENTS_BAD), and which only its creator may grant
 * (CKR_ACTION_PROHIBITED for anyone else; anyone who manages grants may
 * revoke); on a key CH_GRANT_READ means nothing and is dropped (CH_GRANT_ALL
 * grants the seven key operations), and READ alone is CKR_ARGUMENTS_BAD. */
typedef CK_RV (*CH_C_GrantSet)(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key,
                               CK_UTF8CHAR_PTR grantee, CK_ULONG granteeLen, CK_FLAGS operations);

/* Lists the grants of key (admin, operator or auditor), two-call convention. */
typedef CK_RV (*CH_C_GrantList)(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key,
                                CH_GRANT_INFO_PTR list, CK_ULONG_PTR count);

/* ---- Audit (issue 3) --------------------------------------------------- */

/* One record of a registration's audit log, as CH_AuditRead returns it.
 * Nothing in a record is secret. */
typedef struct CH_AUDIT_RECORD {
	CK_ULONG seq;                         /* 1, 2, ... per registration */
	CK_ULONG time;                        /* seconds since 1970-01-01 UTC */
	CK_ULONG pid;                         /* process that wrote it */
	CK_UTF8CHAR participant[CH_NAME_MAX]; /* blank padded; blank: nobody logged in */
	CK_UTF8CHAR operation[32];            /* blank padded, e.g. "login", "key.sign" */
	CK_UTF8CHAR object[32];               /* the object's CKA_UNIQUE_ID, or blank */
	CK_RV result;                         /* what the call returned */
	CK_ULONG count;                       /* aggregated key uses; 1 for other events */
	CK_UTF8CHAR detail[64];               /* blank padded free text */
	CK_BBOOL authenticated;               /* carries a MAC under the registration key */
} CH_AUDIT_RECORD;
typedef CH_AUDIT_RECORD CK_PTR CH_AUDIT_RECORD_PTR;

/* Reads records with seq >= fromSeq, oldest first, up to *count of them
 * (admin or auditor session); *count is set to the number returned, fewer
 * than asked only at the end of the log.  list NULL: *count is set to the
 * number of records from fromSeq on. */
typedef CK_RV (*CH_C_AuditRead)(CK_SESSION_HANDLE session, CK_ULONG fromSeq,
                                CH_AUDIT_RECORD_PTR list, CK_ULONG_PTR count);

/* Verifies the whole chain and every MAC (admin or auditor session).  CKR_OK
 * with *firstBad 0 when intact, *unauthenticated then being the number of
 * trailing records no MAC covers yet (written while nobody was logged in).
 * CKR_OK with *firstBad the seq of the first record not proven intact when
 * not: every record before it is authenticated and unchanged; after an
 * authenticated record that is the edited, inserted or reordered record, or
 * the one after a deleted record; within a run of records written before a
 * login, the first record of that run. */
typedef CK_RV (*CH_C_AuditVerify)(CK_SESSION_HANDLE session, CK_ULONG_PTR firstBad,
                                  CK_ULONG_PTR unauthenticated);

/* ---- Key versions (issue 8; interface 1.2) ---------------------------- */

/*
 * Makes the next version of key's family: fresh key material with the
 * primary's template (class, key type and size, usage, rotation period,
 * policy attributes), the next version number, a CKA_ID of the family id (8
 * bytes) and the version (4 bytes, big endian), the family's grants.  It
 * becomes the primary; the old primary becomes decrypt-only.  key must be
 * the family's primary, or a plain key (which becomes version 1): a secret
 * key, or a private key, whose public half (its public family's primary,
 * or the plain public key with its CKA_ID) gets the same new version and
 * CKA_ID in the same transaction; *newKey is then the new private key.
 * One store transaction re-reads the family and commits only if key is
 * still its primary, so racing rotations (in any processes) make one new
 * version.  Needs an R/W session of a participant with the operator role.
 * CKR_OK with *newKey; CKR_KEY_HANDLE_INVALID; CKR_KEY_TYPE_INCONSISTENT (a
 * key that cannot be rotated: not a token secret or private key, or a
 * private key without its public half);
 * CKR_CH_KEY_NOT_PRIMARY (key is an older version, or lost the race);
 * CKR_SESSION_READ_ONLY, CKR_USER_NOT_LOGGED_IN, CKR_ACTION_PROHIBITED.
 */
typedef CK_RV (*CH_C_KeyRotate)(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key,
                                CK_OBJECT_HANDLE_PTR newKey);

/*
 * Enables (CH_KEY_STATE_ACTIVE: the primary becomes active again, another
 * version decrypt-only), disables (CH_KEY_STATE_DISABLED) or destroys
 * (CH_KEY_STATE_DESTROYED: the key material is deleted from the store with
 * SQLite's secure_delete; the object stays, with its label, version, unique
 * ID and state, for the audit trail) one version.  A plain key becomes
 * version 1 of its family first.  Needs what CH_KeyRotate needs.  CKR_OK;
 * CKR_KEY_HANDLE_INVALID; CKR_ARGUMENTS_BAD (another state);
 * CKR_ACTION_PROHIBITED (destroying the primary, or enabling a destroyed
 * version).
 */
typedef CK_RV (*CH_C_KeySetState)(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key, CK_ULONG state);

/*
 * Sets the lowest version of key's family that may still decrypt, verify
 * and unwrap (key: any version).  Every version records it.  CKR_OK;
 * CKR_KEY_HANDLE_INVALID; CKR_ARGUMENTS_BAD for 0 or a version above the
 * primary's; otherwise as CH_KeyRotate.
 */
typedef CK_RV (*CH_C_KeySetMinVersion)(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key,
                                       CK_ULONG minVersion);

/* ---- Recovery (issue 8) ---------------------------------------------- */

/* Bytes of a registration's recovery key. */
#define CH_RECOVERY_KEY_LEN 32

/*
 * Makes a new recovery key for the session's registration, for the day every
 * admin PIN is lost: a random key under which the registration key is stored
 * wrapped (as under a PIN), replacing any earlier recovery key (whose shares
 * then open nothing).  The key is returned once, in key (*keyLen >=
 * CH_RECOVERY_KEY_LEN; set to that), for the caller to split into shares
 * (the admin tool: Shamir's scheme, M of N) and wipe; the module keeps no
 * copy.  Needs an admin (CKU_SO) on an R/W session.  Returns CKR_OK,
 * CKR_USER_NOT_LOGGED_IN, CKR_SESSION_READ_ONLY, CKR_ARGUMENTS_BAD,
 * CKR_BUFFER_TOO_SMALL, or a backend error.  Audited (recovery.setup).
 */
typedef CK_RV (*CH_C_RecoverySetup)(CK_SESSION_HANDLE session, CK_BYTE_PTR key,
                                    CK_ULONG_PTR keyLen);

/*
 * Restores admin access with the recovery key: the "so" participant's PIN
 * becomes newPin and its lockout is lifted; nothing else changes.  Nobody
 * may be logged in; the session must be R/W.  Returns CKR_OK,
 * CKR_PIN_INCORRECT (a wrong key: counted like a wrong PIN, and nothing
 * changes), CKR_PIN_LOCKED, CKR_USER_PIN_NOT_INITIALIZED (no recovery key was
 * set up), CKR_PIN_LEN_RANGE (newPin), CKR_USER_ALREADY_LOGGED_IN,
 * CKR_SESSION_READ_ONLY, CKR_ARGUMENTS_BAD.  Audited (recovery.use).
 */
typedef CK_RV (*CH_C_Recover)(CK_SESSION_HANDLE session, CK_BYTE_PTR key, CK_ULONG keyLen,
                              CK_UTF8CHAR_PTR newPin, CK_ULONG newPinLen);

/* ---- Backup and restore (issue 8) ------------------------------------ */

/* The largest backup file: CH_BackupExport refuses a registration that would
 * make a larger one (CKR_DEVICE_ERROR, logged), so every file it writes can
 * be read back. */
#define CH_BACKUP_MAX (1024UL * 1024 * 1024)

/*
 * Writes the session's whole registration (every token object with its
 * owner, the participants' PIN-wrapped registration keys and roles, the
 * grants and the audit log) into out as one file, encrypted and
 * authenticated under a key derived from the registration key (AES-256-GCM;
 * the format is described in token/soft_backup.c).  out NULL: *outLen gets
 * the length needed.  The length may grow between two calls (the registration
 * changed): CKR_BUFFER_TOO_SMALL with the new length then.  Needs an admin
 * (CKU_SO).  Returns CKR_OK, CKR_USER_NOT_LOGGED_IN, CKR_ARGUMENTS_BAD,
 * CKR_BUFFER_TOO_SMALL, CKR_FUNCTION_NOT_SUPPORTED (a forwarded
 * registration, whose keys are its HSM's, or one whose root of trust is an
 * HSM), or a backend error.  Audited (backup.export) when data was written.
 */
typedef CK_RV (*CH_C_BackupExport)(CK_SESSION_HANDLE session, CK_BYTE_PTR out, CK_ULONG_PTR outLen);

/*
 * Restores a backup made by CH_BackupExport as a new registration on slotID,
 * which must be the free slot (no registration, no session on it, as for
 * C_InitToken).  soPin is the SO PIN the registration had when the backup
 * was made; every participant keeps its PIN and roles (failed-login counts
 * start again at 0).  All or nothing: one transaction.  The audit log is
 * carried over and continues with a backup.restore record.  With an HSM root
 * configured for its label ([root:NAME]) it gets one, as from C_InitToken.
 * Returns CKR_OK;
 * CKR_DATA_LEN_RANGE (a truncated file), CKR_DATA_INVALID (not a backup, a
 * malformed one, or one whose audit chain does not verify),
 * CKR_ENCRYPTED_DATA_INVALID (the file fails its authentication: tampered
 * or damaged), CKR_PIN_INCORRECT (soPin does not open it; nothing is
 * counted), CKR_ACTION_PROHIBITED (the store already has this registration,
 * or slotID holds one), CKR_SESSION_EXISTS, CKR_FUNCTION_NOT_SUPPORTED (a
 * forwarded slot), CKR_ARGUMENTS_BAD, CKR_SLOT_ID_INVALID.  On any error
 * nothing is written.
 */
typedef CK_RV (*CH_C_BackupImport)(CK_SLOT_ID slotID, CK_BYTE_PTR data, CK_ULONG len,
                                   CK_UTF8CHAR_PTR soPin, CK_ULONG soPinLen);

/* ---- Versioned encryption and data keys (issue 8; interface 1.3) ----- */

/*
 * Moves a CKM_CH_AES_GCM_VERSIONED ciphertext to its family's primary: in
 * is decrypted with the version its header names and encrypted again
 * (fresh IV) under the primary, inside the token; the plaintext is never
 * returned.  mech: CKM_CH_AES_GCM_VERSIONED with the ciphertext's
 * additional data (kept).  key: any version of the family that may decrypt
 * (as for C_DecryptInit).  The output is as long as in; out NULL: *outLen
 * gets that length (nothing is decrypted).  Needs a participant with the
 * user role and the decrypt grant on key and the encrypt grant on the
 * primary.  Returns CKR_OK, CKR_BUFFER_TOO_SMALL, CKR_ARGUMENTS_BAD,
 * CKR_MECHANISM_INVALID (another mechanism), CKR_KEY_HANDLE_INVALID,
 * CKR_KEY_FUNCTION_NOT_PERMITTED (no grant, or key cannot decrypt),
 * CKR_ENCRYPTED_DATA_INVALID (another family's ciphertext, malformed, or a
 * tag that does not match), CKR_ENCRYPTED_DATA_LEN_RANGE (shorter than a
 * header and tag), CKR_CH_KEY_VERSION_UNUSABLE, CKR_USER_NOT_LOGGED_IN.
 * Audited (key.rewrap) once past the length query.
 */
typedef CK_RV (*CH_C_Rewrap)(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key,
                             CK_BYTE_PTR in, CK_ULONG inLen, CK_BYTE_PTR out, CK_ULONG_PTR outLen);

/*
 * Envelope encryption: makes a fresh random data key of keyLen bytes (16,
 * 24 or 32) and returns it in wrapped, wrapped with wrapMech
 * (CKM_CH_AES_GCM_VERSIONED, its parameter the additional data) under the
 * primary of kek's family (kek: any version), so C_UnwrapKey with any
 * version of the family later picks the right one.  The data key's
 * plaintext goes to plain only when plain is not NULL and the family's
 * CKA_CH_DATAKEY_PLAINTEXT (the primary's) is TRUE; plain not NULL under a
 * family without that policy is CKR_KEY_FUNCTION_NOT_PERMITTED and nothing
 * is made.  wrapped NULL: *wrappedLen gets the length (keyLen + 44) and
 * *plainLen (if plainLen is not NULL) keyLen when the policy lets the
 * plaintext out, else 0.  On success *plainLen is keyLen when plain got
 * the key, else 0.  Needs the user role and the wrap grant on the primary.
 * Returns CKR_OK, CKR_BUFFER_TOO_SMALL (both lengths set),
 * CKR_ARGUMENTS_BAD (wrappedLen NULL, or plain without plainLen),
 * CKR_MECHANISM_INVALID, CKR_KEY_SIZE_RANGE (keyLen), CKR_KEY_HANDLE_INVALID,
 * CKR_KEY_FUNCTION_NOT_PERMITTED, CKR_WRAPPING_KEY_SIZE_RANGE (a KEK that
 * is not AES-256), CKR_USER_NOT_LOGGED_IN.  Audited (key.datakey) once past
 * the length query.
 */
typedef CK_RV (*CH_C_DataKeyGenerate)(CK_SESSION_HANDLE session, CK_MECHANISM_PTR wrapMech,
                                      CK_OBJECT_HANDLE kek, CK_ULONG keyLen, CK_BYTE_PTR wrapped,
                                      CK_ULONG_PTR wrappedLen, CK_BYTE_PTR plain,
                                      CK_ULONG_PTR plainLen);

/* The table C_GetInterface returns for CH_INTERFACE_NAME. */
typedef struct CH_FUNCTION_LIST {
	CK_VERSION version; /* CH_INTERFACE_VERSION_MAJOR.MINOR */
	CH_C_GetRegistrationInfo CH_GetRegistrationInfo;
	CH_C_ParticipantAdd CH_ParticipantAdd;
	CH_C_ParticipantRemove CH_ParticipantRemove;
	CH_C_ParticipantList CH_ParticipantList;
	CH_C_ParticipantSetRoles CH_ParticipantSetRoles;
	CH_C_ParticipantUnlock CH_ParticipantUnlock;
	CH_C_AuditRead CH_AuditRead;
	CH_C_AuditVerify CH_AuditVerify;
	CH_C_GrantSet CH_GrantSet;
	CH_C_GrantList CH_GrantList;
	/* 1.1 */
	CH_C_RecoverySetup CH_RecoverySetup;
	CH_C_Recover CH_Recover;
	CH_C_BackupExport CH_BackupExport;
	CH_C_BackupImport CH_BackupImport;
	/* 1.2 */
	CH_C_KeyRotate CH_KeyRotate;
	CH_C_KeySetState CH_KeySetState;
	CH_C_KeySetMinVersion CH_KeySetMinVersion;
	/* 1.3 */
	CH_C_Rewrap CH_Rewrap;
	CH_C_DataKeyGenerate CH_DataKeyGenerate;
} CH_FUNCTION_LIST;
typedef CH_FUNCTION_LIST CK_PTR CH_FUNCTION_LIST_PTR;

/*
 * The module's implementation (src/slot.c).  Applications reach it only
 * through CH_FUNCTION_LIST; the symbol has hidden visibility and is not in
 * the module's export list, so linking against it directly fails on purpose.
 */
#if defined(__GNUC__)
__attribute__((visibility("hidden")))
#endif
CK_RV CH_GetRegistrationInfo(CK_SLOT_ID slotID, CH_REGISTRATION_INFO_PTR pInfo);
#if defined(__GNUC__)
__attribute__((visibility("hidden")))
#endif
CK_RV CH_ParticipantAdd(CK_SESSION_HANDLE session, CK_UTF8CHAR_PTR name, CK_ULONG nameLen,
                        CK_FLAGS roles, CK_UTF8CHAR_PTR pin, CK_ULONG pinLen);
#if defined(__GNUC__)
__attribute__((visibility("hidden")))
#endif
CK_RV CH_ParticipantRemove(CK_SESSION_HANDLE session, CK_UTF8CHAR_PTR name, CK_ULONG nameLen);
#if defined(__GNUC__)
__attribute__((visibility("hidden")))
#endif
CK_RV CH_ParticipantList(CK_SESSION_HANDLE session, CH_PARTICIPANT_INFO_PTR list,
                         CK_ULONG_PTR count);
#if defined(__GNUC__)
__attribute__((visibility("hidden")))
#endif
CK_RV CH_ParticipantSetRoles(CK_SESSION_HANDLE session, CK_UTF8CHAR_PTR name, CK_ULONG nameLen,
                             CK_FLAGS roles);
#if defined(__GNUC__)
__attribute__((visibility("hidden")))
#endif
CK_RV CH_ParticipantUnlock(CK_SESSION_HANDLE session, CK_UTF8CHAR_PTR name, CK_ULONG nameLen);
#if defined(__GNUC__)
__attribute__((visibility("hidden")))
#endif
CK_RV CH_AuditRead(CK_SESSION_HANDLE session, CK_ULONG fromSeq, CH_AUDIT_RECORD_PTR list,
                   CK_ULONG_PTR count);
#if defined(__GNUC__)
__attribute__((visibility("hidden")))
#endif
CK_RV CH_AuditVerify(CK_SESSION_HANDLE session, CK_ULONG_PTR firstBad,
                     CK_ULONG_PTR unauthenticated);
#if defined(__GNUC__)
__attribute__((visibility("hidden")))
#endif
CK_RV CH_GrantSet(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key, CK_UTF8CHAR_PTR grantee,
                  CK_ULONG granteeLen, CK_FLAGS operations);
#if defined(__GNUC__)
__attribute__((visibility("hidden")))
#endif
CK_RV CH_GrantList(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key, CH_GRANT_INFO_PTR list,
                   CK_ULONG_PTR count);
#if defined(__GNUC__)
__attribute__((visibility("hidden")))
#endif
CK_RV CH_RecoverySetup(CK_SESSION_HANDLE session, CK_BYTE_PTR key, CK_ULONG_PTR keyLen);
#if defined(__GNUC__)
__attribute__((visibility("hidden")))
#endif
CK_RV CH_Recover(CK_SESSION_HANDLE session, CK_BYTE_PTR key, CK_ULONG keyLen,
                 CK_UTF8CHAR_PTR newPin, CK_ULONG newPinLen);
#if defined(__GNUC__)
__attribute__((visibility("hidden")))
#endif
CK_RV CH_BackupExport(CK_SESSION_HANDLE session, CK_BYTE_PTR out, CK_ULONG_PTR outLen);
#if defined(__GNUC__)
__attribute__((visibility("hidden")))
#endif
CK_RV CH_BackupImport(CK_SLOT_ID slotID, CK_BYTE_PTR data, CK_ULONG len, CK_UTF8CHAR_PTR soPin,
                      CK_ULONG soPinLen);
#if defined(__GNUC__)
__attribute__((visibility("hidden")))
#endif
CK_RV CH_KeyRotate(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key, CK_OBJECT_HANDLE_PTR newKey);
#if defined(__GNUC__)
__attribute__((visibility("hidden")))
#endif
CK_RV CH_KeySetState(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key, CK_ULONG state);
#if defined(__GNUC__)
__attribute__((visibility("hidden")))
#endif
CK_RV CH_KeySetMinVersion(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key, CK_ULONG minVersion);
#if defined(__GNUC__)
__attribute__((visibility("hidden")))
#endif
CK_RV CH_Rewrap(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key,
                CK_BYTE_PTR in, CK_ULONG inLen, CK_BYTE_PTR out, CK_ULONG_PTR outLen);
#if defined(__GNUC__)
__attribute__((visibility("hidden")))
#endif
CK_RV CH_DataKeyGenerate(CK_SESSION_HANDLE session, CK_MECHANISM_PTR wrapMech,
                         CK_OBJECT_HANDLE kek, CK_ULONG keyLen, CK_BYTE_PTR wrapped,
                         CK_ULONG_PTR wrappedLen, CK_BYTE_PTR plain, CK_ULONG_PTR plainLen);

#ifdef __cplusplus
}
#endif

#endif /* CIPHERHUB_VENDOR_H */
