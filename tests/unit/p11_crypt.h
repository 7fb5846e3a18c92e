/*
 * Helpers for tests that run ciphers and MACs through the module's PKCS#11
 * functions (module.h must come first): a secret key from known bytes with
 * C_CreateObject, and whole encrypt / decrypt / sign / verify operations,
 * single-part and multi-part, each call preceded by a length query so that
 * the buffer convention is exercised on every vector.
 *
 * Outputs are malloc'd (the caller frees them); every helper returns the
 * first failing call's code, and the operation has ended whenever one
 * returns (a failed call ends it, a finished one too).
 */
#ifndef CH_TESTS_P11_CRYPT_H
#define CH_TESTS_P11_CRYPT_H

#include <stdlib.h>
#include <string.h>

#include "module.h"

/* Usage flags for ch_t_secret. */
#define CH_T_ENC  0x1u
#define CH_T_DEC  0x2u
#define CH_T_SIGN 0x4u
#define CH_T_VER  0x8u
#define CH_T_WRAP 0x10u /* CKA_WRAP and CKA_UNWRAP */

/* A session secret key of type kt with CKA_VALUE v and the usages asked
 * for (the others FALSE). */
static inline CK_RV ch_t_secret(CK_SESSION_HANDLE h, CK_KEY_TYPE kt, const CK_BYTE *v, CK_ULONG len,
                                unsigned use, CK_OBJECT_HANDLE *o)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),
		CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_BOOL(CKA_TOKEN, false),
		CH_T_BOOL(CKA_ENCRYPT, use & CH_T_ENC),
		CH_T_BOOL(CKA_DECRYPT, use & CH_T_DEC),
		CH_T_BOOL(CKA_SIGN, use & CH_T_SIGN),
		CH_T_BOOL(CKA_VERIFY, use & CH_T_VER),
		CH_T_BOOL(CKA_WRAP, use & CH_T_WRAP),
		CH_T_BOOL(CKA_UNWRAP, use & CH_T_WRAP),
		CH_T_ATTR(CKA_VALUE, v, len),
	};

	return P11->C_CreateObject(h, t, CH_T_ARRAY_LEN(t), o);
}

/* C_UnwrapKey of in under kek into a session CKK_GENERIC_SECRET that may
 * be read back; *out (malloc'd) gets its CKA_VALUE. */
static inline CK_RV ch_t_unwrap_secret(CK_SESSION_HANDLE h, CK_MECHANISM *m, CK_OBJECT_HANDLE kek,
                                       const CK_BYTE *in, CK_ULONG in_len, CK_BYTE **out,
                                       CK_ULONG *out_len)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),      CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_BOOL(CKA_TOKEN, false),      CH_T_BOOL(CKA_SENSITIVE, false),
		CH_T_BOOL(CKA_EXTRACTABLE, true),
	};
	CK_OBJECT_HANDLE o = CK_INVALID_HANDLE;
	CK_ATTRIBUTE v = { CKA_VALUE, NULL, 0 };
	CK_RV rv;

	*out = NULL;
	*out_len = 0;
	rv = P11->C_UnwrapKey(h, m, kek, (CK_BYTE_PTR)in, in_len, t, CH_T_ARRAY_LEN(t), &o);
	if (rv != CKR_OK)
		return rv;
	if ((rv = P11->C_GetAttributeValue(h, o, &v, 1)) == CKR_OK) {
		if ((*out = malloc(v.ulValueLen + 1)) == NULL) {
			rv = CKR_HOST_MEMORY;
		} else {
			v.pValue = *out;
			rv = P11->C_GetAttributeValue(h, o, &v, 1);
			*out_len = v.ulValueLen;
		}
	}
	(void)P11->C_DestroyObject(h, o);
	return rv;
}

/* C_WrapKey of a session CKK_GENERIC_SECRET holding key under kek (length
 * query first); *out (malloc'd) gets the wrapped bytes. */
static inline CK_RV ch_t_wrap_secret(CK_SESSION_HANDLE h, CK_MECHANISM *m, CK_OBJECT_HANDLE kek,
                                     const CK_BYTE *key, CK_ULONG key_len, CK_BYTE **out,
                                     CK_ULONG *out_len)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),        CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_BOOL(CKA_TOKEN, false),        CH_T_BOOL(CKA_EXTRACTABLE, true),
		CH_T_ATTR(CKA_VALUE, key, key_len),
	};
	CK_OBJECT_HANDLE o = CK_INVALID_HANDLE;
	CK_ULONG need = 0;
	CK_RV rv;

	*out = NULL;
	*out_len = 0;
	if ((rv = P11->C_CreateObject(h, t, CH_T_ARRAY_LEN(t), &o)) != CKR_OK)
		return rv;
	if ((rv = P11->C_WrapKey(h, m, kek, o, NULL, &need)) == CKR_OK) {
		if ((*out = malloc(need + 1)) == NULL) {
			rv = CKR_HOST_MEMORY;
		} else {
			*out_len = need;
			rv = P11->C_WrapKey(h, m, kek, o, *out, out_len);
		}
	}
	(void)P11->C_DestroyObject(h, o);
	return rv;
}

/* Grows *buf (capacity *cap) to hold at least need bytes. */
static inline bool ch_t_reserve(CK_BYTE **buf, size_t *cap, size_t need)
{
	CK_BYTE *nb;

	if (need <= *cap)
		return true;
	if ((nb = realloc(*buf, need)) == NULL)
		return false;
	*buf = nb;
	*cap = need;
	return true;
}

/* C_EncryptInit/C_DecryptInit, then C_Encrypt/C_Decrypt: first a length
 * query, then the call with a buffer of exactly the queried size.  *out
 * gets a malloc'd result of *out_len bytes. */
static inline CK_RV ch_t_crypt(CK_SESSION_HANDLE h, bool enc, CK_MECHANISM *m, CK_OBJECT_HANDLE k,
                               const CK_BYTE *in, CK_ULONG in_len, CK_BYTE **out, CK_ULONG *out_len)
{
	CK_ULONG need = 0;
	CK_RV rv;

	*out = NULL;
	*out_len = 0;
	rv = enc ? P11->C_EncryptInit(h, m, k) : P11->C_DecryptInit(h, m, k);
	if (rv != CKR_OK)
		return rv;
	rv = enc ? P11->C_Encrypt(h, (CK_BYTE_PTR)in, in_len, NULL, &need)
	         : P11->C_Decrypt(h, (CK_BYTE_PTR)in, in_len, NULL, &need);
	if (rv != CKR_OK)
		return rv;
	if ((*out = malloc(need + 1)) == NULL)
		return CKR_HOST_MEMORY; /* the operation stays open: the test fails anyway */
	*out_len = need;
	return enc ? P11->C_Encrypt(h, (CK_BYTE_PTR)in, in_len, *out, out_len)
	           : P11->C_Decrypt(h, (CK_BYTE_PTR)in, in_len, *out, out_len);
}

/* The same as updates of chunk bytes and a final call, each after a
 * length query; the outputs concatenated. */
static inline CK_RV ch_t_crypt_parts(CK_SESSION_HANDLE h, bool enc, CK_MECHANISM *m,
                                     CK_OBJECT_HANDLE k, const CK_BYTE *in, CK_ULONG in_len,
                                     size_t chunk, CK_BYTE **out, CK_ULONG *out_len)
{
	CK_ULONG done = 0, n, need;
	size_t cap = 0, got = 0;
	CK_RV rv;

	*out = NULL;
	*out_len = 0;
	rv = enc ? P11->C_EncryptInit(h, m, k) : P11->C_DecryptInit(h, m, k);
	if (rv != CKR_OK)
		return rv;
	do {
		n = in_len - done < chunk ? in_len - done : chunk;
		need = 0;
		rv = enc ? P11->C_EncryptUpdate(h, (CK_BYTE_PTR)in + done, n, NULL, &need)
		         : P11->C_DecryptUpdate(h, (CK_BYTE_PTR)in + done, n, NULL, &need);
		if (rv != CKR_OK)
			return rv;
		if (!ch_t_reserve(out, &cap, got + need + 1))
			return CKR_HOST_MEMORY;
		rv = enc ? P11->C_EncryptUpdate(h, (CK_BYTE_PTR)in + done, n, *out + got, &need)
		         : P11->C_DecryptUpdate(h, (CK_BYTE_PTR)in + done, n, *out + got, &need);
		if (rv != CKR_OK)
			return rv;
		got += need;
		done += n;
	} while (done < in_len);
	need = 0;
	rv = enc ? P11->C_EncryptFinal(h, NULL, &need) : P11->C_DecryptFinal(h, NULL, &need);
	if (rv != CKR_OK)
		return rv;
	if (!ch_t_reserve(out, &cap, got + need + 1))
		return CKR_HOST_MEMORY;
	rv = enc ? P11->C_EncryptFinal(h, *out + got, &need)
	         : P11->C_DecryptFinal(h, *out + got, &need);
	if (rv != CKR_OK)
		return rv;
	*out_len = got + need;
	return CKR_OK;
}

/* C_SignInit and C_Sign (length query first), or with chunk > 0
 * C_SignUpdate in chunks and C_SignFinal.  sig has room for 64 bytes. */
static inline CK_RV ch_t_sign(CK_SESSION_HANDLE h, CK_MECHANISM *m, CK_OBJECT_HANDLE k,
                              const CK_BYTE *in, CK_ULONG in_len, size_t chunk, CK_BYTE *sig,
                              CK_ULONG *sig_len)
{
	CK_ULONG done = 0, n, need = 0;
	CK_RV rv;

	if ((rv = P11->C_SignInit(h, m, k)) != CKR_OK)
		return rv;
	if (chunk == 0) {
		if ((rv = P11->C_Sign(h, (CK_BYTE_PTR)in, in_len, NULL, &need)) != CKR_OK)
			return rv;
		*sig_len = need;
		return P11->C_Sign(h, (CK_BYTE_PTR)in, in_len, sig, sig_len);
	}
	while (done < in_len) {
		n = in_len - done < chunk ? in_len - done : chunk;
		if ((rv = P11->C_SignUpdate(h, (CK_BYTE_PTR)in + done, n)) != CKR_OK)
			return rv;
		done += n;
	}
	if ((rv = P11->C_SignFinal(h, NULL, &need)) != CKR_OK)
		return rv;
	*sig_len = need;
	return P11->C_SignFinal(h, sig, sig_len);
}

/* C_VerifyInit and C_Verify, or with chunk > 0 C_VerifyUpdate in chunks
 * and C_VerifyFinal. */
static inline CK_RV ch_t_verify(CK_SESSION_HANDLE h, CK_MECHANISM *m, CK_OBJECT_HANDLE k,
                                const CK_BYTE *in, CK_ULONG in_len, size_t chunk,
                                const CK_BYTE *sig, CK_ULONG sig_len)
{
	CK_ULONG done = 0, n;
	CK_RV rv;

	if ((rv = P11->C_VerifyInit(h, m, k)) != CKR_OK)
		return rv;
	if (chunk == 0)
		return P11->C_Verify(h, (CK_BYTE_PTR)in, in_len, (CK_BYTE_PTR)sig, sig_len);
	while (done < in_len) {
		n = in_len - done < chunk ? in_len - done : chunk;
		if ((rv = P11->C_VerifyUpdate(h, (CK_BYTE_PTR)in + done, n)) != CKR_OK)
			return rv;
		done += n;
	}
	return P11->C_VerifyFinal(h, (CK_BYTE_PTR)sig, sig_len);
}

/* True when got (got_len bytes) is exactly want. */
static inline bool ch_t_same(const CK_BYTE *got, CK_ULONG got_len, const CK_BYTE *want,
                             size_t want_len)
{
	return got_len == want_len && (want_len == 0 || memcmp(got, want, want_len) == 0);
}

#endif
