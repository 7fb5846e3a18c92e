/*
 * The software token's key management: C_WrapKey, C_UnwrapKey, C_DeriveKey
 * (PKCS#11 3.0 section 5.18) and C_DigestKey (5.12).
 *
 * This file holds the policy; the cryptography is the mechanism registry's
 * (ch_mech_wrap, ch_mech_unwrap, ch_mech_derive) and the key encodings are
 * mech_key.c's.  What is checked here, in this order:
 *
 *   wrap    the participant may use keys and holds a wrap grant for the
 *           wrapping key; the key to wrap is a secret or private key whose
 *           CKA_EXTRACTABLE is TRUE (CKR_KEY_UNEXTRACTABLE); a key with
 *           CKA_WRAP_WITH_TRUSTED needs a wrapping key with CKA_TRUSTED; a
 *           wrapping key with CKA_WRAP_TEMPLATE wraps only keys matching it;
 *           and no key is wrapped under a weaker one (ch_key_strength), so a
 *           256-bit key never leaves under a 128-bit one.  The last three
 *           answer CKR_KEY_NOT_WRAPPABLE.
 *   unwrap  the participant may use keys and holds an unwrap grant; the
 *           unwrapping key's CKA_UNWRAP_TEMPLATE is merged into the caller's
 *           template (a conflicting value is CKR_TEMPLATE_INCONSISTENT); the
 *           object rules (object.c) then judge the template as for any new
 *           key, which is where a key asking to both unwrap and encrypt is
 *           refused.  With CKM_CH_AES_GCM_VERSIONED the version the
 *           wrapped key names unwraps it (soft_vgcm.c), and a family
 *           without CKA_CH_DATAKEY_PLAINTEXT makes the key sensitive and
 *           not extractable.
 *   derive  the same with a derive grant and CKA_DERIVE_TEMPLATE; the new
 *           key's CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE follow the
 *           base key's as 5.18.5 says, and its CKA_SENSITIVE and
 *           CKA_EXTRACTABLE default to the base key's.  CKM_HKDF_DATA makes a data object
 *           (private by default) whose length is the template's
 *           CKA_VALUE_LEN.
 *
 * Unwrapped and derived keys are stored through soft_object_add like any
 * new object, so the rules for token objects (a read-write session, the
 * operator role) apply unchanged.  Every wrap, unwrap and derive that gets
 * past the length query is recorded in the audit log with both keys' IDs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "object.h"
#include "soft_internal.h"

/* Loads key h for a key-management call: the key must be there for the
 * session (else bad_handle) and, for token keys, granted for need. */
static CK_RV load_key(ch_session *s, CK_OBJECT_HANDLE h, CK_FLAGS need, CK_RV bad_handle,
                      ch_attrs **out)
{
	char owner[CH_NAME_MAX + 1];
	CK_RV rv;

	*out = NULL;
	rv = soft_object_read_owned(s, h, out, owner);
	if (rv == CKR_OBJECT_HANDLE_INVALID)
		return bad_handle;
	if (rv != CKR_OK)
		return rv;
	if (need != 0 && (rv = soft_check_grant(s, h, owner, need)) != CKR_OK) {
		ch_attrs_free(*out);
		*out = NULL;
	}
	return rv;
}

/* Writes one audit record about key (may be NULL) naming other in the
 * detail ("wrapping key <id>", "base key <id>"). */
static void audit_keys(ch_session *s, const char *op, const ch_attrs *key, const char *role,
                       const ch_attrs *other, CK_RV rv)
{
	soft_slot *sl = s->slot->be;
	const ch_attr *uid = other != NULL ? ch_attrs_get(other, CKA_UNIQUE_ID) : NULL;
	char detail[96];

	snprintf(detail, sizeof(detail), "%s %.*s", role,
	         uid != NULL ? (int)(uid->len > 64 ? 64 : uid->len) : 1,
	         uid != NULL ? (const char *)uid->value : "-");
	pthread_mutex_lock(&sl->lock);
	soft_audit(sl, sl->seal, sl->participant, op, key, rv, detail);
	pthread_mutex_unlock(&sl->lock);
}

/* audit_keys for a wrap of key under wk: a wrap that succeeds is also one
 * encryption of wk, counted with the record (soft_audit_wrap) and checked
 * against wk's bound (soft_due.c). */
static void audit_wrap(ch_session *s, const ch_attrs *key, const ch_attrs *wk, CK_RV rv)
{
	soft_slot *sl = s->slot->be;
	const ch_attr *uid = ch_attrs_get(wk, CKA_UNIQUE_ID);
	char detail[96], who[CH_NAME_MAX + 1];
	uint64_t n;

	snprintf(detail, sizeof(detail), "wrapping key %.*s",
	         uid != NULL ? (int)(uid->len > 64 ? 64 : uid->len) : 1,
	         uid != NULL ? (const char *)uid->value : "-");
	pthread_mutex_lock(&sl->lock);
	n = soft_audit_wrap(sl, key, wk, rv, detail);
	memcpy(who, sl->participant, sizeof(who));
	pthread_mutex_unlock(&sl->lock);
	if (n != 0)
		soft_version_note_count(sl, wk, n, who);
}

/* The attributes of a stored template (CKA_WRAP_TEMPLATE ...) as a
 * CK_ATTRIBUTE array pointing into tmpl; *n entries.  Caller frees the
 * array (not the values). */
static CK_RV template_view(const ch_attrs *tmpl, CK_ATTRIBUTE **out, CK_ULONG *n)
{
	CK_ATTRIBUTE *v = calloc(tmpl->n > 0 ? tmpl->n : 1, sizeof(*v));

	if (v == NULL)
		return CKR_HOST_MEMORY;
	for (size_t i = 0; i < tmpl->n; i++) {
		v[i].type = tmpl->v[i].type;
		v[i].pValue = tmpl->v[i].value;
		v[i].ulValueLen = tmpl->v[i].len;
	}
	*out = v;
	*n = tmpl->n;
	return CKR_OK;
}

/* Does key match the wrapping key's CKA_WRAP_TEMPLATE (no template: yes)? */
static CK_RV wrap_template_allows(const ch_attrs *wrapping, const ch_attrs *key)
{
	ch_attrs *tmpl = NULL;
	CK_ATTRIBUTE *v = NULL;
	CK_ULONG n = 0;
	CK_RV rv;

	rv = ch_object_template(wrapping, CKA_WRAP_TEMPLATE, &tmpl);
	if (rv == CKR_ATTRIBUTE_TYPE_INVALID)
		return CKR_OK;
	if (rv != CKR_OK)
		return rv;
	if ((rv = template_view(tmpl, &v, &n)) == CKR_OK)
		rv = ch_object_match(key, v, n) ? CKR_OK : CKR_KEY_NOT_WRAPPABLE;
	free(v);
	ch_attrs_free(tmpl);
	return rv;
}

/* The caller's template t with the key's template attribute (of type
 * which) merged in: each entry of the stored template is added unless t
 * gives the same type, which must then have the same value
 * (CKR_TEMPLATE_INCONSISTENT).  *out points into t and *hold (both freed by
 * the caller with free() and ch_attrs_free()). */
static CK_RV template_merge(const ch_attrs *key, CK_ATTRIBUTE_TYPE which, const CK_ATTRIBUTE *t,
                            CK_ULONG n, CK_ATTRIBUTE **out, CK_ULONG *out_n, ch_attrs **hold)
{
	ch_attrs *tmpl = NULL;
	CK_ATTRIBUTE *m = NULL;
	CK_ULONG k = n, i, j;
	CK_RV rv;

	*out = NULL;
	*hold = NULL;
	rv = ch_object_template(key, which, &tmpl);
	if (rv == CKR_ATTRIBUTE_TYPE_INVALID) {
		tmpl = NULL; /* no template: the caller's alone */
	} else if (rv != CKR_OK) {
		return rv;
	}
	rv = CKR_HOST_MEMORY;
	/* Room for two entries more: see data_template and key_defaults. */
	if ((m = calloc(n + (tmpl != NULL ? tmpl->n : 0) + 2, sizeof(*m))) == NULL)
		goto out;
	if (n > 0)
		memcpy(m, t, n * sizeof(*m));
	for (i = 0; tmpl != NULL && i < tmpl->n; i++) {
		const ch_attr *e = &tmpl->v[i];

		for (j = 0; j < n && t[j].type != e->type; j++)
			;
		if (j == n) {
			m[k].type = e->type;
			m[k].pValue = e->value;
			m[k].ulValueLen = e->len;
			k++;
			continue;
		}
		rv = CKR_TEMPLATE_INCONSISTENT;
		if (!ch_attrs_match(tmpl, &t[j], 1))
			goto out;
	}
	*out = m;
	*out_n = k;
	*hold = tmpl;
	m = NULL;
	tmpl = NULL; /* transferred */
	rv = CKR_OK;
out:
	free(m);
	ch_attrs_free(tmpl);
	return rv;
}

/* Stores the new object a (taking it in every case) and gives back in
 * *made a copy for the audit record. */
static CK_RV add_new(ch_session *s, ch_attrs *a, CK_OBJECT_HANDLE *h, ch_attrs **made)
{
	if ((*made = ch_attrs_dup(a)) == NULL) {
		ch_attrs_free(a);
		return CKR_HOST_MEMORY;
	}
	return soft_object_add(s, a, h);
}

CK_RV soft_wrap_key(ch_session *s, const CK_MECHANISM *m, CK_OBJECT_HANDLE wrapping,
                    CK_OBJECT_HANDLE key, CK_BYTE *out, CK_ULONG *out_len)
{
	ch_attrs *wk = NULL, *k = NULL;
	CK_BYTE *bytes = NULL;
	CK_ULONG nbytes = 0, cls, need = 0;
	CK_RV rv;

	if ((rv = soft_may_use_keys(s)) != CKR_OK ||
	    (rv = load_key(s, wrapping, CH_GRANT_WRAP, CKR_WRAPPING_KEY_HANDLE_INVALID, &wk)) !=
	            CKR_OK ||
	    /* Wrapping hands the key out whole: only who may already do
	     * everything with it (its creator, or a grantee of every
	     * operation) may wrap it, else a narrow grant would widen
	     * through an unwrap. */
	    (rv = load_key(s, key, SOFT_GRANT_KEY_OPS, CKR_KEY_HANDLE_INVALID, &k)) != CKR_OK)
		goto out;
	rv = CKR_KEY_NOT_WRAPPABLE;
	if (!ch_attrs_ulong(k, CKA_CLASS, &cls) ||
	    (cls != CKO_SECRET_KEY && cls != CKO_PRIVATE_KEY))
		goto out;
	rv = CKR_KEY_UNEXTRACTABLE;
	if (!ch_attrs_bool(k, CKA_EXTRACTABLE, false))
		goto out;
	/* The mechanism and the wrapping key first (a length query checks
	 * them), then what this key asks of its wrapping key. */
	if ((rv = ch_key_export(k, &bytes, &nbytes)) != CKR_OK ||
	    (rv = ch_mech_wrap(m, wk, bytes, nbytes, NULL, &need)) != CKR_OK)
		goto out;
	rv = CKR_KEY_NOT_WRAPPABLE;
	if (ch_attrs_bool(k, CKA_WRAP_WITH_TRUSTED, false) &&
	    !ch_attrs_bool(wk, CKA_TRUSTED, false))
		goto out;
	if ((rv = wrap_template_allows(wk, k)) != CKR_OK)
		goto out;
	rv = CKR_KEY_NOT_WRAPPABLE;
	if (ch_key_strength(wk) < ch_key_strength(k))
		goto out;
	if (out == NULL) {
		*out_len = need;
		rv = CKR_OK;
		goto out;
	}
	rv = ch_mech_wrap(m, wk, bytes, nbytes, out, out_len);
out:
	if (k != NULL && wk != NULL && out != NULL && rv != CKR_BUFFER_TOO_SMALL)
		audit_wrap(s, k, wk, rv);
	OPENSSL_clear_free(bytes, nbytes);
	ch_attrs_free(k);
	ch_attrs_free(wk);
	return rv;
}

CK_RV soft_unwrap_key(ch_session *s, const CK_MECHANISM *m, CK_OBJECT_HANDLE unwrapping,
                      const CK_BYTE *in, CK_ULONG in_len, const CK_ATTRIBUTE *t, CK_ULONG n,
                      CK_OBJECT_HANDLE *h)
{
	ch_object_env env = soft_object_env(s);
	ch_attrs *uk = NULL, *a = NULL, *hold = NULL, *made = NULL;
	CK_ATTRIBUTE *mt = NULL;
	CK_BYTE *bytes = NULL;
	CK_ULONG nbytes = 0, mn = 0;
	bool guard = false;
	CK_RV rv;

	if ((rv = soft_may_use_keys(s)) != CKR_OK ||
	    (rv = load_key(s, unwrapping, CH_GRANT_UNWRAP, CKR_UNWRAPPING_KEY_HANDLE_INVALID,
	                   &uk)) != CKR_OK)
		goto out;
	if ((rv = template_merge(uk, CKA_UNWRAP_TEMPLATE, t, n, &mt, &mn, &hold)) != CKR_OK ||
	    (rv = ch_object_build(CH_ORIGIN_UNWRAP, CK_UNAVAILABLE_INFORMATION,
	                          CK_UNAVAILABLE_INFORMATION, mt, mn, &env, &a)) != CKR_OK)
		goto out;
	if (m != NULL && m->mechanism == CKM_CH_AES_GCM_VERSIONED) {
		/* The version the header names; a data key of a family whose
		 * plaintext stays in the token stays unreadable (soft_vgcm.c). */
		if ((rv = soft_vgcm_unwrap(s, m, unwrapping, uk, mt, mn, in, in_len, &bytes,
		                           &nbytes, &guard)) != CKR_OK)
			goto out;
		if (guard && ((rv = ch_attrs_set_bool(a, CKA_SENSITIVE, true)) != CKR_OK ||
		              (rv = ch_attrs_set_bool(a, CKA_EXTRACTABLE, false)) != CKR_OK))
			goto out;
	} else if ((rv = ch_mech_unwrap(m, uk, in, in_len, &bytes, &nbytes)) != CKR_OK) {
		goto out;
	}
	/* Bytes that decrypted but make no key of the template's type (an AES
	 * key of 7 bytes) get the code of bytes that did not decrypt: else a
	 * PKCS#1 v1.5 unwrap tells a good padding from a bad one, the
	 * Bleichenbacher oracle of Bardou et al. (CRYPTO 2012). */
	if ((rv = ch_key_import(a, bytes, nbytes)) != CKR_OK ||
	    (rv = ch_object_finish(CH_ORIGIN_UNWRAP, CK_UNAVAILABLE_INFORMATION, a)) != CKR_OK) {
		if (rv != CKR_HOST_MEMORY)
			rv = CKR_WRAPPED_KEY_INVALID;
		goto out;
	}
	rv = add_new(s, a, h, &made);
	a = NULL; /* transferred */
out:
	if (uk != NULL)
		audit_keys(s, "key.unwrap", rv == CKR_OK ? made : NULL, "unwrapping key", uk, rv);
	OPENSSL_clear_free(bytes, nbytes);
	free(mt);
	ch_attrs_free(hold);
	ch_attrs_free(made);
	ch_attrs_free(a);
	ch_attrs_free(uk);
	return rv;
}

/* 5.18.5: a derived key is "always sensitive" only if its base key was and
 * it is sensitive itself, "never extractable" only if its base key was and
 * it is not extractable. */
static CK_RV derive_inherit(const ch_attrs *base, ch_attrs *a)
{
	bool always = ch_attrs_bool(base, CKA_ALWAYS_SENSITIVE, false) &&
	              ch_attrs_bool(a, CKA_SENSITIVE, false);
	bool never = ch_attrs_bool(base, CKA_NEVER_EXTRACTABLE, false) &&
	             !ch_attrs_bool(a, CKA_EXTRACTABLE, true);
	CK_RV rv;

	if ((rv = ch_attrs_set_bool(a, CKA_ALWAYS_SENSITIVE, always)) != CKR_OK)
		return rv;
	return ch_attrs_set_bool(a, CKA_NEVER_EXTRACTABLE, never);
}

/* The CK_ULONG value of type in template t, or dflt when t lacks it (or
 * gives it malformed: the object rules then say so). */
static CK_ULONG template_ulong(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type,
                               CK_ULONG dflt)
{
	CK_ULONG v;

	for (CK_ULONG i = 0; i < n; i++)
		if (t[i].type == type && t[i].pValue != NULL && t[i].ulValueLen == sizeof(v)) {
			memcpy(&v, t[i].pValue, sizeof(v));
			return v;
		}
	return dflt;
}

/* A derived key is as protected as its base key unless the template says
 * otherwise: CKA_SENSITIVE and CKA_EXTRACTABLE default to the base key's
 * (the spec's rule for the SP 800-108 KDFs, applied to every derivation so
 * that a sensitive key never yields a readable one by default).  mt has
 * room for two more entries (template_merge); the values live in vals. */
static void key_defaults(const ch_attrs *base, CK_ATTRIBUTE *mt, CK_ULONG *n, CK_BBOOL vals[2])
{
	static const CK_ATTRIBUTE_TYPE types[2] = { CKA_SENSITIVE, CKA_EXTRACTABLE };

	vals[0] = ch_attrs_bool(base, CKA_SENSITIVE, false) ? CK_TRUE : CK_FALSE;
	vals[1] = ch_attrs_bool(base, CKA_EXTRACTABLE, true) ? CK_TRUE : CK_FALSE;
	for (int k = 0; k < 2; k++) {
		CK_ULONG i;

		for (i = 0; i < *n && mt[i].type != types[k]; i++)
			;
		if (i == *n)
			mt[(*n)++] = (CK_ATTRIBUTE){ types[k], &vals[k], sizeof(vals[k]) };
	}
}

/* A derived data object (CKM_HKDF_DATA) takes its length from the
 * template's CKA_VALUE_LEN, which data objects do not have: it is taken out
 * of mt (*n shrinks) into *len.  Its value is derived secret material, so it
 * is private unless the template says otherwise (mt has room for one more
 * entry, see template_merge).  CKR_TEMPLATE_INCOMPLETE without a length. */
static CK_RV data_template(CK_ATTRIBUTE *mt, CK_ULONG *n, CK_ULONG *len)
{
	static CK_BBOOL yes = CK_TRUE;
	CK_ULONG i;

	if ((*len = template_ulong(mt, *n, CKA_VALUE_LEN, 0)) == 0)
		return CKR_TEMPLATE_INCOMPLETE;
	for (i = 0; i < *n && mt[i].type != CKA_VALUE_LEN; i++)
		;
	mt[i] = mt[--*n];
	for (i = 0; i < *n && mt[i].type != CKA_PRIVATE; i++)
		;
	if (i == *n)
		mt[(*n)++] = (CK_ATTRIBUTE){ CKA_PRIVATE, &yes, sizeof(yes) };
	return CKR_OK;
}

/* HKDF's CKF_HKDF_SALT_KEY names the salt by a key handle, which only this
 * layer can resolve: *dm becomes m with a copy of the parameter (in *p)
 * whose salt is that key's value as CKF_HKDF_SALT_DATA; *salt holds the key
 * (freed by the caller).  The salt key must be a generic secret or HKDF key
 * the participant may derive with; anything else is
 * CKR_MECHANISM_PARAM_INVALID.  Other mechanisms pass through. */
static CK_RV resolve_salt_key(ch_session *s, const CK_MECHANISM *m, CK_MECHANISM *dm,
                              CK_HKDF_PARAMS *p, ch_attrs **salt)
{
	const ch_attr *v;
	CK_ULONG cls, kt;

	*dm = *m;
	*salt = NULL;
	if ((m->mechanism != CKM_HKDF_DERIVE && m->mechanism != CKM_HKDF_DATA) ||
	    m->pParameter == NULL || m->ulParameterLen != sizeof(*p))
		return CKR_OK;
	memcpy(p, m->pParameter, sizeof(*p));
	if (!p->bExtract || p->ulSaltType != CKF_HKDF_SALT_KEY)
		return CKR_OK;
	if (load_key(s, p->hSaltKey, CH_GRANT_DERIVE, CKR_MECHANISM_PARAM_INVALID, salt) !=
	            CKR_OK ||
	    !ch_attrs_ulong(*salt, CKA_CLASS, &cls) || cls != CKO_SECRET_KEY ||
	    !ch_attrs_ulong(*salt, CKA_KEY_TYPE, &kt) ||
	    (kt != CKK_GENERIC_SECRET && kt != CKK_HKDF) ||
	    (v = ch_attrs_get(*salt, CKA_VALUE)) == NULL)
		return CKR_MECHANISM_PARAM_INVALID;
	p->ulSaltType = CKF_HKDF_SALT_DATA;
	p->pSalt = v->value;
	p->ulSaltLen = v->len;
	p->hSaltKey = CK_INVALID_HANDLE;
	dm->pParameter = p;
	return CKR_OK;
}

CK_RV soft_derive_key(ch_session *s, const CK_MECHANISM *m, CK_OBJECT_HANDLE base,
                      const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *h)
{
	ch_object_env env = soft_object_env(s);
	ch_attrs *bk = NULL, *a = NULL, *hold = NULL, *made = NULL, *salt = NULL;
	CK_ATTRIBUTE *mt = NULL;
	CK_MECHANISM dm;
	CK_HKDF_PARAMS hp;
	CK_ULONG mn = 0, cls, data_len = 0;
	CK_BBOOL vals[2];
	CK_RV rv;

	if ((rv = soft_may_use_keys(s)) != CKR_OK ||
	    (rv = load_key(s, base, CH_GRANT_DERIVE, CKR_KEY_HANDLE_INVALID, &bk)) != CKR_OK)
		goto out;
	if ((rv = template_merge(bk, CKA_DERIVE_TEMPLATE, t, n, &mt, &mn, &hold)) != CKR_OK)
		goto out;
	/* Derivation makes secret keys (a generic secret unless the template
	 * names a type), or a data object (CKM_HKDF_DATA). */
	cls = template_ulong(mt, mn, CKA_CLASS, CKO_SECRET_KEY);
	if (cls == CKO_DATA && (rv = data_template(mt, &mn, &data_len)) != CKR_OK)
		goto out;
	if (cls != CKO_DATA)
		key_defaults(bk, mt, &mn, vals);
	if ((rv = ch_object_build(
	             CH_ORIGIN_DERIVE, cls,
	             cls == CKO_DATA ? CK_UNAVAILABLE_INFORMATION
	                             : template_ulong(mt, mn, CKA_KEY_TYPE, CKK_GENERIC_SECRET),
	             mt, mn, &env, &a)) != CKR_OK)
		goto out;
	if (cls == CKO_DATA && (rv = ch_attrs_set_ulong(a, CKA_VALUE_LEN, data_len)) != CKR_OK)
		goto out;
	if ((rv = resolve_salt_key(s, m, &dm, &hp, &salt)) != CKR_OK ||
	    (rv = ch_mech_derive(&dm, bk, a)) != CKR_OK)
		goto out;
	if (cls == CKO_DATA)
		ch_attrs_remove(a, CKA_VALUE_LEN); /* the length was the hook's only */
	if ((rv = ch_object_finish(CH_ORIGIN_DERIVE, CK_UNAVAILABLE_INFORMATION, a)) != CKR_OK ||
	    (cls != CKO_DATA && (rv = derive_inherit(bk, a)) != CKR_OK))
		goto out;
	rv = add_new(s, a, h, &made);
	a = NULL; /* transferred */
out:
	if (bk != NULL)
		audit_keys(s, "key.derive", rv == CKR_OK ? made : NULL, "base key", bk, rv);
	OPENSSL_cleanse(&hp, sizeof(hp));
	ch_attrs_free(salt);
	free(mt);
	ch_attrs_free(hold);
	ch_attrs_free(made);
	ch_attrs_free(a);
	ch_attrs_free(bk);
	return rv;
}

CK_RV soft_digest_key(ch_session *s, CK_OBJECT_HANDLE key)
{
	soft_session *ss = s->be;
	ch_attrs *k = NULL;
	const ch_attr *v;
	CK_ULONG cls;
	CK_RV rv;

	if (ss->op[CH_OP_DIGEST] == NULL)
		return CKR_OPERATION_NOT_INITIALIZED;
	if ((rv = soft_may_use_keys(s)) != CKR_OK ||
	    (rv = load_key(s, key, 0, CKR_KEY_HANDLE_INVALID, &k)) != CKR_OK)
		goto out;
	rv = CKR_KEY_INDIGESTIBLE;
	v = ch_attrs_get(k, CKA_VALUE);
	if (!ch_attrs_ulong(k, CKA_CLASS, &cls) || cls != CKO_SECRET_KEY || v == NULL)
		goto out;
	rv = ch_op_update(ss->op[CH_OP_DIGEST], v->value, v->len, NULL, NULL);
out:
	/* Any error but a login or handle problem ends the digest, as an
	 * update's would. */
	if (rv != CKR_OK && rv != CKR_USER_NOT_LOGGED_IN && rv != CKR_KEY_HANDLE_INVALID) {
		ch_op_free(ss->op[CH_OP_DIGEST]);
		ss->op[CH_OP_DIGEST] = NULL;
	}
	ch_attrs_free(k);
	return rv;
}
