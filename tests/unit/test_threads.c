/*
 * Threads (PKCS#11 3.0 section 5.4, C_Initialize and CK_C_INITIALIZE_ARGS):
 * the locking choices C_Initialize accepts and refuses, the state errors of
 * C_Initialize and C_Finalize, and four application threads, each with its
 * own session, creating, finding, signing and encrypting at the same time
 * while two more open and close sessions -- all of it bounded, all of it
 * checked.
 *
 * Worker threads do not call CHECK (its counters are not atomic): each
 * records its failures and its first message, and the main thread checks
 * those.
 */
#include <pthread.h>

#include "module.h"

#define WORKERS    4
#define ITERATIONS 20
#define CHURNERS   2
#define CHURNS     60

/* ---- C_Initialize arguments ---- */

static CK_RV dummy_create(CK_VOID_PTR_PTR m)
{
	*m = (CK_VOID_PTR)1;
	return CKR_OK;
}

static CK_RV dummy_mutex(CK_VOID_PTR m)
{
	(void)m;
	return CKR_OK;
}

static void test_initialize_arguments_and_state(void)
{
	ch_t_env e;
	CK_C_INITIALIZE_ARGS a;
	int reserved;

	REQUIRE(ch_t_load() && ch_t_env_new(&e));

	/* Only the application's mutexes, no OS locking: we refuse. */
	memset(&a, 0, sizeof(a));
	a.CreateMutex = dummy_create;
	a.DestroyMutex = dummy_mutex;
	a.LockMutex = dummy_mutex;
	a.UnlockMutex = dummy_mutex;
	CHECK_RV(P11->C_Initialize(&a), CKR_CANT_LOCK);
	CHECK_RV(P11->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
	/* Its mutexes or the OS's: we take the OS's. */
	a.flags = CKF_OS_LOCKING_OK;
	CHECK_RV(P11->C_Initialize(&a), CKR_OK);
	CHECK_RV(P11->C_Finalize(NULL), CKR_OK);
	/* Some but not all of the four functions. */
	a.LockMutex = NULL;
	CHECK_RV(P11->C_Initialize(&a), CKR_ARGUMENTS_BAD);
	/* pReserved must be NULL. */
	memset(&a, 0, sizeof(a));
	a.flags = CKF_OS_LOCKING_OK;
	a.pReserved = &reserved;
	CHECK_RV(P11->C_Initialize(&a), CKR_ARGUMENTS_BAD);
	CHECK_RV(P11->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
	/* No threads of our own: the application may forbid them. */
	a.pReserved = NULL;
	a.flags = CKF_OS_LOCKING_OK | CKF_LIBRARY_CANT_CREATE_OS_THREADS;
	CHECK_RV(P11->C_Initialize(&a), CKR_OK);
	CHECK_RV(P11->C_Finalize(NULL), CKR_OK);

	/* No arguments at all: single-threaded use. */
	CHECK_RV(P11->C_Initialize(NULL), CKR_OK);
	CHECK_RV(P11->C_Initialize(NULL), CKR_CRYPTOKI_ALREADY_INITIALIZED);
	CHECK_RV(ch_t_initialize(), CKR_CRYPTOKI_ALREADY_INITIALIZED);
	CHECK_RV(P11->C_Finalize(&reserved), CKR_ARGUMENTS_BAD);
	/* That refusal did not finalize. */
	{
		CK_INFO info;
		CHECK_RV(P11->C_GetInfo(&info), CKR_OK);
		CHECK_UL(info.cryptokiVersion.major, 3);
	}
	CHECK_RV(P11->C_Finalize(NULL), CKR_OK);
	CHECK_RV(P11->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
	/* And it initializes again after all that. */
	CHECK_RV(ch_t_initialize(), CKR_OK);
	CHECK(ch_t_slots((CK_SLOT_ID[4]){ 0 }, 4) == 1);
out:
	ch_t_env_free(&e);
}

/* ---- concurrent sessions ---- */

typedef struct worker {
	pthread_t tid;
	int id;
	CK_SLOT_ID slot;
	int failures;
	char first[200];
	int objects; /* token objects it created */
} worker;

/* Records a failure of w (the first one with its message). */
static void fail(worker *w, const char *what, CK_RV rv)
{
	if (w->failures++ == 0)
		snprintf(w->first, sizeof(w->first), "thread %d: %s: %s", w->id, what,
		         ch_test_rv_name(rv));
}

#define STEP(w, call)                                                                              \
	do {                                                                                       \
		CK_RV step_rv_ = (call);                                                           \
		if (step_rv_ != CKR_OK) {                                                          \
			fail((w), #call, step_rv_);                                                \
			goto out;                                                                  \
		}                                                                                  \
	} while (0)

static void *work(void *arg)
{
	worker *w = arg;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE aes, pub, priv, o;
	CK_MECHANISM sign_m = { CKM_ECDSA_SHA256, NULL, 0 }, gcm;
	CK_GCM_PARAMS gp;
	CK_BYTE iv[12] = { 0 }, msg[64], ct[128], pt[128], sig[128];
	char label[32];

	snprintf(label, sizeof(label), "thread-%d", w->id);
	STEP(w, ch_t_open(w->slot, true, &h));
	/* The keys are session objects with another label than the data. */
	STEP(w, ch_t_gen_aes(h, false, "thread-keys", &aes));
	STEP(w, ch_t_gen_ec(h, false, "thread-keys", &pub, &priv));
	for (int i = 0; i < ITERATIONS; i++) {
		CK_ULONG ct_len = sizeof(ct), pt_len = sizeof(pt), slen = sizeof(sig);
		long n;

		snprintf((char *)msg, sizeof(msg), "thread %d iteration %d", w->id, i);
		iv[0] = (CK_BYTE)w->id;
		iv[1] = (CK_BYTE)i;
		STEP(w, ch_t_create_data(h, true, i % 2 == 0, label, msg, sizeof(msg), &o));
		w->objects++;
		n = ch_t_count_label(h, label);
		if (n != w->objects) {
			fail(w, "count of own token objects", CKR_GENERAL_ERROR);
			goto out;
		}
		STEP(w, P11->C_SignInit(h, &sign_m, priv));
		STEP(w, P11->C_Sign(h, msg, sizeof(msg), sig, &slen));
		STEP(w, P11->C_VerifyInit(h, &sign_m, pub));
		STEP(w, P11->C_Verify(h, msg, sizeof(msg), sig, slen));
		ch_t_gcm(&gcm, &gp, iv, NULL, 0);
		STEP(w, P11->C_EncryptInit(h, &gcm, aes));
		STEP(w, P11->C_Encrypt(h, msg, sizeof(msg), ct, &ct_len));
		STEP(w, P11->C_DecryptInit(h, &gcm, aes));
		STEP(w, P11->C_Decrypt(h, ct, ct_len, pt, &pt_len));
		if (pt_len != sizeof(msg) || memcmp(pt, msg, sizeof(msg)) != 0) {
			fail(w, "decrypted text differs", CKR_GENERAL_ERROR);
			goto out;
		}
		if (i % 5 == 4) {
			STEP(w, P11->C_DestroyObject(h, o));
			w->objects--;
		}
	}
out:
	if (h != CK_INVALID_HANDLE)
		(void)P11->C_CloseSession(h);
	return NULL;
}

/* Opens and closes sessions, reading their state; the login (held by the
 * main thread's session) must show in every one. */
static void *churn(void *arg)
{
	worker *w = arg;

	for (int i = 0; i < CHURNS; i++) {
		CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
		CK_SESSION_INFO si;

		STEP(w, ch_t_open(w->slot, i % 2 == 0, &h));
		STEP(w, P11->C_GetSessionInfo(h, &si));
		if (si.state != (i % 2 == 0 ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS))
			fail(w, "session state", CKR_GENERAL_ERROR);
		STEP(w, P11->C_CloseSession(h));
		continue;
	out:
		if (h != CK_INVALID_HANDLE)
			(void)P11->C_CloseSession(h);
		break;
	}
	return NULL;
}

static void test_threads_with_own_sessions_work_concurrently(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE main_h;
	worker w[WORKERS + CHURNERS];
	int started = 0;

	memset(w, 0, sizeof(w));
	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, false, &main_h), CKR_OK);
	for (int i = 0; i < WORKERS + CHURNERS; i++) {
		w[i].id = i;
		w[i].slot = e.slot;
		if (!CHECK(pthread_create(&w[i].tid, NULL, i < WORKERS ? work : churn, &w[i]) == 0))
			break;
		started++;
	}
	for (int i = 0; i < started; i++)
		pthread_join(w[i].tid, NULL);
	REQUIRE(started == WORKERS + CHURNERS);
	for (int i = 0; i < started; i++) {
		if (!CHECK_UL(w[i].failures, 0))
			fprintf(stderr, "\t%s\n", w[i].first);
	}
	/* What the workers left is all there, from any session. */
	for (int i = 0; i < WORKERS; i++) {
		char label[32];
		snprintf(label, sizeof(label), "thread-%d", i);
		CHECK(ch_t_count_label(main_h, label) == w[i].objects);
		CHECK_UL(w[i].objects, ITERATIONS - ITERATIONS / 5);
	}
	/* Only the main thread's session is left, still logged in. */
	{
		CK_TOKEN_INFO ti;
		CK_SESSION_INFO si;
		CHECK_RV(P11->C_GetTokenInfo(e.slot, &ti), CKR_OK);
		CHECK_UL(ti.ulSessionCount, 1);
		CHECK_RV(P11->C_GetSessionInfo(main_h, &si), CKR_OK);
		CHECK_UL(si.state, CKS_RO_USER_FUNCTIONS);
	}
out:
	ch_t_env_free(&e);
}

static const ch_t_case tests[] = {
	CH_T_CASE(test_initialize_arguments_and_state),
	CH_T_CASE(test_threads_with_own_sessions_work_concurrently),
};

int main(void)
{
	return ch_t_run(tests, CH_T_ARRAY_LEN(tests));
}
