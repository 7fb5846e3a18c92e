/*
 * The module's front door: the only three symbols cipherhub-pkcs11.so
 * exports (C_GetFunctionList, C_GetInterfaceList, C_GetInterface), and the
 * function tables they hand out.
 *
 * An application that loads the module finds everything else through these
 * tables, so the tables reference every C_* function of the module: the
 * implemented ones (general.c, slot.c, session.c, object.c, crypto.c) and
 * the stubs (unsupported.c).  The tables are built from the function lists
 * in cipherhub/pkcs11.h, so a function missing from the module is a link
 * error, not a NULL pointer an application trips over.
 *
 * Interfaces offered, in order (the first is the default):
 *
 *	"PKCS 11"     3.0   CK_FUNCTION_LIST_3_0
 *	"PKCS 11"     2.40  CK_FUNCTION_LIST (also what C_GetFunctionList gives)
 *	"Cipher Hub"  1.2   CH_FUNCTION_LIST (cipherhub/vendor.h)
 *
 * None has CKF_INTERFACE_FORK_SAFE: a forked child must call C_Initialize
 * again before using any of them (general.c detects the fork).
 *
 * These three functions need no C_Initialize and touch no module state: they
 * only read constant tables, so they are safe from any thread at any time.
 * Linking: src/cipherhub.map keeps every other symbol local.
 */
#include <string.h>

#include "cipherhub/pkcs11.h"
#include "cipherhub/vendor.h"

#define CH_EXPORT __attribute__((visibility("default")))

/* clang-format off */

/* "PKCS 11" 3.0: the 2.40 functions, then the 3.0 ones. */
static const CK_FUNCTION_LIST_3_0 function_list_3_0 = {
	.version = {3, 0},
#define CH_TABLE_ENTRY_(name, params) .name = name,
	CK_FUNCTIONS_2_40(CH_TABLE_ENTRY_)
	CK_FUNCTIONS_3_0(CH_TABLE_ENTRY_)
};

/* "PKCS 11" 2.40, for applications that predate 3.0. */
static const CK_FUNCTION_LIST function_list_2_40 = {
	.version = {2, 40},
	CK_FUNCTIONS_2_40(CH_TABLE_ENTRY_)
#undef CH_TABLE_ENTRY_
};

/* "Cipher Hub" 1.3: operations PKCS#11 has no call for. */
static const CH_FUNCTION_LIST function_list_vendor = {
	.version = {CH_INTERFACE_VERSION_MAJOR, CH_INTERFACE_VERSION_MINOR},
	.CH_GetRegistrationInfo = CH_GetRegistrationInfo,
	.CH_ParticipantAdd = CH_ParticipantAdd,
	.CH_ParticipantRemove = CH_ParticipantRemove,
	.CH_ParticipantList = CH_ParticipantList,
	.CH_ParticipantSetRoles = CH_ParticipantSetRoles,
	.CH_ParticipantUnlock = CH_ParticipantUnlock,
	.CH_GrantSet = CH_GrantSet,
	.CH_GrantList = CH_GrantList,
	.CH_AuditRead = CH_AuditRead,
	.CH_AuditVerify = CH_AuditVerify,
	.CH_RecoverySetup = CH_RecoverySetup,
	.CH_Recover = CH_Recover,
	.CH_BackupExport = CH_BackupExport,
	.CH_BackupImport = CH_BackupImport,
	.CH_KeyRotate = CH_KeyRotate,
	.CH_KeySetState = CH_KeySetState,
	.CH_KeySetMinVersion = CH_KeySetMinVersion,
	.CH_Rewrap = CH_Rewrap,
	.CH_DataKeyGenerate = CH_DataKeyGenerate,
};

/*
 * CK_INTERFACE has non-const members (the spec's types), but the tables are
 * constant and live in read-only memory after relocation: an application that
 * writes through these pointers faults instead of corrupting the module.
 */
static const CK_INTERFACE interfaces[] = {
	{(CK_CHAR_PTR) "PKCS 11", (CK_VOID_PTR)&function_list_3_0, 0},
	{(CK_CHAR_PTR) "PKCS 11", (CK_VOID_PTR)&function_list_2_40, 0},
	{(CK_CHAR_PTR)CH_INTERFACE_NAME, (CK_VOID_PTR)&function_list_vendor, 0},
};

/* clang-format on */

#define N_INTERFACES (sizeof(interfaces) / sizeof(interfaces[0]))

/* The name C_GetInterface uses when the caller gives none (5.4). */
#define DEFAULT_INTERFACE_NAME "PKCS 11"

/* Every function table starts with its CK_VERSION (5.4, CK_INTERFACE). */
static const CK_VERSION *interface_version(const CK_INTERFACE *in)
{
	return (const CK_VERSION *)in->pFunctionList;
}

/* PKCS#11 3.0, 5.4 C_GetFunctionList: the 2.40 table. */
CH_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
	if (ppFunctionList == NULL)
		return CKR_ARGUMENTS_BAD;
	*ppFunctionList = (CK_FUNCTION_LIST_PTR)&function_list_2_40;
	return CKR_OK;
}

/* PKCS#11 3.0, 5.4 C_GetInterfaceList: copies every interface, with the
 * two-call convention of 5.2 (NULL list: count only; short list:
 * CKR_BUFFER_TOO_SMALL and the count needed). */
CH_EXPORT CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount)
{
	CK_RV rv;

	if (pulCount == NULL)
		return CKR_ARGUMENTS_BAD;
	if (pInterfacesList == NULL) {
		rv = CKR_OK;
	} else if (*pulCount < N_INTERFACES) {
		rv = CKR_BUFFER_TOO_SMALL;
	} else {
		memcpy(pInterfacesList, interfaces, sizeof(interfaces));
		rv = CKR_OK;
	}
	*pulCount = N_INTERFACES;
	return rv;
}

/*
 * PKCS#11 3.0, 5.4 C_GetInterface: the first interface (in the order of
 * interfaces[]) whose name is pInterfaceName (NULL: the default name,
 * "PKCS 11"), whose version is *pVersion (NULL: any, so the newest), and
 * whose flags include every bit of flags.  No match is CKR_ARGUMENTS_BAD:
 * the caller asked for something this module does not offer.
 */
CH_EXPORT CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
                               CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags)
{
	const char *name = pInterfaceName ? (const char *)pInterfaceName : DEFAULT_INTERFACE_NAME;
	CK_RV rv = CKR_ARGUMENTS_BAD;
	size_t i;

	if (ppInterface == NULL)
		return CKR_ARGUMENTS_BAD;
	*ppInterface = NULL;
	for (i = 0; i < N_INTERFACES && rv != CKR_OK; i++) {
		const CK_INTERFACE *in = &interfaces[i];
		const CK_VERSION *v = interface_version(in);

		if (strcmp(name, (const char *)in->pInterfaceName) != 0)
			continue;
		if (pVersion != NULL &&
		    (pVersion->major != v->major || pVersion->minor != v->minor))
			continue;
		if ((in->flags & flags) != flags)
			continue;
		*ppInterface = (CK_INTERFACE_PTR)in;
		rv = CKR_OK;
	}
	return rv;
}
