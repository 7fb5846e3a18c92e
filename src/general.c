/*
 * General-purpose functions (PKCS#11 3.0 section 5.4): C_Initialize,
 * C_Finalize, C_GetInfo; and the module state they set up.
 *
 * Fork: the state records the PID of the process that initialized it.  A
 * forked child sees CKR_CRYPTOKI_NOT_INITIALIZED from every call until it
 * calls C_Initialize, which abandons the parent's state without touching it
 * (closing the parent's SQLite connection from the child is unsafe) and
 * builds its own.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "module.h"

ch_module ch_mod;

/* Serialises C_Initialize and C_Finalize. */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

/* States inherited from parents by a forked child: never used or freed (the
 * parent still owns what they point to), only kept reachable.  Not static, so
 * the stores into it cannot be optimised away. */
typedef struct ch_abandoned {
	ch_module mod;
	struct ch_abandoned *prev;
} ch_abandoned;
ch_abandoned *ch_mod_abandoned;

/* This process's ID, without a system call on every PKCS#11 call: cached,
 * and forgotten in a forked child by an atfork handler (C_Initialize
 * registers it once), so the child reads its own. */
static pid_t pid_cache;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void pid_forget(void)
{
	__atomic_store_n(&pid_cache, 0, __ATOMIC_RELAXED);
}

static void atfork_register(void)
{
	(void)pthread_atfork(NULL, NULL, pid_forget);
}

static pid_t my_pid(void)
{
	pid_t p = __atomic_load_n(&pid_cache, __ATOMIC_RELAXED);

	if (p == 0) {
		p = getpid();
		__atomic_store_n(&pid_cache, p, __ATOMIC_RELAXED);
	}
	return p;
}

CK_RV ch_module_check(void)
{
	if (!ch_mod.initialized || ch_mod.pid != my_pid())
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	return CKR_OK;
}

/* Checks CK_C_INITIALIZE_ARGS (5.4, C_Initialize).  We lock with the OS
 * (pthreads); an application that supplies its own mutex functions without
 * CKF_OS_LOCKING_OK would require us to use them, which we do not: the spec
 * then allows CKR_CANT_LOCK. */
static CK_RV check_init_args(const CK_C_INITIALIZE_ARGS *a)
{
	int given;

	if (a == NULL)
		return CKR_OK;
	CH_CHECK_ARG(a->pReserved == NULL);
	given = (a->CreateMutex != NULL) + (a->DestroyMutex != NULL) + (a->LockMutex != NULL) +
	        (a->UnlockMutex != NULL);
	CH_CHECK_ARG(given == 0 || given == 4);
	if (given == 4 && !(a->flags & CKF_OS_LOCKING_OK))
		return CKR_CANT_LOCK;
	return CKR_OK;
}

/* PKCS#11 3.0, 5.4 C_Initialize. */
CK_RV C_Initialize(CK_VOID_PTR pInitArgs)
{
	CK_RV rv;

	if ((rv = check_init_args(pInitArgs)) != CKR_OK)
		return rv;
	pthread_mutex_lock(&init_lock);
	(void)pthread_once(&atfork_once, atfork_register);
	pid_forget(); /* read afresh: a child of a fork that ran no handler */
	if (ch_mod.initialized && ch_mod.pid == my_pid()) {
		rv = CKR_CRYPTOKI_ALREADY_INITIALIZED;
		goto out;
	}
	if (ch_mod.initialized) {
		/* A forked child: leave the parent's state alone. */
		ch_abandoned *a = malloc(sizeof(*a));

		if (a != NULL) {
			a->mod = ch_mod;
			a->prev = ch_mod_abandoned;
			ch_mod_abandoned = a;
		}
	}
	memset(&ch_mod, 0, sizeof(ch_mod));
	pthread_mutex_init(&ch_mod.lock, NULL);
	if ((rv = ch_config_load(&ch_mod.cfg)) != CKR_OK)
		goto out;
	if (ch_log_setup((ch_log_level)ch_mod.cfg.log_level, ch_mod.cfg.log_file) != 0)
		ch_log(CH_LOG_WARNING, "cannot open log file %s; logging to stderr",
		       ch_mod.cfg.log_file);
	/* A store that cannot be opened is logged and leaves the slot list
	 * empty; the next C_GetSlotList tries again. */
	(void)ch_soft_open(&ch_mod.cfg, &ch_mod.soft);
	ch_mod.next_session = 1;
	ch_mod.pid = my_pid();
	ch_mod.initialized = true;
	rv = CKR_OK;
out:
	if (rv != CKR_OK && !ch_mod.initialized)
		ch_config_free(&ch_mod.cfg);
	pthread_mutex_unlock(&init_lock);
	return rv;
}

/* PKCS#11 3.0, 5.4 C_Finalize. */
CK_RV C_Finalize(CK_VOID_PTR pReserved)
{
	CK_RV rv;

	CH_CHECK_ARG(pReserved == NULL);
	pthread_mutex_lock(&init_lock);
	if ((rv = ch_module_check()) != CKR_OK)
		goto out;
	ch_sessions_close(NULL);
	pthread_mutex_lock(&ch_mod.lock);
	ch_slots_free_unlocked();
	free(ch_mod.session);
	pthread_mutex_unlock(&ch_mod.lock);
	ch_soft_close(ch_mod.soft);
	ch_config_free(&ch_mod.cfg);
	ch_log_close();
	pthread_mutex_destroy(&ch_mod.lock);
	memset(&ch_mod, 0, sizeof(ch_mod));
out:
	pthread_mutex_unlock(&init_lock);
	return rv;
}

/* PKCS#11 3.0, 5.4 C_GetInfo. */
CK_RV C_GetInfo(CK_INFO_PTR pInfo)
{
	CK_RV rv;

	if ((rv = ch_module_check()) != CKR_OK)
		return rv;
	CH_CHECK_ARG(pInfo != NULL);
	memset(pInfo, 0, sizeof(*pInfo));
	pInfo->cryptokiVersion.major = 3;
	pInfo->cryptokiVersion.minor = 0;
	ch_pad(pInfo->manufacturerID, sizeof(pInfo->manufacturerID), "Cipher Hub");
	ch_pad(pInfo->libraryDescription, sizeof(pInfo->libraryDescription),
	       "Cipher Hub PKCS#11 module");
	pInfo->libraryVersion.major = 0;
	pInfo->libraryVersion.minor = 1;
	return CKR_OK;
}
