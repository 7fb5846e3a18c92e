/*
 * tools/cipherhub_out.c: how the admin tool writes what it found, for people
 * and for scripts, and how it reads the two small vocabularies it shares with
 * the module (participant names and role lists).
 *
 * Text goes to a terminal, so anything that came out of the store (a
 * participant name, an audit record's detail) is shown with control
 * characters replaced: an edited record must not be able to move the cursor
 * or hide itself.  JSON goes to scripts: one object per line, strings escaped
 * by the few rules of RFC 8259 written out here (the tool only writes JSON,
 * so no library is needed), and bytes that are not UTF-8 replaced by U+FFFD
 * so every line stays valid JSON whatever the store holds.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cipherhub.h"

void ch_cli_err(const ch_cli *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", c->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

char *ch_cli_unpad(const CK_UTF8CHAR *s, size_t n, char *out)
{
	size_t len = n;

	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\0'))
		len--;
	memcpy(out, s, len);
	out[len] = '\0';
	return out;
}

/* Length of the well-formed UTF-8 sequence at s (at most left bytes), or 0
 * when it is not one (overlong, surrogate, above U+10FFFF, truncated). */
static size_t utf8_seq_len(const unsigned char *s, size_t left)
{
	uint32_t cp;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n > left)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void ch_cli_json_str(FILE *f, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, n;

	fputc('"', f);
	while (i < len) {
		unsigned char ch = s[i];

		if (ch == '"' || ch == '\\') {
			fputc('\\', f);
			fputc(ch, f);
			i++;
		} else if (ch == '\n') {
			fputs("\\n", f);
			i++;
		} else if (ch == '\t') {
			fputs("\\t", f);
			i++;
		} else if (ch < 0x20 || ch == 0x7f) {
			fprintf(f, "\\u%04x", ch);
			i++;
		} else if ((n = utf8_seq_len(s + i, len - i)) == 0) {
			fputs("\\ufffd", f);
			i++;
		} else {
			fwrite(s + i, 1, n, f);
			i += n;
		}
	}
	fputc('"', f);
}

void ch_cli_json_kv(FILE *f, const char *key, const char *value)
{
	ch_cli_json_str(f, key, strlen(key));
	fputc(':', f);
	ch_cli_json_str(f, value, strlen(value));
}

void ch_cli_text_safe(FILE *f, const char *s)
{
	for (; *s != '\0'; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

/* The role names, in bit order. */
static const struct {
	CK_FLAGS bit;
	const char *name;
} roles_known[] = {
	{ CH_ROLE_ADMIN, "admin" },
	{ CH_ROLE_OPERATOR, "operator" },
	{ CH_ROLE_USER, "user" },
	{ CH_ROLE_AUDITOR, "auditor" },
};

#define N_ROLES (sizeof(roles_known) / sizeof(roles_known[0]))

char *ch_cli_roles_str(CK_FLAGS roles, char *out, size_t size)
{
	size_t used = 0, i;
	CK_FLAGS rest = roles;

	out[0] = '\0';
	for (i = 0; i < N_ROLES; i++) {
		if (!(roles & roles_known[i].bit))
			continue;
		used += (size_t)snprintf(out + used, used < size ? size - used : 0, "%s%s",
		                         used ? "," : "", roles_known[i].name);
		rest &= ~roles_known[i].bit;
	}
	if (rest != 0)
		used += (size_t)snprintf(out + used, used < size ? size - used : 0, "%s0x%lx",
		                         used ? "," : "", rest);
	if (used == 0)
		snprintf(out, size, "-");
	return out;
}

void ch_cli_json_roles(FILE *f, CK_FLAGS roles)
{
	const char *sep = "";
	char hex[32];
	size_t i;

	fputc('[', f);
	for (i = 0; i < N_ROLES; i++) {
		if (roles & roles_known[i].bit) {
			fprintf(f, "%s", sep);
			ch_cli_json_str(f, roles_known[i].name, strlen(roles_known[i].name));
			sep = ",";
		}
		roles &= ~roles_known[i].bit;
	}
	if (roles != 0) {
		snprintf(hex, sizeof(hex), "0x%lx", roles);
		fprintf(f, "%s", sep);
		ch_cli_json_str(f, hex, strlen(hex));
	}
	fputc(']', f);
}

bool ch_cli_roles_parse(const ch_cli *c, const char *s, CK_FLAGS *roles)
{
	const char *p = s, *end;
	size_t len, i;

	*roles = 0;
	if (*s == '\0') {
		ch_cli_err(c,
		           "--roles is empty: give one or more of admin, operator, user, auditor");
		return false;
	}
	for (;;) {
		end = strchr(p, ',');
		len = end != NULL ? (size_t)(end - p) : strlen(p);
		for (i = 0; i < N_ROLES; i++) {
			if (strlen(roles_known[i].name) == len &&
			    strncmp(roles_known[i].name, p, len) == 0)
				break;
		}
		if (i == N_ROLES) {
			ch_cli_err(
			        c,
			        "unknown role '%.*s' in --roles '%s': roles are admin, operator, "
			        "user, auditor, separated by commas",
			        (int)len, p, s);
			return false;
		}
		*roles |= roles_known[i].bit;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return true;
}

char *ch_cli_time_str(CK_ULONG t, char *out, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, size, "@%lu", t);
	return out;
}

bool ch_cli_name_check(const ch_cli *c, const char *name, const char *what)
{
	size_t len = strlen(name), i;

	for (i = 0; i < len && len <= CH_NAME_MAX; i++) {
		char ch = name[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		             (ch >= '0' && ch <= '9');

		if (!alnum && (i == 0 || (ch != '.' && ch != '_' && ch != '-')))
			break;
	}
	if (len == 0 || len > CH_NAME_MAX || i != len) {
		fprintf(stderr, "%s: %s '", c->prog, what);
		ch_cli_text_safe(stderr, name);
		fprintf(stderr,
		        "' is malformed: a name must be 1-%d characters of A-Z a-z 0-9 . _ -, "
		        "starting with a letter or digit\n",
		        CH_NAME_MAX);
		return false;
	}
	return true;
}
