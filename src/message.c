/*
 * Message-based encryption and decryption (PKCS#11 3.0 sections 5.9 and
 * 5.11): many messages under one key, each with its own parameter (IV or
 * nonce, tag), associated data and, with Begin/Next, parts.
 *
 * Each entry point checks its arguments and hands over to the backend; the
 * per-message parameter is the mechanism's own structure
 * (CK_GCM_MESSAGE_PARAMS ...), which only the token reads, so it passes
 * through as the caller's pointer: encryption writes the generated IV and
 * the tag into it.  The message-based signing functions (5.14, 5.16) stay
 * unsupported (unsupported.c).
 */
#include "log.h"
#include "module.h"

static CK_RV msg_init(CK_SESSION_HANDLE h, bool enc, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(h, s);
	if (m == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else if (s->slot->ops->msg_init == NULL) /* a backend without them */
		rv = CKR_FUNCTION_NOT_SUPPORTED;
	else
		rv = s->slot->ops->msg_init(s, enc, m, key);
	ch_session_put(s);
	return rv;
}

static CK_RV msg_one(CK_SESSION_HANDLE h, bool enc, CK_VOID_PTR param, CK_ULONG plen,
                     CK_BYTE_PTR aad, CK_ULONG aad_len, CK_BYTE_PTR in, CK_ULONG in_len,
                     CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(h, s);
	if (param == NULL || !CH_DATA_OK(aad, aad_len) || !CH_DATA_OK(in, in_len) ||
	    out_len == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else if (s->slot->ops->msg_init == NULL) /* a backend without them */
		rv = CKR_FUNCTION_NOT_SUPPORTED;
	else
		rv = s->slot->ops->msg_one(s, enc, param, plen, aad, aad_len, in, in_len, out,
		                           out_len);
	ch_session_put(s);
	return rv;
}

static CK_RV msg_begin(CK_SESSION_HANDLE h, bool enc, CK_VOID_PTR param, CK_ULONG plen,
                       CK_BYTE_PTR aad, CK_ULONG aad_len)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(h, s);
	if (param == NULL || !CH_DATA_OK(aad, aad_len))
		rv = CKR_ARGUMENTS_BAD;
	else if (s->slot->ops->msg_init == NULL) /* a backend without them */
		rv = CKR_FUNCTION_NOT_SUPPORTED;
	else
		rv = s->slot->ops->msg_begin(s, enc, param, plen, aad, aad_len);
	ch_session_put(s);
	return rv;
}

static CK_RV msg_next(CK_SESSION_HANDLE h, bool enc, CK_VOID_PTR param, CK_ULONG plen,
                      CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len,
                      CK_FLAGS flags)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(h, s);
	if (param == NULL || !CH_DATA_OK(in, in_len) || out_len == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else if (s->slot->ops->msg_init == NULL) /* a backend without them */
		rv = CKR_FUNCTION_NOT_SUPPORTED;
	else
		rv = s->slot->ops->msg_next(s, enc, param, plen, in, in_len, out, out_len, flags);
	ch_session_put(s);
	return rv;
}

static CK_RV msg_final(CK_SESSION_HANDLE h, bool enc)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(h, s);
	if (s->slot->ops->msg_init == NULL)
		rv = CKR_FUNCTION_NOT_SUPPORTED;
	else
		rv = s->slot->ops->msg_final(s, enc);
	ch_session_put(s);
	return rv;
}

/* 5.9 Message-based encryption. */
CK_RV C_MessageEncryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                           CK_OBJECT_HANDLE hKey)
{
	return msg_init(hSession, true, pMechanism, hKey);
}

CK_RV C_EncryptMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                       CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen,
                       CK_BYTE_PTR pPlaintext, CK_ULONG ulPlaintextLen, CK_BYTE_PTR pCiphertext,
                       CK_ULONG_PTR pulCiphertextLen)
{
	return msg_one(hSession, true, pParameter, ulParameterLen, pAssociatedData,
	               ulAssociatedDataLen, pPlaintext, ulPlaintextLen, pCiphertext,
	               pulCiphertextLen);
}

CK_RV C_EncryptMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                            CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
                            CK_ULONG ulAssociatedDataLen)
{
	return msg_begin(hSession, true, pParameter, ulParameterLen, pAssociatedData,
	                 ulAssociatedDataLen);
}

CK_RV C_EncryptMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                           CK_ULONG ulParameterLen, CK_BYTE_PTR pPlaintextPart,
                           CK_ULONG ulPlaintextPartLen, CK_BYTE_PTR pCiphertextPart,
                           CK_ULONG_PTR pulCiphertextPartLen, CK_FLAGS flags)
{
	return msg_next(hSession, true, pParameter, ulParameterLen, pPlaintextPart,
	                ulPlaintextPartLen, pCiphertextPart, pulCiphertextPartLen, flags);
}

CK_RV C_MessageEncryptFinal(CK_SESSION_HANDLE hSession)
{
	return msg_final(hSession, true);
}

/* 5.11 Message-based decryption. */
CK_RV C_MessageDecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                           CK_OBJECT_HANDLE hKey)
{
	return msg_init(hSession, false, pMechanism, hKey);
}

CK_RV C_DecryptMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                       CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen,
                       CK_BYTE_PTR pCiphertext, CK_ULONG ulCiphertextLen, CK_BYTE_PTR pPlaintext,
                       CK_ULONG_PTR pulPlaintextLen)
{
	return msg_one(hSession, false, pParameter, ulParameterLen, pAssociatedData,
	               ulAssociatedDataLen, pCiphertext, ulCiphertextLen, pPlaintext,
	               pulPlaintextLen);
}

CK_RV C_DecryptMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                            CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
                            CK_ULONG ulAssociatedDataLen)
{
	return msg_begin(hSession, false, pParameter, ulParameterLen, pAssociatedData,
	                 ulAssociatedDataLen);
}

CK_RV C_DecryptMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                           CK_ULONG ulParameterLen, CK_BYTE_PTR pCiphertextPart,
                           CK_ULONG ulCiphertextPartLen, CK_BYTE_PTR pPlaintextPart,
                           CK_ULONG_PTR pulPlaintextPartLen, CK_FLAGS flags)
{
	return msg_next(hSession, false, pParameter, ulParameterLen, pCiphertextPart,
	                ulCiphertextPartLen, pPlaintextPart, pulPlaintextPartLen, flags);
}

CK_RV C_MessageDecryptFinal(CK_SESSION_HANDLE hSession)
{
	return msg_final(hSession, false);
}
