/*
 * tools/cipherhub_recovery.c: `recovery setup` and `recovery restore`.
 *
 * The module makes a registration's recovery key and hands it out once
 * (CH_RecoverySetup); the tool splits it into N shares of which any M join
 * back into it (Shamir's secret sharing over GF(2^8), by Debian's
 * libgfshare), prints them and wipes the key.  `restore` joins M shares and
 * gives them to CH_Recover with the "so" participant's new PIN.
 *
 * A share is one printable line:
 *
 *	CHS1-<split>-<M>-<x>-<64 hex digits>
 *
 * split: 8 hex digits drawn at setup, the same on every share of one split
 * (shares of different splits never join); M: how many shares the split
 * needs; x: the share's number (1..N), its point on the polynomial.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <libgfshare.h>

#include "cipherhub.h"

#define SHARE_MAX 255

typedef struct share {
	unsigned long split;
	unsigned m, x;
	unsigned char y[CH_RECOVERY_KEY_LEN];
} share;

/* libgfshare's source of random coefficients: the kernel's. */
static void fill_random(unsigned char *buf, unsigned int n)
{
	while (n > 0) {
		ssize_t got = getrandom(buf, n, 0);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			abort(); /* no randomness: never split with weak coefficients */
		buf += got;
		n -= (unsigned int)got;
	}
}

static void wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

int ch_cli_cmd_recovery_setup(ch_cli *c, char **args)
{
	unsigned char key[CH_RECOVERY_KEY_LEN], y[CH_RECOVERY_KEY_LEN], nrs[SHARE_MAX];
	CK_ULONG len = sizeof(key);
	CH_C_RecoverySetup setup;
	gfshare_ctx *g = NULL;
	uint32_t split;
	CK_RV rv;
	int ex = CH_EXIT_USAGE;

	(void)args;
	if (c->shares == 0 || c->threshold == 0) {
		ch_cli_err(c, "recovery setup needs --shares N and --threshold M");
		return CH_EXIT_USAGE;
	}
	if (c->threshold < 2 || c->threshold > c->shares) {
		ch_cli_err(c, "--threshold must be at least 2 and at most --shares (%u)",
		           c->shares);
		return CH_EXIT_USAGE;
	}
	if ((ex = ch_cli_prepare(c, CH_CLI_LOGIN_ADMIN)) != CH_EXIT_OK)
		return ex;
	if ((setup = ch_cli_vendor_fn(c, CH_RecoverySetup)) == NULL)
		return CH_EXIT_UNSUPPORTED;
	gfshare_fill_rand = fill_random; /* coefficients, and scrubbing at free */
	fill_random((unsigned char *)&split, sizeof(split));
	for (unsigned i = 0; i < c->shares; i++)
		nrs[i] = (unsigned char)(i + 1);
	if ((g = gfshare_ctx_init_enc(nrs, c->shares, (unsigned char)c->threshold, sizeof(key))) ==
	    NULL) {
		ch_cli_err(c, "cannot set up the split (out of memory)");
		return CH_EXIT_PKCS11;
	}
	if ((rv = setup(c->session, key, &len)) != CKR_OK) {
		ex = ch_cli_fail_rv(c, "CH_RecoverySetup", rv, c->label);
		goto out;
	}
	gfshare_ctx_enc_setsecret(g, key);
	fprintf(stderr,
	        "recovery key of '%s': %u shares, any %u of which restore admin access; an "
	        "earlier recovery key no longer works\n",
	        c->label, c->shares, c->threshold);
	for (unsigned i = 0; i < c->shares; i++) {
		gfshare_ctx_enc_getshare(g, (unsigned char)i, y);
		printf("CHS1-%08x-%u-%u-", split, c->threshold, i + 1);
		for (size_t j = 0; j < sizeof(y); j++)
			printf("%02x", y[j]);
		printf("\n");
	}
	ex = fflush(stdout) == 0 ? CH_EXIT_OK : CH_EXIT_PKCS11;
out:
	wipe(key, sizeof(key));
	wipe(y, sizeof(y));
	if (g != NULL)
		gfshare_ctx_free(g);
	return ex;
}

/* Parses one share line; false when it is not one.  Its hex copy is wiped
 * either way (s->y is the caller's to wipe). */
static bool share_parse(const char *line, share *s)
{
	char hex[2 * CH_RECOVERY_KEY_LEN + 2];
	bool ok;
	int n = 0;

	ok = sscanf(line, "CHS1-%8lx-%u-%u-%65s%n", &s->split, &s->m, &s->x, hex, &n) == 4 &&
	     line[n] == '\0' && strlen(hex) == 2 * CH_RECOVERY_KEY_LEN && s->m >= 2 &&
	     s->m <= SHARE_MAX && s->x >= 1 && s->x <= SHARE_MAX;
	for (size_t i = 0; ok && i < CH_RECOVERY_KEY_LEN; i++) {
		unsigned v = 0;

		ok = sscanf(hex + 2 * i, "%2x", &v) == 1;
		s->y[i] = (unsigned char)v;
	}
	wipe(hex, sizeof(hex));
	return ok;
}

/* Reads the shares from standard input into list (*n of them), checking
 * that they are of one split and distinct.  Returns CH_EXIT_*. */
static int shares_read(ch_cli *c, share *list, unsigned *n)
{
	char line[256];
	unsigned lineno = 0;

	*n = 0;
	while (fgets(line, sizeof(line), stdin) != NULL) {
		size_t len = strcspn(line, "\r\n");
		share s;

		lineno++;
		line[len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if (!share_parse(line, &s)) {
			ch_cli_err(c,
			           "line %u of standard input is not a recovery share "
			           "(CHS1-...); nothing was changed",
			           lineno);
			wipe(line, sizeof(line));
			return CH_EXIT_USAGE;
		}
		wipe(line, sizeof(line));
		if (*n > 0 && (s.split != list[0].split || s.m != list[0].m)) {
			ch_cli_err(c,
			           "the share on line %u is of another split (%08lx, not %08lx); "
			           "nothing was changed",
			           lineno, s.split, list[0].split);
			wipe(&s, sizeof(s));
			return CH_EXIT_USAGE;
		}
		bool dup = false;

		for (unsigned i = 0; i < *n; i++)
			dup |= list[i].x == s.x;
		if (!dup && *n < SHARE_MAX)
			list[(*n)++] = s;
		wipe(&s, sizeof(s));
	}
	if (*n == 0 || *n < list[0].m) {
		ch_cli_err(c,
		           "%u distinct share(s) given; this split needs %u; nothing was "
		           "changed",
		           *n, *n == 0 ? 2 : list[0].m);
		return CH_EXIT_USAGE;
	}
	return CH_EXIT_OK;
}

int ch_cli_cmd_recovery_restore(ch_cli *c, char **args)
{
	static share list[SHARE_MAX];
	unsigned char key[CH_RECOVERY_KEY_LEN], nrs[SHARE_MAX];
	ch_cli_pin pin = { { 0 }, 0 };
	CH_C_Recover recover;
	gfshare_ctx *g = NULL;
	unsigned n = 0, m;
	CK_RV rv;
	int ex;

	(void)args;
	gfshare_fill_rand = fill_random; /* it also scrubs contexts as they are freed */
	if ((ex = shares_read(c, list, &n)) != CH_EXIT_OK)
		goto out;
	m = list[0].m;
	for (unsigned i = 0; i < m; i++)
		nrs[i] = (unsigned char)list[i].x;
	if ((g = gfshare_ctx_init_dec(nrs, m, sizeof(key))) == NULL) {
		ch_cli_err(c, "cannot join the shares (out of memory)");
		ex = CH_EXIT_PKCS11;
		goto out;
	}
	for (unsigned i = 0; i < m; i++)
		gfshare_ctx_dec_giveshare(g, (unsigned char)i, list[i].y);
	gfshare_ctx_dec_extract(g, key);
	if ((ex = ch_cli_prepare(c, CH_CLI_LOGIN_NONE)) != CH_EXIT_OK)
		goto out;
	ex = CH_EXIT_UNSUPPORTED;
	if ((recover = ch_cli_vendor_fn(c, CH_Recover)) == NULL)
		goto out;
	if ((ex = ch_cli_pin_new(c, "so", &pin)) != CH_EXIT_OK)
		goto out;
	rv = recover(c->session, key, sizeof(key), (CK_UTF8CHAR_PTR)pin.buf, pin.len);
	if (rv == CKR_PIN_INCORRECT) {
		ch_cli_err(c,
		           "the shares do not open the recovery key of '%s' (a wrong share, or "
		           "shares of an earlier recovery key); nothing was changed",
		           c->label);
		ex = CH_EXIT_LOGIN;
	} else if (rv == CKR_USER_PIN_NOT_INITIALIZED) {
		ch_cli_err(c,
		           "'%s' has no recovery key (run `recovery setup`); nothing was "
		           "changed",
		           c->label);
		ex = CH_EXIT_PKCS11;
	} else if (rv != CKR_OK) {
		ex = ch_cli_fail_rv(c, "CH_Recover", rv, c->label);
	} else {
		printf("admin access to '%s' restored: 'so' has a new PIN\n", c->label);
		ex = CH_EXIT_OK;
	}
out:
	wipe(key, sizeof(key));
	wipe(list, sizeof(list));
	ch_cli_pin_wipe(&pin);
	if (g != NULL)
		gfshare_ctx_free(g);
	return ex;
}
