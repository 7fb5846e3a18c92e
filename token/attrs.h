/*
 * An attribute set: the in-memory form of one object's attributes.
 *
 * Every object in the token, session or token, is a ch_attrs: a small array
 * of (type, value) pairs kept sorted by type, so lookups are a binary search
 * and two sets can be compared or serialised in a canonical order (the store
 * MACs that order).  Values are owned copies; since any of them may be key
 * material, every value is wiped before it is freed.
 *
 * Objects have a few dozen attributes at most, so a sorted array beats any
 * hash table here in both speed and memory.
 */
#ifndef CH_TOKEN_ATTRS_H
#define CH_TOKEN_ATTRS_H

#include <stdbool.h>
#include <stddef.h>

#include "cipherhub/pkcs11.h"

typedef struct ch_attr {
	CK_ATTRIBUTE_TYPE type;
	CK_BYTE *value; /* owned; NULL when len == 0 */
	CK_ULONG len;
} ch_attr;

struct evp_pkey_st; /* OpenSSL's EVP_PKEY, opaque here */

typedef struct ch_attrs {
	ch_attr *v; /* sorted by type, no duplicates */
	size_t n;
	size_t cap;
	/* The key parsed from these values, public [0] or private [1], when the
	 * key cache asked for it (ch_key_parse); shared by copies (reference
	 * counted), dropped by any change to the set. */
	struct evp_pkey_st *parsed[2];
} ch_attrs;

/* Returns a new empty set, or NULL when out of memory.  Caller frees. */
ch_attrs *ch_attrs_new(void);

/* Wipes every value and frees the set.  Accepts NULL. */
void ch_attrs_free(ch_attrs *a);

/* Returns a deep copy of a, or NULL when out of memory.  Caller frees. */
ch_attrs *ch_attrs_dup(const ch_attrs *a);

/* The parsed key memo of a (see ch_attrs.parsed), or NULL; not a new
 * reference.  Valid until the set is next changed or freed. */
struct evp_pkey_st *ch_attrs_parsed(const ch_attrs *a, bool priv);

/* Sets the parsed key memo of a, taking ownership of pkey (NULL clears). */
void ch_attrs_set_parsed(ch_attrs *a, bool priv, struct evp_pkey_st *pkey);

/* Returns the attribute of that type, or NULL.  The pointer stays valid until
 * the set is next changed. */
const ch_attr *ch_attrs_get(const ch_attrs *a, CK_ATTRIBUTE_TYPE type);

/* Sets (adds or replaces) an attribute with a copy of value.  The old value is
 * wiped.  Returns CKR_OK or CKR_HOST_MEMORY (the set is then unchanged). */
CK_RV ch_attrs_set(ch_attrs *a, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len);

/* Convenience setters for CK_BBOOL and CK_ULONG attributes. */
CK_RV ch_attrs_set_bool(ch_attrs *a, CK_ATTRIBUTE_TYPE type, bool value);
CK_RV ch_attrs_set_ulong(ch_attrs *a, CK_ATTRIBUTE_TYPE type, CK_ULONG value);

/* Removes (and wipes) an attribute; no-op when absent. */
void ch_attrs_remove(ch_attrs *a, CK_ATTRIBUTE_TYPE type);

/* Reads a CK_BBOOL attribute: returns def when absent or malformed. */
bool ch_attrs_bool(const ch_attrs *a, CK_ATTRIBUTE_TYPE type, bool def);

/* Reads a CK_ULONG attribute into *out.  Returns false when absent or not
 * sizeof(CK_ULONG) long (then *out is untouched). */
bool ch_attrs_ulong(const ch_attrs *a, CK_ATTRIBUTE_TYPE type, CK_ULONG *out);

/* Builds a set from a caller's template.  Duplicate types: the template is
 * inconsistent (CKR_TEMPLATE_INCONSISTENT).  A NULL pValue with a non-zero
 * length is CKR_ATTRIBUTE_VALUE_INVALID.  Returns CKR_OK with *out set, or an
 * error with *out NULL. */
CK_RV ch_attrs_from_template(const CK_ATTRIBUTE *t, CK_ULONG n, ch_attrs **out);

/* True when every attribute of the template t is present in a with the same
 * value (the C_FindObjects matching rule). */
bool ch_attrs_match(const ch_attrs *a, const CK_ATTRIBUTE *t, CK_ULONG n);

#endif
