/*
 * Cryptographic functions (PKCS#11 3.0 sections 5.8 encryption, 5.10
 * decryption, 5.12 message digesting, 5.13 signing, 5.15 verification, 5.18
 * key management, 5.19 random numbers).
 *
 * All of them share four shapes -- init, one-shot, update, final -- so each
 * entry point is one line over the four helpers below, which check the
 * arguments and hand over to the backend.
 */
#include "log.h"
#include "module.h"

static CK_RV op_init(CK_SESSION_HANDLE h, ch_op_kind kind, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(h, s);
	if (m == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = s->slot->ops->op_init(s, kind, m, key);
	ch_session_put(s);
	return rv;
}

static CK_RV op_oneshot(CK_SESSION_HANDLE h, ch_op_kind kind, CK_BYTE_PTR in, CK_ULONG in_len,
                        CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(h, s);
	if (!CH_DATA_OK(in, in_len) || out_len == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = s->slot->ops->op_oneshot(s, kind, in, in_len, out, out_len);
	ch_session_put(s);
	return rv;
}

/* out and out_len are NULL for the kinds that produce nothing per part. */
static CK_RV op_update(CK_SESSION_HANDLE h, ch_op_kind kind, CK_BYTE_PTR in, CK_ULONG in_len,
                       CK_BYTE_PTR out, CK_ULONG_PTR out_len, bool has_output)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(h, s);
	if (!CH_DATA_OK(in, in_len) || (has_output && out_len == NULL))
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = s->slot->ops->op_update(s, kind, in, in_len, out, out_len);
	ch_session_put(s);
	return rv;
}

static CK_RV op_final(CK_SESSION_HANDLE h, ch_op_kind kind, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(h, s);
	if (out_len == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = s->slot->ops->op_final(s, kind, out, out_len);
	ch_session_put(s);
	return rv;
}

/* 5.8 Encryption. */
CK_RV C_EncryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
	return op_init(hSession, CH_OP_ENCRYPT, pMechanism, hKey);
}

CK_RV C_Encrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                CK_BYTE_PTR pEncryptedData, CK_ULONG_PTR pulEncryptedDataLen)
{
	return op_oneshot(hSession, CH_OP_ENCRYPT, pData, ulDataLen, pEncryptedData,
	                  pulEncryptedDataLen);
}

CK_RV C_EncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
                      CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen)
{
	return op_update(hSession, CH_OP_ENCRYPT, pPart, ulPartLen, pEncryptedPart,
	                 pulEncryptedPartLen, true);
}

CK_RV C_EncryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastEncryptedPart,
                     CK_ULONG_PTR pulLastEncryptedPartLen)
{
	return op_final(hSession, CH_OP_ENCRYPT, pLastEncryptedPart, pulLastEncryptedPartLen);
}

/* 5.10 Decryption. */
CK_RV C_DecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
	return op_init(hSession, CH_OP_DECRYPT, pMechanism, hKey);
}

CK_RV C_Decrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedData, CK_ULONG ulEncryptedDataLen,
                CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen)
{
	return op_oneshot(hSession, CH_OP_DECRYPT, pEncryptedData, ulEncryptedDataLen, pData,
	                  pulDataLen);
}

CK_RV C_DecryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
                      CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen)
{
	return op_update(hSession, CH_OP_DECRYPT, pEncryptedPart, ulEncryptedPartLen, pPart,
	                 pulPartLen, true);
}

CK_RV C_DecryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastPart, CK_ULONG_PTR pulLastPartLen)
{
	return op_final(hSession, CH_OP_DECRYPT, pLastPart, pulLastPartLen);
}

/* 5.12 Message digesting. */
CK_RV C_DigestInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism)
{
	return op_init(hSession, CH_OP_DIGEST, pMechanism, CK_INVALID_HANDLE);
}

CK_RV C_Digest(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
               CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen)
{
	return op_oneshot(hSession, CH_OP_DIGEST, pData, ulDataLen, pDigest, pulDigestLen);
}

CK_RV C_DigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
	return op_update(hSession, CH_OP_DIGEST, pPart, ulPartLen, NULL, NULL, false);
}

CK_RV C_DigestFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen)
{
	return op_final(hSession, CH_OP_DIGEST, pDigest, pulDigestLen);
}

CK_RV C_DigestKey(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hKey)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(hSession, s);
	rv = s->slot->ops->digest_key(s, hKey);
	ch_session_put(s);
	return rv;
}

/* 5.13 Signing and MACing. */
CK_RV C_SignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
	return op_init(hSession, CH_OP_SIGN, pMechanism, hKey);
}

CK_RV C_Sign(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
             CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
	return op_oneshot(hSession, CH_OP_SIGN, pData, ulDataLen, pSignature, pulSignatureLen);
}

CK_RV C_SignUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
	return op_update(hSession, CH_OP_SIGN, pPart, ulPartLen, NULL, NULL, false);
}

CK_RV C_SignFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
	return op_final(hSession, CH_OP_SIGN, pSignature, pulSignatureLen);
}

/* 5.15 Verifying signatures and MACs. */
CK_RV C_VerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
	return op_init(hSession, CH_OP_VERIFY, pMechanism, hKey);
}

CK_RV C_Verify(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
               CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(hSession, s);
	if (!CH_DATA_OK(pData, ulDataLen) || pSignature == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = s->slot->ops->op_verify(s, pData, ulDataLen, pSignature, ulSignatureLen);
	ch_session_put(s);
	return rv;
}

CK_RV C_VerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
	return op_update(hSession, CH_OP_VERIFY, pPart, ulPartLen, NULL, NULL, false);
}

CK_RV C_VerifyFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(hSession, s);
	if (pSignature == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = s->slot->ops->op_verify_final(s, pSignature, ulSignatureLen);
	ch_session_put(s);
	return rv;
}

/* 5.18 Key management. */
CK_RV C_GenerateKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phKey)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(hSession, s);
	if (pMechanism == NULL || !CH_DATA_OK(pTemplate, ulCount) || phKey == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = s->slot->ops->generate_key(s, pMechanism, pTemplate, ulCount, phKey);
	ch_session_put(s);
	return rv;
}

CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                        CK_ATTRIBUTE_PTR pPublicKeyTemplate, CK_ULONG ulPublicKeyAttributeCount,
                        CK_ATTRIBUTE_PTR pPrivateKeyTemplate, CK_ULONG ulPrivateKeyAttributeCount,
                        CK_OBJECT_HANDLE_PTR phPublicKey, CK_OBJECT_HANDLE_PTR phPrivateKey)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(hSession, s);
	if (pMechanism == NULL || !CH_DATA_OK(pPublicKeyTemplate, ulPublicKeyAttributeCount) ||
	    !CH_DATA_OK(pPrivateKeyTemplate, ulPrivateKeyAttributeCount) || phPublicKey == NULL ||
	    phPrivateKey == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = s->slot->ops->generate_key_pair(
		        s, pMechanism, pPublicKeyTemplate, ulPublicKeyAttributeCount,
		        pPrivateKeyTemplate, ulPrivateKeyAttributeCount, phPublicKey, phPrivateKey);
	ch_session_put(s);
	return rv;
}

CK_RV C_WrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                CK_OBJECT_HANDLE hWrappingKey, CK_OBJECT_HANDLE hKey, CK_BYTE_PTR pWrappedKey,
                CK_ULONG_PTR pulWrappedKeyLen)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(hSession, s);
	if (pMechanism == NULL || pulWrappedKeyLen == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = s->slot->ops->wrap_key(s, pMechanism, hWrappingKey, hKey, pWrappedKey,
		                            pulWrappedKeyLen);
	ch_session_put(s);
	return rv;
}

CK_RV C_UnwrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                  CK_OBJECT_HANDLE hUnwrappingKey, CK_BYTE_PTR pWrappedKey,
                  CK_ULONG ulWrappedKeyLen, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulAttributeCount,
                  CK_OBJECT_HANDLE_PTR phKey)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(hSession, s);
	if (pMechanism == NULL || !CH_DATA_OK(pWrappedKey, ulWrappedKeyLen) ||
	    !CH_DATA_OK(pTemplate, ulAttributeCount) || phKey == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = s->slot->ops->unwrap_key(s, pMechanism, hUnwrappingKey, pWrappedKey,
		                              ulWrappedKeyLen, pTemplate, ulAttributeCount, phKey);
	ch_session_put(s);
	return rv;
}

CK_RV C_DeriveKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                  CK_OBJECT_HANDLE hBaseKey, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulAttributeCount,
                  CK_OBJECT_HANDLE_PTR phKey)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(hSession, s);
	if (pMechanism == NULL || !CH_DATA_OK(pTemplate, ulAttributeCount) || phKey == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = s->slot->ops->derive_key(s, pMechanism, hBaseKey, pTemplate, ulAttributeCount,
		                              phKey);
	ch_session_put(s);
	return rv;
}

/* 5.19 Random number generation. */
CK_RV C_SeedRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen)
{
	ch_session *s;

	CH_SESSION_ENTER(hSession, s);
	ch_session_put(s);
	/* OpenSSL's DRBG seeds itself from the OS; outside seeds are refused. */
	return pSeed == NULL && ulSeedLen != 0 ? CKR_ARGUMENTS_BAD : CKR_RANDOM_SEED_NOT_SUPPORTED;
}

CK_RV C_GenerateRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR RandomData, CK_ULONG ulRandomLen)
{
	ch_session *s;
	CK_RV rv;

	CH_SESSION_ENTER(hSession, s);
	if (!CH_DATA_OK(RandomData, ulRandomLen))
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = s->slot->ops->random(s, RandomData, ulRandomLen);
	ch_session_put(s);
	return rv;
}
