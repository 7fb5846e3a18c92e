/*
 * The software token's cryptographic calls: operations (encrypt, decrypt,
 * sign, verify, digest), key generation and random numbers.
 *
 * Each session has at most one operation of each kind.  An operation's init
 * holds a reference to its key (shared with the key cache, see
 * soft_keycache.c) while it builds the operation, which keeps only what it
 * derived (so the key may change or go while it runs), and then runs with
 * no lock but the session's: sessions never wait on each other's crypto.
 */
#include <stdio.h>

#include "object.h"
#include "soft_internal.h"

CK_RV soft_may_use_keys(ch_session *s)
{
	if (ch_session_user(s) != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;
	return ch_session_roles(s) & CH_ROLE_USER ? CKR_OK : CKR_KEY_FUNCTION_NOT_PERMITTED;
}

/* Key generation needs a logged-in participant with the operator role. */
static CK_RV may_make_keys(ch_session *s)
{
	if (ch_session_user(s) != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;
	return ch_session_roles(s) & CH_ROLE_OPERATOR ? CKR_OK : CKR_ACTION_PROHIBITED;
}

CK_RV soft_check_grant(ch_session *s, CK_OBJECT_HANDLE key, const char *owner, CK_FLAGS need)
{
	soft_slot *sl = s->slot->be;
	CK_FLAGS roles = ch_session_roles(s);
	bool ok;

	/* Session objects belong to their session: no grants apply. */
	if (key >= SOFT_SESSION_HANDLE_BASE)
		return CKR_OK;
	pthread_mutex_lock(&sl->lock);
	pthread_mutex_lock(&sl->sf->lock);
	ok = soft_grant_allows(sl, roles, (int64_t)key, owner, need);
	pthread_mutex_unlock(&sl->sf->lock);
	pthread_mutex_unlock(&sl->lock);
	return ok ? CKR_OK : CKR_KEY_FUNCTION_NOT_PERMITTED;
}

/* Ends the operation of that kind. */
static void op_end(soft_session *ss, ch_op_kind kind)
{
	ch_op_free(ss->op[kind]);
	ss->op[kind] = NULL;
}

static uint64_t login_gen(ch_session *s)
{
	soft_slot *sl = s->slot->be;

	return __atomic_load_n(&sl->login_gen, __ATOMIC_ACQUIRE);
}

/* The session's operation of that kind, if it may go on.  An operation
 * that holds a key and began before a logout is over: the key belongs to a
 * login that is gone.  It is ended (and its key wiped) here, and the call
 * answers as for no operation. */
static CK_RV op_live(ch_session *s, ch_op_kind kind)
{
	soft_session *ss = s->be;

	if (ss->op[kind] == NULL)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (kind != CH_OP_DIGEST && ss->op_gen[kind] != login_gen(s)) {
		op_end(ss, kind);
		return CKR_OPERATION_NOT_INITIALIZED;
	}
	return CKR_OK;
}

CK_RV soft_op_init(ch_session *s, ch_op_kind kind, const CK_MECHANISM *m, CK_OBJECT_HANDLE key)
{
	soft_session *ss = s->be;
	uint64_t gen = login_gen(s); /* before the key is read: see op_live */
	char who[CH_NAME_MAX + 1] = "";
	soft_key *k = NULL;
	CK_RV rv;

	if (ss->op[kind] != NULL && op_live(s, kind) == CKR_OK)
		return CKR_OPERATION_ACTIVE;
	if (kind != CH_OP_DIGEST) {
		if ((rv = soft_may_use_keys(s)) != CKR_OK)
			return rv;
		/* A token key is for its creator and its grantees' operations,
		 * whatever its own usage attributes would allow: checked with
		 * the read. */
		rv = soft_object_read_key(s, key, soft_grant_bit(kind), &k, who);
		if (rv == CKR_OBJECT_HANDLE_INVALID)
			rv = CKR_KEY_HANDLE_INVALID;
		if (rv != CKR_OK)
			return rv;
	}
	/* The operation keeps what it derives from the key (an EVP_PKEY
	 * reference, cipher or MAC contexts), not the key's attributes. */
	rv = ch_op_init(kind, m, k != NULL ? k->attrs : NULL, &ss->op[kind]);
	ss->op_gen[kind] = gen;
	/* A versioned decryption decrypts with the version its input names:
	 * it gets the family's versions the caller may use (soft_vgcm.c). */
	if (rv == CKR_OK && kind == CH_OP_DECRYPT && m->mechanism == CKM_CH_AES_GCM_VERSIONED &&
	    (rv = soft_vgcm_add_versions(s, key, k->attrs, ss->op[kind])) != CKR_OK)
		op_end(ss, kind);
	if (rv == CKR_OK && k != NULL && key < SOFT_SESSION_HANDLE_BASE) {
		static const char *const use[CH_OP_KINDS] = {
			[CH_OP_ENCRYPT] = "key.encrypt",
			[CH_OP_DECRYPT] = "key.decrypt",
			[CH_OP_SIGN] = "key.sign",
			[CH_OP_VERIFY] = "key.verify",
		};

		/* No lock of ours: the count is the aggregator's (sharded), and
		 * who is counted was read with the key. */
		soft_audit_use_unlocked(s->slot->be, k->attrs, who, use[kind]);
		/* A primary past its rotation period is recorded (once). */
		soft_version_note_use(s->slot->be, k, who);
	}
	soft_key_release(k);
	return rv;
}

CK_RV soft_op_oneshot(ch_session *s, ch_op_kind kind, const CK_BYTE *in, CK_ULONG in_len,
                      CK_BYTE *out, CK_ULONG *out_len)
{
	soft_session *ss = s->be;
	CK_RV rv;

	if ((rv = op_live(s, kind)) != CKR_OK)
		return rv;
	rv = ch_op_oneshot(ss->op[kind], in, in_len, out, out_len);
	if (ch_op_ends(rv, out))
		op_end(ss, kind);
	return rv;
}

CK_RV soft_op_update(ch_session *s, ch_op_kind kind, const CK_BYTE *in, CK_ULONG in_len,
                     CK_BYTE *out, CK_ULONG *out_len)
{
	soft_session *ss = s->be;
	CK_RV rv;

	if ((rv = op_live(s, kind)) != CKR_OK)
		return rv;
	rv = ch_op_update(ss->op[kind], in, in_len, out, out_len);
	if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL)
		op_end(ss, kind);
	return rv;
}

CK_RV soft_op_final(ch_session *s, ch_op_kind kind, CK_BYTE *out, CK_ULONG *out_len)
{
	soft_session *ss = s->be;
	CK_RV rv;

	if ((rv = op_live(s, kind)) != CKR_OK)
		return rv;
	rv = ch_op_final(ss->op[kind], out, out_len);
	if (ch_op_ends(rv, out))
		op_end(ss, kind);
	return rv;
}

CK_RV soft_op_verify(ch_session *s, const CK_BYTE *data, CK_ULONG len, const CK_BYTE *sig,
                     CK_ULONG sig_len)
{
	soft_session *ss = s->be;
	CK_RV rv;

	if ((rv = op_live(s, CH_OP_VERIFY)) != CKR_OK)
		return rv;
	rv = ch_op_verify(ss->op[CH_OP_VERIFY], data, len, sig, sig_len);
	op_end(ss, CH_OP_VERIFY);
	return rv;
}

CK_RV soft_op_verify_final(ch_session *s, const CK_BYTE *sig, CK_ULONG sig_len)
{
	soft_session *ss = s->be;
	CK_RV rv;

	if ((rv = op_live(s, CH_OP_VERIFY)) != CKR_OK)
		return rv;
	rv = ch_op_verify_final(ss->op[CH_OP_VERIFY], sig, sig_len);
	op_end(ss, CH_OP_VERIFY);
	return rv;
}

CK_RV soft_generate_key(ch_session *s, const CK_MECHANISM *m, const CK_ATTRIBUTE *t, CK_ULONG n,
                        CK_OBJECT_HANDLE *h)
{
	return soft_generate_key_for(s, m, t, n, CK_INVALID_HANDLE, h);
}

CK_RV soft_generate_key_for(ch_session *s, const CK_MECHANISM *m, const CK_ATTRIBUTE *t, CK_ULONG n,
                            CK_OBJECT_HANDLE expect, CK_OBJECT_HANDLE *h)
{
	ch_object_env env = soft_object_env(s);
	ch_attrs *a = NULL;
	CK_KEY_TYPE kt;
	CK_RV rv;

	if ((rv = may_make_keys(s)) != CKR_OK ||
	    (rv = ch_mech_keygen_type(m->mechanism, false, &kt)) != CKR_OK)
		return rv;
	if ((rv = ch_object_build(CH_ORIGIN_GENERATE, CKO_SECRET_KEY, kt, t, n, &env, &a)) !=
	            CKR_OK ||
	    (rv = ch_mech_generate_key(m, a)) != CKR_OK ||
	    (rv = ch_object_finish(CH_ORIGIN_GENERATE, m->mechanism, a)) != CKR_OK)
		goto out;
	/* A new version of a family (soft_version.c). */
	if (expect != CK_INVALID_HANDLE || soft_version_asked(t, n))
		rv = soft_version_add(s, a, expect, h);
	else
		rv = soft_object_add(s, a, h);
	a = NULL; /* transferred */
out:
	ch_attrs_free(a);
	return rv;
}

CK_RV soft_generate_key_pair(ch_session *s, const CK_MECHANISM *m, const CK_ATTRIBUTE *pub_t,
                             CK_ULONG pub_n, const CK_ATTRIBUTE *priv_t, CK_ULONG priv_n,
                             CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	return soft_generate_key_pair_for(s, m, pub_t, pub_n, priv_t, priv_n, CK_INVALID_HANDLE,
	                                  CK_INVALID_HANDLE, pub, priv);
}

CK_RV soft_generate_key_pair_for(ch_session *s, const CK_MECHANISM *m, const CK_ATTRIBUTE *pub_t,
                                 CK_ULONG pub_n, const CK_ATTRIBUTE *priv_t, CK_ULONG priv_n,
                                 CK_OBJECT_HANDLE expect_pub, CK_OBJECT_HANDLE expect_priv,
                                 CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	ch_object_env env = soft_object_env(s);
	ch_attrs *pa = NULL, *va = NULL;
	bool asked = expect_priv != CK_INVALID_HANDLE || soft_version_asked(pub_t, pub_n) ||
	             soft_version_asked(priv_t, priv_n);
	CK_KEY_TYPE kt;
	CK_RV rv;

	if ((rv = may_make_keys(s)) != CKR_OK ||
	    (rv = ch_mech_keygen_type(m->mechanism, true, &kt)) != CKR_OK)
		return rv;
	if ((rv = ch_object_build(CH_ORIGIN_GENERATE, CKO_PUBLIC_KEY, kt, pub_t, pub_n, &env,
	                          &pa)) != CKR_OK ||
	    (rv = ch_object_build(CH_ORIGIN_GENERATE, CKO_PRIVATE_KEY, kt, priv_t, priv_n, &env,
	                          &va)) != CKR_OK ||
	    (rv = ch_object_pair_roles_ok(pa, va, &env) ? CKR_OK : CKR_TEMPLATE_INCONSISTENT) !=
	            CKR_OK ||
	    (rv = ch_mech_generate_key_pair(m, pa, va)) != CKR_OK ||
	    (rv = ch_object_finish(CH_ORIGIN_GENERATE, m->mechanism, pa)) != CKR_OK ||
	    (rv = ch_object_finish(CH_ORIGIN_GENERATE, m->mechanism, va)) != CKR_OK)
		goto out;
	/* A new version of a pair's two families (soft_version.c). */
	if (asked) {
		rv = soft_version_add_pair(s, pa, va, expect_pub, expect_priv, pub, priv);
		pa = va = NULL; /* transferred */
		goto out;
	}
	rv = soft_object_add(s, pa, pub);
	pa = NULL; /* transferred */
	if (rv != CKR_OK)
		goto out;
	rv = soft_object_add(s, va, priv);
	va = NULL; /* transferred */
	if (rv != CKR_OK)
		(void)soft_destroy_object(s, *pub);
out:
	ch_attrs_free(pa);
	ch_attrs_free(va);
	return rv;
}

CK_RV soft_random(ch_session *s, CK_BYTE *out, CK_ULONG len)
{
	return ch_random(out, len);
}

/* ---- Message-based encryption and decryption (5.9, 5.11) ---- */

/* The session's message-based operation, if it may go on (see op_live). */
static CK_RV msg_live(ch_session *s, bool enc)
{
	soft_session *ss = s->be;

	if (ss->msg[enc] == NULL)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (ss->msg_gen[enc] != login_gen(s)) {
		ch_msg_free(ss->msg[enc]);
		ss->msg[enc] = NULL;
		return CKR_OPERATION_NOT_INITIALIZED;
	}
	return CKR_OK;
}

/* Counts one message as a use of the operation's key (token keys only),
 * for the participant read with the key at init: no lock of ours, as for
 * single-part operations. */
static void msg_count(ch_session *s, const ch_msg *msg, bool enc)
{
	soft_session *ss = s->be;

	if (ss->msg_who[enc][0] != '\0')
		soft_audit_use_unlocked(s->slot->be, ch_msg_key(msg), ss->msg_who[enc],
		                        enc ? "key.encrypt" : "key.decrypt");
}

CK_RV soft_msg_init(ch_session *s, bool enc, const CK_MECHANISM *m, CK_OBJECT_HANDLE key)
{
	soft_session *ss = s->be;
	uint64_t gen = login_gen(s);
	char who[CH_NAME_MAX + 1];
	soft_key *k = NULL;
	CK_RV rv;

	if (ss->msg[enc] != NULL && msg_live(s, enc) == CKR_OK)
		return CKR_OPERATION_ACTIVE;
	if ((rv = soft_may_use_keys(s)) != CKR_OK)
		return rv;
	rv = soft_object_read_key(s, key, enc ? CH_GRANT_ENCRYPT : CH_GRANT_DECRYPT, &k, who);
	if (rv == CKR_OBJECT_HANDLE_INVALID)
		rv = CKR_KEY_HANDLE_INVALID;
	/* ch_msg_init keeps its own copy: the key is used for every message. */
	if (rv == CKR_OK)
		rv = ch_msg_init(enc, m, k->attrs, &ss->msg[enc]);
	if (rv == CKR_OK && key < SOFT_SESSION_HANDLE_BASE)
		soft_version_note_use(s->slot->be, k, who);
	/* Token keys are counted, for who was read with the key. */
	snprintf(ss->msg_who[enc], sizeof(ss->msg_who[enc]), "%s",
	         rv == CKR_OK && key < SOFT_SESSION_HANDLE_BASE ? who : "");
	ss->msg_gen[enc] = gen;
	soft_key_release(k);
	return rv;
}

CK_RV soft_msg_one(ch_session *s, bool enc, void *param, CK_ULONG plen, const CK_BYTE *aad,
                   CK_ULONG aad_len, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                   CK_ULONG *out_len)
{
	soft_session *ss = s->be;
	CK_RV rv;

	if ((rv = msg_live(s, enc)) != CKR_OK)
		return rv;
	rv = ch_msg_one(ss->msg[enc], param, plen, aad, aad_len, in, in_len, out, out_len);
	if (out != NULL && rv != CKR_BUFFER_TOO_SMALL)
		msg_count(s, ss->msg[enc], enc);
	return rv;
}

CK_RV soft_msg_begin(ch_session *s, bool enc, void *param, CK_ULONG plen, const CK_BYTE *aad,
                     CK_ULONG aad_len)
{
	soft_session *ss = s->be;
	CK_RV rv;

	if ((rv = msg_live(s, enc)) != CKR_OK)
		return rv;
	if ((rv = ch_msg_begin(ss->msg[enc], param, plen, aad, aad_len)) == CKR_OK)
		msg_count(s, ss->msg[enc], enc);
	return rv;
}

CK_RV soft_msg_next(ch_session *s, bool enc, void *param, CK_ULONG plen, const CK_BYTE *in,
                    CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len, CK_FLAGS flags)
{
	soft_session *ss = s->be;
	CK_RV rv;

	if ((rv = msg_live(s, enc)) != CKR_OK)
		return rv;
	return ch_msg_next(ss->msg[enc], param, plen, in, in_len, out, out_len, flags);
}

CK_RV soft_msg_final(ch_session *s, bool enc)
{
	soft_session *ss = s->be;
	CK_RV rv;

	if ((rv = msg_live(s, enc)) != CKR_OK)
		return rv;
	ch_msg_free(ss->msg[enc]);
	ss->msg[enc] = NULL;
	return CKR_OK;
}
