/*
 * The forwarding backend's objects, operations and key management: each
 * call checks Cipher Hub's policy (roles, grants, key-role separation),
 * maps our handles to the backend's, passes the call to the backend session
 * and audits it in the registration's log.  See fwd.h.
 */
#include <stdlib.h>
#include <string.h>

#include "fwd.h"
#include "log.h"

/* Enters a call: the backend's table and session into fn and bh, or
 * returns the code to answer. */
#define FWD_ENTER(s, fn, bh)                                                                       \
	do {                                                                                       \
		CK_RV enter_rv_ = fwd_enter((s), &(fn), &(bh));                                    \
		if (enter_rv_ != CKR_OK)                                                           \
			return enter_rv_;                                                          \
	} while (0)

static fwd_slot *slot_of(ch_session *s)
{
	return s->slot->be;
}

/* The backend's handle of key ours, for the session's participant, who must
 * be allowed the operations in need.  Key handles answer
 * CKR_KEY_HANDLE_INVALID when unknown. */
static CK_RV key_of(ch_session *s, CK_OBJECT_HANDLE ours, CK_FLAGS need, CK_OBJECT_HANDLE *theirs)
{
	CK_RV rv;

	if ((rv = soft_may_use_keys(s)) != CKR_OK)
		return rv;
	if ((rv = fwd_handle_theirs(slot_of(s), ours, theirs)) != CKR_OK)
		return CKR_KEY_HANDLE_INVALID;
	/* A key the participant may not see is no key; one seen may still not
	 * be granted for this.  (Seeing is asked only when using is refused:
	 * one grant lookup on the way that works.) */
	rv = fwd_allowed(s, ours, need);
	if (rv == CKR_KEY_FUNCTION_NOT_PERMITTED && fwd_allowed(s, ours, 0) != CKR_OK)
		rv = CKR_KEY_HANDLE_INVALID;
	return rv == CKR_OBJECT_HANDLE_INVALID ? CKR_KEY_HANDLE_INVALID : rv;
}

/* The backend's handle of object ours as the session's participant sees it. */
static CK_RV object_of(ch_session *s, CK_OBJECT_HANDLE ours, CK_OBJECT_HANDLE *theirs)
{
	CK_RV rv;

	if ((rv = fwd_handle_theirs(slot_of(s), ours, theirs)) != CKR_OK)
		return rv;
	return fwd_allowed(s, ours, 0);
}

/* Creating, changing and destroying token objects is the operators' (as
 * for software registrations, where a token object needs a login to be
 * sealed); session objects are anyone's.  token: the object is (or is to
 * be) a token object. */
static CK_RV may_write(ch_session *s, bool token)
{
	if (!token)
		return CKR_OK;
	if (ch_session_user(s) != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;
	return ch_session_roles(s) & CH_ROLE_OPERATOR ? CKR_OK : CKR_ACTION_PROHIBITED;
}

/* Is backend object theirs a token object? */
static bool is_token(CK_FUNCTION_LIST *fn, CK_SESSION_HANDLE bh, CK_OBJECT_HANDLE theirs)
{
	CK_BBOOL tok = CK_FALSE;
	CK_ATTRIBUTE a = { CKA_TOKEN, &tok, sizeof(tok) };

	return fn->C_GetAttributeValue(bh, theirs, &a, 1) != CKR_OK || tok;
}

/* Key generation needs a logged-in participant with the operator role. */
static CK_RV may_make_keys(ch_session *s)
{
	if (ch_session_user(s) != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;
	return ch_session_roles(s) & CH_ROLE_OPERATOR ? CKR_OK : CKR_ACTION_PROHIBITED;
}

/* ---- key-role separation (object.h) on the backend's objects ---- */

typedef struct roles4 {
	CK_BBOOL wrap, decrypt, unwrap, encrypt;
} roles4;

static void roles_read(CK_FUNCTION_LIST *fn, CK_SESSION_HANDLE bh, CK_OBJECT_HANDLE h, roles4 *r)
{
	CK_ATTRIBUTE t[] = {
		{ CKA_WRAP, &r->wrap, sizeof(CK_BBOOL) },
		{ CKA_DECRYPT, &r->decrypt, sizeof(CK_BBOOL) },
		{ CKA_UNWRAP, &r->unwrap, sizeof(CK_BBOOL) },
		{ CKA_ENCRYPT, &r->encrypt, sizeof(CK_BBOOL) },
	};

	memset(r, 0, sizeof(*r));
	/* Attributes a class lacks read as invalid and stay false. */
	for (size_t i = 0; i < 4; i++)
		if (fn->C_GetAttributeValue(bh, h, &t[i], 1) != CKR_OK)
			*(CK_BBOOL *)t[i].pValue = CK_FALSE;
}

static void roles_apply(roles4 *r, const CK_ATTRIBUTE *t, CK_ULONG n)
{
	for (CK_ULONG i = 0; i < n; i++) {
		CK_BBOOL *dst = NULL;

		if (t[i].pValue == NULL || t[i].ulValueLen != sizeof(CK_BBOOL))
			continue;
		switch (t[i].type) {
		case CKA_WRAP:
			dst = &r->wrap;
			break;
		case CKA_DECRYPT:
			dst = &r->decrypt;
			break;
		case CKA_UNWRAP:
			dst = &r->unwrap;
			break;
		case CKA_ENCRYPT:
			dst = &r->encrypt;
			break;
		}
		if (dst != NULL)
			*dst = *(const CK_BBOOL *)t[i].pValue ? CK_TRUE : CK_FALSE;
	}
}

static bool roles_ok(const fwd_slot *fw, const roles4 *r)
{
	if ((r->wrap && r->decrypt) || (r->unwrap && r->encrypt))
		return fwd_legacy_key_roles((fwd_slot *)fw);
	return true;
}

/* A caller's template with the key-role attributes it leaves out filled in
 * so that a backend's defaults cannot give a key both roles of an attack:
 * CKA_WRAP and CKA_UNWRAP false unless asked for, and the decrypt (encrypt)
 * role false when wrapping (unwrapping) is asked for.  For a key pair, pub
 * and priv are the two templates (one of them NULL for a single key, which
 * then takes both sides' attributes).  Freed with free(). */
typedef struct tmpl {
	CK_ATTRIBUTE *t;
	CK_ULONG n;
} tmpl;

static const CK_BBOOL ck_false = CK_FALSE;

static int tmpl_flag(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type)
{
	for (CK_ULONG i = 0; i < n; i++)
		if (t[i].type == type && t[i].pValue != NULL && t[i].ulValueLen == sizeof(CK_BBOOL))
			return *(const CK_BBOOL *)t[i].pValue ? 1 : 0;
	return -1; /* not given */
}

static CK_RV tmpl_fill(tmpl *out, const CK_ATTRIBUTE *t, CK_ULONG n, const CK_ATTRIBUTE_TYPE *off,
                       size_t noff)
{
	if ((out->t = calloc(n + noff, sizeof(*out->t))) == NULL)
		return CKR_HOST_MEMORY;
	if (n > 0)
		memcpy(out->t, t, n * sizeof(*t));
	out->n = n;
	for (size_t i = 0; i < noff; i++)
		out->t[out->n++] = (CK_ATTRIBUTE){ off[i], (void *)&ck_false, sizeof(ck_false) };
	return CKR_OK;
}

/* The role attributes to add as false to a template whose own flags (and
 * its peer's, for a pair) are given. */
static size_t roles_off(int wrap, int unwrap, int encrypt, int decrypt, bool has_wrap,
                        bool has_unwrap, bool has_enc, bool has_dec, CK_ATTRIBUTE_TYPE off[4])
{
	size_t k = 0;

	if (has_wrap && wrap < 0)
		off[k++] = CKA_WRAP;
	if (has_unwrap && unwrap < 0)
		off[k++] = CKA_UNWRAP;
	if (has_dec && wrap == 1 && decrypt < 0)
		off[k++] = CKA_DECRYPT;
	if (has_enc && unwrap == 1 && encrypt < 0)
		off[k++] = CKA_ENCRYPT;
	return k;
}

/* For a secret key's template. */
static CK_RV tmpl_secret(tmpl *out, const CK_ATTRIBUTE *t, CK_ULONG n)
{
	CK_ATTRIBUTE_TYPE off[4];
	size_t k = roles_off(tmpl_flag(t, n, CKA_WRAP), tmpl_flag(t, n, CKA_UNWRAP),
	                     tmpl_flag(t, n, CKA_ENCRYPT), tmpl_flag(t, n, CKA_DECRYPT), true, true,
	                     true, true, off);

	return tmpl_fill(out, t, n, off, k);
}

/* For a key pair's two templates. */
static CK_RV tmpl_pair(tmpl *pub, tmpl *priv, const CK_ATTRIBUTE *pt, CK_ULONG pn,
                       const CK_ATTRIBUTE *vt, CK_ULONG vn)
{
	int wrap = tmpl_flag(pt, pn, CKA_WRAP), enc = tmpl_flag(pt, pn, CKA_ENCRYPT);
	int unwrap = tmpl_flag(vt, vn, CKA_UNWRAP), dec = tmpl_flag(vt, vn, CKA_DECRYPT);
	CK_ATTRIBUTE_TYPE off[4];
	size_t k;
	CK_RV rv;

	k = roles_off(wrap, unwrap, enc, dec, true, false, true, false, off);
	if ((rv = tmpl_fill(pub, pt, pn, off, k)) != CKR_OK)
		return rv;
	k = roles_off(wrap, unwrap, enc, dec, false, true, false, true, off);
	if ((rv = tmpl_fill(priv, vt, vn, off, k)) != CKR_OK)
		free(pub->t);
	return rv;
}

/* The class a creation template names, or CK_UNAVAILABLE_INFORMATION. */
static CK_OBJECT_CLASS tmpl_class(const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_CLASS def)
{
	for (CK_ULONG i = 0; i < n; i++)
		if (t[i].type == CKA_CLASS && t[i].pValue != NULL &&
		    t[i].ulValueLen == sizeof(CK_OBJECT_CLASS))
			return *(const CK_OBJECT_CLASS *)t[i].pValue;
	return def;
}

/* Does a creation template ask for a secret (issue 8: CKA_APPLICATION
 * CH_SECRET_APPLICATION, or CKA_CH_NEW_VERSION)?  Secrets live in a
 * software registration's store: a forwarded one holds none. */
static bool tmpl_is_secret(const CK_ATTRIBUTE *t, CK_ULONG n)
{
	for (CK_ULONG i = 0; i < n; i++) {
		if (t[i].type == CKA_CH_NEW_VERSION)
			return true;
		if (t[i].type == CKA_APPLICATION && t[i].pValue != NULL &&
		    t[i].ulValueLen == sizeof(CH_SECRET_APPLICATION) - 1 &&
		    memcmp(t[i].pValue, CH_SECRET_APPLICATION, t[i].ulValueLen) == 0)
			return true;
	}
	return false;
}

/* A new object (or pair) with both roles of an attack is destroyed again:
 * the backend's defaults decide what a template leaves out, so the check
 * runs on what the backend made. */
static CK_RV roles_check_new(ch_session *s, CK_FUNCTION_LIST *fn, CK_SESSION_HANDLE bh,
                             CK_OBJECT_HANDLE a, CK_OBJECT_HANDLE b)
{
	roles4 ra, rb;

	roles_read(fn, bh, a, &ra);
	if (b != CK_INVALID_HANDLE) {
		roles_read(fn, bh, b, &rb);
		ra.wrap |= rb.wrap;
		ra.decrypt |= rb.decrypt;
		ra.unwrap |= rb.unwrap;
		ra.encrypt |= rb.encrypt;
	}
	if (roles_ok(slot_of(s), &ra))
		return CKR_OK;
	(void)fn->C_DestroyObject(bh, a);
	if (b != CK_INVALID_HANDLE)
		(void)fn->C_DestroyObject(bh, b);
	return CKR_TEMPLATE_INCONSISTENT;
}

/* Maps a new backend object, checks its roles, records its creator and
 * audits the call (op). */
static CK_RV made(ch_session *s, CK_FUNCTION_LIST *fn, CK_SESSION_HANDLE bh, const char *op,
                  CK_RV rv, CK_OBJECT_HANDLE theirs, CK_OBJECT_HANDLE *h)
{
	CK_OBJECT_HANDLE ours = 0;

	if (rv == CKR_OK &&
	    (rv = roles_check_new(s, fn, bh, theirs, CK_INVALID_HANDLE)) == CKR_OK) {
		if ((ours = fwd_handle_ours(s, theirs)) == 0) {
			(void)fn->C_DestroyObject(bh, theirs);
			rv = CKR_HOST_MEMORY;
		} else {
			fwd_note_created(s, ours);
			*h = ours;
		}
	}
	fwd_audit(s, op, ours, rv);
	return fwd_check(slot_of(s), rv);
}

/* ---- objects ---- */

CK_RV fwd_create_object(ch_session *s, const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *h)
{
	CK_FUNCTION_LIST *fn;
	CK_SESSION_HANDLE bh;
	CK_OBJECT_HANDLE theirs = 0;
	CK_RV rv;

	tmpl f = { 0 };

	FWD_ENTER(s, fn, bh);
	if (tmpl_class(t, n, CKO_DATA) == CKO_DATA && tmpl_is_secret(t, n))
		return CKR_FUNCTION_NOT_SUPPORTED;
	if ((rv = may_write(s, tmpl_flag(t, n, CKA_TOKEN) == 1)) != CKR_OK)
		return rv;
	if (tmpl_class(t, n, CKO_DATA) == CKO_SECRET_KEY) {
		if ((rv = tmpl_secret(&f, t, n)) != CKR_OK)
			return rv;
		t = f.t;
		n = f.n;
	}
	rv = fn->C_CreateObject(bh, (CK_ATTRIBUTE *)t, n, &theirs);
	free(f.t);
	return made(s, fn, bh, "object.create", rv, theirs, h);
}

CK_RV fwd_copy_object(ch_session *s, CK_OBJECT_HANDLE h, const CK_ATTRIBUTE *t, CK_ULONG n,
                      CK_OBJECT_HANDLE *out)
{
	CK_FUNCTION_LIST *fn;
	CK_SESSION_HANDLE bh;
	CK_OBJECT_HANDLE src, theirs = 0;
	CK_RV rv;

	FWD_ENTER(s, fn, bh);
	if ((rv = object_of(s, h, &src)) != CKR_OK)
		return rv;
	/* The copy is a token object when its template or its original says so. */
	if ((rv = may_write(s, tmpl_flag(t, n, CKA_TOKEN) == 1 || (tmpl_flag(t, n, CKA_TOKEN) < 0 &&
	                                                           is_token(fn, bh, src)))) !=
	    CKR_OK)
		return rv;
	/* A copy of a key is the key: only whoever may do everything with it. */
	if (ch_session_user(s) == CKU_USER &&
	    (rv = fwd_allowed(s, h, SOFT_GRANT_KEY_OPS)) != CKR_OK)
		return CKR_ACTION_PROHIBITED;
	rv = fn->C_CopyObject(bh, src, (CK_ATTRIBUTE *)t, n, &theirs);
	return made(s, fn, bh, "object.create", rv, theirs, out);
}

CK_RV fwd_destroy_object(ch_session *s, CK_OBJECT_HANDLE h)
{
	CK_FUNCTION_LIST *fn;
	CK_SESSION_HANDLE bh;
	CK_OBJECT_HANDLE theirs;
	CK_RV rv;

	FWD_ENTER(s, fn, bh);
	if ((rv = object_of(s, h, &theirs)) != CKR_OK ||
	    (rv = may_write(s, is_token(fn, bh, theirs))) != CKR_OK)
		return rv;
	rv = fwd_check(slot_of(s), fn->C_DestroyObject(bh, theirs));
	fwd_audit(s, "object.destroy", h, rv);
	if (rv == CKR_OK)
		fwd_handle_drop(slot_of(s), h);
	return rv;
}

CK_RV fwd_object_size(ch_session *s, CK_OBJECT_HANDLE h, CK_ULONG *size)
{
	CK_FUNCTION_LIST *fn;
	CK_SESSION_HANDLE bh;
	CK_OBJECT_HANDLE theirs;
	CK_RV rv;

	FWD_ENTER(s, fn, bh);
	if ((rv = object_of(s, h, &theirs)) != CKR_OK)
		return rv;
	return fwd_check(slot_of(s), fn->C_GetObjectSize(bh, theirs, size));
}

CK_RV fwd_get_attributes(ch_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE *t, CK_ULONG n)
{
	CK_FUNCTION_LIST *fn;
	CK_SESSION_HANDLE bh;
	CK_OBJECT_HANDLE theirs;
	CK_RV rv;

	FWD_ENTER(s, fn, bh);
	if ((rv = object_of(s, h, &theirs)) != CKR_OK)
		return rv;
	return fwd_check(slot_of(s), fn->C_GetAttributeValue(bh, theirs, t, n));
}

CK_RV fwd_set_attributes(ch_session *s, CK_OBJECT_HANDLE h, const CK_ATTRIBUTE *t, CK_ULONG n)
{
	CK_FUNCTION_LIST *fn;
	CK_SESSION_HANDLE bh;
	CK_OBJECT_HANDLE theirs;
	roles4 r;
	CK_RV rv;

	FWD_ENTER(s, fn, bh);
	if ((rv = object_of(s, h, &theirs)) != CKR_OK ||
	    (rv = may_write(s, is_token(fn, bh, theirs))) != CKR_OK)
		return rv;
	roles_read(fn, bh, theirs, &r);
	roles_apply(&r, t, n);
	if (!roles_ok(slot_of(s), &r))
		rv = CKR_ATTRIBUTE_VALUE_INVALID;
	else
		rv = fwd_check(slot_of(s),
		               fn->C_SetAttributeValue(bh, theirs, (CK_ATTRIBUTE *)t, n));
	if (rv == CKR_OK) {
		for (CK_ULONG i = 0; i < n; i++)
			if (t[i].type == CKA_LABEL || t[i].type == CKA_ID ||
			    t[i].type == CKA_PRIVATE)
				fwd_handle_renamed(slot_of(s), h);
	}
	fwd_audit(s, "object.set", h, rv);
	return rv;
}

CK_RV fwd_find_init(ch_session *s, const CK_ATTRIBUTE *t, CK_ULONG n)
{
	fwd_session *fs = s->be;
	CK_FUNCTION_LIST *fn;
	CK_SESSION_HANDLE bh;
	CK_RV rv;

	FWD_ENTER(s, fn, bh);
	if (fs->finding)
		return CKR_OPERATION_ACTIVE;
	rv = fwd_check(slot_of(s), fn->C_FindObjectsInit(bh, (CK_ATTRIBUTE *)t, n));
	fs->finding = rv == CKR_OK;
	return rv;
}

/* Objects the participant may not see are left out of the results. */
CK_RV fwd_find(ch_session *s, CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *count)
{
	fwd_session *fs = s->be;
	CK_FUNCTION_LIST *fn;
	CK_SESSION_HANDLE bh;
	CK_ULONG got = 0, n;
	CK_RV rv = CKR_OK;

	FWD_ENTER(s, fn, bh);
	if (!fs->finding)
		return CKR_OPERATION_NOT_INITIALIZED;
	while (got < max) {
		CK_OBJECT_HANDLE buf[64];

		rv = fn->C_FindObjects(bh, buf, max - got < 64 ? max - got : 64, &n);
		if (rv != CKR_OK || n == 0)
			break;
		for (CK_ULONG i = 0; i < n; i++) {
			CK_OBJECT_HANDLE ours = fwd_handle_ours(s, buf[i]);

			if (ours == 0)
				return CKR_HOST_MEMORY;
			if (fwd_allowed(s, ours, 0) == CKR_OK)
				out[got++] = ours;
		}
	}
	*count = got;
	return fwd_check(slot_of(s), rv);
}

CK_RV fwd_find_final(ch_session *s)
{
	fwd_session *fs = s->be;
	CK_FUNCTION_LIST *fn;
	CK_SESSION_HANDLE bh;

	FWD_ENTER(s, fn, bh);
	if (!fs->finding)
		return CKR_OPERATION_NOT_INITIALIZED;
	fs->finding = false;
	return fwd_check(slot_of(s), fn->C_FindObjectsFinal(bh));
}

/* ---- operations ---- */

static const char *const use_op[CH_OP_KINDS] = {
	[CH_OP_ENCRYPT] = "key.encrypt",
	[CH_OP_DECRYPT] = "key.decrypt",
	[CH_OP_SIGN] = "key.sign",
	[CH_OP_VERIFY] = "key.verify",
};

CK_RV fwd_op_init(ch_session *s, ch_op_kind kind, const CK_MECHANISM *m, CK_OBJECT_HANDLE key)
{
	CK_MECHANISM *mm = (CK_MECHANISM *)m;
	CK_FUNCTION_LIST *fn;
	CK_SESSION_HANDLE bh;
	CK_OBJECT_HANDLE theirs = 0;
	CK_RV rv;

	FWD_ENTER(s, fn, bh);
	if (kind != CH_OP_DIGEST && (rv = key_of(s, key, soft_grant_bit(kind), &theirs)) != CKR_OK)
		return rv;
	switch (kind) {
	case CH_OP_ENCRYPT:
		rv = fn->C_EncryptInit(bh, mm, theirs);
		break;
	case CH_OP_DECRYPT:
		rv = fn->C_DecryptInit(bh, mm, theirs);
		break;
	case CH_OP_SIGN:
		rv = fn->C_SignInit(bh, mm, theirs);
		break;
	case CH_OP_VERIFY:
		rv = fn->C_VerifyInit(bh, mm, theirs);
		break;
	default:
		rv = fn->C_DigestInit(bh, mm);
		break;
	}
	if (rv == CKR_OK && kind != CH_OP_DIGEST)
		fwd_audit_use(s, key, use_op[kind]);
	return fwd_check(slot_of(s), rv);
}

CK_RV fwd_op_oneshot(ch_session *s, ch_op_kind kind, const CK_BYTE *in, CK_ULONG in_len,
                     CK_BYTE *out, CK_ULONG *out_len)
{
	CK_BYTE *i = (CK_BYTE *)in;
	CK_FUNCTION_LIST *fn;
	CK_SESSION_HANDLE bh;
	CK_RV rv;

	FWD_ENTER(s, fn, bh);
	switch (kind) {
	case CH_OP_ENCRYPT:
		rv = fn->C_Encrypt(bh, i, in_len, out, out_len);
		break;
	case CH_OP_DECRYPT:
		rv = fn->C_Decrypt(bh, i, in_len, out, out_len);
		break;
	case CH_OP_SIGN:
		rv = fn->C_Sign(bh, i, in_len, out, out_len);
		break;
	case CH_OP_DIGEST:
		rv = fn->C_Digest(bh, i, in_len, out, out_len);
		break;
	default:
		rv = CKR_OPERATION_NOT_INITIALIZED;
		break;
	}
	return fwd_check(slot_of(s), rv);
}

CK_RV fwd_op_update(ch_session *s, ch_op_kind kind, const CK_BYTE *in, CK_ULONG in_len,
                    CK_BYTE *out, CK_ULONG *out_len)
{
	CK_BYTE *i = (CK_BYTE *)in;
	CK_FUNCTION_LIST *fn;
	CK_SESSION_HANDLE bh;
	CK_RV rv;

	FWD_ENTER(s, fn, bh);
	switch (kind) {
	case CH_OP_ENCRYPT:
		rv = fn->C_EncryptUpdate(bh, i, in_len, out, out_len);
		break;
	case CH_OP_DECRYPT:
		rv = fn->C_DecryptUpdate(bh, i, in_len, out, out_len);
		break;
	case CH_OP_SIGN:
		rv = fn->C_SignUpdate(bh, i, in_len);
		break;
	case CH_OP_VERIFY:
		rv = fn->C_VerifyUpdate(bh, i, in_len);
		break;
	default:
		rv = fn->C_DigestUpdate(bh, i, in_len);
		break;
	}
	return fwd_check(slot_of(s), rv);
}

CK_RV fwd_op_final(ch_session *s, ch_op_kind kind, CK_BYTE *out, CK_ULONG *out_len)
{
	CK_FUNCTION_LIST *fn;
	CK_SESSION_HANDLE bh;
	CK_RV rv;

	FWD_ENTER(s, fn, bh);
	switch (kind) {
	case CH_OP_ENCRYPT:
		rv = fn->C_EncryptFinal(bh, out, out_len);
		break;
	case CH_OP_DECRYPT:
		rv = fn->C_DecryptFinal(bh, out, out_len);
		break;
	case CH_OP_SIGN:
		rv = fn->C_SignFinal(bh, out, out_len);
		break;
	case CH_OP_DIGEST:
		rv = fn->C_DigestFinal(bh, out, out_len);
		break;
	default:
		rv = CKR_OPERATION_NOT_INITIALIZED;
		break;
	}
	return fwd_check(slot_of(s), rv);
}

CK_RV fwd_op_verify(ch_session *s, const CK_BYTE *data, CK_ULONG len, const CK_BYTE *sig,
                    CK_ULONG sig_len)
{
	CK_FUNCTION_LIST *fn;
	CK_SESSION_HANDLE bh;

	FWD_ENTER(s, fn, bh);
	return fwd_check(slot_of(s),
	                 fn->C_Verify(bh, (CK_BYTE *)data, len, (CK_BYTE *)sig, sig_len));
}

CK_RV fwd_op_verify_final(ch_session *s, const CK_BYTE *sig, CK_ULONG sig_len)
{
	CK_FUNCTION_LIST *fn;
	CK_SESSION_HANDLE bh;

	FWD_ENTER(s, fn, bh);
	return fwd_check(slot_of(s), fn->C_VerifyFinal(bh, (CK_BYTE *)sig, sig_len));
}

/* ---- key management and random numbers ---- */

CK_RV fwd_generate_key(ch_session *s, const CK_MECHANISM *m, const CK_ATTRIBUTE *t, CK_ULONG n,
                       CK_OBJECT_HANDLE *h)
{
	CK_FUNCTION_LIST *fn;
	CK_SESSION_HANDLE bh;
	CK_OBJECT_HANDLE theirs = 0;
	CK_RV rv;

	tmpl f;

	FWD_ENTER(s, fn, bh);
	if ((rv = may_make_keys(s)) != CKR_OK || (rv = tmpl_secret(&f, t, n)) != CKR_OK)
		return rv;
	rv = fn->C_GenerateKey(bh, (CK_MECHANISM *)m, f.t, f.n, &theirs);
	free(f.t);
	return made(s, fn, bh, "key.generate", rv, theirs, h);
}

CK_RV fwd_generate_key_pair(ch_session *s, const CK_MECHANISM *m, const CK_ATTRIBUTE *pub_t,
                            CK_ULONG pub_n, const CK_ATTRIBUTE *priv_t, CK_ULONG priv_n,
                            CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	CK_FUNCTION_LIST *fn;
	CK_SESSION_HANDLE bh;
	CK_OBJECT_HANDLE tpub = 0, tpriv = 0, opub = 0, opriv = 0;
	CK_RV rv;

	tmpl fp, fv;

	FWD_ENTER(s, fn, bh);
	if ((rv = may_make_keys(s)) != CKR_OK ||
	    (rv = tmpl_pair(&fp, &fv, pub_t, pub_n, priv_t, priv_n)) != CKR_OK)
		return rv;
	rv = fn->C_GenerateKeyPair(bh, (CK_MECHANISM *)m, fp.t, fp.n, fv.t, fv.n, &tpub, &tpriv);
	free(fp.t);
	free(fv.t);
	/* The pair is one key to the key-role rules (object.h). */
	if (rv == CKR_OK)
		rv = roles_check_new(s, fn, bh, tpub, tpriv);
	if (rv == CKR_OK) {
		opub = fwd_handle_ours(s, tpub);
		opriv = fwd_handle_ours(s, tpriv);
		if (opub == 0 || opriv == 0) {
			(void)fn->C_DestroyObject(bh, tpub);
			(void)fn->C_DestroyObject(bh, tpriv);
			rv = CKR_HOST_MEMORY;
		}
	}
	if (rv == CKR_OK) {
		fwd_note_created(s, opub);
		fwd_note_created(s, opriv);
		*pub = opub;
		*priv = opriv;
	}
	fwd_audit(s, "key.generate", rv == CKR_OK ? opriv : 0, rv);
	return fwd_check(slot_of(s), rv);
}

CK_RV fwd_random(ch_session *s, CK_BYTE *out, CK_ULONG len)
{
	CK_FUNCTION_LIST *fn;
	CK_SESSION_HANDLE bh;

	FWD_ENTER(s, fn, bh);
	return fwd_check(slot_of(s), fn->C_GenerateRandom(bh, out, len));
}

CK_RV fwd_wrap_key(ch_session *s, const CK_MECHANISM *m, CK_OBJECT_HANDLE wrapping,
                   CK_OBJECT_HANDLE key, CK_BYTE *out, CK_ULONG *out_len)
{
	CK_FUNCTION_LIST *fn;
	CK_SESSION_HANDLE bh;
	CK_OBJECT_HANDLE tw, tk;
	CK_RV rv;

	FWD_ENTER(s, fn, bh);
	if ((rv = key_of(s, wrapping, CH_GRANT_WRAP, &tw)) != CKR_OK)
		return rv;
	/* A wrapped key is the key: its creator or whoever may do everything. */
	if ((rv = key_of(s, key, SOFT_GRANT_KEY_OPS, &tk)) != CKR_OK)
		return rv;
	rv = fwd_check(slot_of(s), fn->C_WrapKey(bh, (CK_MECHANISM *)m, tw, tk, out, out_len));
	if (out != NULL || rv != CKR_OK)
		fwd_audit(s, "key.wrap", key, rv);
	return rv;
}

CK_RV fwd_unwrap_key(ch_session *s, const CK_MECHANISM *m, CK_OBJECT_HANDLE unwrapping,
                     const CK_BYTE *in, CK_ULONG in_len, const CK_ATTRIBUTE *t, CK_ULONG n,
                     CK_OBJECT_HANDLE *h)
{
	CK_FUNCTION_LIST *fn;
	CK_SESSION_HANDLE bh;
	CK_OBJECT_HANDLE tu, theirs = 0;
	CK_RV rv;

	tmpl f = { 0 };

	FWD_ENTER(s, fn, bh);
	if ((rv = key_of(s, unwrapping, CH_GRANT_UNWRAP, &tu)) != CKR_OK)
		return rv;
	if (tmpl_class(t, n, CKO_SECRET_KEY) == CKO_SECRET_KEY) {
		if ((rv = tmpl_secret(&f, t, n)) != CKR_OK)
			return rv;
		t = f.t;
		n = f.n;
	}
	rv = fn->C_UnwrapKey(bh, (CK_MECHANISM *)m, tu, (CK_BYTE *)in, in_len, (CK_ATTRIBUTE *)t, n,
	                     &theirs);
	free(f.t);
	return made(s, fn, bh, "key.unwrap", rv, theirs, h);
}

/* Derivation mechanisms whose parameter names a second key: that handle is
 * ours and must become the backend's (granted for derivation too). */
CK_RV fwd_derive_key(ch_session *s, const CK_MECHANISM *m, CK_OBJECT_HANDLE base,
                     const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *h)
{
	CK_MECHANISM mm = *m;
	CK_OBJECT_HANDLE other_h;
	CK_HKDF_PARAMS hkdf;
	CK_FUNCTION_LIST *fn;
	CK_SESSION_HANDLE bh;
	CK_OBJECT_HANDLE tb, theirs = 0;
	tmpl f = { 0 };
	CK_RV rv;

	FWD_ENTER(s, fn, bh);
	if ((rv = key_of(s, base, CH_GRANT_DERIVE, &tb)) != CKR_OK)
		return rv;
	if (m->mechanism == CKM_CONCATENATE_BASE_AND_KEY) {
		if (m->pParameter == NULL || m->ulParameterLen != sizeof(CK_OBJECT_HANDLE))
			return CKR_MECHANISM_PARAM_INVALID;
		if ((rv = key_of(s, *(CK_OBJECT_HANDLE *)m->pParameter, CH_GRANT_DERIVE,
		                 &other_h)) != CKR_OK)
			return rv;
		mm.pParameter = &other_h;
	} else if ((m->mechanism == CKM_HKDF_DERIVE || m->mechanism == CKM_HKDF_DATA) &&
	           m->pParameter != NULL && m->ulParameterLen == sizeof(hkdf)) {
		memcpy(&hkdf, m->pParameter, sizeof(hkdf));
		if (hkdf.ulSaltType == CKF_HKDF_SALT_KEY &&
		    (rv = key_of(s, hkdf.hSaltKey, CH_GRANT_DERIVE, &hkdf.hSaltKey)) != CKR_OK)
			return rv;
		mm.pParameter = &hkdf;
	}
	if (tmpl_class(t, n, CKO_SECRET_KEY) == CKO_SECRET_KEY) {
		if ((rv = tmpl_secret(&f, t, n)) != CKR_OK)
			return rv;
		t = f.t;
		n = f.n;
	}
	rv = fn->C_DeriveKey(bh, &mm, tb, (CK_ATTRIBUTE *)t, n, &theirs);
	free(f.t);
	return made(s, fn, bh, "key.derive", rv, theirs, h);
}

CK_RV fwd_digest_key(ch_session *s, CK_OBJECT_HANDLE key)
{
	CK_FUNCTION_LIST *fn;
	CK_SESSION_HANDLE bh;
	CK_OBJECT_HANDLE theirs;
	CK_RV rv;

	FWD_ENTER(s, fn, bh);
	/* Its digest tells about the key's value: whoever may do everything. */
	if ((rv = key_of(s, key, SOFT_GRANT_KEY_OPS, &theirs)) != CKR_OK)
		return rv;
	return fwd_check(slot_of(s), fn->C_DigestKey(bh, theirs));
}
