/*
 * The key cache hands out references, not copies (token/soft_keycache.c):
 * a lookup gives the cached soft_key itself with one more reference, and a
 * key held by an operation's init stays whole while the cache lets go of it
 * (logout, eviction, a change of the object), to be wiped and freed when
 * the last holder lets go.  Run under ASan (the default build), a key freed
 * while still held fails here as a use after free, and a reference never
 * let go as a leak.  Two threads also take and let go of references to one
 * entry while a third keeps dropping and refilling it: the count is atomic.
 *
 * This drives the cache directly on a real store (for its epoch) with a
 * stand-in slot; what a slot's login would open is made up here.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "soft_internal.h"

static char dir[] = "/tmp/ch-test-kcrefs-XXXXXX";
static ch_soft sf;
static soft_slot sl;

static const CK_BYTE value[32] = "keycache-refs-test-key-012345678";

/* A fresh key object id (value's first byte is id) with one reference, or
 * NULL when out of memory.  No CHECK: threads call it too. */
static soft_key *make_key(int64_t id)
{
	ch_attrs *a = ch_attrs_new();
	CK_BYTE v[sizeof(value)];

	memcpy(v, value, sizeof(v));
	v[0] = (CK_BYTE)id;
	if (a == NULL || ch_attrs_set_ulong(a, CKA_CLASS, CKO_SECRET_KEY) != CKR_OK ||
	    ch_attrs_set_ulong(a, CKA_KEY_TYPE, CKK_AES) != CKR_OK ||
	    ch_attrs_set(a, CKA_VALUE, v, sizeof(v)) != CKR_OK) {
		ch_attrs_free(a);
		return NULL;
	}
	return soft_key_new(a, "alice");
}

/* Does k still hold object id's value? */
static bool key_whole(const soft_key *k, int64_t id)
{
	const ch_attr *v = ch_attrs_get(k->attrs, CKA_VALUE);

	return v != NULL && v->len == sizeof(value) && v->value[0] == (CK_BYTE)id &&
	       memcmp(v->value + 1, value + 1, sizeof(value) - 1) == 0 &&
	       strcmp(k->owner, "alice") == 0;
}

static unsigned refs_of(const soft_key *k)
{
	return __atomic_load_n(&k->refs, __ATOMIC_ACQUIRE);
}

static unsigned out_of_memory;

/* Caches a new key for id at the current epoch; returns it, not held (the
 * cache's reference keeps it). */
static soft_key *cache_new(int64_t id)
{
	soft_key *k = make_key(id);

	if (k == NULL) {
		__atomic_add_fetch(&out_of_memory, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	soft_keycache_put(&sl, id, 1, ch_store_epoch(sf.store), k);
	soft_key_release(k);
	return k;
}

static void test_lookup_is_the_cached_key_with_one_more_reference(void)
{
	soft_key *k = cache_new(1), *got = NULL, *again = NULL;

	CHECK(k != NULL);
	CHECK_UL(refs_of(k), 1);
	CHECK_RV(soft_keycache_get(&sl, 1, &got), CKR_OK);
	CHECK(got == k);
	CHECK_UL(refs_of(k), 2);
	CHECK_RV(soft_keycache_get(&sl, 1, &again), CKR_OK);
	CHECK(again == k);
	CHECK_UL(refs_of(k), 3);
	soft_key_release(again);
	soft_key_release(got);
	CHECK_UL(refs_of(k), 1);
	CHECK_RV(soft_keycache_get(&sl, 2, &got), CKR_OBJECT_HANDLE_INVALID);
	CHECK(got == NULL);
	soft_keycache_clear(&sl);
}

static void test_held_key_outlives_logout_eviction_and_drop(void)
{
	soft_key *k, *held = NULL;

	/* Logout clears the cache while an init holds the key. */
	cache_new(1);
	CHECK_RV(soft_keycache_get(&sl, 1, &held), CKR_OK);
	soft_keycache_clear(&sl);
	CHECK(key_whole(held, 1));
	CHECK_UL(refs_of(held), 1);
	CHECK_RV(soft_keycache_get(&sl, 1, &k), CKR_OBJECT_HANDLE_INVALID);
	soft_key_release(held); /* the last holder: wiped and freed */

	/* The object changes (its entry dropped) while held. */
	cache_new(2);
	CHECK_RV(soft_keycache_get(&sl, 2, &held), CKR_OK);
	soft_keycache_drop(&sl, 2);
	CHECK(key_whole(held, 2));
	CHECK_UL(refs_of(held), 1);
	soft_key_release(held);

	/* Evicted by newer keys (more than the table holds) while held. */
	cache_new(3);
	CHECK_RV(soft_keycache_get(&sl, 3, &held), CKR_OK);
	for (int64_t id = 100; id < 300; id++)
		cache_new(id);
	CHECK_RV(soft_keycache_get(&sl, 3, &k), CKR_OBJECT_HANDLE_INVALID);
	CHECK(key_whole(held, 3));
	CHECK_UL(refs_of(held), 1);
	soft_key_release(held);

	/* Put again over a held entry: the holder keeps the old key. */
	cache_new(4);
	CHECK_RV(soft_keycache_get(&sl, 4, &held), CKR_OK);
	k = cache_new(4);
	CHECK(k != NULL && k != held);
	CHECK(key_whole(held, 4));
	CHECK_UL(refs_of(held), 1);
	soft_key_release(held);
	soft_keycache_clear(&sl);
}

#define USERS  2
#define ROUNDS 20000

static bool stop;

/* An init's pattern: a reference under the locks, the key used and let go
 * of with none held. */
static void *user(void *arg)
{
	unsigned *bad = arg;

	for (int i = 0; i < ROUNDS; i++) {
		soft_key *k = NULL;

		pthread_mutex_lock(&sl.lock);
		pthread_mutex_lock(&sf.lock);
		(void)soft_keycache_get(&sl, 7, &k);
		pthread_mutex_unlock(&sf.lock);
		pthread_mutex_unlock(&sl.lock);
		if (k != NULL && !key_whole(k, 7))
			(*bad)++;
		soft_key_release(k);
	}
	return NULL;
}

/* The cache's side: the entry dropped and refilled, again and again. */
static void *churn(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&sl.lock);
		pthread_mutex_lock(&sf.lock);
		soft_keycache_drop(&sl, 7);
		cache_new(7);
		pthread_mutex_unlock(&sf.lock);
		pthread_mutex_unlock(&sl.lock);
	}
	return NULL;
}

static void test_two_threads_hold_one_entry_while_it_churns(void)
{
	pthread_t u[USERS], c;
	unsigned bad[USERS] = { 0 };
	soft_key *k = NULL;

	cache_new(7);
	CHECK(pthread_create(&c, NULL, churn, NULL) == 0);
	for (int i = 0; i < USERS; i++)
		CHECK(pthread_create(&u[i], NULL, user, &bad[i]) == 0);
	for (int i = 0; i < USERS; i++) {
		CHECK(pthread_join(u[i], NULL) == 0);
		CHECK_UL(bad[i], 0);
	}
	__atomic_store_n(&stop, true, __ATOMIC_RELEASE);
	CHECK(pthread_join(c, NULL) == 0);
	/* Every reference the users took is back: only the cache's is left. */
	CHECK_RV(soft_keycache_get(&sl, 7, &k), CKR_OK);
	CHECK_UL(refs_of(k), 2);
	soft_key_release(k);
	soft_keycache_clear(&sl);
}

int main(void)
{
	char path[512];

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/store.db", dir);
	CHECK_RV(ch_store_open(path, &sf.store), CKR_OK);
	pthread_mutex_init(&sf.lock, NULL);
	pthread_mutex_init(&sl.lock, NULL);
	sl.sf = &sf;
	/* The cache only works while someone is logged in (seal != NULL); it
	 * never looks inside the seal. */
	sl.seal = (ch_seal *)&sl;

	test_lookup_is_the_cached_key_with_one_more_reference();
	test_held_key_outlives_logout_eviction_and_drop();
	test_two_threads_hold_one_entry_while_it_churns();
	CHECK_UL(out_of_memory, 0);

	ch_store_close(sf.store);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	CHECK(system(path) == 0);
	return ch_test_done();
}
