/*
 * tools/cipherhub_backup.c: `backup` and `restore`.
 *
 * `backup` asks the module for the registration's backup (CH_BackupExport,
 * as an admin) and writes it, as it comes, to standard output: one binary
 * file, encrypted and authenticated by the module, so the tool never holds
 * anything in clear.  `restore` reads such a file from standard input and
 * gives it, with the SO PIN the registration had when it was backed up, to
 * CH_BackupImport on the free slot, where the registration is created
 * again, all or nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cipherhub.h"

/* The largest backup restore reads: the module writes none larger. */
#define BACKUP_MAX CH_BACKUP_MAX

int ch_cli_cmd_backup(ch_cli *c, char **args)
{
	CH_C_BackupExport backup;
	CK_BYTE *buf = NULL;
	CK_ULONG len = 0;
	CK_RV rv = CKR_OK;
	int ex;

	(void)args;
	if (isatty(STDOUT_FILENO)) {
		ch_cli_err(c, "the backup is binary: redirect standard output to a file "
		              "(cipherhub backup > FILE)");
		return CH_EXIT_USAGE;
	}
	if ((ex = ch_cli_prepare(c, CH_CLI_LOGIN_ADMIN)) != CH_EXIT_OK)
		return ex;
	if ((backup = ch_cli_vendor_fn(c, CH_BackupExport)) == NULL)
		return CH_EXIT_UNSUPPORTED;
	/* The registration may grow between the two calls: ask again then. */
	for (int tries = 0; tries < 5; tries++) {
		CK_BYTE *nb;

		if ((rv = backup(c->session, NULL, &len)) != CKR_OK)
			break;
		if ((nb = realloc(buf, len ? len : 1)) == NULL) {
			ch_cli_err(c, "out of memory (the backup has %lu bytes)", len);
			free(buf);
			return CH_EXIT_PKCS11;
		}
		buf = nb;
		if ((rv = backup(c->session, buf, &len)) != CKR_BUFFER_TOO_SMALL)
			break;
	}
	if (rv == CKR_FUNCTION_NOT_SUPPORTED) {
		ch_cli_err(c,
		           "'%s' cannot be backed up here: its keys are kept by the HSM it is "
		           "forwarded to (back up that HSM)",
		           c->label);
		ex = CH_EXIT_UNSUPPORTED;
	} else if (rv != CKR_OK) {
		ex = ch_cli_fail_rv(c, "CH_BackupExport", rv, c->label);
	} else if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0) {
		ch_cli_err(c, "cannot write the backup: %s", strerror(errno));
		ex = CH_EXIT_PKCS11;
	} else {
		fprintf(stderr, "backup of '%s' written (%lu bytes)\n", c->label, len);
		ex = CH_EXIT_OK;
	}
	free(buf);
	return ex;
}

/* All of standard input into *buf (caller frees).  Returns CH_EXIT_*. */
static int read_all(const ch_cli *c, CK_BYTE **buf, size_t *len)
{
	size_t cap = 64 * 1024;
	CK_BYTE *b = malloc(cap);

	*len = 0;
	if (b == NULL) {
		ch_cli_err(c, "out of memory");
		return CH_EXIT_PKCS11;
	}
	for (;;) {
		size_t got;

		if (*len == cap) {
			CK_BYTE *nb;

			if (cap >= BACKUP_MAX || (nb = realloc(b, cap * 2)) == NULL) {
				ch_cli_err(c, "standard input is too large for a backup");
				free(b);
				return CH_EXIT_USAGE;
			}
			b = nb;
			cap *= 2;
		}
		got = fread(b + *len, 1, cap - *len, stdin);
		*len += got;
		if (got == 0) {
			if (ferror(stdin)) {
				ch_cli_err(c, "cannot read standard input: %s", strerror(errno));
				free(b);
				return CH_EXIT_USAGE;
			}
			break;
		}
	}
	*buf = b;
	return CH_EXIT_OK;
}

/* The free slot: the first one whose token is not initialized and that
 * takes a restore (forwarded slots answer CKR_FUNCTION_NOT_SUPPORTED, so the
 * caller goes on to the next).  Fills list (caller frees) and *n. */
static int free_slots(ch_cli *c, CK_SLOT_ID **list, CK_ULONG *n)
{
	CK_SLOT_ID *all = NULL;
	CK_ULONG count = 0, k = 0;
	CK_TOKEN_INFO ti;
	CK_RV rv;

	*list = NULL;
	*n = 0;
	if ((rv = c->p11->C_GetSlotList(CK_FALSE, NULL, &count)) != CKR_OK)
		return ch_cli_fail_rv(c, "C_GetSlotList", rv, NULL);
	if ((all = calloc(count ? count : 1, sizeof(*all))) == NULL) {
		ch_cli_err(c, "out of memory");
		return CH_EXIT_PKCS11;
	}
	if ((rv = c->p11->C_GetSlotList(CK_FALSE, all, &count)) != CKR_OK) {
		free(all);
		return ch_cli_fail_rv(c, "C_GetSlotList", rv, NULL);
	}
	for (CK_ULONG i = 0; i < count; i++)
		if (c->p11->C_GetTokenInfo(all[i], &ti) == CKR_OK &&
		    !(ti.flags & CKF_TOKEN_INITIALIZED))
			all[k++] = all[i];
	*list = all;
	*n = k;
	return CH_EXIT_OK;
}

/* The message and exit code of a refused restore. */
static int restore_failed(ch_cli *c, CK_RV rv)
{
	const char *why = NULL;
	int ex = CH_EXIT_USAGE;

	switch (rv) {
	case CKR_DATA_LEN_RANGE:
		why = "the backup is truncated (standard input is not a whole backup file)";
		break;
	case CKR_DATA_INVALID:
		why = "standard input is not a Cipher Hub backup, or a malformed one (see the "
		      "module's log)";
		break;
	case CKR_ENCRYPTED_DATA_INVALID:
		why = "the backup fails its authentication check: it was tampered with or "
		      "damaged";
		break;
	case CKR_PIN_INCORRECT:
		why = "the PIN is not the SO PIN this registration had when it was backed up";
		ex = CH_EXIT_LOGIN;
		break;
	case CKR_PIN_LEN_RANGE:
		why = "the PIN has a length no SO PIN can have";
		ex = CH_EXIT_LOGIN;
		break;
	case CKR_ACTION_PROHIBITED:
		why = "this store already has that registration (remove it first, or restore "
		      "into another store)";
		ex = CH_EXIT_PKCS11;
		break;
	case CKR_SESSION_EXISTS:
		why = "a session is open on the free slot: try again";
		ex = CH_EXIT_PKCS11;
		break;
	default:
		return ch_cli_fail_rv(c, "CH_BackupImport", rv, NULL);
	}
	ch_cli_err(c, "%s; nothing was restored", why);
	return ex;
}

int ch_cli_cmd_restore(ch_cli *c, char **args)
{
	ch_cli_pin pin = { { 0 }, 0 };
	CH_C_BackupImport restore;
	CK_SLOT_ID *slots = NULL;
	CK_BYTE *data = NULL;
	CK_ULONG n = 0, i;
	CK_TOKEN_INFO ti;
	CK_RV rv = CKR_FUNCTION_NOT_SUPPORTED;
	size_t len = 0;
	int ex;

	(void)args;
	if (isatty(STDIN_FILENO)) {
		ch_cli_err(c, "the backup comes on standard input (cipherhub restore < FILE)");
		return CH_EXIT_USAGE;
	}
	if ((ex = read_all(c, &data, &len)) != CH_EXIT_OK)
		return ex;
	if ((ex = ch_cli_module_open(c)) != CH_EXIT_OK)
		goto out;
	ex = CH_EXIT_UNSUPPORTED;
	if ((restore = ch_cli_vendor_fn(c, CH_BackupImport)) == NULL)
		goto out;
	if ((ex = free_slots(c, &slots, &n)) != CH_EXIT_OK)
		goto out;
	/* Standard input was the file: a prompt needs the terminal back. */
	snprintf(c->label, sizeof(c->label), "%s", "the backup");
	c->as = "so";
	if (c->pin_fd < 0 && getenv("CIPHERHUB_PIN") == NULL) {
		int tty = open("/dev/tty", O_RDWR | O_CLOEXEC);

		if (tty >= 0) {
			dup2(tty, STDIN_FILENO);
			close(tty);
		}
	}
	if ((ex = ch_cli_pin_acting(c, &pin)) != CH_EXIT_OK)
		goto out;
	for (i = 0; i < n && rv == CKR_FUNCTION_NOT_SUPPORTED; i++)
		rv = restore(slots[i], data, (CK_ULONG)len, (CK_UTF8CHAR_PTR)pin.buf,
		             (CK_ULONG)pin.len);
	if (n == 0 || rv == CKR_FUNCTION_NOT_SUPPORTED) {
		ch_cli_err(c, "this module has no free slot that takes a restore; nothing was "
		              "restored");
		ex = CH_EXIT_UNSUPPORTED;
	} else if (rv != CKR_OK) {
		ex = restore_failed(c, rv);
	} else {
		char label[33] = "";

		if (c->p11->C_GetTokenInfo(slots[i - 1], &ti) == CKR_OK)
			ch_cli_unpad(ti.label, sizeof(ti.label), label);
		if (c->json) {
			fputc('{', stdout);
			ch_cli_json_kv(stdout, "registration", label);
			printf(",\"slot\":%lu}\n", slots[i - 1]);
		} else {
			printf("restored '");
			ch_cli_text_safe(stdout, label);
			printf("' into slot %lu\n", slots[i - 1]);
		}
		ex = CH_EXIT_OK;
	}
out:
	ch_cli_pin_wipe(&pin);
	free(slots);
	free(data);
	return ex;
}
