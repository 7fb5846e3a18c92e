/*
 * The module's process-wide state and the checks every entry point starts
 * with: is the library initialized (in this process: a forked child must call
 * C_Initialize again), which slot, which session.
 *
 * Entry points (general.c, slot.c, session.c, object.c, crypto.c) check
 * their arguments, take a session with ch_session_get(), hand over to the
 * slot's backend (backend.h) and give the session back with
 * ch_session_put().
 */
#ifndef CH_SRC_MODULE_H
#define CH_SRC_MODULE_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "backend.h"
#include "config.h"
#include "soft.h"

typedef struct ch_module {
	bool initialized;
	pid_t pid;            /* the process that called C_Initialize */
	pthread_mutex_t lock; /* guards the slot and session tables */
	ch_config cfg;
	ch_soft *soft; /* NULL when the store could not be opened */
	ch_slot **slot;
	size_t nslot;
	ch_session **session;
	size_t nsession, session_cap;
	CK_SESSION_HANDLE next_session;
} ch_module;

extern ch_module ch_mod;

/* Parents' states a forked child inherited (general.c); never touched. */
extern struct ch_abandoned *ch_mod_abandoned;

/* CKR_OK when C_Initialize has run in this process, else
 * CKR_CRYPTOKI_NOT_INITIALIZED. */
CK_RV ch_module_check(void);

/* Refreshes the slot table from the backends.  ch_mod.lock held. */
void ch_slots_refresh_unlocked(void);

/* Frees every slot.  ch_mod.lock held, no session left. */
void ch_slots_free_unlocked(void);

/* The slot with that ID: CKR_OK or CKR_SLOT_ID_INVALID. */
CK_RV ch_slot_get(CK_SLOT_ID id, ch_slot **out);

/* Looks up an open session, takes a reference and its lock.  CKR_OK,
 * CKR_CRYPTOKI_NOT_INITIALIZED or CKR_SESSION_HANDLE_INVALID.  Give it back
 * with ch_session_put(). */
CK_RV ch_session_get(CK_SESSION_HANDLE h, ch_session **out);

/* Unlocks a session taken with ch_session_get and drops the reference (the
 * last one frees it).  Accepts NULL. */
void ch_session_put(ch_session *s);

/* Closes every session (of one slot, or all when slot is NULL). */
void ch_sessions_close(ch_slot *slot);

/* The argument check of the style guide: logs the failed condition and
 * returns CKR_ARGUMENTS_BAD. */
#define CH_CHECK_ARG(cond)                                                                         \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			ch_log(CH_LOG_DEBUG, "%s: bad argument: %s", __func__, #cond);             \
			return CKR_ARGUMENTS_BAD;                                                  \
		}                                                                                  \
	} while (0)

/* A caller's buffer of n bytes at p is usable: there, or empty. */
#define CH_DATA_OK(p, n) ((p) != NULL || (n) == 0)

/* Starts an entry point that works on a session: checks initialization and
 * takes the session (locked) into s, or returns the error. */
#define CH_SESSION_ENTER(h, s)                                                                     \
	do {                                                                                       \
		CK_RV enter_rv_ = ch_session_get((h), &(s));                                       \
		if (enter_rv_ != CKR_OK)                                                           \
			return enter_rv_;                                                          \
	} while (0)

#endif
