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
 * along with every copy handed out), so RSA, EC and Edwards inits skip
 * OpenSSL's key import.
 *
 * Secrets: entries are wiped when evicted, at logout and login, when the
 * slot goes (C_Finalize), and at C_InitToken.  Access rules (visibility,
 * grants, roles) are not cached: the caller applies them on every read.
 *
 * Locking: the slot lock and the store lock, both held by the caller.
 */
#include <stdlib.h>
#include <string.h>

#include "soft_internal.h"

#define SOFT_KC_SIZE 64

typedef struct kc_entry {
	int64_t id; /* 0: empty */
	int64_t gen;
	uint64_t epoch;
	ch_attrs *attrs;
	char owner[CH_NAME_MAX + 1];
} kc_entry;

struct soft_keycache {
	kc_entry e[SOFT_KC_SIZE];
	size_t victim; /* next entry to replace */
};

static void entry_clear(kc_entry *e)
{
	ch_attrs_free(e->attrs); /* wipes every value */
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

CK_RV soft_keycache_get(soft_slot *sl, int64_t id, ch_attrs **out, char owner[CH_NAME_MAX + 1])
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
	if ((*out = ch_attrs_dup(e->attrs)) == NULL)
		return CKR_HOST_MEMORY;
	memcpy(owner, e->owner, CH_NAME_MAX + 1);
	return CKR_OK;
}

void soft_keycache_put(soft_slot *sl, int64_t id, int64_t gen, uint64_t epoch, const ch_attrs *a,
                       const char *owner)
{
	kc_entry *e = NULL;

	if (sl->seal == NULL)
		return; /* only what a login opened */
	if (sl->kc == NULL && (sl->kc = calloc(1, sizeof(*sl->kc))) == NULL)
		return;
	for (size_t i = 0; i < SOFT_KC_SIZE && e == NULL; i++)
		if (sl->kc->e[i].id == id)
			e = &sl->kc->e[i];
	if (e == NULL) {
		e = &sl->kc->e[sl->kc->victim];
		sl->kc->victim = (sl->kc->victim + 1) % SOFT_KC_SIZE;
	}
	entry_clear(e);
	if ((e->attrs = ch_attrs_dup(a)) == NULL)
		return;
	ch_key_parse(e->attrs); /* once, for every operation from the entry */
	e->id = id;
	e->gen = gen;
	e->epoch = epoch;
	memcpy(e->owner, owner, CH_NAME_MAX + 1);
}

void soft_keycache_drop(soft_slot *sl, int64_t id)
{
	if (sl->kc == NULL)
		return;
	for (size_t i = 0; i < SOFT_KC_SIZE; i++)
		if (sl->kc->e[i].id == id)
			entry_clear(&sl->kc->e[i]);
}
