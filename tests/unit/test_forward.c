/*
 * Forwarded registrations (issue 7): a slot whose keys live in another
 * PKCS#11 module's token, here Debian's SoftHSMv2 with its own configuration
 * and token directory, with Cipher Hub's participants, grants, key-role
 * policy and audit on top.  The test also opens SoftHSM itself (the same
 * loaded module: dlopen shares it) to look behind the forwarded slot.
 */
#include "check.h"
#include "module.h"

#define HSM_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define HSM_LABEL  "hsm-payments"
#define HSM_SO_PIN "hsm-so-5511"
#define HSM_PIN    "hsm-user-7731"
#define FWD_NAME   "payments"
#define FWD_SLOT   65536UL
#define BOB_PIN    "bob-pin-2208"

static CK_FUNCTION_LIST_PTR hsm;

/* SoftHSM with a fresh token directory under e's directory and one token
 * HSM_LABEL with both PINs; e's configuration forwards FWD_NAME to it (the
 * PIN in a file), plus extra.  The module is initialized after. */
static bool fwd_setup(ch_t_env *e, const char *pin, const char *extra)
{
	char path[300], conf[1200], *tokdir;
	CK_C_GetFunctionList get;
	CK_SLOT_ID slots[8];
	CK_ULONG n = 8;
	CK_UTF8CHAR label[32];
	CK_SESSION_HANDLE h;
	void *lib;

	if (!ch_t_load() || !ch_t_env_new(e))
		return false;
	tokdir = path;
	snprintf(path, sizeof(path), "%s/tokens", e->dir);
	if (mkdir(tokdir, 0700) != 0)
		return false;
	snprintf(conf, sizeof(conf), "directories.tokendir = %s\nobjectstore.backend = file\n",
	         tokdir);
	snprintf(path, sizeof(path), "%s/softhsm2.conf", e->dir);
	if (!ch_t_write_file(path, conf, strlen(conf)))
		return false;
	setenv("SOFTHSM2_CONF", path, 1);
	if (hsm == NULL) {
		if ((lib = dlopen(HSM_MODULE, RTLD_NOW | RTLD_LOCAL)) == NULL ||
		    (get = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList")) == NULL ||
		    get(&hsm) != CKR_OK) {
			fprintf(stderr, "cannot load %s\n", HSM_MODULE);
			return false;
		}
	}
	/* SoftHSM reads its configuration at C_Initialize. */
	(void)hsm->C_Finalize(NULL);
	if (!CHECK_RV(hsm->C_Initialize(NULL), CKR_OK) ||
	    !CHECK_RV(hsm->C_GetSlotList(CK_FALSE, slots, &n), CKR_OK) || !CHECK(n >= 1))
		return false;
	ch_t_pad(label, sizeof(label), HSM_LABEL);
	if (!CHECK_RV(hsm->C_InitToken(slots[0], (CK_UTF8CHAR_PTR)HSM_SO_PIN, strlen(HSM_SO_PIN),
	                               label),
	              CKR_OK))
		return false;
	/* The token moves to another slot ID once initialized. */
	n = 8;
	if (!CHECK_RV(hsm->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK))
		return false;
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;

		if (hsm->C_GetTokenInfo(slots[i], &ti) != CKR_OK ||
		    !ch_t_padded_is(ti.label, sizeof(ti.label), HSM_LABEL))
			continue;
		if (!CHECK_RV(hsm->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION,
		                                 NULL, NULL, &h),
		              CKR_OK) ||
		    !CHECK_RV(hsm->C_Login(h, CKU_SO, (CK_UTF8CHAR_PTR)HSM_SO_PIN,
		                           strlen(HSM_SO_PIN)),
		              CKR_OK) ||
		    !CHECK_RV(hsm->C_InitPIN(h, (CK_UTF8CHAR_PTR)HSM_PIN, strlen(HSM_PIN)), CKR_OK))
			return false;
		(void)hsm->C_CloseSession(h);
	}
	snprintf(path, sizeof(path), "%s/hsm.pin", e->dir);
	if (!ch_t_write_file(path, pin, strlen(pin)))
		return false;
	snprintf(conf, sizeof(conf),
	         "[pin]\npbkdf2_iterations = 1000\n[log]\nlevel = info\nfile = %s\n"
	         "[forward:" FWD_NAME "]\nmodule = " HSM_MODULE "\ntoken = pkcs11:token=" HSM_LABEL
	         "\npin_file = %s\n%s",
	         e->log, path, extra != NULL ? extra : "");
	if (!ch_t_write_file(e->conf, conf, strlen(conf)))
		return false;
	return CHECK_RV(ch_t_initialize(), CKR_OK);
}

/* Creates the forwarded registration (SO and user PINs). */
static bool fwd_registration(void)
{
	CK_UTF8CHAR label[32];
	CK_SESSION_HANDLE h;

	ch_t_pad(label, sizeof(label), FWD_NAME);
	if (!CHECK_RV(P11->C_InitToken(FWD_SLOT, (CK_UTF8CHAR_PTR)CH_T_SO_PIN, strlen(CH_T_SO_PIN),
	                               label),
	              CKR_OK) ||
	    !CHECK_RV(ch_t_open(FWD_SLOT, true, &h), CKR_OK))
		return false;
	bool ok = CHECK_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK) &&
	          CHECK_RV(P11->C_InitPIN(h, (CK_UTF8CHAR_PTR)CH_T_USER_PIN, strlen(CH_T_USER_PIN)),
	                   CKR_OK) &&
	          CHECK_RV(ch_t_participant_add(h, "bob", CH_ROLE_USER, BOB_PIN), CKR_OK) &&
	          CHECK_RV(ch_t_participant_add(h, "carol", CH_ROLE_AUDITOR, BOB_PIN), CKR_OK);
	(void)P11->C_CloseSession(h);
	return ok;
}

/* A user session on the HSM's own token (behind the forwarded slot). */
static bool hsm_session(CK_SESSION_HANDLE *h)
{
	CK_SLOT_ID slots[8];
	CK_ULONG n = 8;

	if (hsm->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
		return false;
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		CK_RV rv;

		if (hsm->C_GetTokenInfo(slots[i], &ti) != CKR_OK ||
		    !ch_t_padded_is(ti.label, sizeof(ti.label), HSM_LABEL))
			continue;
		if (hsm->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, h) != CKR_OK)
			return false;
		rv = hsm->C_Login(*h, CKU_USER, (CK_UTF8CHAR_PTR)HSM_PIN, strlen(HSM_PIN));
		return rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN;
	}
	return false;
}

/* How many objects labelled label the HSM's token holds. */
static long hsm_count(const char *label)
{
	CK_ATTRIBUTE t[] = { CH_T_STR(CKA_LABEL, label) };
	CK_OBJECT_HANDLE found[16];
	CK_SESSION_HANDLE h;
	CK_ULONG n = 0;

	if (!hsm_session(&h))
		return -1;
	if (hsm->C_FindObjectsInit(h, t, 1) != CKR_OK ||
	    hsm->C_FindObjects(h, found, 16, &n) != CKR_OK)
		n = (CK_ULONG)-1;
	(void)hsm->C_FindObjectsFinal(h);
	(void)hsm->C_CloseSession(h);
	return (long)n;
}

static void fwd_teardown(ch_t_env *e)
{
	ch_t_env_free(e);
	if (hsm != NULL)
		(void)hsm->C_Finalize(NULL);
	unsetenv("SOFTHSM2_CONF");
}

static void test_forwarded_keys_live_in_the_backend_token(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h = 0, hh = 0;
	CK_OBJECT_HANDLE pub, priv, aes, hpub, found[4];
	CK_MECHANISM ecdsa = { CKM_ECDSA, NULL, 0 };
	CK_BYTE digest[32] = { 1, 2, 3 }, sig[64];
	CK_ULONG sig_len = sizeof(sig), n = 0;
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;
	CK_ATTRIBUTE pt[] = { CH_T_STR(CKA_LABEL, "fk1") };
	CK_OBJECT_CLASS pubc = CKO_PUBLIC_KEY;
	CK_ATTRIBUTE ht[] = { CH_T_STR(CKA_LABEL, "fk1"),
		              CH_T_ATTR(CKA_CLASS, &pubc, sizeof(pubc)) };

	REQUIRE(fwd_setup(&e, HSM_PIN, NULL));
	REQUIRE_RV(P11->C_GetSlotInfo(FWD_SLOT, &si), CKR_OK);
	CHECK(si.flags & CKF_TOKEN_PRESENT);
	CHECK(ch_t_contains(si.slotDescription, sizeof(si.slotDescription), "libsofthsm2.so", 14));
	REQUIRE_RV(P11->C_GetTokenInfo(FWD_SLOT, &ti), CKR_OK);
	CHECK(ch_t_padded_is(ti.label, sizeof(ti.label), FWD_NAME));
	CHECK(!(ti.flags & CKF_TOKEN_INITIALIZED));
	REQUIRE(fwd_registration());
	CHECK(ch_t_token_flags(FWD_SLOT) & CKF_TOKEN_INITIALIZED);

	/* The participant's PIN is Cipher Hub's; the HSM's PIN never is given. */
	REQUIRE_RV(ch_t_open(FWD_SLOT, true, &h), CKR_OK);
	CHECK_RV(ch_t_login(h, CKU_USER, HSM_PIN), CKR_PIN_INCORRECT);
	REQUIRE_RV(ch_t_login_user(h), CKR_OK);
	REQUIRE_RV(ch_t_gen_ec(h, true, "fk1", &pub, &priv), CKR_OK);
	REQUIRE_RV(P11->C_SignInit(h, &ecdsa, priv), CKR_OK);
	REQUIRE_RV(P11->C_Sign(h, digest, sizeof(digest), sig, &sig_len), CKR_OK);
	CHECK(sig_len == 64);
	/* Both halves are in SoftHSM, and its own verify accepts the signature. */
	CHECK(hsm_count("fk1") == 2);
	REQUIRE(hsm_session(&hh));
	REQUIRE_RV(hsm->C_FindObjectsInit(hh, ht, 2), CKR_OK);
	REQUIRE_RV(hsm->C_FindObjects(hh, &hpub, 1, &n), CKR_OK);
	(void)hsm->C_FindObjectsFinal(hh);
	REQUIRE(n == 1);
	REQUIRE_RV(hsm->C_VerifyInit(hh, &ecdsa, hpub), CKR_OK);
	CHECK_RV(hsm->C_Verify(hh, digest, sizeof(digest), sig, sig_len), CKR_OK);
	/* A key that may not leave the HSM does not leave it. */
	{
		CK_ATTRIBUTE st[] = {
			CH_T_STR(CKA_LABEL, "fk-aes"),
			CH_T_BOOL(CKA_TOKEN, true),
			CH_T_BOOL(CKA_EXTRACTABLE, false),
			CH_T_ULONG(CKA_VALUE_LEN, &(CK_ULONG){ 32 }),
		};
		CK_MECHANISM wrap = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
		CK_OBJECT_HANDLE kek;
		CK_ATTRIBUTE kt[] = {
			CH_T_BOOL(CKA_TOKEN, false),
			CH_T_BOOL(CKA_WRAP, true),
			CH_T_BOOL(CKA_EXTRACTABLE, false),
			CH_T_ULONG(CKA_VALUE_LEN, &(CK_ULONG){ 32 }),
		};
		CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 };
		CK_BYTE out[128];
		CK_ULONG out_len = sizeof(out);

		REQUIRE_RV(P11->C_GenerateKey(h, &gen, st, CH_T_ARRAY_LEN(st), &aes), CKR_OK);
		REQUIRE_RV(P11->C_GenerateKey(h, &gen, kt, CH_T_ARRAY_LEN(kt), &kek), CKR_OK);
		CHECK_RV(P11->C_WrapKey(h, &wrap, kek, aes, out, &out_len), CKR_KEY_UNEXTRACTABLE);
	}
	/* Finds see the backend's objects, through our handles. */
	REQUIRE_RV(P11->C_FindObjectsInit(h, pt, 1), CKR_OK);
	CHECK_RV(P11->C_FindObjects(h, found, 4, &n), CKR_OK);
	CHECK_RV(P11->C_FindObjectsFinal(h), CKR_OK);
	CHECK(n == 2);
	CHECK((found[0] == pub && found[1] == priv) || (found[0] == priv && found[1] == pub));
out:
	if (hh != 0)
		(void)hsm->C_CloseSession(hh);
	fwd_teardown(&e);
}

static void test_missing_backend_shows_no_token_and_the_rest_works(void)
{
	ch_t_env e;
	CK_SLOT_ID ids[8], present[8];
	CK_ULONG n = 8;
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;
	CK_SESSION_HANDLE h;
	long all;
	bool listed = false;

	REQUIRE(fwd_setup(&e, HSM_PIN,
	                  "[forward:gone]\nmodule = /nonexistent/libhsm.so\npin_env = NOPE\n"));
	REQUIRE((all = ch_t_slots(ids, 8)) >= 3);
	REQUIRE_RV(P11->C_GetSlotList(CK_TRUE, present, &n), CKR_OK);
	CHECK((long)n == all - 1);
	for (CK_ULONG i = 0; i < n; i++)
		listed |= present[i] == FWD_SLOT + 1;
	CHECK(!listed);
	REQUIRE_RV(P11->C_GetSlotInfo(FWD_SLOT + 1, &si), CKR_OK);
	CHECK(!(si.flags & CKF_TOKEN_PRESENT));
	CHECK_RV(P11->C_GetTokenInfo(FWD_SLOT + 1, &ti), CKR_TOKEN_NOT_PRESENT);
	CHECK_RV(P11->C_OpenSession(FWD_SLOT + 1, CKF_SERIAL_SESSION, NULL, NULL, &h),
	         CKR_TOKEN_NOT_PRESENT);
	CHECK(ch_t_log_has(&e, "/nonexistent/libhsm.so"));
	/* The working forward and the software token go on. */
	REQUIRE(fwd_registration());
	REQUIRE_RV(ch_t_make_token("soft", true, &ids[0]), CKR_OK);
	REQUIRE_RV(ch_t_open(ids[0], true, &h), CKR_OK);
	CHECK_RV(ch_t_login_user(h), CKR_OK);
out:
	fwd_teardown(&e);
}

static void test_init_token_takes_only_the_configured_name(void)
{
	ch_t_env e;
	CK_UTF8CHAR label[32];
	CK_SLOT_ID free_slot;

	REQUIRE(fwd_setup(&e, HSM_PIN, NULL));
	ch_t_pad(label, sizeof(label), "other");
	CHECK_RV(P11->C_InitToken(FWD_SLOT, (CK_UTF8CHAR_PTR)CH_T_SO_PIN, strlen(CH_T_SO_PIN),
	                          label),
	         CKR_ARGUMENTS_BAD);
	CHECK(!(ch_t_token_flags(FWD_SLOT) & CKF_TOKEN_INITIALIZED));
	/* Nor can a software registration take the forwarded one's name. */
	REQUIRE_RV(ch_t_free_slot(&free_slot), CKR_OK);
	ch_t_pad(label, sizeof(label), FWD_NAME);
	CHECK_RV(P11->C_InitToken(free_slot, (CK_UTF8CHAR_PTR)CH_T_SO_PIN, strlen(CH_T_SO_PIN),
	                          label),
	         CKR_ARGUMENTS_BAD);
	CHECK(fwd_registration());
out:
	fwd_teardown(&e);
}

static void test_key_roles_hold_for_forwarded_keys(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE k;
	CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_ULONG len = 32;
	CK_ATTRIBUTE both[] = {
		CH_T_STR(CKA_LABEL, "both"),     CH_T_BOOL(CKA_TOKEN, true),
		CH_T_BOOL(CKA_WRAP, true),       CH_T_BOOL(CKA_DECRYPT, true),
		CH_T_ULONG(CKA_VALUE_LEN, &len),
	};
	CK_ATTRIBUTE plain[] = {
		CH_T_STR(CKA_LABEL, "plain"),
		CH_T_BOOL(CKA_TOKEN, true),
		CH_T_ULONG(CKA_VALUE_LEN, &len),
	};
	CK_ATTRIBUTE wrapper[] = {
		CH_T_STR(CKA_LABEL, "wrapper"),
		CH_T_BOOL(CKA_TOKEN, true),
		CH_T_BOOL(CKA_WRAP, true),
		CH_T_ULONG(CKA_VALUE_LEN, &len),
	};
	CK_ATTRIBUTE dec[] = { CH_T_BOOL(CKA_DECRYPT, true) };

	REQUIRE(fwd_setup(&e, HSM_PIN, NULL));
	REQUIRE(fwd_registration());
	REQUIRE_RV(ch_t_open(FWD_SLOT, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_login_user(h), CKR_OK);
	CHECK_RV(P11->C_GenerateKey(h, &gen, both, CH_T_ARRAY_LEN(both), &k),
	         CKR_TEMPLATE_INCONSISTENT);
	CHECK(hsm_count("both") == 0);
	/* SoftHSM's defaults would give a key every role: ours leave out wrapping. */
	REQUIRE_RV(P11->C_GenerateKey(h, &gen, plain, CH_T_ARRAY_LEN(plain), &k), CKR_OK);
	CHECK(ch_t_get_bool(h, k, CKA_WRAP) == 0);
	CHECK(ch_t_get_bool(h, k, CKA_UNWRAP) == 0);
	CHECK(ch_t_get_bool(h, k, CKA_ENCRYPT) == 1);
	REQUIRE_RV(P11->C_GenerateKey(h, &gen, wrapper, CH_T_ARRAY_LEN(wrapper), &k), CKR_OK);
	CHECK(ch_t_get_bool(h, k, CKA_DECRYPT) == 0);
	CHECK_RV(P11->C_SetAttributeValue(h, k, dec, 1), CKR_ATTRIBUTE_VALUE_INVALID);
	CHECK(ch_t_get_bool(h, k, CKA_DECRYPT) == 0);
out:
	fwd_teardown(&e);
}

static void test_grants_and_roles_apply_to_forwarded_keys(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE pub, priv, found[4];
	CK_MECHANISM ecdsa = { CKM_ECDSA, NULL, 0 }, gen = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t[] = { CH_T_ATTR(CKA_CLASS, &cls, sizeof(cls)) };
	CK_ULONG n = 0, len = 16;
	CK_ATTRIBUTE at[] = { CH_T_ULONG(CKA_VALUE_LEN, &len) };
	CK_OBJECT_HANDLE k;

	REQUIRE(fwd_setup(&e, HSM_PIN, NULL));
	REQUIRE(fwd_registration());
	REQUIRE_RV(ch_t_open(FWD_SLOT, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_login_user(h), CKR_OK);
	REQUIRE_RV(ch_t_gen_ec(h, true, "alices", &pub, &priv), CKR_OK);
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);
	/* bob (user role) neither sees nor uses a private key he was not granted. */
	REQUIRE_RV(ch_t_login_as(h, CKU_USER, "bob", BOB_PIN), CKR_OK);
	REQUIRE_RV(P11->C_FindObjectsInit(h, t, 1), CKR_OK);
	CHECK_RV(P11->C_FindObjects(h, found, 4, &n), CKR_OK);
	CHECK_RV(P11->C_FindObjectsFinal(h), CKR_OK);
	CHECK(n == 0);
	CHECK_RV(P11->C_SignInit(h, &ecdsa, priv), CKR_KEY_HANDLE_INVALID);
	/* ... and makes no keys or token objects: that is the operators'. */
	CHECK_RV(P11->C_GenerateKey(h, &gen, at, 1, &k), CKR_ACTION_PROHIBITED);
	CHECK_RV(ch_t_create_data(h, true, false, "bobs", "x", 1, &k), CKR_ACTION_PROHIBITED);
	CHECK_RV(ch_t_create_data(h, false, false, "bobs", "x", 1, &k), CKR_OK);
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);
	/* Handles of private objects die at a logout (5.6): find it again. */
	CHECK_RV(P11->C_SignInit(h, &ecdsa, priv), CKR_USER_NOT_LOGGED_IN);
	REQUIRE_RV(ch_t_login_user(h), CKR_OK);
	CHECK_RV(P11->C_SignInit(h, &ecdsa, priv), CKR_KEY_HANDLE_INVALID);
	REQUIRE_RV(ch_t_find(h, t, 1, &priv, 1, &n), CKR_OK);
	REQUIRE(n == 1);
	REQUIRE_RV(ch_t_vendor()->CH_GrantSet(h, priv, (CK_UTF8CHAR_PTR) "bob", 3, CH_GRANT_SIGN),
	           CKR_OK);
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);
	/* The grant is in the store, on the key's marker: bob finds and signs. */
	REQUIRE_RV(ch_t_login_as(h, CKU_USER, "bob", BOB_PIN), CKR_OK);
	REQUIRE_RV(ch_t_find(h, t, 1, &priv, 1, &n), CKR_OK);
	REQUIRE(n == 1);
	CHECK_RV(P11->C_SignInit(h, &ecdsa, priv), CKR_OK);
	{
		CK_BYTE d[32] = { 0 }, sig[64];
		CK_ULONG sl = sizeof(sig);

		CHECK_RV(P11->C_Sign(h, d, sizeof(d), sig, &sl), CKR_OK);
	}
	CHECK_RV(P11->C_DecryptInit(h, &ecdsa, priv), CKR_KEY_FUNCTION_NOT_PERMITTED);
	/* A pure auditor sees no private object, as in a software registration. */
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);
	REQUIRE_RV(ch_t_login_as(h, CKU_USER, "carol", BOB_PIN), CKR_OK);
	REQUIRE_RV(ch_t_find(h, t, 1, found, 4, &n), CKR_OK);
	CHECK(n == 0);
	CHECK_RV(P11->C_SignInit(h, &ecdsa, priv), CKR_KEY_FUNCTION_NOT_PERMITTED);
	/* The SO uses no key; nobody logged in writes no token object. */
	REQUIRE_RV(P11->C_Logout(h), CKR_OK);
	CHECK_RV(ch_t_create_data(h, true, false, "nobodys", "x", 1, &k), CKR_USER_NOT_LOGGED_IN);
	REQUIRE_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	CHECK_RV(P11->C_SignInit(h, &ecdsa, priv), CKR_USER_NOT_LOGGED_IN);
	/* The audit log has it all, and verifies. */
	{
		CK_ULONG bad = 1, unauth = 0;

		CHECK_RV(ch_t_vendor()->CH_AuditVerify(h, &bad, &unauth), CKR_OK);
		CHECK(bad == 0);
	}
out:
	fwd_teardown(&e);
}

static void test_session_objects_die_with_their_session(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE a, b;
	CK_OBJECT_HANDLE k;
	CK_BYTE lab[8];
	CK_ULONG len = sizeof(lab);

	REQUIRE(fwd_setup(&e, HSM_PIN, NULL));
	REQUIRE(fwd_registration());
	REQUIRE_RV(ch_t_open(FWD_SLOT, true, &a), CKR_OK);
	REQUIRE_RV(ch_t_open(FWD_SLOT, true, &b), CKR_OK);
	REQUIRE_RV(ch_t_login_user(a), CKR_OK);
	REQUIRE_RV(ch_t_gen_aes(a, false, "sess", &k), CKR_OK);
	CHECK_RV(ch_t_get(b, k, CKA_LABEL, lab, &len), CKR_OK);
	REQUIRE_RV(P11->C_CloseSession(a), CKR_OK);
	len = sizeof(lab);
	CHECK_RV(ch_t_get(b, k, CKA_LABEL, lab, &len), CKR_OBJECT_HANDLE_INVALID);
out:
	fwd_teardown(&e);
}

static void test_a_lost_backend_closes_sessions_and_reconnects(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h, h2;
	CK_OBJECT_HANDLE pub, priv;
	CK_SLOT_ID slots[8];
	CK_ULONG n = 8;
	CK_BYTE rnd[8];

	REQUIRE(fwd_setup(&e, HSM_PIN, NULL));
	REQUIRE(fwd_registration());
	REQUIRE_RV(ch_t_open(FWD_SLOT, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_login_user(h), CKR_OK);
	REQUIRE_RV(ch_t_gen_ec(h, true, "lost", &pub, &priv), CKR_OK);
	/* The backend drops every session (as a network HSM does on a restart). */
	REQUIRE_RV(hsm->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	for (CK_ULONG i = 0; i < n; i++)
		(void)hsm->C_CloseAllSessions(slots[i]);
	CHECK_RV(P11->C_GenerateRandom(h, rnd, sizeof(rnd)), CKR_SESSION_HANDLE_INVALID);
	CHECK_RV(P11->C_GenerateRandom(h, rnd, sizeof(rnd)), CKR_DEVICE_REMOVED);
	CHECK(ch_t_log_has(&e, "its sessions are closed"));
	/* A new session connects again and logs the backend in for the
	 * participant, who is still logged in to Cipher Hub. */
	REQUIRE_RV(ch_t_open(FWD_SLOT, true, &h2), CKR_OK);
	CHECK_RV(P11->C_GenerateRandom(h2, rnd, sizeof(rnd)), CKR_OK);
	CHECK(ch_t_count_label(h2, "lost") == 2);
	CHECK_RV(P11->C_CloseSession(h), CKR_OK);
out:
	fwd_teardown(&e);
}

static void test_a_wrong_backend_pin_fails_the_login_without_counting(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CH_PARTICIPANT_INFO p;

	REQUIRE(fwd_setup(&e, "wrong-pin", NULL));
	REQUIRE(fwd_registration());
	REQUIRE_RV(ch_t_open(FWD_SLOT, true, &h), CKR_OK);
	CHECK_RV(ch_t_login_user(h), CKR_DEVICE_ERROR);
	CHECK(ch_t_log_has(&e, "C_Login with the configured PIN: CKR_PIN_INCORRECT"));
	REQUIRE_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	REQUIRE_RV(ch_t_participant_get(h, "default", &p), CKR_OK);
	CHECK(p.failedLogins == 0);
out:
	fwd_teardown(&e);
}

int main(void)
{
	static const ch_t_case cases[] = {
		CH_T_CASE(test_forwarded_keys_live_in_the_backend_token),
		CH_T_CASE(test_missing_backend_shows_no_token_and_the_rest_works),
		CH_T_CASE(test_init_token_takes_only_the_configured_name),
		CH_T_CASE(test_key_roles_hold_for_forwarded_keys),
		CH_T_CASE(test_grants_and_roles_apply_to_forwarded_keys),
		CH_T_CASE(test_session_objects_die_with_their_session),
		CH_T_CASE(test_a_lost_backend_closes_sessions_and_reconnects),
		CH_T_CASE(test_a_wrong_backend_pin_fails_the_login_without_counting),
	};

	return ch_t_run(cases, CH_T_ARRAY_LEN(cases));
}
