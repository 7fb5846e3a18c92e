/*
 * Secrets (issue 8, point 6): named, versioned stored secrets such as API
 * keys and database credentials, under the grants and audit of keys.
 *
 * A secret version is a token data object, private, with CKA_APPLICATION
 * CH_SECRET_APPLICATION, its name in CKA_LABEL and its bytes in CKA_VALUE
 * (sealed like every private attribute, without a blind index: object.c
 * counts it as key material).  Its versions are a family of soft_version.c,
 * which makes new versions (C_CreateObject with CKA_CH_NEW_VERSION, one
 * compare-and-commit transaction), retires and destroys them.  This file
 * holds the two things that are a secret's own:
 *
 *  - the first version: C_CreateObject of a name no secret has yet, checked
 *    and stored in one transaction, so two racing puts make one secret;
 *  - reading the value: CKA_VALUE leaves the token only for a logged-in
 *    participant (CKU_USER) that created the secret or holds a
 *    CH_GRANT_READ grant on that version (a grant naming it or one of its
 *    roles), and only from a version that is active or previous and not
 *    below the minimum version; everything else is CKR_ATTRIBUTE_SENSITIVE.
 *    Who does not see private objects at all is decided before, by
 *    soft_object.c (a grant, or the operator role).  Every read that hands
 *    out the value, and every refused one, writes an audit record
 *    (secret.read, with the version's CKA_UNIQUE_ID and never the value):
 *    a plain record, not the key-use aggregator, since a read is an event to
 *    trace one by one and rare next to key use.
 *
 * Workload: an application reads a secret at start-up or on rotation; puts
 * and rotations are an operator's.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "object.h"
#include "objstore.h"
#include "soft_internal.h"

static soft_slot *slot_of(ch_session *s)
{
	return s->slot->be;
}

static CK_ULONG ulong_or(const ch_attrs *a, CK_ATTRIBUTE_TYPE type, CK_ULONG def)
{
	CK_ULONG v;

	return ch_attrs_ulong(a, type, &v) ? v : def;
}

/* "NAME version N" for the audit record's detail. */
static void detail_of(const ch_attrs *a, char out[64])
{
	const ch_attr *label = ch_attrs_get(a, CKA_LABEL);

	snprintf(out, 64, "%.*s version %lu",
	         label != NULL && label->len < 40 ? (int)label->len : 40,
	         label != NULL ? (const char *)label->value : "",
	         (unsigned long)ulong_or(a, CKA_CH_VERSION, 1));
}

/* ---- the first version ---- */

typedef struct put_ctx {
	ch_attrs *a;
	int64_t id; /* out */
} put_ctx;

static CK_RV put_txn(soft_slot *sl, void *arg)
{
	put_ctx *c = arg;
	size_t n = 0;
	CK_RV rv;

	if ((rv = soft_version_family_size(sl, c->a, &n)) != CKR_OK)
		return rv;
	if (n != 0)
		return CKR_ACTION_PROHIBITED; /* the name is taken: CKA_CH_NEW_VERSION */
	if ((rv = ch_attrs_set_ulong(c->a, CKA_CH_VERSION, 1)) != CKR_OK ||
	    (rv = ch_attrs_set_ulong(c->a, CKA_CH_STATE, CH_KEY_STATE_ACTIVE)) != CKR_OK ||
	    (rv = ch_attrs_set_bool(c->a, CKA_CH_PRIMARY, true)) != CKR_OK ||
	    (rv = ch_attrs_set_ulong(c->a, CKA_CH_MIN_DECRYPT_VERSION, 1)) != CKR_OK ||
	    (rv = ch_attrs_set_ulong(c->a, CKA_CH_CREATED, (CK_ULONG)time(NULL))) != CKR_OK)
		return rv;
	c->id = 0;
	return ch_objstore_save(sl->sf->store, sl->seal, (int64_t)sl->id, c->a, sl->participant,
	                        &c->id);
}

CK_RV soft_secret_put(ch_session *s, ch_attrs *a, CK_OBJECT_HANDLE *h)
{
	soft_slot *sl = slot_of(s);
	CK_USER_TYPE user = ch_session_user(s); /* before the slot lock: lock order */
	CK_FLAGS roles = ch_session_roles(s);
	put_ctx c = { .a = a };
	char detail[64];
	CK_RV rv;

	pthread_mutex_lock(&sl->lock);
	/* As soft_object_add for a token object. */
	rv = CKR_SESSION_READ_ONLY;
	if (!ch_session_rw(s))
		goto out;
	rv = CKR_USER_NOT_LOGGED_IN;
	if (user != CKU_USER || sl->seal == NULL)
		goto out;
	rv = CKR_ACTION_PROHIBITED;
	if (!(roles & CH_ROLE_OPERATOR))
		goto out;
	/* A secret is found by its name: one without is no secret. */
	rv = CKR_TEMPLATE_INCOMPLETE;
	if (ch_attrs_get(a, CKA_LABEL) == NULL || ch_attrs_get(a, CKA_LABEL)->len == 0)
		goto out;
	if ((rv = soft_set_unique_id(a)) != CKR_OK)
		goto out;
	if ((rv = soft_txn(sl, put_txn, &c)) == CKR_OK) {
		*h = (CK_OBJECT_HANDLE)c.id;
		ch_log(CH_LOG_INFO, "registration \"%s\": %s stored a new secret", sl->reg.label,
		       sl->participant);
	}
	detail_of(a, detail);
	soft_audit(sl, sl->seal, sl->participant, "secret.put", a, rv, detail);
out:
	pthread_mutex_unlock(&sl->lock);
	ch_attrs_free(a);
	return rv;
}

/* ---- reading the value ---- */

/* May a version in this state hand out its value?  A secret that is no
 * version (none is made so) counts as active. */
static bool state_readable(const ch_attrs *a)
{
	CK_ULONG st = ulong_or(a, CKA_CH_STATE, CH_KEY_STATE_ACTIVE);

	return (st == CH_KEY_STATE_ACTIVE || st == CH_KEY_STATE_DECRYPT_ONLY) &&
	       ulong_or(a, CKA_CH_VERSION, 1) >= ulong_or(a, CKA_CH_MIN_DECRYPT_VERSION, 1);
}

/* Steps 3 to 5 of C_GetAttributeValue (spec 5.7.5) for the value v. */
static CK_RV value_out(CK_ATTRIBUTE *t, const ch_attr *v)
{
	if (t->pValue == NULL) {
		t->ulValueLen = v->len;
		return CKR_OK;
	}
	if (t->ulValueLen < v->len) {
		t->ulValueLen = CK_UNAVAILABLE_INFORMATION;
		return CKR_BUFFER_TOO_SMALL;
	}
	if (v->len != 0)
		memcpy(t->pValue, v->value, v->len);
	t->ulValueLen = v->len;
	return CKR_OK;
}

CK_RV soft_secret_get(soft_slot *sl, const soft_actor *ac, int64_t id, const ch_attrs *a,
                      const char *owner, CK_ATTRIBUTE *t, CK_ULONG n)
{
	const ch_attr *value = ch_attrs_get(a, CKA_VALUE);
	bool asked = false, may = false, read = false, refused = false;
	char detail[64];
	CK_RV ret = CKR_OK, rv;

	for (CK_ULONG i = 0; i < n && !asked; i++)
		asked = t[i].type == CKA_VALUE;
	if (asked && ac->user == CKU_USER && sl->seal != NULL && state_readable(a) &&
	    value != NULL) {
		pthread_mutex_lock(&sl->sf->lock);
		may = soft_grant_allows(sl, ac->roles, id, owner, CH_GRANT_READ);
		pthread_mutex_unlock(&sl->sf->lock);
	}
	for (CK_ULONG i = 0; i < n; i++) {
		if (t[i].type != CKA_VALUE) {
			/* object.c hides CKA_VALUE; the rest as for any object. */
			rv = ch_object_get(a, &t[i], 1);
		} else if (!may) {
			t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = CKR_ATTRIBUTE_SENSITIVE;
			refused = true;
		} else {
			rv = value_out(&t[i], value);
			read = read || (rv == CKR_OK && t[i].pValue != NULL);
		}
		if (ret == CKR_OK)
			ret = rv;
	}
	/* A length query hands nothing out: only the read, or its refusal. */
	if (read || refused) {
		detail_of(a, detail);
		soft_audit(sl, sl->seal, sl->participant, "secret.read", a,
		           read ? CKR_OK : CKR_ATTRIBUTE_SENSITIVE, detail);
	}
	return ret;
}
