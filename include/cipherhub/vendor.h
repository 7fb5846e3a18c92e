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
 * with the issue or design note that introduced it.  None yet.
 */

/* ---------------------------------------------------------------------- */
/* The vendor interface                                                   */
/* ---------------------------------------------------------------------- */

/* Name for C_GetInterface, and the version this header describes. */
#define CH_INTERFACE_NAME          "Cipher Hub"
#define CH_INTERFACE_VERSION_MAJOR 1
#define CH_INTERFACE_VERSION_MINOR 0

/* Facts about one registration (a slot's token), for the admin tool. */
typedef struct CH_REGISTRATION_INFO {
	CK_BYTE uuid[16];             /* the registration's stable identity */
	CK_UTF8CHAR name[32];         /* blank padded, = token label */
	CK_ULONG schemaVersion;       /* store schema version */
	CK_ULONG objectCount;         /* token objects in the registration */
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

/* The table C_GetInterface returns for CH_INTERFACE_NAME. */
typedef struct CH_FUNCTION_LIST {
	CK_VERSION version; /* CH_INTERFACE_VERSION_MAJOR.MINOR */
	CH_C_GetRegistrationInfo CH_GetRegistrationInfo;
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

#ifdef __cplusplus
}
#endif

#endif /* CIPHERHUB_VENDOR_H */
