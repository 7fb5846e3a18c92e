/*
 * The software token's participant management (vendor interface): add,
 * remove, list, change roles, unlock.
 *
 * The front end has checked that an admin is logged in (so the registration
 * key is in memory to wrap under a new participant's PIN) and that names are
 * well formed.  Every change is one transaction and touches only its own row:
 * no other participant's wrapped key or PIN is involved.  "so" (the first
 * admin) can be neither removed nor changed, so a registration always keeps
 * an admin; "default" (the C_InitPIN participant) is managed through
 * C_InitPIN and may only have its roles changed (never to admin: a bare PIN
 * logs it in as CKU_USER).
 */
#include <string.h>

#include "log.h"
#include "soft_internal.h"
#include "util.h"

typedef struct change {
	soft_ident id;
	CK_FLAGS roles;
	bool unlock;
} change;

/* Reads the participant named name into *cred (store lock held). */
static CK_RV lookup(soft_slot *sl, const soft_ident *id, ch_cred *cred)
{
	CK_RV rv = ch_store_cred_get(sl->sf->store, (int64_t)sl->id, id->who, id->name, cred);

	/* An unknown name is a bad argument of the vendor call. */
	return rv == CKR_USER_PIN_NOT_INITIALIZED ? CKR_ARGUMENTS_BAD : rv;
}

CK_RV soft_participant_add(void *be, const char *name, CK_FLAGS roles, const CK_UTF8CHAR *pin,
                           CK_ULONG len)
{
	soft_slot *sl = be;
	soft_ident id;
	ch_cred cred;
	CK_RV rv;

	if ((rv = soft_pin_check(len)) != CKR_OK)
		return rv;
	soft_ident_of(CKU_USER, name, &id);
	if (id.name[0] == '\0')
		return CKR_ARGUMENTS_BAD; /* "so" and "default" are reserved */
	pthread_mutex_lock(&sl->lock);
	if (sl->seal == NULL) {
		rv = CKR_USER_NOT_LOGGED_IN;
		goto out;
	}
	pthread_mutex_lock(&sl->sf->lock);
	rv = ch_store_cred_get(sl->sf->store, (int64_t)sl->id, id.who, id.name, &cred);
	pthread_mutex_unlock(&sl->sf->lock);
	if (rv == CKR_OK) {
		rv = CKR_ACTION_PROHIBITED; /* the name is taken */
		goto out;
	}
	if (rv != CKR_USER_PIN_NOT_INITIALIZED)
		goto out;
	rv = soft_put_credential(sl, &id, roles, pin, len, sl->regkey);
	soft_audit(sl, sl->seal, sl->participant, "participant.add", NULL, rv, id.name);
	if (rv == CKR_OK)
		ch_log(CH_LOG_INFO, "registration \"%s\": participant %s added by %s",
		       sl->reg.label, id.name, sl->participant);
out:
	pthread_mutex_unlock(&sl->lock);
	return rv;
}

static CK_RV remove_txn(soft_slot *sl, void *arg)
{
	const soft_ident *id = arg;
	ch_cred cred;
	CK_RV rv;

	if ((rv = lookup(sl, id, &cred)) != CKR_OK)
		return rv;
	return ch_store_cred_delete(sl->sf->store, (int64_t)sl->id, id->who, id->name);
}

CK_RV soft_participant_remove(void *be, const char *name)
{
	soft_slot *sl = be;
	soft_ident id;
	CK_RV rv;

	soft_ident_of(CKU_USER, name, &id);
	if (id.name[0] == '\0')
		return CKR_ACTION_PROHIBITED;
	pthread_mutex_lock(&sl->lock);
	rv = soft_txn(sl, remove_txn, &id);
	soft_audit(sl, sl->seal, sl->participant, "participant.remove", NULL, rv, id.name);
	if (rv == CKR_OK)
		ch_log(CH_LOG_INFO, "registration \"%s\": participant %s removed by %s",
		       sl->reg.label, id.name, sl->participant);
	pthread_mutex_unlock(&sl->lock);
	return rv;
}

static CK_RV change_txn(soft_slot *sl, void *arg)
{
	const change *c = arg;
	ch_cred cred;
	CK_RV rv;

	if ((rv = lookup(sl, &c->id, &cred)) != CKR_OK)
		return rv;
	return ch_store_cred_set(sl->sf->store, (int64_t)sl->id, c->id.who, c->id.name,
	                         c->unlock ? cred.roles : c->roles, c->unlock ? 0 : cred.failures);
}

CK_RV soft_participant_set_roles(void *be, const char *name, CK_FLAGS roles)
{
	soft_slot *sl = be;
	change c = { .roles = roles };
	CK_RV rv;

	soft_ident_of(CKU_USER, name, &c.id);
	if (c.id.who == CKU_SO || (c.id.name[0] == '\0' && (roles & CH_ROLE_ADMIN)))
		return CKR_ACTION_PROHIBITED;
	pthread_mutex_lock(&sl->lock);
	rv = soft_txn(sl, change_txn, &c);
	soft_audit(sl, sl->seal, sl->participant, "participant.set-roles", NULL, rv,
	           soft_ident_display(&c.id));
	pthread_mutex_unlock(&sl->lock);
	return rv;
}

CK_RV soft_participant_unlock(void *be, const char *name)
{
	soft_slot *sl = be;
	change c = { .unlock = true };
	CK_RV rv;

	soft_ident_of(CKU_USER, name, &c.id);
	pthread_mutex_lock(&sl->lock);
	rv = soft_txn(sl, change_txn, &c);
	soft_audit(sl, sl->seal, sl->participant, "participant.unlock", NULL, rv,
	           soft_ident_display(&c.id));
	pthread_mutex_unlock(&sl->lock);
	return rv;
}

typedef struct list_ctx {
	CH_PARTICIPANT_INFO *list;
	CK_ULONG cap, n;
	CK_ULONG max_failures;
} list_ctx;

static int list_one(void *arg, CK_USER_TYPE who, const char *name, CK_FLAGS roles,
                    CK_ULONG failures)
{
	list_ctx *l = arg;
	soft_ident id = { .who = who };

	if (who == SOFT_RECOVERY_USER) /* a key, not a participant */
		return 0;
	if (l->list != NULL && l->n < l->cap) {
		CH_PARTICIPANT_INFO *p = &l->list[l->n];

		memcpy(id.name, name, strnlen(name, CH_NAME_MAX));
		memset(p, 0, sizeof(*p));
		ch_pad(p->name, sizeof(p->name), soft_ident_display(&id));
		p->roles = roles;
		p->failedLogins = failures;
		p->locked = failures >= l->max_failures ? CK_TRUE : CK_FALSE;
	}
	l->n++;
	return 0;
}

CK_RV soft_participant_list(void *be, CH_PARTICIPANT_INFO *list, CK_ULONG *count)
{
	soft_slot *sl = be;
	list_ctx l = { .list = list, .cap = *count, .max_failures = sl->sf->max_failures };
	CK_RV rv;

	pthread_mutex_lock(&sl->lock);
	pthread_mutex_lock(&sl->sf->lock);
	rv = ch_store_cred_each(sl->sf->store, (int64_t)sl->id, list_one, &l);
	pthread_mutex_unlock(&sl->sf->lock);
	pthread_mutex_unlock(&sl->lock);
	if (rv != CKR_OK)
		return rv;
	if (list != NULL && *count < l.n)
		rv = CKR_BUFFER_TOO_SMALL;
	*count = l.n;
	return rv;
}
