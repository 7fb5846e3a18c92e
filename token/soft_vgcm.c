/*
 * Versioned AES-256-GCM in the software token (issue 8, points 4 and 5):
 * the key sets CKM_CH_AES_GCM_VERSIONED decrypts with, rewrap, and envelope
 * data keys.
 *
 * The mechanism itself (token/mech_aes_vgcm.c) encrypts with one key and
 * decrypts with a key set.  This file fills the set: a decryption or unwrap
 * started from any version of a family gets every other version of that
 * family (same class and CKA_LABEL, same family id) that the caller could
 * decrypt (or unwrap) with by itself: visible to it, granted, and with
 * CKA_DECRYPT (CKA_UNWRAP) TRUE, which the version rules of soft_version.c
 * clear on disabled and destroyed versions and those below the family's
 * minimum decryption version.  Each key is read with soft_object_read_key,
 * so the key cache, the grants and the integrity checks apply as for any
 * operation; a version left out is CKR_CH_KEY_VERSION_UNUSABLE when a
 * header names it.  The key the caller names must itself be able to do the
 * operation (the usual C_DecryptInit check).
 *
 * Rewrap decrypts with the version a ciphertext names and encrypts again
 * under the family's primary, inside one call: the plaintext stays in a
 * buffer of this file, wiped before return.  A data key is fresh random
 * bytes wrapped under the family's primary; its plaintext leaves the token
 * only when the family's CKA_CH_DATAKEY_PLAINTEXT (the primary's) is TRUE,
 * and a data key unwrapped under a family without that policy is made
 * sensitive and not extractable (soft_keys.c asks soft_vgcm_unwrap).
 *
 * Workload: the set is built at every C_DecryptInit and C_UnwrapKey of this
 * mechanism (one store search and one cached key read per version); no
 * other mechanism comes here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "object.h"
#include "objstore.h"
#include "soft_internal.h"

/* The most versions looked at (soft_version.c's family bound). */
#define VSET_MAX 1024

/* Some versions of one family, as held key references. */
typedef struct vset {
	soft_key **k;
	size_t n;
} vset;

static void vset_free(vset *v)
{
	for (size_t i = 0; i < v->n; i++)
		soft_key_release(v->k[i]);
	free(v->k);
	memset(v, 0, sizeof(*v));
}

static bool same_family(const ch_attrs *a, const CK_BYTE fam[CH_FAMILY_ID_LEN])
{
	CK_BYTE f[CH_FAMILY_ID_LEN];

	return ch_key_family(a, f, NULL) == CKR_OK && memcmp(f, fam, sizeof(f)) == 0;
}

/* The IDs of the token objects of key's class labelled as key is (none for
 * a key without a label: it is its own family). */
static CK_RV label_ids(ch_session *s, const ch_attrs *key, soft_id_list *ids)
{
	soft_slot *sl = s->slot->be;
	const ch_attr *label = ch_attrs_get(key, CKA_LABEL);
	CK_OBJECT_CLASS cls = ch_object_class(key);
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE t[3] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, NULL, 0 },
		{ CKA_TOKEN, &yes, sizeof(yes) },
	};
	CK_RV rv = CKR_OK;

	memset(ids, 0, sizeof(*ids));
	if (label == NULL || label->len == 0)
		return CKR_OK;
	t[1].pValue = label->value;
	t[1].ulValueLen = label->len;
	pthread_mutex_lock(&sl->lock);
	pthread_mutex_lock(&sl->sf->lock);
	if (sl->seal == NULL)
		rv = CKR_USER_NOT_LOGGED_IN;
	else
		rv = ch_objstore_find(sl->sf->store, sl->seal, (int64_t)sl->id, true, t, 3,
		                      soft_collect_id, ids);
	pthread_mutex_unlock(&sl->sf->lock);
	pthread_mutex_unlock(&sl->lock);
	if (rv == CKR_OK && ids->oom)
		rv = CKR_HOST_MEMORY;
	if (rv == CKR_OK && ids->n > VSET_MAX)
		rv = CKR_DEVICE_MEMORY;
	return rv;
}

/* The versions of given's family other than given (handle h) that the
 * session may use for need (CH_GRANT_DECRYPT or CH_GRANT_UNWRAP) and whose
 * usage attribute is TRUE.  Caller frees *out with vset_free. */
static CK_RV family_usable(ch_session *s, CK_OBJECT_HANDLE h, const ch_attrs *given, CK_FLAGS need,
                           CK_ATTRIBUTE_TYPE usage, vset *out)
{
	CK_BYTE fam[CH_FAMILY_ID_LEN];
	char who[CH_NAME_MAX + 1];
	soft_id_list ids;
	soft_key *k;
	CK_RV rv;

	memset(out, 0, sizeof(*out));
	if (ch_key_family(given, fam, NULL) != CKR_OK)
		return CKR_OK; /* the mechanism refuses such a key itself */
	if ((rv = label_ids(s, given, &ids)) != CKR_OK)
		goto out;
	rv = CKR_HOST_MEMORY;
	if (ids.n > 0 && (out->k = calloc(ids.n, sizeof(*out->k))) == NULL)
		goto out;
	for (size_t i = 0; i < ids.n; i++) {
		if ((CK_OBJECT_HANDLE)ids.v[i] == h)
			continue;
		rv = soft_object_read_key(s, (CK_OBJECT_HANDLE)ids.v[i], need, &k, who);
		if (rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_FUNCTION_NOT_PERMITTED)
			continue; /* gone, or not the caller's to use */
		if (rv != CKR_OK)
			goto out;
		if (ch_attrs_get(k->attrs, CKA_CH_VERSION) != NULL &&
		    ch_attrs_bool(k->attrs, usage, false) && same_family(k->attrs, fam))
			out->k[out->n++] = k;
		else
			soft_key_release(k);
	}
	rv = CKR_OK;
out:
	free(ids.v);
	if (rv != CKR_OK)
		vset_free(out);
	return rv;
}

/* The primary of given's family (given itself when it is a plain key), read
 * for need (*out: a reference, caller releases; *h its handle; who: the
 * participant as read with it).  CKR_KEY_HANDLE_INVALID when the family has
 * no primary the session can see; CKR_KEY_FUNCTION_NOT_PERMITTED when it is
 * not granted for need. */
static CK_RV family_primary(ch_session *s, CK_OBJECT_HANDLE given_h, const ch_attrs *given,
                            CK_FLAGS need, soft_key **out, CK_OBJECT_HANDLE *h,
                            char who[CH_NAME_MAX + 1])
{
	CK_BYTE fam[CH_FAMILY_ID_LEN];
	CK_OBJECT_HANDLE ph = CK_INVALID_HANDLE;
	soft_id_list ids = { 0 };
	soft_key *k;
	CK_RV rv;

	*out = NULL;
	if (ch_attrs_get(given, CKA_CH_VERSION) == NULL ||
	    ch_attrs_bool(given, CKA_CH_PRIMARY, false)) {
		ph = given_h;
	} else {
		if (ch_key_family(given, fam, NULL) != CKR_OK)
			return CKR_KEY_TYPE_INCONSISTENT;
		if ((rv = label_ids(s, given, &ids)) != CKR_OK)
			goto out;
		for (size_t i = 0; i < ids.n && ph == CK_INVALID_HANDLE; i++) {
			rv = soft_object_read_key(s, (CK_OBJECT_HANDLE)ids.v[i], 0, &k, who);
			if (rv == CKR_OBJECT_HANDLE_INVALID)
				continue;
			if (rv != CKR_OK)
				goto out;
			if (ch_attrs_bool(k->attrs, CKA_CH_PRIMARY, false) &&
			    same_family(k->attrs, fam))
				ph = (CK_OBJECT_HANDLE)ids.v[i];
			soft_key_release(k);
		}
	}
	rv = CKR_KEY_HANDLE_INVALID;
	if (ph == CK_INVALID_HANDLE)
		goto out;
	rv = soft_object_read_key(s, ph, need, out, who);
	if (rv == CKR_OBJECT_HANDLE_INVALID)
		rv = CKR_KEY_HANDLE_INVALID;
	*h = ph;
out:
	free(ids.v);
	return rv;
}

CK_RV soft_vgcm_add_versions(ch_session *s, CK_OBJECT_HANDLE h, const ch_attrs *given, ch_op *op)
{
	vset v;
	CK_RV rv;

	if ((rv = family_usable(s, h, given, CH_GRANT_DECRYPT, CKA_DECRYPT, &v)) != CKR_OK)
		return rv;
	for (size_t i = 0; i < v.n && rv == CKR_OK; i++) {
		/* Only fit keys are in the set; anything else stays out of it. */
		if (ch_op_add_key(op, v.k[i]->attrs) == CKR_HOST_MEMORY)
			rv = CKR_HOST_MEMORY;
	}
	vset_free(&v);
	return rv;
}

/* TRUE when template t asks for a readable key (CKA_SENSITIVE FALSE or
 * CKA_EXTRACTABLE TRUE). */
static bool asks_readable(const CK_ATTRIBUTE *t, CK_ULONG n)
{
	for (CK_ULONG i = 0; i < n; i++) {
		CK_BBOOL b;

		if ((t[i].type != CKA_SENSITIVE && t[i].type != CKA_EXTRACTABLE) ||
		    t[i].pValue == NULL || t[i].ulValueLen != sizeof(b))
			continue;
		b = *(const CK_BBOOL *)t[i].pValue;
		if ((t[i].type == CKA_SENSITIVE && b == CK_FALSE) ||
		    (t[i].type == CKA_EXTRACTABLE && b != CK_FALSE))
			return true;
	}
	return false;
}

CK_RV soft_vgcm_unwrap(ch_session *s, const CK_MECHANISM *m, CK_OBJECT_HANDLE h, const ch_attrs *uk,
                       const CK_ATTRIBUTE *t, CK_ULONG n, const CK_BYTE *in, CK_ULONG in_len,
                       CK_BYTE **out, CK_ULONG *out_len, bool *guard)
{
	char who[CH_NAME_MAX + 1];
	const ch_attrs **more = NULL;
	CK_OBJECT_HANDLE ph = CK_INVALID_HANDLE;
	soft_key *p = NULL;
	vset v = { 0 };
	CK_RV rv;

	*guard = true;
	/* The family's policy is its primary's. */
	if ((rv = family_primary(s, h, uk, 0, &p, &ph, who)) == CKR_OK)
		*guard = !ch_attrs_bool(p->attrs, CKA_CH_DATAKEY_PLAINTEXT, false);
	else if (rv != CKR_KEY_HANDLE_INVALID && rv != CKR_KEY_TYPE_INCONSISTENT)
		goto out;
	rv = CKR_TEMPLATE_INCONSISTENT;
	if (*guard && asks_readable(t, n))
		goto out;
	if ((rv = family_usable(s, h, uk, CH_GRANT_UNWRAP, CKA_UNWRAP, &v)) != CKR_OK)
		goto out;
	rv = CKR_HOST_MEMORY;
	if (v.n > 0 && (more = calloc(v.n, sizeof(*more))) == NULL)
		goto out;
	for (size_t i = 0; i < v.n; i++)
		more[i] = v.k[i]->attrs;
	rv = ch_mech_unwrap_versioned(m, uk, more, v.n, in, in_len, out, out_len);
out:
	free(more);
	vset_free(&v);
	soft_key_release(p);
	return rv;
}

/* The version a versioned ciphertext names (0 when it is too short). */
static CK_ULONG header_version(const CK_BYTE *in, CK_ULONG len)
{
	CK_ULONG v = 0;

	if (in == NULL || len < CH_VERSIONED_HEADER_LEN)
		return 0;
	for (int i = 0; i < 4; i++)
		v = (v << 8) | in[12 + i];
	return v;
}

static void audit_record(ch_session *s, const char *op, const ch_attrs *key, CK_RV rv,
                         const char *detail)
{
	soft_slot *sl = s->slot->be;

	pthread_mutex_lock(&sl->lock);
	soft_audit(sl, sl->seal, sl->participant, op, key, rv, detail);
	pthread_mutex_unlock(&sl->lock);
}

CK_RV soft_rewrap(ch_session *s, const CK_MECHANISM *m, CK_OBJECT_HANDLE key, const CK_BYTE *in,
                  CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	soft_slot *sl = s->slot->be;
	char who[CH_NAME_MAX + 1], pwho[CH_NAME_MAX + 1], detail[64];
	CK_OBJECT_HANDLE ph = CK_INVALID_HANDLE;
	soft_key *k = NULL, *p = NULL;
	ch_op *dop = NULL, *eop = NULL;
	CK_BYTE *plain = NULL;
	CK_ULONG cap = 0, n = 0;
	bool ran = false;
	CK_RV rv;

	if ((rv = soft_may_use_keys(s)) != CKR_OK)
		return rv;
	if (m->mechanism != CKM_CH_AES_GCM_VERSIONED)
		return CKR_MECHANISM_INVALID;
	rv = soft_object_read_key(s, key, CH_GRANT_DECRYPT, &k, who);
	if (rv == CKR_OBJECT_HANDLE_INVALID)
		rv = CKR_KEY_HANDLE_INVALID;
	if (rv != CKR_OK)
		goto out;
	if ((rv = family_primary(s, key, k->attrs, CH_GRANT_ENCRYPT, &p, &ph, pwho)) != CKR_OK)
		goto out;
	/* Both operations as C_DecryptInit and C_EncryptInit would start them. */
	if ((rv = ch_op_init(CH_OP_DECRYPT, m, k->attrs, &dop)) != CKR_OK ||
	    (rv = soft_vgcm_add_versions(s, key, k->attrs, dop)) != CKR_OK ||
	    (rv = ch_op_init(CH_OP_ENCRYPT, m, p->attrs, &eop)) != CKR_OK)
		goto out;
	/* The length: a ciphertext's, as the header and tag stay. */
	if ((rv = ch_op_oneshot(dop, in, in_len, NULL, &cap)) != CKR_OK)
		goto out;
	if (out == NULL) {
		*out_len = in_len;
		goto out;
	}
	if (*out_len < in_len) {
		*out_len = in_len;
		rv = CKR_BUFFER_TOO_SMALL;
		goto out;
	}
	ran = true;
	rv = CKR_HOST_MEMORY;
	if ((plain = OPENSSL_malloc(cap > 0 ? cap : 1)) == NULL)
		goto out;
	n = cap;
	if ((rv = ch_op_oneshot(dop, in, in_len, plain, &n)) != CKR_OK)
		goto out;
	rv = ch_op_oneshot(eop, plain, n, out, out_len);
out:
	if (ran) {
		CK_ULONG to = 1;

		(void)ch_attrs_ulong(p->attrs, CKA_CH_VERSION, &to);
		snprintf(detail, sizeof(detail), "version %lu to %lu",
		         (unsigned long)header_version(in, in_len), (unsigned long)to);
		audit_record(s, "key.rewrap", p->attrs, rv, detail);
		if (rv == CKR_OK && key < SOFT_SESSION_HANDLE_BASE) {
			soft_audit_use_unlocked(sl, k->attrs, who, "key.decrypt");
			soft_audit_use_unlocked(sl, p->attrs, pwho, "key.encrypt");
		}
	}
	OPENSSL_clear_free(plain, cap > 0 ? cap : 1);
	ch_op_free(dop);
	ch_op_free(eop);
	soft_key_release(k);
	soft_key_release(p);
	return rv;
}

CK_RV soft_datakey_generate(ch_session *s, const CK_MECHANISM *m, CK_OBJECT_HANDLE kek,
                            CK_ULONG key_len, CK_BYTE *wrapped, CK_ULONG *wrapped_len,
                            CK_BYTE *plain, CK_ULONG *plain_len)
{
	static const CK_BYTE zero[32];
	CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 };
	char who[CH_NAME_MAX + 1], detail[64];
	CK_OBJECT_HANDLE ph = CK_INVALID_HANDLE;
	soft_key *g = NULL, *p = NULL;
	ch_attrs *dk = NULL;
	const ch_attr *v;
	CK_ULONG need = 0, ver = 1;
	bool allowed, ran = false;
	CK_RV rv;

	if ((rv = soft_may_use_keys(s)) != CKR_OK)
		return rv;
	if (m->mechanism != CKM_CH_AES_GCM_VERSIONED)
		return CKR_MECHANISM_INVALID;
	if (key_len != 16 && key_len != 24 && key_len != 32)
		return CKR_KEY_SIZE_RANGE;
	rv = soft_object_read_key(s, kek, 0, &g, who);
	if (rv == CKR_OBJECT_HANDLE_INVALID)
		rv = CKR_KEY_HANDLE_INVALID;
	if (rv != CKR_OK)
		goto out;
	if ((rv = family_primary(s, kek, g->attrs, CH_GRANT_WRAP, &p, &ph, who)) != CKR_OK)
		goto out;
	allowed = ch_attrs_bool(p->attrs, CKA_CH_DATAKEY_PLAINTEXT, false);
	rv = CKR_KEY_FUNCTION_NOT_PERMITTED;
	if (plain != NULL && !allowed) {
		ran = wrapped != NULL; /* a refused plaintext is recorded */
		goto out;
	}
	/* The wrapped length, with the primary checked as C_WrapKey would. */
	if ((rv = ch_mech_wrap(m, p->attrs, zero, key_len, NULL, &need)) != CKR_OK)
		goto out;
	if (wrapped == NULL || *wrapped_len < need || (plain != NULL && *plain_len < key_len)) {
		rv = wrapped == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
		*wrapped_len = need;
		if (plain_len != NULL)
			*plain_len = allowed ? key_len : 0;
		goto out;
	}
	ran = true;
	rv = CKR_HOST_MEMORY;
	if ((dk = ch_attrs_new()) == NULL)
		goto out;
	if ((rv = ch_attrs_set_ulong(dk, CKA_VALUE_LEN, key_len)) != CKR_OK ||
	    (rv = ch_mech_generate_key(&gen, dk)) != CKR_OK)
		goto out;
	rv = CKR_GENERAL_ERROR;
	if ((v = ch_attrs_get(dk, CKA_VALUE)) == NULL || v->len != key_len)
		goto out;
	if ((rv = ch_mech_wrap(m, p->attrs, v->value, key_len, wrapped, wrapped_len)) != CKR_OK)
		goto out;
	if (plain != NULL)
		memcpy(plain, v->value, key_len);
	if (plain_len != NULL)
		*plain_len = plain != NULL ? key_len : 0;
out:
	if (ran) {
		(void)ch_attrs_ulong(p->attrs, CKA_CH_VERSION, &ver);
		snprintf(detail, sizeof(detail), "%lu-byte data key, version %lu%s",
		         (unsigned long)key_len, (unsigned long)ver,
		         plain == NULL  ? ""
		         : rv == CKR_OK ? ", plaintext returned"
		                        : ", plaintext asked");
		audit_record(s, "key.datakey", p->attrs, rv, detail);
	}
	ch_attrs_free(dk);
	soft_key_release(g);
	soft_key_release(p);
	return rv;
}
