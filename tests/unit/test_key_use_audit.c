/*
 * Key use is audited exactly through the module: every successful
 * operation init with a token key counts one use of that key by the
 * participant who is logged in, also when two threads init operations on
 * the same keys at once (the count is taken with no lock of the slot's,
 * see soft_audit_use_unlocked); an init that fails counts nothing.  The
 * counts reach the log at logout, where an SO session reads them back.
 */
#include <pthread.h>

#include "module.h"

#define THREADS 2
#define ROUNDS  150

typedef struct worker {
	const ch_t_env *e;
	CK_OBJECT_HANDLE priv, aes;
	unsigned failures;
	CK_RV first;
} worker;

static void note(worker *w, CK_RV rv)
{
	if (rv != CKR_OK && w->failures++ == 0)
		w->first = rv;
}

static void *work(void *arg)
{
	worker *w = arg;
	CK_SESSION_HANDLE h;
	CK_MECHANISM ecdsa = { CKM_ECDSA, NULL, 0 }, gcm;
	CK_GCM_PARAMS p;
	CK_BYTE hash[32] = { 3 }, iv[12] = { 9 }, out[128];
	CK_ULONG n;

	note(w, ch_t_open(w->e->slot, false, &h));
	if (w->failures > 0)
		return NULL;
	for (int i = 0; i < ROUNDS; i++) {
		n = sizeof(out);
		note(w, P11->C_SignInit(h, &ecdsa, w->priv));
		note(w, P11->C_Sign(h, hash, sizeof(hash), out, &n));
		n = sizeof(out);
		ch_t_gcm(&gcm, &p, iv, NULL, 0);
		note(w, P11->C_EncryptInit(h, &gcm, w->aes));
		note(w, P11->C_Encrypt(h, hash, sizeof(hash), out, &n));
	}
	note(w, P11->C_CloseSession(h));
	return NULL;
}

/* The sum of the counts of op on object uid by participant in rec. */
static CK_ULONG uses(const CH_AUDIT_RECORD *rec, CK_ULONG n, const char *op, const char *uid,
                     const char *participant)
{
	CK_ULONG sum = 0;

	for (CK_ULONG i = 0; i < n; i++)
		if (ch_t_padded_is(rec[i].operation, sizeof(rec[i].operation), op) &&
		    ch_t_padded_is(rec[i].object, sizeof(rec[i].object), uid) &&
		    ch_t_padded_is(rec[i].participant, sizeof(rec[i].participant), participant)) {
			CHECK_UL(rec[i].result, CKR_OK);
			sum += rec[i].count;
		}
	return sum;
}

static void test_every_init_counts_one_use_with_two_threads(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE pub, priv, aes;
	CK_MECHANISM wrong = { CKM_SHA256_RSA_PKCS, NULL, 0 };
	char priv_uid[33] = "", aes_uid[33] = "";
	CK_ATTRIBUTE u1[] = { { CKA_UNIQUE_ID, priv_uid, 32 } },
	             u2[] = { { CKA_UNIQUE_ID, aes_uid, 32 } };
	pthread_t t[THREADS];
	worker w[THREADS];
	CH_AUDIT_RECORD *rec = NULL;
	CK_ULONG n = 0;

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_gen_ec(h, true, "signer", &pub, &priv), CKR_OK);
	REQUIRE_RV(ch_t_gen_aes(h, true, "sealer", &aes), CKR_OK);
	REQUIRE_RV(P11->C_GetAttributeValue(h, priv, u1, 1), CKR_OK);
	REQUIRE_RV(P11->C_GetAttributeValue(h, aes, u2, 1), CKR_OK);
	/* A failed init is not a use. */
	CHECK_RV(P11->C_SignInit(h, &wrong, priv), CKR_KEY_TYPE_INCONSISTENT);

	for (int i = 0; i < THREADS; i++) {
		w[i] = (worker){ .e = &e, .priv = priv, .aes = aes };
		REQUIRE(pthread_create(&t[i], NULL, work, &w[i]) == 0);
	}
	for (int i = 0; i < THREADS; i++) {
		REQUIRE(pthread_join(t[i], NULL) == 0);
		if (!CHECK_UL(w[i].failures, 0))
			fprintf(stderr, "worker %d: first failure %s\n", i,
			        ch_test_rv_name(w[i].first));
	}

	REQUIRE_RV(P11->C_Logout(h), CKR_OK); /* writes the counts */
	REQUIRE_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	REQUIRE(ch_t_vendor() != NULL);
	REQUIRE_RV(ch_t_vendor()->CH_AuditRead(h, 1, NULL, &n), CKR_OK);
	REQUIRE(n > 0 && (rec = calloc(n, sizeof(*rec))) != NULL);
	REQUIRE_RV(ch_t_vendor()->CH_AuditRead(h, 1, rec, &n), CKR_OK);
	CHECK_UL(uses(rec, n, "key.sign", priv_uid, "default"), THREADS * ROUNDS);
	CHECK_UL(uses(rec, n, "key.encrypt", aes_uid, "default"), THREADS * ROUNDS);
	CHECK_UL(uses(rec, n, "key.sign", aes_uid, "default"), 0);
out:
	free(rec);
	ch_t_env_free(&e);
}

/* Two registrations used in one process: the counts one of them flushes on
 * the way of an operation are its own, so the other's key use is written
 * later under the other's own key, authenticated (before, the first flush
 * took every registration's counts and wrote the others' without a MAC). */
static void test_a_flush_writes_only_its_own_registrations_counts(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE ha = 0, hb = 0;
	CK_SLOT_ID b;
	CK_OBJECT_HANDLE ka, kb, pa, pb;
	CK_MECHANISM ecdsa = { CKM_ECDSA, NULL, 0 };
	CK_BYTE data[32] = { 1 }, mac[64];
	CK_ULONG n = sizeof(mac), nrec = 0, signs = 0;
	CH_AUDIT_RECORD *rec = NULL;
	struct timespec ts = { 1, 200 * 1000 * 1000 };

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_make_token("other", true, &b), CKR_OK);
	REQUIRE_RV(ch_t_user_session(&e, true, &ha), CKR_OK);
	REQUIRE_RV(ch_t_open(b, true, &hb), CKR_OK);
	REQUIRE_RV(ch_t_login_user(hb), CKR_OK);
	REQUIRE_RV(ch_t_gen_ec(ha, true, "ka", &pa, &ka), CKR_OK);
	REQUIRE_RV(ch_t_gen_ec(hb, true, "kb", &pb, &kb), CKR_OK);
	REQUIRE_RV(P11->C_SignInit(hb, &ecdsa, kb), CKR_OK); /* pending in "other" */
	REQUIRE_RV(P11->C_Sign(hb, data, sizeof(data), mac, &n), CKR_OK);
	nanosleep(&ts, NULL);
	n = sizeof(mac);
	REQUIRE_RV(P11->C_SignInit(ha, &ecdsa, ka), CKR_OK); /* "t" flushes, due */
	REQUIRE_RV(P11->C_Sign(ha, data, sizeof(data), mac, &n), CKR_OK);
	REQUIRE_RV(P11->C_Logout(hb), CKR_OK); /* "other" writes its own */
	REQUIRE_RV(ch_t_login(hb, CKU_SO, CH_T_SO_PIN), CKR_OK);
	REQUIRE_RV(ch_t_vendor()->CH_AuditRead(hb, 1, NULL, &nrec), CKR_OK);
	REQUIRE(nrec > 0 && (rec = calloc(nrec, sizeof(*rec))) != NULL);
	REQUIRE_RV(ch_t_vendor()->CH_AuditRead(hb, 1, rec, &nrec), CKR_OK);
	for (CK_ULONG i = 0; i < nrec; i++) {
		if (!ch_t_padded_is(rec[i].operation, sizeof(rec[i].operation), "key.sign"))
			continue;
		signs += rec[i].count;
		CHECK(rec[i].authenticated == CK_TRUE);
	}
	CHECK_UL(signs, 1);
out:
	free(rec);
	ch_t_env_free(&e);
}

/* Message-based encryption counts every message as a use of its key, for
 * the participant logged in when the operation began. */
static void test_each_message_counts_one_use(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h = 0;
	CK_OBJECT_HANDLE k;
	CK_MECHANISM gcm = { CKM_AES_GCM, NULL, 0 };
	CK_GCM_MESSAGE_PARAMS p;
	CK_BYTE iv[12], tag[16], text[16] = { 5 }, out[16], uid[33] = { 0 };
	CK_ULONG n, nrec = 0, len = 32;
	CH_AUDIT_RECORD *rec = NULL;

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_gen_aes(h, true, "msgs", &k), CKR_OK);
	REQUIRE_RV(ch_t_get(h, k, CKA_UNIQUE_ID, uid, &len), CKR_OK);
	REQUIRE_RV(P11->C_MessageEncryptInit(h, &gcm, k), CKR_OK);
	for (int i = 0; i < 3; i++) {
		memset(iv, i + 1, sizeof(iv));
		p = (CK_GCM_MESSAGE_PARAMS){ iv, sizeof(iv), 0, CKG_NO_GENERATE, tag, 128 };
		n = sizeof(out);
		REQUIRE_RV(P11->C_EncryptMessage(h, &p, sizeof(p), NULL, 0, text, sizeof(text), out,
		                                 &n),
		           CKR_OK);
	}
	REQUIRE_RV(P11->C_MessageEncryptFinal(h), CKR_OK);
	REQUIRE_RV(P11->C_Logout(h), CKR_OK); /* writes the counts */
	REQUIRE_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	REQUIRE_RV(ch_t_vendor()->CH_AuditRead(h, 1, NULL, &nrec), CKR_OK);
	REQUIRE(nrec > 0 && (rec = calloc(nrec, sizeof(*rec))) != NULL);
	REQUIRE_RV(ch_t_vendor()->CH_AuditRead(h, 1, rec, &nrec), CKR_OK);
	CHECK_UL(uses(rec, nrec, "key.encrypt", (const char *)uid, "default"), 3);
out:
	free(rec);
	ch_t_env_free(&e);
}

int main(void)
{
	test_every_init_counts_one_use_with_two_threads();
	test_a_flush_writes_only_its_own_registrations_counts();
	test_each_message_counts_one_use();
	return ch_test_done();
}
