/*
 * The token-facing store (see objstore.h): sealing policy, object MACs and
 * blind indexes on the way in, verification on the way out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "log.h"
#include "object.h"
#include "objstore.h"

/* Attributes never sealed: the store needs them to filter, and they say
 * nothing about the object's content. */
static bool structural(CK_ATTRIBUTE_TYPE type)
{
	return type == CKA_CLASS || type == CKA_TOKEN || type == CKA_PRIVATE;
}

/* Attributes a find pre-filters on in SQL: byte strings and CK_ULONGs whose
 * stored form is exactly what a template gives.  Everything else (booleans,
 * which a template may give as any non-zero byte; key material, which has no
 * blind index) is left to the in-memory match. */
static bool prefilter(CK_ATTRIBUTE_TYPE type)
{
	switch (type) {
	case CKA_CLASS:
	case CKA_KEY_TYPE:
	case CKA_CERTIFICATE_TYPE:
	case CKA_LABEL:
	case CKA_ID:
	case CKA_APPLICATION:
	case CKA_OBJECT_ID:
	case CKA_SUBJECT:
	case CKA_ISSUER:
	case CKA_SERIAL_NUMBER:
	case CKA_UNIQUE_ID:
		return true;
	default:
		return false;
	}
}

static void rows_to_stored(const ch_rows *r, ch_stored_attr *out)
{
	for (size_t i = 0; i < r->n; i++) {
		out[i].type = r->v[i].type;
		out[i].sealed = r->v[i].sealed;
		out[i].value = r->v[i].value;
		out[i].len = r->v[i].len;
	}
}

/* The object MAC: every stored row, then the owner as a pseudo row (vendor
 * types sort after every standard attribute). */
static CK_RV rows_mac(const ch_seal *seal, const ch_rows *r, uint8_t mac[CH_MAC_LEN])
{
	ch_stored_attr *stored = calloc(r->n + 1, sizeof(*stored));
	CK_RV rv;

	if (stored == NULL)
		return CKR_HOST_MEMORY;
	rows_to_stored(r, stored);
	stored[r->n].type = CKA_CH_OWNER;
	stored[r->n].value = (const uint8_t *)r->owner;
	stored[r->n].len = strlen(r->owner);
	rv = ch_seal_mac(seal, (uint64_t)r->id, stored, r->n + 1, mac);
	free(stored);
	return rv;
}

CK_RV ch_objstore_save(ch_store *st, const ch_seal *seal, int64_t reg, const ch_attrs *a,
                       const char *owner, int64_t *id)
{
	ch_rows r;
	bool priv = ch_object_is_private(a);
	CK_RV rv = CKR_HOST_MEMORY;

	memset(&r, 0, sizeof(r));
	if (seal == NULL)
		return CKR_USER_NOT_LOGGED_IN;
	if ((r.v = calloc(a->n ? a->n : 1, sizeof(*r.v))) == NULL)
		goto out;
	if (*id == 0) {
		if ((rv = ch_store_obj_new(st, reg, priv, owner, id)) != CKR_OK)
			goto out;
		snprintf(r.owner, sizeof(r.owner), "%s", owner);
	} else {
		/* A rewrite keeps the creator the store holds. */
		ch_rows *old = NULL;

		if ((rv = ch_store_obj_load(st, *id, &old)) != CKR_OK)
			goto out;
		memcpy(r.owner, old->owner, sizeof(r.owner));
		ch_rows_free(old);
	}
	r.id = *id;
	r.reg = reg;
	r.private_ = priv;
	for (size_t i = 0; i < a->n; i++) {
		const ch_attr *at = &a->v[i];
		ch_row *row = &r.v[r.n++];
		bool secret = ch_object_attr_is_secret(a, at->type);

		row->type = at->type;
		row->sealed = secret || (priv && !structural(at->type));
		if (!row->sealed) {
			row->len = at->len;
			if (at->len != 0) {
				if ((row->value = malloc(at->len)) == NULL) {
					rv = CKR_HOST_MEMORY;
					goto out;
				}
				memcpy(row->value, at->value, at->len);
			}
			continue;
		}
		rv = ch_seal_encrypt(seal, (uint64_t)r.id, at->type, at->value, at->len,
		                     &row->value, &row->len);
		if (rv != CKR_OK)
			goto out;
		if (!secret) {
			rv = ch_seal_lookup(seal, at->type, at->value, at->len, row->lookup);
			if (rv != CKR_OK)
				goto out;
			row->has_lookup = 1;
		}
	}
	if ((rv = rows_mac(seal, &r, r.mac)) != CKR_OK)
		goto out;
	rv = ch_store_obj_write(st, &r);
out:
	for (size_t i = 0; i < r.n; i++)
		free(r.v[i].value); /* public or sealed: nothing to wipe */
	free(r.v);
	return rv;
}

static CK_RV tampered(int64_t reg, int64_t id, const char *what)
{
	ch_log(CH_LOG_ERROR, "object %lld of registration %lld failed its integrity check (%s)",
	       (long long)id, (long long)reg, what);
	return CKR_DEVICE_ERROR;
}

CK_RV ch_objstore_load(ch_store *st, const ch_seal *seal, int64_t reg, int64_t id, ch_attrs **out,
                       char owner[CH_NAME_MAX + 1])
{
	return ch_objstore_load_gen(st, seal, reg, id, out, owner, NULL);
}

CK_RV ch_objstore_load_gen(ch_store *st, const ch_seal *seal, int64_t reg, int64_t id,
                           ch_attrs **out, char owner[CH_NAME_MAX + 1], int64_t *gen)
{
	ch_rows *r = NULL;
	ch_attrs *a = NULL;
	uint8_t mac[CH_MAC_LEN], *plain = NULL;
	size_t plain_len = 0;
	CK_RV rv;

	*out = NULL;
	if ((rv = ch_store_obj_load(st, id, &r)) != CKR_OK)
		goto out;
	if (r->reg != reg || (r->private_ && seal == NULL)) {
		rv = CKR_OBJECT_HANDLE_INVALID;
		goto out;
	}
	if (seal != NULL) {
		if ((rv = rows_mac(seal, r, mac)) != CKR_OK)
			goto out;
		if (CRYPTO_memcmp(mac, r->mac, CH_MAC_LEN) != 0) {
			rv = tampered(reg, id, "object MAC mismatch");
			goto out;
		}
	}
	rv = CKR_HOST_MEMORY;
	if ((a = ch_attrs_new()) == NULL)
		goto out;
	for (size_t i = 0; i < r->n; i++) {
		const ch_row *row = &r->v[i];

		if (!row->sealed) {
			rv = ch_attrs_set(a, row->type, row->value, row->len);
		} else if (seal == NULL) {
			continue; /* secret material of a public object: needs a login */
		} else {
			rv = ch_seal_decrypt(seal, (uint64_t)id, row->type, row->value, row->len,
			                     &plain, &plain_len);
			if (rv == CKR_DEVICE_ERROR) {
				rv = tampered(reg, id, "sealed value does not open");
				goto out;
			}
			if (rv == CKR_OK)
				rv = ch_attrs_set(a, row->type, plain, plain_len);
			if (plain != NULL) {
				memset(plain, 0, plain_len);
				free(plain);
				plain = NULL;
			}
		}
		if (rv != CKR_OK)
			goto out;
	}
	if (ch_object_is_private(a) != (r->private_ != 0)) {
		rv = tampered(reg, id, "privacy flag mismatch");
		goto out;
	}
	if (owner != NULL)
		memcpy(owner, r->owner, CH_NAME_MAX + 1);
	if (gen != NULL)
		*gen = r->gen;
	*out = a;
	a = NULL; /* transferred */
	rv = CKR_OK;
out:
	ch_attrs_free(a);
	ch_rows_free(r);
	return rv;
}

CK_RV ch_objstore_grant_mac(const ch_seal *seal, int64_t id, const char *grantee, CK_FLAGS ops,
                            uint8_t mac[CH_MAC_LEN])
{
	uint8_t buf[CH_GRANTEE_MAX + 1 + 8];
	size_t n = strnlen(grantee, CH_GRANTEE_MAX);
	ch_stored_attr row = { .type = CKA_CH_GRANT_TAG, .value = buf, .len = n + 1 + 8 };

	memcpy(buf, grantee, n);
	buf[n] = 0;
	for (int i = 0; i < 8; i++)
		buf[n + 1 + i] = (uint8_t)((uint64_t)ops >> (56 - 8 * i));
	return ch_seal_mac(seal, (uint64_t)id, &row, 1, mac);
}

CK_RV ch_objstore_find(ch_store *st, const ch_seal *seal, int64_t reg, bool with_private,
                       const CK_ATTRIBUTE *t, CK_ULONG n, int (*fn)(void *arg, int64_t id),
                       void *arg)
{
	ch_find_cond *c = calloc(n ? n : 1, sizeof(*c));
	uint8_t(*lookup)[CH_LOOKUP_LEN] = calloc(n ? n : 1, CH_LOOKUP_LEN);
	size_t k = 0;
	CK_RV rv = CKR_HOST_MEMORY;

	if (c == NULL || lookup == NULL)
		goto out;
	for (CK_ULONG i = 0; i < n; i++) {
		if (!prefilter(t[i].type) || t[i].pValue == NULL ||
		    t[i].ulValueLen == CK_UNAVAILABLE_INFORMATION)
			continue;
		c[k].type = t[i].type;
		c[k].value = t[i].pValue;
		c[k].len = t[i].ulValueLen;
		if (seal != NULL) {
			rv = ch_seal_lookup(seal, t[i].type, t[i].pValue, t[i].ulValueLen,
			                    lookup[k]);
			if (rv != CKR_OK)
				goto out;
			c[k].lookup = lookup[k];
		}
		k++;
	}
	rv = ch_store_find(st, reg, with_private, c, k, fn, arg);
out:
	free(c);
	free(lookup);
	return rv;
}
