/*
 * AES-CMAC (PKCS#11 3.0 section 2.15, NIST SP 800-38B): CKM_AES_CMAC with
 * the full 16-byte tag and CKM_AES_CMAC_GENERAL with a CK_MAC_GENERAL_PARAMS
 * tag length of 1 to 16 bytes, single and multi-part sign and verify, over
 * OpenSSL's EVP_MAC "CMAC" (fetched once per process).
 *
 * A tag shorter than 16 bytes is the full tag's first bytes.  Verification
 * recomputes the tag and compares it in constant time; a signature of the
 * wrong length is CKR_SIGNATURE_LEN_RANGE, a wrong one
 * CKR_SIGNATURE_INVALID.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "mech_aes.h"

#define CMAC_MAX 16

/* Per-operation state. */
typedef ch_mac_state cmac_state;

static pthread_once_t cmac_once = PTHREAD_ONCE_INIT;
static EVP_MAC *cmac_alg;

static void cmac_fetch(void)
{
	cmac_alg = EVP_MAC_fetch(NULL, "CMAC", NULL);
}

/* CKM_AES_CMAC (row->arg 0) takes no parameter; CKM_AES_CMAC_GENERAL a
 * tag length of 1 to 16 bytes. */
static CK_RV cmac_param(ch_op *op, const CK_MECHANISM *m)
{
	cmac_state *st = op->st;
	CK_ULONG len;

	if (op->row->arg == 0) {
		st->tag_len = CMAC_MAX;
		return ch_mech_no_param(m);
	}
	if (m->pParameter == NULL || m->ulParameterLen != sizeof(CK_MAC_GENERAL_PARAMS))
		return CKR_MECHANISM_PARAM_INVALID;
	memcpy(&len, m->pParameter, sizeof(len));
	if (len < 1 || len > CMAC_MAX)
		return CKR_MECHANISM_PARAM_INVALID;
	st->tag_len = len;
	return CKR_OK;
}

static CK_RV cmac_start(ch_op *op, const CK_MECHANISM *m, const ch_attrs *key)
{
	cmac_state *st = op->st;
	const EVP_CIPHER *cipher;
	const CK_BYTE *value;
	const ch_attr *v;
	OSSL_PARAM prm[2];
	CK_RV rv;

	(void)m;
	if ((rv = ch_aes_key(key, CH_CIPHER_AES_128_CBC, &value, &cipher)) != CKR_OK)
		return rv;
	v = ch_attrs_get(key, CKA_VALUE);
	if (pthread_once(&cmac_once, cmac_fetch) != 0 || cmac_alg == NULL)
		return CKR_GENERAL_ERROR;
	if ((st->ctx = EVP_MAC_CTX_new(cmac_alg)) == NULL)
		return CKR_HOST_MEMORY;
	prm[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER,
	                                          (char *)EVP_CIPHER_get0_name(cipher), 0);
	prm[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(st->ctx, value, v->len, prm) != 1)
		return CKR_FUNCTION_FAILED;
	return CKR_OK;
}

const ch_mech_ops ch_aes_cmac_ops = {
	.state_size = sizeof(cmac_state),
	.param = cmac_param,
	.start = cmac_start,
	.out_len = ch_mac_out_len,
	.update = ch_mac_update,
	.final = ch_mac_final,
	.verify_final = ch_mac_verify_final,
	.cleanup = ch_mac_cleanup,
};
