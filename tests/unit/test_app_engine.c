/*
 * The module inside an application that made an OpenSSL ENGINE the default
 * for RSA and EC keys.
 *
 * `openssl req -engine pkcs11`, `openssl s_server -engine pkcs11` and the
 * other openssl commands load libp11's engine and call
 * ENGINE_set_default(e, ENGINE_METHOD_ALL); the engine then loads this
 * module into the same process, which shares OpenSSL's global engine tables
 * with the application.  OpenSSL 3.0 hands every EVP_PKEY_CTX created for
 * the key type name "RSA" or "EC" to that engine's legacy method, which
 * cannot import key material or generate a key from provider parameters:
 * before the fix every C_SignInit with an RSA or EC key failed there with
 * CKR_KEY_TYPE_INCONSISTENT, and EC key generation with CKR_FUNCTION_FAILED.
 *
 * This test sets up the same condition without libp11: an engine whose RSA
 * and EC methods are copies of OpenSSL's built-in ones (as libp11's are,
 * with only sign and decrypt overridden), registered as the default.  It
 * first shows that the condition holds (an "RSA" context made by name can
 * no longer import), then drives the module through key generation,
 * import, signing, verification and decryption with both key types.
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* the ENGINE and EVP_PKEY_METHOD APIs */

#include <openssl/engine.h>
#include <openssl/evp.h>

#include "module.h"

static EVP_PKEY_METHOD *rsa_meth, *ec_meth;
static int engine_nids[] = { EVP_PKEY_RSA, EVP_PKEY_EC };

/* ENGINE_PKEY_METHS_PTR: the methods and their list. */
static int engine_pkey_meths(ENGINE *e, EVP_PKEY_METHOD **pmeth, const int **nids, int nid)
{
	(void)e;
	if (pmeth == NULL) {
		*nids = engine_nids;
		return (int)CH_T_ARRAY_LEN(engine_nids);
	}
	*pmeth = nid == EVP_PKEY_RSA ? rsa_meth : nid == EVP_PKEY_EC ? ec_meth : NULL;
	return *pmeth != NULL;
}

/* A copy of OpenSSL's own method for key type id. */
static EVP_PKEY_METHOD *builtin_copy(int id)
{
	const EVP_PKEY_METHOD *orig = EVP_PKEY_meth_find(id);
	EVP_PKEY_METHOD *m = orig != NULL ? EVP_PKEY_meth_new(id, 0) : NULL;

	if (m != NULL)
		EVP_PKEY_meth_copy(m, orig);
	return m;
}

/* Registers the engine as the default for RSA and EC keys, as the openssl
 * commands do with -engine.  True on success. */
static bool engine_install(void)
{
	ENGINE *e;
	bool ok;

	if ((rsa_meth = builtin_copy(EVP_PKEY_RSA)) == NULL ||
	    (ec_meth = builtin_copy(EVP_PKEY_EC)) == NULL || (e = ENGINE_new()) == NULL)
		return false;
	ok = ENGINE_set_id(e, "cipherhub-test") == 1 && ENGINE_set_name(e, "test engine") == 1 &&
	     ENGINE_set_pkey_meths(e, engine_pkey_meths) == 1 && ENGINE_add(e) == 1 &&
	     ENGINE_set_default_pkey_meths(e) == 1;
	ENGINE_free(e); /* the engine list keeps its own reference */
	return ok;
}

/* Takes the engine out again.  Its methods stay allocated (reachable from the
 * statics above): freeing them here aborted in free() in the unsanitized
 * build (a double free whose other owner was not tracked down). */
static void engine_remove(void)
{
	ENGINE *e = ENGINE_by_id("cipherhub-test");

	if (e != NULL) {
		ENGINE_unregister_pkey_meths(e);
		(void)ENGINE_remove(e);
		ENGINE_free(e);
	}
}

/* True when a context made by the name "RSA" now belongs to the engine and
 * cannot import: the condition the module must survive. */
static bool engine_takes_rsa_contexts(void)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	bool taken = ctx != NULL && EVP_PKEY_fromdata_init(ctx) != 1;

	EVP_PKEY_CTX_free(ctx);
	return taken;
}

static ch_t_env env;
static CK_SESSION_HANDLE sess;
static const CK_BYTE msg[] = "a message signed inside an application with an engine";

static void test_the_engine_owns_rsa_and_ec_contexts(void)
{
	CHECK(engine_takes_rsa_contexts());
}

/* Signs in with mech and priv, verifies the signature with pub, and checks
 * that a changed signature does not verify. */
static void sign_and_verify(CK_MECHANISM_TYPE mech, void *param, CK_ULONG plen,
                            CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE pub, const CK_BYTE *in,
                            CK_ULONG in_len)
{
	CK_MECHANISM m = { mech, param, plen };
	CK_BYTE sig[512];
	CK_ULONG sig_len = sizeof(sig);

	REQUIRE_RV(P11->C_SignInit(sess, &m, priv), CKR_OK);
	REQUIRE_RV(P11->C_Sign(sess, (CK_BYTE_PTR)in, in_len, sig, &sig_len), CKR_OK);
	REQUIRE_RV(P11->C_VerifyInit(sess, &m, pub), CKR_OK);
	CHECK_RV(P11->C_Verify(sess, (CK_BYTE_PTR)in, in_len, sig, sig_len), CKR_OK);
	sig[sig_len / 2] ^= 1;
	REQUIRE_RV(P11->C_VerifyInit(sess, &m, pub), CKR_OK);
	CHECK_RV(P11->C_Verify(sess, (CK_BYTE_PTR)in, in_len, sig, sig_len), CKR_SIGNATURE_INVALID);
out:
	return;
}

static void test_rsa_generate_sign_verify_decrypt(void)
{
	CK_MECHANISM gen = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_ULONG bits = 2048;
	CK_ATTRIBUTE pt[] = { CH_T_ULONG(CKA_MODULUS_BITS, &bits), CH_T_BOOL(CKA_VERIFY, true),
		              CH_T_BOOL(CKA_ENCRYPT, true) };
	CK_ATTRIBUTE st[] = { CH_T_BOOL(CKA_SIGN, true), CH_T_BOOL(CKA_DECRYPT, true) };
	CK_OBJECT_HANDLE pub, priv;
	CK_RSA_PKCS_PSS_PARAMS pss = { CKM_SHA256, CKG_MGF1_SHA256, 32 };
	CK_RSA_PKCS_OAEP_PARAMS oaep = { CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0 };
	CK_MECHANISM m_oaep = { CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep) };
	CK_BYTE digest[32] = { 1, 2, 3 }, ct[256], pt_out[256];
	CK_ULONG ct_len = sizeof(ct), pt_len = sizeof(pt_out);

	REQUIRE_RV(P11->C_GenerateKeyPair(sess, &gen, pt, CH_T_ARRAY_LEN(pt), st,
	                                  CH_T_ARRAY_LEN(st), &pub, &priv),
	           CKR_OK);
	sign_and_verify(CKM_SHA256_RSA_PKCS, NULL, 0, priv, pub, msg, sizeof(msg));
	sign_and_verify(CKM_RSA_PKCS, NULL, 0, priv, pub, digest, sizeof(digest));
	sign_and_verify(CKM_RSA_PKCS_PSS, &pss, sizeof(pss), priv, pub, digest, sizeof(digest));
	sign_and_verify(CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof(pss), priv, pub, msg, sizeof(msg));

	REQUIRE_RV(P11->C_EncryptInit(sess, &m_oaep, pub), CKR_OK);
	REQUIRE_RV(P11->C_Encrypt(sess, (CK_BYTE_PTR)msg, sizeof(msg), ct, &ct_len), CKR_OK);
	REQUIRE_RV(P11->C_DecryptInit(sess, &m_oaep, priv), CKR_OK);
	REQUIRE_RV(P11->C_Decrypt(sess, ct, ct_len, pt_out, &pt_len), CKR_OK);
	CHECK(pt_len == sizeof(msg) && memcmp(pt_out, msg, pt_len) == 0);
out:
	return;
}

static void test_ec_generate_sign_verify(void)
{
	CK_OBJECT_HANDLE pub, priv;
	CK_BYTE digest[32] = { 4, 5, 6 };

	REQUIRE_RV(ch_t_gen_ec(sess, false, "ec", &pub, &priv), CKR_OK);
	sign_and_verify(CKM_ECDSA, NULL, 0, priv, pub, digest, sizeof(digest));
	sign_and_verify(CKM_ECDSA_SHA256, NULL, 0, priv, pub, msg, sizeof(msg));
out:
	return;
}

int main(void)
{
	if (CHECK(engine_install()) && CHECK(ch_t_setup(&env)) &&
	    CHECK_RV(ch_t_user_session(&env, true, &sess), CKR_OK)) {
		test_the_engine_owns_rsa_and_ec_contexts();
		test_rsa_generate_sign_verify_decrypt();
		test_ec_generate_sign_verify();
	}
	ch_t_env_free(&env);
	engine_remove();
	return ch_test_done();
}
