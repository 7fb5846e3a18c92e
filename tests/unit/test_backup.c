/*
 * Backup and restore of a registration (issue 8, points 7 and 8):
 * CH_BackupExport writes a registration (participants, keys, grants, the
 * audit log) to one encrypted file; CH_BackupImport brings it into the
 * free slot of another store, where every key still works, every
 * participant logs in with its PIN, grants hold and the audit chain
 * verifies with the old records and a backup.restore record.  A tampered,
 * truncated or lengthened file, a wrong SO PIN, a registration the store
 * already has, a slot that is not free: refused, and the store unchanged.
 * (The admin tool's `backup` and `restore`: tests/integration/test_backup.sh.)
 */
#include <dlfcn.h>
#include <errno.h>
#include <unistd.h>
#include <sys/stat.h>

#include "check.h"
#include "module.h"

#define PIN_ALICE  "alice-pin-1"
#define PIN_CAROL  "carol-pin-333"
#define PIN_AUDREY "audrey-pin-4444"
#define PLAIN      "attack at dawn, bring snacks"

static CK_RV grant(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key, const char *who, CK_FLAGS ops)
{
	return ch_t_vendor()->CH_GrantSet(h, key, (CK_UTF8CHAR_PTR)who, strlen(who), ops);
}

/* Logs h in as participant name (NULL: the default user), after a logout. */
static CK_RV as(CK_SESSION_HANDLE h, const char *name, const char *pin)
{
	(void)P11->C_Logout(h);
	return ch_t_login_as(h, CKU_USER, name, pin);
}

static CK_RV as_so(CK_SESSION_HANDLE h)
{
	(void)P11->C_Logout(h);
	return ch_t_login(h, CKU_SO, CH_T_SO_PIN);
}

static CK_RV import(CK_SLOT_ID slot, const CK_BYTE *data, CK_ULONG len, const char *pin)
{
	return ch_t_vendor()->CH_BackupImport(slot, (CK_BYTE_PTR)data, len, (CK_UTF8CHAR_PTR)pin,
	                                      strlen(pin));
}

/* The whole backup of h's registration (*out malloc'd). */
static CK_RV export_all(CK_SESSION_HANDLE h, CK_BYTE **out, CK_ULONG *len)
{
	CK_RV rv;

	*out = NULL;
	*len = 0;
	if ((rv = ch_t_vendor()->CH_BackupExport(h, NULL, len)) != CKR_OK)
		return rv;
	if ((*out = malloc(*len)) == NULL)
		return CKR_HOST_MEMORY;
	return ch_t_vendor()->CH_BackupExport(h, *out, len);
}

/* Points the module at another store file in e's directory. */
static bool switch_store(ch_t_env *e, const char *name)
{
	(void)P11->C_Finalize(NULL);
	snprintf(e->store, sizeof(e->store), "%s/%s", e->dir, name);
	setenv("CIPHERHUB_STORE", e->store, 1);
	return ch_t_initialize() == CKR_OK;
}

/* A sensitive, private AES-256 token key. */
static CK_RV gen_aes(CK_SESSION_HANDLE h, const char *label, CK_OBJECT_HANDLE *o)
{
	CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_ULONG len = 32;
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_VALUE_LEN, &len), CH_T_BOOL(CKA_TOKEN, true),
		CH_T_BOOL(CKA_PRIVATE, true),    CH_T_BOOL(CKA_SENSITIVE, true),
		CH_T_BOOL(CKA_ENCRYPT, true),    CH_T_BOOL(CKA_DECRYPT, true),
		CH_T_STR(CKA_LABEL, label),
	};

	return P11->C_GenerateKey(h, &m, t, CH_T_ARRAY_LEN(t), o);
}

/* The one object of class cls labelled label that h sees. */
static CK_RV find_one(CK_SESSION_HANDLE h, CK_OBJECT_CLASS cls, const char *label,
                      CK_OBJECT_HANDLE *o)
{
	CK_ATTRIBUTE t[] = { CH_T_ULONG(CKA_CLASS, &cls), CH_T_STR(CKA_LABEL, label) };
	CK_ULONG n = 0;
	CK_RV rv = ch_t_find(h, t, CH_T_ARRAY_LEN(t), o, 1, &n);

	if (rv == CKR_OK && n != 1)
		rv = CKR_OBJECT_HANDLE_INVALID;
	return rv;
}

/* The whole audit log of h's registration (at most max records). */
static CK_ULONG audit_all(CK_SESSION_HANDLE h, CH_AUDIT_RECORD *rec, CK_ULONG max)
{
	CK_ULONG n = max;

	if (ch_t_vendor()->CH_AuditRead(h, 1, rec, &n) != CKR_OK)
		return 0;
	return n;
}

typedef struct source {
	ch_t_env e;
	CK_BYTE ct[64], sig[128], ec_point[128];
	CK_ULONG ct_len, sig_len, ec_point_len;
	CK_BYTE *file;
	CK_ULONG file_len;
	CH_AUDIT_RECORD rec[256]; /* the log as exported */
	CK_ULONG nrec;
} source;

/*
 * Registration "t" with alice (user), carol (operator, user) and audrey
 * (auditor); the default user's sensitive AES key k-aes (which carol lets
 * alice decrypt with) and EC pair k-ec; a ciphertext and a signature made
 * with them; then the SO's backup of it all in s->file.
 */
static bool make_source(source *s)
{
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE aes, pub, priv;
	CK_MECHANISM ecdsa = { CKM_ECDSA_SHA256, NULL, 0 };
	CK_ATTRIBUTE pt;

	memset(s, 0, sizeof(*s));
	REQUIRE(ch_t_setup(&s->e));
	REQUIRE_RV(ch_t_open(s->e.slot, true, &h), CKR_OK);
	REQUIRE_RV(as_so(h), CKR_OK);
	REQUIRE_RV(ch_t_participant_add(h, "alice", CH_ROLE_USER, PIN_ALICE), CKR_OK);
	REQUIRE_RV(ch_t_participant_add(h, "carol", CH_ROLE_OPERATOR | CH_ROLE_USER, PIN_CAROL),
	           CKR_OK);
	REQUIRE_RV(ch_t_participant_add(h, "audrey", CH_ROLE_AUDITOR, PIN_AUDREY), CKR_OK);
	REQUIRE_RV(as(h, NULL, CH_T_USER_PIN), CKR_OK);
	REQUIRE_RV(gen_aes(h, "k-aes", &aes), CKR_OK);
	REQUIRE_RV(ch_t_gen_ec(h, true, "k-ec", &pub, &priv), CKR_OK);
	s->ct_len = sizeof(s->ct);
	REQUIRE_RV(ch_t_gcm_crypt(h, aes, true, (const CK_BYTE *)PLAIN, strlen(PLAIN), s->ct,
	                          &s->ct_len),
	           CKR_OK);
	REQUIRE_RV(P11->C_SignInit(h, &ecdsa, priv), CKR_OK);
	s->sig_len = sizeof(s->sig);
	REQUIRE_RV(P11->C_Sign(h, (CK_BYTE_PTR)PLAIN, strlen(PLAIN), s->sig, &s->sig_len), CKR_OK);
	pt = (CK_ATTRIBUTE){ CKA_EC_POINT, s->ec_point, sizeof(s->ec_point) };
	REQUIRE_RV(P11->C_GetAttributeValue(h, pub, &pt, 1), CKR_OK);
	s->ec_point_len = pt.ulValueLen;
	REQUIRE_RV(as(h, "carol", PIN_CAROL), CKR_OK);
	REQUIRE_RV(grant(h, aes, "alice", CH_GRANT_DECRYPT), CKR_OK);
	REQUIRE_RV(as_so(h), CKR_OK);
	/* The log before the export (the export's own record follows it). */
	s->nrec = audit_all(h, s->rec, CH_T_ARRAY_LEN(s->rec));
	REQUIRE(s->nrec > 5);
	REQUIRE_RV(export_all(h, &s->file, &s->file_len), CKR_OK);
	REQUIRE(s->file_len > 64 && memcmp(s->file, "CHBK", 4) == 0);
	REQUIRE_RV(P11->C_CloseSession(h), CKR_OK);
	return true;
out:
	return false;
}

static void source_free(source *s)
{
	free(s->file);
	ch_t_env_free(&s->e);
}

/* A second store holding registration "other" with one key, so the
 * restored registration lands on another slot ID (2) than it had (1). */
static bool second_store(source *s)
{
	CK_SLOT_ID other;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE k;

	REQUIRE(switch_store(&s->e, "second.db"));
	REQUIRE_RV(ch_t_make_token("other", true, &other), CKR_OK);
	REQUIRE_RV(ch_t_open(other, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_login_user(h), CKR_OK);
	REQUIRE_RV(ch_t_gen_aes(h, true, "other-key", &k), CKR_OK);
	REQUIRE_RV(P11->C_CloseSession(h), CKR_OK);
	return true;
out:
	return false;
}

/* What a refused restore must leave as it was. */
typedef struct snapshot {
	long nslots;
	CK_SLOT_ID free_slot;
	CK_ULONG objects; /* of "other" */
} snapshot;

static bool snap(snapshot *sn)
{
	CK_SLOT_ID ids[16], other;
	CH_REGISTRATION_INFO info;

	memset(sn, 0, sizeof(*sn));
	sn->nslots = ch_t_slots(ids, 16);
	if (ch_t_free_slot(&sn->free_slot) != CKR_OK ||
	    ch_t_slot_by_label("other", &other) != CKR_OK ||
	    ch_t_vendor()->CH_GetRegistrationInfo(other, &info) != CKR_OK)
		return false;
	sn->objects = info.objectCount;
	return true;
}

static bool snap_same(const snapshot *a)
{
	snapshot b;

	return snap(&b) && memcmp(a, &b, sizeof(b)) == 0;
}

static void test_a_restored_registration_works_as_before(void)
{
	source s;
	CK_SESSION_HANDLE h;
	CK_SLOT_ID free_slot, slot;
	CK_OBJECT_HANDLE aes, pub, priv;
	CK_MECHANISM ecdsa = { CKM_ECDSA_SHA256, NULL, 0 };
	CK_BYTE out[128], point[128];
	CK_ULONG n, first_bad = 99, unauth = 99, nrec;
	CK_ATTRIBUTE pt = { CKA_EC_POINT, point, sizeof(point) };
	static CH_AUDIT_RECORD rec[256];

	REQUIRE(make_source(&s));
	REQUIRE(second_store(&s));
	REQUIRE_RV(ch_t_free_slot(&free_slot), CKR_OK);
	CHECK_RV(import(free_slot, s.file, s.file_len, CH_T_SO_PIN), CKR_OK);
	REQUIRE_RV(ch_t_slot_by_label(CH_T_LABEL, &slot), CKR_OK);
	CHECK_UL(slot, free_slot);
	CHECK(slot != s.e.slot); /* another slot ID than in the first store */
	REQUIRE_RV(ch_t_open(slot, true, &h), CKR_OK);

	/* The default user's keys: the old ciphertext opens, the old signature
	 * verifies, the public key is the old one, and signing works. */
	REQUIRE_RV(as(h, NULL, CH_T_USER_PIN), CKR_OK);
	REQUIRE_RV(find_one(h, CKO_SECRET_KEY, "k-aes", &aes), CKR_OK);
	n = sizeof(out);
	CHECK_RV(ch_t_gcm_crypt(h, aes, false, s.ct, s.ct_len, out, &n), CKR_OK);
	CHECK(n == strlen(PLAIN) && memcmp(out, PLAIN, n) == 0);
	CHECK(ch_t_get_bool(h, aes, CKA_SENSITIVE) == 1);
	REQUIRE_RV(find_one(h, CKO_PUBLIC_KEY, "k-ec", &pub), CKR_OK);
	REQUIRE_RV(find_one(h, CKO_PRIVATE_KEY, "k-ec", &priv), CKR_OK);
	CHECK_RV(P11->C_GetAttributeValue(h, pub, &pt, 1), CKR_OK);
	CHECK(pt.ulValueLen == s.ec_point_len && memcmp(point, s.ec_point, s.ec_point_len) == 0);
	REQUIRE_RV(P11->C_VerifyInit(h, &ecdsa, pub), CKR_OK);
	CHECK_RV(P11->C_Verify(h, (CK_BYTE_PTR)PLAIN, strlen(PLAIN), s.sig, s.sig_len), CKR_OK);
	REQUIRE_RV(P11->C_SignInit(h, &ecdsa, priv), CKR_OK);
	n = sizeof(out);
	CHECK_RV(P11->C_Sign(h, (CK_BYTE_PTR) "new", 3, out, &n), CKR_OK);
	REQUIRE_RV(P11->C_VerifyInit(h, &ecdsa, pub), CKR_OK);
	CHECK_RV(P11->C_Verify(h, (CK_BYTE_PTR) "new", 3, out, n), CKR_OK);

	/* alice's grant holds: decrypt yes, encrypt no (not granted). */
	REQUIRE_RV(as(h, "alice", PIN_ALICE), CKR_OK);
	REQUIRE_RV(find_one(h, CKO_SECRET_KEY, "k-aes", &aes), CKR_OK);
	n = sizeof(out);
	CHECK_RV(ch_t_gcm_crypt(h, aes, false, s.ct, s.ct_len, out, &n), CKR_OK);
	CHECK(n == strlen(PLAIN) && memcmp(out, PLAIN, n) == 0);
	n = sizeof(out);
	CHECK_RV(ch_t_gcm_crypt(h, aes, true, (const CK_BYTE *)PLAIN, 4, out, &n),
	         CKR_KEY_FUNCTION_NOT_PERMITTED);
	/* Every participant logs in with its PIN; a wrong one still fails. */
	CHECK_RV(as(h, "carol", PIN_CAROL), CKR_OK);
	CHECK_RV(as(h, "carol", PIN_ALICE), CKR_PIN_INCORRECT);

	/* The log: the old records as they were, then backup.restore, and the
	 * chain verifies; it goes on verifying as records are added. */
	CHECK_RV(as(h, "audrey", PIN_AUDREY), CKR_OK);
	nrec = audit_all(h, rec, CH_T_ARRAY_LEN(rec));
	CHECK(nrec >= s.nrec + 1);
	for (CK_ULONG i = 0; i < s.nrec && i < nrec; i++)
		CHECK(memcmp(&rec[i], &s.rec[i], sizeof(rec[i])) == 0);
	if (nrec > s.nrec) {
		CHECK(ch_t_padded_is(rec[s.nrec].operation, sizeof(rec[s.nrec].operation),
		                     "backup.restore"));
		CHECK(rec[s.nrec].authenticated == CK_TRUE);
		CHECK_UL(rec[s.nrec].seq, s.nrec + 1);
	}
	CHECK_RV(ch_t_vendor()->CH_AuditVerify(h, &first_bad, &unauth), CKR_OK);
	CHECK_UL(first_bad, 0);
	REQUIRE_RV(as_so(h), CKR_OK);
	CHECK_RV(ch_t_vendor()->CH_AuditVerify(h, &first_bad, &unauth), CKR_OK);
	CHECK_UL(first_bad, 0);
	CHECK_UL(unauth, 0);
	/* The registration itself: label, UUID and both PIN flags. */
	{
		CK_TOKEN_INFO ti;

		CHECK_RV(P11->C_GetTokenInfo(slot, &ti), CKR_OK);
		CHECK(ti.flags & CKF_USER_PIN_INITIALIZED);
	}
	/* "other" is untouched. */
	{
		CK_SLOT_ID other;
		CH_REGISTRATION_INFO info;

		CHECK_RV(ch_t_slot_by_label("other", &other), CKR_OK);
		CHECK_RV(ch_t_vendor()->CH_GetRegistrationInfo(other, &info), CKR_OK);
		CHECK_UL(info.objectCount, 1);
	}
out:
	source_free(&s);
}

static void test_a_bad_backup_is_refused_and_changes_nothing(void)
{
	source s;
	snapshot before;
	CK_BYTE *bad = NULL;
	CK_ULONG len;
	size_t label_at = 4 + 2 + 16 + 8 + 1; /* the label's first byte */

	REQUIRE(make_source(&s));
	REQUIRE(second_store(&s));
	REQUIRE(snap(&before));
	len = s.file_len;
	REQUIRE((bad = malloc(len + 1)) != NULL);

	/* Truncated anywhere, or lengthened. */
	CHECK_RV(import(before.free_slot, s.file, len - 1, CH_T_SO_PIN), CKR_DATA_LEN_RANGE);
	CHECK_RV(import(before.free_slot, s.file, len / 2, CH_T_SO_PIN), CKR_DATA_LEN_RANGE);
	CHECK_RV(import(before.free_slot, s.file, 40, CH_T_SO_PIN), CKR_DATA_LEN_RANGE);
	CHECK_RV(import(before.free_slot, s.file, 3, CH_T_SO_PIN), CKR_DATA_LEN_RANGE);
	memcpy(bad, s.file, len);
	bad[len] = 0;
	CHECK_RV(import(before.free_slot, bad, len + 1, CH_T_SO_PIN), CKR_DATA_INVALID);
	/* Not a backup. */
	bad[0] = 'X';
	CHECK_RV(import(before.free_slot, bad, len, CH_T_SO_PIN), CKR_DATA_INVALID);
	/* A flipped bit in the header (the label: authenticated data), in the
	 * body, in the tag. */
	memcpy(bad, s.file, len);
	bad[label_at] ^= 0x20;
	CHECK_RV(import(before.free_slot, bad, len, CH_T_SO_PIN), CKR_ENCRYPTED_DATA_INVALID);
	memcpy(bad, s.file, len);
	bad[len - 40] ^= 0x01;
	CHECK_RV(import(before.free_slot, bad, len, CH_T_SO_PIN), CKR_ENCRYPTED_DATA_INVALID);
	memcpy(bad, s.file, len);
	bad[len - 1] ^= 0x80;
	CHECK_RV(import(before.free_slot, bad, len, CH_T_SO_PIN), CKR_ENCRYPTED_DATA_INVALID);
	/* The wrong PIN (also the user's, which is no SO PIN). */
	CHECK_RV(import(before.free_slot, s.file, len, "not-the-so-pin"), CKR_PIN_INCORRECT);
	CHECK_RV(import(before.free_slot, s.file, len, CH_T_USER_PIN), CKR_PIN_INCORRECT);
	CHECK(snap_same(&before));
	CHECK(ch_t_slot_by_label(CH_T_LABEL, &(CK_SLOT_ID){ 0 }) == CKR_SLOT_ID_INVALID);

	/* A slot that holds a registration, a session on the free slot. */
	{
		CK_SLOT_ID other;
		CK_SESSION_HANDLE h;

		REQUIRE_RV(ch_t_slot_by_label("other", &other), CKR_OK);
		CHECK_RV(import(other, s.file, len, CH_T_SO_PIN), CKR_ACTION_PROHIBITED);
		REQUIRE_RV(ch_t_open(before.free_slot, false, &h), CKR_OK);
		CHECK_RV(import(before.free_slot, s.file, len, CH_T_SO_PIN), CKR_SESSION_EXISTS);
		REQUIRE_RV(P11->C_CloseSession(h), CKR_OK);
	}
	CHECK(snap_same(&before));

	/* Restored once; a second time, the store already has it. */
	REQUIRE_RV(import(before.free_slot, s.file, len, CH_T_SO_PIN), CKR_OK);
	REQUIRE(snap(&before));
	CHECK_RV(import(before.free_slot, s.file, len, CH_T_SO_PIN), CKR_ACTION_PROHIBITED);
	CHECK(snap_same(&before));
	CHECK(ch_t_log_has(&s.e, "already has that registration"));
	/* So is restoring into the first store, which still has it. */
	REQUIRE(switch_store(&s.e, "store.db"));
	{
		CK_SLOT_ID f;

		REQUIRE_RV(ch_t_free_slot(&f), CKR_OK);
		CHECK_RV(import(f, s.file, len, CH_T_SO_PIN), CKR_ACTION_PROHIBITED);
		CHECK_RV(ch_t_free_slot(&f), CKR_OK); /* still free */
	}
out:
	free(bad);
	source_free(&s);
}

static void test_only_an_admin_exports_and_lengths_follow_the_two_call_rule(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_ULONG len = 0, small;
	CK_BYTE tiny[8];

	REQUIRE(ch_t_setup(&e));
	REQUIRE_RV(ch_t_open(e.slot, true, &h), CKR_OK);
	CHECK_RV(ch_t_vendor()->CH_BackupExport(h, NULL, &len), CKR_USER_NOT_LOGGED_IN);
	REQUIRE_RV(ch_t_login_user(h), CKR_OK);
	CHECK_RV(ch_t_vendor()->CH_BackupExport(h, NULL, &len), CKR_USER_NOT_LOGGED_IN);
	REQUIRE_RV(as_so(h), CKR_OK);
	CHECK_RV(ch_t_vendor()->CH_BackupExport(h, NULL, NULL), CKR_ARGUMENTS_BAD);
	REQUIRE_RV(ch_t_vendor()->CH_BackupExport(h, NULL, &len), CKR_OK);
	CHECK(len > sizeof(tiny));
	small = sizeof(tiny);
	CHECK_RV(ch_t_vendor()->CH_BackupExport(h, tiny, &small), CKR_BUFFER_TOO_SMALL);
	CHECK_UL(small, len);
	/* Arguments of an import. */
	CHECK_RV(ch_t_vendor()->CH_BackupImport(e.slot, NULL, 10, (CK_UTF8CHAR_PTR) "x", 1),
	         CKR_ARGUMENTS_BAD);
	CHECK_RV(ch_t_vendor()->CH_BackupImport(4242, tiny, sizeof(tiny),
	                                        (CK_UTF8CHAR_PTR)CH_T_SO_PIN, strlen(CH_T_SO_PIN)),
	         CKR_SLOT_ID_INVALID);
out:
	ch_t_env_free(&e);
}

#define HSM_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define HSM_LABEL  "hsm-payments"
#define HSM_SO_PIN "hsm-so-5511"
#define HSM_PIN    "hsm-user-7731"
#define HSM_KEY    "ch-root"
#define FWD_SLOT   65536UL

/* A SoftHSM token HSM_LABEL (user PIN HSM_PIN) with an AES key HSM_KEY, in
 * e's directory, and e's configuration with section [SECTION] on it
 * ("forward:NAME" or "root:NAME"), as tests/unit/test_forward.c and
 * test_root_of_trust.c make them.  SoftHSM is finalized again after, so
 * only the module uses it; the module is not initialized here. */
static bool softhsm_section(ch_t_env *e, const char *section)
{
	char path[300], conf[1200];
	CK_FUNCTION_LIST_PTR hsm;
	CK_C_GetFunctionList get;
	CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_ULONG klen = 32;
	CK_ATTRIBUTE kt[] = {
		CH_T_ULONG(CKA_VALUE_LEN, &klen), CH_T_BOOL(CKA_TOKEN, true),
		CH_T_BOOL(CKA_PRIVATE, true),     CH_T_BOOL(CKA_SENSITIVE, true),
		CH_T_BOOL(CKA_ENCRYPT, true),     CH_T_BOOL(CKA_DECRYPT, true),
		CH_T_STR(CKA_LABEL, HSM_KEY),
	};
	CK_OBJECT_HANDLE k;
	CK_SLOT_ID slots[8];
	CK_ULONG n = 8;
	CK_UTF8CHAR label[32];
	CK_SESSION_HANDLE h;
	bool ok = false;
	void *lib;

	snprintf(path, sizeof(path), "%s/tokens", e->dir);
	if (mkdir(path, 0700) != 0)
		return false;
	snprintf(conf, sizeof(conf), "directories.tokendir = %s\nobjectstore.backend = file\n",
	         path);
	snprintf(path, sizeof(path), "%s/softhsm2.conf", e->dir);
	if (!ch_t_write_file(path, conf, strlen(conf)))
		return false;
	setenv("SOFTHSM2_CONF", path, 1);
	if ((lib = dlopen(HSM_MODULE, RTLD_NOW | RTLD_LOCAL)) == NULL ||
	    (get = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList")) == NULL ||
	    get(&hsm) != CKR_OK || hsm->C_Initialize(NULL) != CKR_OK)
		return false;
	ch_t_pad(label, sizeof(label), HSM_LABEL);
	if (hsm->C_GetSlotList(CK_FALSE, slots, &n) != CKR_OK || n < 1 ||
	    hsm->C_InitToken(slots[0], (CK_UTF8CHAR_PTR)HSM_SO_PIN, strlen(HSM_SO_PIN), label) !=
	            CKR_OK)
		goto out;
	n = 8;
	if (hsm->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
		goto out;
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;

		if (hsm->C_GetTokenInfo(slots[i], &ti) != CKR_OK ||
		    !ch_t_padded_is(ti.label, sizeof(ti.label), HSM_LABEL))
			continue;
		if (hsm->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
		                       &h) != CKR_OK ||
		    hsm->C_Login(h, CKU_SO, (CK_UTF8CHAR_PTR)HSM_SO_PIN, strlen(HSM_SO_PIN)) !=
		            CKR_OK ||
		    hsm->C_InitPIN(h, (CK_UTF8CHAR_PTR)HSM_PIN, strlen(HSM_PIN)) != CKR_OK ||
		    hsm->C_Logout(h) != CKR_OK ||
		    hsm->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)HSM_PIN, strlen(HSM_PIN)) !=
		            CKR_OK ||
		    hsm->C_GenerateKey(h, &m, kt, CH_T_ARRAY_LEN(kt), &k) != CKR_OK)
			goto out;
		(void)hsm->C_CloseSession(h);
	}
	snprintf(path, sizeof(path), "%s/hsm.pin", e->dir);
	if (!ch_t_write_file(path, HSM_PIN, strlen(HSM_PIN)))
		goto out;
	snprintf(conf, sizeof(conf),
	         "[pin]\npbkdf2_iterations = 1000\n[log]\nlevel = info\nfile = %s\n"
	         "[%s]\nmodule = " HSM_MODULE "\ntoken = pkcs11:token=" HSM_LABEL
	         "\npin_file = %s\n%s",
	         e->log, section, path,
	         strncmp(section, "root:", 5) == 0 ? "key = " HSM_KEY "\n" : "");
	ok = ch_t_write_file(e->conf, conf, strlen(conf));
out:
	(void)hsm->C_Finalize(NULL);
	return ok;
}

static void test_forwarded_registrations_are_not_backed_up(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_SLOT_ID slot, free_slot;
	CK_UTF8CHAR label[32];
	CK_BYTE *file = NULL;
	CK_ULONG len = 0;

	/* A software registration "payments", backed up... */
	REQUIRE(ch_t_load() && ch_t_env_new(&e));
	REQUIRE_RV(ch_t_initialize(), CKR_OK);
	REQUIRE_RV(ch_t_make_token("payments", false, &slot), CKR_OK);
	REQUIRE_RV(ch_t_open(slot, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	REQUIRE_RV(export_all(h, &file, &len), CKR_OK);
	(void)P11->C_Finalize(NULL);
	/* ... into a store where "payments" is forwarded to an HSM: refused. */
	REQUIRE(softhsm_section(&e, "forward:payments"));
	REQUIRE(switch_store(&e, "second.db"));
	REQUIRE_RV(ch_t_free_slot(&free_slot), CKR_OK);
	CHECK_RV(import(free_slot, file, len, CH_T_SO_PIN), CKR_ACTION_PROHIBITED);
	CHECK(ch_t_log_has(&e, "is forwarded"));
	/* The forwarded slot takes no restore, and gives no backup. */
	CHECK_RV(import(FWD_SLOT, file, len, CH_T_SO_PIN), CKR_FUNCTION_NOT_SUPPORTED);
	ch_t_pad(label, sizeof(label), "payments");
	REQUIRE_RV(P11->C_InitToken(FWD_SLOT, (CK_UTF8CHAR_PTR)CH_T_SO_PIN, strlen(CH_T_SO_PIN),
	                            label),
	           CKR_OK);
	REQUIRE_RV(ch_t_open(FWD_SLOT, true, &h), CKR_OK);
	REQUIRE_RV(ch_t_login(h, CKU_SO, CH_T_SO_PIN), CKR_OK);
	CHECK_RV(ch_t_vendor()->CH_BackupExport(h, NULL, &len), CKR_FUNCTION_NOT_SUPPORTED);
out:
	free(file);
	ch_t_env_free(&e);
	unsetenv("SOFTHSM2_CONF");
}

static void test_a_restore_under_a_root_section_is_rooted_and_not_backed_up_again(void)
{
	source s;
	CK_SESSION_HANDLE h;
	CK_SLOT_ID free_slot, slot;
	CK_OBJECT_HANDLE aes;
	CK_BYTE out[64], *again = NULL;
	CK_ULONG n, first_bad = 99, unauth = 99;

	/* A plain registration's backup, restored where [root:t] is set. */
	REQUIRE(make_source(&s));
	(void)P11->C_Finalize(NULL);
	REQUIRE(softhsm_section(&s.e, "root:" CH_T_LABEL));
	REQUIRE(switch_store(&s.e, "rooted.db"));
	REQUIRE_RV(ch_t_free_slot(&free_slot), CKR_OK);
	REQUIRE_RV(import(free_slot, s.file, s.file_len, CH_T_SO_PIN), CKR_OK);
	CHECK(ch_t_log_has(&s.e, "into slot 1 (HSM root)"));
	REQUIRE_RV(ch_t_slot_by_label(CH_T_LABEL, &slot), CKR_OK);
	REQUIRE_RV(ch_t_open(slot, true, &h), CKR_OK);
	/* It works under the rooted keys: the old ciphertext opens, the log
	 * (MACed again under them) verifies. */
	REQUIRE_RV(as(h, NULL, CH_T_USER_PIN), CKR_OK);
	REQUIRE_RV(find_one(h, CKO_SECRET_KEY, "k-aes", &aes), CKR_OK);
	n = sizeof(out);
	CHECK_RV(ch_t_gcm_crypt(h, aes, false, s.ct, s.ct_len, out, &n), CKR_OK);
	CHECK(n == strlen(PLAIN) && memcmp(out, PLAIN, n) == 0);
	REQUIRE_RV(as_so(h), CKR_OK);
	CHECK_RV(ch_t_vendor()->CH_AuditVerify(h, &first_bad, &unauth), CKR_OK);
	CHECK_UL(first_bad, 0);
	/* An HSM-rooted registration gives no backup. */
	CHECK_RV(export_all(h, &again, &n), CKR_FUNCTION_NOT_SUPPORTED);
	CHECK(ch_t_log_has(&s.e, "its root of trust is an HSM"));
out:
	free(again);
	source_free(&s);
	unsetenv("SOFTHSM2_CONF");
}

/* ---- a family of versions through backup, wipe and restore ---- */

/* What one version of a family looks like, to compare before and after. */
typedef struct version_facts {
	CK_ULONG version, state, min, period, bound, encryptions;
	CK_BBOOL primary;
	CK_BYTE id[12];
	CK_ULONG id_len;
	char uid[33];
	CH_GRANT_INFO grants[4];
	CK_ULONG ngrants;
} version_facts;

static bool facts_read(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, version_facts *f)
{
	CK_ATTRIBUTE t[] = {
		CH_T_ULONG(CKA_CH_VERSION, &f->version),
		CH_T_ULONG(CKA_CH_STATE, &f->state),
		CH_T_ULONG(CKA_CH_MIN_DECRYPT_VERSION, &f->min),
		CH_T_ULONG(CKA_CH_ROTATION_PERIOD, &f->period),
		CH_T_ULONG(CKA_CH_MAX_ENCRYPTIONS, &f->bound),
		CH_T_ULONG(CKA_CH_ENCRYPTIONS, &f->encryptions),
		CH_T_ATTR(CKA_CH_PRIMARY, &f->primary, sizeof(f->primary)),
		CH_T_ATTR(CKA_ID, f->id, sizeof(f->id)),
		CH_T_ATTR(CKA_UNIQUE_ID, f->uid, sizeof(f->uid) - 1),
	};

	memset(f, 0, sizeof(*f));
	if (!CHECK_RV(P11->C_GetAttributeValue(h, o, t, CH_T_ARRAY_LEN(t)), CKR_OK))
		return false;
	f->id_len = t[7].ulValueLen;
	f->uid[t[8].ulValueLen] = '\0';
	f->ngrants = CH_T_ARRAY_LEN(f->grants);
	return CHECK_RV(ch_t_vendor()->CH_GrantList(h, o, f->grants, &f->ngrants), CKR_OK);
}

/* The versions of family label (at most 8) by version number: handles in
 * out, facts in f; returns how many. */
static CK_ULONG family_read(CK_SESSION_HANDLE h, const char *label, CK_OBJECT_HANDLE out[8],
                            version_facts f[8])
{
	CK_OBJECT_CLASS sk = CKO_SECRET_KEY;
	CK_ATTRIBUTE t[] = { CH_T_ULONG(CKA_CLASS, &sk), CH_T_STR(CKA_LABEL, label) };
	CK_OBJECT_HANDLE found[8];
	CK_ULONG n = 0, got = 0;

	if (ch_t_find(h, t, 2, found, 8, &n) != CKR_OK || n > 8)
		return 0;
	for (CK_ULONG v = 1; v <= n; v++)
		for (CK_ULONG i = 0; i < n; i++) {
			version_facts x;

			if (facts_read(h, found[i], &x) && x.version == v) {
				out[got] = found[i];
				f[got++] = x;
			}
		}
	return got;
}

/* Finalizes the module, deletes the store (and its WAL files) and starts on
 * an empty one at the same path. */
static bool wipe_store(ch_t_env *e)
{
	static const char *const ext[] = { "", "-wal", "-shm" };
	char path[300];

	(void)P11->C_Finalize(NULL);
	for (size_t i = 0; i < CH_T_ARRAY_LEN(ext); i++) {
		snprintf(path, sizeof(path), "%s%s", e->store, ext[i]);
		if (unlink(path) != 0 && errno != ENOENT)
			return false;
	}
	return ch_t_initialize() == CKR_OK;
}

/*
 * A family "fam" of three versions: v1 decrypt-only with a ciphertext it
 * made before the rotations, v2 disabled, v3 the primary, with a rotation
 * period, a bound of encryptions, alice's grant and some encryptions
 * counted.  Backed up, the store deleted, restored: every version comes
 * back with its number, state, primary flag, minimum decryption version,
 * period, bound, count, CKA_ID, unique ID and grants; v1 decrypts its old
 * ciphertext (for alice too), v2 does nothing, v3 encrypts; a rotation makes
 * v4 of the same family; the audit chain verifies.
 */
static void test_a_family_of_versions_survives_backup_wipe_and_restore(void)
{
	ch_t_env e;
	CK_SESSION_HANDLE h;
	CK_SLOT_ID slot;
	CK_OBJECT_HANDLE k[8], again[8], v1, v2, v3, v4 = CK_INVALID_HANDLE;
	CK_ULONG period = 86400, bound = 1000, n, m, first_bad = 99, unauth = 99;
	CK_ATTRIBUTE policy[] = { CH_T_ULONG(CKA_CH_ROTATION_PERIOD, &period),
		                  CH_T_ULONG(CKA_CH_MAX_ENCRYPTIONS, &bound) };
	CK_BYTE ct1[64], out[64], *file = NULL;
	CK_ULONG ct1_len = sizeof(ct1), len, file_len = 0;
	version_facts before[8], after[8], f4;

	if (!CHECK(ch_t_setup(&e)))
		goto out;
	REQUIRE_RV(ch_t_open(e.slot, true, &h), CKR_OK);
	REQUIRE_RV(as_so(h), CKR_OK);
	REQUIRE_RV(ch_t_participant_add(h, "alice", CH_ROLE_USER, PIN_ALICE), CKR_OK);
	REQUIRE_RV(as(h, NULL, CH_T_USER_PIN), CKR_OK);
	REQUIRE_RV(gen_aes(h, "fam", &v1), CKR_OK);
	REQUIRE_RV(P11->C_SetAttributeValue(h, v1, policy, CH_T_ARRAY_LEN(policy)), CKR_OK);
	REQUIRE_RV(grant(h, v1, "alice", CH_GRANT_ENCRYPT | CH_GRANT_DECRYPT), CKR_OK);
	REQUIRE_RV(
	        ch_t_gcm_crypt(h, v1, true, (const CK_BYTE *)PLAIN, strlen(PLAIN), ct1, &ct1_len),
	        CKR_OK);
	REQUIRE_RV(ch_t_vendor()->CH_KeyRotate(h, v1, &v2), CKR_OK);
	REQUIRE_RV(ch_t_vendor()->CH_KeyRotate(h, v2, &v3), CKR_OK);
	REQUIRE_RV(ch_t_vendor()->CH_KeySetState(h, v2, CH_KEY_STATE_DISABLED), CKR_OK);
	for (int i = 0; i < 3; i++) {
		len = sizeof(out);
		REQUIRE_RV(ch_t_gcm_crypt(h, v3, true, (const CK_BYTE *)"x", 1, out, &len), CKR_OK);
	}
	REQUIRE((n = family_read(h, "fam", k, before)) == 3);
	CHECK_UL(before[0].state, CH_KEY_STATE_DECRYPT_ONLY);
	CHECK_UL(before[1].state, CH_KEY_STATE_DISABLED);
	CHECK_UL(before[2].state, CH_KEY_STATE_ACTIVE);
	CHECK(before[2].primary == CK_TRUE && before[0].primary == CK_FALSE);
	CHECK_UL(before[0].encryptions, 1);
	CHECK_UL(before[2].encryptions, 3);
	CHECK_UL(before[2].period, 86400);
	CHECK_UL(before[2].bound, 1000);
	CHECK_UL(before[2].ngrants, 1);

	REQUIRE_RV(as_so(h), CKR_OK);
	REQUIRE_RV(export_all(h, &file, &file_len), CKR_OK);
	REQUIRE(wipe_store(&e));
	CHECK(ch_t_slot_by_label(CH_T_LABEL, &slot) != CKR_OK); /* wiped: not there */
	REQUIRE_RV(ch_t_free_slot(&slot), CKR_OK);
	REQUIRE_RV(import(slot, file, file_len, CH_T_SO_PIN), CKR_OK);
	REQUIRE_RV(ch_t_open(slot, true, &h), CKR_OK);
	REQUIRE_RV(as(h, NULL, CH_T_USER_PIN), CKR_OK);

	/* Every version as it was (handles may differ). */
	REQUIRE((m = family_read(h, "fam", again, after)) == 3);
	for (CK_ULONG i = 0; i < m; i++) {
		CHECK_UL(after[i].version, before[i].version);
		CHECK_UL(after[i].state, before[i].state);
		CHECK(after[i].primary == before[i].primary);
		CHECK_UL(after[i].min, before[i].min);
		CHECK_UL(after[i].period, before[i].period);
		CHECK_UL(after[i].bound, before[i].bound);
		CHECK_UL(after[i].encryptions, before[i].encryptions);
		CHECK(after[i].id_len == before[i].id_len &&
		      memcmp(after[i].id, before[i].id, after[i].id_len) == 0);
		CHECK(strcmp(after[i].uid, before[i].uid) == 0);
		CHECK_UL(after[i].ngrants, before[i].ngrants);
		CHECK(after[i].ngrants == 0 ||
		      memcmp(after[i].grants, before[i].grants, sizeof(CH_GRANT_INFO)) == 0);
	}
	v1 = again[0];
	v2 = again[1];
	v3 = again[2];

	/* v1 decrypts its old ciphertext, v2 does nothing, v3 encrypts. */
	len = sizeof(out);
	CHECK_RV(ch_t_gcm_crypt(h, v1, false, ct1, ct1_len, out, &len), CKR_OK);
	CHECK(len == strlen(PLAIN) && memcmp(out, PLAIN, len) == 0);
	len = sizeof(out);
	CHECK_RV(ch_t_gcm_crypt(h, v1, true, (const CK_BYTE *)"x", 1, out, &len),
	         CKR_KEY_FUNCTION_NOT_PERMITTED);
	len = sizeof(out);
	CHECK_RV(ch_t_gcm_crypt(h, v2, false, ct1, ct1_len, out, &len),
	         CKR_KEY_FUNCTION_NOT_PERMITTED);
	len = sizeof(out);
	CHECK_RV(ch_t_gcm_crypt(h, v3, true, (const CK_BYTE *)"x", 1, out, &len), CKR_OK);
	CHECK_UL(facts_read(h, v3, &f4) ? f4.encryptions : 0, 4); /* counts on */
	/* alice's grant holds on v1 and v3. */
	REQUIRE_RV(as(h, "alice", PIN_ALICE), CKR_OK);
	len = sizeof(out);
	CHECK_RV(ch_t_gcm_crypt(h, v1, false, ct1, ct1_len, out, &len), CKR_OK);
	len = sizeof(out);
	CHECK_RV(ch_t_gcm_crypt(h, v3, true, (const CK_BYTE *)"x", 1, out, &len), CKR_OK);

	/* A rotation after the restore makes v4 of the same family. */
	REQUIRE_RV(as(h, NULL, CH_T_USER_PIN), CKR_OK);
	REQUIRE_RV(ch_t_vendor()->CH_KeyRotate(h, v3, &v4), CKR_OK);
	REQUIRE(facts_read(h, v4, &f4));
	CHECK_UL(f4.version, 4);
	CHECK(f4.primary == CK_TRUE);
	CHECK_UL(f4.period, 86400);
	CHECK_UL(f4.bound, 1000);
	CHECK_UL(f4.encryptions, 0);
	CHECK_UL(f4.ngrants, 1);
	CHECK(f4.id_len == 12 && memcmp(f4.id, after[2].id, 8) == 0 && f4.id[11] == 4);
	CHECK(ch_t_get_bool(h, v3, CKA_ENCRYPT) == 0);
	CHECK(ch_t_get_bool(h, v3, CKA_DECRYPT) == 1);

	/* The chain verifies, from before the backup to after the rotation. */
	REQUIRE_RV(as_so(h), CKR_OK);
	CHECK_RV(ch_t_vendor()->CH_AuditVerify(h, &first_bad, &unauth), CKR_OK);
	CHECK_UL(first_bad, 0);
	CHECK_UL(unauth, 0);
out:
	free(file);
	ch_t_env_free(&e);
}

int main(void)
{
	static const ch_t_case cases[] = {
		CH_T_CASE(test_a_restored_registration_works_as_before),
		CH_T_CASE(test_a_bad_backup_is_refused_and_changes_nothing),
		CH_T_CASE(test_only_an_admin_exports_and_lengths_follow_the_two_call_rule),
		CH_T_CASE(test_forwarded_registrations_are_not_backed_up),
		CH_T_CASE(test_a_restore_under_a_root_section_is_rooted_and_not_backed_up_again),
		CH_T_CASE(test_a_family_of_versions_survives_backup_wipe_and_restore),
	};

	return ch_t_run(cases, CH_T_ARRAY_LEN(cases));
}
