/*
 * Secrets (issue 8, point 6): named, versioned private data objects.  Put
 * and read back; new versions by C_CreateObject with CKA_CH_NEW_VERSION
 * (found primary first, old version still readable, racing processes make
 * sequential versions and one primary); who reads the value (creator, READ
 * grantees directly or by role, grants carried to new versions; others
 * CKR_ATTRIBUTE_SENSITIVE or not found); retiring and destroying versions
 * (the value leaves the store file); the audit trail of reads (with no
 * value in it); bad inputs that change nothing.
 *
 * Children (this executable started again with "child newversion GO") make
 * one new version of secret "race" each: exit 0 when made, 2 otherwise.
 */
#include <sqlite3.h>
#include <time.h>

#include "module.h"
#include "store_rows.h"

#define V ch_t_vendor()

static const char alpha[] = "db-password-alpha-7f2e91c4";
static const char beta[] = "db-password-beta-0b55d7a3";
static const char gamma_[] = "db-password-gamma-93ce1e08";

/* ---- helpers ---- */

/* A secret's template: name, value, and whether it asks for a new version. */
static CK_RV secret_create(CK_SESSION_HANDLE h, const char *name, const char *value,
                           bool new_version, CK_OBJECT_HANDLE *o)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CLASS, &cls),
		CH_T_BOOL(CKA_TOKEN, true),
		CH_T_BOOL(CKA_PRIVATE, true),
		CH_T_STR(CKA_LABEL, name),
		CH_T_STR(CKA_APPLICATION, CH_SECRET_APPLICATION),
		CH_T_STR(CKA_VALUE, value),
		CH_T_BOOL(CKA_CH_NEW_VERSION, true),
	};

	*o = CK_INVALID_HANDLE;
	return P11->C_CreateObject(h, t, CH_T_ARRAY_LEN(t) - (new_version ? 0 : 1), o);
}

static CK_RV put(CK_SESSION_HANDLE h, const char *name, const char *value, CK_OBJECT_HANDLE *o)
{
	return secret_create(h, name, value, false, o);
}

static CK_RV rotate(CK_SESSION_HANDLE h, const char *name, const char *value, CK_OBJECT_HANDLE *o)
{
	return secret_create(h, name, value, true, o);
}

/* Reads o's CKA_VALUE the way pkcs11-tool does (length, then value) and
 * compares it with want.  Returns the first call's error, or CKR_OK /
 * CKR_GENERAL_ERROR (a different value). */
static CK_RV value_is(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, const char *want)
{
	char buf[128];
	CK_ATTRIBUTE a = { CKA_VALUE, NULL, 0 };
	CK_RV rv;

	if ((rv = P11->C_GetAttributeValue(h, o, &a, 1)) != CKR_OK)
		return rv;
	if (a.ulValueLen >= sizeof(buf))
		return CKR_GENERAL_ERROR;
	a.pValue = buf;
	if ((rv = P11->C_GetAttributeValue(h, o, &a, 1)) != CKR_OK)
		return rv;
	return a.ulValueLen == strlen(want) && memcmp(buf, want, a.ulValueLen) == 0
	               ? CKR_OK
	               : CKR_GENERAL_ERROR;
}

static CK_ULONG get_ulong(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type)
{
	CK_ULONG v = 0xdeadUL, len = sizeof(v);

	if (ch_t_get(h, o, type, &v, &len) != CKR_OK || len != sizeof(v))
		return 0xdeadUL;
	return v;
}

/* The data objects named name that h sees, primary first as found. */
static CK_RV find_secret(CK_SESSION_HANDLE h, const char *name, CK_OBJECT_HANDLE *out, CK_ULONG max,
                         CK_ULONG *n)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE t[] = { CH_T_ULONG(CKA_CLASS, &cls), CH_T_STR(CKA_LABEL, name) };

	return ch_t_find(h, t, CH_T_ARRAY_LEN(t), out, max, n);
}

static CK_RV grant(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, const char *who, CK_FLAGS ops)
{
	return V->CH_GrantSet(h, o, (CK_UTF8CHAR_PTR)who, (CK_ULONG)strlen(who), ops);
}

/* Adds participant name (roles, PIN pin) as the SO on session h, which is
 * left logged out (one participant is logged in per slot and process). */
static CK_RV add(CK_SESSION_HANDLE h, const char *name, CK_FLAGS roles, const char *pin)
{
	CK_RV rv;

	(void)P11->C_Logout(h);
	if ((rv = ch_t_login(h, CKU_SO, CH_T_SO_PIN)) == CKR_OK)
		rv = ch_t_participant_add(h, name, roles, pin);
	(void)P11->C_Logout(h);
	return rv;
}

/* Session h acts for participant name from here (NULL: the default user). */
static CK_RV as(CK_SESSION_HANDLE h, const char *name, const char *pin)
{
	(void)P11->C_Logout(h);
	return name == NULL ? ch_t_login_user(h) : ch_t_login_as(h, CKU_USER, name, pin);
}

/* ---- put, read, versions ---- */

static void test_put_stores_version_one_and_reads_back(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE v1, x;
	CK_ULONG n;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(put(h, "payments-db", alpha, &v1), CKR_OK);
	CHECK_RV(value_is(h, v1, alpha), CKR_OK);
	CHECK_UL(get_ulong(h, v1, CKA_CH_VERSION), 1);
	CHECK_UL(get_ulong(h, v1, CKA_CH_STATE), CH_KEY_STATE_ACTIVE);
	CHECK_UL(get_ulong(h, v1, CKA_CH_MIN_DECRYPT_VERSION), 1);
	CHECK(ch_t_get_bool(h, v1, CKA_CH_PRIMARY) == 1);
	CHECK(get_ulong(h, v1, CKA_CH_CREATED) + 60 > (CK_ULONG)time(NULL));
	CHECK(ch_t_get_bool(h, v1, CKA_PRIVATE) == 1);
	/* The name is taken: a second put is refused (rotate instead). */
	CHECK_RV(put(h, "payments-db", beta, &x), CKR_ACTION_PROHIBITED);
	REQUIRE_RV(find_secret(h, "payments-db", NULL, 0, &n), CKR_OK);
	CHECK_UL(n, 1);
	/* The value is sealed in the store. */
	CHECK(!ch_t_store_holds(&e, alpha, strlen(alpha)));
	CHECK(!ch_t_store_holds(&e, beta, strlen(beta)));
	REQUIRE_RV(P11->C_Finalize(NULL), CKR_OK);
	CHECK(!ch_t_store_holds(&e, alpha, strlen(alpha)));
out:
	ch_t_env_free(&e);
}

static void test_new_version_is_found_first_and_the_old_one_stays_readable(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE v1, v2, v3, found[8];
	CK_ULONG one = 1, n;
	CK_ATTRIBUTE by_version[] = { CH_T_STR(CKA_LABEL, "api-key"),
		                      CH_T_ULONG(CKA_CH_VERSION, &one) };
	CK_ATTRIBUTE by_value[] = { CH_T_STR(CKA_LABEL, "api-key"), CH_T_STR(CKA_VALUE, alpha) };
	CK_ATTRIBUTE new_value[] = { CH_T_STR(CKA_VALUE, gamma_) };

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(put(h, "api-key", alpha, &v1), CKR_OK);
	REQUIRE_RV(rotate(h, "api-key", beta, &v2), CKR_OK);
	CHECK(v2 != v1);

	/* A stock client taking the first object the label finds reads v2. */
	REQUIRE_RV(find_secret(h, "api-key", found, 8, &n), CKR_OK);
	CHECK_UL(n, 2);
	CHECK_UL(found[0], v2);
	CHECK_RV(value_is(h, found[0], beta), CKR_OK);
	/* v1 is the previous version, still readable. */
	CHECK_RV(value_is(h, v1, alpha), CKR_OK);
	CHECK_UL(get_ulong(h, v1, CKA_CH_STATE), CH_KEY_STATE_DECRYPT_ONLY);
	CHECK(ch_t_get_bool(h, v1, CKA_CH_PRIMARY) == 0);
	CHECK_UL(get_ulong(h, v2, CKA_CH_VERSION), 2);
	CHECK_UL(get_ulong(h, v2, CKA_CH_STATE), CH_KEY_STATE_ACTIVE);
	CHECK(ch_t_get_bool(h, v2, CKA_CH_PRIMARY) == 1);
	/* A template naming a version finds it; a value is no search key. */
	REQUIRE_RV(ch_t_find(h, by_version, 2, found, 8, &n), CKR_OK);
	CHECK(n == 1 && found[0] == v1);
	REQUIRE_RV(ch_t_find(h, by_value, 2, found, 8, &n), CKR_OK);
	CHECK_UL(n, 0);
	/* A version's value does not change in place: a new value is a new
	 * version, numbered on. */
	CHECK_RV(P11->C_SetAttributeValue(h, v2, new_value, 1), CKR_ATTRIBUTE_READ_ONLY);
	REQUIRE_RV(rotate(h, "api-key", gamma_, &v3), CKR_OK);
	CHECK_UL(get_ulong(h, v3, CKA_CH_VERSION), 3);
	CHECK_UL(get_ulong(h, v2, CKA_CH_STATE), CH_KEY_STATE_DECRYPT_ONLY);
	REQUIRE_RV(find_secret(h, "api-key", found, 8, &n), CKR_OK);
	CHECK(n == 3 && found[0] == v3);
	/* Rotating a secret through the key call is no rotation. */
	CHECK_RV(V->CH_KeyRotate(h, v3, &v1), CKR_KEY_TYPE_INCONSISTENT);
out:
	ch_t_env_free(&e);
}

/* Makes one new version of "race" once the file go exists. */
static int child_new_version(const char *go)
{
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE o;
	char value[64];
	CK_RV rv;

	if (!ch_t_child_session(go, &h))
		return 2;
	snprintf(value, sizeof(value), "value-of-%ld", (long)getpid());
	if ((rv = rotate(h, "race", value, &o)) == CKR_OK)
		return 0;
	fprintf(stderr, "child %ld: C_CreateObject: %s\n", (long)getpid(), ch_test_rv_name(rv));
	return 2;
}

static void test_racing_new_versions_are_sequential_with_one_primary(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE v1, found[8];
	CK_ATTRIBUTE prim[] = { CH_T_STR(CKA_LABEL, "race"), CH_T_BOOL(CKA_CH_PRIMARY, true) };
	char go[300];
	char *args[] = { "child", "newversion", go, NULL };
	CK_ULONG n, seen = 0;
	pid_t a, b;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(put(h, "race", alpha, &v1), CKR_OK);
	snprintf(go, sizeof(go), "%s/go", e.dir);
	REQUIRE((a = ch_t_spawn_self(args)) > 0);
	REQUIRE((b = ch_t_spawn_self(args)) > 0);
	usleep(200000);
	REQUIRE(ch_t_write_file(go, "", 0));
	CHECK(ch_t_wait(a) == 0);
	CHECK(ch_t_wait(b) == 0);
	REQUIRE_RV(ch_t_find(h, prim, 2, found, 8, &n), CKR_OK);
	CHECK_UL(n, 1);
	CHECK_UL(get_ulong(h, found[0], CKA_CH_VERSION), 3);
	REQUIRE_RV(find_secret(h, "race", found, 8, &n), CKR_OK);
	CHECK_UL(n, 3);
	for (CK_ULONG i = 0; i < n; i++)
		seen |= 1UL << get_ulong(h, found[i], CKA_CH_VERSION);
	CHECK_UL(seen, 0xEUL); /* versions 1, 2 and 3 */
out:
	ch_t_env_free(&e);
}

/* ---- who reads ---- */

static void test_only_the_creator_and_read_grantees_read_the_value(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE v1, v2, found[4];
	CK_ULONG n;
	char label[32];
	CK_ATTRIBUTE two[] = { { CKA_LABEL, label, sizeof(label) }, { CKA_VALUE, NULL, 0 } };
	CH_GRANT_INFO list[4];

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_open(e.slot, true, &h), CKR_OK);
	REQUIRE_RV(add(h, "bob", CH_ROLE_USER, "bob-pin-1"), CKR_OK);
	REQUIRE_RV(add(h, "carol", CH_ROLE_OPERATOR, "carol-pin-1"), CKR_OK);
	REQUIRE_RV(add(h, "dave", CH_ROLE_USER, "dave-pin-1"), CKR_OK);
	REQUIRE_RV(as(h, NULL, NULL), CKR_OK);
	REQUIRE_RV(put(h, "smtp", alpha, &v1), CKR_OK);

	/* bob has no grant: the secret is not there for him. */
	REQUIRE_RV(as(h, "bob", "bob-pin-1"), CKR_OK);
	REQUIRE_RV(find_secret(h, "smtp", NULL, 0, &n), CKR_OK);
	CHECK_UL(n, 0);
	CHECK_RV(value_is(h, v1, alpha), CKR_OBJECT_HANDLE_INVALID);
	/* carol manages objects and sees it, but reads no value. */
	REQUIRE_RV(as(h, "carol", "carol-pin-1"), CKR_OK);
	REQUIRE_RV(find_secret(h, "smtp", found, 4, &n), CKR_OK);
	CHECK(n == 1 && found[0] == v1);
	CHECK_RV(value_is(h, v1, alpha), CKR_ATTRIBUTE_SENSITIVE);
	CHECK_RV(P11->C_GetAttributeValue(h, v1, two, 2), CKR_ATTRIBUTE_SENSITIVE);
	CHECK(two[0].ulValueLen == 4 && memcmp(label, "smtp", 4) == 0);
	CHECK_UL(two[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);

	/* A READ grant, directly or by role. */
	REQUIRE_RV(as(h, NULL, NULL), CKR_OK);
	REQUIRE_RV(grant(h, v1, "bob", CH_GRANT_READ), CKR_OK);
	REQUIRE_RV(as(h, "bob", "bob-pin-1"), CKR_OK);
	CHECK_RV(value_is(h, v1, alpha), CKR_OK);
	REQUIRE_RV(as(h, "dave", "dave-pin-1"), CKR_OK);
	CHECK_RV(value_is(h, v1, alpha), CKR_OBJECT_HANDLE_INVALID);
	REQUIRE_RV(as(h, NULL, NULL), CKR_OK);
	REQUIRE_RV(grant(h, v1, "role:user", CH_GRANT_READ), CKR_OK);
	n = 4;
	REQUIRE_RV(V->CH_GrantList(h, v1, list, &n), CKR_OK);
	CHECK_UL(n, 2);
	CHECK_UL(list[0].operations, CH_GRANT_READ);
	REQUIRE_RV(as(h, "dave", "dave-pin-1"), CKR_OK);
	CHECK_RV(value_is(h, v1, alpha), CKR_OK);

	/* The grants carry over to the next version. */
	REQUIRE_RV(as(h, NULL, NULL), CKR_OK);
	REQUIRE_RV(rotate(h, "smtp", beta, &v2), CKR_OK);
	REQUIRE_RV(as(h, "bob", "bob-pin-1"), CKR_OK);
	REQUIRE_RV(find_secret(h, "smtp", found, 4, &n), CKR_OK);
	CHECK(n == 2 && found[0] == v2);
	CHECK_RV(value_is(h, v2, beta), CKR_OK);
	REQUIRE_RV(as(h, "dave", "dave-pin-1"), CKR_OK);
	CHECK_RV(value_is(h, v2, beta), CKR_OK);
	REQUIRE_RV(as(h, "carol", "carol-pin-1"), CKR_OK);
	CHECK_RV(value_is(h, v2, beta), CKR_ATTRIBUTE_SENSITIVE);
	/* Revoked (bob keeps role:user's grant, so revoke that too): gone. */
	REQUIRE_RV(as(h, NULL, NULL), CKR_OK);
	REQUIRE_RV(grant(h, v2, "bob", 0), CKR_OK);
	REQUIRE_RV(grant(h, v2, "role:user", 0), CKR_OK);
	REQUIRE_RV(as(h, "bob", "bob-pin-1"), CKR_OK);
	CHECK_RV(value_is(h, v2, beta), CKR_OBJECT_HANDLE_INVALID);
	CHECK_RV(value_is(h, v1, alpha), CKR_OK); /* v1's grants are v1's */
	/* The SO sees no private object at all. */
	(void)P11->C_Logout(h);
	REQUIRE_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	CHECK_RV(value_is(h, v2, beta), CKR_OBJECT_HANDLE_INVALID);
out:
	ch_t_env_free(&e);
}

/* ---- retiring ---- */

static void test_disabled_below_min_and_destroyed_versions_hide_their_value(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE v1, v2;
	unsigned char blob[256];
	size_t blen;
	CK_ULONG n;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(put(h, "ldap", alpha, &v1), CKR_OK);
	REQUIRE_RV(rotate(h, "ldap", beta, &v2), CKR_OK);

	REQUIRE_RV(V->CH_KeySetState(h, v1, CH_KEY_STATE_DISABLED), CKR_OK);
	CHECK_UL(get_ulong(h, v1, CKA_CH_STATE), CH_KEY_STATE_DISABLED);
	CHECK_RV(value_is(h, v1, alpha), CKR_ATTRIBUTE_SENSITIVE);
	REQUIRE_RV(V->CH_KeySetState(h, v1, CH_KEY_STATE_ACTIVE), CKR_OK);
	CHECK_UL(get_ulong(h, v1, CKA_CH_STATE), CH_KEY_STATE_DECRYPT_ONLY);
	CHECK_RV(value_is(h, v1, alpha), CKR_OK);
	REQUIRE_RV(V->CH_KeySetMinVersion(h, v2, 2), CKR_OK);
	CHECK_RV(value_is(h, v1, alpha), CKR_ATTRIBUTE_SENSITIVE);
	CHECK_RV(value_is(h, v2, beta), CKR_OK);
	REQUIRE_RV(V->CH_KeySetMinVersion(h, v2, 1), CKR_OK);
	CHECK_RV(value_is(h, v1, alpha), CKR_OK);

	/* Destroyed: the sealed value leaves the store file; the metadata
	 * stays.  The primary cannot be destroyed. */
	REQUIRE((blen = ch_t_sealed_value(e.store, v1, blob, sizeof(blob))) > strlen(alpha));
	CHECK(ch_t_store_holds(&e, blob, blen));
	CHECK_RV(V->CH_KeySetState(h, v2, CH_KEY_STATE_DESTROYED), CKR_ACTION_PROHIBITED);
	REQUIRE_RV(V->CH_KeySetState(h, v1, CH_KEY_STATE_DESTROYED), CKR_OK);
	CHECK_RV(value_is(h, v1, alpha), CKR_ATTRIBUTE_SENSITIVE);
	CHECK_RV(V->CH_KeySetState(h, v1, CH_KEY_STATE_ACTIVE), CKR_ACTION_PROHIBITED);
	CHECK_UL(get_ulong(h, v1, CKA_CH_STATE), CH_KEY_STATE_DESTROYED);
	CHECK_UL(get_ulong(h, v1, CKA_CH_VERSION), 1);
	CHECK(ch_t_sealed_value(e.store, v1, blob + 128, 128) == 0);
	CHECK(!ch_t_store_holds(&e, blob, blen));
	CHECK_RV(value_is(h, v2, beta), CKR_OK);

	/* The whole secret goes with C_DestroyObject, the primary last. */
	CHECK_RV(P11->C_DestroyObject(h, v2), CKR_ACTION_PROHIBITED);
	REQUIRE_RV(P11->C_DestroyObject(h, v1), CKR_OK);
	REQUIRE((blen = ch_t_sealed_value(e.store, v2, blob, sizeof(blob))) > strlen(beta));
	REQUIRE_RV(P11->C_DestroyObject(h, v2), CKR_OK);
	REQUIRE_RV(find_secret(h, "ldap", NULL, 0, &n), CKR_OK);
	CHECK_UL(n, 0);
	CHECK(!ch_t_store_holds(&e, blob, blen));
	REQUIRE_RV(P11->C_Finalize(NULL), CKR_OK);
	CHECK(!ch_t_store_holds(&e, blob, blen));
out:
	ch_t_env_free(&e);
}

/* ---- audit ---- */

static void test_reads_are_audited_without_the_value(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE v1, v2;
	CH_AUDIT_RECORD *rec = NULL;
	char uid[33] = "";
	CK_ULONG n = 0, len = 32, ok_reads = 0, refused = 0, puts = 0, rotates = 0;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(put(h, "token", alpha, &v1), CKR_OK);
	REQUIRE_RV(rotate(h, "token", beta, &v2), CKR_OK);
	REQUIRE_RV(ch_t_get(h, v1, CKA_UNIQUE_ID, uid, &len), CKR_OK);
	REQUIRE_RV(value_is(h, v1, alpha), CKR_OK); /* a length query and a read */
	REQUIRE_RV(value_is(h, v1, alpha), CKR_OK);
	REQUIRE_RV(add(h, "carol", CH_ROLE_OPERATOR, "carol-pin-1"), CKR_OK);
	REQUIRE_RV(as(h, "carol", "carol-pin-1"), CKR_OK);
	CHECK_RV(value_is(h, v1, alpha), CKR_ATTRIBUTE_SENSITIVE);

	(void)P11->C_Logout(h);
	REQUIRE_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	REQUIRE_RV(V->CH_AuditRead(h, 1, NULL, &n), CKR_OK);
	REQUIRE((rec = calloc(n + 1, sizeof(*rec))) != NULL);
	REQUIRE_RV(V->CH_AuditRead(h, 1, rec, &n), CKR_OK);
	for (CK_ULONG i = 0; i < n; i++) {
		const CH_AUDIT_RECORD *r = &rec[i];

		if (ch_t_padded_is(r->operation, sizeof(r->operation), "secret.read") &&
		    ch_t_padded_is(r->object, sizeof(r->object), uid)) {
			ok_reads += r->result == CKR_OK;
			refused += r->result == CKR_ATTRIBUTE_SENSITIVE;
			CHECK(ch_t_contains(r->detail, sizeof(r->detail), "token version 1", 15));
		}
		puts += ch_t_padded_is(r->operation, sizeof(r->operation), "secret.put");
		rotates += ch_t_padded_is(r->operation, sizeof(r->operation), "secret.rotate");
		/* No value in any record. */
		CHECK(!ch_t_contains(r, sizeof(*r), alpha, 8));
		CHECK(!ch_t_contains(r, sizeof(*r), beta, 8));
	}
	CHECK_UL(ok_reads, 2);
	CHECK_UL(refused, 1);
	CHECK_UL(puts, 1);
	CHECK_UL(rotates, 1);
out:
	free(rec);
	ch_t_env_free(&e);
}

/* ---- bad input ---- */

static void test_bad_inputs_are_refused_and_change_nothing(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h, ro;
	CK_OBJECT_HANDLE v1, key, data, x;
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ULONG one = 1, n;
	CK_ATTRIBUTE forged[] = {
		CH_T_ULONG(CKA_CLASS, &cls),
		CH_T_BOOL(CKA_TOKEN, true),
		CH_T_BOOL(CKA_PRIVATE, true),
		CH_T_STR(CKA_LABEL, "forged"),
		CH_T_STR(CKA_APPLICATION, CH_SECRET_APPLICATION),
		CH_T_STR(CKA_VALUE, gamma_),
		CH_T_ULONG(CKA_CH_VERSION, &one),
	};
	CK_ATTRIBUTE become[] = { CH_T_STR(CKA_APPLICATION, CH_SECRET_APPLICATION) };
	CK_ATTRIBUTE rename[] = { CH_T_STR(CKA_LABEL, "other") };
	CH_GRANT_INFO list[2];
	char *before = NULL, *after = NULL;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(put(h, "svc", alpha, &v1), CKR_OK);
	REQUIRE_RV(ch_t_gen_aes(h, true, "kek", &key), CKR_OK);
	REQUIRE_RV(ch_t_create_data(h, true, true, "plain", "p", 1, &data), CKR_OK);
	REQUIRE_RV(add(h, "bob", CH_ROLE_USER, "bob-pin-1"), CKR_OK);
	REQUIRE_RV(add(h, "carol", CH_ROLE_OPERATOR | CH_ROLE_USER, "carol-pin-1"), CKR_OK);
	REQUIRE_RV(as(h, NULL, NULL), CKR_OK);
	before = ch_t_store_rows(e.store);
	REQUIRE(before != NULL);

	/* A new version of a name no secret has. */
	CHECK_RV(rotate(h, "missing", beta, &x), CKR_TEMPLATE_INCONSISTENT);
	/* A new version of a plain data object (no secret). */
	{
		CK_ATTRIBUTE t[] = {
			CH_T_ULONG(CKA_CLASS, &cls),         CH_T_BOOL(CKA_TOKEN, true),
			CH_T_STR(CKA_LABEL, "plain"),        CH_T_STR(CKA_VALUE, "q"),
			CH_T_BOOL(CKA_CH_NEW_VERSION, true),
		};

		CHECK_RV(P11->C_CreateObject(h, t, CH_T_ARRAY_LEN(t), &x),
		         CKR_TEMPLATE_INCONSISTENT);
	}
	/* The token alone numbers versions. */
	CHECK_RV(P11->C_CreateObject(h, forged, CH_T_ARRAY_LEN(forged), &x),
	         CKR_ATTRIBUTE_READ_ONLY);
	/* A secret is private and a token object. */
	forged[2] = (CK_ATTRIBUTE)CH_T_BOOL(CKA_PRIVATE, false);
	CHECK_RV(P11->C_CreateObject(h, forged, CH_T_ARRAY_LEN(forged) - 1, &x),
	         CKR_TEMPLATE_INCONSISTENT);
	forged[2] = (CK_ATTRIBUTE)CH_T_BOOL(CKA_PRIVATE, true);
	forged[1] = (CK_ATTRIBUTE)CH_T_BOOL(CKA_TOKEN, false);
	CHECK_RV(P11->C_CreateObject(h, forged, CH_T_ARRAY_LEN(forged) - 1, &x),
	         CKR_TEMPLATE_INCONSISTENT);
	/* The name is taken. */
	CHECK_RV(put(h, "svc", beta, &x), CKR_ACTION_PROHIBITED);
	/* A plain data object does not become a secret; a version keeps its
	 * name; a version is not copied. */
	CHECK_RV(P11->C_SetAttributeValue(h, data, become, 1), CKR_ATTRIBUTE_VALUE_INVALID);
	CHECK_RV(P11->C_CopyObject(h, data, become, 1, &x), CKR_TEMPLATE_INCONSISTENT);
	CHECK_RV(P11->C_SetAttributeValue(h, v1, rename, 1), CKR_ATTRIBUTE_READ_ONLY);
	CHECK_RV(P11->C_CopyObject(h, v1, NULL, 0, &x), CKR_ACTION_PROHIBITED);
	/* Grants: a secret is only read, a key never. */
	CHECK_RV(grant(h, v1, "bob", CH_GRANT_DECRYPT), CKR_ARGUMENTS_BAD);
	CHECK_RV(grant(h, v1, "bob", CH_GRANT_ALL), CKR_ARGUMENTS_BAD);
	CHECK_RV(grant(h, key, "bob", CH_GRANT_READ), CKR_ARGUMENTS_BAD);
	CHECK_RV(grant(h, data, "bob", CH_GRANT_READ), CKR_KEY_HANDLE_INVALID);
	CHECK_RV(grant(h, v1, "nobody", CH_GRANT_READ), CKR_ARGUMENTS_BAD);
	/* A secret is destroyable, and stays so: it goes with its
	 * registration (C_InitToken). */
	{
		CK_ATTRIBUTE t[] = {
			CH_T_ULONG(CKA_CLASS, &cls),
			CH_T_BOOL(CKA_TOKEN, true),
			CH_T_BOOL(CKA_PRIVATE, true),
			CH_T_STR(CKA_APPLICATION, CH_SECRET_APPLICATION),
			CH_T_STR(CKA_VALUE, gamma_),
			CH_T_BOOL(CKA_DESTROYABLE, false),
			CH_T_STR(CKA_LABEL, "kept"),
		};
		CK_ATTRIBUTE keep[] = { CH_T_BOOL(CKA_DESTROYABLE, false) };

		CHECK_RV(P11->C_CreateObject(h, t, CH_T_ARRAY_LEN(t), &x),
		         CKR_TEMPLATE_INCONSISTENT);
		CHECK_RV(P11->C_SetAttributeValue(h, v1, keep, 1), CKR_ATTRIBUTE_READ_ONLY);
		/* A secret is found by its name: none, or an empty one, is no
		 * secret. */
		CHECK_RV(P11->C_CreateObject(h, t, CH_T_ARRAY_LEN(t) - 2, &x),
		         CKR_TEMPLATE_INCOMPLETE);
		t[5] = (CK_ATTRIBUTE){ CKA_LABEL, (CK_VOID_PTR) "", 0 };
		CHECK_RV(P11->C_CreateObject(h, t, CH_T_ARRAY_LEN(t) - 1, &x),
		         CKR_TEMPLATE_INCOMPLETE);
	}
	/* Only the creator shares a secret: carol, an operator, cannot grant
	 * herself (or her role) READ to get at the value. */
	REQUIRE_RV(as(h, "carol", "carol-pin-1"), CKR_OK);
	CHECK_RV(grant(h, v1, "carol", CH_GRANT_READ), CKR_ACTION_PROHIBITED);
	CHECK_RV(grant(h, v1, "role:operator", CH_GRANT_READ), CKR_ACTION_PROHIBITED);
	CHECK_RV(grant(h, v1, "bob", CH_GRANT_READ), CKR_ACTION_PROHIBITED);
	CHECK_RV(value_is(h, v1, alpha), CKR_ATTRIBUTE_SENSITIVE);
	REQUIRE_RV(as(h, NULL, NULL), CKR_OK);
	/* Read-only sessions write nothing. */
	REQUIRE_RV(ch_t_open(e.slot, false, &ro), CKR_OK);
	CHECK_RV(rotate(ro, "svc", beta, &x), CKR_SESSION_READ_ONLY);
	CHECK_RV(put(ro, "new", beta, &x), CKR_SESSION_READ_ONLY);

	after = ch_t_store_rows(e.store);
	CHECK(after != NULL && strcmp(before, after) == 0);
	REQUIRE_RV(find_secret(h, "svc", NULL, 0, &n), CKR_OK);
	CHECK_UL(n, 1);
	/* On a key, CH_GRANT_ALL grants the key operations and no READ. */
	REQUIRE_RV(grant(h, key, "bob", CH_GRANT_ALL), CKR_OK);
	n = 2;
	REQUIRE_RV(V->CH_GrantList(h, key, list, &n), CKR_OK);
	CHECK(n == 1 && list[0].operations == (CH_GRANT_ALL & ~CH_GRANT_READ));
out:
	free(before);
	free(after);
	ch_t_env_free(&e);
}

/* C_InitToken on the registration erases every version of a family, the
 * primary too (the family rule is C_DestroyObject's, not the erase's). */
static void test_init_token_erases_every_version(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE v1, v2, k1, k2;
	CH_REGISTRATION_INFO info;
	CK_UTF8CHAR lab[32];
	unsigned char blob[256];
	size_t blen;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_user_session(&e, true, &h), CKR_OK);
	REQUIRE_RV(put(h, "db", alpha, &v1), CKR_OK);
	REQUIRE_RV(rotate(h, "db", beta, &v2), CKR_OK);
	REQUIRE((blen = ch_t_sealed_value(e.store, v2, blob, sizeof(blob))) > strlen(beta));
	CHECK(ch_t_store_holds(&e, blob, blen));
	REQUIRE_RV(ch_t_gen_aes(h, true, "kek", &k1), CKR_OK);
	REQUIRE_RV(V->CH_KeyRotate(h, k1, &k2), CKR_OK);
	REQUIRE_RV(V->CH_GetRegistrationInfo(e.slot, &info), CKR_OK);
	CHECK_UL(info.objectCount, 4);
	REQUIRE_RV(P11->C_CloseAllSessions(e.slot), CKR_OK);
	ch_t_pad(lab, sizeof(lab), CH_T_LABEL);
	REQUIRE_RV(P11->C_InitToken(e.slot, (CK_UTF8CHAR_PTR)CH_T_SO_PIN, strlen(CH_T_SO_PIN), lab),
	           CKR_OK);
	REQUIRE_RV(V->CH_GetRegistrationInfo(e.slot, &info), CKR_OK);
	CHECK_UL(info.objectCount, 0);
	/* The registration key stays: the sealed value must leave the
	 * database and its write-ahead log too. */
	CHECK(!ch_t_store_holds(&e, blob, blen));
out:
	ch_t_env_free(&e);
}

static const ch_t_case tests[] = {
	CH_T_CASE(test_put_stores_version_one_and_reads_back),
	CH_T_CASE(test_new_version_is_found_first_and_the_old_one_stays_readable),
	CH_T_CASE(test_racing_new_versions_are_sequential_with_one_primary),
	CH_T_CASE(test_only_the_creator_and_read_grantees_read_the_value),
	CH_T_CASE(test_disabled_below_min_and_destroyed_versions_hide_their_value),
	CH_T_CASE(test_reads_are_audited_without_the_value),
	CH_T_CASE(test_bad_inputs_are_refused_and_change_nothing),
	CH_T_CASE(test_init_token_erases_every_version),
};

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "child") == 0 && strcmp(argv[2], "newversion") == 0) {
		int status;

		if (!ch_t_load() || ch_t_initialize() != CKR_OK)
			return 2;
		status = child_new_version(argv[3] != NULL ? argv[3] : "");
		(void)P11->C_Finalize(NULL);
		return status;
	}
	return ch_t_run(tests, CH_T_ARRAY_LEN(tests));
}
