/*
 * The software token's objects: creation, copies, changes, reads and
 * searches, for session objects (in memory, owned by one session, visible to
 * every session of the application on that slot) and token objects (sealed
 * in the store, see objstore.h).
 *
 * The attribute rules themselves live in object.c; this file decides where an
 * object lives, who may see or change it, and moves it to and from the store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyuse.h"
#include "log.h"
#include "object.h"
#include "objstore.h"
#include "soft_internal.h"

static soft_slot *slot_of(ch_session *s)
{
	return s->slot->be;
}

/* Who session s acts for, read once before any lock of ours (lock order). */
static soft_actor actor_of(ch_session *s)
{
	soft_actor ac = { .user = ch_session_user(s), .roles = ch_session_roles(s) };
	return ac;
}

ch_object_env soft_object_env(ch_session *s)
{
	soft_slot *sl = slot_of(s);
	soft_actor ac = actor_of(s); /* before the slot lock: lock order */
	ch_object_env env = {
		.so = ac.user == CKU_SO || (ac.user == CKU_USER && (ac.roles & CH_ROLE_ADMIN)),
	};

	pthread_mutex_lock(&sl->lock);
	env.legacy_key_roles = soft_legacy_key_roles(sl);
	pthread_mutex_unlock(&sl->lock);
	return env;
}

/* Private objects exist only for a logged-in user who works with keys (the
 * SO and pure auditors see public objects only). */
static bool sees_private(const soft_actor *ac)
{
	return ac->user == CKU_USER && (ac->roles & (CH_ROLE_USER | CH_ROLE_OPERATOR)) != 0;
}

static soft_sobj *sobj_find(soft_slot *sl, CK_OBJECT_HANDLE h)
{
	for (size_t i = 0; i < sl->nsobj; i++)
		if (sl->sobj[i].handle == h)
			return &sl->sobj[i];
	return NULL;
}

static bool is_session_handle(CK_OBJECT_HANDLE h)
{
	return h >= SOFT_SESSION_HANDLE_BASE;
}

/* May ac see token object id, private or not, created by owner?  Slot and
 * store locks held.  Private objects need a grant unless ac created them or
 * manages keys (operator). */
static bool may_see(soft_slot *sl, const soft_actor *ac, int64_t id, const ch_attrs *a,
                    const char *owner)
{
	if (!ch_object_is_private(a))
		return true;
	if (!sees_private(ac))
		return false;
	return (ac->roles & CH_ROLE_OPERATOR) || soft_grant_allows(sl, ac->roles, id, owner, 0);
}

/* Reads object h for ac; slot lock held.  owner (may be NULL) gets the
 * creator of a token object ("" for a session object). */
static CK_RV read_locked(soft_slot *sl, const soft_actor *ac, CK_OBJECT_HANDLE h, ch_attrs **out,
                         char owner[CH_NAME_MAX + 1])
{
	char who[CH_NAME_MAX + 1] = "";
	ch_attrs *a = NULL;
	CK_RV rv;

	*out = NULL;
	if (h == CK_INVALID_HANDLE)
		return CKR_OBJECT_HANDLE_INVALID;
	if (is_session_handle(h)) {
		soft_sobj *o = sobj_find(sl, h);

		if (o == NULL)
			return CKR_OBJECT_HANDLE_INVALID;
		if ((a = ch_attrs_dup(o->attrs)) == NULL)
			return CKR_HOST_MEMORY;
	} else {
		pthread_mutex_lock(&sl->sf->lock);
		rv = ch_objstore_load(sl->sf->store, sl->seal, (int64_t)sl->id, (int64_t)h, &a,
		                      who);
		if (rv == CKR_OK && !may_see(sl, ac, (int64_t)h, a, who))
			rv = CKR_OBJECT_HANDLE_INVALID;
		pthread_mutex_unlock(&sl->sf->lock);
		if (rv != CKR_OK) {
			ch_attrs_free(a);
			return rv;
		}
	}
	/* Private session objects exist only for a logged-in user (the SO sees
	 * public objects only). */
	if (ch_object_is_private(a) && !sees_private(ac)) {
		ch_attrs_free(a);
		return CKR_OBJECT_HANDLE_INVALID;
	}
	if (owner != NULL)
		memcpy(owner, who, sizeof(who));
	*out = a;
	return CKR_OK;
}

/* The encryptions counted for token key a (keyuse.h).  Store lock held. */
static CK_RV key_uses(soft_slot *sl, const ch_attrs *a, uint64_t *n)
{
	const ch_attr *u = ch_attrs_get(a, CKA_UNIQUE_ID);
	char uid[33];

	*n = 0;
	if (u == NULL || u->len >= sizeof(uid))
		return CKR_OK;
	memcpy(uid, u->value, u->len);
	uid[u->len] = '\0';
	return ch_keyuse_get(sl->sf->store, (int64_t)sl->id, uid, n);
}

/* Token object h as an operation's key: the key cache's entry when it holds
 * a current one (soft_keycache.c), else read from the store and cached.
 * Slot and store locks held. */
static CK_RV load_token_key(soft_slot *sl, CK_OBJECT_HANDLE h, soft_key **out)
{
	char who[CH_NAME_MAX + 1] = "";
	ch_attrs *a = NULL;
	uint64_t epoch = 0;
	int64_t gen = -1;
	CK_RV rv;

	if (soft_keycache_get(sl, (int64_t)h, out) == CKR_OK)
		return CKR_OK;
	/* The epoch before the read: a commit after it re-proves the copy. */
	if (sl->seal != NULL)
		epoch = ch_store_epoch(sl->sf->store);
	rv = ch_objstore_load_gen(sl->sf->store, sl->seal, (int64_t)sl->id, (int64_t)h, &a, who,
	                          &gen);
	if (rv != CKR_OK) {
		ch_attrs_free(a);
		return rv;
	}
	if ((*out = soft_key_new(a, who)) == NULL)
		return CKR_HOST_MEMORY;
	/* A key with a bound of encryptions counts on from the store's count
	 * (soft_due.c): read here, once per copy, not per init. */
	if ((*out)->bound != 0 &&
	    (rv = key_uses(sl, (*out)->attrs, &(*out)->uses_base)) != CKR_OK) {
		soft_key_release(*out);
		*out = NULL;
		return rv;
	}
	soft_keycache_put(sl, (int64_t)h, gen, epoch, *out);
	return CKR_OK;
}

/* read_locked for an operation's key: a reference, shared with the key
 * cache for token objects; a private copy of a session object (those
 * change in place).  A token key must also be granted to ac for need.
 * Slot lock held. */
static CK_RV read_key_locked(soft_slot *sl, const soft_actor *ac, CK_OBJECT_HANDLE h, CK_FLAGS need,
                             soft_key **out)
{
	soft_key *k = NULL;
	CK_RV rv = CKR_OK;

	*out = NULL;
	if (h == CK_INVALID_HANDLE)
		return CKR_OBJECT_HANDLE_INVALID;
	if (is_session_handle(h)) {
		soft_sobj *o = sobj_find(sl, h);
		ch_attrs *a;

		if (o == NULL)
			return CKR_OBJECT_HANDLE_INVALID;
		if ((a = ch_attrs_dup(o->attrs)) == NULL || (k = soft_key_new(a, "")) == NULL)
			return CKR_HOST_MEMORY;
	} else {
		pthread_mutex_lock(&sl->sf->lock);
		rv = load_token_key(sl, h, &k);
		if (rv == CKR_OK && !may_see(sl, ac, (int64_t)h, k->attrs, k->owner))
			rv = CKR_OBJECT_HANDLE_INVALID;
		/* As soft_check_grant, under the locks already held. */
		if (rv == CKR_OK && !soft_grant_allows(sl, ac->roles, (int64_t)h, k->owner, need))
			rv = CKR_KEY_FUNCTION_NOT_PERMITTED;
		pthread_mutex_unlock(&sl->sf->lock);
	}
	/* As in read_locked. */
	if (rv == CKR_OK && ch_object_is_private(k->attrs) && !sees_private(ac))
		rv = CKR_OBJECT_HANDLE_INVALID;
	if (rv != CKR_OK) {
		soft_key_release(k);
		return rv;
	}
	*out = k;
	return CKR_OK;
}

CK_RV soft_object_read_key(ch_session *s, CK_OBJECT_HANDLE h, CK_FLAGS need, soft_key **out,
                           char participant[CH_NAME_MAX + 1])
{
	soft_slot *sl = slot_of(s);
	soft_actor ac = actor_of(s);
	CK_RV rv;

	pthread_mutex_lock(&sl->lock);
	rv = read_key_locked(sl, &ac, h, need, out);
	memcpy(participant, sl->participant, CH_NAME_MAX + 1);
	pthread_mutex_unlock(&sl->lock);
	return rv;
}

CK_RV soft_object_read_owned(ch_session *s, CK_OBJECT_HANDLE h, ch_attrs **out,
                             char owner[CH_NAME_MAX + 1])
{
	soft_slot *sl = slot_of(s);
	soft_actor ac = actor_of(s);
	CK_RV rv;

	pthread_mutex_lock(&sl->lock);
	rv = read_locked(sl, &ac, h, out, owner);
	pthread_mutex_unlock(&sl->lock);
	return rv;
}

CK_RV soft_object_read(ch_session *s, CK_OBJECT_HANDLE h, ch_attrs **out)
{
	soft_slot *sl = slot_of(s);
	soft_actor ac = actor_of(s);
	CK_RV rv;

	pthread_mutex_lock(&sl->lock);
	rv = read_locked(sl, &ac, h, out, NULL);
	pthread_mutex_unlock(&sl->lock);
	return rv;
}

/* May session s, acting as ac, write an object with these attributes
 * (token/private)?  Slot lock held. */
static CK_RV may_write(ch_session *s, const soft_actor *ac, soft_slot *sl, const ch_attrs *a)
{
	if (ch_object_is_token(a) && !ch_session_rw(s))
		return CKR_SESSION_READ_ONLY;
	if (ch_object_is_private(a) && ac->user != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;
	/* Token objects are sealed and MACed under the registration key. */
	if (ch_object_is_token(a) && sl->seal == NULL)
		return CKR_USER_NOT_LOGGED_IN;
	/* The registration's objects are the operators' to change. */
	if (ch_object_is_token(a) && !(ac->roles & CH_ROLE_OPERATOR))
		return CKR_ACTION_PROHIBITED;
	return CKR_OK;
}

typedef struct object_write {
	const ch_attrs *a;    /* NULL: delete */
	const ch_attrs *gone; /* what a delete removes (the family rule), or NULL */
	int64_t id;           /* 0: a new object */
} object_write;

static CK_RV object_txn(soft_slot *sl, void *arg)
{
	object_write *w = arg;
	CK_RV rv;

	if (w->a == NULL) {
		/* A family's primary goes last (checked in the transaction, so
		 * a version made meanwhile is seen). */
		if (w->gone != NULL && (rv = soft_version_may_destroy(sl, w->gone)) != CKR_OK)
			return rv;
		return ch_store_obj_delete(sl->sf->store, w->id);
	}
	return ch_objstore_save(sl->sf->store, sl->seal, (int64_t)sl->id, w->a, sl->participant,
	                        &w->id);
}

/* Writes a token object (new when *id == 0), or deletes object *id (a NULL;
 * gone: the object as it is, for the family rule), in one transaction; slot
 * lock held. */
static CK_RV store_save(soft_slot *sl, const ch_attrs *a, const ch_attrs *gone, int64_t *id)
{
	object_write w = { .a = a, .gone = gone, .id = *id };
	CK_RV rv;

	/* The cached copy is stale from here whatever happens (the commit moves
	 * the store epoch too); drop it now so its secrets go at once. */
	if (*id != 0) {
		pthread_mutex_lock(&sl->sf->lock);
		soft_keycache_drop(sl, *id);
		pthread_mutex_unlock(&sl->sf->lock);
	}
	rv = soft_txn(sl, object_txn, &w);

	*id = w.id;
	return rv;
}

CK_RV soft_set_unique_id(ch_attrs *a)
{
	uint8_t raw[16];
	char hex[33];
	CK_RV rv;

	if ((rv = ch_seal_random(raw, sizeof(raw))) != CKR_OK)
		return rv;
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	return ch_attrs_set(a, CKA_UNIQUE_ID, hex, 32);
}

CK_RV soft_object_add(ch_session *s, ch_attrs *a, CK_OBJECT_HANDLE *h)
{
	soft_slot *sl = slot_of(s);
	soft_actor ac = actor_of(s); /* before the slot lock: lock order */
	soft_sobj *nv;
	int64_t id = 0;
	CK_RV rv;

	pthread_mutex_lock(&sl->lock);
	if ((rv = may_write(s, &ac, sl, a)) != CKR_OK || (rv = soft_set_unique_id(a)) != CKR_OK)
		goto out;
	soft_version_stamp(a); /* what a rotation period counts from */
	if (ch_object_is_token(a)) {
		if ((rv = store_save(sl, a, NULL, &id)) == CKR_OK)
			*h = (CK_OBJECT_HANDLE)id;
		soft_audit(sl, sl->seal, sl->participant, "object.create", a, rv, NULL);
		goto out;
	}
	if (sl->nsobj == sl->cap) {
		size_t ncap = sl->cap ? sl->cap * 2 : 16;
		if ((nv = realloc(sl->sobj, ncap * sizeof(*nv))) == NULL) {
			rv = CKR_HOST_MEMORY;
			goto out;
		}
		sl->sobj = nv;
		sl->cap = ncap;
	}
	pthread_mutex_lock(&sl->sf->lock);
	*h = sl->sf->next_sobj++;
	pthread_mutex_unlock(&sl->sf->lock);
	sl->sobj[sl->nsobj].handle = *h;
	sl->sobj[sl->nsobj].owner = s->handle;
	sl->sobj[sl->nsobj].attrs = a;
	sl->nsobj++;
	a = NULL; /* transferred */
	rv = CKR_OK;
out:
	pthread_mutex_unlock(&sl->lock);
	ch_attrs_free(a);
	return rv;
}

static void sobj_remove(soft_slot *sl, soft_sobj *o)
{
	ch_attrs_free(o->attrs);
	*o = sl->sobj[--sl->nsobj];
}

void soft_object_drop_session(soft_slot *sl, CK_SESSION_HANDLE owner)
{
	for (size_t i = 0; i < sl->nsobj;) {
		if (sl->sobj[i].owner == owner)
			sobj_remove(sl, &sl->sobj[i]);
		else
			i++;
	}
}

CK_RV soft_create_object(ch_session *s, const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *h)
{
	ch_object_env env = soft_object_env(s);
	bool asked = soft_version_asked(t, n);
	ch_attrs *a = NULL;
	CK_RV rv;

	rv = ch_object_build(CH_ORIGIN_CREATE, CK_UNAVAILABLE_INFORMATION,
	                     CK_UNAVAILABLE_INFORMATION, t, n, &env, &a);
	if (rv != CKR_OK)
		return rv;
	/* A secret (soft_secret.c): its first version, or with
	 * CKA_CH_NEW_VERSION the next one of its family (soft_version.c). */
	if (ch_object_is_secret(a))
		return asked ? soft_version_add(s, a, CK_INVALID_HANDLE, h)
		             : soft_secret_put(s, a, h);
	if (asked) {
		ch_attrs_free(a);
		return CKR_TEMPLATE_INCONSISTENT; /* only secrets have versions here */
	}
	return soft_object_add(s, a, h);
}

CK_RV soft_copy_object(ch_session *s, CK_OBJECT_HANDLE h, const CK_ATTRIBUTE *t, CK_ULONG n,
                       CK_OBJECT_HANDLE *out)
{
	ch_object_env env = soft_object_env(s);
	ch_attrs *cur = NULL, *copy = NULL;
	char owner[CH_NAME_MAX + 1];
	CK_ULONG cls = CKO_DATA;
	CK_RV rv;

	if ((rv = soft_object_read_owned(s, h, &cur, owner)) != CKR_OK)
		goto out;
	/* A copy of a key is a key its copier holds with no grant limiting it
	 * (a session object, or a token object it created): so only who may
	 * already do everything with the key (its creator, or a grantee of
	 * every operation) may copy it. */
	(void)ch_attrs_ulong(cur, CKA_CLASS, &cls);
	if ((cls == CKO_SECRET_KEY || cls == CKO_PRIVATE_KEY) &&
	    soft_check_grant(s, h, owner, SOFT_GRANT_KEY_OPS) != CKR_OK) {
		rv = CKR_ACTION_PROHIBITED;
		goto out;
	}
	if ((rv = ch_object_copy(cur, t, n, &env, &copy)) != CKR_OK)
		goto out;
	rv = soft_object_add(s, copy, out);
	copy = NULL; /* transferred */
out:
	ch_attrs_free(cur);
	ch_attrs_free(copy);
	return rv;
}

CK_RV soft_destroy_object(ch_session *s, CK_OBJECT_HANDLE h)
{
	soft_slot *sl = slot_of(s);
	soft_actor ac = actor_of(s);
	ch_attrs *a = NULL;
	CK_RV rv;

	pthread_mutex_lock(&sl->lock);
	if ((rv = read_locked(sl, &ac, h, &a, NULL)) != CKR_OK ||
	    (rv = ch_object_may_destroy(a)) != CKR_OK || (rv = may_write(s, &ac, sl, a)) != CKR_OK)
		goto out;
	if (is_session_handle(h)) {
		sobj_remove(sl, sobj_find(sl, h));
		goto out;
	}
	{
		int64_t id = (int64_t)h;

		rv = store_save(sl, NULL, a, &id);
	}
	if (rv == CKR_OK && ch_object_is_secret(a)) {
		/* The value may still sit in the write-ahead log (see
		 * soft_version.c's destroy).  Best effort. */
		pthread_mutex_lock(&sl->sf->lock);
		(void)ch_store_wal_truncate(sl->sf->store);
		pthread_mutex_unlock(&sl->sf->lock);
	}
	soft_audit(sl, sl->seal, sl->participant,
	           ch_object_is_secret(a) ? "secret.delete" : "object.destroy", a, rv, NULL);
out:
	pthread_mutex_unlock(&sl->lock);
	ch_attrs_free(a);
	return rv;
}

CK_RV soft_object_size(ch_session *s, CK_OBJECT_HANDLE h, CK_ULONG *size)
{
	ch_attrs *a = NULL;
	CK_RV rv = soft_object_read(s, h, &a);

	if (rv == CKR_OK)
		*size = ch_object_size(a);
	ch_attrs_free(a);
	return rv;
}

/* Adds CKA_CH_ENCRYPTIONS to a (a copy of token key h being read) when
 * template t asks for it: this process's pending counts are written first,
 * so only other processes' uses not yet flushed are missing.  Slot lock
 * held; takes the store lock. */
static CK_RV add_encryptions_locked(soft_slot *sl, CK_OBJECT_HANDLE h, const CK_ATTRIBUTE *t,
                                    CK_ULONG n, ch_attrs *a)
{
	CK_OBJECT_CLASS cls = ch_object_class(a);
	uint64_t uses = 0;
	bool asked = false;
	CK_RV rv;

	for (CK_ULONG i = 0; i < n && !asked; i++)
		asked = t[i].type == CKA_CH_ENCRYPTIONS;
	if (!asked || is_session_handle(h) || !ch_object_is_token(a) ||
	    (cls != CKO_SECRET_KEY && cls != CKO_PRIVATE_KEY && cls != CKO_PUBLIC_KEY))
		return CKR_OK; /* then not an attribute of the object */
	if (sl->seal != NULL)
		soft_audit_flush(sl);
	pthread_mutex_lock(&sl->sf->lock);
	rv = key_uses(sl, a, &uses);
	pthread_mutex_unlock(&sl->sf->lock);
	if (rv == CKR_OK)
		rv = ch_attrs_set_ulong(a, CKA_CH_ENCRYPTIONS,
		                        uses > (uint64_t)(CK_ULONG)-1 ? (CK_ULONG)-1
		                                                      : (CK_ULONG)uses);
	return rv;
}

CK_RV soft_get_attributes(ch_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE *t, CK_ULONG n)
{
	soft_slot *sl = slot_of(s);
	soft_actor ac = actor_of(s);
	char owner[CH_NAME_MAX + 1];
	ch_attrs *a = NULL;
	CK_RV rv;

	pthread_mutex_lock(&sl->lock);
	rv = read_locked(sl, &ac, h, &a, owner);
	if (rv == CKR_OK)
		rv = add_encryptions_locked(sl, h, t, n, a);
	/* A secret's value has its own rule and audit (soft_secret.c). */
	if (rv == CKR_OK && ch_object_is_secret(a) && !is_session_handle(h))
		rv = soft_secret_get(sl, &ac, (int64_t)h, a, owner, t, n);
	else if (rv == CKR_OK)
		rv = ch_object_get(a, t, n);
	pthread_mutex_unlock(&sl->lock);
	ch_attrs_free(a);
	return rv;
}

CK_RV soft_set_attributes(ch_session *s, CK_OBJECT_HANDLE h, const CK_ATTRIBUTE *t, CK_ULONG n)
{
	soft_slot *sl = slot_of(s);
	soft_actor ac = actor_of(s);
	ch_object_env env = soft_object_env(s);
	ch_attrs *cur = NULL, *next = NULL;
	int64_t id = (int64_t)h;
	CK_RV rv;

	pthread_mutex_lock(&sl->lock);
	if ((rv = read_locked(sl, &ac, h, &cur, NULL)) != CKR_OK ||
	    (rv = ch_object_set(cur, t, n, &env, &next)) != CKR_OK ||
	    (rv = may_write(s, &ac, sl, next)) != CKR_OK)
		goto out;
	if (is_session_handle(h)) {
		soft_sobj *o = sobj_find(sl, h);

		ch_attrs_free(o->attrs);
		o->attrs = next;
		next = NULL; /* transferred */
	} else {
		rv = store_save(sl, next, NULL, &id);
		soft_audit(sl, sl->seal, sl->participant, "object.set", next, rv, NULL);
	}
out:
	pthread_mutex_unlock(&sl->lock);
	ch_attrs_free(cur);
	ch_attrs_free(next);
	return rv;
}

/* ---- searches ---- */

void soft_find_clear(soft_session *ss)
{
	free(ss->found);
	ss->found = NULL;
	ss->nfound = ss->pos = 0;
	ss->finding = false;
}

static CK_RV found_add(soft_session *ss, CK_OBJECT_HANDLE h, size_t *cap)
{
	if (ss->nfound == *cap) {
		size_t ncap = *cap ? *cap * 2 : 32;
		CK_OBJECT_HANDLE *nv = realloc(ss->found, ncap * sizeof(*nv));
		if (nv == NULL)
			return CKR_HOST_MEMORY;
		ss->found = nv;
		*cap = ncap;
	}
	ss->found[ss->nfound++] = h;
	return CKR_OK;
}

CK_RV soft_find_init(ch_session *s, const CK_ATTRIBUTE *t, CK_ULONG n)
{
	soft_session *ss = s->be;
	soft_slot *sl = slot_of(s);
	soft_actor ac = actor_of(s);
	bool priv = sees_private(&ac);
	soft_id_list f = { 0 }, later = { 0 };
	size_t cap = 0;
	CK_RV rv = CKR_OK;

	if (ss->finding)
		return CKR_OPERATION_ACTIVE;
	pthread_mutex_lock(&sl->lock);
	for (size_t i = 0; rv == CKR_OK && i < sl->nsobj; i++) {
		const ch_attrs *a = sl->sobj[i].attrs;

		if ((!ch_object_is_private(a) || priv) && ch_object_match(a, t, n))
			rv = found_add(ss, sl->sobj[i].handle, &cap);
	}
	if (rv != CKR_OK || !sl->initialized)
		goto out;
	pthread_mutex_lock(&sl->sf->lock);
	/* One read snapshot for the search and every load (one transaction,
	 * not one per object: see ch_store_obj_load). */
	rv = ch_store_begin_read(sl->sf->store);
	if (rv == CKR_OK)
		rv = ch_objstore_find(sl->sf->store, sl->seal, (int64_t)sl->id, priv, t, n,
		                      soft_collect_id, &f);
	if (rv == CKR_OK && f.oom)
		rv = CKR_HOST_MEMORY;
	/* A key family's primary comes before every other token object, so a
	 * client that takes the first key a label finds takes the current one
	 * (soft_version.c): primaries go straight in, the rest after them. */
	for (size_t i = 0; rv == CKR_OK && i < f.n; i++) {
		char owner[CH_NAME_MAX + 1];
		ch_attrs *a = NULL;

		/* Objects that fail to load (tampered: logged) are left out. */
		if (ch_objstore_load(sl->sf->store, sl->seal, (int64_t)sl->id, f.v[i], &a, owner) ==
		            CKR_OK &&
		    may_see(sl, &ac, f.v[i], a, owner) && ch_object_match(a, t, n)) {
			if (ch_attrs_bool(a, CKA_CH_PRIMARY, false))
				rv = found_add(ss, (CK_OBJECT_HANDLE)f.v[i], &cap);
			else if (soft_collect_id(&later, f.v[i]) != 0)
				rv = CKR_HOST_MEMORY;
		}
		ch_attrs_free(a);
	}
	for (size_t i = 0; rv == CKR_OK && i < later.n; i++)
		rv = found_add(ss, (CK_OBJECT_HANDLE)later.v[i], &cap);
	ch_store_rollback(sl->sf->store); /* ends the read */
	pthread_mutex_unlock(&sl->sf->lock);
out:
	pthread_mutex_unlock(&sl->lock);
	free(f.v);
	free(later.v);
	if (rv == CKR_OK)
		ss->finding = true;
	else
		soft_find_clear(ss);
	return rv;
}

CK_RV soft_find(ch_session *s, CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *count)
{
	soft_session *ss = s->be;
	CK_ULONG k = 0;

	if (!ss->finding)
		return CKR_OPERATION_NOT_INITIALIZED;
	while (k < max && ss->pos < ss->nfound)
		out[k++] = ss->found[ss->pos++];
	*count = k;
	return CKR_OK;
}

CK_RV soft_find_final(ch_session *s)
{
	soft_session *ss = s->be;

	if (!ss->finding)
		return CKR_OPERATION_NOT_INITIALIZED;
	soft_find_clear(ss);
	return CKR_OK;
}
