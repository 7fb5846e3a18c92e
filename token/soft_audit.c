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
#include "keyuse.h"
#include "log.h"
#include "soft_internal.h"

struct audit_args {
	const ch_seal *seal;
	const ch_audit_event *ev;
	const char *counted; /* a key whose count of encryptions grows by one, or NULL */
	uint64_t total;      /* out: its count after */
};

static CK_RV audit_txn(soft_slot *sl, void *arg)
{
	struct audit_args *a = arg;
	CK_RV rv = ch_audit_append(sl->sf->store, (int64_t)sl->id, a->seal, a->ev);

	if (rv == CKR_OK && a->counted != NULL)
		rv = ch_keyuse_add(sl->sf->store, (int64_t)sl->id, a->counted, 1, &a->total);
	return rv;
}

/* CKA_UNIQUE_ID of obj (may be NULL) into uid ("" when none). */
static void uid_of(const ch_attrs *obj, char uid[33])
{
	const ch_attr *u = obj != NULL ? ch_attrs_get(obj, CKA_UNIQUE_ID) : NULL;

	uid[0] = '\0';
	if (u != NULL && u->len < 33) {
		memcpy(uid, u->value, u->len);
		uid[u->len] = '\0';
	}
}

/* soft_audit, counting one encryption of the key named counted (when not
 * NULL or "") in the same transaction; returns that key's count after (0
 * when none was counted or the record failed). */
static uint64_t audit_counted(soft_slot *sl, const ch_seal *seal, const char *participant,
                              const char *op, const ch_attrs *obj, CK_RV result, const char *detail,
                              const char *counted)
{
	char uid[33];
	ch_audit_event ev = { .participant = participant,
		              .operation = op,
		              .object = uid,
		              .result = result,
		              .count = 1,
		              .detail = detail };
	struct audit_args args = { seal, &ev, counted != NULL && counted[0] ? counted : NULL, 0 };
	CK_RV rv;

	uid_of(obj, uid);
	if ((rv = soft_txn(sl, audit_txn, &args)) != CKR_OK) {
		ch_log(CH_LOG_ERROR, "registration %lu: audit record \"%s\" not written (0x%lx)",
		       (unsigned long)sl->id, op, (unsigned long)rv);
		return 0;
	}
	return args.total;
}

void soft_audit(soft_slot *sl, const ch_seal *seal, const char *participant, const char *op,
                const ch_attrs *obj, CK_RV result, const char *detail)
{
	(void)audit_counted(sl, seal, participant, op, obj, result, detail, NULL);
}

uint64_t soft_audit_wrap(soft_slot *sl, const ch_attrs *key, const ch_attrs *wrapping, CK_RV result,
                         const char *detail)
{
	char wuid[33];

	uid_of(wrapping, wuid);
	return audit_counted(sl, sl->seal, sl->participant, "key.wrap", key, result, detail,
	                     result == CKR_OK && ch_object_is_token(wrapping) ? wuid : NULL);
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
