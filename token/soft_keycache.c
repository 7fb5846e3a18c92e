/*
 * The key cache: verified, opened copies of a slot's token objects, so an
 * operation's init (C_SignInit, C_EncryptInit, ...) does not read, check the
 * MAC of and decrypt its key from the store every time.
 *
 * Who uses it: read_locked() in soft_object.c, for every token object read
 * while someone is logged in (the cache holds only what a login opened).
 * The workload: a few hot keys used thousands of times a second, among up to
 * hundreds of thousands of objects; so a small table (SOFT_KC_SIZE entries)
 * with round-robin replacement.
 *
 * Staleness is a security property: a key changed (CKA_SIGN cleared, say)
 * or destroyed by any session of any process must never be used from here.
 * Each entry remembers the object's generation (bumped by the store on every
 * write; the row is gone once destroyed; IDs are never reused) and the store
 * epoch (ch_store_epoch: moves on any commit of any connection) at which it
 * was last known current.  A lookup with an unchanged epoch is a hit with no
 * file access (the epoch check reads SQLite's shared-memory counter); after
 * any commit each entry is re-proven by one indexed read of its generation,
 * and dropped when it differs.
 *
 * Asymmetric keys are kept parsed too (ch_key_parse: the EVP_PKEY rides
 * along with the entry's attributes), so RSA, EC and Edwards inits skip
 * OpenSSL's key import.
 *
 * Sharing: an entry is a soft_key, reference counted.  A lookup hands out
 * a new reference, not a copy (an init used to pay an allocation and a
 * wipe per attribute for its copy); the init lets go of it once its
 * operation is built (the operation keeps only what it derived: an
 * EVP_PKEY reference, cipher and MAC contexts).  An entry evicted, dropped
 * or cleared while an init in another thread still holds its key only lets
 * go of the cache's reference: the attributes, never changed once shared,
 * stay valid for that holder, and are wiped when the last holder lets go.
 *
 * Secrets: entries are wiped when evicted, at logout and login, when the
 * slot goes (C_Finalize), and at C_InitToken.  Access rules (visibility,
 * grants, roles) are not cached: the caller applies them on every read.
 *
 * Locking: the slot lock and the store lock, both held by the caller, for
 * the table; a soft_key's count is atomic, so it is released with no lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soft_internal.h"

#define SOFT_KC_SIZE 64

soft_key *soft_key_new(ch_attrs *a, const char *owner)
{
	soft_key *k = calloc(1, sizeof(*k));

	if (k == NULL) {
		ch_attrs_free(a);
		return NULL;
	}
	k->refs = 1;
	k->attrs = a;
	snprintf(k->owner, sizeof(k->owner), "%s", owner);
	k->due_at = soft_version_due_at(a);
	k->bound = soft_version_bound(a);
	return k;
}

soft_key *soft_key_hold(soft_key *k)
{
	__atomic_add_fetch(&k->refs, 1, __ATOMIC_RELAXED);
	return k;
}

void soft_key_release(soft_key *k)
{
	if (k == NULL || __atomic_sub_fetch(&k->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	ch_attrs_free(k->attrs); /* wipes every value */
	free(k);
}

typedef struct kc_entry {
	int64_t id; /* 0: empty */
	int64_t gen;
	uint64_t epoch;
	soft_key *key; /* the cache's own reference */
} kc_entry;

struct soft_keycache {
	kc_entry e[SOFT_KC_SIZE];
	size_t victim; /* next entry to replace */
};

/* Lets go of the entry: its key is wiped now, or when the last operation
 * init holding it lets go. */
static void entry_clear(kc_entry *e)
{
	soft_key_release(e->key);
	memset(e, 0, sizeof(*e));
}

void soft_keycache_clear(soft_slot *sl)
{
	if (sl->kc == NULL)
		return;
	for (size_t i = 0; i < SOFT_KC_SIZE; i++)
		entry_clear(&sl->kc->e[i]);
	free(sl->kc);
	sl->kc = NULL;
}

CK_RV soft_keycache_get(soft_slot *sl, int64_t id, soft_key **out)
{
	ch_store *st = sl->sf->store;
	uint64_t epoch;
	kc_entry *e = NULL;

	*out = NULL;
	if (sl->kc == NULL || sl->seal == NULL)
		return CKR_OBJECT_HANDLE_INVALID;
	for (size_t i = 0; i < SOFT_KC_SIZE && e == NULL; i++)
		if (sl->kc->e[i].id == id)
			e = &sl->kc->e[i];
	if (e == NULL)
		return CKR_OBJECT_HANDLE_INVALID;
	epoch = ch_store_epoch(st);
	if (e->epoch != epoch) {
		/* Something was committed since: is this object's copy still the
		 * stored one? */
		if (ch_store_obj_gen(st, id) != e->gen) {
			entry_clear(e);
			return CKR_OBJECT_HANDLE_INVALID;
		}
		e->epoch = epoch;
	}
	*out = soft_key_hold(e->key);
	return CKR_OK;
}

void soft_keycache_put(soft_slot *sl, int64_t id, int64_t gen, uint64_t epoch, soft_key *k)
{
	kc_entry *e = NULL, *hole = NULL;

	if (sl->seal == NULL)
		return; /* only what a login opened */
	if (sl->kc == NULL && (sl->kc = calloc(1, sizeof(*sl->kc))) == NULL)
		return;
	/* Its own entry, else an empty one (a dropped or stale key's), and
	 * only then a live one in turn. */
	for (size_t i = 0; i < SOFT_KC_SIZE && e == NULL; i++) {
		if (sl->kc->e[i].id == id)
			e = &sl->kc->e[i];
		else if (hole == NULL && sl->kc->e[i].id == 0)
			hole = &sl->kc->e[i];
	}
	if (e == NULL)
		e = hole;
	if (e == NULL) {
		e = &sl->kc->e[sl->kc->victim];
		sl->kc->victim = (sl->kc->victim + 1) % SOFT_KC_SIZE;
	}
	entry_clear(e);
	/* Once, for every operation from the entry; k is not shared yet, so
	 * this is the last change its attributes see. */
	ch_key_parse(k->attrs);
	e->key = soft_key_hold(k);
	e->id = id;
	e->gen = gen;
	e->epoch = epoch;
}

void soft_keycache_drop(soft_slot *sl, int64_t id)
{
	if (sl->kc == NULL)
		return;
	for (size_t i = 0; i < SOFT_KC_SIZE; i++)
		if (sl->kc->e[i].id == id)
			entry_clear(&sl->kc->e[i]);
}
