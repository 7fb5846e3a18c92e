/*
 * The forwarding backend's slot, token, login and sessions, its handle map,
 * and the registration-side records (object markers, grants, audit) of
 * backend objects.  See fwd.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "fwd.h"
#include "log.h"
#include "objstore.h"
#include "util.h"

/* One backend object as the client knows it. */
struct fwd_obj {
	CK_OBJECT_HANDLE theirs;
	CK_SESSION_HANDLE owner; /* the client session of a session object; 0: token object */
	bool live;
	bool named;     /* ident is set */
	char ident[72]; /* the stable name (see fwd.h) */
	bool marked;    /* marker and creator looked up */
	int64_t marker; /* its marker object in the store, 0: none */
	char creator[CH_NAME_MAX + 1];
	bool classed; /* guarded is known */
	bool guarded; /* a private secret or private key */
};

static fwd_slot *slot_of(ch_session *s)
{
	return s->slot->be;
}

/* ---- the handle map ---- */

static size_t hash_of(CK_OBJECT_HANDLE h, size_t cap)
{
	uint64_t x = (uint64_t)h * 0x9E3779B97F4A7C15ULL;

	return (size_t)(x >> 32) & (cap - 1);
}

/* The hash cell for theirs (empty or holding it).  fw->lock held. */
static size_t *cell_of(fwd_slot *fw, CK_OBJECT_HANDLE theirs)
{
	size_t i = hash_of(theirs, fw->hcap);

	while (fw->hash[i] != 0 && fw->obj[fw->hash[i] - 1].theirs != theirs)
		i = (i + 1) & (fw->hcap - 1);
	return &fw->hash[i];
}

static bool hash_grow(fwd_slot *fw)
{
	size_t ncap = fw->hcap ? fw->hcap * 2 : 64, *old = fw->hash, ocap = fw->hcap;

	if ((fw->hash = calloc(ncap, sizeof(*fw->hash))) == NULL) {
		fw->hash = old;
		return false;
	}
	fw->hcap = ncap;
	for (size_t i = 0; i < ocap; i++)
		if (old[i] != 0)
			*cell_of(fw, fw->obj[old[i] - 1].theirs) = old[i];
	free(old);
	return true;
}

/* Maps theirs, owned by client session owner (0: a token object).  A dead
 * entry for the same backend handle (the backend reused it) gets a new
 * handle of ours.  fw->lock held. */
static CK_OBJECT_HANDLE map_locked(fwd_slot *fw, CK_OBJECT_HANDLE theirs, CK_SESSION_HANDLE owner)
{
	size_t *c;

	if ((fw->nobj + 1) * 2 > fw->hcap && !hash_grow(fw))
		return 0;
	c = cell_of(fw, theirs);
	if (*c != 0 && fw->obj[*c - 1].live)
		return (CK_OBJECT_HANDLE)*c;
	if (fw->nobj == fw->cap) {
		size_t ncap = fw->cap ? fw->cap * 2 : 64;
		fwd_obj *nv = realloc(fw->obj, ncap * sizeof(*nv));

		if (nv == NULL)
			return 0;
		fw->obj = nv;
		fw->cap = ncap;
	}
	memset(&fw->obj[fw->nobj], 0, sizeof(fw->obj[0]));
	fw->obj[fw->nobj].theirs = theirs;
	fw->obj[fw->nobj].owner = owner;
	fw->obj[fw->nobj].live = true;
	*c = ++fw->nobj;
	return (CK_OBJECT_HANDLE)fw->nobj;
}

/* The live entry of ours, or NULL.  fw->lock held. */
static fwd_obj *entry_of(fwd_slot *fw, CK_OBJECT_HANDLE ours)
{
	if (ours == 0 || ours > fw->nobj || !fw->obj[ours - 1].live)
		return NULL;
	return &fw->obj[ours - 1];
}

CK_OBJECT_HANDLE fwd_handle_ours(ch_session *s, CK_OBJECT_HANDLE theirs)
{
	fwd_slot *fw = slot_of(s);
	CK_OBJECT_HANDLE h;

	pthread_mutex_lock(&fw->lock);
	h = map_locked(fw, theirs, 0);
	pthread_mutex_unlock(&fw->lock);
	return h;
}

CK_RV fwd_handle_theirs(fwd_slot *fw, CK_OBJECT_HANDLE ours, CK_OBJECT_HANDLE *theirs)
{
	fwd_obj *o;
	CK_RV rv = CKR_OBJECT_HANDLE_INVALID;

	pthread_mutex_lock(&fw->lock);
	if ((o = entry_of(fw, ours)) != NULL) {
		*theirs = o->theirs;
		rv = CKR_OK;
	}
	pthread_mutex_unlock(&fw->lock);
	return rv;
}

void fwd_handle_drop(fwd_slot *fw, CK_OBJECT_HANDLE ours)
{
	fwd_obj *o;

	pthread_mutex_lock(&fw->lock);
	if ((o = entry_of(fw, ours)) != NULL)
		o->live = false;
	pthread_mutex_unlock(&fw->lock);
}

/* Forgets every object (the backend lost them).  fw->lock held. */
static void map_clear(fwd_slot *fw)
{
	for (size_t i = 0; i < fw->nobj; i++)
		fw->obj[i].live = false;
	if (fw->hash != NULL)
		memset(fw->hash, 0, fw->hcap * sizeof(*fw->hash));
	/* Our handles are never reused: the entries stay, dead. */
	for (size_t i = 0; i < fw->nobj; i++)
		fw->obj[i].theirs = (CK_OBJECT_HANDLE)-1;
}

/* ---- the backend's health ---- */

CK_RV fwd_check(fwd_slot *fw, CK_RV rv)
{
	CK_SESSION_HANDLE anchor;
	char buf[CH_RV_TEXT_LEN];

	if (rv == CKR_GENERAL_ERROR) {
		/* A backend in a state it may not leave by itself (5.1); some
		 * (SoftHSM) also say it for bad input.  The sessions go on, and
		 * the next connection starts the module afresh. */
		pthread_mutex_lock(&fw->lock);
		fw->reset_due = true;
		pthread_mutex_unlock(&fw->lock);
		return rv;
	}
	if (!ch_hsm_lost(rv))
		return rv;
	pthread_mutex_lock(&fw->lock);
	fw->gen++;
	anchor = fw->anchor;
	fw->anchor = 0;
	fw->logged_in = false;
	fw->reset_due = true;
	map_clear(fw);
	pthread_mutex_unlock(&fw->lock);
	ch_log(CH_LOG_WARNING,
	       "forwarded registration \"%s\": the backend answered %s; its sessions are closed "
	       "and the next C_OpenSession connects again",
	       fw->name, ch_rv_text(rv, buf));
	/* Whatever the backend still holds of ours goes. */
	if (anchor != 0 && fw->hsm != NULL)
		(void)ch_hsm_fn(fw->hsm)->C_CloseAllSessions(ch_hsm_slot(fw->hsm));
	return rv;
}

CK_RV fwd_enter(ch_session *s, CK_FUNCTION_LIST **fn, CK_SESSION_HANDLE *bh)
{
	fwd_slot *fw = slot_of(s);
	fwd_session *fs = s->be;
	bool stale;

	if (fw->hsm == NULL)
		return CKR_TOKEN_NOT_PRESENT;
	pthread_mutex_lock(&fw->lock);
	stale = fs->gen != fw->gen;
	pthread_mutex_unlock(&fw->lock);
	if (stale)
		return CKR_DEVICE_REMOVED;
	*fn = ch_hsm_fn(fw->hsm);
	*bh = fs->bh;
	return CKR_OK;
}

/* ---- stable names, markers, grants and audit ---- */

/* Reads one attribute of theirs into buf (at most cap bytes): its length,
 * or -1 when the object has none or it cannot be read. */
static long attr_read(CK_FUNCTION_LIST *fn, CK_SESSION_HANDLE bh, CK_OBJECT_HANDLE theirs,
                      CK_ATTRIBUTE_TYPE type, void *buf, CK_ULONG cap)
{
	CK_ATTRIBUTE a = { type, buf, cap };

	if (fn->C_GetAttributeValue(bh, theirs, &a, 1) != CKR_OK ||
	    a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
		return -1;
	return (long)a.ulValueLen;
}

/* The stable name of theirs into out (see fwd.h). */
static CK_RV ident_of(CK_FUNCTION_LIST *fn, CK_SESSION_HANDLE bh, CK_OBJECT_HANDLE theirs,
                      char out[72])
{
	static const CK_ATTRIBUTE_TYPE parts[] = { CKA_CLASS, CKA_KEY_TYPE, CKA_ID, CKA_LABEL };
	unsigned char buf[256], md[32];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	long n;
	bool ok;

	n = attr_read(fn, bh, theirs, CKA_UNIQUE_ID, buf, 64);
	if (n > 0) {
		snprintf(out, 72, "u:%.*s", (int)n, (const char *)buf);
		return CKR_OK;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return CKR_HOST_MEMORY;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
	for (size_t i = 0; ok && i < sizeof(parts) / sizeof(parts[0]); i++) {
		uint32_t len;

		n = attr_read(fn, bh, theirs, parts[i], buf, sizeof(buf));
		len = n < 0 ? 0xffffffffu : (uint32_t)n;
		ok = EVP_DigestUpdate(ctx, &len, sizeof(len)) == 1 &&
		     (n <= 0 || EVP_DigestUpdate(ctx, buf, (size_t)n) == 1);
	}
	ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return CKR_GENERAL_ERROR;
	out[0] = 'h';
	out[1] = ':';
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(out + 2 + 2 * i, 3, "%02x", md[i]);
	return CKR_OK;
}

/* The stable name of ours, computed once.  CKR_OK or the backend's code. */
static CK_RV name_of(fwd_slot *fw, CK_SESSION_HANDLE bh, CK_OBJECT_HANDLE ours, char out[72])
{
	CK_OBJECT_HANDLE theirs;
	fwd_obj *o;
	CK_RV rv;

	pthread_mutex_lock(&fw->lock);
	if ((o = entry_of(fw, ours)) != NULL && o->named) {
		memcpy(out, o->ident, 72);
		pthread_mutex_unlock(&fw->lock);
		return CKR_OK;
	}
	pthread_mutex_unlock(&fw->lock);
	if ((rv = fwd_handle_theirs(fw, ours, &theirs)) != CKR_OK ||
	    (rv = ident_of(ch_hsm_fn(fw->hsm), bh, theirs, out)) != CKR_OK)
		return rv;
	pthread_mutex_lock(&fw->lock);
	if ((o = entry_of(fw, ours)) != NULL) {
		memcpy(o->ident, out, 72);
		o->named = true;
	}
	pthread_mutex_unlock(&fw->lock);
	return CKR_OK;
}

void fwd_handle_renamed(fwd_slot *fw, CK_OBJECT_HANDLE ours)
{
	fwd_obj *o;

	pthread_mutex_lock(&fw->lock);
	if ((o = entry_of(fw, ours)) != NULL) {
		o->classed = false;
		if (o->ident[0] == 'h')
			o->named = o->marked = false;
	}
	pthread_mutex_unlock(&fw->lock);
}

typedef struct marker_scan {
	fwd_slot *fw;
	const char *ident;
	int64_t id;
	char owner[CH_NAME_MAX + 1];
} marker_scan;

static int marker_one(void *arg, int64_t id)
{
	marker_scan *m = arg;
	soft_slot *reg = m->fw->reg;
	ch_attrs *a = NULL;
	char owner[CH_NAME_MAX + 1];
	const ch_attr *l;

	if (ch_objstore_load(reg->sf->store, reg->seal, (int64_t)reg->id, id, &a, owner) != CKR_OK)
		return 0;
	l = ch_attrs_get(a, CKA_LABEL);
	if (l != NULL && l->len == strlen(m->ident) && memcmp(l->value, m->ident, l->len) == 0) {
		m->id = id;
		memcpy(m->owner, owner, sizeof(owner));
	}
	ch_attrs_free(a);
	return m->id != 0;
}

/* The marker of ident in the store (m->id 0: none).  Registration slot and
 * store locks held. */
static CK_RV marker_find(fwd_slot *fw, const char *ident, marker_scan *m)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)ident, (CK_ULONG)strlen(ident) },
	};

	memset(m, 0, sizeof(*m));
	m->fw = fw;
	m->ident = ident;
	return ch_objstore_find(fw->reg->sf->store, fw->reg->seal, (int64_t)fw->reg->id, false, t,
	                        2, marker_one, m);
}

/* The marker and creator of ours, looked up once: *marker 0 when it has
 * none.  Takes the locks. */
static CK_RV marker_of(fwd_slot *fw, CK_SESSION_HANDLE bh, CK_OBJECT_HANDLE ours, int64_t *marker,
                       char creator[CH_NAME_MAX + 1])
{
	char ident[72];
	marker_scan m;
	fwd_obj *o;
	CK_RV rv;

	pthread_mutex_lock(&fw->lock);
	if ((o = entry_of(fw, ours)) != NULL && o->marked) {
		*marker = o->marker;
		memcpy(creator, o->creator, CH_NAME_MAX + 1);
		pthread_mutex_unlock(&fw->lock);
		return CKR_OK;
	}
	pthread_mutex_unlock(&fw->lock);
	if ((rv = name_of(fw, bh, ours, ident)) != CKR_OK)
		return rv;
	pthread_mutex_lock(&fw->reg->lock);
	pthread_mutex_lock(&fw->reg->sf->lock);
	rv = marker_find(fw, ident, &m);
	pthread_mutex_unlock(&fw->reg->sf->lock);
	pthread_mutex_unlock(&fw->reg->lock);
	if (rv != CKR_OK)
		return rv;
	*marker = m.id;
	memcpy(creator, m.owner, CH_NAME_MAX + 1);
	pthread_mutex_lock(&fw->lock);
	if ((o = entry_of(fw, ours)) != NULL) {
		o->marker = m.id;
		memcpy(o->creator, m.owner, CH_NAME_MAX + 1);
		o->marked = true;
	}
	pthread_mutex_unlock(&fw->lock);
	return CKR_OK;
}

typedef struct marker_new {
	const char *ident;
	int64_t id;
} marker_new;

static CK_RV marker_txn(soft_slot *reg, void *arg)
{
	marker_new *mn = arg;
	CK_OBJECT_CLASS cls = CKO_DATA;
	ch_attrs *a = ch_attrs_new();
	CK_RV rv = CKR_HOST_MEMORY;

	if (a != NULL && ch_attrs_set(a, CKA_CLASS, &cls, sizeof(cls)) == CKR_OK &&
	    ch_attrs_set_bool(a, CKA_TOKEN, true) == CKR_OK &&
	    ch_attrs_set_bool(a, CKA_PRIVATE, false) == CKR_OK &&
	    ch_attrs_set(a, CKA_APPLICATION, SOFT_MARKER_APP, sizeof(SOFT_MARKER_APP) - 1) ==
	            CKR_OK &&
	    ch_attrs_set(a, CKA_LABEL, mn->ident, (CK_ULONG)strlen(mn->ident)) == CKR_OK)
		rv = ch_objstore_save(reg->sf->store, reg->seal, (int64_t)reg->id, a,
		                      reg->participant, &mn->id);
	ch_attrs_free(a);
	return rv;
}

/* The marker of ours, made (owned by the logged-in participant) when it
 * has none.  Needs a participant logged in.  Takes the locks. */
static CK_RV marker_make(fwd_slot *fw, CK_SESSION_HANDLE bh, CK_OBJECT_HANDLE ours, int64_t *marker)
{
	char ident[72], creator[CH_NAME_MAX + 1];
	marker_new mn = { .ident = ident };
	fwd_obj *o;
	CK_RV rv;

	if ((rv = marker_of(fw, bh, ours, marker, creator)) != CKR_OK || *marker != 0)
		return rv;
	if ((rv = name_of(fw, bh, ours, ident)) != CKR_OK)
		return rv;
	pthread_mutex_lock(&fw->reg->lock);
	if (fw->reg->seal == NULL)
		rv = CKR_USER_NOT_LOGGED_IN;
	else
		rv = soft_txn(fw->reg, marker_txn, &mn);
	memcpy(creator, fw->reg->participant, sizeof(creator));
	pthread_mutex_unlock(&fw->reg->lock);
	if (rv != CKR_OK)
		return rv;
	*marker = mn.id;
	pthread_mutex_lock(&fw->lock);
	if ((o = entry_of(fw, ours)) != NULL) {
		o->marker = mn.id;
		memcpy(o->creator, creator, sizeof(creator));
		o->marked = true;
	}
	pthread_mutex_unlock(&fw->lock);
	return CKR_OK;
}

void fwd_note_created(ch_session *s, CK_OBJECT_HANDLE ours)
{
	fwd_slot *fw = slot_of(s);
	fwd_session *fs = s->be;
	int64_t marker;
	CK_BBOOL tok = CK_FALSE;
	CK_OBJECT_HANDLE theirs;
	CK_RV rv;

	if (fwd_handle_theirs(fw, ours, &theirs) != CKR_OK)
		return;
	if (attr_read(ch_hsm_fn(fw->hsm), fs->bh, theirs, CKA_TOKEN, &tok, sizeof(tok)) < 0 ||
	    !tok) {
		fwd_obj *o;

		/* A session object: it dies with this session. */
		pthread_mutex_lock(&fw->lock);
		if ((o = entry_of(fw, ours)) != NULL)
			o->owner = s->handle;
		pthread_mutex_unlock(&fw->lock);
		return;
	}
	if ((rv = marker_make(fw, fs->bh, ours, &marker)) != CKR_OK) {
		char buf[CH_RV_TEXT_LEN];

		ch_log(CH_LOG_WARNING,
		       "forwarded registration \"%s\": cannot record the creator of a new object: "
		       "%s",
		       fw->name, ch_rv_text(rv, buf));
	}
}

/* Is ours a private secret or private key (what grants hide)?  Read from
 * the backend once: a class never changes, and CKA_PRIVATE changes only
 * through us (fwd_handle_renamed forgets it then). */
static bool guarded_key(fwd_slot *fw, CK_SESSION_HANDLE bh, CK_OBJECT_HANDLE ours,
                        CK_OBJECT_HANDLE theirs)
{
	CK_FUNCTION_LIST *fn = ch_hsm_fn(fw->hsm);
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_BBOOL priv = CK_FALSE;
	fwd_obj *o;
	bool g;

	pthread_mutex_lock(&fw->lock);
	o = entry_of(fw, ours);
	if (o != NULL && o->classed) {
		g = o->guarded;
		pthread_mutex_unlock(&fw->lock);
		return g;
	}
	pthread_mutex_unlock(&fw->lock);
	if (attr_read(fn, bh, theirs, CKA_PRIVATE, &priv, sizeof(priv)) < 0)
		return false; /* unreadable: the backend shows it, so it is public */
	(void)attr_read(fn, bh, theirs, CKA_CLASS, &cls, sizeof(cls));
	g = priv && (cls == CKO_SECRET_KEY || cls == CKO_PRIVATE_KEY);
	pthread_mutex_lock(&fw->lock);
	if ((o = entry_of(fw, ours)) != NULL) {
		o->guarded = g;
		o->classed = true;
	}
	pthread_mutex_unlock(&fw->lock);
	return g;
}

CK_RV fwd_allowed(ch_session *s, CK_OBJECT_HANDLE ours, CK_FLAGS need)
{
	fwd_slot *fw = slot_of(s);
	fwd_session *fs = s->be;
	CK_FLAGS roles = ch_session_roles(s);
	CK_OBJECT_HANDLE theirs;
	char creator[CH_NAME_MAX + 1];
	int64_t marker;
	fwd_obj *o;
	bool session_obj, ok;
	CK_RV rv;

	pthread_mutex_lock(&fw->lock);
	o = entry_of(fw, ours);
	session_obj = o != NULL && o->owner != 0;
	if (o != NULL)
		theirs = o->theirs;
	pthread_mutex_unlock(&fw->lock);
	if (o == NULL)
		return CKR_OBJECT_HANDLE_INVALID;
	if (session_obj)
		return CKR_OK;
	if (need == 0) {
		/* Seeing: public objects, and private keys for their creator,
		 * grantees and operators. */
		if (!guarded_key(fw, fs->bh, ours, theirs) || (roles & CH_ROLE_OPERATOR))
			return CKR_OK;
	}
	if ((rv = marker_of(fw, fs->bh, ours, &marker, creator)) != CKR_OK)
		return fwd_check(fw, rv);
	pthread_mutex_lock(&fw->reg->lock);
	pthread_mutex_lock(&fw->reg->sf->lock);
	ok = soft_grant_allows(fw->reg, roles, marker != 0 ? marker : -1, creator, need);
	pthread_mutex_unlock(&fw->reg->sf->lock);
	pthread_mutex_unlock(&fw->reg->lock);
	if (ok)
		return CKR_OK;
	return need == 0 ? CKR_OBJECT_HANDLE_INVALID : CKR_KEY_FUNCTION_NOT_PERMITTED;
}

/* An attribute set naming ours by its stable name, for the audit log. */
static ch_attrs *audit_obj(ch_session *s, CK_OBJECT_HANDLE ours)
{
	fwd_session *fs = s->be;
	char ident[72];
	ch_attrs *a;

	if (ours == 0 || name_of(slot_of(s), fs->bh, ours, ident) != CKR_OK ||
	    (a = ch_attrs_new()) == NULL)
		return NULL;
	if (ch_attrs_set(a, CKA_UNIQUE_ID, ident, (CK_ULONG)strlen(ident)) != CKR_OK) {
		ch_attrs_free(a);
		return NULL;
	}
	return a;
}

void fwd_audit(ch_session *s, const char *op, CK_OBJECT_HANDLE ours, CK_RV rv)
{
	soft_slot *reg = slot_of(s)->reg;
	ch_attrs *a = audit_obj(s, ours);

	pthread_mutex_lock(&reg->lock);
	soft_audit(reg, reg->seal, reg->seal != NULL ? reg->participant : SOFT_NAME_DEFAULT, op, a,
	           rv, NULL);
	pthread_mutex_unlock(&reg->lock);
	ch_attrs_free(a);
}

void fwd_audit_use(ch_session *s, CK_OBJECT_HANDLE ours, const char *op)
{
	soft_slot *reg = slot_of(s)->reg;
	ch_attrs *a = audit_obj(s, ours);

	if (a == NULL)
		return;
	pthread_mutex_lock(&reg->lock);
	soft_audit_use(reg, a, op);
	pthread_mutex_unlock(&reg->lock);
	ch_attrs_free(a);
}

bool fwd_legacy_key_roles(fwd_slot *fw)
{
	bool r;

	pthread_mutex_lock(&fw->reg->lock);
	r = soft_legacy_key_roles(fw->reg);
	pthread_mutex_unlock(&fw->reg->lock);
	return r;
}

/* ---- slot and token ---- */

fwd_slot *fwd_slot_new(ch_soft *sf, const ch_hsm_conf *c, CK_SLOT_ID id)
{
	fwd_slot *fw = calloc(1, sizeof(*fw));

	if (fw == NULL || (fw->reg = soft_slot_alloc(sf, id)) == NULL) {
		free(fw);
		return NULL;
	}
	fw->id = id;
	snprintf(fw->name, sizeof(fw->name), "%s", c->name);
	pthread_mutex_init(&fw->lock, NULL);
	if (ch_hsm_open(c, &fw->hsm) != CKR_OK) {
		fw->hsm = NULL;
		ch_log(CH_LOG_ERROR,
		       "forwarded registration \"%s\" (slot %lu): no token until the "
		       "backend is fixed",
		       c->name, (unsigned long)id);
	}
	snprintf(fw->desc, sizeof(fw->desc), "Cipher Hub forwarding to %s",
	         strrchr(c->module, '/') ? strrchr(c->module, '/') + 1 : c->module);
	return fw;
}

void fwd_slot_free(fwd_slot *fw)
{
	if (fw == NULL)
		return;
	ch_hsm_close(fw->hsm);
	soft_slot_free(fw->reg);
	free(fw->obj);
	free(fw->hash);
	pthread_mutex_destroy(&fw->lock);
	free(fw);
}

static void fwd_slot_info(void *be, CK_SLOT_INFO *info)
{
	fwd_slot *fw = be;

	ch_pad(info->slotDescription, sizeof(info->slotDescription), fw->desc);
	if (fw->hsm == NULL)
		info->flags &= ~(CK_FLAGS)CKF_TOKEN_PRESENT;
}

static CK_RV fwd_token_info(void *be, CK_TOKEN_INFO *info)
{
	fwd_slot *fw = be;
	CK_RV rv;

	if (fw->hsm == NULL)
		return CKR_TOKEN_NOT_PRESENT;
	rv = ch_soft_ops.token_info(fw->reg, info);
	ch_pad(info->label, sizeof(info->label), fw->name);
	ch_pad(info->model, sizeof(info->model), "forwarded");
	return rv;
}

static CK_RV fwd_init_token(void *be, const CK_UTF8CHAR *so_pin, CK_ULONG len,
                            const CK_UTF8CHAR label[32])
{
	fwd_slot *fw = be;
	CK_UTF8CHAR want[32];

	if (fw->hsm == NULL)
		return CKR_TOKEN_NOT_PRESENT;
	/* The registration's name is the configuration's. */
	ch_pad(want, sizeof(want), fw->name);
	if (memcmp(want, label, sizeof(want)) != 0) {
		ch_log(CH_LOG_INFO, "slot %lu: C_InitToken: the label must be \"%s\"",
		       (unsigned long)fw->id, fw->name);
		return CKR_ARGUMENTS_BAD;
	}
	return ch_soft_ops.init_token(fw->reg, so_pin, len, label);
}

/* Mechanisms whose parameters carry object handles we do not translate:
 * not offered. */
static bool mech_hidden(CK_MECHANISM_TYPE m)
{
	switch (m) {
	case CKM_ECMQV_DERIVE:
	case CKM_X9_42_DH_HYBRID_DERIVE:
	case CKM_X9_42_MQV_DERIVE:
	case CKM_SP800_108_COUNTER_KDF:
	case CKM_SP800_108_FEEDBACK_KDF:
	case CKM_SP800_108_DOUBLE_PIPELINE_KDF:
		return true;
	default:
		return false;
	}
}

static CK_RV fwd_mechanism_list(void *be, CK_MECHANISM_TYPE *list, CK_ULONG *count)
{
	fwd_slot *fw = be;
	CK_FUNCTION_LIST *fn;
	CK_MECHANISM_TYPE *all = NULL;
	CK_ULONG n = 0, k = 0;
	CK_RV rv;

	if (fw->hsm == NULL)
		return CKR_TOKEN_NOT_PRESENT;
	fn = ch_hsm_fn(fw->hsm);
	if ((rv = fn->C_GetMechanismList(ch_hsm_slot(fw->hsm), NULL, &n)) != CKR_OK)
		return fwd_check(fw, rv);
	if (n > 0 && (all = calloc(n, sizeof(*all))) == NULL)
		return CKR_HOST_MEMORY;
	if (n > 0 && (rv = fn->C_GetMechanismList(ch_hsm_slot(fw->hsm), all, &n)) != CKR_OK) {
		free(all);
		return fwd_check(fw, rv);
	}
	for (CK_ULONG i = 0; i < n; i++) {
		if (mech_hidden(all[i]))
			continue;
		if (list != NULL && k < *count)
			list[k] = all[i];
		k++;
	}
	free(all);
	rv = list != NULL && k > *count ? CKR_BUFFER_TOO_SMALL : CKR_OK;
	*count = k;
	return rv;
}

static CK_RV fwd_mechanism_info(void *be, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info)
{
	fwd_slot *fw = be;

	if (fw->hsm == NULL)
		return CKR_TOKEN_NOT_PRESENT;
	if (mech_hidden(type))
		return CKR_MECHANISM_INVALID;
	return fwd_check(fw,
	                 ch_hsm_fn(fw->hsm)->C_GetMechanismInfo(ch_hsm_slot(fw->hsm), type, info));
}

/* ---- the registration's side: the software token's code on fw->reg ---- */

static CK_RV fwd_registration_info(void *be, CH_REGISTRATION_INFO *info)
{
	CK_RV rv = ch_soft_ops.registration_info(((fwd_slot *)be)->reg, info);

	/* The store holds only grant markers; the objects are the HSM's. */
	if (rv == CKR_OK)
		info->objectCount = CK_UNAVAILABLE_INFORMATION;
	return rv;
}

static CK_RV fwd_init_pin(void *be, const CK_UTF8CHAR *pin, CK_ULONG len)
{
	return ch_soft_ops.init_pin(((fwd_slot *)be)->reg, pin, len);
}

static CK_RV fwd_set_pin(void *be, CK_USER_TYPE who, const char *name, const CK_UTF8CHAR *old_pin,
                         CK_ULONG old_len, const CK_UTF8CHAR *new_pin, CK_ULONG new_len)
{
	return ch_soft_ops.set_pin(((fwd_slot *)be)->reg, who, name, old_pin, old_len, new_pin,
	                           new_len);
}

static CK_RV fwd_participant_add(void *be, const char *name, CK_FLAGS roles, const CK_UTF8CHAR *pin,
                                 CK_ULONG len)
{
	return ch_soft_ops.participant_add(((fwd_slot *)be)->reg, name, roles, pin, len);
}

static CK_RV fwd_participant_remove(void *be, const char *name)
{
	return ch_soft_ops.participant_remove(((fwd_slot *)be)->reg, name);
}

static CK_RV fwd_participant_list(void *be, CH_PARTICIPANT_INFO *list, CK_ULONG *count)
{
	return ch_soft_ops.participant_list(((fwd_slot *)be)->reg, list, count);
}

static CK_RV fwd_participant_set_roles(void *be, const char *name, CK_FLAGS roles)
{
	return ch_soft_ops.participant_set_roles(((fwd_slot *)be)->reg, name, roles);
}

static CK_RV fwd_participant_unlock(void *be, const char *name)
{
	return ch_soft_ops.participant_unlock(((fwd_slot *)be)->reg, name);
}

static CK_RV fwd_audit_read(void *be, CK_ULONG from, CH_AUDIT_RECORD *list, CK_ULONG *count)
{
	return ch_soft_ops.audit_read(((fwd_slot *)be)->reg, from, list, count);
}

static CK_RV fwd_audit_verify(void *be, CK_ULONG *first_bad, CK_ULONG *unauthenticated)
{
	return ch_soft_ops.audit_verify(((fwd_slot *)be)->reg, first_bad, unauthenticated);
}

/* The backend session that holds the login, for calls made outside any
 * client session: CKR_OK, or CKR_DEVICE_REMOVED when it is gone. */
static CK_RV anchor_of(fwd_slot *fw, CK_SESSION_HANDLE *anchor)
{
	pthread_mutex_lock(&fw->lock);
	*anchor = fw->anchor;
	pthread_mutex_unlock(&fw->lock);
	return *anchor != 0 ? CKR_OK : CKR_DEVICE_REMOVED;
}

static CK_RV fwd_recovery_setup(void *be, CK_BYTE key[CH_RECOVERY_KEY_LEN])
{
	return ch_soft_ops.recovery_setup(((fwd_slot *)be)->reg, key);
}

static CK_RV fwd_recover(void *be, const CK_BYTE *key, CK_ULONG len, const CK_UTF8CHAR *pin,
                         CK_ULONG pin_len)
{
	return ch_soft_ops.recover(((fwd_slot *)be)->reg, key, len, pin, pin_len);
}

/* CKR_OK when ours is a key, else CKR_KEY_HANDLE_INVALID. */
static CK_RV key_class_ok(fwd_slot *fw, CK_SESSION_HANDLE bh, CK_OBJECT_HANDLE ours)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_OBJECT_HANDLE theirs;

	if (fwd_handle_theirs(fw, ours, &theirs) != CKR_OK ||
	    attr_read(ch_hsm_fn(fw->hsm), bh, theirs, CKA_CLASS, &cls, sizeof(cls)) < 0)
		return CKR_KEY_HANDLE_INVALID;
	return cls == CKO_SECRET_KEY || cls == CKO_PRIVATE_KEY || cls == CKO_PUBLIC_KEY
	               ? CKR_OK
	               : CKR_KEY_HANDLE_INVALID;
}

/* Grants hang on the key's marker (made on first grant). */
static CK_RV fwd_grant_set(void *be, CK_OBJECT_HANDLE key, const char *grantee, CK_FLAGS ops)
{
	fwd_slot *fw = be;
	CK_SESSION_HANDLE anchor;
	int64_t marker;
	CK_RV rv;

	if ((rv = anchor_of(fw, &anchor)) != CKR_OK)
		return rv;
	if ((rv = key_class_ok(fw, anchor, key)) != CKR_OK ||
	    (rv = marker_make(fw, anchor, key, &marker)) != CKR_OK)
		return rv == CKR_OBJECT_HANDLE_INVALID ? CKR_KEY_HANDLE_INVALID : rv;
	return ch_soft_ops.grant_set(fw->reg, (CK_OBJECT_HANDLE)marker, grantee, ops);
}

static CK_RV fwd_grant_list(void *be, CK_OBJECT_HANDLE key, CH_GRANT_INFO *list, CK_ULONG *count)
{
	fwd_slot *fw = be;
	char creator[CH_NAME_MAX + 1];
	CK_SESSION_HANDLE anchor;
	int64_t marker;
	CK_RV rv;

	if ((rv = anchor_of(fw, &anchor)) != CKR_OK)
		return rv;
	if ((rv = marker_of(fw, anchor, key, &marker, creator)) != CKR_OK)
		return rv == CKR_OBJECT_HANDLE_INVALID ? CKR_KEY_HANDLE_INVALID : rv;
	if (marker == 0) {
		*count = 0;
		return CKR_OK;
	}
	return ch_soft_ops.grant_list(fw->reg, (CK_OBJECT_HANDLE)marker, list, count);
}

/* ---- login ---- */

/* Does a login as who with roles work with keys (and so see private
 * objects)?  The SO and pure auditors do not, as in software registrations:
 * for them the backend stays logged out and hides its private objects. */
static bool works_with_keys(CK_USER_TYPE who, CK_FLAGS roles)
{
	return who == CKU_USER && (roles & (CH_ROLE_USER | CH_ROLE_OPERATOR)) != 0;
}

/* Participants log in against Cipher Hub; a participant who may use keys
 * brings the backend's user login with it. */
static CK_RV fwd_login(void *be, CK_USER_TYPE who, const char *name, const CK_UTF8CHAR *pin,
                       CK_ULONG len, CK_FLAGS *roles)
{
	fwd_slot *fw = be;
	CK_SESSION_HANDLE anchor;
	CK_RV rv;

	if (fw->hsm == NULL)
		return CKR_TOKEN_NOT_PRESENT;
	if ((rv = ch_soft_ops.login(fw->reg, who, name, pin, len, roles)) != CKR_OK ||
	    !works_with_keys(who, *roles))
		return rv;
	pthread_mutex_lock(&fw->lock);
	anchor = fw->anchor;
	pthread_mutex_unlock(&fw->lock);
	rv = anchor != 0 ? ch_hsm_login(fw->hsm, anchor) : CKR_DEVICE_REMOVED;
	if (rv != CKR_OK) {
		ch_soft_ops.logout(fw->reg);
		return ch_hsm_lost(rv) ? fwd_check(fw, rv) : CKR_DEVICE_ERROR;
	}
	pthread_mutex_lock(&fw->lock);
	fw->logged_in = true;
	pthread_mutex_unlock(&fw->lock);
	return CKR_OK;
}

/* After the backend's logout its handles to private objects are invalid
 * for good (5.6 C_Logout): ours to them die too, so a handle of ours never
 * comes to mean another object. */
static void sweep(fwd_slot *fw, CK_SESSION_HANDLE bh)
{
	CK_FUNCTION_LIST *fn = ch_hsm_fn(fw->hsm);

	pthread_mutex_lock(&fw->lock);
	for (size_t i = 0; i < fw->nobj; i++) {
		CK_OBJECT_CLASS cls;
		CK_ATTRIBUTE a = { CKA_CLASS, &cls, sizeof(cls) };

		if (fw->obj[i].live && fn->C_GetAttributeValue(bh, fw->obj[i].theirs, &a, 1) ==
		                               CKR_OBJECT_HANDLE_INVALID)
			fw->obj[i].live = false;
	}
	pthread_mutex_unlock(&fw->lock);
}

static void fwd_logout(void *be)
{
	fwd_slot *fw = be;
	CK_SESSION_HANDLE anchor;
	bool was;

	ch_soft_ops.logout(fw->reg);
	pthread_mutex_lock(&fw->lock);
	anchor = fw->anchor;
	was = fw->logged_in;
	fw->logged_in = false;
	pthread_mutex_unlock(&fw->lock);
	if (was && anchor != 0 && fwd_check(fw, ch_hsm_fn(fw->hsm)->C_Logout(anchor)) == CKR_OK)
		sweep(fw, anchor);
}

/* ---- sessions ---- */

/* Connects again after a loss: the anchor session, and the backend login
 * when a participant is logged in.  Front end's slot lock held. */
static CK_RV connect(ch_session *s, fwd_slot *fw)
{
	CK_FUNCTION_LIST *fn = ch_hsm_fn(fw->hsm);
	CK_SESSION_HANDLE anchor = 0;
	bool reset, login;
	CK_RV rv;

	pthread_mutex_lock(&fw->lock);
	anchor = fw->anchor;
	reset = fw->reset_due && anchor == 0;
	if (reset)
		fw->reset_due = false;
	pthread_mutex_unlock(&fw->lock);
	if (anchor != 0)
		return CKR_OK;
	/* After a loss, a module of ours starts afresh: some (SoftHSM) go on
	 * opening sessions on a token that is gone until then. */
	if (reset)
		(void)ch_hsm_reset(fw->hsm);
	/* After a loss the token may sit in another slot, or (some modules)
	 * show again only once the module is initialized anew. */
	rv = ch_hsm_session(fw->hsm, CKF_SERIAL_SESSION, &anchor);
	if (rv != CKR_OK && ch_hsm_reset(fw->hsm) == CKR_OK)
		rv = ch_hsm_session(fw->hsm, CKF_SERIAL_SESSION, &anchor);
	if (rv != CKR_OK)
		return rv;
	/* The slot lock is held: read the login state directly. */
	login = works_with_keys(s->slot->user, s->slot->roles);
	if (login && (rv = ch_hsm_login(fw->hsm, anchor)) != CKR_OK) {
		fn->C_CloseSession(anchor);
		return ch_hsm_lost(rv) ? rv : CKR_DEVICE_ERROR;
	}
	pthread_mutex_lock(&fw->lock);
	fw->anchor = anchor;
	fw->logged_in = login;
	pthread_mutex_unlock(&fw->lock);
	return CKR_OK;
}

static CK_RV fwd_session_open(ch_session *s)
{
	fwd_slot *fw = slot_of(s);
	fwd_session *fs;
	CK_FUNCTION_LIST *fn;
	CK_FLAGS flags = CKF_SERIAL_SESSION | (ch_session_rw(s) ? CKF_RW_SESSION : 0);
	CK_RV rv;

	if (fw->hsm == NULL)
		return CKR_TOKEN_NOT_PRESENT;
	if ((fs = calloc(1, sizeof(*fs))) == NULL)
		return CKR_HOST_MEMORY;
	fn = ch_hsm_fn(fw->hsm);
	if ((rv = connect(s, fw)) != CKR_OK ||
	    (rv = fn->C_OpenSession(ch_hsm_slot(fw->hsm), flags, NULL, NULL, &fs->bh)) != CKR_OK) {
		free(fs);
		return fwd_check(fw, rv);
	}
	pthread_mutex_lock(&fw->lock);
	fs->gen = fw->gen;
	fw->sessions++;
	pthread_mutex_unlock(&fw->lock);
	s->be = fs;
	return CKR_OK;
}

static void fwd_session_close(ch_session *s)
{
	fwd_slot *fw = slot_of(s);
	fwd_session *fs = s->be;
	CK_SESSION_HANDLE anchor = 0;
	bool current;

	if (fs == NULL)
		return;
	pthread_mutex_lock(&fw->lock);
	current = fs->gen == fw->gen;
	for (size_t i = 0; i < fw->nobj; i++)
		if (fw->obj[i].owner == s->handle)
			fw->obj[i].live = false;
	if (--fw->sessions == 0 && current) {
		anchor = fw->anchor;
		fw->anchor = 0;
		fw->logged_in = false;
	}
	pthread_mutex_unlock(&fw->lock);
	if (current) {
		CK_FUNCTION_LIST *fn = ch_hsm_fn(fw->hsm);

		(void)fn->C_CloseSession(fs->bh);
		if (anchor != 0)
			(void)fn->C_CloseSession(anchor);
	}
	free(fs);
	s->be = NULL;
}

const ch_backend_ops ch_fwd_ops = {
	.name = "forward",
	.slot_info = fwd_slot_info,
	.token_info = fwd_token_info,
	.init_token = fwd_init_token,
	.init_pin = fwd_init_pin,
	.set_pin = fwd_set_pin,
	.mechanism_list = fwd_mechanism_list,
	.mechanism_info = fwd_mechanism_info,
	.registration_info = fwd_registration_info,
	.login = fwd_login,
	.logout = fwd_logout,
	.participant_add = fwd_participant_add,
	.participant_remove = fwd_participant_remove,
	.participant_list = fwd_participant_list,
	.participant_set_roles = fwd_participant_set_roles,
	.participant_unlock = fwd_participant_unlock,
	.grant_set = fwd_grant_set,
	.grant_list = fwd_grant_list,
	.audit_read = fwd_audit_read,
	.audit_verify = fwd_audit_verify,
	.recovery_setup = fwd_recovery_setup,
	.recover = fwd_recover,
	.session_open = fwd_session_open,
	.session_close = fwd_session_close,
	.create_object = fwd_create_object,
	.copy_object = fwd_copy_object,
	.destroy_object = fwd_destroy_object,
	.object_size = fwd_object_size,
	.get_attributes = fwd_get_attributes,
	.set_attributes = fwd_set_attributes,
	.find_init = fwd_find_init,
	.find = fwd_find,
	.find_final = fwd_find_final,
	.op_init = fwd_op_init,
	.op_oneshot = fwd_op_oneshot,
	.op_update = fwd_op_update,
	.op_final = fwd_op_final,
	.op_verify = fwd_op_verify,
	.op_verify_final = fwd_op_verify_final,
	.generate_key = fwd_generate_key,
	.generate_key_pair = fwd_generate_key_pair,
	.random = fwd_random,
	.wrap_key = fwd_wrap_key,
	.unwrap_key = fwd_unwrap_key,
	.derive_key = fwd_derive_key,
	.digest_key = fwd_digest_key,
	/* No message-based functions: the backend's 2.40 table has none. */
};
