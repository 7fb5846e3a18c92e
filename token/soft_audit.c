/*
 * The software token's side of the audit log: which events it records and
 * when aggregated key use is written (see audit.h for the log itself).
 *
 * Management events (token init, logins, lockouts, participants, grants,
 * object creation, change, destruction) are appended at once, each in its
 * own transaction, MACed when someone is logged in.  Key use is only counted
 * per (key, participant, operation) on the hot path and written when a
 * second has passed, at logout and when the store is closed.  An audit
 * record that cannot be written is logged; the audited call's result stands.
 */
#include <string.h>

#include "audit.h"
#include "log.h"
#include "soft_internal.h"

struct audit_args {
	const ch_seal *seal;
	const ch_audit_event *ev;
};

static CK_RV audit_txn(soft_slot *sl, void *arg)
{
	const struct audit_args *a = arg;

	return ch_audit_append(sl->sf->store, (int64_t)sl->id, a->seal, a->ev);
}

void soft_audit(soft_slot *sl, const ch_seal *seal, const char *participant, const char *op,
                const ch_attrs *obj, CK_RV result, const char *detail)
{
	char uid[33] = "";
	const ch_attr *u = obj != NULL ? ch_attrs_get(obj, CKA_UNIQUE_ID) : NULL;
	ch_audit_event ev = { .participant = participant,
		              .operation = op,
		              .object = uid,
		              .result = result,
		              .count = 1,
		              .detail = detail };
	CK_RV rv;

	if (u != NULL && u->len < sizeof(uid))
		memcpy(uid, u->value, u->len);
	struct audit_args args = { seal, &ev };

	if ((rv = soft_txn(sl, audit_txn, &args)) != CKR_OK)
		ch_log(CH_LOG_ERROR, "registration %lu: audit record \"%s\" not written (0x%lx)",
		       (unsigned long)sl->id, op, (unsigned long)rv);
}

/* The seal to MAC a flushed record with: the slot's own while it is logged
 * in (its lock held by the caller).  The aggregator is the slot's, so it
 * holds no other registration's counts. */
static const ch_seal *seal_of_slot(void *arg, int64_t reg)
{
	soft_slot *sl = arg;

	return sl != NULL && (int64_t)sl->id == reg ? sl->seal : NULL;
}

void soft_audit_flush(soft_slot *sl)
{
	ch_soft *sf = sl->sf;
	CK_RV rv;

	pthread_mutex_lock(&sf->lock);
	rv = ch_audit_agg_flush(sl->agg, sf->store, seal_of_slot, sl);
	pthread_mutex_unlock(&sf->lock);
	if (rv != CKR_OK)
		ch_log(CH_LOG_ERROR, "key-use audit records not written yet (0x%lx)",
		       (unsigned long)rv);
}

/* Counts one use of key by participant: thread-safe with no lock of ours
 * (ch_audit_agg_note).  A CH_BENCH_NO_KEY_USE_AUDIT build (CMake option, for
 * tools/bench's audit on/off row only; never installed, never tested) counts
 * nothing: what it saves is what the key-use audit costs. */
static void use_note(soft_slot *sl, const ch_attrs *key, const char *participant, const char *op)
{
#ifdef CH_BENCH_NO_KEY_USE_AUDIT
	(void)sl;
	(void)key;
	(void)participant;
	(void)op;
#else
	const ch_attr *u = ch_attrs_get(key, CKA_UNIQUE_ID);
	char uid[33] = "";

	if (u != NULL && u->len < sizeof(uid))
		memcpy(uid, u->value, u->len);
	ch_audit_agg_note(sl->agg, (int64_t)sl->id, uid, participant, op);
#endif
}

void soft_audit_use(soft_slot *sl, const ch_attrs *key, const char *op)
{
	use_note(sl, key, sl->participant, op);
	if (ch_audit_agg_claim(sl->agg))
		soft_audit_flush(sl);
}

void soft_audit_use_unlocked(soft_slot *sl, const ch_attrs *key, const char *participant,
                             const char *op)
{
	use_note(sl, key, participant, op);
	if (ch_audit_agg_claim(sl->agg)) {
		pthread_mutex_lock(&sl->lock);
		soft_audit_flush(sl);
		pthread_mutex_unlock(&sl->lock);
	}
}

CK_RV soft_audit_read(void *be, CK_ULONG from, CH_AUDIT_RECORD *list, CK_ULONG *count)
{
	soft_slot *sl = be;
	CK_RV rv;

	pthread_mutex_lock(&sl->lock);
	if (sl->seal != NULL)
		soft_audit_flush(sl);
	pthread_mutex_lock(&sl->sf->lock);
	rv = ch_audit_read(sl->sf->store, (int64_t)sl->id, from, list, count);
	pthread_mutex_unlock(&sl->sf->lock);
	pthread_mutex_unlock(&sl->lock);
	return rv;
}

CK_RV soft_audit_verify(void *be, CK_ULONG *first_bad, CK_ULONG *unauthenticated)
{
	soft_slot *sl = be;
	uint64_t bad = 0, unauth = 0;
	CK_RV rv;

	pthread_mutex_lock(&sl->lock);
	if (sl->seal == NULL) {
		rv = CKR_USER_NOT_LOGGED_IN;
		goto out;
	}
	soft_audit_flush(sl);
	pthread_mutex_lock(&sl->sf->lock);
	rv = ch_audit_verify(sl->sf->store, (int64_t)sl->id, sl->seal, &bad, &unauth);
	pthread_mutex_unlock(&sl->sf->lock);
	if (rv == CKR_OK) { /* a break is logged by ch_audit_verify */
		*first_bad = (CK_ULONG)bad;
		*unauthenticated = (CK_ULONG)unauth;
	}
out:
	pthread_mutex_unlock(&sl->lock);
	return rv;
}
