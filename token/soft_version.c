/*
 * Key families and versions (issue 8): rotation, retiring, and the rules
 * that make a stock PKCS#11 client see only the current key.
 *
 * A family is the token keys of one class that share a CKA_LABEL in a
 * registration; each version is its own object carrying the vendor
 * attributes of cipherhub/vendor.h (version, state, primary, minimum
 * decryption version, creation time, the usage it was made with).  A key
 * without them is a plain key; the first rotation or retirement makes it
 * version 1 ("adopts" it) and leaves its own CKA_ID alone; later versions get
 * a CKA_ID of the family id (8 bytes from version 1's CKA_UNIQUE_ID) and
 * their number (4 bytes, big endian).
 *
 * What a version may do is written into its usage attributes themselves, so
 * every other part of the token (op init, wrap, derive, C_FindObjects) asks
 * CKA_ENCRYPT and friends as it always did: only the primary, while active,
 * keeps CKA_ENCRYPT, CKA_SIGN, CKA_SIGN_RECOVER, CKA_WRAP and CKA_DERIVE;
 * every version that is neither disabled, destroyed nor below the family's
 * minimum decryption version keeps CKA_DECRYPT, CKA_VERIFY,
 * CKA_VERIFY_RECOVER and CKA_UNWRAP.  CKA_CH_USAGE keeps what the version
 * was made with, so enabling it again (or making it primary) restores it;
 * object.c makes the usage attributes, label and ID of a version read-only.
 *
 * Every change here is one store transaction that re-reads the family inside
 * it: a rotation commits only if the primary it started from is still the
 * primary, so rotations racing in several processes (cipherhub rotate --due
 * on several hosts) make one new version.
 *
 * Secrets (issue 8, soft_secret.c) are families too: the data objects of
 * one CKA_LABEL and CKA_APPLICATION CH_SECRET_APPLICATION.  They have no
 * usage attributes and no CKA_ID; the rest (versions, states, primary,
 * minimum version, the transaction, grants carried over, retiring) is the
 * same code.
 *
 * Workload: rare (an operator or a timer); a family is a handful of
 * objects, read whole on every change.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "object.h"
#include "objstore.h"
#include "soft_internal.h"

/* The most versions a family may have (each rotation adds one). */
#define FAMILY_MAX 1024

/* The usage attributes, their CH_USAGE_* bit, and whether they start
 * something new (primary only) or finish what was started (every live
 * version). */
static const struct {
	CK_ATTRIBUTE_TYPE type;
	CK_FLAGS bit;
	bool starts;
} usage[] = {
	{ CKA_ENCRYPT, CH_USAGE_ENCRYPT, true },
	{ CKA_DECRYPT, CH_USAGE_DECRYPT, false },
	{ CKA_SIGN, CH_USAGE_SIGN, true },
	{ CKA_VERIFY, CH_USAGE_VERIFY, false },
	{ CKA_WRAP, CH_USAGE_WRAP, true },
	{ CKA_UNWRAP, CH_USAGE_UNWRAP, false },
	{ CKA_DERIVE, CH_USAGE_DERIVE, true },
	{ CKA_SIGN_RECOVER, CH_USAGE_SIGN_RECOVER, true },
	{ CKA_VERIFY_RECOVER, CH_USAGE_VERIFY_RECOVER, false },
};
#define N_USAGE (sizeof(usage) / sizeof(usage[0]))

static soft_slot *slot_of(ch_session *s)
{
	return s->slot->be;
}

static CK_ULONG ulong_or(const ch_attrs *a, CK_ATTRIBUTE_TYPE type, CK_ULONG def)
{
	CK_ULONG v;

	return ch_attrs_ulong(a, type, &v) ? v : def;
}

static bool is_version(const ch_attrs *a)
{
	return ch_attrs_get(a, CKA_CH_VERSION) != NULL;
}

static bool is_key(const ch_attrs *a)
{
	CK_OBJECT_CLASS cls = ch_object_class(a);

	return cls == CKO_SECRET_KEY || cls == CKO_PRIVATE_KEY || cls == CKO_PUBLIC_KEY;
}

/* What may be a version: a key, or a secret (a data object). */
static bool is_member(const ch_attrs *a)
{
	return is_key(a) || ch_object_is_secret(a);
}

/* The usage attributes a has now, as CH_USAGE_* bits. */
static CK_FLAGS usage_of(const ch_attrs *a)
{
	CK_FLAGS f = 0;

	for (size_t i = 0; i < N_USAGE; i++)
		if (ch_attrs_bool(a, usage[i].type, false))
			f |= usage[i].bit;
	return f;
}

/* Writes what version a may do into its usage attributes (see the top). */
static CK_RV usage_apply(ch_attrs *a)
{
	CK_ULONG st = ulong_or(a, CKA_CH_STATE, CH_KEY_STATE_ACTIVE);
	CK_ULONG ver = ulong_or(a, CKA_CH_VERSION, 1);
	CK_ULONG min = ulong_or(a, CKA_CH_MIN_DECRYPT_VERSION, 1);
	CK_FLAGS made = ulong_or(a, CKA_CH_USAGE, 0);
	bool starts = ch_attrs_bool(a, CKA_CH_PRIMARY, false) && st == CH_KEY_STATE_ACTIVE;
	bool finishes =
	        (st == CH_KEY_STATE_ACTIVE || st == CH_KEY_STATE_DECRYPT_ONLY) && ver >= min;
	CK_RV rv;

	for (size_t i = 0; i < N_USAGE; i++) {
		if (ch_attrs_get(a, usage[i].type) == NULL)
			continue; /* not an attribute of this class */
		rv = ch_attrs_set_bool(a, usage[i].type,
		                       (made & usage[i].bit) &&
		                               (usage[i].starts ? starts : finishes));
		if (rv != CKR_OK)
			return rv;
	}
	return CKR_OK;
}

static CK_ULONG now_seconds(void)
{
	return (CK_ULONG)time(NULL);
}

void soft_version_stamp(ch_attrs *a)
{
	if (is_key(a) && ch_object_is_token(a) && ch_attrs_get(a, CKA_CH_CREATED) == NULL)
		(void)ch_attrs_set_ulong(a, CKA_CH_CREATED, now_seconds());
}

bool soft_version_asked(const CK_ATTRIBUTE *t, CK_ULONG n)
{
	for (CK_ULONG i = 0; t != NULL && i < n; i++)
		if (t[i].type == CKA_CH_NEW_VERSION && t[i].pValue != NULL &&
		    t[i].ulValueLen == sizeof(CK_BBOOL) &&
		    *(const CK_BBOOL *)t[i].pValue != CK_FALSE)
			return true;
	return false;
}

/* ---- a family, read inside a transaction ---- */

typedef struct member {
	int64_t id;
	ch_attrs *a;
	char owner[CH_NAME_MAX + 1];
	bool dirty; /* changed: write it back */
} member;

typedef struct family {
	member *m;
	size_t n;
	soft_id_list ids; /* what the search found */
} family;

static void family_free(family *f)
{
	for (size_t i = 0; i < f->n; i++)
		ch_attrs_free(f->m[i].a);
	free(f->m);
	free(f->ids.v);
	memset(f, 0, sizeof(*f));
}

/* Reads every token key of class cls labelled label (versions and plain
 * keys), or for CKO_DATA every secret so named, into f.  Slot lock and
 * store transaction held. */
static CK_RV family_load(soft_slot *sl, CK_OBJECT_CLASS cls, const ch_attr *label, family *f)
{
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, label->value, label->len },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_APPLICATION, CH_SECRET_APPLICATION, sizeof(CH_SECRET_APPLICATION) - 1 },
	};
	CK_ULONG nt = cls == CKO_DATA ? 4 : 3;
	CK_RV rv;

	memset(f, 0, sizeof(*f));
	rv = ch_objstore_find(sl->sf->store, sl->seal, (int64_t)sl->id, true, t, nt,
	                      soft_collect_id, &f->ids);
	if (rv == CKR_OK && f->ids.oom)
		rv = CKR_HOST_MEMORY;
	if (rv == CKR_OK && f->ids.n > FAMILY_MAX)
		rv = CKR_DEVICE_MEMORY; /* more versions than one family may hold */
	if (rv != CKR_OK)
		return rv;
	if ((f->m = calloc(f->ids.n ? f->ids.n : 1, sizeof(*f->m))) == NULL)
		return CKR_HOST_MEMORY;
	for (size_t i = 0; i < f->ids.n; i++) {
		member *m = &f->m[f->n];

		rv = ch_objstore_load(sl->sf->store, sl->seal, (int64_t)sl->id, f->ids.v[i], &m->a,
		                      m->owner);
		if (rv == CKR_OBJECT_HANDLE_INVALID)
			continue;
		if (rv != CKR_OK)
			return rv;
		if (!ch_object_match(m->a, t, nt)) {
			ch_attrs_free(m->a);
			m->a = NULL;
			continue;
		}
		m->id = f->ids.v[i];
		f->n++;
	}
	return CKR_OK;
}

static member *family_find(family *f, int64_t id)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->m[i].id == id)
			return &f->m[i];
	return NULL;
}

/* The family's primary, or NULL when it has no versions yet. */
static member *family_primary(family *f)
{
	for (size_t i = 0; i < f->n; i++)
		if (is_version(f->m[i].a) && ch_attrs_bool(f->m[i].a, CKA_CH_PRIMARY, false))
			return &f->m[i];
	return NULL;
}

static bool family_has_versions(const family *f)
{
	for (size_t i = 0; i < f->n; i++)
		if (is_version(f->m[i].a))
			return true;
	return false;
}

static CK_ULONG family_max_version(const family *f)
{
	CK_ULONG max = 0;

	for (size_t i = 0; i < f->n; i++)
		if (is_version(f->m[i].a) && ulong_or(f->m[i].a, CKA_CH_VERSION, 0) > max)
			max = ulong_or(f->m[i].a, CKA_CH_VERSION, 0);
	return max;
}

/* Makes plain key m version 1 and the primary of its family. */
static CK_RV adopt(member *m)
{
	ch_attrs *a = m->a;
	CK_RV rv;

	if ((rv = ch_attrs_set_ulong(a, CKA_CH_VERSION, 1)) != CKR_OK ||
	    (rv = ch_attrs_set_ulong(a, CKA_CH_STATE, CH_KEY_STATE_ACTIVE)) != CKR_OK ||
	    (rv = ch_attrs_set_bool(a, CKA_CH_PRIMARY, true)) != CKR_OK ||
	    (is_key(a) && (rv = ch_attrs_set_ulong(a, CKA_CH_USAGE, usage_of(a))) != CKR_OK) ||
	    (rv = ch_attrs_set_ulong(a, CKA_CH_MIN_DECRYPT_VERSION, 1)) != CKR_OK)
		return rv;
	if (ch_attrs_get(a, CKA_CH_CREATED) == NULL &&
	    (rv = ch_attrs_set_ulong(a, CKA_CH_CREATED, now_seconds())) != CKR_OK)
		return rv;
	m->dirty = true;
	return CKR_OK;
}

/* The member a lifecycle call on object id acts on: a version, or a plain
 * key of a family without versions (adopted here).  A plain key beside a
 * family that has versions is in no family: CKR_ACTION_PROHIBITED. */
static CK_RV family_member(family *f, int64_t id, member **out)
{
	member *m = family_find(f, id);

	*out = NULL;
	if (m == NULL)
		return CKR_KEY_HANDLE_INVALID;
	if (!is_version(m->a)) {
		CK_RV rv;

		if (family_has_versions(f))
			return CKR_ACTION_PROHIBITED;
		if ((rv = adopt(m)) != CKR_OK)
			return rv;
	}
	*out = m;
	return CKR_OK;
}

/* Writes back every changed member.  Slot lock and transaction held. */
static CK_RV family_save(soft_slot *sl, family *f)
{
	CK_RV rv;

	for (size_t i = 0; i < f->n; i++) {
		member *m = &f->m[i];

		if (!m->dirty)
			continue;
		if ((rv = usage_apply(m->a)) != CKR_OK)
			return rv;
		soft_keycache_drop(sl, m->id);
		if ((rv = ch_objstore_save(sl->sf->store, sl->seal, (int64_t)sl->id, m->a, m->owner,
		                           &m->id)) != CKR_OK)
			return rv;
	}
	return CKR_OK;
}

CK_RV soft_version_family_size(soft_slot *sl, const ch_attrs *a, size_t *n)
{
	const ch_attr *label = ch_attrs_get(a, CKA_LABEL);
	family f;
	CK_RV rv;

	*n = 0;
	if (!is_member(a) || label == NULL || label->len == 0)
		return CKR_OK;
	if ((rv = family_load(sl, ch_object_class(a), label, &f)) == CKR_OK)
		*n = f.n;
	family_free(&f);
	return rv;
}

CK_RV soft_version_may_destroy(soft_slot *sl, const ch_attrs *a)
{
	size_t n = 0;
	CK_RV rv;

	if (!is_version(a) || !ch_attrs_bool(a, CKA_CH_PRIMARY, false))
		return CKR_OK;
	if ((rv = soft_version_family_size(sl, a, &n)) != CKR_OK)
		return rv;
	/* Other versions left: rotate first, else the family has no
	 * current member. */
	return n > 1 ? CKR_ACTION_PROHIBITED : CKR_OK;
}

/* ---- who may ---- */

/* Versions are managed by operators, in R/W sessions, while the
 * registration key is open (slot lock held). */
static CK_RV may_manage(ch_session *s, soft_slot *sl)
{
	if (ch_session_user(s) != CKU_USER || sl->seal == NULL)
		return CKR_USER_NOT_LOGGED_IN;
	if (!ch_session_rw(s))
		return CKR_SESSION_READ_ONLY;
	return ch_session_roles(s) & CH_ROLE_OPERATOR ? CKR_OK : CKR_ACTION_PROHIBITED;
}

/* ---- rotation ---- */

typedef struct grant_row {
	char grantee[CH_GRANTEE_MAX + 1];
	CK_FLAGS ops;
} grant_row;

typedef struct grant_rows {
	grant_row *v;
	size_t n, cap;
} grant_rows;

static int grant_collect(void *arg, const char *grantee, CK_FLAGS ops, const uint8_t *mac,
                         size_t mac_len)
{
	grant_rows *g = arg;

	(void)mac;
	(void)mac_len;
	if (g->n == g->cap) {
		size_t ncap = g->cap ? g->cap * 2 : 8;
		grant_row *nv = realloc(g->v, ncap * sizeof(*nv));

		if (nv == NULL)
			return 1;
		g->v = nv;
		g->cap = ncap;
	}
	snprintf(g->v[g->n].grantee, sizeof(g->v[g->n].grantee), "%s", grantee);
	g->v[g->n].ops = ops;
	g->n++;
	return 0;
}

/* Gives object to every grant of object from (transaction held). */
static CK_RV grants_copy(soft_slot *sl, int64_t from, int64_t to)
{
	grant_rows g = { 0 };
	uint8_t mac[CH_MAC_LEN];
	CK_RV rv;

	if ((rv = ch_store_grant_each(sl->sf->store, from, grant_collect, &g)) != CKR_OK)
		goto out;
	for (size_t i = 0; i < g.n; i++) {
		if ((rv = ch_objstore_grant_mac(sl->seal, to, g.v[i].grantee, g.v[i].ops, mac)) !=
		            CKR_OK ||
		    (rv = ch_store_grant_put(sl->sf->store, to, g.v[i].grantee, g.v[i].ops, mac)) !=
		            CKR_OK)
			goto out;
	}
	rv = CKR_OK;
out:
	free(g.v);
	return rv;
}

/* The family id: the first 8 bytes of a later version's CKA_ID, or of
 * version 1's CKA_UNIQUE_ID (hex) for the first rotation (ch_key_family,
 * which versioned ciphertexts share). */
static CK_RV family_id(const ch_attrs *primary, CK_BYTE out[8])
{
	return ch_key_family(primary, out, NULL) == CKR_OK ? CKR_OK : CKR_GENERAL_ERROR;
}

typedef struct rotate_ctx {
	ch_attrs *a;        /* the new version, made and finished */
	int64_t expect;     /* the primary the rotation started from, or 0 */
	int64_t new_id;     /* out */
	int64_t old_id;     /* out: the primary it replaced */
	const CK_BYTE *id;  /* the CKA_ID to give (the other half of a pair), or NULL */
	CK_BYTE id_out[12]; /* out: the CKA_ID it gave */
	CK_ULONG version;   /* out */
	char owner[CH_NAME_MAX + 1];
} rotate_ctx;

static CK_RV rotate_txn(soft_slot *sl, void *arg)
{
	rotate_ctx *c = arg;
	const ch_attr *label = ch_attrs_get(c->a, CKA_LABEL);
	family f;
	member *p;
	CK_BYTE id[12];
	CK_ULONG ver, v;
	CK_RV rv;

	if (label == NULL || label->len == 0)
		return CKR_TEMPLATE_INCONSISTENT;
	if ((rv = family_load(sl, ch_object_class(c->a), label, &f)) != CKR_OK)
		goto out;
	if ((p = family_primary(&f)) == NULL) {
		/* No versions yet: the plain key becomes version 1 (the one the
		 * caller named, else the only plain key there is). */
		rv = CKR_TEMPLATE_INCONSISTENT;
		if (c->expect != 0)
			p = family_find(&f, c->expect);
		else if (f.n == 1 && !family_has_versions(&f))
			p = &f.m[0];
		if (p == NULL || family_has_versions(&f))
			goto out;
		if ((rv = adopt(p)) != CKR_OK)
			goto out;
	}
	rv = CKR_CH_KEY_NOT_PRIMARY;
	if (c->expect != 0 && p->id != c->expect)
		goto out;
	rv = CKR_DEVICE_MEMORY;
	if ((ver = family_max_version(&f) + 1) > FAMILY_MAX)
		goto out;
	/* The halves of a key pair share their CKA_ID, as clients expect: the
	 * public half takes the private half's.  A secret has no CKA_ID. */
	if (c->id != NULL) {
		memcpy(id, c->id, sizeof(id));
	} else if (!is_key(c->a)) {
		memset(id, 0, sizeof(id));
	} else {
		if ((rv = family_id(p->a, id)) != CKR_OK)
			goto out;
		for (int i = 0; i < 4; i++)
			id[8 + i] = (CK_BYTE)(ver >> (8 * (3 - i)));
	}
	memcpy(c->id_out, id, sizeof(id));

	/* The new version. */
	if ((is_key(c->a) && (rv = ch_attrs_set(c->a, CKA_ID, id, sizeof(id))) != CKR_OK) ||
	    (rv = ch_attrs_set_ulong(c->a, CKA_CH_VERSION, ver)) != CKR_OK ||
	    (rv = ch_attrs_set_ulong(c->a, CKA_CH_STATE, CH_KEY_STATE_ACTIVE)) != CKR_OK ||
	    (rv = ch_attrs_set_bool(c->a, CKA_CH_PRIMARY, true)) != CKR_OK ||
	    (is_key(c->a) &&
	     (rv = ch_attrs_set_ulong(c->a, CKA_CH_USAGE, usage_of(c->a))) != CKR_OK) ||
	    (rv = ch_attrs_set_ulong(c->a, CKA_CH_MIN_DECRYPT_VERSION,
	                             ulong_or(p->a, CKA_CH_MIN_DECRYPT_VERSION, 1))) != CKR_OK ||
	    (rv = ch_attrs_set_ulong(c->a, CKA_CH_CREATED, now_seconds())) != CKR_OK)
		goto out;
	/* The family's policy, unless the new version's template set its own;
	 * its count of encryptions starts at 0 (a new CKA_UNIQUE_ID). */
	for (size_t i = 0; i < 2; i++) {
		static const CK_ATTRIBUTE_TYPE pt[] = { CKA_CH_ROTATION_PERIOD,
			                                CKA_CH_MAX_ENCRYPTIONS };

		if (ch_attrs_ulong(p->a, pt[i], &v) && ch_attrs_get(c->a, pt[i]) == NULL &&
		    (rv = ch_attrs_set_ulong(c->a, pt[i], v)) != CKR_OK)
			goto out;
	}
	if (ch_attrs_get(p->a, CKA_CH_DATAKEY_PLAINTEXT) != NULL &&
	    ch_attrs_get(c->a, CKA_CH_DATAKEY_PLAINTEXT) == NULL &&
	    (rv = ch_attrs_set_bool(c->a, CKA_CH_DATAKEY_PLAINTEXT,
	                            ch_attrs_bool(p->a, CKA_CH_DATAKEY_PLAINTEXT, false))) !=
	            CKR_OK)
		goto out;
	/* A rotation copies the primary's policy templates too (stored in
	 * their canonical form, so they move as they are). */
	for (size_t i = 0; c->expect != 0 && i < 3; i++) {
		static const CK_ATTRIBUTE_TYPE tt[] = { CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE,
			                                CKA_DERIVE_TEMPLATE };
		const ch_attr *at = ch_attrs_get(p->a, tt[i]);

		if (at != NULL && ch_attrs_get(c->a, tt[i]) == NULL &&
		    (rv = ch_attrs_set(c->a, tt[i], at->value, at->len)) != CKR_OK)
			goto out;
	}
	if ((rv = usage_apply(c->a)) != CKR_OK)
		goto out;

	/* The old primary finishes what it started, unless it was disabled. */
	if ((rv = ch_attrs_set_bool(p->a, CKA_CH_PRIMARY, false)) != CKR_OK)
		goto out;
	if (ulong_or(p->a, CKA_CH_STATE, CH_KEY_STATE_ACTIVE) == CH_KEY_STATE_ACTIVE &&
	    (rv = ch_attrs_set_ulong(p->a, CKA_CH_STATE, CH_KEY_STATE_DECRYPT_ONLY)) != CKR_OK)
		goto out;
	p->dirty = true;
	if ((rv = family_save(sl, &f)) != CKR_OK)
		goto out;

	/* The new version belongs to whoever owned the family's primary, and
	 * takes its grants. */
	c->new_id = 0;
	if ((rv = ch_objstore_save(sl->sf->store, sl->seal, (int64_t)sl->id, c->a, p->owner,
	                           &c->new_id)) != CKR_OK ||
	    (rv = grants_copy(sl, p->id, c->new_id)) != CKR_OK)
		goto out;
	c->old_id = p->id;
	c->version = ver;
	memcpy(c->owner, p->owner, sizeof(c->owner));
	rv = CKR_OK;
out:
	family_free(&f);
	return rv;
}

CK_RV soft_version_add(ch_session *s, ch_attrs *a, CK_OBJECT_HANDLE expect, CK_OBJECT_HANDLE *h)
{
	soft_slot *sl = slot_of(s);
	rotate_ctx c = { .a = a, .expect = (int64_t)expect };
	char detail[64];
	CK_RV rv;

	pthread_mutex_lock(&sl->lock);
	if ((rv = may_manage(s, sl)) != CKR_OK)
		goto out;
	rv = CKR_TEMPLATE_INCONSISTENT;
	if (!ch_object_is_token(a) || !is_member(a))
		goto out;
	if ((rv = soft_set_unique_id(a)) != CKR_OK)
		goto out;
	rv = soft_txn(sl, rotate_txn, &c);
	if (rv == CKR_OK) {
		*h = (CK_OBJECT_HANDLE)c.new_id;
		snprintf(detail, sizeof(detail), "version %lu replaces object %lld",
		         (unsigned long)c.version, (long long)c.old_id);
		ch_log(CH_LOG_INFO, "registration \"%s\": %s rotated a key family to version %lu",
		       sl->reg.label, sl->participant, (unsigned long)c.version);
	} else {
		snprintf(detail, sizeof(detail), "rotation of object %lld refused",
		         (long long)c.expect);
	}
	soft_audit(sl, sl->seal, sl->participant, is_key(a) ? "key.rotate" : "secret.rotate", a, rv,
	           detail);
out:
	pthread_mutex_unlock(&sl->lock);
	ch_attrs_free(a);
	return rv;
}

typedef struct pair_ctx {
	rotate_ctx priv, pub;
} pair_ctx;

/* Both halves in one transaction: the private key's family first, then the
 * public key's with the same CKA_ID. */
static CK_RV pair_txn(soft_slot *sl, void *arg)
{
	pair_ctx *c = arg;
	CK_RV rv;

	if ((rv = rotate_txn(sl, &c->priv)) != CKR_OK)
		return rv;
	c->pub.id = c->priv.id_out;
	return rotate_txn(sl, &c->pub);
}

CK_RV soft_version_add_pair(ch_session *s, ch_attrs *pub, ch_attrs *priv,
                            CK_OBJECT_HANDLE expect_pub, CK_OBJECT_HANDLE expect_priv,
                            CK_OBJECT_HANDLE *hpub, CK_OBJECT_HANDLE *hpriv)
{
	soft_slot *sl = slot_of(s);
	pair_ctx c = { .priv = { .a = priv, .expect = (int64_t)expect_priv },
		       .pub = { .a = pub, .expect = (int64_t)expect_pub } };
	char detail[64];
	CK_RV rv;

	pthread_mutex_lock(&sl->lock);
	if ((rv = may_manage(s, sl)) != CKR_OK)
		goto out;
	rv = CKR_TEMPLATE_INCONSISTENT;
	if (!ch_object_is_token(pub) || !ch_object_is_token(priv))
		goto out;
	if ((rv = soft_set_unique_id(pub)) != CKR_OK || (rv = soft_set_unique_id(priv)) != CKR_OK)
		goto out;
	rv = soft_txn(sl, pair_txn, &c);
	if (rv == CKR_OK) {
		*hpub = (CK_OBJECT_HANDLE)c.pub.new_id;
		*hpriv = (CK_OBJECT_HANDLE)c.priv.new_id;
		snprintf(detail, sizeof(detail), "key pair version %lu replaces objects %lld, %lld",
		         (unsigned long)c.priv.version, (long long)c.priv.old_id,
		         (long long)c.pub.old_id);
	} else {
		snprintf(detail, sizeof(detail), "rotation of key pair object %lld refused",
		         (long long)c.priv.expect);
	}
	soft_audit(sl, sl->seal, sl->participant, "key.rotate", priv, rv, detail);
out:
	pthread_mutex_unlock(&sl->lock);
	ch_attrs_free(pub);
	ch_attrs_free(priv);
	return rv;
}

/* A key-generation mechanism that makes keys of type kt. */
static CK_MECHANISM_TYPE keygen_for(const ch_attrs *a, CK_KEY_TYPE kt, bool pair)
{
	static const CK_MECHANISM_TYPE pairs[] = {
		CKM_RSA_PKCS_KEY_PAIR_GEN,
		CKM_EC_KEY_PAIR_GEN,
		CKM_EC_EDWARDS_KEY_PAIR_GEN,
		CKM_EC_MONTGOMERY_KEY_PAIR_GEN,
	};
	static const CK_MECHANISM_TYPE candidates[] = {
		CKM_AES_KEY_GEN,        CKM_CHACHA20_KEY_GEN, CKM_GENERIC_SECRET_KEY_GEN,
		CKM_SHA_1_KEY_GEN,      CKM_SHA224_KEY_GEN,   CKM_SHA256_KEY_GEN,
		CKM_SHA384_KEY_GEN,     CKM_SHA512_KEY_GEN,   CKM_SHA512_224_KEY_GEN,
		CKM_SHA512_256_KEY_GEN, CKM_SHA3_224_KEY_GEN, CKM_SHA3_256_KEY_GEN,
		CKM_SHA3_384_KEY_GEN,   CKM_SHA3_512_KEY_GEN, CKM_HKDF_KEY_GEN,
	};
	CK_MECHANISM_TYPE m = ulong_or(a, CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION);
	CK_KEY_TYPE got;

	if (m != CK_UNAVAILABLE_INFORMATION && ch_mech_keygen_type(m, pair, &got) == CKR_OK &&
	    got == kt)
		return m;
	for (size_t i = 0; pair && i < sizeof(pairs) / sizeof(pairs[0]); i++)
		if (ch_mech_keygen_type(pairs[i], true, &got) == CKR_OK && got == kt)
			return pairs[i];
	for (size_t i = 0; !pair && i < sizeof(candidates) / sizeof(candidates[0]); i++)
		if (ch_mech_keygen_type(candidates[i], false, &got) == CKR_OK && got == kt)
			return candidates[i];
	return CK_UNAVAILABLE_INFORMATION;
}

/* Attributes of a version that are not part of the template a new version
 * is made from: what the token computes, the key material, the version's
 * own identity, and what only the SO gives. */
static bool not_copied(CK_ATTRIBUTE_TYPE t)
{
	switch (t) {
	case CKA_VALUE:
	case CKA_UNIQUE_ID:
	case CKA_ID:
	case CKA_LOCAL:
	case CKA_KEY_GEN_MECHANISM:
	case CKA_ALWAYS_SENSITIVE:
	case CKA_NEVER_EXTRACTABLE:
	case CKA_CHECK_VALUE:
	case CKA_PUBLIC_KEY_INFO: /* the old key's */
	case CKA_TRUSTED:
	case CKA_CH_VERSION:
	case CKA_CH_STATE:
	case CKA_CH_PRIMARY:
	case CKA_CH_MIN_DECRYPT_VERSION:
	case CKA_CH_CREATED:
	case CKA_CH_USAGE:
	case CKA_CH_ENCRYPTIONS: /* the old version's count, never stored */
	case CKA_WRAP_TEMPLATE:  /* copied as stored, in rotate_txn */
	case CKA_UNWRAP_TEMPLATE:
	case CKA_DERIVE_TEMPLATE:
		return true;
	default:
		return false;
	}
}

/* The template a new version of cur is made from (into *t, n entries, caller
 * frees *t and *flags; values point into cur): every attribute a
 * C_GenerateKey(Pair) template may give (object.c says which), with the
 * usage cur was made with. */
static CK_RV template_of(const ch_attrs *cur, CK_ATTRIBUTE **t, CK_BBOOL **flags, CK_ULONG *n)
{
	CK_FLAGS made = is_version(cur) ? ulong_or(cur, CKA_CH_USAGE, 0) : usage_of(cur);

	*n = 0;
	*flags = NULL;
	if ((*t = calloc(cur->n + 1, sizeof(**t))) == NULL || (*flags = calloc(N_USAGE, 1)) == NULL)
		return CKR_HOST_MEMORY;
	for (size_t i = 0; i < cur->n; i++) {
		const ch_attr *at = &cur->v[i];
		size_t u;

		if (not_copied(at->type) || !ch_object_may_generate(cur, at->type))
			continue;
		/* ChaCha20 keys have one size: C_GenerateKey takes no length. */
		if (at->type == CKA_VALUE_LEN && ulong_or(cur, CKA_KEY_TYPE, 0) == CKK_CHACHA20)
			continue;
		for (u = 0; u < N_USAGE && usage[u].type != at->type; u++)
			;
		if (u < N_USAGE) {
			(*flags)[u] = (made & usage[u].bit) ? CK_TRUE : CK_FALSE;
			(*t)[(*n)++] = (CK_ATTRIBUTE){ at->type, &(*flags)[u], sizeof(CK_BBOOL) };
		} else {
			(*t)[(*n)++] = (CK_ATTRIBUTE){ at->type, at->value, at->len };
		}
	}
	return CKR_OK;
}

/* The public half of private key priv (a copy in *pub, caller frees; its
 * handle in *h): the primary of the public family with priv's label when
 * that family has versions, else the plain public key with priv's CKA_ID.
 * The public family is asked, not priv: a lifecycle call on one half adopts
 * only that half, and the pair's rotation adopts the other.
 * CKR_KEY_TYPE_INCONSISTENT when there is none. */
static CK_RV public_half(ch_session *s, const ch_attrs *priv, ch_attrs **pub, CK_OBJECT_HANDLE *h)
{
	soft_slot *sl = slot_of(s);
	const ch_attr *label = ch_attrs_get(priv, CKA_LABEL);
	const ch_attr *id = ch_attrs_get(priv, CKA_ID);
	member *pick = NULL;
	family f = { 0 };
	CK_RV rv = CKR_KEY_TYPE_INCONSISTENT;

	*pub = NULL;
	if (label == NULL || label->len == 0)
		return rv;
	pthread_mutex_lock(&sl->lock);
	pthread_mutex_lock(&sl->sf->lock);
	if ((rv = family_load(sl, CKO_PUBLIC_KEY, label, &f)) != CKR_OK)
		goto out;
	if (family_has_versions(&f)) {
		pick = family_primary(&f);
	} else {
		for (size_t i = 0; i < f.n; i++) {
			const ch_attr *pid = ch_attrs_get(f.m[i].a, CKA_ID);

			if (!is_version(f.m[i].a) && pid != NULL && id != NULL &&
			    pid->len == id->len &&
			    (id->len == 0 || memcmp(pid->value, id->value, id->len) == 0))
				pick = &f.m[i];
		}
	}
	rv = CKR_KEY_TYPE_INCONSISTENT;
	if (pick == NULL)
		goto out;
	rv = CKR_HOST_MEMORY;
	if ((*pub = ch_attrs_dup(pick->a)) == NULL)
		goto out;
	*h = (CK_OBJECT_HANDLE)pick->id;
	rv = CKR_OK;
out:
	pthread_mutex_unlock(&sl->sf->lock);
	pthread_mutex_unlock(&sl->lock);
	family_free(&f);
	return rv;
}

CK_RV soft_key_rotate(ch_session *s, CK_OBJECT_HANDLE key, CK_OBJECT_HANDLE *out)
{
	ch_attrs *cur = NULL, *pub = NULL;
	CK_ATTRIBUTE *t = NULL, *pt = NULL;
	CK_BBOOL *flags = NULL, *pflags = NULL;
	CK_MECHANISM m = { CK_UNAVAILABLE_INFORMATION, NULL, 0 };
	CK_KEY_TYPE kt = CK_UNAVAILABLE_INFORMATION;
	CK_OBJECT_HANDLE hpub = CK_INVALID_HANDLE, newpub = CK_INVALID_HANDLE;
	CK_OBJECT_CLASS cls;
	CK_ULONG n = 0, pn = 0;
	CK_RV rv;

	if (key == CK_INVALID_HANDLE || key >= SOFT_SESSION_HANDLE_BASE)
		return CKR_KEY_HANDLE_INVALID;
	rv = soft_object_read(s, key, &cur);
	if (rv == CKR_OBJECT_HANDLE_INVALID)
		rv = CKR_KEY_HANDLE_INVALID;
	if (rv != CKR_OK)
		goto out;
	cls = ch_object_class(cur);
	rv = CKR_KEY_TYPE_INCONSISTENT;
	if ((cls != CKO_SECRET_KEY && cls != CKO_PRIVATE_KEY) || !ch_object_is_token(cur) ||
	    !ch_attrs_ulong(cur, CKA_KEY_TYPE, &kt) ||
	    (m.mechanism = keygen_for(cur, kt, cls == CKO_PRIVATE_KEY)) ==
	            CK_UNAVAILABLE_INFORMATION)
		goto out;
	rv = CKR_CH_KEY_NOT_PRIMARY;
	if (is_version(cur) && !ch_attrs_bool(cur, CKA_CH_PRIMARY, false))
		goto out;
	if ((rv = template_of(cur, &t, &flags, &n)) != CKR_OK)
		goto out;
	if (cls == CKO_SECRET_KEY) {
		rv = soft_generate_key_for(s, &m, t, n, key, out);
		goto out;
	}
	/* A private key: a new pair, from both halves' templates. */
	if ((rv = public_half(s, cur, &pub, &hpub)) != CKR_OK ||
	    (rv = template_of(pub, &pt, &pflags, &pn)) != CKR_OK)
		goto out;
	rv = soft_generate_key_pair_for(s, &m, pt, pn, t, n, hpub, key, &newpub, out);
out:
	free(t);
	free(flags);
	free(pt);
	free(pflags);
	ch_attrs_free(cur);
	ch_attrs_free(pub);
	return rv;
}

/* ---- retiring ---- */

typedef struct retire_ctx {
	int64_t id;
	CK_ULONG state; /* CH_KEY_STATE_* for set_state, or 0 */
	CK_ULONG min;   /* for set_min_version */
	char label[80]; /* out, for the audit detail */
	bool secret;    /* out: a secret's version, not a key's */
	CK_ULONG version;
	ch_attrs *after; /* out: the version as written (audit) */
} retire_ctx;

/* Removes the key material of a (what ch_object_attr_is_secret names). */
static void material_remove(ch_attrs *a)
{
	for (size_t i = a->n; i-- > 0;)
		if (ch_object_attr_is_secret(a, a->v[i].type))
			ch_attrs_remove(a, a->v[i].type);
}

static CK_RV retire_load(soft_slot *sl, retire_ctx *c, family *f, member **m)
{
	ch_attrs *a = NULL;
	const ch_attr *label;
	CK_RV rv;

	memset(f, 0, sizeof(*f));
	rv = ch_objstore_load(sl->sf->store, sl->seal, (int64_t)sl->id, c->id, &a, NULL);
	if (rv == CKR_OBJECT_HANDLE_INVALID)
		rv = CKR_KEY_HANDLE_INVALID;
	if (rv != CKR_OK)
		goto out;
	rv = CKR_KEY_HANDLE_INVALID;
	if (!is_member(a) || !ch_object_is_token(a))
		goto out;
	c->secret = !is_key(a);
	rv = CKR_ACTION_PROHIBITED;
	if ((label = ch_attrs_get(a, CKA_LABEL)) == NULL || label->len == 0)
		goto out;
	snprintf(c->label, sizeof(c->label), "%.*s", (int)label->len, (const char *)label->value);
	if ((rv = family_load(sl, ch_object_class(a), label, f)) != CKR_OK)
		goto out;
	rv = family_member(f, c->id, m);
out:
	ch_attrs_free(a);
	return rv;
}

static CK_RV state_txn(soft_slot *sl, void *arg)
{
	retire_ctx *c = arg;
	family f;
	member *m = NULL;
	CK_ULONG st;
	bool primary;
	CK_RV rv;

	if ((rv = retire_load(sl, c, &f, &m)) != CKR_OK)
		goto out;
	st = ulong_or(m->a, CKA_CH_STATE, CH_KEY_STATE_ACTIVE);
	primary = ch_attrs_bool(m->a, CKA_CH_PRIMARY, false);
	c->version = ulong_or(m->a, CKA_CH_VERSION, 1);
	rv = CKR_ACTION_PROHIBITED;
	if (st == CH_KEY_STATE_DESTROYED && c->state != CH_KEY_STATE_DESTROYED)
		goto out; /* its material is gone */
	if (c->state == CH_KEY_STATE_DESTROYED && primary)
		goto out; /* rotate first */
	if (c->state == CH_KEY_STATE_ACTIVE)
		st = primary ? CH_KEY_STATE_ACTIVE : CH_KEY_STATE_DECRYPT_ONLY;
	else
		st = c->state;
	if (c->state == CH_KEY_STATE_DESTROYED) {
		/* Overwritten where it lay, not just unlinked: the store runs
		 * with secure_delete on (store.c). */
		material_remove(m->a);
	}
	if ((rv = ch_attrs_set_ulong(m->a, CKA_CH_STATE, st)) != CKR_OK)
		goto out;
	m->dirty = true;
	if ((rv = family_save(sl, &f)) != CKR_OK)
		goto out;
	rv = (c->after = ch_attrs_dup(m->a)) != NULL ? CKR_OK : CKR_HOST_MEMORY;
out:
	family_free(&f);
	return rv;
}

static CK_RV min_txn(soft_slot *sl, void *arg)
{
	retire_ctx *c = arg;
	family f;
	member *m = NULL, *p;
	CK_RV rv;

	if ((rv = retire_load(sl, c, &f, &m)) != CKR_OK)
		goto out;
	rv = CKR_ARGUMENTS_BAD;
	if ((p = family_primary(&f)) == NULL || c->min > ulong_or(p->a, CKA_CH_VERSION, 1))
		goto out;
	for (size_t i = 0; i < f.n; i++) {
		if (!is_version(f.m[i].a))
			continue;
		if ((rv = ch_attrs_set_ulong(f.m[i].a, CKA_CH_MIN_DECRYPT_VERSION, c->min)) !=
		    CKR_OK)
			goto out;
		f.m[i].dirty = true;
	}
	if ((rv = family_save(sl, &f)) != CKR_OK)
		goto out;
	c->version = c->min;
	rv = (c->after = ch_attrs_dup(p->a)) != NULL ? CKR_OK : CKR_HOST_MEMORY;
out:
	family_free(&f);
	return rv;
}

/* Runs a retiring transaction for session s and audits it as "key.OP", or
 * "secret.OP" for a secret. */
static CK_RV retire(ch_session *s, CK_OBJECT_HANDLE key, retire_ctx *c,
                    CK_RV (*fn)(soft_slot *sl, void *arg), const char *op)
{
	soft_slot *sl = slot_of(s);
	char detail[64], what[32];
	CK_RV rv;

	if (key == CK_INVALID_HANDLE || key >= SOFT_SESSION_HANDLE_BASE)
		return CKR_KEY_HANDLE_INVALID;
	c->id = (int64_t)key;
	pthread_mutex_lock(&sl->lock);
	if ((rv = may_manage(s, sl)) != CKR_OK)
		goto out;
	rv = soft_txn(sl, fn, c);
	if (rv == CKR_OK && c->state == CH_KEY_STATE_DESTROYED) {
		/* The old rows may still sit in the write-ahead log: move it
		 * into the database (whose freed space secure_delete zeroed)
		 * and truncate it.  Best effort while other processes read. */
		pthread_mutex_lock(&sl->sf->lock);
		if (ch_store_wal_truncate(sl->sf->store) != CKR_OK)
			ch_log(CH_LOG_WARNING,
			       "registration \"%s\": WAL checkpoint after a key "
			       "destruction failed",
			       sl->reg.label);
		pthread_mutex_unlock(&sl->sf->lock);
	}
	snprintf(detail, sizeof(detail), "%.40s version %lu", c->label, (unsigned long)c->version);
	snprintf(what, sizeof(what), "%s.%s", c->secret ? "secret" : "key", op);
	soft_audit(sl, sl->seal, sl->participant, what, c->after, rv, detail);
out:
	pthread_mutex_unlock(&sl->lock);
	ch_attrs_free(c->after);
	return rv;
}

CK_RV soft_key_set_state(ch_session *s, CK_OBJECT_HANDLE key, CK_ULONG state)
{
	retire_ctx c = { .state = state };
	const char *op = state == CH_KEY_STATE_ACTIVE     ? "enable"
	                 : state == CH_KEY_STATE_DISABLED ? "disable"
	                                                  : "destroy";

	return retire(s, key, &c, state_txn, op);
}

CK_RV soft_key_set_min_version(ch_session *s, CK_OBJECT_HANDLE key, CK_ULONG min)
{
	retire_ctx c = { .min = min };

	return retire(s, key, &c, min_txn, "min_version");
}
