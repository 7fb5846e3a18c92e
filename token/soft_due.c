/*
 * When a key family falls due for rotation (issue 8), and the lazy check
 * that records it in the audit log when such a key is used.
 *
 * Two policies, both on the primary (or a plain key) and copied by a
 * rotation: a rotation period (CKA_CH_ROTATION_PERIOD, counted from
 * CKA_CH_CREATED), and a bound on encryptions (CKA_CH_MAX_ENCRYPTIONS, for
 * AES-GCM with random IVs), compared with the key's count (CKA_CH_ENCRYPTIONS:
 * the store's key_use row, keyuse.h).  `cipherhub rotate --due` reads both
 * through PKCS#11 and rotates; this file only notices.
 *
 * The check is on the way of every operation init, so it costs a comparison
 * for a key without a bound, and one atomic increment more for a key with
 * one: the count is read from the store once, when the key enters the key
 * cache (soft_object.c), and each cached copy adds the encryptions begun
 * with it since.  A copy therefore misses what other processes counted
 * after it was read, and the messages of message-based encryptions (counted
 * in the store by the key-use aggregator, not here), until it is read again;
 * `rotate --due`, which reads the store, does not.  A wrap counts in the store at once
 * (soft_audit_wrap) and is checked with the count that returns.
 *
 * A key.rotation_due record is written once per process and key and
 * policy: a small set of unique IDs remembers which were, so a copy read
 * again (after a change) does not write again.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "soft_internal.h"

static CK_ULONG ulong_or(const ch_attrs *a, CK_ATTRIBUTE_TYPE type, CK_ULONG def)
{
	CK_ULONG v;

	return ch_attrs_ulong(a, type, &v) ? v : def;
}

/* A token key that starts new encryptions: a primary, or a plain key. */
static bool is_current(const ch_attrs *key)
{
	return ch_object_is_token(key) && (ch_attrs_get(key, CKA_CH_VERSION) == NULL ||
	                                   ch_attrs_bool(key, CKA_CH_PRIMARY, false));
}

CK_ULONG soft_version_due_at(const ch_attrs *key)
{
	CK_ULONG period = ulong_or(key, CKA_CH_ROTATION_PERIOD, 0);

	if (period == 0 || !is_current(key))
		return 0;
	return ulong_or(key, CKA_CH_CREATED, 0) + period;
}

uint64_t soft_version_bound(const ch_attrs *key)
{
	return is_current(key) ? ulong_or(key, CKA_CH_MAX_ENCRYPTIONS, 0) : 0;
}

/* Keys already reported due by this process: CKA_UNIQUE_ID and the policy
 * ('p' period, 'e' encryptions). */
#define DUE_MAX 256
static pthread_mutex_t due_lock = PTHREAD_MUTEX_INITIALIZER;
static char due_seen[DUE_MAX][34];
static size_t due_n;

/* Writes key.rotation_due for key (as who, with detail) unless this process
 * did for this key and policy.  When the set is full, writes only if
 * per_copy (the caller's cached copy keeps its own flag, so it writes once
 * per copy); a caller without one writes nothing more.  Takes the slot
 * lock; call with none held.  Cold. */
static void due_record(soft_slot *sl, const ch_attrs *key, char policy, const char *who,
                       const char *detail, bool per_copy)
{
	const ch_attr *u = ch_attrs_get(key, CKA_UNIQUE_ID);
	char uid[34];
	bool fresh = true;

	if (u == NULL || u->len + 1 >= sizeof(uid))
		return;
	uid[0] = policy;
	memcpy(uid + 1, u->value, u->len);
	uid[u->len + 1] = '\0';
	pthread_mutex_lock(&due_lock);
	for (size_t i = 0; i < due_n && fresh; i++)
		fresh = strcmp(due_seen[i], uid) != 0;
	if (fresh && due_n < DUE_MAX)
		memcpy(due_seen[due_n++], uid, sizeof(uid));
	else if (fresh && !per_copy)
		fresh = false;
	pthread_mutex_unlock(&due_lock);
	if (!fresh)
		return;
	pthread_mutex_lock(&sl->lock);
	soft_audit(sl, sl->seal, who, "key.rotation_due", key, CKR_OK, detail);
	pthread_mutex_unlock(&sl->lock);
}

/* The encryption bound's record for key, at count n of bound. */
static void bound_record(soft_slot *sl, const ch_attrs *key, uint64_t n, uint64_t bound,
                         const char *who, bool per_copy)
{
	char detail[64];

	snprintf(detail, sizeof(detail), "encryptions %llu, bound %llu", (unsigned long long)n,
	         (unsigned long long)bound);
	due_record(sl, key, 'e', who, detail, per_copy);
}

void soft_version_note_use(soft_slot *sl, soft_key *k, const char *who, unsigned encryptions)
{
	char detail[64];

	if (k->bound != 0) {
		uint64_t n = k->uses_base +
		             (encryptions != 0
		                      ? __atomic_add_fetch(&k->uses, encryptions, __ATOMIC_RELAXED)
		                      : __atomic_load_n(&k->uses, __ATOMIC_RELAXED));

		if (n >= k->bound && !__atomic_exchange_n(&k->noted_bound, 1, __ATOMIC_ACQ_REL))
			bound_record(sl, k->attrs, n, k->bound, who, true);
	}
	if (k->due_at == 0 || (CK_ULONG)time(NULL) < k->due_at ||
	    __atomic_exchange_n(&k->noted, 1, __ATOMIC_ACQ_REL))
		return;
	/* Cold from here: once per cached copy. */
	snprintf(detail, sizeof(detail), "made %lu, period %lu s",
	         (unsigned long)ulong_or(k->attrs, CKA_CH_CREATED, 0),
	         (unsigned long)ulong_or(k->attrs, CKA_CH_ROTATION_PERIOD, 0));
	due_record(sl, k->attrs, 'p', who, detail, true);
}

void soft_version_note_count(soft_slot *sl, const ch_attrs *key, uint64_t n, const char *who)
{
	uint64_t bound = soft_version_bound(key);

	if (bound != 0 && n >= bound)
		bound_record(sl, key, n, bound, who, false);
}
