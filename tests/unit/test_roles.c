/*
 * Roles (issue 3, item 2) as a table: for every kind of login -- nobody, the
 * SO, a named admin, the default user and named participants holding each
 * role and some combinations -- every call a role governs, with the return
 * value it must give: key use (encrypt, decrypt, sign and verify init),
 * key generation, creating, changing and destroying token objects, seeing
 * private objects, and managing or listing participants.  A refused call
 * must also leave no trace (no new object, no change, nothing destroyed).
 *
 * The keys used are public session objects made by the default user, so
 * per-key grants (which govern token keys, tests/unit/test_grants.c) play no
 * part; the one private token object is the default user's, which only
 * operators see without a grant.  A second, smaller table checks which
 * login type each participant's roles allow.
 */
#include "module.h"

#define PIN_ADM    "adm-pin-0001"
#define PIN_OP     "op-pin-0002"
#define PIN_USR    "usr-pin-0003"
#define PIN_AUD    "aud-pin-0004"
#define PIN_ALL    "all-pin-0005"
#define PIN_OPAUD  "opaud-pin-0006"
#define PIN_USRAUD "usraud-pin-0007"

#define NOBODY ((CK_USER_TYPE)-1)

static const struct {
	const char *name;
	CK_FLAGS roles;
	const char *pin;
} people[] = {
	{ "adm", CH_ROLE_ADMIN, PIN_ADM },
	{ "op", CH_ROLE_OPERATOR, PIN_OP },
	{ "usr", CH_ROLE_USER, PIN_USR },
	{ "aud", CH_ROLE_AUDITOR, PIN_AUD },
	{ "all", CH_ROLES_ALL, PIN_ALL },
	{ "opaud", CH_ROLE_OPERATOR | CH_ROLE_AUDITOR, PIN_OPAUD },
	{ "usraud", CH_ROLE_USER | CH_ROLE_AUDITOR, PIN_USRAUD },
};

/* Shorter names for the table. */
#define OK   CKR_OK
#define NLI  CKR_USER_NOT_LOGGED_IN
#define KFNP CKR_KEY_FUNCTION_NOT_PERMITTED
#define AP   CKR_ACTION_PROHIBITED
#define OHI  CKR_OBJECT_HANDLE_INVALID

/* One login and what each call gives it. */
typedef struct role_row {
	const char *who;
	CK_USER_TYPE type; /* NOBODY: no login */
	const char *name;  /* NULL: the bare PIN */
	const char *pin;
	CK_RV encrypt, decrypt, sign, verify; /* C_*Init with the session keys */
	CK_RV gen_key, gen_pair;              /* session keys */
	CK_RV create, set_attr, destroy;      /* public token data objects */
	CK_RV get_private;                    /* C_GetAttributeValue, private token object */
	long find_private;                    /* C_FindObjects count of that object */
	CK_RV add, list;                      /* CH_ParticipantAdd, CH_ParticipantList */
} role_row;

/* clang-format off */
static const role_row rows[] = {
	/* who, login type, name, PIN,
	 *   enc   dec   sign  verif genk  genp  creat set   destr getp  fp  add   list */
	{ "nobody", NOBODY, NULL, NULL,
	    NLI,  NLI,  NLI,  NLI,  NLI,  NLI,  NLI,  NLI,  NLI,  OHI,  0,    NLI,  NLI },
	{ "so (bare SO PIN)", CKU_SO, NULL, CH_T_SO_PIN,
	    NLI,  NLI,  NLI,  NLI,  NLI,  NLI,  AP,   AP,   AP,   OHI,  0,    OK,   OK },
	{ "adm (admin)", CKU_SO, "adm", PIN_ADM,
	    NLI,  NLI,  NLI,  NLI,  NLI,  NLI,  AP,   AP,   AP,   OHI,  0,    OK,   OK },
	{ "default (op|user)", CKU_USER, NULL, CH_T_USER_PIN,
	    OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   1,    NLI,  NLI },
	{ "op (operator)", CKU_USER, "op", PIN_OP,
	    KFNP, KFNP, KFNP, KFNP, OK,   OK,   OK,   OK,   OK,   OK,   1,    NLI,  NLI },
	{ "usr (user)", CKU_USER, "usr", PIN_USR,
	    OK,   OK,   OK,   OK,   AP,   AP,   AP,   AP,   AP,   OHI,  0,    NLI,  NLI },
	{ "aud (auditor)", CKU_USER, "aud", PIN_AUD,
	    KFNP, KFNP, KFNP, KFNP, AP,   AP,   AP,   AP,   AP,   OHI,  0,    NLI,  OK },
	{ "all as user", CKU_USER, "all", PIN_ALL,
	    OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   1,    NLI,  OK },
	{ "all as SO", CKU_SO, "all", PIN_ALL,
	    NLI,  NLI,  NLI,  NLI,  NLI,  NLI,  OK,   OK,   OK,   OHI,  0,    OK,   OK },
	{ "opaud (op|aud)", CKU_USER, "opaud", PIN_OPAUD,
	    KFNP, KFNP, KFNP, KFNP, OK,   OK,   OK,   OK,   OK,   OK,   1,    NLI,  OK },
	{ "usraud (user|aud)", CKU_USER, "usraud", PIN_USRAUD,
	    OK,   OK,   OK,   OK,   AP,   AP,   AP,   AP,   AP,   OHI,  0,    NLI,  OK },
};
/* clang-format on */

/* The world of one row: token "t" with the participants above, and the
 * default user's objects, all through one R/W session. */
typedef struct fixture {
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE aes, ec_pub, ec_priv;                  /* public session keys */
	CK_OBJECT_HANDLE pub_data, victim, editable, priv_data; /* token objects */
} fixture;

static CK_RV make_session_ec(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE pt[] = {
		CH_T_ATTR(CKA_EC_PARAMS, ch_t_p256_params, sizeof(ch_t_p256_params)),
		CH_T_BOOL(CKA_TOKEN, false),
		CH_T_BOOL(CKA_VERIFY, true),
		CH_T_STR(CKA_LABEL, "ec"),
	};
	CK_ATTRIBUTE st[] = {
		CH_T_BOOL(CKA_TOKEN, false),    CH_T_BOOL(CKA_PRIVATE, false),
		CH_T_BOOL(CKA_SENSITIVE, true), CH_T_BOOL(CKA_SIGN, true),
		CH_T_STR(CKA_LABEL, "ec"),
	};

	return P11->C_GenerateKeyPair(h, &m, pt, CH_T_ARRAY_LEN(pt), st, CH_T_ARRAY_LEN(st), pub,
	                              priv);
}

static bool setup(fixture *f)
{
	static const CK_BYTE key[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };

	memset(f, 0, sizeof(*f));
	if (!ch_t_setup(&f->e) || ch_t_vendor() == NULL)
		return false;
	REQUIRE_RV(ch_t_open(f->e.slot, true, &f->h), CKR_OK);
	REQUIRE_RV(ch_t_login(f->h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	for (size_t i = 0; i < CH_T_ARRAY_LEN(people); i++)
		REQUIRE_RV(
		        ch_t_participant_add(f->h, people[i].name, people[i].roles, people[i].pin),
		        CKR_OK);
	REQUIRE_RV(P11->C_Logout(f->h), CKR_OK);

	REQUIRE_RV(ch_t_login_user(f->h), CKR_OK);
	REQUIRE_RV(
	        ch_t_create_aes(f->h, false, false, true, false, "aes", key, sizeof(key), &f->aes),
	        CKR_OK);
	REQUIRE_RV(make_session_ec(f->h, &f->ec_pub, &f->ec_priv), CKR_OK);
	REQUIRE_RV(ch_t_create_data(f->h, true, false, "pub-data", "p", 1, &f->pub_data), CKR_OK);
	REQUIRE_RV(ch_t_create_data(f->h, true, false, "victim", "v", 1, &f->victim), CKR_OK);
	REQUIRE_RV(ch_t_create_data(f->h, true, false, "editable", "e", 1, &f->editable), CKR_OK);
	REQUIRE_RV(ch_t_create_data(f->h, true, true, "priv-data", "s", 1, &f->priv_data), CKR_OK);
	REQUIRE_RV(P11->C_Logout(f->h), CKR_OK);
	return true;
out:
	return false;
}

/* Compares one cell; names the row and the column on failure. */
static void cell(const role_row *r, const char *col, CK_RV got, CK_RV want)
{
	if (!CHECK_UL(got, want))
		fprintf(stderr, "\trow \"%s\", %s: expected %s, got %s\n", r->who, col,
		        ch_test_rv_name(want), ch_test_rv_name(got));
}

/* Same, for a count. */
static void cell_n(const role_row *r, const char *col, long got, long want)
{
	if (!CHECK_UL(got, want))
		fprintf(stderr, "\trow \"%s\", %s: expected %ld, got %ld\n", r->who, col, want,
		        got);
}

static CK_RV encrypt_init(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE k, bool enc)
{
	static CK_BYTE iv[12];
	static CK_GCM_PARAMS p;
	CK_MECHANISM m;

	ch_t_gcm(&m, &p, iv, NULL, 0);
	return enc ? P11->C_EncryptInit(h, &m, k) : P11->C_DecryptInit(h, &m, k);
}

static CK_RV sign_init(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE k, bool sign)
{
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };

	return sign ? P11->C_SignInit(h, &m, k) : P11->C_VerifyInit(h, &m, k);
}

/* A public session AES key (generate) or P-256 pair (generate pair). */
static CK_RV gen_session(CK_SESSION_HANDLE h, bool pair)
{
	CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_ULONG len = 32;
	CK_OBJECT_HANDLE k, pub, priv;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_VALUE_LEN, &len), CH_T_BOOL(CKA_TOKEN, false),
		CH_T_BOOL(CKA_PRIVATE, false),   CH_T_BOOL(CKA_ENCRYPT, true),
		CH_T_STR(CKA_LABEL, "gen"),
	};

	if (pair)
		return make_session_ec(h, &pub, &priv);
	return P11->C_GenerateKey(h, &m, t, CH_T_ARRAY_LEN(t), &k);
}

static void run_row(const role_row *r)
{
	fixture f;
	CK_OBJECT_HANDLE o = CK_INVALID_HANDLE;
	CK_ATTRIBUTE label = CH_T_STR(CKA_LABEL, "edited");
	CK_BYTE buf[8];
	CK_ULONG len = sizeof(buf);
	CK_RV rv;
	long ec_before;

	fprintf(stderr, "- row %s\n", r->who);
	REQUIRE(setup(&f));
	if (r->type != NOBODY)
		REQUIRE_RV(ch_t_login_as(f.h, r->type, r->name, r->pin), CKR_OK);

	cell(r, "C_EncryptInit", encrypt_init(f.h, f.aes, true), r->encrypt);
	cell(r, "C_DecryptInit", encrypt_init(f.h, f.aes, false), r->decrypt);
	cell(r, "C_SignInit", sign_init(f.h, f.ec_priv, true), r->sign);
	cell(r, "C_VerifyInit", sign_init(f.h, f.ec_pub, false), r->verify);

	/* Key generation; a refused one adds no object. */
	cell(r, "C_GenerateKey", gen_session(f.h, false), r->gen_key);
	cell_n(r, "keys labelled gen", ch_t_count_label(f.h, "gen"), r->gen_key == OK ? 1 : 0);
	ec_before = ch_t_count_label(f.h, "ec");
	cell(r, "C_GenerateKeyPair", gen_session(f.h, true), r->gen_pair);
	cell_n(r, "keys labelled ec", ch_t_count_label(f.h, "ec"),
	       ec_before + (r->gen_pair == OK ? 2 : 0));

	/* Token objects: create, change, destroy; refusals change nothing. */
	cell(r, "C_CreateObject (token)", ch_t_create_data(f.h, true, false, "new", "n", 1, &o),
	     r->create);
	cell_n(r, "objects labelled new", ch_t_count_label(f.h, "new"), r->create == OK ? 1 : 0);
	cell(r, "C_SetAttributeValue (token)", P11->C_SetAttributeValue(f.h, f.editable, &label, 1),
	     r->set_attr);
	cell_n(r, "objects labelled editable", ch_t_count_label(f.h, "editable"),
	       r->set_attr == OK ? 0 : 1);
	cell_n(r, "objects labelled edited", ch_t_count_label(f.h, "edited"),
	       r->set_attr == OK ? 1 : 0);
	cell(r, "C_DestroyObject (token)", P11->C_DestroyObject(f.h, f.victim), r->destroy);
	cell_n(r, "objects labelled victim", ch_t_count_label(f.h, "victim"),
	       r->destroy == OK ? 0 : 1);

	/* Visibility: public objects for all, the private one for some. */
	cell_n(r, "public token object found", ch_t_count_label(f.h, "pub-data"), 1);
	cell_n(r, "private token object found", ch_t_count_label(f.h, "priv-data"),
	       r->find_private);
	rv = ch_t_get(f.h, f.priv_data, CKA_VALUE, buf, &len);
	cell(r, "C_GetAttributeValue (private)", rv, r->get_private);
	if (rv == CKR_OK)
		CHECK(len == 1 && buf[0] == 's');
	len = sizeof(buf);
	cell(r, "C_GetAttributeValue (public)", ch_t_get(f.h, f.pub_data, CKA_VALUE, buf, &len),
	     CKR_OK);

	/* Participant management. */
	cell(r, "CH_ParticipantAdd",
	     ch_t_participant_add(f.h, "newbie", CH_ROLE_USER, "newbie-pin"), r->add);
	{
		CH_PARTICIPANT_INFO list[16];
		CK_ULONG n = 0;

		rv = ch_t_participants(f.h, list, CH_T_ARRAY_LEN(list), &n);
		cell(r, "CH_ParticipantList", rv, r->list);
		if (rv == CKR_OK)
			cell_n(r, "participants listed", (long)n,
			       (long)(2 + CH_T_ARRAY_LEN(people) + (r->add == OK ? 1 : 0)));
	}
	/* A refused add made nobody: newbie cannot log in. */
	if (r->type != NOBODY)
		CHECK_RV(P11->C_Logout(f.h), CKR_OK);
	rv = ch_t_login_as(f.h, CKU_USER, "newbie", "newbie-pin");
	cell(r, "login as the added participant", rv, r->add == OK ? CKR_OK : CKR_PIN_INCORRECT);
out:
	ch_t_env_free(&f.e);
}

static void test_roles_table_of_allowed_and_refused_calls(void)
{
	for (size_t i = 0; i < CH_T_ARRAY_LEN(rows); i++)
		run_row(&rows[i]);
}

/* Which login types each participant's roles allow (with the right PIN). */
static void test_roles_decide_login_type(void)
{
	static const struct {
		const char *name;
		const char *pin;
		CK_RV as_user, as_so;
	} logins[] = {
		{ "so", CH_T_SO_PIN, CKR_USER_TYPE_INVALID, CKR_OK },
		{ "default", CH_T_USER_PIN, CKR_OK, CKR_USER_TYPE_INVALID },
		{ "adm", PIN_ADM, CKR_USER_TYPE_INVALID, CKR_OK },
		{ "op", PIN_OP, CKR_OK, CKR_USER_TYPE_INVALID },
		{ "usr", PIN_USR, CKR_OK, CKR_USER_TYPE_INVALID },
		{ "aud", PIN_AUD, CKR_OK, CKR_USER_TYPE_INVALID },
		{ "all", PIN_ALL, CKR_OK, CKR_OK },
		{ "opaud", PIN_OPAUD, CKR_OK, CKR_USER_TYPE_INVALID },
		{ "usraud", PIN_USRAUD, CKR_OK, CKR_USER_TYPE_INVALID },
	};
	fixture f;

	REQUIRE(setup(&f));
	for (size_t i = 0; i < CH_T_ARRAY_LEN(logins); i++) {
		CK_USER_TYPE types[2] = { CKU_USER, CKU_SO };
		CK_RV want[2] = { logins[i].as_user, logins[i].as_so };

		for (size_t t = 0; t < 2; t++) {
			CK_RV rv = ch_t_login_as(f.h, types[t], logins[i].name, logins[i].pin);

			if (!CHECK_UL(rv, want[t]))
				fprintf(stderr, "\tC_LoginUser(%s, \"%s\"): expected %s, got %s\n",
				        types[t] == CKU_SO ? "CKU_SO" : "CKU_USER", logins[i].name,
				        ch_test_rv_name(want[t]), ch_test_rv_name(rv));
			if (rv == CKR_OK)
				CHECK_RV(P11->C_Logout(f.h), CKR_OK);
		}
	}
out:
	ch_t_env_free(&f.e);
}

/* Roles are read at login: a change applies from the next login on, and
 * the participant's own keys follow its roles too. */
static void test_roles_removed_role_refuses_next_login_calls(void)
{
	fixture f;
	CK_OBJECT_HANDLE k;
	CK_BYTE key[16] = { 7 };

	REQUIRE(setup(&f));
	REQUIRE_RV(ch_t_login_as(f.h, CKU_USER, "usr", PIN_USR), CKR_OK);
	/* usr's own session key (creating session objects needs no role). */
	REQUIRE_RV(ch_t_create_aes(f.h, false, false, true, false, "usr-key", key, sizeof(key), &k),
	           CKR_OK);
	CHECK_RV(encrypt_init(f.h, k, true), CKR_OK);
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);

	REQUIRE_RV(ch_t_login(f.h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	CHECK_RV(ch_t_vendor()->CH_ParticipantSetRoles(f.h, (CK_UTF8CHAR_PTR) "usr", 3,
	                                               CH_ROLE_AUDITOR),
	         CKR_OK);
	CHECK_RV(P11->C_Logout(f.h), CKR_OK);

	REQUIRE_RV(ch_t_login_as(f.h, CKU_USER, "usr", PIN_USR), CKR_OK);
	CHECK_RV(encrypt_init(f.h, k, false), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CHECK_RV(sign_init(f.h, f.ec_priv, true), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CHECK_RV(ch_t_participants(f.h, NULL, 0, &(CK_ULONG){ 0 }), CKR_OK);
out:
	ch_t_env_free(&f.e);
}

static const ch_t_case tests[] = {
	CH_T_CASE(test_roles_table_of_allowed_and_refused_calls),
	CH_T_CASE(test_roles_decide_login_type),
	CH_T_CASE(test_roles_removed_role_refuses_next_login_calls),
};

int main(void)
{
	return ch_t_run(tests, CH_T_ARRAY_LEN(tests));
}
