/*
 * Backup and restore of a software registration (vendor interface, issue 8):
 * CH_BackupExport writes one registration into one file, encrypted and
 * authenticated; CH_BackupImport brings it into the free slot of another
 * store (or of the same store once the registration is gone), all or
 * nothing.
 *
 * The file, version 1.  Integers are big-endian; a string is its length
 * (u8 or u16 as said) and then that many bytes, no terminator.
 *
 *   header, in clear (it is the body's associated data, so authenticated):
 *	"CHBK"                  4 bytes
 *	version                 u16, 1
 *	uuid                    16 bytes, the registration's
 *	source slot             u64, its slot ID in the store it came from
 *	                        (the audit chain hashes it, see restore)
 *	label                   u8 string, at most 32 bytes
 *	user_pin_set            u8, 0 or 1
 *	body length             u32, the bytes of the encrypted body
 *	credentials             u16 count, then for each, as the store holds it:
 *	                        user type u64, name (u8 string), roles u64,
 *	                        PIN KDF u8, iterations u32, log2n u32, r u32,
 *	                        p u32, salt 16 bytes, wrapped key 60 bytes
 *	                        (a PIN-wrapped registration key is as safe to
 *	                        show as it is in the store)
 *   iv                         12 bytes
 *   body                       AES-256-GCM under HKDF-SHA256(registration key,
 *                              salt = uuid, info = "cipherhub backup v1"),
 *                              associated data = the whole header
 *   tag                        16 bytes
 *
 *   body, in clear:
 *	objects                 u32 count; each: owner (u8 string), u32
 *	                        attribute count, each: type u64, value (u32
 *	                        length, bytes), every attribute opened
 *	grants                  u32 count; each: object (u32 index into the
 *	                        objects), grantee (u8 string), operations u64
 *	audit records           u32 count, oldest first; each as stored: seq,
 *	                        time, pid, result, count (i64 each), has_mac u8,
 *	                        participant, operation, object, detail (u16
 *	                        strings), hash 32 bytes, MAC (u8 string: 0 or 32)
 *
 * Restore re-seals every object under its new object ID (values and MACs
 * bind the ID), re-MACs the grants for the new IDs, and keeps each
 * participant's wrapped key as it was (it binds the UUID, the user type and
 * the name, which do not change), so every PIN still works.  The audit
 * chain hashes the slot ID in every record, and the new slot's ID may
 * differ: so the backed-up chain is verified first as it was (hashes and
 * MACs under the source slot: a broken one is refused), then chained again
 * record for record under the new slot ID, every field kept, and a
 * backup.restore record naming the source slot and its head (seq and hash)
 * continues it.  Failed-login counts start again at 0.
 *
 * HSM roots (soft_root.c): a registration whose root of trust is an HSM is
 * not backed up (CKR_FUNCTION_NOT_SUPPORTED): its objects open only with a
 * secret the HSM keeps, which no file of ours may carry.  A restore is a new
 * registration, so with [root:LABEL] configured it gets a root as
 * C_InitToken would give it, and is sealed and MACed under the rooted keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "audit.h"
#include "fwd.h"
#include "log.h"
#include "objstore.h"
#include "soft_internal.h"

#define BK_MAGIC   "CHBK"
#define BK_VERSION 1
#define BK_INFO    "cipherhub backup v1"
#define BK_IV_LEN  12
#define BK_TAG_LEN 16
#define BK_KEY_LEN 32

/* ---- a growing buffer (wiped as it grows: the body holds key material) ---- */

typedef struct wbuf {
	uint8_t *p;
	size_t n, cap;
	bool oom;
} wbuf;

static void w_bytes(wbuf *b, const void *data, size_t len)
{
	if (b->oom)
		return;
	if (len > SIZE_MAX / 2 - b->n) {
		b->oom = true;
		return;
	}
	if (b->n + len > b->cap) {
		size_t ncap = b->cap ? b->cap : 4096;
		uint8_t *np;

		while (ncap < b->n + len)
			ncap *= 2;
		if ((np = OPENSSL_clear_realloc(b->p, b->cap, ncap)) == NULL) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	if (len > 0)
		memcpy(b->p + b->n, data, len);
	b->n += len;
}

static void w_be(wbuf *b, uint64_t v, int bytes)
{
	uint8_t t[8];

	for (int i = bytes - 1; i >= 0; i--) {
		t[i] = (uint8_t)v;
		v >>= 8;
	}
	w_bytes(b, t, (size_t)bytes);
}

static void w_u8(wbuf *b, uint64_t v)
{
	w_be(b, v, 1);
}
static void w_u16(wbuf *b, uint64_t v)
{
	w_be(b, v, 2);
}
static void w_u32(wbuf *b, uint64_t v)
{
	w_be(b, v, 4);
}
static void w_u64(wbuf *b, uint64_t v)
{
	w_be(b, v, 8);
}

/* A string with a length of lbytes bytes (which the caller has bounded). */
static void w_str(wbuf *b, const void *s, size_t len, int lbytes)
{
	w_be(b, len, lbytes);
	w_bytes(b, s, len);
}

static void w_free(wbuf *b)
{
	OPENSSL_clear_free(b->p, b->cap);
	memset(b, 0, sizeof(*b));
}

/* ---- a bounds-checked reader ---- */

typedef struct rbuf {
	const uint8_t *p;
	size_t n, off;
	bool short_; /* ran past the end */
	bool bad;    /* a value out of range */
} rbuf;

static const uint8_t *r_take(rbuf *r, size_t len)
{
	const uint8_t *at;

	if (r->short_ || r->bad || len > r->n - r->off) {
		r->short_ = true;
		return NULL;
	}
	at = r->p + r->off;
	r->off += len;
	return at;
}

static uint64_t r_be(rbuf *r, int bytes)
{
	const uint8_t *p = r_take(r, (size_t)bytes);
	uint64_t v = 0;

	for (int i = 0; p != NULL && i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

/* A string of at most max bytes with an lbytes length; *len gets it. */
static const uint8_t *r_str(rbuf *r, int lbytes, size_t max, size_t *len)
{
	uint64_t n = r_be(r, lbytes);

	*len = 0;
	if (r->short_)
		return NULL;
	if (n > max) {
		r->bad = true;
		return NULL;
	}
	*len = (size_t)n;
	return r_take(r, (size_t)n);
}

/* A string that becomes a C string in out (max + 1 bytes, no NUL inside). */
static void r_cstr(rbuf *r, int lbytes, size_t max, char *out)
{
	size_t len;
	const uint8_t *s = r_str(r, lbytes, max, &len);

	out[0] = '\0';
	if (s == NULL)
		return;
	if (memchr(s, 0, len) != NULL) {
		r->bad = true;
		return;
	}
	memcpy(out, s, len);
	out[len] = '\0';
}

/* ---- keys and the cipher ---- */

static CK_RV backup_key(const uint8_t regkey[CH_REGKEY_LEN], const uint8_t uuid[CH_UUID_LEN],
                        uint8_t out[BK_KEY_LEN])
{
	return ch_seal_hkdf(regkey, CH_REGKEY_LEN, uuid, CH_UUID_LEN, BK_INFO, out, BK_KEY_LEN)
	               ? CKR_OK
	               : CKR_FUNCTION_FAILED;
}

/* ---- export ---- */

typedef struct cred_name {
	CK_USER_TYPE who;
	char name[CH_NAME_MAX + 1];
	CK_FLAGS roles;
} cred_name;

typedef struct cred_vec {
	cred_name *v;
	size_t n;
	bool oom;
} cred_vec;

static int collect_cred(void *arg, CK_USER_TYPE who, const char *name, CK_FLAGS roles,
                        CK_ULONG failures)
{
	cred_vec *c = arg;
	cred_name *nv;

	(void)failures;
	if ((nv = realloc(c->v, (c->n + 1) * sizeof(*nv))) == NULL) {
		c->oom = true;
		return 1;
	}
	c->v = nv;
	nv[c->n].who = who;
	snprintf(nv[c->n].name, sizeof(nv[c->n].name), "%s", name);
	nv[c->n].roles = roles;
	c->n++;
	return 0;
}

/* What an export gathers. */
typedef struct export_ctx {
	soft_slot *sl;
	wbuf grants;
	uint32_t ngrants;
	wbuf audit;
	uint32_t naudit;
} export_ctx;

typedef struct grant_rec {
	export_ctx *x;
	int64_t obj;  /* the object's ID here */
	uint32_t idx; /* its index in the backup */
} grant_rec;

static int export_grant_of(void *arg, const char *grantee, CK_FLAGS ops, const uint8_t *mac,
                           size_t mac_len)
{
	grant_rec *g = arg;
	uint8_t want[CH_MAC_LEN];
	size_t glen = strlen(grantee);

	if (mac_len != CH_MAC_LEN || glen > CH_GRANTEE_MAX ||
	    ch_objstore_grant_mac(g->x->sl->seal, g->obj, grantee, ops, want) != CKR_OK ||
	    CRYPTO_memcmp(want, mac, CH_MAC_LEN) != 0) {
		ch_log(CH_LOG_WARNING,
		       "backup: the grant of object %lld to %s fails its integrity check: left "
		       "out",
		       (long long)g->obj, grantee);
		return 0;
	}
	w_u32(&g->x->grants, g->idx);
	w_str(&g->x->grants, grantee, glen, 1);
	w_u64(&g->x->grants, (uint64_t)ops);
	g->x->ngrants++;
	return 0;
}

static int export_audit(void *arg, const ch_audit_row *row, const uint8_t *hash, size_t hash_len,
                        const uint8_t *mac, size_t mac_len)
{
	export_ctx *x = arg;
	uint8_t h[CH_AUDIT_HASH_LEN] = { 0 };

	/* A stored hash of the wrong size is kept zero-padded: the chain
	 * check of restore then finds it, as verify would. */
	if (hash != NULL)
		memcpy(h, hash, hash_len < sizeof(h) ? hash_len : sizeof(h));
	w_u64(&x->audit, (uint64_t)row->seq);
	w_u64(&x->audit, (uint64_t)row->time);
	w_u64(&x->audit, (uint64_t)row->pid);
	w_u64(&x->audit, (uint64_t)row->result);
	w_u64(&x->audit, (uint64_t)row->count);
	w_u8(&x->audit, row->has_mac ? 1 : 0);
	w_str(&x->audit, row->participant, row->participant_len > 0xFFFF ? 0 : row->participant_len,
	      2);
	w_str(&x->audit, row->operation, row->operation_len > 0xFFFF ? 0 : row->operation_len, 2);
	w_str(&x->audit, row->object, row->object_len > 0xFFFF ? 0 : row->object_len, 2);
	w_str(&x->audit, row->detail, row->detail_len > 0xFFFF ? 0 : row->detail_len, 2);
	w_bytes(&x->audit, h, sizeof(h));
	w_str(&x->audit, mac, mac != NULL && mac_len == CH_MAC_LEN ? CH_MAC_LEN : 0, 1);
	x->naudit++;
	return 0;
}

/* The header's credentials and the clear body of sl's registration (store
 * lock and a transaction held, so one snapshot). */
static CK_RV export_gather(soft_slot *sl, wbuf *head_creds, uint16_t *ncred, wbuf *body)
{
	ch_store *st = sl->sf->store;
	int64_t reg = (int64_t)sl->id;
	export_ctx x = { .sl = sl };
	cred_vec creds = { 0 };
	soft_id_list ids = { 0 };
	CK_RV rv;

	if ((rv = ch_store_cred_each(st, reg, collect_cred, &creds)) != CKR_OK)
		goto out;
	rv = CKR_HOST_MEMORY;
	if (creds.oom)
		goto out;
	rv = CKR_DEVICE_ERROR;
	if (creds.n > 0xFFFF)
		goto out;
	for (size_t i = 0; i < creds.n; i++) {
		const cred_name *c = &creds.v[i];
		ch_cred cr;

		if ((rv = ch_store_cred_get(st, reg, c->who, c->name, &cr)) != CKR_OK)
			goto out;
		w_u64(head_creds, (uint64_t)c->who);
		w_str(head_creds, c->name, strlen(c->name), 1);
		w_u64(head_creds, (uint64_t)c->roles);
		w_u8(head_creds, (uint64_t)cr.w.kdf.alg);
		w_u32(head_creds, cr.w.kdf.iterations);
		w_u32(head_creds, cr.w.kdf.log2n);
		w_u32(head_creds, cr.w.kdf.r);
		w_u32(head_creds, cr.w.kdf.p);
		w_bytes(head_creds, cr.w.salt, sizeof(cr.w.salt));
		w_bytes(head_creds, cr.w.blob, sizeof(cr.w.blob));
	}
	*ncred = (uint16_t)creds.n;

	if ((rv = ch_store_find(st, reg, true, NULL, 0, soft_collect_id, &ids)) != CKR_OK)
		goto out;
	if (ids.oom) { /* a backup that lacks objects must not look whole */
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	w_u32(body, ids.n);
	for (size_t i = 0; i < ids.n; i++) {
		char owner[CH_NAME_MAX + 1] = "";
		ch_attrs *a = NULL;
		grant_rec g = { .x = &x, .obj = ids.v[i], .idx = (uint32_t)i };

		if ((rv = ch_objstore_load(st, sl->seal, reg, ids.v[i], &a, owner)) != CKR_OK)
			goto out;
		w_str(body, owner, strlen(owner), 1);
		w_u32(body, a->n);
		for (size_t k = 0; k < a->n; k++) {
			w_u64(body, (uint64_t)a->v[k].type);
			w_str(body, a->v[k].value, a->v[k].len, 4);
		}
		ch_attrs_free(a);
		if ((rv = ch_store_grant_each(st, ids.v[i], export_grant_of, &g)) != CKR_OK)
			goto out;
	}
	w_u32(body, x.ngrants);
	w_bytes(body, x.grants.p, x.grants.n);
	if ((rv = ch_audit_rows_each(st, reg, export_audit, &x)) != CKR_OK)
		goto out;
	w_u32(body, x.naudit);
	w_bytes(body, x.audit.p, x.audit.n);
	rv = body->oom || head_creds->oom || x.grants.oom || x.audit.oom ? CKR_HOST_MEMORY : CKR_OK;
out:
	w_free(&x.grants);
	w_free(&x.audit);
	free(creds.v);
	free(ids.v);
	return rv;
}

/* The whole file of sl's registration into *file (caller frees).  Slot lock
 * held, someone logged in. */
static CK_RV export_file(soft_slot *sl, wbuf *file)
{
	ch_soft *sf = sl->sf;
	wbuf creds = { 0 }, body = { 0 };
	uint8_t key[BK_KEY_LEN];
	uint16_t ncred = 0;
	size_t head_len;
	CK_RV rv;

	pthread_mutex_lock(&sf->lock);
	if ((rv = ch_store_begin_read(sf->store)) == CKR_OK) {
		ch_root_row root;

		/* An HSM-rooted registration's objects open only with the HSM's
		 * secret, which no file of ours may carry. */
		if ((rv = ch_store_root_get(sf->store, (int64_t)sl->id, &root)) == CKR_OK &&
		    root.present) {
			ch_log(CH_LOG_WARNING,
			       "backup of \"%s\": its root of trust is an HSM; back up the HSM's "
			       "key and the store instead",
			       sl->reg.label);
			rv = CKR_FUNCTION_NOT_SUPPORTED;
		}
		memset(&root, 0, sizeof(root));
		if (rv == CKR_OK)
			rv = export_gather(sl, &creds, &ncred, &body);
		ch_store_rollback(sf->store); /* read only */
	}
	pthread_mutex_unlock(&sf->lock);
	if (rv != CKR_OK)
		goto out;
	rv = CKR_DEVICE_ERROR;
	w_bytes(file, BK_MAGIC, 4);
	w_u16(file, BK_VERSION);
	w_bytes(file, sl->reg.uuid, CH_UUID_LEN);
	w_u64(file, (uint64_t)sl->id);
	w_str(file, sl->reg.label, strlen(sl->reg.label), 1);
	w_u8(file, sl->reg.user_pin_set ? 1 : 0);
	w_u32(file, body.n);
	w_u16(file, ncred);
	w_bytes(file, creds.p, creds.n);
	head_len = file->n;
	if (body.n > CH_BACKUP_MAX || head_len + BK_IV_LEN + body.n + BK_TAG_LEN > CH_BACKUP_MAX) {
		ch_log(CH_LOG_ERROR, "backup of \"%s\": too large (%zu bytes of objects and log)",
		       sl->reg.label, body.n);
		goto out;
	}
	/* Room for the IV, the ciphertext and the tag, written in place. */
	{
		size_t at = file->n, need = BK_IV_LEN + body.n + BK_TAG_LEN;

		for (size_t i = 0; i < need && !file->oom; i += 4096) {
			static const uint8_t zero[4096];
			size_t k = need - i;

			w_bytes(file, zero, k < sizeof(zero) ? k : sizeof(zero));
		}
		rv = CKR_HOST_MEMORY;
		if (file->oom)
			goto out;
		if ((rv = backup_key(sl->regkey, sl->reg.uuid, key)) != CKR_OK)
			goto out;
		if (!ch_seal_gcm(1, key, file->p, head_len, body.p, body.n, file->p + at))
			rv = CKR_FUNCTION_FAILED;
	}
out:
	OPENSSL_cleanse(key, sizeof(key));
	w_free(&creds);
	w_free(&body);
	return rv;
}

CK_RV soft_backup_export(void *be, CK_BYTE *out, CK_ULONG *len)
{
	soft_slot *sl = be;
	wbuf file = { 0 };
	char detail[64];
	CK_RV rv;

	pthread_mutex_lock(&sl->lock);
	if (sl->seal == NULL) {
		rv = CKR_USER_NOT_LOGGED_IN;
		goto out;
	}
	/* Pending key-use counts belong in the log being saved. */
	soft_audit_flush(sl);
	if ((rv = export_file(sl, &file)) != CKR_OK)
		goto out;
	if (out == NULL) {
		*len = (CK_ULONG)file.n;
		goto out;
	}
	if (*len < file.n) {
		*len = (CK_ULONG)file.n;
		rv = CKR_BUFFER_TOO_SMALL;
		goto out;
	}
	memcpy(out, file.p, file.n);
	*len = (CK_ULONG)file.n;
	snprintf(detail, sizeof(detail), "%zu bytes", file.n);
	soft_audit(sl, sl->seal, sl->participant, "backup.export", NULL, CKR_OK, detail);
out:
	if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL && sl->seal != NULL)
		soft_audit(sl, sl->seal, sl->participant, "backup.export", NULL, rv, NULL);
	pthread_mutex_unlock(&sl->lock);
	w_free(&file);
	return rv;
}

/* ---- import ---- */

typedef struct bk_cred {
	CK_USER_TYPE who;
	char name[CH_NAME_MAX + 1];
	CK_FLAGS roles;
	ch_wrapped_key w;
} bk_cred;

typedef struct bk_header {
	uint8_t uuid[CH_UUID_LEN];
	int64_t source;
	char label[33];
	int user_pin_set;
	size_t body_len;
	bk_cred *cred;
	size_t ncred;
	size_t len; /* of the header, the body's associated data */
} bk_header;

typedef struct bk_object {
	char owner[CH_NAME_MAX + 1];
	ch_attrs *attrs;
	int64_t new_id;
} bk_object;

typedef struct bk_grant {
	uint32_t obj;
	char grantee[CH_GRANTEE_MAX + 1];
	CK_FLAGS ops;
} bk_grant;

typedef struct bk_audit {
	ch_audit_row row;
	uint8_t hash[CH_AUDIT_HASH_LEN];
	const uint8_t *mac; /* into the body, or NULL */
} bk_audit;

typedef struct bk_body {
	bk_object *obj;
	size_t nobj;
	bk_grant *grant;
	size_t ngrant;
	bk_audit *audit;
	size_t naudit;
} bk_body;

static void body_free(bk_body *b)
{
	for (size_t i = 0; b->obj != NULL && i < b->nobj; i++)
		ch_attrs_free(b->obj[i].attrs);
	free(b->obj);
	free(b->grant);
	free(b->audit);
	memset(b, 0, sizeof(*b));
}

/* The error of a reader that stopped. */
static CK_RV r_error(const rbuf *r)
{
	return r->short_ ? CKR_DATA_LEN_RANGE : CKR_DATA_INVALID;
}

/* PIN KDF parameters a store of ours could hold, with the cost bounded:
 * PBKDF2 up to 100,000,000 iterations (OWASP's minimum is 600,000), scrypt
 * up to 1 GiB of memory (128 * r * 2^log2n) and p <= 64. */
static bool kdf_plausible(const ch_kdf_params *k)
{
	if (k->alg == CH_KDF_PBKDF2_SHA256)
		return k->iterations >= 1 && k->iterations <= 100000000u;
	if (k->alg != CH_KDF_SCRYPT || k->log2n < 1 || k->log2n > 23 || k->r < 1 || k->r > 64 ||
	    k->p < 1 || k->p > 64)
		return false;
	return ((uint64_t)128 * k->r << k->log2n) <= ((uint64_t)1 << 30);
}

static CK_RV parse_header(const uint8_t *data, size_t len, bk_header *h)
{
	rbuf r = { .p = data, .n = len };
	const uint8_t *p;
	uint64_t v, n;

	memset(h, 0, sizeof(*h));
	p = r_take(&r, 4);
	if (p != NULL && memcmp(p, BK_MAGIC, 4) != 0)
		return CKR_DATA_INVALID;
	if ((v = r_be(&r, 2)) != BK_VERSION && !r.short_) {
		ch_log(CH_LOG_ERROR, "restore: backup format version %llu is not known here",
		       (unsigned long long)v);
		return CKR_DATA_INVALID;
	}
	if ((p = r_take(&r, CH_UUID_LEN)) != NULL)
		memcpy(h->uuid, p, CH_UUID_LEN);
	h->source = (int64_t)r_be(&r, 8);
	r_cstr(&r, 1, 32, h->label);
	if ((v = r_be(&r, 1)) > 1)
		r.bad = true;
	h->user_pin_set = (int)v;
	h->body_len = (size_t)r_be(&r, 4);
	n = r_be(&r, 2);
	if (r.short_ || r.bad)
		return r_error(&r);
	if ((h->cred = calloc(n ? n : 1, sizeof(*h->cred))) == NULL)
		return CKR_HOST_MEMORY;
	h->ncred = (size_t)n;
	for (size_t i = 0; i < h->ncred && !r.short_ && !r.bad; i++) {
		bk_cred *c = &h->cred[i];

		c->who = (CK_USER_TYPE)r_be(&r, 8);
		r_cstr(&r, 1, CH_NAME_MAX, c->name);
		c->roles = (CK_FLAGS)r_be(&r, 8);
		c->w.kdf.alg = (ch_kdf_alg)r_be(&r, 1);
		c->w.kdf.iterations = (uint32_t)r_be(&r, 4);
		c->w.kdf.log2n = (uint32_t)r_be(&r, 4);
		c->w.kdf.r = (uint32_t)r_be(&r, 4);
		c->w.kdf.p = (uint32_t)r_be(&r, 4);
		if ((p = r_take(&r, CH_SALT_LEN)) != NULL)
			memcpy(c->w.salt, p, CH_SALT_LEN);
		if ((p = r_take(&r, sizeof(c->w.blob))) != NULL)
			memcpy(c->w.blob, p, sizeof(c->w.blob));
	}
	if (r.short_ || r.bad)
		return r_error(&r);
	/* The header is authenticated only after a PIN KDF ran on it: cap what
	 * a tampered file could make that KDF cost. */
	for (size_t i = 0; i < h->ncred; i++)
		if (!kdf_plausible(&h->cred[i].w.kdf))
			return CKR_DATA_INVALID;
	h->len = r.off;
	/* The rest is exactly iv, body and tag. */
	if (len - h->len < BK_IV_LEN + BK_TAG_LEN ||
	    len - h->len - BK_IV_LEN - BK_TAG_LEN < h->body_len)
		return CKR_DATA_LEN_RANGE;
	if (len - h->len - BK_IV_LEN - BK_TAG_LEN > h->body_len)
		return CKR_DATA_INVALID;
	return CKR_OK;
}

static CK_RV parse_body(const uint8_t *data, size_t len, bk_body *b)
{
	rbuf r = { .p = data, .n = len };
	uint64_t n;
	size_t slen;
	const uint8_t *p;

	memset(b, 0, sizeof(*b));
	/* Every count is bounded by the bytes left (each entry takes some). */
	n = r_be(&r, 4);
	if (r.short_ || n > len)
		return CKR_DATA_INVALID;
	if ((b->obj = calloc(n ? n : 1, sizeof(*b->obj))) == NULL)
		return CKR_HOST_MEMORY;
	for (size_t i = 0; i < n && !r.short_ && !r.bad; i++) {
		bk_object *o = &b->obj[i];
		uint64_t na;

		b->nobj++;
		r_cstr(&r, 1, CH_NAME_MAX, o->owner);
		na = r_be(&r, 4);
		if ((o->attrs = ch_attrs_new()) == NULL)
			return CKR_HOST_MEMORY;
		for (uint64_t k = 0; k < na && !r.short_ && !r.bad; k++) {
			CK_ATTRIBUTE_TYPE type = (CK_ATTRIBUTE_TYPE)r_be(&r, 8);

			p = r_str(&r, 4, len, &slen);
			if (r.short_ || r.bad)
				break;
			if (ch_attrs_get(o->attrs, type) != NULL) {
				r.bad = true;
				break;
			}
			if (ch_attrs_set(o->attrs, type, p, (CK_ULONG)slen) != CKR_OK)
				return CKR_HOST_MEMORY;
		}
	}
	n = r_be(&r, 4);
	if (r.short_ || r.bad || n > len)
		return CKR_DATA_INVALID;
	if ((b->grant = calloc(n ? n : 1, sizeof(*b->grant))) == NULL)
		return CKR_HOST_MEMORY;
	for (size_t i = 0; i < n && !r.short_ && !r.bad; i++) {
		bk_grant *g = &b->grant[i];

		b->ngrant++;
		g->obj = (uint32_t)r_be(&r, 4);
		r_cstr(&r, 1, CH_GRANTEE_MAX, g->grantee);
		g->ops = (CK_FLAGS)r_be(&r, 8);
		if (g->obj >= b->nobj || g->grantee[0] == '\0')
			r.bad = true;
	}
	n = r_be(&r, 4);
	if (r.short_ || r.bad || n > len)
		return CKR_DATA_INVALID;
	if ((b->audit = calloc(n ? n : 1, sizeof(*b->audit))) == NULL)
		return CKR_HOST_MEMORY;
	for (size_t i = 0; i < n && !r.short_ && !r.bad; i++) {
		bk_audit *a = &b->audit[i];
		ch_audit_row *row = &a->row;

		b->naudit++;
		row->seq = (int64_t)r_be(&r, 8);
		row->time = (int64_t)r_be(&r, 8);
		row->pid = (int64_t)r_be(&r, 8);
		row->result = (int64_t)r_be(&r, 8);
		row->count = (int64_t)r_be(&r, 8);
		row->has_mac = r_be(&r, 1) != 0;
		row->participant =
		        (const char *)r_str(&r, 2, CH_AUDIT_PARTICIPANT_MAX, &row->participant_len);
		row->operation =
		        (const char *)r_str(&r, 2, CH_AUDIT_OPERATION_MAX, &row->operation_len);
		row->object = (const char *)r_str(&r, 2, CH_AUDIT_OBJECT_MAX, &row->object_len);
		row->detail = (const char *)r_str(&r, 2, CH_AUDIT_DETAIL_MAX, &row->detail_len);
		if ((p = r_take(&r, CH_AUDIT_HASH_LEN)) != NULL)
			memcpy(a->hash, p, CH_AUDIT_HASH_LEN);
		a->mac = r_str(&r, 1, CH_MAC_LEN, &slen);
		if (!r.short_ && (row->has_mac ? slen != CH_MAC_LEN : slen != 0))
			r.bad = true;
		if (!row->has_mac)
			a->mac = NULL;
	}
	if (r.short_ || r.bad || r.off != len)
		return CKR_DATA_INVALID;
	return CKR_OK;
}

/* Checks the backed-up chain as it was made, under the source slot ID:
 * contiguous from 1, every hash recomputed, every MAC under seal. */
static CK_RV chain_check(const bk_header *h, const bk_body *b, const ch_seal *seal)
{
	uint8_t prev[CH_AUDIT_HASH_LEN] = { 0 }, hash[CH_AUDIT_HASH_LEN], mac[CH_MAC_LEN];
	CK_RV rv;

	for (size_t i = 0; i < b->naudit; i++) {
		ch_audit_row row = b->audit[i].row;

		row.reg = h->source;
		if ((rv = ch_audit_hash(prev, &row, hash)) != CKR_OK)
			return rv;
		if (row.seq != (int64_t)i + 1 || memcmp(hash, b->audit[i].hash, sizeof(hash)) != 0)
			goto bad;
		if (row.has_mac) {
			if ((rv = ch_seal_audit_mac(seal, hash, sizeof(hash), mac)) != CKR_OK)
				return rv;
			if (CRYPTO_memcmp(mac, b->audit[i].mac, CH_MAC_LEN) != 0)
				goto bad;
		}
		memcpy(prev, hash, sizeof(prev));
		continue;
	bad:
		ch_log(CH_LOG_ERROR,
		       "restore of \"%s\": its audit log fails verification at record %zu; "
		       "nothing restored",
		       h->label, i + 1);
		return CKR_DATA_INVALID;
	}
	return CKR_OK;
}

/* Looks for want->uuid; want->id gets the slot that has it. */
static int uuid_taken(void *arg, const ch_reg_row *r)
{
	ch_reg_row *want = arg;

	if (memcmp(r->uuid, want->uuid, CH_UUID_LEN) == 0) {
		want->id = r->id;
		return 1;
	}
	return 0;
}

typedef struct import_ctx {
	const bk_header *h;
	bk_body *b;
	const ch_seal *seal; /* the new registration's */
	ch_reg_row reg;
	ch_root_row root; /* its HSM root, when [root:LABEL] gave it one */
} import_ctx;

/* Writes everything (store lock and transaction held). */
static CK_RV import_write(soft_slot *sl, import_ctx *x)
{
	ch_store *st = sl->sf->store;
	int64_t reg = x->reg.id;
	ch_reg_row found, any;
	uint8_t prev[CH_AUDIT_HASH_LEN] = { 0 }, hash[CH_AUDIT_HASH_LEN], mac[CH_MAC_LEN];
	char detail[CH_AUDIT_DETAIL_MAX + 1], hex[17];
	ch_audit_event ev;
	CK_RV rv;

	/* Inside the transaction: no other process slips the same UUID in. */
	memset(&found, 0, sizeof(found));
	memcpy(found.uuid, x->h->uuid, CH_UUID_LEN);
	found.id = -1;
	if ((rv = ch_store_reg_each(st, uuid_taken, &found)) != CKR_OK)
		return rv;
	if (found.id != -1) {
		ch_log(CH_LOG_WARNING,
		       "restore of \"%s\": this store already has that registration (slot %lld); "
		       "nothing restored",
		       x->h->label, (long long)found.id);
		return CKR_ACTION_PROHIBITED;
	}
	if ((rv = ch_store_reg_get(st, reg, &any)) != CKR_SLOT_ID_INVALID) {
		if (rv == CKR_OK) {
			ch_log(CH_LOG_WARNING,
			       "restore: slot %lld is no longer free; nothing restored",
			       (long long)reg);
			rv = CKR_ACTION_PROHIBITED;
		}
		return rv;
	}
	if ((rv = ch_store_reg_insert(st, &x->reg)) != CKR_OK ||
	    (x->root.present && (rv = ch_store_root_put(st, reg, &x->root)) != CKR_OK))
		return rv;
	for (size_t i = 0; i < x->h->ncred; i++) {
		const bk_cred *c = &x->h->cred[i];

		if ((rv = ch_store_cred_put(st, reg, c->who, c->name, &c->w, c->roles)) != CKR_OK)
			return rv;
	}
	for (size_t i = 0; i < x->b->nobj; i++) {
		bk_object *o = &x->b->obj[i];

		o->new_id = 0;
		if ((rv = ch_objstore_save(st, x->seal, reg, o->attrs, o->owner, &o->new_id)) !=
		    CKR_OK)
			return rv;
	}
	for (size_t i = 0; i < x->b->ngrant; i++) {
		const bk_grant *g = &x->b->grant[i];
		int64_t id = x->b->obj[g->obj].new_id;

		if ((rv = ch_objstore_grant_mac(x->seal, id, g->grantee, g->ops, mac)) != CKR_OK ||
		    (rv = ch_store_grant_put(st, id, g->grantee, g->ops, mac)) != CKR_OK)
			return rv;
	}
	/* The log, chained again under this slot's ID, every field kept. */
	for (size_t i = 0; i < x->b->naudit; i++) {
		ch_audit_row row = x->b->audit[i].row;

		row.reg = reg;
		if ((rv = ch_audit_hash(prev, &row, hash)) != CKR_OK)
			return rv;
		if (row.has_mac &&
		    (rv = ch_seal_audit_mac(x->seal, hash, sizeof(hash), mac)) != CKR_OK)
			return rv;
		if ((rv = ch_audit_insert_row(st, &row, hash, row.has_mac ? mac : NULL)) != CKR_OK)
			return rv;
		memcpy(prev, hash, sizeof(prev));
	}
	for (int i = 0; i < 8; i++) /* the source head's hash, first 8 bytes */
		snprintf(hex + 2 * i, 3, "%02x",
		         x->b->naudit > 0 ? x->b->audit[x->b->naudit - 1].hash[i] : 0);
	snprintf(detail, sizeof(detail), "from slot %lld, head %zu:%s", (long long)x->h->source,
	         x->b->naudit, hex);
	memset(&ev, 0, sizeof(ev));
	ev.participant = SOFT_NAME_SO;
	ev.operation = "backup.restore";
	ev.result = CKR_OK;
	ev.count = 1;
	ev.detail = detail;
	return ch_audit_append(st, reg, x->seal, &ev);
}

CK_RV soft_backup_import(void *be, const CK_BYTE *data, CK_ULONG len, const CK_UTF8CHAR *pin,
                         CK_ULONG pin_len)
{
	soft_slot *sl = be;
	ch_soft *sf = sl->sf;
	bk_header h;
	bk_body b = { 0 };
	const bk_cred *so = NULL;
	uint8_t regkey[CH_REGKEY_LEN], key[BK_KEY_LEN];
	uint8_t *plain = NULL;
	ch_seal *seal = NULL, *src_seal = NULL;
	import_ctx x;
	CK_RV rv;

	memset(&h, 0, sizeof(h));
	memset(&x, 0, sizeof(x));
	if ((rv = soft_pin_check(pin_len)) != CKR_OK)
		return rv;
	if ((rv = parse_header(data, len, &h)) != CKR_OK) {
		ch_log(CH_LOG_ERROR, "restore: the file is %s; nothing restored",
		       rv == CKR_DATA_LEN_RANGE ? "truncated" : "not a Cipher Hub backup");
		goto out;
	}
	for (size_t i = 0; i < h.ncred; i++)
		if (h.cred[i].who == CKU_SO && h.cred[i].name[0] == '\0')
			so = &h.cred[i];
	if (so == NULL) {
		rv = CKR_DATA_INVALID;
		goto out;
	}
	if (soft_label_forwarded(sf, h.label, "restore")) {
		rv = CKR_ACTION_PROHIBITED;
		goto out;
	}
	pthread_mutex_lock(&sl->lock);
	if ((rv = soft_slot_refresh(sl)) != CKR_OK)
		goto unlock;
	if (sl->initialized) {
		ch_log(CH_LOG_WARNING, "restore: slot %lu holds \"%s\"; restore into the free slot",
		       (unsigned long)sl->id, sl->reg.label);
		rv = CKR_ACTION_PROHIBITED;
		goto unlock;
	}
	/* The KDF runs before any store lock.  Nothing is counted: this store
	 * has no such participant yet. */
	if ((rv = ch_pin_unwrap(&so->w, pin, pin_len, h.uuid, CKU_SO, "", regkey)) != CKR_OK)
		goto unlock;
	rv = CKR_HOST_MEMORY;
	if ((plain = OPENSSL_malloc(h.body_len ? h.body_len : 1)) == NULL)
		goto unlock;
	if ((rv = backup_key(regkey, h.uuid, key)) != CKR_OK)
		goto unlock;
	if (!ch_seal_gcm(0, key, data, h.len, data + h.len, BK_IV_LEN + h.body_len + BK_TAG_LEN,
	                 plain)) {
		rv = CKR_ENCRYPTED_DATA_INVALID;
		ch_log(CH_LOG_ERROR,
		       "restore of \"%s\": the backup fails its authentication (tampered "
		       "or "
		       "damaged); nothing restored",
		       h.label);
		goto unlock;
	}
	if ((rv = parse_body(plain, h.body_len, &b)) != CKR_OK)
		goto unlock;
	/* The source's keys check the chain as it was made. */
	rv = CKR_HOST_MEMORY;
	if ((src_seal = ch_seal_new(regkey, h.uuid)) == NULL)
		goto unlock;
	if ((rv = chain_check(&h, &b, src_seal)) != CKR_OK)
		goto unlock;

	memset(&x, 0, sizeof(x));
	x.h = &h;
	x.b = &b;
	x.reg.id = (int64_t)sl->id;
	memcpy(x.reg.uuid, h.uuid, CH_UUID_LEN);
	memcpy(x.reg.label, h.label, sizeof(x.reg.label));
	x.reg.user_pin_set = h.user_pin_set;
	/* Here, the registration is new: with [root:LABEL] configured it gets
	 * an HSM root, as C_InitToken would give it, and everything is sealed
	 * (and the log MACed) under the rooted keys. */
	if ((rv = soft_root_seal(sl, &x.reg, true, regkey, &x.root, &seal)) != CKR_OK)
		goto unlock;
	x.seal = seal;
	pthread_mutex_lock(&sf->lock);
	if ((rv = ch_store_begin(sf->store)) == CKR_OK) {
		rv = import_write(sl, &x);
		if (rv == CKR_OK)
			rv = ch_store_commit(sf->store);
		else
			ch_store_rollback(sf->store);
		sf->stale = true;
	}
	pthread_mutex_unlock(&sf->lock);
	if (rv != CKR_OK)
		goto unlock;
	sl->reg = x.reg;
	sl->initialized = true;
	ch_log(CH_LOG_INFO,
	       "registration \"%s\" restored from a backup into slot %lu%s: %zu objects, %zu "
	       "participants, %zu grants, %zu audit records",
	       h.label, (unsigned long)sl->id, x.root.present ? " (HSM root)" : "", b.nobj, h.ncred,
	       b.ngrant, b.naudit);
unlock:
	pthread_mutex_unlock(&sl->lock);
out:
	body_free(&b); /* attribute values are wiped by ch_attrs_free */
	OPENSSL_clear_free(plain, h.body_len ? h.body_len : 1);
	ch_seal_free(seal);
	ch_seal_free(src_seal);
	OPENSSL_cleanse(&x.root, sizeof(x.root));
	OPENSSL_cleanse(regkey, sizeof(regkey));
	OPENSSL_cleanse(key, sizeof(key));
	free(h.cred);
	return rv;
}
