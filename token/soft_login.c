/*
 * The software token's logins: who a PIN belongs to, the check of the PIN
 * against its wrapped registration key, failed-login counting and lockout,
 * C_InitPIN and C_SetPIN.
 *
 * A participant is a row of the store's credentials table, keyed by (user
 * type, name): the default SO and the default user (what C_InitToken and
 * C_InitPIN create, what a bare PIN opens) have the name "", and every named
 * participant is stored under CKU_USER whatever its roles; the roles decide
 * how it may log in (admin: as CKU_SO; operator, user, auditor: as CKU_USER).
 *
 * Failed logins are counted in the store with one UPDATE, so processes
 * sharing a store add up; a participant whose count reaches the limit is
 * refused before its PIN is even tried (CKR_PIN_LOCKED) until an admin
 * unlocks it.  The PIN KDF, deliberately slow, is the rate limit between
 * tries.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "log.h"
#include "object.h"
#include "soft_internal.h"

void soft_ident_of(CK_USER_TYPE type, const char *name, soft_ident *id)
{
	memset(id, 0, sizeof(*id));
	if (name == NULL || *name == '\0' || strcmp(name, SOFT_NAME_SO) == 0 ||
	    strcmp(name, SOFT_NAME_DEFAULT) == 0) {
		if (name != NULL && strcmp(name, SOFT_NAME_SO) == 0)
			type = CKU_SO;
		else if (name != NULL && strcmp(name, SOFT_NAME_DEFAULT) == 0)
			type = CKU_USER;
		id->who = type;
		return;
	}
	id->who = CKU_USER;
	snprintf(id->name, sizeof(id->name), "%s", name);
}

const char *soft_ident_display(const soft_ident *id)
{
	if (id->name[0] != '\0')
		return id->name;
	return id->who == CKU_SO ? SOFT_NAME_SO : SOFT_NAME_DEFAULT;
}

CK_RV soft_pin_check(CK_ULONG len)
{
	return len < SOFT_PIN_MIN || len > SOFT_PIN_MAX ? CKR_PIN_LEN_RANGE : CKR_OK;
}

/* A participant's failed-login count: one more (reset false), or back to 0. */
typedef struct failures_change {
	const soft_ident *id;
	CK_FLAGS roles;
	bool reset;
	CK_ULONG failures;
} failures_change;

static CK_RV failures_txn(soft_slot *sl, void *arg)
{
	failures_change *c = arg;

	if (c->reset)
		return ch_store_cred_set(sl->sf->store, (int64_t)sl->id, c->id->who, c->id->name,
		                         c->roles, 0);
	return ch_store_cred_fail(sl->sf->store, (int64_t)sl->id, c->id->who, c->id->name,
	                          &c->failures);
}

/* Counts one failed login of id (its own transaction) and logs a lockout. */
static void count_failure(soft_slot *sl, const soft_ident *id)
{
	failures_change c = { .id = id };

	if (soft_txn(sl, failures_txn, &c) == CKR_OK && c.failures == sl->sf->max_failures) {
		ch_log(CH_LOG_WARNING,
		       "registration \"%s\": participant %s locked after %lu failed logins",
		       sl->reg.label, soft_ident_display(id), c.failures);
		soft_audit(sl, NULL, soft_ident_display(id), "participant.locked", NULL,
		           CKR_PIN_LOCKED, NULL);
	}
}

CK_RV soft_verify_pin(soft_slot *sl, const soft_ident *id, const CK_UTF8CHAR *pin, CK_ULONG len,
                      uint8_t regkey[CH_REGKEY_LEN], ch_cred *cred)
{
	ch_soft *sf = sl->sf;
	CK_RV rv;

	pthread_mutex_lock(&sf->lock);
	rv = ch_store_cred_get(sf->store, (int64_t)sl->id, id->who, id->name, cred);
	pthread_mutex_unlock(&sf->lock);
	if (rv == CKR_USER_PIN_NOT_INITIALIZED && (id->who == CKU_SO || id->name[0] != '\0')) {
		/* An unknown participant is a wrong PIN to the caller. */
		ch_log(CH_LOG_INFO, "registration \"%s\": login as unknown participant %s",
		       sl->reg.label, soft_ident_display(id));
		rv = CKR_PIN_INCORRECT;
	}
	if (rv != CKR_OK)
		return rv;
	if (cred->failures >= sf->max_failures)
		return CKR_PIN_LOCKED;
	/* The KDF runs without the store lock: other slots keep working. */
	rv = ch_pin_unwrap(&cred->w, pin, len, sl->reg.uuid, id->who, id->name, regkey);
	if (rv == CKR_PIN_INCORRECT) {
		count_failure(sl, id);
	} else if (rv == CKR_OK && cred->failures != 0) {
		failures_change c = { .id = id, .roles = cred->roles, .reset = true };

		(void)soft_txn(sl, failures_txn, &c);
		cred->failures = 0;
	}
	return rv;
}

/* May a participant with these roles log in as type? */
static bool role_allows(CK_USER_TYPE type, CK_FLAGS roles)
{
	if (type == CKU_SO)
		return (roles & CH_ROLE_ADMIN) != 0;
	return (roles & (CH_ROLE_OPERATOR | CH_ROLE_USER | CH_ROLE_AUDITOR)) != 0;
}

CK_RV soft_login(void *be, CK_USER_TYPE who, const char *name, const CK_UTF8CHAR *pin, CK_ULONG len,
                 CK_FLAGS *roles)
{
	soft_slot *sl = be;
	uint8_t regkey[CH_REGKEY_LEN];
	ch_seal *seal = NULL;
	ch_root_row root;
	soft_ident id;
	ch_cred cred;
	CK_RV rv;

	pthread_mutex_lock(&sl->lock);
	if ((rv = soft_slot_refresh(sl)) != CKR_OK)
		goto out;
	if (!sl->initialized) {
		rv = CKR_USER_PIN_NOT_INITIALIZED;
		goto out;
	}
	soft_ident_of(who, name, &id);
	if ((rv = soft_verify_pin(sl, &id, pin, len, regkey, &cred)) != CKR_OK) {
		/* Nobody is logged in to MAC it: chained now, covered by the
		 * next authenticated record. */
		soft_audit(sl, NULL, soft_ident_display(&id), "login", NULL, rv,
		           who == CKU_SO ? "so" : "user");
		goto out;
	}
	/* Only now, with the PIN proven, say that the roles do not fit. */
	if (!role_allows(who, cred.roles)) {
		rv = CKR_USER_TYPE_INVALID;
		goto out;
	}
	/* With an HSM root the HSM must open its secret: when it cannot, the
	 * login fails (not as a wrong PIN) and nothing of the slot changes. */
	if ((rv = soft_root_seal(sl, &sl->reg, false, regkey, &root, &seal)) != CKR_OK) {
		soft_audit(sl, NULL, soft_ident_display(&id), "login", NULL, rv,
		           who == CKU_SO ? "so, hsm root" : "user, hsm root");
		goto out;
	}
	soft_keycache_clear(sl);
	ch_seal_free(sl->seal);
	sl->seal = seal;
	memcpy(sl->regkey, regkey, sizeof(regkey));
	snprintf(sl->participant, sizeof(sl->participant), "%s", soft_ident_display(&id));
	sl->ident = id;
	*roles = cred.roles;
	soft_audit(sl, sl->seal, sl->participant, "login", NULL, CKR_OK,
	           who == CKU_SO ? "so" : "user");
	rv = CKR_OK;
out:
	pthread_mutex_unlock(&sl->lock);
	OPENSSL_cleanse(regkey, sizeof(regkey));
	return rv;
}

void soft_logout(void *be)
{
	soft_slot *sl = be;

	pthread_mutex_lock(&sl->lock);
	/* Counted key uses are written while their MAC key is still here. */
	if (sl->seal != NULL)
		soft_audit_flush(sl);
	/* C_Logout destroys the application's private session objects. */
	for (size_t i = 0; i < sl->nsobj;) {
		if (ch_object_is_private(sl->sobj[i].attrs)) {
			ch_attrs_free(sl->sobj[i].attrs);
			sl->sobj[i] = sl->sobj[--sl->nsobj];
		} else {
			i++;
		}
	}
	soft_keycache_clear(sl); /* no key of the registration outlives its login */
	__atomic_add_fetch(&sl->login_gen, 1, __ATOMIC_RELEASE); /* nor an operation */
	ch_seal_free(sl->seal);
	sl->seal = NULL;
	OPENSSL_cleanse(sl->regkey, sizeof(sl->regkey));
	sl->participant[0] = '\0';
	pthread_mutex_unlock(&sl->lock);
}

/* Writes a participant's wrapped key (its own transaction), the registration
 * key being regkey; C_InitPIN also marks the user PIN as set. */
typedef struct credential_put {
	const soft_ident *id;
	CK_FLAGS roles;
	ch_wrapped_key w;
	ch_reg_row reg; /* the registration row, user_pin_set updated */
} credential_put;

static CK_RV credential_txn(soft_slot *sl, void *arg)
{
	credential_put *c = arg;
	bool user_pin = c->id->who == CKU_USER && c->id->name[0] == '\0';
	CK_RV rv;

	rv = ch_store_cred_put(sl->sf->store, (int64_t)sl->id, c->id->who, c->id->name, &c->w,
	                       c->roles);
	if (rv == CKR_OK && user_pin && !c->reg.user_pin_set) {
		c->reg.user_pin_set = 1;
		rv = ch_store_reg_update(sl->sf->store, &c->reg);
	}
	return rv;
}

CK_RV soft_put_credential(soft_slot *sl, const soft_ident *id, CK_FLAGS roles,
                          const CK_UTF8CHAR *pin, CK_ULONG len, const uint8_t regkey[CH_REGKEY_LEN])
{
	credential_put c = { .id = id, .roles = roles, .reg = sl->reg };
	CK_RV rv;

	/* The KDF runs before the transaction: writers are not held up by it. */
	if ((rv = ch_pin_wrap(&sl->sf->kdf, pin, len, sl->reg.uuid, id->who, id->name, regkey,
	                      &c.w)) != CKR_OK)
		return rv;
	if ((rv = soft_txn(sl, credential_txn, &c)) == CKR_OK)
		sl->reg = c.reg;
	return rv;
}

CK_RV soft_init_pin(void *be, const CK_UTF8CHAR *pin, CK_ULONG len)
{
	soft_slot *sl = be;
	soft_ident id;
	ch_cred cred;
	CK_FLAGS roles = CH_ROLE_OPERATOR | CH_ROLE_USER;
	CK_RV rv;

	if ((rv = soft_pin_check(len)) != CKR_OK)
		return rv;
	soft_ident_of(CKU_USER, NULL, &id);
	pthread_mutex_lock(&sl->lock);
	if (sl->seal == NULL) {
		rv = CKR_USER_NOT_LOGGED_IN;
		goto out;
	}
	/* A new PIN for an existing default user keeps its roles. */
	pthread_mutex_lock(&sl->sf->lock);
	if (ch_store_cred_get(sl->sf->store, (int64_t)sl->id, id.who, id.name, &cred) == CKR_OK)
		roles = cred.roles;
	pthread_mutex_unlock(&sl->sf->lock);
	rv = soft_put_credential(sl, &id, roles, pin, len, sl->regkey);
	soft_audit(sl, sl->seal, sl->participant, "participant.init-pin", NULL, rv,
	           SOFT_NAME_DEFAULT);
out:
	pthread_mutex_unlock(&sl->lock);
	return rv;
}

CK_RV soft_set_pin(void *be, CK_USER_TYPE who, const char *name, const CK_UTF8CHAR *old_pin,
                   CK_ULONG old_len, const CK_UTF8CHAR *new_pin, CK_ULONG new_len)
{
	soft_slot *sl = be;
	uint8_t regkey[CH_REGKEY_LEN];
	soft_ident id;
	ch_cred cred;
	CK_RV rv;

	if ((rv = soft_pin_check(new_len)) != CKR_OK)
		return rv;
	pthread_mutex_lock(&sl->lock);
	if ((rv = soft_slot_refresh(sl)) != CKR_OK)
		goto out;
	if (!sl->initialized) {
		rv = CKR_USER_PIN_NOT_INITIALIZED;
		goto out;
	}
	/* The logged-in participant's PIN (a name given with the old PIN must
	 * be theirs), else the named or default participant's. */
	if (sl->seal != NULL) {
		id = sl->ident;
		if (name != NULL && strcmp(name, sl->participant) != 0) {
			rv = CKR_PIN_INCORRECT;
			goto out;
		}
	} else {
		soft_ident_of(who, name, &id);
	}
	if ((rv = soft_verify_pin(sl, &id, old_pin, old_len, regkey, &cred)) != CKR_OK)
		goto out;
	rv = soft_put_credential(sl, &id, cred.roles, new_pin, new_len, regkey);
	soft_audit(sl, sl->seal, soft_ident_display(&id), "participant.set-pin", NULL, rv, NULL);
out:
	pthread_mutex_unlock(&sl->lock);
	OPENSSL_cleanse(regkey, sizeof(regkey));
	return rv;
}

/* The CKF_*PIN_* flags of one default participant. */
static CK_FLAGS pin_flags(soft_slot *sl, CK_USER_TYPE who, CK_FLAGS low, CK_FLAGS final,
                          CK_FLAGS locked)
{
	ch_cred cred;
	CK_ULONG max = sl->sf->max_failures;

	if (ch_store_cred_get(sl->sf->store, (int64_t)sl->id, who, "", &cred) != CKR_OK ||
	    cred.failures == 0)
		return 0;
	if (cred.failures >= max)
		return locked;
	return cred.failures + 1 == max ? (low | final) : low;
}

CK_FLAGS soft_token_pin_flags(soft_slot *sl)
{
	CK_FLAGS f;

	pthread_mutex_lock(&sl->sf->lock);
	f = pin_flags(sl, CKU_USER, CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY,
	              CKF_USER_PIN_LOCKED) |
	    pin_flags(sl, CKU_SO, CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_FINAL_TRY, CKF_SO_PIN_LOCKED);
	pthread_mutex_unlock(&sl->sf->lock);
	return f;
}
