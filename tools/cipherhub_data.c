/*
 * tools/cipherhub_data.c: the admin tool's data commands (issue 8, points 4
 * and 5): versioned encryption, rewrap, and envelope data keys.
 *
 *   encrypt LABEL   CKM_CH_AES_GCM_VERSIONED under the family's primary
 *   decrypt LABEL   with whichever version the ciphertext names
 *   rewrap LABEL    CH_Rewrap: to the primary, the plaintext staying inside
 *   datakey generate LABEL   CH_DataKeyGenerate: a wrapped data key, and its
 *                   plaintext (--plaintext-out) where the family allows it
 *   datakey unwrap LABEL     C_UnwrapKey of a stored data key, its value out
 *                   where the family allows it
 *   key datakey-plaintext LABEL on|off   the family's CKA_CH_DATAKEY_PLAINTEXT
 *
 * Data comes from --in FILE (default standard input) and goes to --out FILE
 * (default standard output, which must not be a terminal: the bytes are
 * binary).  Plaintext keys are written to files made 0600.  The keys are
 * found as a stock client would find them, by CKA_LABEL and the usage
 * attribute the call needs (the rules of key versions make the primary the
 * only key with CKA_ENCRYPT or CKA_WRAP), and every refusal is the module's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cipherhub.h"

/* The most input the data commands read (a ciphertext, a wrapped key). */
#define DATA_MAX (64UL * 1024 * 1024)

/* The 1.3 vendor function member, or NULL (printed) on an older module. */
#define data_fn(c, member)                                                                         \
	((c)->vendor != NULL && (c)->vendor->version.minor >= 3                                    \
	         ? ch_cli_vendor_fn(c, member)                                                     \
	         : (ch_cli_vendor_missing((c), #member), NULL))

/* All of --in (or standard input) into *buf (caller frees).  CH_EXIT_*. */
static int input_read(const ch_cli *c, CK_BYTE **buf, CK_ULONG *len)
{
	int fd = c->in_path != NULL ? open(c->in_path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	size_t cap = 4096, n = 0;
	CK_BYTE *b = NULL, *nb;
	ssize_t r;
	int ex = CH_EXIT_USAGE;

	*buf = NULL;
	*len = 0;
	if (fd < 0) {
		ch_cli_err(c, "cannot open '%s': %s", c->in_path, strerror(errno));
		return CH_EXIT_USAGE;
	}
	if ((b = malloc(cap)) == NULL)
		goto oom;
	for (;;) {
		if (n == cap) {
			if (cap >= DATA_MAX) {
				ch_cli_err(c, "the input is longer than %lu bytes", DATA_MAX);
				goto out;
			}
			/* Not realloc: it would free the old copy of a
			 * plaintext unwiped. */
			if ((nb = malloc(cap * 2)) == NULL)
				goto oom;
			memcpy(nb, b, n);
			explicit_bzero(b, cap);
			free(b);
			b = nb;
			cap *= 2;
		}
		r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ch_cli_err(c, "cannot read the input: %s", strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*buf = b;
	*len = (CK_ULONG)n;
	b = NULL; /* transferred */
	ex = CH_EXIT_OK;
	goto out;
oom:
	ch_cli_err(c, "out of memory");
out:
	if (b != NULL) {
		explicit_bzero(b, cap);
		free(b);
	}
	if (fd != STDIN_FILENO)
		close(fd);
	return ex;
}

/* Writes len bytes to path (NULL: standard output), a new file of mode
 * mode.  CH_EXIT_*. */
static int output_write(const ch_cli *c, const char *path, mode_t mode, const CK_BYTE *buf,
                        CK_ULONG len)
{
	int fd = STDOUT_FILENO, ex = CH_EXIT_PKCS11;
	size_t done = 0;
	ssize_t w;

	if (path != NULL &&
	    (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode)) < 0) {
		ch_cli_err(c, "cannot create '%s': %s", path, strerror(errno));
		return CH_EXIT_USAGE;
	}
	if (path != NULL && fchmod(fd, mode) != 0) {
		ch_cli_err(c, "cannot set the mode of '%s': %s", path, strerror(errno));
		goto out;
	}
	while (done < len) {
		w = write(fd, buf + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			ch_cli_err(c, "cannot write %s: %s", path != NULL ? path : "the output",
			           strerror(errno));
			goto out;
		}
		done += (size_t)w;
	}
	ex = CH_EXIT_OK;
out:
	if (path != NULL && close(fd) != 0 && ex == CH_EXIT_OK) {
		ch_cli_err(c, "cannot write '%s': %s", path, strerror(errno));
		ex = CH_EXIT_PKCS11;
	}
	return ex;
}

/* Binary output must not go to a terminal. */
static bool output_ok(const ch_cli *c, const char *what)
{
	if (c->out_path == NULL && isatty(STDOUT_FILENO)) {
		ch_cli_err(c, "%s is binary: use --out FILE or redirect standard output", what);
		return false;
	}
	return true;
}

/* The first token secret key labelled label whose usage attribute is TRUE
 * (the primary first).  CH_EXIT_USAGE (printed) when there is none. */
static int key_find(ch_cli *c, const char *label, CK_ATTRIBUTE_TYPE usage, const char *what,
                    CK_OBJECT_HANDLE *h)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (CK_VOID_PTR)label, (CK_ULONG)strlen(label) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ usage, &yes, sizeof(yes) },
	};
	CK_ULONG n = 0;
	CK_RV rv;

	if ((rv = c->p11->C_FindObjectsInit(c->session, t, 4)) != CKR_OK)
		return ch_cli_fail_rv(c, "C_FindObjectsInit", rv, label);
	rv = c->p11->C_FindObjects(c->session, h, 1, &n);
	(void)c->p11->C_FindObjectsFinal(c->session);
	if (rv != CKR_OK)
		return ch_cli_fail_rv(c, "C_FindObjects", rv, label);
	if (n == 0) {
		ch_cli_err(c, "no secret key '%s' that %s can %s with", label, c->as, what);
		return CH_EXIT_USAGE;
	}
	return CH_EXIT_OK;
}

/* Says what a refusal of the versioned mechanism means, then the call. */
static int data_fail(const ch_cli *c, const char *call, CK_RV rv, const char *label)
{
	if (rv == CKR_CH_KEY_VERSION_UNUSABLE)
		ch_cli_err(c,
		           "the version of '%s' that made this ciphertext may not decrypt any more "
		           "(disabled, destroyed, below the minimum version, or not granted)",
		           label);
	else if (rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_ENCRYPTED_DATA_LEN_RANGE ||
	         rv == CKR_WRAPPED_KEY_INVALID || rv == CKR_WRAPPED_KEY_LEN_RANGE)
		ch_cli_err(c, "the input is not a ciphertext of '%s', or it was changed", label);
	return ch_cli_fail_rv(c, call, rv, label);
}

/* ---- encrypt, decrypt, rewrap ------------------------------------------- */

/* One C_Encrypt or C_Decrypt of the input with CKM_CH_AES_GCM_VERSIONED. */
static int crypt_run(ch_cli *c, const char *label, bool enc)
{
	CK_MECHANISM m = { CKM_CH_AES_GCM_VERSIONED, NULL, 0 };
	CK_OBJECT_HANDLE k = CK_INVALID_HANDLE;
	CK_BYTE *in = NULL, *out = NULL;
	CK_ULONG in_len = 0, out_len = 0;
	CK_RV rv;
	int ex;

	if (!output_ok(c, enc ? "the ciphertext" : "the plaintext"))
		return CH_EXIT_USAGE;
	if ((ex = input_read(c, &in, &in_len)) != CH_EXIT_OK ||
	    (ex = ch_cli_prepare(c, CH_CLI_LOGIN_OPERATOR)) != CH_EXIT_OK ||
	    (ex = key_find(c, label, enc ? CKA_ENCRYPT : CKA_DECRYPT, enc ? "encrypt" : "decrypt",
	                   &k)) != CH_EXIT_OK)
		goto out;
	rv = enc ? c->p11->C_EncryptInit(c->session, &m, k)
	         : c->p11->C_DecryptInit(c->session, &m, k);
	if (rv != CKR_OK) {
		ex = data_fail(c, enc ? "C_EncryptInit" : "C_DecryptInit", rv, label);
		goto out;
	}
	/* One call with room enough: a versioned ciphertext is the plaintext
	 * and 44 bytes. */
	out_len = in_len + CH_VERSIONED_HEADER_LEN + CH_VERSIONED_TAG_LEN;
	ex = CH_EXIT_PKCS11;
	if ((out = malloc(out_len)) == NULL) {
		ch_cli_err(c, "out of memory");
		goto out;
	}
	rv = enc ? c->p11->C_Encrypt(c->session, in, in_len, out, &out_len)
	         : c->p11->C_Decrypt(c->session, in, in_len, out, &out_len);
	if (rv != CKR_OK) {
		ex = data_fail(c, enc ? "C_Encrypt" : "C_Decrypt", rv, label);
		goto out;
	}
	ex = output_write(c, c->out_path, enc ? 0644 : 0600, out, out_len);
out:
	if (in != NULL)
		explicit_bzero(in, in_len);
	if (out != NULL)
		explicit_bzero(out, in_len + CH_VERSIONED_HEADER_LEN + CH_VERSIONED_TAG_LEN);
	free(in);
	free(out);
	return ex;
}

int ch_cli_cmd_encrypt(ch_cli *c, char **args)
{
	return crypt_run(c, args[0], true);
}

int ch_cli_cmd_decrypt(ch_cli *c, char **args)
{
	return crypt_run(c, args[0], false);
}

int ch_cli_cmd_rewrap(ch_cli *c, char **args)
{
	CK_MECHANISM m = { CKM_CH_AES_GCM_VERSIONED, NULL, 0 };
	CK_OBJECT_HANDLE k = CK_INVALID_HANDLE;
	CH_C_Rewrap rewrap;
	CK_BYTE *in = NULL, *out = NULL;
	CK_ULONG in_len = 0, out_len = 0;
	CK_RV rv;
	int ex;

	if (!output_ok(c, "the ciphertext"))
		return CH_EXIT_USAGE;
	if ((ex = input_read(c, &in, &in_len)) != CH_EXIT_OK ||
	    (ex = ch_cli_prepare(c, CH_CLI_LOGIN_OPERATOR)) != CH_EXIT_OK ||
	    (ex = key_find(c, args[0], CKA_DECRYPT, "decrypt", &k)) != CH_EXIT_OK)
		goto out;
	ex = CH_EXIT_UNSUPPORTED;
	if ((rewrap = data_fn(c, CH_Rewrap)) == NULL)
		goto out;
	if ((rv = rewrap(c->session, &m, k, in, in_len, NULL, &out_len)) != CKR_OK) {
		ex = data_fail(c, "CH_Rewrap", rv, args[0]);
		goto out;
	}
	ex = CH_EXIT_PKCS11;
	if ((out = malloc(out_len ? out_len : 1)) == NULL) {
		ch_cli_err(c, "out of memory");
		goto out;
	}
	if ((rv = rewrap(c->session, &m, k, in, in_len, out, &out_len)) != CKR_OK) {
		ex = data_fail(c, "CH_Rewrap", rv, args[0]);
		goto out;
	}
	ex = output_write(c, c->out_path, 0644, out, out_len);
	if (ex == CH_EXIT_OK && out_len >= 16)
		fprintf(stderr, "rewrapped under '%s' version %lu\n", args[0],
		        (unsigned long)out[12] << 24 | (unsigned long)out[13] << 16 |
		                (unsigned long)out[14] << 8 | out[15]);
out:
	free(in);
	free(out);
	return ex;
}

/* ---- datakey generate, datakey unwrap ----------------------------------- */

int ch_cli_cmd_datakey_generate(ch_cli *c, char **args)
{
	CK_MECHANISM m = { CKM_CH_AES_GCM_VERSIONED, NULL, 0 };
	CK_OBJECT_HANDLE k = CK_INVALID_HANDLE;
	CH_C_DataKeyGenerate gen;
	CK_BYTE wrapped[CH_VERSIONED_HEADER_LEN + 32 + CH_VERSIONED_TAG_LEN], plain[32];
	CK_ULONG wlen = sizeof(wrapped), plen = sizeof(plain), bytes = c->bytes ? c->bytes : 32;
	CK_RV rv;
	int ex;

	if (bytes != 16 && bytes != 24 && bytes != 32) {
		ch_cli_err(c, "--bytes %lu: a data key has 16, 24 or 32 bytes",
		           (unsigned long)bytes);
		return CH_EXIT_USAGE;
	}
	if (!output_ok(c, "the wrapped data key"))
		return CH_EXIT_USAGE;
	if ((ex = ch_cli_prepare(c, CH_CLI_LOGIN_OPERATOR)) != CH_EXIT_OK ||
	    (ex = key_find(c, args[0], CKA_WRAP, "wrap", &k)) != CH_EXIT_OK)
		return ex;
	if ((gen = data_fn(c, CH_DataKeyGenerate)) == NULL)
		return CH_EXIT_UNSUPPORTED;
	rv = gen(c->session, &m, k, bytes, wrapped, &wlen, c->plain_out != NULL ? plain : NULL,
	         c->plain_out != NULL ? &plen : NULL);
	if (rv == CKR_KEY_FUNCTION_NOT_PERMITTED && c->plain_out != NULL)
		ch_cli_err(c,
		           "the family '%s' keeps data keys in the token (its "
		           "CKA_CH_DATAKEY_PLAINTEXT is off: see '%s key datakey-plaintext'); "
		           "nothing was made",
		           args[0], c->prog);
	if (rv != CKR_OK) {
		ex = ch_cli_fail_rv(c, "CH_DataKeyGenerate", rv, args[0]);
		goto out;
	}
	if (c->plain_out != NULL &&
	    (ex = output_write(c, c->plain_out, 0600, plain, plen)) != CH_EXIT_OK)
		goto out;
	if ((ex = output_write(c, c->out_path, 0644, wrapped, wlen)) != CH_EXIT_OK)
		goto out;
	fprintf(stderr, "%lu-byte data key wrapped under '%s' version %lu%s\n",
	        (unsigned long)bytes, args[0],
	        (unsigned long)wrapped[12] << 24 | (unsigned long)wrapped[13] << 16 |
	                (unsigned long)wrapped[14] << 8 | wrapped[15],
	        c->plain_out != NULL ? ", plaintext written" : "");
out:
	explicit_bzero(plain, sizeof(plain));
	return ex;
}

int ch_cli_cmd_datakey_unwrap(ch_cli *c, char **args)
{
	CK_MECHANISM m = { CKM_CH_AES_GCM_VERSIONED, NULL, 0 };
	CK_OBJECT_HANDLE k = CK_INVALID_HANDLE, dk = CK_INVALID_HANDLE;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },       { CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_TOKEN, &no, sizeof(no) },         { CKA_SENSITIVE, &no, sizeof(no) },
		{ CKA_EXTRACTABLE, &yes, sizeof(yes) },
	};
	CK_BYTE *in = NULL, value[32];
	CK_ATTRIBUTE v = { CKA_VALUE, value, sizeof(value) };
	CK_ULONG in_len = 0;
	CK_RV rv;
	int ex;

	if (!output_ok(c, "the data key"))
		return CH_EXIT_USAGE;
	if ((ex = input_read(c, &in, &in_len)) != CH_EXIT_OK ||
	    (ex = ch_cli_prepare(c, CH_CLI_LOGIN_OPERATOR)) != CH_EXIT_OK ||
	    (ex = key_find(c, args[0], CKA_UNWRAP, "unwrap", &k)) != CH_EXIT_OK)
		goto out;
	rv = c->p11->C_UnwrapKey(c->session, &m, k, in, in_len, t, 5, &dk);
	if (rv == CKR_TEMPLATE_INCONSISTENT)
		ch_cli_err(c,
		           "the family '%s' keeps data keys in the token (its "
		           "CKA_CH_DATAKEY_PLAINTEXT is off): unwrap it with C_UnwrapKey in the "
		           "application",
		           args[0]);
	if (rv != CKR_OK) {
		ex = data_fail(c, "C_UnwrapKey", rv, args[0]);
		goto out;
	}
	rv = c->p11->C_GetAttributeValue(c->session, dk, &v, 1);
	(void)c->p11->C_DestroyObject(c->session, dk);
	if (rv != CKR_OK) {
		ex = ch_cli_fail_rv(c, "C_GetAttributeValue(CKA_VALUE)", rv, args[0]);
		goto out;
	}
	ex = output_write(c, c->out_path, 0600, value, v.ulValueLen);
out:
	explicit_bzero(value, sizeof(value));
	free(in);
	return ex;
}

/* ---- key datakey-plaintext ---------------------------------------------- */

int ch_cli_cmd_key_datakey_plaintext(ch_cli *c, char **args)
{
	CK_BBOOL on;
	CK_ATTRIBUTE a = { CKA_CH_DATAKEY_PLAINTEXT, &on, sizeof(on) };
	CK_OBJECT_HANDLE k = CK_INVALID_HANDLE;
	CK_RV rv;
	int ex;

	if (strcmp(args[1], "on") != 0 && strcmp(args[1], "off") != 0) {
		ch_cli_err(c, "'%s' is neither on nor off", args[1]);
		return CH_EXIT_USAGE;
	}
	on = strcmp(args[1], "on") == 0 ? CK_TRUE : CK_FALSE;
	/* The family's policy is its primary's: the one key that wraps. */
	if ((ex = ch_cli_prepare(c, CH_CLI_LOGIN_OPERATOR)) != CH_EXIT_OK ||
	    (ex = key_find(c, args[0], CKA_WRAP, "wrap", &k)) != CH_EXIT_OK)
		return ex;
	if ((rv = c->p11->C_SetAttributeValue(c->session, k, &a, 1)) != CKR_OK)
		return ch_cli_fail_rv(c, "C_SetAttributeValue(CKA_CH_DATAKEY_PLAINTEXT)", rv,
		                      args[0]);
	printf("'%s': data-key plaintext %s\n", args[0],
	       on ? "may leave the token" : "stays in the token");
	return CH_EXIT_OK;
}
