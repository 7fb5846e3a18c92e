/*
 * Configuration loading (see config.h).  The INI format is parsed by inih
 * (Debian's libinih); this file only maps sections and keys to ch_config and
 * rejects what it does not know, so a typo is an error, not a silent default.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "config.h"
#include "log.h"
#include "util.h"

typedef struct parse_ctx {
	ch_config *cfg;
	char error[200];
} parse_ctx;

static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return 0;
	*out = (uint32_t)v;
	return 1;
}

static int set_string(char **dst, const char *value)
{
	char *dup = strdup(value);

	if (dup == NULL)
		return 0;
	free(*dst);
	*dst = dup;
	return 1;
}

/* The [forward:NAME] or [root:NAME] section's entry in *list, added when
 * new.  NULL on a bad name or no memory. */
static ch_hsm_conf *hsm_section(ch_hsm_conf **list, size_t *n, const char *name)
{
	ch_hsm_conf *nv;

	if (!ch_name_valid((const unsigned char *)name, strlen(name)))
		return NULL;
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*list)[i].name, name) == 0)
			return &(*list)[i];
	if ((nv = realloc(*list, (*n + 1) * sizeof(*nv))) == NULL)
		return NULL;
	*list = nv;
	memset(&nv[*n], 0, sizeof(nv[*n]));
	nv[*n].pin_fd = -1;
	if ((nv[*n].name = strdup(name)) == NULL)
		return NULL;
	return &nv[(*n)++];
}

/* One key of a [forward:] or [root:] section. */
static int hsm_entry(ch_hsm_conf *h, bool root, const char *name, const char *value)
{
	uint32_t fd;

	if (strcmp(name, "module") == 0)
		return *value == '/' && set_string(&h->module, value);
	if (strcmp(name, "token") == 0)
		return ch_hsm_uri_valid(value) && set_string(&h->token, value);
	if (strcmp(name, "pin_file") == 0)
		return *value != '\0' && set_string(&h->pin_file, value);
	if (strcmp(name, "pin_env") == 0)
		return *value != '\0' && set_string(&h->pin_env, value);
	if (strcmp(name, "pin_fd") == 0 && parse_u32(value, 0, INT_MAX, &fd)) {
		h->pin_fd = (int)fd;
		return 1;
	}
	if (root && strcmp(name, "key") == 0)
		return *value != '\0' && set_string(&h->key, value);
	return 0;
}

/* inih callback: returns non-zero when the line was understood. */
static int on_entry(void *user, const char *section, const char *name, const char *value)
{
	parse_ctx *p = user;
	ch_config *c = p->cfg;
	ch_hsm_conf *h;
	int ok = 0;

	if (strncmp(section, "forward:", 8) == 0) {
		h = hsm_section(&c->forward, &c->nforward, section + 8);
		ok = h != NULL && hsm_entry(h, false, name, value);
	} else if (strncmp(section, "root:", 5) == 0) {
		h = hsm_section(&c->root, &c->nroot, section + 5);
		ok = h != NULL && hsm_entry(h, true, name, value);
	} else if (strcmp(section, "store") == 0 && strcmp(name, "path") == 0) {
		ok = *value != '\0' && set_string(&c->store_path, value);
	} else if (strcmp(section, "pin") == 0) {
		if (strcmp(name, "kdf") == 0) {
			ok = 1;
			if (strcmp(value, "pbkdf2-sha256") == 0)
				c->kdf.alg = CH_KDF_PBKDF2_SHA256;
			else if (strcmp(value, "scrypt") == 0)
				c->kdf.alg = CH_KDF_SCRYPT;
			else
				ok = 0;
		} else if (strcmp(name, "max_failures") == 0) {
			uint32_t v = 0;
			if ((ok = parse_u32(value, 1, 1000, &v)))
				c->max_failures = v;
		} else if (strcmp(name, "pbkdf2_iterations") == 0) {
			ok = parse_u32(value, 1, INT_MAX, &c->kdf.iterations);
		} else if (strcmp(name, "scrypt_log2n") == 0) {
			ok = parse_u32(value, 1, 30, &c->kdf.log2n);
		} else if (strcmp(name, "scrypt_r") == 0) {
			ok = parse_u32(value, 1, 64, &c->kdf.r);
		} else if (strcmp(name, "scrypt_p") == 0) {
			ok = parse_u32(value, 1, 64, &c->kdf.p);
		}
	} else if (strcmp(section, "policy") == 0 && strcmp(name, "legacy_key_roles") == 0) {
		ok = set_string(&c->legacy_key_roles, value);
	} else if (strcmp(section, "log") == 0) {
		if (strcmp(name, "level") == 0) {
			c->log_level = ch_log_level_parse(value);
			ok = c->log_level >= 0;
		} else if (strcmp(name, "file") == 0) {
			ok = set_string(&c->log_file, value);
		}
	}
	if (!ok && p->error[0] == '\0')
		snprintf(p->error, sizeof(p->error), "[%s] %s = %s: unknown key or bad value",
		         section, name, value);
	return ok;
}

/* The embedded default store: $XDG_DATA_HOME/cipherhub/store.db, or
 * ~/.local/share/cipherhub/store.db. */
static char *default_store(void)
{
	const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
	char *path = NULL;

	if (xdg != NULL && xdg[0] == '/') {
		if (asprintf(&path, "%s/cipherhub/store.db", xdg) < 0)
			path = NULL;
	} else if (home != NULL && home[0] != '\0') {
		if (asprintf(&path, "%s/.local/share/cipherhub/store.db", home) < 0)
			path = NULL;
	}
	return path;
}

/* Every [forward:] and [root:] section is complete: a module, exactly one
 * PIN source, and for a root its key.  Logs the first one that is not. */
static bool hsm_sections_ok(const char *file, const ch_hsm_conf *list, size_t n, bool root)
{
	for (size_t i = 0; i < n; i++) {
		const ch_hsm_conf *h = &list[i];
		int pins = (h->pin_file != NULL) + (h->pin_env != NULL) + (h->pin_fd >= 0);
		const char *what = NULL;

		if (h->module == NULL)
			what = "needs module = /path/to/module.so";
		else if (pins != 1)
			what = "needs exactly one of pin_file, pin_env, pin_fd";
		else if (root && h->key == NULL)
			what = "needs key = LABEL";
		if (what != NULL) {
			ch_log(CH_LOG_ERROR, "configuration %s: [%s:%s] %s", file,
			       root ? "root" : "forward", h->name, what);
			return false;
		}
	}
	return true;
}

CK_RV ch_config_load(ch_config *cfg)
{
	const char *file = getenv("CIPHERHUB_CONF"), *store = getenv("CIPHERHUB_STORE");
	parse_ctx p = { .cfg = cfg };
	CK_RV rv = CKR_GENERAL_ERROR;
	int line;

	memset(cfg, 0, sizeof(*cfg));
	ch_kdf_defaults(&cfg->kdf);
	cfg->max_failures = 10;
	cfg->log_level = CH_LOG_WARNING;
	if ((file == NULL || *file == '\0') && access(CH_CONFIG_SYSTEM, F_OK) == 0)
		file = CH_CONFIG_SYSTEM;
	if (file != NULL && *file != '\0') {
		line = ini_parse(file, on_entry, &p);
		if (line < 0) {
			ch_log(CH_LOG_ERROR, "configuration %s: cannot read it", file);
			goto out;
		}
		if (line > 0) {
			ch_log(CH_LOG_ERROR, "configuration %s, line %d: %s", file, line,
			       p.error[0] ? p.error : "syntax error");
			goto out;
		}
	}
	if (!hsm_sections_ok(file, cfg->forward, cfg->nforward, false) ||
	    !hsm_sections_ok(file, cfg->root, cfg->nroot, true))
		goto out;
	if (store != NULL && *store != '\0' && !set_string(&cfg->store_path, store)) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	if (cfg->store_path == NULL && (cfg->store_path = default_store()) == NULL) {
		ch_log(CH_LOG_ERROR, "no store: set CIPHERHUB_STORE, [store] path, or HOME");
		goto out;
	}
	if (cfg->kdf.alg == CH_KDF_PBKDF2_SHA256 && cfg->kdf.iterations < 600000)
		ch_log(CH_LOG_INFO, "PIN KDF: %u PBKDF2 iterations is below OWASP's minimum",
		       cfg->kdf.iterations);
	rv = CKR_OK;
out:
	if (rv != CKR_OK)
		ch_config_free(cfg);
	return rv;
}

void ch_config_free(ch_config *cfg)
{
	free(cfg->store_path);
	free(cfg->log_file);
	free(cfg->legacy_key_roles);
	cfg->store_path = NULL;
	cfg->log_file = NULL;
	cfg->legacy_key_roles = NULL;
	for (size_t i = 0; i < cfg->nforward; i++)
		ch_hsm_conf_free(&cfg->forward[i]);
	for (size_t i = 0; i < cfg->nroot; i++)
		ch_hsm_conf_free(&cfg->root[i]);
	free(cfg->forward);
	free(cfg->root);
	cfg->forward = cfg->root = NULL;
	cfg->nforward = cfg->nroot = 0;
}
