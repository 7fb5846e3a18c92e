/*
 * The PKCS#11 functions Cipher Hub does not implement.  The spec (3.0
 * section 5.1) requires every function to exist: an unsupported one is a
 * stub returning CKR_FUNCTION_NOT_SUPPORTED, which the function tables in
 * entry.c point to like any other.  Keeping them all here makes the list of
 * what the module does not do one file long, and moving a function out of
 * this file is how it becomes supported.
 *
 * The stubs answer the same at any time, initialized or not: they touch no
 * module state and never look at their arguments.
 *
 * The list (quoted by the README):
 *
 *   returning CKR_FUNCTION_NOT_SUPPORTED
 *     5.5  Slot and token       C_WaitForSlotEvent
 *     5.6  Sessions             C_GetOperationState, C_SetOperationState,
 *                               C_SessionCancel
 *     5.13 Signing              C_SignRecoverInit, C_SignRecover
 *     5.14 Message signing      C_MessageSignInit, C_SignMessage,
 *                               C_SignMessageBegin, C_SignMessageNext,
 *                               C_MessageSignFinal
 *     5.15 Verifying            C_VerifyRecoverInit, C_VerifyRecover
 *     5.16 Message verifying    C_MessageVerifyInit, C_VerifyMessage,
 *                               C_VerifyMessageBegin, C_VerifyMessageNext,
 *                               C_MessageVerifyFinal
 *     5.17 Dual-function        C_DigestEncryptUpdate, C_DecryptDigestUpdate,
 *                               C_SignEncryptUpdate, C_DecryptVerifyUpdate
 *
 *   returning CKR_FUNCTION_NOT_PARALLEL (legacy functions, which the spec
 *   says should always answer that)
 *     5.20 Parallel functions   C_GetFunctionStatus, C_CancelFunction
 *
 * Section numbers are those of the PKCS#11 3.0 base specification.
 */
#include "cipherhub/pkcs11.h"

/* A stub has parameters only because its prototype does. */
#pragma GCC diagnostic ignored "-Wunused-parameter"

/* ---- 5.5 Slot and token management ---- */

/* PKCS#11 3.0, 5.5 C_WaitForSlotEvent.  Slots appear when C_InitToken
 * creates a registration; there is no event to wait for. */
CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved)
{
	return CKR_FUNCTION_NOT_SUPPORTED;
}

/* ---- 5.6 Session management ---- */

/* PKCS#11 3.0, 5.6 C_GetOperationState.  Exporting an operation's state
 * would hand out key schedules and partial plaintext. */
CK_RV C_GetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                          CK_ULONG_PTR pulOperationStateLen)
{
	return CKR_FUNCTION_NOT_SUPPORTED;
}

/* PKCS#11 3.0, 5.6 C_SetOperationState. */
CK_RV C_SetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                          CK_ULONG ulOperationStateLen, CK_OBJECT_HANDLE hEncryptionKey,
                          CK_OBJECT_HANDLE hAuthenticationKey)
{
	return CKR_FUNCTION_NOT_SUPPORTED;
}

/* PKCS#11 3.0, 5.6 C_SessionCancel. */
CK_RV C_SessionCancel(CK_SESSION_HANDLE hSession, CK_FLAGS flags)
{
	return CKR_FUNCTION_NOT_SUPPORTED;
}

/* ---- 5.13 Signing and MACing ---- */

/* PKCS#11 3.0, 5.13 C_SignRecoverInit. */
CK_RV C_SignRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                        CK_OBJECT_HANDLE hKey)
{
	return CKR_FUNCTION_NOT_SUPPORTED;
}

/* PKCS#11 3.0, 5.13 C_SignRecover. */
CK_RV C_SignRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                    CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
	return CKR_FUNCTION_NOT_SUPPORTED;
}

/* ---- 5.14 Message-based signing and MACing ---- */

/* PKCS#11 3.0, 5.14 C_MessageSignInit. */
CK_RV C_MessageSignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                        CK_OBJECT_HANDLE hKey)
{
	return CKR_FUNCTION_NOT_SUPPORTED;
}

/* PKCS#11 3.0, 5.14 C_SignMessage. */
CK_RV C_SignMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                    CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
                    CK_ULONG_PTR pulSignatureLen)
{
	return CKR_FUNCTION_NOT_SUPPORTED;
}

/* PKCS#11 3.0, 5.14 C_SignMessageBegin. */
CK_RV C_SignMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                         CK_ULONG ulParameterLen)
{
	return CKR_FUNCTION_NOT_SUPPORTED;
}

/* PKCS#11 3.0, 5.14 C_SignMessageNext. */
CK_RV C_SignMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                        CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
                        CK_ULONG_PTR pulSignatureLen)
{
	return CKR_FUNCTION_NOT_SUPPORTED;
}

/* PKCS#11 3.0, 5.14 C_MessageSignFinal. */
CK_RV C_MessageSignFinal(CK_SESSION_HANDLE hSession)
{
	return CKR_FUNCTION_NOT_SUPPORTED;
}

/* ---- 5.15 Verifying signatures and MACs ---- */

/* PKCS#11 3.0, 5.15 C_VerifyRecoverInit. */
CK_RV C_VerifyRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                          CK_OBJECT_HANDLE hKey)
{
	return CKR_FUNCTION_NOT_SUPPORTED;
}

/* PKCS#11 3.0, 5.15 C_VerifyRecover. */
CK_RV C_VerifyRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen,
                      CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen)
{
	return CKR_FUNCTION_NOT_SUPPORTED;
}

/* ---- 5.16 Message-based verification ---- */

/* PKCS#11 3.0, 5.16 C_MessageVerifyInit. */
CK_RV C_MessageVerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                          CK_OBJECT_HANDLE hKey)
{
	return CKR_FUNCTION_NOT_SUPPORTED;
}

/* PKCS#11 3.0, 5.16 C_VerifyMessage. */
CK_RV C_VerifyMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                      CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
                      CK_ULONG ulSignatureLen)
{
	return CKR_FUNCTION_NOT_SUPPORTED;
}

/* PKCS#11 3.0, 5.16 C_VerifyMessageBegin. */
CK_RV C_VerifyMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                           CK_ULONG ulParameterLen)
{
	return CKR_FUNCTION_NOT_SUPPORTED;
}

/* PKCS#11 3.0, 5.16 C_VerifyMessageNext. */
CK_RV C_VerifyMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                          CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                          CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
	return CKR_FUNCTION_NOT_SUPPORTED;
}

/* PKCS#11 3.0, 5.16 C_MessageVerifyFinal. */
CK_RV C_MessageVerifyFinal(CK_SESSION_HANDLE hSession)
{
	return CKR_FUNCTION_NOT_SUPPORTED;
}

/* ---- 5.17 Dual-function cryptographic functions ---- */

/* PKCS#11 3.0, 5.17 C_DigestEncryptUpdate. */
CK_RV C_DigestEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
                            CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen)
{
	return CKR_FUNCTION_NOT_SUPPORTED;
}

/* PKCS#11 3.0, 5.17 C_DecryptDigestUpdate. */
CK_RV C_DecryptDigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
                            CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen)
{
	return CKR_FUNCTION_NOT_SUPPORTED;
}

/* PKCS#11 3.0, 5.17 C_SignEncryptUpdate. */
CK_RV C_SignEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
                          CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen)
{
	return CKR_FUNCTION_NOT_SUPPORTED;
}

/* PKCS#11 3.0, 5.17 C_DecryptVerifyUpdate. */
CK_RV C_DecryptVerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
                            CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen)
{
	return CKR_FUNCTION_NOT_SUPPORTED;
}

/* ---- 5.20 Parallel function management (legacy) ---- */

/* PKCS#11 3.0, 5.20 C_GetFunctionStatus: a legacy function that should
 * always return CKR_FUNCTION_NOT_PARALLEL. */
CK_RV C_GetFunctionStatus(CK_SESSION_HANDLE hSession)
{
	return CKR_FUNCTION_NOT_PARALLEL;
}

/* PKCS#11 3.0, 5.20 C_CancelFunction: likewise. */
CK_RV C_CancelFunction(CK_SESSION_HANDLE hSession)
{
	return CKR_FUNCTION_NOT_PARALLEL;
}
