/*
 * Attribute sets (see attrs.h): a sorted array of owned (type, value)
 * pairs.
 *
 * Lookups are a binary search over at most a few dozen entries; inserts
 * shift the tail, which for sets this small costs less than any tree.
 * Every value may be key material, so every value is wiped with
 * OPENSSL_cleanse before it is freed or replaced, on every path, including
 * the failure paths of dup and from_template.
 *
 * The set knows nothing about what an attribute means; the PKCS#11 rules
 * (which types exist, their sizes, who may change them) live in object.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "attrs.h"

#define CH_ATTRS_MIN_CAP 16

/* Wipes and frees one value.  Accepts NULL. */
static void value_free(CK_BYTE *v, CK_ULONG len)
{
	if (v == NULL)
		return;
	OPENSSL_cleanse(v, len);
	free(v);
}

/* Returns a fresh copy of value (NULL when len is 0) in *out.  Returns false
 * when out of memory. */
static bool value_dup(const void *value, CK_ULONG len, CK_BYTE **out)
{
	*out = NULL;
	if (len == 0)
		return true;
	if ((*out = malloc(len)) == NULL)
		return false;
	memcpy(*out, value, len);
	return true;
}

/* Index of type in a, or of the place it would be inserted; *found tells
 * which. */
static size_t find(const ch_attrs *a, CK_ATTRIBUTE_TYPE type, bool *found)
{
	size_t lo = 0, hi = a->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (a->v[mid].type == type) {
			*found = true;
			return mid;
		}
		if (a->v[mid].type < type)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

/* Makes room for one more entry.  Returns false when out of memory (the set
 * is then unchanged). */
static bool reserve(ch_attrs *a)
{
	ch_attr *v;
	size_t cap;

	if (a->n < a->cap)
		return true;
	cap = a->cap ? a->cap * 2 : CH_ATTRS_MIN_CAP;
	if (cap > SIZE_MAX / sizeof(*v))
		return false;
	/* A plain realloc is safe: the array holds pointers, not values. */
	if ((v = realloc(a->v, cap * sizeof(*v))) == NULL)
		return false;
	a->v = v;
	a->cap = cap;
	return true;
}

ch_attrs *ch_attrs_new(void)
{
	return calloc(1, sizeof(ch_attrs));
}

/* Drops the parsed key memo: the values it was parsed from change. */
static void parsed_drop(ch_attrs *a)
{
	for (int i = 0; i < 2; i++) {
		EVP_PKEY_free(a->parsed[i]); /* OpenSSL clears private parts */
		a->parsed[i] = NULL;
	}
}

struct evp_pkey_st *ch_attrs_parsed(const ch_attrs *a, bool priv)
{
	return a->parsed[priv];
}

void ch_attrs_set_parsed(ch_attrs *a, bool priv, struct evp_pkey_st *pkey)
{
	EVP_PKEY_free(a->parsed[priv]);
	a->parsed[priv] = pkey;
}

void ch_attrs_free(ch_attrs *a)
{
	if (a == NULL)
		return;
	parsed_drop(a);
	for (size_t i = 0; i < a->n; i++)
		value_free(a->v[i].value, a->v[i].len);
	free(a->v);
	free(a);
}

ch_attrs *ch_attrs_dup(const ch_attrs *a)
{
	ch_attrs *d = NULL, *ret = NULL;

	if (a == NULL || (d = ch_attrs_new()) == NULL)
		goto out;
	if (a->n != 0) {
		if ((d->v = calloc(a->n, sizeof(*d->v))) == NULL)
			goto out;
		d->cap = a->n;
	}
	for (size_t i = 0; i < a->n; i++) {
		d->v[i].type = a->v[i].type;
		if (!value_dup(a->v[i].value, a->v[i].len, &d->v[i].value))
			goto out;
		d->v[i].len = a->v[i].len;
		d->n++;
	}
	for (int i = 0; i < 2; i++)
		if (a->parsed[i] != NULL && EVP_PKEY_up_ref(a->parsed[i]) == 1)
			d->parsed[i] = a->parsed[i];
	ret = d;
	d = NULL; /* transferred */
out:
	ch_attrs_free(d);
	return ret;
}

const ch_attr *ch_attrs_get(const ch_attrs *a, CK_ATTRIBUTE_TYPE type)
{
	bool found;
	size_t i;

	if (a == NULL)
		return NULL;
	i = find(a, type, &found);
	return found ? &a->v[i] : NULL;
}

CK_RV ch_attrs_set(ch_attrs *a, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len)
{
	CK_BYTE *copy = NULL;
	bool found;
	size_t i;

	if (!value_dup(value, len, &copy))
		return CKR_HOST_MEMORY;
	parsed_drop(a);
	i = find(a, type, &found);
	if (found) {
		value_free(a->v[i].value, a->v[i].len);
	} else {
		if (!reserve(a)) {
			value_free(copy, len);
			return CKR_HOST_MEMORY;
		}
		memmove(&a->v[i + 1], &a->v[i], (a->n - i) * sizeof(*a->v));
		a->n++;
		a->v[i].type = type;
	}
	a->v[i].value = copy;
	a->v[i].len = len;
	return CKR_OK;
}

CK_RV ch_attrs_set_bool(ch_attrs *a, CK_ATTRIBUTE_TYPE type, bool value)
{
	CK_BBOOL b = value ? CK_TRUE : CK_FALSE;

	return ch_attrs_set(a, type, &b, sizeof(b));
}

CK_RV ch_attrs_set_ulong(ch_attrs *a, CK_ATTRIBUTE_TYPE type, CK_ULONG value)
{
	return ch_attrs_set(a, type, &value, sizeof(value));
}

void ch_attrs_remove(ch_attrs *a, CK_ATTRIBUTE_TYPE type)
{
	bool found;
	size_t i;

	if (a == NULL)
		return;
	i = find(a, type, &found);
	if (!found)
		return;
	parsed_drop(a);
	value_free(a->v[i].value, a->v[i].len);
	memmove(&a->v[i], &a->v[i + 1], (a->n - i - 1) * sizeof(*a->v));
	a->n--;
}

bool ch_attrs_bool(const ch_attrs *a, CK_ATTRIBUTE_TYPE type, bool def)
{
	const ch_attr *at = ch_attrs_get(a, type);

	if (at == NULL || at->len != sizeof(CK_BBOOL))
		return def;
	return at->value[0] != CK_FALSE;
}

bool ch_attrs_ulong(const ch_attrs *a, CK_ATTRIBUTE_TYPE type, CK_ULONG *out)
{
	const ch_attr *at = ch_attrs_get(a, type);

	if (at == NULL || at->len != sizeof(CK_ULONG))
		return false;
	memcpy(out, at->value, sizeof(CK_ULONG));
	return true;
}

CK_RV ch_attrs_from_template(const CK_ATTRIBUTE *t, CK_ULONG n, ch_attrs **out)
{
	ch_attrs *a = NULL;
	CK_RV rv = CKR_HOST_MEMORY;

	*out = NULL;
	if (n != 0 && t == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if ((a = ch_attrs_new()) == NULL)
		goto out;
	for (CK_ULONG i = 0; i < n; i++) {
		if (t[i].pValue == NULL && t[i].ulValueLen != 0) {
			rv = CKR_ATTRIBUTE_VALUE_INVALID;
			goto out;
		}
		if (ch_attrs_get(a, t[i].type) != NULL) {
			rv = CKR_TEMPLATE_INCONSISTENT;
			goto out;
		}
		if ((rv = ch_attrs_set(a, t[i].type, t[i].pValue, t[i].ulValueLen)) != CKR_OK)
			goto out;
	}
	*out = a;
	a = NULL; /* transferred */
	rv = CKR_OK;
out:
	ch_attrs_free(a);
	return rv;
}

bool ch_attrs_match(const ch_attrs *a, const CK_ATTRIBUTE *t, CK_ULONG n)
{
	if (n != 0 && t == NULL)
		return false;
	for (CK_ULONG i = 0; i < n; i++) {
		const ch_attr *at = ch_attrs_get(a, t[i].type);

		if (at == NULL || at->len != t[i].ulValueLen)
			return false;
		/* Values may be key material: compare in constant time. */
		if (at->len != 0 &&
		    (t[i].pValue == NULL || CRYPTO_memcmp(at->value, t[i].pValue, at->len) != 0))
			return false;
	}
	return true;
}
