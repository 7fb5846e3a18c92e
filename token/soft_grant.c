/*
 * The software token's grants: which participants (or roles) may use a token
 * key for which operations, on top of the key's own usage attributes.
 *
 * A key's creator may always use it.  Anyone else needs a grant naming them
 * ("alice") or one of their roles ("role:user") with the operation's bit; a
 * private key without such a grant is not even visible to them, except to
 * operators, who manage keys.  Each grant row carries a MAC under the
 * registration key bound to its object, grantee and operations, so a row
 * added or edited in the file grants nothing.
 *
 * Secrets (issue 8, soft_secret.c) take grants too, of one operation:
 * CH_GRANT_READ, reading the value.  On a key that bit means nothing and is
 * dropped, so CH_GRANT_ALL still grants a key everything it can do.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "log.h"
#include "object.h"
#include "objstore.h"
#include "soft_internal.h"
#include "util.h"

static const char *const role_names[] = { "admin", "operator", "user", "auditor" };

/* The CH_ROLE_* bit of "role:NAME", or 0. */
static CK_FLAGS role_of(const char *grantee)
{
	if (strncmp(grantee, "role:", 5) != 0)
		return 0;
	for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
		if (strcmp(grantee + 5, role_names[i]) == 0)
			return (CK_FLAGS)1 << i;
	return 0;
}

CK_FLAGS soft_grant_bit(ch_op_kind kind)
{
	switch (kind) {
	case CH_OP_ENCRYPT:
		return CH_GRANT_ENCRYPT;
	case CH_OP_DECRYPT:
		return CH_GRANT_DECRYPT;
	case CH_OP_SIGN:
		return CH_GRANT_SIGN;
	case CH_OP_VERIFY:
		return CH_GRANT_VERIFY;
	case CH_OP_WRAP:
		return CH_GRANT_WRAP;
	case CH_OP_UNWRAP:
		return CH_GRANT_UNWRAP;
	default:
		return 0;
	}
}

typedef struct grant_scan {
	soft_slot *sl;
	int64_t obj;
	const char *who;
	CK_FLAGS roles;
	CK_FLAGS ops; /* granted to who, accumulated */
	bool any;     /* some grant names who or a role of who */
} grant_scan;

static int scan_one(void *arg, const char *grantee, CK_FLAGS ops, const uint8_t *mac,
                    size_t mac_len)
{
	grant_scan *g = arg;
	uint8_t want[CH_MAC_LEN];
	CK_FLAGS role = role_of(grantee);

	if (strcmp(grantee, g->who) != 0 && (role == 0 || !(g->roles & role)))
		return 0;
	if (mac_len != CH_MAC_LEN ||
	    ch_objstore_grant_mac(g->sl->seal, g->obj, grantee, ops, want) != CKR_OK ||
	    CRYPTO_memcmp(want, mac, CH_MAC_LEN) != 0) {
		ch_log(CH_LOG_ERROR,
		       "grant of object %lld to %s in registration %lld failed its integrity check",
		       (long long)g->obj, grantee, (long long)g->sl->id);
		return 0;
	}
	g->ops |= ops;
	g->any = true;
	return 0;
}

bool soft_grant_allows(soft_slot *sl, CK_FLAGS roles, int64_t obj, const char *owner, CK_FLAGS need)
{
	grant_scan g = { .sl = sl, .obj = obj, .who = sl->participant, .roles = roles };
	const char *creator = owner[0] != '\0' ? owner : SOFT_NAME_DEFAULT;

	if (sl->seal == NULL)
		return false;
	if (strcmp(creator, sl->participant) == 0)
		return true;
	if (ch_store_grant_each(sl->sf->store, obj, scan_one, &g) != CKR_OK)
		return false;
	return need == 0 ? g.any : (g.ops & need) == need;
}

/* Is grantee a participant of sl's registration or a role?  Store lock held. */
static bool grantee_exists(soft_slot *sl, const char *grantee)
{
	soft_ident id;
	ch_cred cred;

	if (strncmp(grantee, "role:", 5) == 0)
		return role_of(grantee) != 0;
	soft_ident_of(CKU_USER, grantee, &id);
	return ch_store_cred_get(sl->sf->store, (int64_t)sl->id, id.who, id.name, &cred) == CKR_OK;
}

typedef struct grant_change {
	int64_t obj;
	const char *grantee;
	CK_FLAGS ops;
} grant_change;

static CK_RV grant_txn(soft_slot *sl, void *arg)
{
	const grant_change *c = arg;
	uint8_t mac[CH_MAC_LEN];
	CK_RV rv;

	if (!grantee_exists(sl, c->grantee))
		return CKR_ARGUMENTS_BAD;
	if (c->ops == 0)
		return ch_store_grant_delete(sl->sf->store, c->obj, c->grantee);
	if ((rv = ch_objstore_grant_mac(sl->seal, c->obj, c->grantee, c->ops, mac)) != CKR_OK)
		return rv;
	return ch_store_grant_put(sl->sf->store, c->obj, c->grantee, c->ops, mac);
}

/* The token key (or secret: *secret set, may be NULL) h of sl, loaded to
 * check it exists (slot lock held); owner (may be NULL) gets its creator. */
static CK_RV key_exists(soft_slot *sl, CK_OBJECT_HANDLE h, bool *secret,
                        char owner[CH_NAME_MAX + 1])
{
	ch_attrs *a = NULL;
	CK_OBJECT_CLASS cls;
	bool is_secret;
	CK_RV rv;

	if (h == CK_INVALID_HANDLE || h >= SOFT_SESSION_HANDLE_BASE)
		return CKR_KEY_HANDLE_INVALID;
	pthread_mutex_lock(&sl->sf->lock);
	rv = ch_objstore_load(sl->sf->store, sl->seal, (int64_t)sl->id, (int64_t)h, &a, owner);
	pthread_mutex_unlock(&sl->sf->lock);
	if (rv == CKR_OBJECT_HANDLE_INVALID)
		return CKR_KEY_HANDLE_INVALID;
	if (rv != CKR_OK)
		return rv;
	cls = ch_object_class(a);
	if (cls == CKO_DATA) {
		/* A forwarded key's marker (fwd.c checked the key). */
		const ch_attr *app = ch_attrs_get(a, CKA_APPLICATION);

		if (app != NULL && app->len == sizeof(SOFT_MARKER_APP) - 1 &&
		    memcmp(app->value, SOFT_MARKER_APP, app->len) == 0)
			cls = CKO_SECRET_KEY;
	}
	is_secret = ch_object_is_secret(a) && ch_object_is_token(a);
	ch_attrs_free(a);
	if (secret != NULL)
		*secret = is_secret;
	return is_secret || cls == CKO_SECRET_KEY || cls == CKO_PRIVATE_KEY || cls == CKO_PUBLIC_KEY
	               ? CKR_OK
	               : CKR_KEY_HANDLE_INVALID;
}

CK_RV soft_grant_set(void *be, CK_OBJECT_HANDLE key, const char *grantee, CK_FLAGS ops)
{
	soft_slot *sl = be;
	grant_change c = { .obj = (int64_t)key, .grantee = grantee, .ops = ops };
	char owner[CH_NAME_MAX + 1] = "";
	bool secret = false;
	CK_RV rv;

	pthread_mutex_lock(&sl->lock);
	if (sl->seal == NULL) {
		rv = CKR_USER_NOT_LOGGED_IN;
	} else if ((rv = key_exists(sl, key, &secret, owner)) == CKR_OK) {
		/* A secret is only read; a key is never read. */
		if (secret ? (ops & ~CH_GRANT_READ) != 0 : ops == CH_GRANT_READ)
			rv = CKR_ARGUMENTS_BAD;
		/* Only a secret's creator shares it: an operator or admin who
		 * could read it by granting itself (or its role) would make
		 * the read rule no rule.  Anyone who manages grants revokes. */
		else if (secret && ops != 0 &&
		         strcmp(owner[0] ? owner : SOFT_NAME_DEFAULT, sl->participant) != 0)
			rv = CKR_ACTION_PROHIBITED;
		c.ops = secret ? ops : ops & SOFT_GRANT_KEY_OPS;
		if (rv == CKR_OK)
			rv = soft_txn(sl, grant_txn, &c);
	}
	if (sl->seal != NULL) {
		char detail[64];

		snprintf(detail, sizeof(detail), "object %lu to %s ops 0x%lx", (unsigned long)key,
		         grantee, (unsigned long)ops);
		soft_audit(sl, sl->seal, sl->participant, ops ? "grant.set" : "grant.revoke", NULL,
		           rv, detail);
	}
	if (rv == CKR_OK)
		ch_log(CH_LOG_INFO, "registration \"%s\": %s %s object %lu to %s (0x%lx)",
		       sl->reg.label, sl->participant, ops ? "granted" : "revoked",
		       (unsigned long)key, grantee, (unsigned long)ops);
	pthread_mutex_unlock(&sl->lock);
	return rv;
}

typedef struct grant_list {
	soft_slot *sl;
	int64_t obj;
	CH_GRANT_INFO *list;
	CK_ULONG cap, n;
} grant_list;

static int list_one(void *arg, const char *grantee, CK_FLAGS ops, const uint8_t *mac,
                    size_t mac_len)
{
	grant_list *l = arg;
	uint8_t want[CH_MAC_LEN];

	/* A row that fails its MAC is no grant: leave it out. */
	if (mac_len != CH_MAC_LEN ||
	    ch_objstore_grant_mac(l->sl->seal, l->obj, grantee, ops, want) != CKR_OK ||
	    CRYPTO_memcmp(want, mac, CH_MAC_LEN) != 0)
		return 0;
	if (l->list != NULL && l->n < l->cap) {
		ch_pad(l->list[l->n].grantee, sizeof(l->list[l->n].grantee), grantee);
		l->list[l->n].operations = ops;
	}
	l->n++;
	return 0;
}

CK_RV soft_grant_list(void *be, CK_OBJECT_HANDLE key, CH_GRANT_INFO *list, CK_ULONG *count)
{
	soft_slot *sl = be;
	grant_list l = { .sl = sl, .obj = (int64_t)key, .list = list, .cap = *count };
	CK_RV rv;

	pthread_mutex_lock(&sl->lock);
	if (sl->seal == NULL) {
		rv = CKR_USER_NOT_LOGGED_IN;
	} else if ((rv = key_exists(sl, key, NULL, NULL)) == CKR_OK) {
		pthread_mutex_lock(&sl->sf->lock);
		rv = ch_store_grant_each(sl->sf->store, (int64_t)key, list_one, &l);
		pthread_mutex_unlock(&sl->sf->lock);
	}
	pthread_mutex_unlock(&sl->lock);
	if (rv != CKR_OK)
		return rv;
	if (list != NULL && *count < l.n)
		rv = CKR_BUFFER_TOO_SMALL;
	*count = l.n;
	return rv;
}
