/*
 * The software token's slots: registrations, their tokens, PINs and login.
 *
 * A registration is a row in the store plus a random registration key that
 * exists in clear only in memory, while someone is logged in; in the store it
 * is wrapped under each PIN (seal.h).  The free slot is the ID the next
 * registration will take; C_InitToken on it creates that registration (with
 * an HSM root when [root:NAME] is configured for its name: soft_root.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "audit.h"
#include "log.h"
#include "util.h"
#include "mech.h"
#include "object.h"
#include "objstore.h"
#include "fwd.h"
#include "soft_internal.h"

/* ---- the store and its slots ---- */

/* Slot IDs for the [forward:] sections: the ID of the registration of that
 * name when the store has one, else the lowest ID of the forwarded range no
 * registration or earlier section holds. */
typedef struct fwd_ids {
	ch_reg_row *rows;
	size_t n;
} fwd_ids;

static int collect_fwd_row(void *arg, const ch_reg_row *r)
{
	fwd_ids *f = arg;
	ch_reg_row *nv;

	if (r->id < CH_FWD_SLOT_BASE)
		return 0;
	if ((nv = realloc(f->rows, (f->n + 1) * sizeof(*nv))) == NULL)
		return 1;
	f->rows = nv;
	f->rows[f->n++] = *r;
	return 0;
}

static bool fwd_id_taken(const ch_soft *sf, const fwd_ids *f, int64_t id)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->rows[i].id == id)
			return true;
	for (size_t i = 0; i < sf->nfwd; i++)
		if ((int64_t)sf->fwd[i]->id == id)
			return true;
	return false;
}

static CK_RV open_forwarded(ch_soft *sf, const ch_config *cfg)
{
	fwd_ids f = { 0 };
	CK_RV rv;

	if (cfg->nforward == 0)
		return CKR_OK;
	if ((rv = ch_store_reg_each(sf->store, collect_fwd_row, &f)) != CKR_OK)
		goto out;
	if ((sf->fwd = calloc(cfg->nforward, sizeof(*sf->fwd))) == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	for (size_t i = 0; i < cfg->nforward; i++) {
		const ch_reg_row *row = NULL;
		int64_t id = CH_FWD_SLOT_BASE;
		fwd_slot *fw;

		for (size_t j = 0; j < f.n; j++)
			if (strcmp(f.rows[j].label, cfg->forward[i].name) == 0)
				row = &f.rows[j];
		if (row != NULL)
			id = row->id;
		else
			while (fwd_id_taken(sf, &f, id))
				id++;
		if ((fw = fwd_slot_new(sf, &cfg->forward[i], (CK_SLOT_ID)id)) == NULL) {
			rv = CKR_HOST_MEMORY;
			goto out;
		}
		if (row != NULL) {
			fw->reg->reg = *row;
			fw->reg->initialized = true;
		}
		sf->fwd[sf->nfwd++] = fw;
	}
out:
	free(f.rows);
	return rv;
}

CK_RV ch_soft_open(const ch_config *cfg, ch_soft **out)
{
	ch_soft *sf = calloc(1, sizeof(*sf));
	CK_RV rv = CKR_HOST_MEMORY;

	*out = NULL;
	if (sf == NULL)
		goto out;
	pthread_mutex_init(&sf->lock, NULL);
	sf->kdf = cfg->kdf;
	sf->max_failures = cfg->max_failures;
	if (cfg->legacy_key_roles != NULL &&
	    (sf->legacy_key_roles = strdup(cfg->legacy_key_roles)) == NULL)
		goto out;
	sf->next_sobj = SOFT_SESSION_HANDLE_BASE;
	if ((rv = ch_store_open(cfg->store_path, &sf->store)) != CKR_OK ||
	    (rv = open_forwarded(sf, cfg)) != CKR_OK || (rv = soft_roots_open(sf, cfg)) != CKR_OK)
		goto out;
	*out = sf;
	sf = NULL; /* transferred */
out:
	ch_soft_close(sf);
	return rv;
}

soft_slot *soft_slot_alloc(ch_soft *sf, CK_SLOT_ID id)
{
	soft_slot *sl = calloc(1, sizeof(*sl));

	if (sl == NULL)
		return NULL;
	/* Its own key-use counts: a flush MACs them with this registration's
	 * seal, never leaving another's unauthenticated. */
	if ((sl->agg = ch_audit_agg_new()) == NULL) {
		free(sl);
		return NULL;
	}
	sl->sf = sf;
	sl->id = id;
	pthread_mutex_init(&sl->lock, NULL);
	return sl;
}

void soft_slot_free(soft_slot *sl)
{
	if (sl == NULL)
		return;
	for (size_t i = 0; i < sl->nsobj; i++)
		ch_attrs_free(sl->sobj[i].attrs);
	free(sl->sobj);
	soft_keycache_clear(sl);
	ch_seal_free(sl->seal);
	OPENSSL_cleanse(sl->regkey, sizeof(sl->regkey));
	ch_audit_agg_free(sl->agg);
	pthread_mutex_destroy(&sl->lock);
	free(sl);
}

void ch_soft_close(ch_soft *sf)
{
	if (sf == NULL)
		return;
	/* Pending key-use counts are written, MACed by each logged-in slot. */
	for (size_t i = 0; sf->store != NULL && i < sf->nslot; i++)
		soft_audit_flush(sf->slot[i]);
	for (size_t i = 0; sf->store != NULL && i < sf->nfwd; i++)
		soft_audit_flush(sf->fwd[i]->reg);
	for (size_t i = 0; i < sf->nslot; i++)
		soft_slot_free(sf->slot[i]);
	for (size_t i = 0; i < sf->nfwd; i++)
		fwd_slot_free(sf->fwd[i]);
	free(sf->slot);
	free(sf->fwd);
	soft_roots_close(sf);
	ch_store_close(sf->store);
	pthread_mutex_destroy(&sf->lock);
	free(sf->legacy_key_roles);
	free(sf);
}

bool soft_legacy_key_roles(const soft_slot *sl)
{
	const char *p = sl->sf->legacy_key_roles;
	size_t n = strlen(sl->reg.label), w;

	while (p != NULL && *p != '\0') {
		p += strspn(p, " ,\t");
		w = strcspn(p, " ,\t");
		if (w > 0 && w == n && memcmp(p, sl->reg.label, n) == 0)
			return sl->initialized;
		p += w;
	}
	return false;
}

/* The slot with that ID, created (uninitialized) if new.  sf->lock held. */
static soft_slot *slot_get(ch_soft *sf, CK_SLOT_ID id)
{
	soft_slot *sl, **nv;

	for (size_t i = 0; i < sf->nslot; i++)
		if (sf->slot[i]->id == id)
			return sf->slot[i];
	if ((nv = realloc(sf->slot, (sf->nslot + 1) * sizeof(*nv))) == NULL)
		return NULL;
	sf->slot = nv;
	if ((sl = soft_slot_alloc(sf, id)) == NULL)
		return NULL;
	sf->slot[sf->nslot++] = sl;
	return sl;
}

static int slot_from_row(void *arg, const ch_reg_row *r)
{
	ch_soft *sf = arg;
	soft_slot *sl;

	/* A forwarded registration belongs to its [forward:] section, if any. */
	if (r->id >= CH_FWD_SLOT_BASE) {
		for (size_t i = 0; i < sf->nfwd; i++) {
			soft_slot *reg = sf->fwd[i]->reg;

			if (strcmp(sf->fwd[i]->name, r->label) == 0 &&
			    reg->id == (CK_SLOT_ID)r->id) {
				pthread_mutex_lock(&reg->lock);
				reg->reg = *r;
				reg->initialized = true;
				pthread_mutex_unlock(&reg->lock);
			}
		}
		return 0;
	}
	sl = slot_get(sf, (CK_SLOT_ID)r->id);

	if (sl == NULL)
		return 1;
	sl->reg = *r;
	sl->initialized = true;
	return 0;
}

CK_RV ch_soft_slots(ch_soft *sf,
                    void (*add)(void *arg, CK_SLOT_ID id, const ch_backend_ops *ops, void *be),
                    void *arg)
{
	int64_t next;
	CK_RV rv = CKR_OK;

	pthread_mutex_lock(&sf->lock);
	/* data_version moves only for other connections' commits. */
	if (ch_store_changed(sf->store) || sf->stale || sf->nslot == 0) {
		sf->stale = false;
		if ((rv = ch_store_reg_each(sf->store, slot_from_row, sf)) != CKR_OK ||
		    (rv = ch_store_reg_next_id(sf->store, &next)) != CKR_OK)
			goto out;
		if (slot_get(sf, (CK_SLOT_ID)next) == NULL) {
			rv = CKR_HOST_MEMORY;
			goto out;
		}
	}
	for (size_t i = 0; i < sf->nslot; i++)
		add(arg, sf->slot[i]->id, &ch_soft_ops, sf->slot[i]);
	for (size_t i = 0; i < sf->nfwd; i++)
		add(arg, sf->fwd[i]->id, &ch_fwd_ops, sf->fwd[i]);
out:
	pthread_mutex_unlock(&sf->lock);
	return rv;
}

bool soft_label_forwarded(const ch_soft *sf, const char *label, const char *what)
{
	for (size_t i = 0; i < sf->nfwd; i++) {
		if (strcmp(sf->fwd[i]->name, label) == 0) {
			ch_log(CH_LOG_INFO,
			       "%s: \"%s\" is forwarded (the registration of slot %lu)", what,
			       label, (unsigned long)sf->fwd[i]->id);
			return true;
		}
	}
	return false;
}

CK_RV soft_txn(soft_slot *sl, CK_RV (*fn)(soft_slot *sl, void *arg), void *arg)
{
	ch_soft *sf = sl->sf;
	CK_RV rv;

	pthread_mutex_lock(&sf->lock);
	if ((rv = ch_store_begin(sf->store)) == CKR_OK) {
		rv = fn(sl, arg);
		if (rv == CKR_OK)
			rv = ch_store_commit(sf->store);
		else
			ch_store_rollback(sf->store);
	}
	pthread_mutex_unlock(&sf->lock);
	return rv;
}

CK_RV soft_slot_refresh(soft_slot *sl)
{
	ch_reg_row r;
	CK_RV rv;

	pthread_mutex_lock(&sl->sf->lock);
	rv = ch_store_reg_get(sl->sf->store, (int64_t)sl->id, &r);
	pthread_mutex_unlock(&sl->sf->lock);
	if (rv == CKR_OK) {
		sl->reg = r;
		sl->initialized = true;
	} else if (rv == CKR_SLOT_ID_INVALID) {
		rv = CKR_OK; /* still free */
	}
	return rv;
}

/* ---- token information ---- */

static CK_RV soft_token_info(void *be, CK_TOKEN_INFO *info)
{
	soft_slot *sl = be;
	char serial[17];
	CK_RV rv;

	pthread_mutex_lock(&sl->lock);
	rv = soft_slot_refresh(sl);
	memset(info, 0, sizeof(*info));
	ch_pad(info->label, sizeof(info->label), sl->initialized ? sl->reg.label : "");
	ch_pad(info->manufacturerID, sizeof(info->manufacturerID), "Cipher Hub");
	ch_pad(info->model, sizeof(info->model), "registration");
	for (int i = 0; i < 8; i++)
		snprintf(serial + 2 * i, 3, "%02x", sl->reg.uuid[i]);
	ch_pad(info->serialNumber, sizeof(info->serialNumber), sl->initialized ? serial : "");
	info->flags = CKF_RNG;
	if (sl->initialized) {
		info->flags |= CKF_TOKEN_INITIALIZED | CKF_LOGIN_REQUIRED;
		if (sl->reg.user_pin_set)
			info->flags |= CKF_USER_PIN_INITIALIZED;
		info->flags |= soft_token_pin_flags(sl);
	}
	pthread_mutex_unlock(&sl->lock);
	info->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
	info->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
	info->ulMaxPinLen = SOFT_PIN_MAX;
	info->ulMinPinLen = SOFT_PIN_MIN;
	info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
	info->hardwareVersion.major = 0;
	info->hardwareVersion.minor = 1;
	info->firmwareVersion.major = 0;
	info->firmwareVersion.minor = 1;
	return rv;
}

static CK_RV soft_registration_info(void *be, CH_REGISTRATION_INFO *info)
{
	soft_slot *sl = be;
	ch_cred c;
	CK_RV rv;

	memset(info, 0, sizeof(*info));
	pthread_mutex_lock(&sl->lock);
	if ((rv = soft_slot_refresh(sl)) != CKR_OK)
		goto out;
	if (!sl->initialized) {
		rv = CKR_TOKEN_NOT_RECOGNIZED;
		goto out;
	}
	memcpy(info->uuid, sl->reg.uuid, CH_UUID_LEN);
	ch_pad(info->name, sizeof(info->name), sl->reg.label);
	info->schemaVersion = CH_STORE_SCHEMA_VERSION;
	pthread_mutex_lock(&sl->sf->lock);
	rv = ch_store_obj_count(sl->sf->store, (int64_t)sl->id, &info->objectCount);
	if (rv == CKR_OK)
		rv = ch_store_cred_get(sl->sf->store, (int64_t)sl->id, CKU_SO, "", &c);
	pthread_mutex_unlock(&sl->sf->lock);
	if (rv == CKR_OK) {
		info->kdfIterationsOrCost =
		        c.w.kdf.alg == CH_KDF_SCRYPT ? c.w.kdf.log2n : c.w.kdf.iterations;
		ch_pad(info->kdfName, sizeof(info->kdfName), ch_kdf_name(c.w.kdf.alg));
	}
out:
	pthread_mutex_unlock(&sl->lock);
	return rv;
}

static CK_RV soft_mechanism_list(void *be, CK_MECHANISM_TYPE *list, CK_ULONG *count)
{
	CK_ULONG n = ch_mech_count();
	CK_RV rv = CKR_OK;

	if (list != NULL) {
		if (*count < n)
			rv = CKR_BUFFER_TOO_SMALL;
		else
			for (CK_ULONG i = 0; i < n; i++)
				list[i] = ch_mech_type_at(i);
	}
	*count = n;
	return rv;
}

static CK_RV soft_mechanism_info(void *be, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info)
{
	return ch_mech_info(type, info);
}

int soft_collect_id(void *arg, int64_t id)
{
	soft_id_list *l = arg;

	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 64;
		int64_t *nv = realloc(l->v, ncap * sizeof(*nv));
		if (nv == NULL) {
			l->oom = true;
			return 1;
		}
		l->v = nv;
		l->cap = ncap;
	}
	l->v[l->n++] = id;
	return 0;
}

/* Destroys every destroyable object of a registration (C_InitToken on an
 * initialized token).  Store lock and transaction held. */
static CK_RV erase_objects(soft_slot *sl, const ch_seal *seal)
{
	soft_id_list ids = { 0 };
	CK_RV rv;

	rv = ch_store_find(sl->sf->store, (int64_t)sl->id, true, NULL, 0, soft_collect_id, &ids);
	if (rv == CKR_OK && ids.oom)
		rv = CKR_HOST_MEMORY;
	for (size_t i = 0; rv == CKR_OK && i < ids.n; i++) {
		ch_attrs *a = NULL;
		CK_RV lrv =
		        ch_objstore_load(sl->sf->store, seal, (int64_t)sl->id, ids.v[i], &a, NULL);

		/* Unreadable (tampered) objects are erased too, and secrets
		 * whatever their CKA_DESTROYABLE (a store from before that
		 * rule may hold one): their values must not outlive it. */
		if (lrv != CKR_OK || ch_object_may_destroy(a) == CKR_OK || ch_object_is_secret(a))
			rv = ch_store_obj_delete(sl->sf->store, ids.v[i]);
		ch_attrs_free(a);
	}
	free(ids.v);
	return rv;
}

static void label_from(char out[33], const CK_UTF8CHAR label[32])
{
	int n = 32;

	memcpy(out, label, 32);
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\0'))
		n--;
	out[n] = '\0';
}

static CK_RV soft_init_token(void *be, const CK_UTF8CHAR *so_pin, CK_ULONG len,
                             const CK_UTF8CHAR label[32])
{
	soft_slot *sl = be;
	ch_soft *sf = sl->sf;
	uint8_t regkey[CH_REGKEY_LEN];
	ch_wrapped_key w;
	ch_seal *seal = NULL;
	ch_root_row root;
	ch_reg_row r;
	bool fresh;
	CK_RV rv;

	if ((rv = soft_pin_check(len)) != CKR_OK)
		return rv;
	label_from(r.label, label);
	if (sl->id < CH_FWD_SLOT_BASE && soft_label_forwarded(sf, r.label, "C_InitToken"))
		return CKR_ARGUMENTS_BAD;
	pthread_mutex_lock(&sl->lock);
	if ((rv = soft_slot_refresh(sl)) != CKR_OK)
		goto out;
	fresh = !sl->initialized;
	if (fresh) {
		memset(&r, 0, sizeof(r));
		r.id = (int64_t)sl->id;
		if ((rv = ch_seal_random(r.uuid, sizeof(r.uuid))) != CKR_OK ||
		    (rv = ch_seal_random(regkey, sizeof(regkey))) != CKR_OK)
			goto out;
	} else {
		soft_ident so;
		ch_cred cred;

		r = sl->reg;
		soft_ident_of(CKU_SO, NULL, &so);
		if ((rv = soft_verify_pin(sl, &so, so_pin, len, regkey, &cred)) != CKR_OK) {
			soft_audit(sl, NULL, SOFT_NAME_SO, "token.reinit", NULL, rv, NULL);
			goto out;
		}
	}
	label_from(r.label, label);
	r.user_pin_set = 0;
	/* With an HSM root, the HSM gives (or, fresh, takes) the root secret. */
	if ((rv = soft_root_seal(sl, &r, fresh, regkey, &root, &seal)) != CKR_OK) {
		if (!fresh)
			soft_audit(sl, NULL, SOFT_NAME_SO, "token.reinit", NULL, rv, "hsm root");
		goto out;
	}
	/* The KDF runs before the transaction: writers are not held up by it. */
	if ((rv = ch_pin_wrap(&sf->kdf, so_pin, len, r.uuid, CKU_SO, "", regkey, &w)) != CKR_OK)
		goto out;

	pthread_mutex_lock(&sf->lock);
	if ((rv = ch_store_begin(sf->store)) == CKR_OK) {
		if (fresh) {
			rv = ch_store_reg_insert(sf->store, &r);
		} else {
			rv = ch_store_reg_update(sf->store, &r);
			if (rv == CKR_OK)
				rv = erase_objects(sl, seal);
			if (rv == CKR_OK)
				rv = ch_store_cred_delete_all(sf->store, r.id, CKU_USER);
		}
		if (rv == CKR_OK && root.present)
			rv = ch_store_root_put(sf->store, r.id, &root);
		if (rv == CKR_OK)
			rv = ch_store_cred_put(sf->store, r.id, CKU_SO, "", &w, CH_ROLE_ADMIN);
		if (rv == CKR_OK)
			rv = ch_store_commit(sf->store);
		else
			ch_store_rollback(sf->store);
		sf->stale = true;
		/* The erased objects' sealed rows leave the write-ahead log too
		 * (the registration key stays): best effort, as for destroy. */
		if (rv == CKR_OK && !fresh)
			(void)ch_store_wal_truncate(sf->store);
	}
	pthread_mutex_unlock(&sf->lock);
	if (rv != CKR_OK)
		goto out;
	sl->reg = r;
	sl->initialized = true;
	soft_keycache_clear(sl);
	for (size_t i = 0; i < sl->nsobj; i++)
		ch_attrs_free(sl->sobj[i].attrs);
	sl->nsobj = 0;
	ch_log(CH_LOG_INFO, "registration \"%s\" (slot %lu) %s%s", r.label, (unsigned long)sl->id,
	       fresh ? "created" : "re-initialized", root.present ? " (HSM root)" : "");
	soft_audit(sl, seal, SOFT_NAME_SO, fresh ? "token.init" : "token.reinit", NULL, CKR_OK,
	           r.label);
out:
	pthread_mutex_unlock(&sl->lock);
	ch_seal_free(seal);
	OPENSSL_cleanse(regkey, sizeof(regkey));
	return rv;
}

/* ---- sessions ---- */

static CK_RV soft_session_open(ch_session *s)
{
	soft_session *ss = calloc(1, sizeof(*ss));

	if (ss == NULL)
		return CKR_HOST_MEMORY;
	s->be = ss;
	return CKR_OK;
}

static void soft_session_close(ch_session *s)
{
	soft_session *ss = s->be;
	soft_slot *sl = s->slot->be;

	if (ss != NULL) {
		for (int k = 0; k < CH_OP_KINDS; k++)
			ch_op_free(ss->op[k]);
		ch_msg_free(ss->msg[0]);
		ch_msg_free(ss->msg[1]);
		soft_find_clear(ss);
		free(ss);
		s->be = NULL;
	}
	pthread_mutex_lock(&sl->lock);
	soft_object_drop_session(sl, s->handle);
	pthread_mutex_unlock(&sl->lock);
}

const ch_backend_ops ch_soft_ops = {
	.name = "soft",
	.token_info = soft_token_info,
	.init_token = soft_init_token,
	.init_pin = soft_init_pin,
	.set_pin = soft_set_pin,
	.mechanism_list = soft_mechanism_list,
	.mechanism_info = soft_mechanism_info,
	.registration_info = soft_registration_info,
	.login = soft_login,
	.logout = soft_logout,
	.participant_add = soft_participant_add,
	.participant_remove = soft_participant_remove,
	.participant_list = soft_participant_list,
	.participant_set_roles = soft_participant_set_roles,
	.participant_unlock = soft_participant_unlock,
	.grant_set = soft_grant_set,
	.grant_list = soft_grant_list,
	.audit_read = soft_audit_read,
	.audit_verify = soft_audit_verify,
	.recovery_setup = soft_recovery_setup,
	.recover = soft_recover,
	.backup_export = soft_backup_export,
	.backup_import = soft_backup_import,
	.session_open = soft_session_open,
	.session_close = soft_session_close,
	.create_object = soft_create_object,
	.copy_object = soft_copy_object,
	.destroy_object = soft_destroy_object,
	.object_size = soft_object_size,
	.get_attributes = soft_get_attributes,
	.set_attributes = soft_set_attributes,
	.find_init = soft_find_init,
	.find = soft_find,
	.find_final = soft_find_final,
	.op_init = soft_op_init,
	.op_oneshot = soft_op_oneshot,
	.op_update = soft_op_update,
	.op_final = soft_op_final,
	.op_verify = soft_op_verify,
	.op_verify_final = soft_op_verify_final,
	.generate_key = soft_generate_key,
	.generate_key_pair = soft_generate_key_pair,
	.random = soft_random,
	.wrap_key = soft_wrap_key,
	.unwrap_key = soft_unwrap_key,
	.derive_key = soft_derive_key,
	.digest_key = soft_digest_key,
	.msg_init = soft_msg_init,
	.msg_one = soft_msg_one,
	.msg_begin = soft_msg_begin,
	.msg_next = soft_msg_next,
	.msg_final = soft_msg_final,
	.key_rotate = soft_key_rotate,
	.key_set_state = soft_key_set_state,
	.key_set_min_version = soft_key_set_min_version,
	.rewrap = soft_rewrap,
	.datakey_generate = soft_datakey_generate,
};
