/*
 * Grants (issue 3, item 3): a key's creator uses it by default; anyone else
 * needs a grant naming them or one of their roles, sees a private key only
 * with one, and uses it only for the granted operations, whatever the key's
 * own usage attributes allow.  Grant rows are authenticated in the store.
 */
#include <dlfcn.h>
#include <sqlite3.h>

#include "check.h"
#include "cipherhub/vendor.h"
#include "module.h"

static CH_FUNCTION_LIST *vendor(void)
{
	static CH_FUNCTION_LIST *v;
	CK_INTERFACE_PTR iface = NULL;
	CK_C_GetInterface get;
	void *lib;

	if (v != NULL)
		return v;
	lib = dlopen(getenv("CH_TEST_MODULE"), RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL || (get = (CK_C_GetInterface)dlsym(lib, "C_GetInterface")) == NULL)
		return NULL;
	if (get((CK_UTF8CHAR_PTR)CH_INTERFACE_NAME, NULL, &iface, 0) == CKR_OK && iface != NULL)
		v = iface->pFunctionList;
	return v;
}

#define PIN_ALICE "alice-pin-1"
#define PIN_BOB   "bob-pin-22"
#define PIN_CAROL "carol-pin-333"

static CK_RV add(CK_SESSION_HANDLE h, const char *name, CK_FLAGS roles, const char *pin)
{
	return vendor()->CH_ParticipantAdd(h, (CK_UTF8CHAR_PTR)name, strlen(name), roles,
	                                   (CK_UTF8CHAR_PTR)pin, strlen(pin));
}

static CK_RV grant(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key, const char *who, CK_FLAGS ops)
{
	return vendor()->CH_GrantSet(h, key, (CK_UTF8CHAR_PTR)who, strlen(who), ops);
}

/* Logs the session's application in as name (after logging out whoever was). */
static CK_RV as(CK_SESSION_HANDLE h, const char *name, const char *pin)
{
	(void)P11->C_Logout(h);
	return P11->C_LoginUser(h, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin),
	                        (CK_UTF8CHAR_PTR)name, strlen(name));
}

static CK_RV as_default(CK_SESSION_HANDLE h)
{
	(void)P11->C_Logout(h);
	return ch_t_login_user(h);
}

typedef struct fixture {
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE aes, pub, priv;
} fixture;

/* Token "t" with alice (user), bob (user), carol (operator, user) and, made
 * by the default participant, an AES key and an EC key pair. */
static bool setup(fixture *f)
{
	memset(f, 0, sizeof(*f));
	if (!ch_t_setup(&f->e) || vendor() == NULL)
		return false;
	REQUIRE_RV(ch_t_open(f->e.slot, true, &f->h), CKR_OK);
	REQUIRE_RV(ch_t_login(f->h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	REQUIRE_RV(add(f->h, "alice", CH_ROLE_USER, PIN_ALICE), CKR_OK);
	REQUIRE_RV(add(f->h, "bob", CH_ROLE_USER, PIN_BOB), CKR_OK);
	REQUIRE_RV(add(f->h, "carol", CH_ROLE_OPERATOR | CH_ROLE_USER, PIN_CAROL), CKR_OK);
	REQUIRE_RV(as_default(f->h), CKR_OK);
	REQUIRE_RV(ch_t_gen_aes(f->h, true, "k-aes", &f->aes), CKR_OK);
	REQUIRE_RV(ch_t_gen_ec(f->h, true, "k-ec", &f->pub, &f->priv), CKR_OK);
	return true;
out:
	return false;
}

static CK_RV encrypt_init(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key, CK_ATTRIBUTE_TYPE dir)
{
	static CK_BYTE iv[12];
	static CK_GCM_PARAMS p;
	CK_MECHANISM m;
	CK_RV rv;

	ch_t_gcm(&m, &p, iv, NULL, 0);
	rv = dir == CKA_ENCRYPT ? P11->C_EncryptInit(h, &m, key) : P11->C_DecryptInit(h, &m, key);
	if (rv == CKR_OK) {
		CK_BYTE out[64];
		CK_ULONG n = sizeof(out);
		/* End the operation so the next init starts clean. */
		if (dir == CKA_ENCRYPT)
			(void)P11->C_Encrypt(h, (CK_BYTE_PTR) "x", 1, out, &n);
		else
			(void)P11->C_DecryptFinal(h, out, &n);
	}
	return rv;
}

static void test_grants_private_key_invisible_without_grant(void)
{
	fixture f;

	REQUIRE(setup(&f));
	REQUIRE_RV(as(f.h, "alice", PIN_ALICE), CKR_OK);
	CHECK(ch_t_count_label(f.h, "k-aes") == 0);
	CHECK_RV(encrypt_init(f.h, f.aes, CKA_ENCRYPT), CKR_KEY_HANDLE_INVALID);
	/* The public half of the pair is public: visible, but not usable. */
	CHECK(ch_t_count_label(f.h, "k-ec") == 1);
	{
		CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
		CHECK_RV(P11->C_VerifyInit(f.h, &m, f.pub), CKR_KEY_FUNCTION_NOT_PERMITTED);
	}
out:
	ch_t_env_free(&f.e);
}

static void test_grants_limit_use_to_granted_operations(void)
{
	fixture f;

	REQUIRE(setup(&f));
	/* An operator (carol) grants alice encryption only. */
	REQUIRE_RV(as(f.h, "carol", PIN_CAROL), CKR_OK);
	CHECK_RV(grant(f.h, f.aes, "alice", CH_GRANT_ENCRYPT), CKR_OK);
	REQUIRE_RV(as(f.h, "alice", PIN_ALICE), CKR_OK);
	CHECK(ch_t_count_label(f.h, "k-aes") == 1);
	CHECK_RV(encrypt_init(f.h, f.aes, CKA_ENCRYPT), CKR_OK);
	/* CKA_DECRYPT is TRUE on the key, but alice holds no decrypt grant. */
	CHECK_RV(encrypt_init(f.h, f.aes, CKA_DECRYPT), CKR_KEY_FUNCTION_NOT_PERMITTED);
	/* bob holds nothing. */
	REQUIRE_RV(as(f.h, "bob", PIN_BOB), CKR_OK);
	CHECK(ch_t_count_label(f.h, "k-aes") == 0);
	/* The creator keeps every use. */
	REQUIRE_RV(as_default(f.h), CKR_OK);
	CHECK_RV(encrypt_init(f.h, f.aes, CKA_DECRYPT), CKR_OK);
out:
	ch_t_env_free(&f.e);
}

static void test_grants_to_a_role_and_revoke(void)
{
	fixture f;
	CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
	CK_BYTE sig[80];
	CK_ULONG n = sizeof(sig);

	REQUIRE(setup(&f));
	REQUIRE_RV(ch_t_login(f.h, CKU_SO, CH_T_SO_PIN), CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
	(void)P11->C_Logout(f.h);
	/* The admin grants every "user" signing with the private key. */
	REQUIRE_RV(ch_t_login(f.h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	CHECK_RV(grant(f.h, f.priv, "role:user", CH_GRANT_SIGN), CKR_OK);
	REQUIRE_RV(as(f.h, "bob", PIN_BOB), CKR_OK);
	CHECK_RV(P11->C_SignInit(f.h, &m, f.priv), CKR_OK);
	CHECK_RV(P11->C_Sign(f.h, (CK_BYTE_PTR) "msg", 3, sig, &n), CKR_OK);
	CHECK_RV(encrypt_init(f.h, f.aes, CKA_ENCRYPT), CKR_KEY_HANDLE_INVALID);
	{
		CH_GRANT_INFO list[4];
		CK_ULONG count = 4;

		REQUIRE_RV(as(f.h, "carol", PIN_CAROL), CKR_OK);
		CHECK_RV(vendor()->CH_GrantList(f.h, f.priv, list, &count), CKR_OK);
		CHECK_UL(count, 1);
		CHECK(ch_t_padded_is(list[0].grantee, sizeof(list[0].grantee), "role:user"));
		CHECK_UL(list[0].operations, CH_GRANT_SIGN);
		/* Revoking: operations 0. */
		CHECK_RV(grant(f.h, f.priv, "role:user", 0), CKR_OK);
		count = 4;
		CHECK_RV(vendor()->CH_GrantList(f.h, f.priv, list, &count), CKR_OK);
		CHECK_UL(count, 0);
	}
	REQUIRE_RV(as(f.h, "bob", PIN_BOB), CKR_OK);
	CHECK_RV(P11->C_SignInit(f.h, &m, f.priv), CKR_KEY_HANDLE_INVALID);
out:
	ch_t_env_free(&f.e);
}

static void test_grants_bad_input_changes_nothing(void)
{
	fixture f;
	CK_ULONG count = 0;

	REQUIRE(setup(&f));
	REQUIRE_RV(as(f.h, "carol", PIN_CAROL), CKR_OK);
	CHECK_RV(grant(f.h, f.aes, "nobody", CH_GRANT_ENCRYPT), CKR_ARGUMENTS_BAD);
	CHECK_RV(grant(f.h, f.aes, "role:king", CH_GRANT_ENCRYPT), CKR_ARGUMENTS_BAD);
	CHECK_RV(grant(f.h, f.aes, "bad name!", CH_GRANT_ENCRYPT), CKR_ARGUMENTS_BAD);
	CHECK_RV(grant(f.h, f.aes, "alice", 0x1000), CKR_ARGUMENTS_BAD);
	CHECK_RV(grant(f.h, 999999, "alice", CH_GRANT_ENCRYPT), CKR_KEY_HANDLE_INVALID);
	CHECK_RV(vendor()->CH_GrantList(f.h, f.aes, NULL, &count), CKR_OK);
	CHECK_UL(count, 0);
	/* A plain user may not grant, even keys it can see. */
	REQUIRE_RV(as(f.h, "alice", PIN_ALICE), CKR_OK);
	CHECK_RV(grant(f.h, f.pub, "alice", CH_GRANT_VERIFY), CKR_USER_NOT_LOGGED_IN);
	REQUIRE_RV(as(f.h, "carol", PIN_CAROL), CKR_OK);
	count = 0;
	CHECK_RV(vendor()->CH_GrantList(f.h, f.pub, NULL, &count), CKR_OK);
	CHECK_UL(count, 0);
out:
	ch_t_env_free(&f.e);
}

static void test_grants_edited_in_the_file_grant_nothing(void)
{
	fixture f;
	sqlite3 *db = NULL;

	REQUIRE(setup(&f));
	REQUIRE_RV(as(f.h, "carol", PIN_CAROL), CKR_OK);
	REQUIRE_RV(grant(f.h, f.aes, "alice", CH_GRANT_ENCRYPT), CKR_OK);
	/* Someone with the file widens the grant to decryption. */
	REQUIRE(sqlite3_open(f.e.store, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "UPDATE grants SET ops = 3", NULL, NULL, NULL) == SQLITE_OK);
	CHECK(sqlite3_changes(db) == 1);
	sqlite3_close(db);
	REQUIRE_RV(as(f.h, "alice", PIN_ALICE), CKR_OK);
	CHECK_RV(encrypt_init(f.h, f.aes, CKA_DECRYPT), CKR_KEY_HANDLE_INVALID);
	CHECK_RV(encrypt_init(f.h, f.aes, CKA_ENCRYPT), CKR_KEY_HANDLE_INVALID);
	CHECK(ch_t_log_has(&f.e, "failed its integrity check"));
out:
	ch_t_env_free(&f.e);
}

static void test_grants_creator_owns_its_keys(void)
{
	fixture f;
	CK_OBJECT_HANDLE mine;

	REQUIRE(setup(&f));
	REQUIRE_RV(as(f.h, "carol", PIN_CAROL), CKR_OK);
	REQUIRE_RV(ch_t_gen_aes(f.h, true, "carol-key", &mine), CKR_OK);
	CHECK_RV(encrypt_init(f.h, mine, CKA_ENCRYPT), CKR_OK);
	/* The default participant is an operator: it sees carol's key, but may
	 * not use it without a grant. */
	REQUIRE_RV(as_default(f.h), CKR_OK);
	CHECK(ch_t_count_label(f.h, "carol-key") == 1);
	CHECK_RV(encrypt_init(f.h, mine, CKA_ENCRYPT), CKR_KEY_FUNCTION_NOT_PERMITTED);
	REQUIRE_RV(as(f.h, "bob", PIN_BOB), CKR_OK);
	CHECK(ch_t_count_label(f.h, "carol-key") == 0);
out:
	ch_t_env_free(&f.e);
}

/* A narrow grant does not widen by copying or wrapping the key: both hand
 * out a key its holder could then use for anything. */
static void test_grants_do_not_widen_through_copy_or_wrap(void)
{
	fixture f;
	CK_OBJECT_HANDLE copy, kek;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_BYTE kv[32] = { 1, 2, 3 }, blob[128], iv[12] = { 0 };
	CK_ULONG bl = sizeof(blob);
	CK_GCM_PARAMS gp;
	CK_MECHANISM gcm;
	CK_ATTRIBUTE to_session[] = { CH_T_BOOL(CKA_TOKEN, false) };
	CK_ATTRIBUTE widen[] = { CH_T_BOOL(CKA_TOKEN, false), CH_T_BOOL(CKA_ENCRYPT, true) };
	CK_ATTRIBUTE kt_[] = {
		CH_T_ULONG(CKA_CLASS, &cls),
		CH_T_ULONG(CKA_KEY_TYPE, &kt),
		CH_T_BOOL(CKA_WRAP, true),
		CH_T_ATTR(CKA_VALUE, kv, sizeof(kv)),
	};

	REQUIRE(setup(&f));
	REQUIRE_RV(as(f.h, "carol", PIN_CAROL), CKR_OK);
	CHECK_RV(grant(f.h, f.aes, "alice", CH_GRANT_DECRYPT), CKR_OK);
	REQUIRE_RV(as(f.h, "alice", PIN_ALICE), CKR_OK);
	CHECK_RV(P11->C_CopyObject(f.h, f.aes, to_session, 1, &copy), CKR_ACTION_PROHIBITED);
	CHECK_RV(P11->C_CopyObject(f.h, f.aes, widen, 2, &copy), CKR_ACTION_PROHIBITED);
	CHECK_RV(P11->C_CopyObject(f.h, f.aes, NULL, 0, &copy), CKR_ACTION_PROHIBITED);
	REQUIRE_RV(P11->C_CreateObject(f.h, kt_, CH_T_ARRAY_LEN(kt_), &kek), CKR_OK);
	ch_t_gcm(&gcm, &gp, iv, NULL, 0);
	CHECK_RV(P11->C_WrapKey(f.h, &gcm, kek, f.aes, blob, &bl), CKR_KEY_FUNCTION_NOT_PERMITTED);
	/* Every operation granted: the key is as good as one's own. */
	REQUIRE_RV(as(f.h, "carol", PIN_CAROL), CKR_OK);
	CHECK_RV(grant(f.h, f.aes, "alice", CH_GRANT_ALL), CKR_OK);
	REQUIRE_RV(as(f.h, "alice", PIN_ALICE), CKR_OK);
	CHECK_RV(P11->C_CopyObject(f.h, f.aes, to_session, 1, &copy), CKR_OK);
	/* The creator copies its own keys, with an empty template too (NSS). */
	REQUIRE_RV(as_default(f.h), CKR_OK);
	CHECK_RV(P11->C_CopyObject(f.h, f.aes, NULL, 0, &copy), CKR_OK);
out:
	ch_t_env_free(&f.e);
}

static const ch_t_case tests[] = {
	CH_T_CASE(test_grants_do_not_widen_through_copy_or_wrap),
	CH_T_CASE(test_grants_private_key_invisible_without_grant),
	CH_T_CASE(test_grants_limit_use_to_granted_operations),
	CH_T_CASE(test_grants_to_a_role_and_revoke),
	CH_T_CASE(test_grants_bad_input_changes_nothing),
	CH_T_CASE(test_grants_edited_in_the_file_grant_nothing),
	CH_T_CASE(test_grants_creator_owns_its_keys),
};

int main(void)
{
	return ch_t_run(tests, CH_T_ARRAY_LEN(tests));
}
