/*
 * tools/cipherhub_cmd.c: the admin tool's commands.
 *
 * Each command is one function: check what the user typed (names, roles)
 * before touching the module, choose the registration, log in as the
 * command requires, make one vendor call (or a read loop), and say what
 * happened: a line of text, or JSON for scripts.  A refusal by the module is
 * turned into a sentence about the user's objects ("participant 'bob' not
 * found") followed by the call and its CKR_ name, because the vendor
 * interface uses a few general return values (CKR_ARGUMENTS_BAD,
 * CKR_ACTION_PROHIBITED) whose meaning depends on the call.
 *
 * Nothing here changes anything by itself: when a command fails, the one
 * call that would have changed the store either was not made or was refused
 * by the module, which changes nothing on refusal.
 */
#include <stdlib.h>
#include <string.h>

#include "cipherhub.h"

/* Records read per CH_AuditRead call. */
#define AUDIT_BATCH 128

int ch_cli_prepare(ch_cli *c, ch_cli_login how)
{
	int ex;

	if ((ex = ch_cli_module_open(c)) == CH_EXIT_OK &&
	    (ex = ch_cli_slot_choose(c)) == CH_EXIT_OK)
		ex = ch_cli_session_open(c, how);
	return ex;
}

/* The CKR_ name of rv for output, or its value in hex. */
static const char *rv_text(CK_RV rv, char *buf, size_t size)
{
	const char *name = ch_cli_rv_name(rv);

	if (name != NULL)
		return name;
	snprintf(buf, size, "0x%08lx", rv);
	return buf;
}

/* ---- registrations ---------------------------------------------------- */

static void uuid_str(const CK_BYTE u[16], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[u[i] >> 4];
		out[o++] = hex[u[i] & 0xf];
	}
	out[o] = '\0';
}

/* How a forwarded slot's description begins (token/fwd*.c): the backend
 * module's file name follows. */
#define FWD_PREFIX "Cipher Hub forwarding to "

/* One slot's facts, as `registrations` shows them. */
typedef struct reg_row {
	CK_SLOT_ID slot;
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;
	bool present; /* CKF_TOKEN_PRESENT, and C_GetTokenInfo answered */
	bool have_info;
	CH_REGISTRATION_INFO ri;
	char label[33], serial[17], uuid[37], kdf[17];
	char desc[65];    /* the slot description, trimmed */
	char backend[65]; /* a forwarded slot's backend module, else "" */
} reg_row;

/* Software or forwarded, told by the slot description; fills r->backend. */
static bool reg_forwarded(reg_row *r)
{
	size_t n = strlen(FWD_PREFIX);

	r->backend[0] = '\0';
	if (strncmp(r->desc, FWD_PREFIX, n) != 0)
		return false;
	snprintf(r->backend, sizeof(r->backend), "%.*s", (int)strcspn(r->desc + n, " "),
	         r->desc + n);
	return true;
}

static void reg_print_json(const ch_cli *c, const reg_row *r)
{
	bool init = r->present && (r->ti.flags & CKF_TOKEN_INITIALIZED) != 0;

	printf("{\"slot\":%lu,\"initialized\":%s", r->slot, init ? "true" : "false");
	printf(",\"kind\":\"%s\",\"backend\":", r->backend[0] ? "forwarded" : "software");
	if (r->backend[0])
		ch_cli_json_str(stdout, r->backend, strlen(r->backend));
	else
		fputs("null", stdout);
	printf(",\"token_present\":%s,\"health\":\"%s\",", r->present ? "true" : "false",
	       r->present ? "ok" : "no-token");
	ch_cli_json_kv(stdout, "description", r->desc);
	if (init || (r->present && r->label[0])) {
		fputc(',', stdout);
		ch_cli_json_kv(stdout, "label", r->label);
	}
	if (init) {
		fputc(',', stdout);
		ch_cli_json_kv(stdout, "serial", r->serial);
		printf(",\"user_pin_initialized\":%s,\"user_pin_locked\":%s,\"so_pin_locked\":%s",
		       r->ti.flags & CKF_USER_PIN_INITIALIZED ? "true" : "false",
		       r->ti.flags & CKF_USER_PIN_LOCKED ? "true" : "false",
		       r->ti.flags & CKF_SO_PIN_LOCKED ? "true" : "false");
	}
	if (r->have_info) {
		fputc(',', stdout);
		ch_cli_json_kv(stdout, "uuid", r->uuid);
		printf(",\"schema_version\":%lu,\"objects\":", r->ri.schemaVersion);
		if (r->ri.objectCount == CK_UNAVAILABLE_INFORMATION)
			printf("null,");
		else
			printf("%lu,", r->ri.objectCount);
		ch_cli_json_kv(stdout, "kdf", r->kdf);
		printf(",\"kdf_cost\":%lu", r->ri.kdfIterationsOrCost);
	}
	printf("}\n");
	(void)c;
}

static void reg_print_text(const reg_row *r, int label_w)
{
	char objects[24], kdf[48];
	const char *kind = r->backend[0] ? "forwarded" : "software";
	const char *label = r->present && r->label[0] ? r->label : "-";

	printf("%-5lu ", r->slot);
	ch_cli_text_safe(stdout, label);
	printf("%*s %-9s %-8s ", label_w - (int)strlen(label), "", kind,
	       r->present ? "ok" : "no-token");
	if (!r->present) {
		printf("(no token: the backend module or its token is not available; see the "
		       "module log)");
	} else if (!(r->ti.flags & CKF_TOKEN_INITIALIZED)) {
		if (r->backend[0])
			printf("(not initialised: C_InitToken with label '%s' creates it)", label);
		else
			printf("(free: C_InitToken on this slot creates a registration)");
	} else {
		if (r->ri.objectCount == CK_UNAVAILABLE_INFORMATION)
			snprintf(objects, sizeof(objects), "-"); /* the HSM's */
		else
			snprintf(objects, sizeof(objects), "%lu", r->ri.objectCount);
		snprintf(kdf, sizeof(kdf), "%s/%lu", r->kdf, r->ri.kdfIterationsOrCost);
		printf("%-16s %-7s %-22s %-*s", r->serial, r->have_info ? objects : "?",
		       r->have_info ? kdf : "?", r->backend[0] ? 36 : 0,
		       r->have_info ? r->uuid : "?");
	}
	if (r->backend[0]) {
		fputc(' ', stdout);
		ch_cli_text_safe(stdout, r->backend);
	}
	fputc('\n', stdout);
}

int ch_cli_cmd_registrations(ch_cli *c, char **args)
{
	CK_SLOT_ID *slots = NULL;
	reg_row *rows = NULL;
	CK_ULONG n = 0, i, shown = 0;
	CH_C_GetRegistrationInfo get_info = NULL;
	int label_w = 5, ex;
	CK_RV rv;

	(void)args;
	if ((ex = ch_cli_module_open(c)) != CH_EXIT_OK)
		goto out;
	ex = CH_EXIT_PKCS11;
	if ((rv = c->p11->C_GetSlotList(CK_FALSE, NULL, &n)) != CKR_OK) {
		ex = ch_cli_fail_rv(c, "C_GetSlotList", rv, NULL);
		goto out;
	}
	slots = calloc(n ? n : 1, sizeof(*slots));
	rows = calloc(n ? n : 1, sizeof(*rows));
	if (slots == NULL || rows == NULL) {
		ch_cli_err(c, "out of memory");
		goto out;
	}
	if ((rv = c->p11->C_GetSlotList(CK_FALSE, slots, &n)) != CKR_OK) {
		ex = ch_cli_fail_rv(c, "C_GetSlotList", rv, NULL);
		goto out;
	}
	if (c->vendor != NULL)
		get_info = c->vendor->CH_GetRegistrationInfo;
	for (i = 0; i < n; i++) {
		reg_row *r = &rows[shown];
		char what[48];

		if (c->have_slot && slots[i] != c->slot_opt)
			continue;
		memset(r, 0, sizeof(*r));
		r->slot = slots[i];
		snprintf(what, sizeof(what), "slot %lu", r->slot);
		if ((rv = c->p11->C_GetSlotInfo(r->slot, &r->si)) != CKR_OK) {
			ex = ch_cli_fail_rv(c, "C_GetSlotInfo", rv, what);
			goto out;
		}
		ch_cli_unpad(r->si.slotDescription, sizeof(r->si.slotDescription), r->desc);
		(void)reg_forwarded(r);
		/* A slot without its token (a forwarded slot whose backend is missing) is
		 * shown as such, not an error. */
		r->present = (r->si.flags & CKF_TOKEN_PRESENT) != 0;
		if (r->present && (rv = c->p11->C_GetTokenInfo(r->slot, &r->ti)) != CKR_OK) {
			if (rv != CKR_TOKEN_NOT_PRESENT) {
				ex = ch_cli_fail_rv(c, "C_GetTokenInfo", rv, what);
				goto out;
			}
			r->present = false;
		}
		if (r->present) {
			ch_cli_unpad(r->ti.label, sizeof(r->ti.label), r->label);
			ch_cli_unpad(r->ti.serialNumber, sizeof(r->ti.serialNumber), r->serial);
		}
		if (c->token_opt != NULL &&
		    (!r->present || (r->ti.flags & CKF_TOKEN_INITIALIZED) == 0 ||
		     strcmp(r->label, c->token_opt) != 0))
			continue;
		if (r->present && (r->ti.flags & CKF_TOKEN_INITIALIZED) && get_info != NULL) {
			rv = get_info(r->slot, &r->ri);
			if (rv != CKR_OK && rv != CKR_FUNCTION_NOT_SUPPORTED) {
				ex = ch_cli_fail_rv(c, "CH_GetRegistrationInfo", rv, what);
				goto out;
			}
			r->have_info = rv == CKR_OK;
			uuid_str(r->ri.uuid, r->uuid);
			ch_cli_unpad(r->ri.kdfName, sizeof(r->ri.kdfName), r->kdf);
		}
		if ((int)strlen(r->label) > label_w)
			label_w = (int)strlen(r->label);
		shown++;
	}
	if (shown == 0 && (c->have_slot || c->token_opt != NULL)) {
		if (c->have_slot)
			ch_cli_err(c, "there is no slot %lu", c->slot_opt);
		else
			ch_cli_err(c, "no registration is labelled '%s'", c->token_opt);
		ex = CH_EXIT_USAGE;
		goto out;
	}
	if (!c->json)
		printf("%-5s %-*s %-9s %-8s %-16s %-7s %-22s %-36s %s\n", "SLOT", label_w, "LABEL",
		       "KIND", "HEALTH", "SERIAL", "OBJECTS", "PIN KDF/COST", "UUID", "BACKEND");
	for (i = 0; i < shown; i++) {
		if (c->json)
			reg_print_json(c, &rows[i]);
		else
			reg_print_text(&rows[i], label_w);
	}
	ex = CH_EXIT_OK;
out:
	free(rows);
	free(slots);
	return ex;
}

/* ---- participants ------------------------------------------------------- */

/*
 * Reads the participant list into *out (caller frees) and *n.  Returns
 * CH_EXIT_*.  The list can grow between the two calls (another process adds
 * a participant), so a short buffer is retried.
 */
static int participants_read(ch_cli *c, CH_PARTICIPANT_INFO **out, CK_ULONG *n)
{
	CH_C_ParticipantList list_fn = ch_cli_vendor_fn(c, CH_ParticipantList);
	CH_PARTICIPANT_INFO *list = NULL;
	CK_ULONG count = 0, tries;
	CK_RV rv = CKR_OK;
	int ex = CH_EXIT_UNSUPPORTED;

	*out = NULL;
	*n = 0;
	if (list_fn == NULL)
		goto out;
	for (tries = 0; tries < 5; tries++) {
		if ((rv = list_fn(c->session, NULL, &count)) != CKR_OK)
			break;
		free(list);
		if ((list = calloc(count ? count : 1, sizeof(*list))) == NULL) {
			ch_cli_err(c, "out of memory");
			ex = CH_EXIT_PKCS11;
			goto out;
		}
		if ((rv = list_fn(c->session, list, &count)) != CKR_BUFFER_TOO_SMALL)
			break;
	}
	if (rv != CKR_OK) {
		ex = ch_cli_fail_rv(c, "CH_ParticipantList", rv, c->label);
		goto out;
	}
	*out = list;
	list = NULL; /* transferred */
	*n = count;
	ex = CH_EXIT_OK;
out:
	free(list);
	return ex;
}

/* Sets *found to whether participant name exists (for diagnosing a
 * refusal).  Returns CH_EXIT_*. */
static int participant_exists(ch_cli *c, const char *name, bool *found)
{
	CH_PARTICIPANT_INFO *list = NULL;
	CK_ULONG n = 0, i;
	char pname[CH_NAME_MAX + 1];
	int ex;

	*found = false;
	if ((ex = participants_read(c, &list, &n)) != CH_EXIT_OK)
		goto out;
	for (i = 0; i < n && !*found; i++)
		*found = strcmp(ch_cli_unpad(list[i].name, sizeof(list[i].name), pname), name) == 0;
out:
	free(list);
	return ex;
}

int ch_cli_cmd_participant_list(ch_cli *c, char **args)
{
	CH_PARTICIPANT_INFO *list = NULL;
	CK_ULONG n = 0, i;
	char name[CH_NAME_MAX + 1], roles[96];
	int ex, name_w = 4;

	(void)args;
	if ((ex = ch_cli_prepare(c, CH_CLI_LOGIN_READER)) != CH_EXIT_OK)
		goto out;
	if ((ex = participants_read(c, &list, &n)) != CH_EXIT_OK)
		goto out;
	for (i = 0; i < n; i++) {
		int w = (int)strlen(ch_cli_unpad(list[i].name, sizeof(list[i].name), name));

		name_w = w > name_w ? w : name_w;
	}
	if (!c->json)
		printf("%-*s %-28s %-6s %s\n", name_w, "NAME", "ROLES", "FAILED", "LOCKED");
	for (i = 0; i < n; i++) {
		const CH_PARTICIPANT_INFO *p = &list[i];

		ch_cli_unpad(p->name, sizeof(p->name), name);
		if (c->json) {
			fputc('{', stdout);
			ch_cli_json_kv(stdout, "registration", c->label);
			fputc(',', stdout);
			ch_cli_json_kv(stdout, "name", name);
			printf(",\"roles\":");
			ch_cli_json_roles(stdout, p->roles);
			printf(",\"failed_logins\":%lu,\"locked\":%s}\n", p->failedLogins,
			       p->locked ? "true" : "false");
		} else {
			ch_cli_text_safe(stdout, name);
			printf("%*s %-28s %-6lu %s\n", name_w - (int)strlen(name), "",
			       ch_cli_roles_str(p->roles, roles, sizeof(roles)), p->failedLogins,
			       p->locked ? "yes" : "no");
		}
	}
	ex = CH_EXIT_OK;
out:
	free(list);
	return ex;
}

/* Is name one of the two names the module reserves?  Says so when it is. */
static bool reserved(const ch_cli *c, const char *name, const char *action)
{
	if (strcmp(name, "so") != 0 && strcmp(name, "default") != 0)
		return false;
	ch_cli_err(c, "'%s' is a reserved participant name and cannot be %s (%s)", name, action,
	           strcmp(name, "so") == 0 ? "it is the registration's first admin, made by "
	                                     "C_InitToken"
	                                   : "it is the participant C_InitPIN makes");
	return true;
}

/* Prints the outcome of a change for people or scripts. */
static void changed(const ch_cli *c, const char *action, const char *name, const CK_FLAGS *roles)
{
	char r[96];

	if (c->json) {
		fputc('{', stdout);
		ch_cli_json_kv(stdout, "registration", c->label);
		fputc(',', stdout);
		ch_cli_json_kv(stdout, "participant", name);
		fputc(',', stdout);
		ch_cli_json_kv(stdout, "action", action);
		if (roles != NULL) {
			printf(",\"roles\":");
			ch_cli_json_roles(stdout, *roles);
		}
		printf(",\"ok\":true}\n");
	} else {
		printf("participant '%s' %s %s '", name, action,
		       strcmp(action, "added") == 0     ? "to"
		       : strcmp(action, "removed") == 0 ? "from"
		                                        : "in");
		ch_cli_text_safe(stdout, c->label);
		if (roles != NULL)
			printf("' with roles %s\n", ch_cli_roles_str(*roles, r, sizeof(r)));
		else
			printf("'\n");
	}
}

/* Explains a CKR_ARGUMENTS_BAD from a call on an existing-participant name:
 * the name was checked here, so it is most likely unknown.  Returns the
 * exit code. */
static int unknown_or_fail(ch_cli *c, const char *call, CK_RV rv, const char *name)
{
	bool found = true;

	if (rv == CKR_ARGUMENTS_BAD && participant_exists(c, name, &found) == CH_EXIT_OK &&
	    !found) {
		ch_cli_err(c,
		           "participant '%s' not found in '%s'; nothing was changed (%s: "
		           "CKR_ARGUMENTS_BAD)",
		           name, c->label, call);
		return CH_EXIT_PKCS11;
	}
	return ch_cli_fail_rv(c, call, rv, name);
}

int ch_cli_cmd_participant_add(ch_cli *c, char **args)
{
	const char *name = args[0];
	ch_cli_pin pin = { { 0 }, 0 };
	CH_C_ParticipantAdd add;
	CK_FLAGS roles = 0;
	CK_RV rv;
	int ex = CH_EXIT_USAGE;

	if (!ch_cli_name_check(c, name, "participant name") || reserved(c, name, "added"))
		goto out;
	if (c->roles == NULL) {
		ch_cli_err(c, "participant add needs --roles (admin, operator, user, auditor)");
		goto out;
	}
	if (!ch_cli_roles_parse(c, c->roles, &roles))
		goto out;
	if ((ex = ch_cli_prepare(c, CH_CLI_LOGIN_ADMIN)) != CH_EXIT_OK)
		goto out;
	ex = CH_EXIT_UNSUPPORTED;
	if ((add = ch_cli_vendor_fn(c, CH_ParticipantAdd)) == NULL)
		goto out;
	if ((ex = ch_cli_pin_new(c, name, &pin)) != CH_EXIT_OK)
		goto out;
	/* The token says which PIN lengths it takes; refuse others here, clearly. */
	if (c->token.ulMaxPinLen >= c->token.ulMinPinLen && c->token.ulMaxPinLen > 0 &&
	    (pin.len < c->token.ulMinPinLen || pin.len > c->token.ulMaxPinLen)) {
		ch_cli_err(c, "the new PIN for '%s' has %zu characters; '%s' takes %lu to %lu",
		           name, pin.len, c->label, c->token.ulMinPinLen, c->token.ulMaxPinLen);
		ex = CH_EXIT_USAGE;
		goto out;
	}
	rv = add(c->session, (CK_UTF8CHAR_PTR)name, strlen(name), roles, (CK_UTF8CHAR_PTR)pin.buf,
	         pin.len);
	if (rv == CKR_ACTION_PROHIBITED) {
		ch_cli_err(c,
		           "participant '%s' already exists in '%s'; nothing was changed "
		           "(CH_ParticipantAdd: CKR_ACTION_PROHIBITED)",
		           name, c->label);
		ex = CH_EXIT_PKCS11;
		goto out;
	}
	if (rv == CKR_PIN_LEN_RANGE) {
		ch_cli_err(c,
		           "the module refused the new PIN's length for '%s' "
		           "(CH_ParticipantAdd: CKR_PIN_LEN_RANGE)",
		           name);
		ex = CH_EXIT_PKCS11;
		goto out;
	}
	if (rv != CKR_OK) {
		ex = ch_cli_fail_rv(c, "CH_ParticipantAdd", rv, name);
		goto out;
	}
	changed(c, "added", name, &roles);
	ex = CH_EXIT_OK;
out:
	ch_cli_pin_wipe(&pin);
	return ex;
}

int ch_cli_cmd_participant_remove(ch_cli *c, char **args)
{
	const char *name = args[0];
	CH_C_ParticipantRemove rm;
	CK_RV rv;
	int ex = CH_EXIT_USAGE;

	if (!ch_cli_name_check(c, name, "participant name"))
		goto out;
	if ((ex = ch_cli_prepare(c, CH_CLI_LOGIN_ADMIN)) != CH_EXIT_OK)
		goto out;
	ex = CH_EXIT_UNSUPPORTED;
	if ((rm = ch_cli_vendor_fn(c, CH_ParticipantRemove)) == NULL)
		goto out;
	rv = rm(c->session, (CK_UTF8CHAR_PTR)name, strlen(name));
	if (rv == CKR_ACTION_PROHIBITED) {
		if (strcmp(name, "so") == 0 || strcmp(name, "default") == 0)
			(void)reserved(c, name, "removed");
		else
			ch_cli_err(c,
			           "participant '%s' is the last admin of '%s' and cannot be "
			           "removed",
			           name, c->label);
		ch_cli_err(c, "nothing was changed (CH_ParticipantRemove: CKR_ACTION_PROHIBITED)");
		ex = CH_EXIT_PKCS11;
		goto out;
	}
	if (rv != CKR_OK) {
		ex = unknown_or_fail(c, "CH_ParticipantRemove", rv, name);
		goto out;
	}
	changed(c, "removed", name, NULL);
	ex = CH_EXIT_OK;
out:
	return ex;
}

int ch_cli_cmd_participant_set_roles(ch_cli *c, char **args)
{
	const char *name = args[0];
	CH_C_ParticipantSetRoles set;
	CK_FLAGS roles = 0;
	CK_RV rv;
	int ex = CH_EXIT_USAGE;

	if (!ch_cli_name_check(c, name, "participant name"))
		goto out;
	if (c->roles == NULL) {
		ch_cli_err(c,
		           "participant set-roles needs --roles (admin, operator, user, auditor)");
		goto out;
	}
	if (!ch_cli_roles_parse(c, c->roles, &roles))
		goto out;
	if ((ex = ch_cli_prepare(c, CH_CLI_LOGIN_ADMIN)) != CH_EXIT_OK)
		goto out;
	ex = CH_EXIT_UNSUPPORTED;
	if ((set = ch_cli_vendor_fn(c, CH_ParticipantSetRoles)) == NULL)
		goto out;
	rv = set(c->session, (CK_UTF8CHAR_PTR)name, strlen(name), roles);
	if (rv == CKR_ACTION_PROHIBITED) {
		if (strcmp(name, "so") == 0)
			ch_cli_err(c,
			           "the roles of 'so', the registration's first admin, cannot be "
			           "changed");
		else if (strcmp(name, "default") == 0)
			ch_cli_err(c,
			           "'default' logs in with a bare user PIN and cannot be an admin");
		else
			ch_cli_err(c, "'%s' is the last admin of '%s' and must keep the admin role",
			           name, c->label);
		ch_cli_err(c,
		           "nothing was changed (CH_ParticipantSetRoles: CKR_ACTION_PROHIBITED)");
		ex = CH_EXIT_PKCS11;
		goto out;
	}
	if (rv != CKR_OK) {
		ex = unknown_or_fail(c, "CH_ParticipantSetRoles", rv, name);
		goto out;
	}
	changed(c, "updated", name, &roles);
	ex = CH_EXIT_OK;
out:
	return ex;
}

int ch_cli_cmd_participant_unlock(ch_cli *c, char **args)
{
	const char *name = args[0];
	CH_C_ParticipantUnlock unlock;
	CK_RV rv;
	int ex = CH_EXIT_USAGE;

	if (!ch_cli_name_check(c, name, "participant name"))
		goto out;
	if ((ex = ch_cli_prepare(c, CH_CLI_LOGIN_ADMIN)) != CH_EXIT_OK)
		goto out;
	ex = CH_EXIT_UNSUPPORTED;
	if ((unlock = ch_cli_vendor_fn(c, CH_ParticipantUnlock)) == NULL)
		goto out;
	rv = unlock(c->session, (CK_UTF8CHAR_PTR)name, strlen(name));
	if (rv != CKR_OK) {
		ex = unknown_or_fail(c, "CH_ParticipantUnlock", rv, name);
		goto out;
	}
	changed(c, "unlocked", name, NULL);
	ex = CH_EXIT_OK;
out:
	return ex;
}

/* ---- audit -------------------------------------------------------------- */

static void audit_print_json(const ch_cli *c, const CH_AUDIT_RECORD *a)
{
	char who[CH_NAME_MAX + 1], op[33], obj[33], detail[65], when[32], rvb[24];

	ch_cli_unpad(a->participant, sizeof(a->participant), who);
	ch_cli_unpad(a->operation, sizeof(a->operation), op);
	ch_cli_unpad(a->object, sizeof(a->object), obj);
	ch_cli_unpad(a->detail, sizeof(a->detail), detail);
	printf("{");
	ch_cli_json_kv(stdout, "registration", c->label);
	printf(",\"seq\":%lu,", a->seq);
	ch_cli_json_kv(stdout, "time", ch_cli_time_str(a->time, when, sizeof(when)));
	printf(",\"time_unix\":%lu,\"pid\":%lu,", a->time, a->pid);
	ch_cli_json_kv(stdout, "participant", who);
	fputc(',', stdout);
	ch_cli_json_kv(stdout, "operation", op);
	fputc(',', stdout);
	ch_cli_json_kv(stdout, "object", obj);
	fputc(',', stdout);
	ch_cli_json_kv(stdout, "result", rv_text(a->result, rvb, sizeof(rvb)));
	printf(",\"count\":%lu,", a->count);
	ch_cli_json_kv(stdout, "detail", detail);
	printf(",\"authenticated\":%s}\n", a->authenticated ? "true" : "false");
}

static void audit_print_text(const CH_AUDIT_RECORD *a)
{
	char who[CH_NAME_MAX + 1], op[33], obj[33], detail[65], when[32], rvb[24];

	ch_cli_unpad(a->participant, sizeof(a->participant), who);
	ch_cli_unpad(a->operation, sizeof(a->operation), op);
	ch_cli_unpad(a->object, sizeof(a->object), obj);
	ch_cli_unpad(a->detail, sizeof(a->detail), detail);
	printf("%6lu %-20s %7lu ", a->seq, ch_cli_time_str(a->time, when, sizeof(when)), a->pid);
	/* Strings from the store go through ch_cli_text_safe, padded by hand. */
	ch_cli_text_safe(stdout, who[0] ? who : "-");
	printf("%*s ", 12 - (int)strlen(who[0] ? who : "-"), "");
	ch_cli_text_safe(stdout, op);
	printf("%*s ", 18 - (int)strlen(op), "");
	printf("%-28s %5lu %-4s ", rv_text(a->result, rvb, sizeof(rvb)), a->count,
	       a->authenticated ? "yes" : "no");
	ch_cli_text_safe(stdout, obj[0] ? obj : "-");
	if (detail[0] != '\0') {
		printf("  ");
		ch_cli_text_safe(stdout, detail);
	}
	fputc('\n', stdout);
}

/* Reads the log from c->from on in batches and prints every record. */
static int audit_dump(ch_cli *c, bool json)
{
	CH_AUDIT_RECORD *batch = NULL;
	CH_C_AuditRead read_fn;
	CK_ULONG from = c->from, got, i, total = 0;
	CK_RV rv;
	int ex;

	if ((ex = ch_cli_prepare(c, CH_CLI_LOGIN_READER)) != CH_EXIT_OK)
		goto out;
	ex = CH_EXIT_UNSUPPORTED;
	if ((read_fn = ch_cli_vendor_fn(c, CH_AuditRead)) == NULL)
		goto out;
	ex = CH_EXIT_PKCS11;
	if ((batch = calloc(AUDIT_BATCH, sizeof(*batch))) == NULL) {
		ch_cli_err(c, "out of memory");
		goto out;
	}
	if (!json)
		printf("%6s %-20s %7s %-12s %-18s %-28s %5s %-4s %s\n", "SEQ", "TIME (UTC)", "PID",
		       "PARTICIPANT", "OPERATION", "RESULT", "COUNT", "AUTH", "OBJECT  DETAIL");
	for (;;) {
		got = AUDIT_BATCH;
		if ((rv = read_fn(c->session, from, batch, &got)) != CKR_OK) {
			ex = ch_cli_fail_rv(c, "CH_AuditRead", rv, c->label);
			goto out;
		}
		if (got > AUDIT_BATCH) {
			ch_cli_err(c, "CH_AuditRead returned %lu records for a buffer of %d", got,
			           AUDIT_BATCH);
			goto out;
		}
		for (i = 0; i < got; i++) {
			if (json)
				audit_print_json(c, &batch[i]);
			else
				audit_print_text(&batch[i]);
		}
		total += got;
		if (got < AUDIT_BATCH)
			break;
		if (batch[got - 1].seq < from) {
			ch_cli_err(c, "CH_AuditRead went backwards (seq %lu after asking from %lu)",
			           batch[got - 1].seq, from);
			goto out;
		}
		from = batch[got - 1].seq + 1;
	}
	if (!json && total == 0)
		printf("(no records from seq %lu on)\n", c->from);
	ex = CH_EXIT_OK;
out:
	free(batch);
	return ex;
}

int ch_cli_cmd_audit_show(ch_cli *c, char **args)
{
	(void)args;
	return audit_dump(c, c->json);
}

int ch_cli_cmd_audit_export(ch_cli *c, char **args)
{
	(void)args;
	return audit_dump(c, true);
}

int ch_cli_cmd_audit_verify(ch_cli *c, char **args)
{
	CH_C_AuditVerify verify;
	CK_ULONG first_bad = 0, unauth = 0;
	CK_RV rv;
	int ex;

	(void)args;
	if ((ex = ch_cli_prepare(c, CH_CLI_LOGIN_READER)) != CH_EXIT_OK)
		goto out;
	ex = CH_EXIT_UNSUPPORTED;
	if ((verify = ch_cli_vendor_fn(c, CH_AuditVerify)) == NULL)
		goto out;
	if ((rv = verify(c->session, &first_bad, &unauth)) != CKR_OK) {
		ex = ch_cli_fail_rv(c, "CH_AuditVerify", rv, c->label);
		goto out;
	}
	if (c->json) {
		fputc('{', stdout);
		ch_cli_json_kv(stdout, "registration", c->label);
		printf(",\"intact\":%s,\"first_bad\":%lu,\"unauthenticated\":%lu}\n",
		       first_bad == 0 ? "true" : "false", first_bad, unauth);
	} else if (first_bad == 0) {
		printf("audit log of '");
		ch_cli_text_safe(stdout, c->label);
		printf("' is intact (%lu trailing record(s) not yet covered by a MAC)\n", unauth);
	} else {
		printf("audit log of '");
		ch_cli_text_safe(stdout, c->label);
		printf("' FAILED verification: first bad record is seq %lu\n", first_bad);
	}
	ex = first_bad == 0 ? CH_EXIT_OK : CH_EXIT_VERIFY;
out:
	return ex;
}

/* ---- grants ------------------------------------------------------------ */

static const struct {
	const char *name;
	CK_FLAGS bit;
} grant_ops[] = {
	{ "encrypt", CH_GRANT_ENCRYPT }, { "decrypt", CH_GRANT_DECRYPT },
	{ "sign", CH_GRANT_SIGN },       { "verify", CH_GRANT_VERIFY },
	{ "wrap", CH_GRANT_WRAP },       { "unwrap", CH_GRANT_UNWRAP },
	{ "derive", CH_GRANT_DERIVE },   { "read", CH_GRANT_READ },
};

#define N_GRANT_OPS (sizeof(grant_ops) / sizeof(grant_ops[0]))

/* Parses --ops ("sign,verify", "all") into *ops; false (printed why) for an
 * empty list or an unknown word. */
static bool ops_parse(const ch_cli *c, const char *s, CK_FLAGS *ops)
{
	const char *p = s;
	size_t n, i;

	*ops = 0;
	while (p != NULL && *p != '\0') {
		n = strcspn(p, ",");
		for (i = 0; i < N_GRANT_OPS; i++)
			if (strlen(grant_ops[i].name) == n && strncmp(grant_ops[i].name, p, n) == 0)
				break;
		if (i < N_GRANT_OPS)
			*ops |= grant_ops[i].bit;
		else if (n == 3 && strncmp(p, "all", 3) == 0)
			*ops |= CH_GRANT_ALL;
		else {
			ch_cli_err(c,
			           "--ops: '%.*s' is not one of encrypt, decrypt, sign, verify, "
			           "wrap, unwrap, derive, read, all",
			           (int)n, p);
			return false;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	if (*ops == 0) {
		ch_cli_err(c, "--ops: name at least one operation");
		return false;
	}
	return true;
}

/* The operations as "sign,verify" into out. */
static char *ops_str(CK_FLAGS ops, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < N_GRANT_OPS; i++)
		if (ops & grant_ops[i].bit)
			used += (size_t)snprintf(out + used, used < size ? size - used : 0, "%s%s",
			                         used ? "," : "", grant_ops[i].name);
	if (used == 0)
		snprintf(out, size, "-");
	return out;
}

/* Finds the one token key labelled label: a secret or private key, else a
 * public key.  Returns CH_EXIT_OK with *key, CH_EXIT_USAGE (printed why)
 * when there is none or more than one, CH_EXIT_PKCS11 on a failed call. */
static int key_by_label(ch_cli *c, const char *label, CK_OBJECT_HANDLE *key)
{
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE t[] = {
		{ CKA_LABEL, (CK_VOID_PTR)label, (CK_ULONG)strlen(label) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
	};
	CK_OBJECT_HANDLE found[16];
	CK_ULONG n = 0, i, cls, best_n = 0, pub_n = 0;
	CK_OBJECT_HANDLE best = CK_INVALID_HANDLE, pub = CK_INVALID_HANDLE;
	CK_RV rv;

	if ((rv = c->p11->C_FindObjectsInit(c->session, t, 2)) != CKR_OK)
		return ch_cli_fail_rv(c, "C_FindObjectsInit", rv, c->label);
	rv = c->p11->C_FindObjects(c->session, found, 16, &n);
	(void)c->p11->C_FindObjectsFinal(c->session);
	if (rv != CKR_OK)
		return ch_cli_fail_rv(c, "C_FindObjects", rv, c->label);
	for (i = 0; i < n; i++) {
		CK_ATTRIBUTE a = { CKA_CLASS, &cls, sizeof(cls) };

		if (c->p11->C_GetAttributeValue(c->session, found[i], &a, 1) != CKR_OK)
			continue;
		if (cls == CKO_SECRET_KEY || cls == CKO_PRIVATE_KEY) {
			best = found[i];
			best_n++;
		} else if (cls == CKO_PUBLIC_KEY) {
			pub = found[i];
			pub_n++;
		}
	}
	if (best_n == 1 || (best_n == 0 && pub_n == 1)) {
		*key = best_n == 1 ? best : pub;
		return CH_EXIT_OK;
	}
	/* A key family (issue 8): its primary stands for it. */
	for (i = 0; i < n && best_n > 1; i++) {
		CK_BBOOL prim = CK_FALSE;
		CK_ATTRIBUTE a[] = { { CKA_CLASS, &cls, sizeof(cls) },
			             { CKA_CH_PRIMARY, &prim, sizeof(prim) } };

		if (c->p11->C_GetAttributeValue(c->session, found[i], a, 2) == CKR_OK &&
		    prim != CK_FALSE && (cls == CKO_SECRET_KEY || cls == CKO_PRIVATE_KEY)) {
			*key = found[i];
			return CH_EXIT_OK;
		}
	}
	/* A secret (issue 8): its current version stands for it. */
	for (i = 0; i < n && best_n + pub_n == 0; i++) {
		CK_BBOOL prim = CK_FALSE;
		char app[sizeof(CH_SECRET_APPLICATION)];
		CK_ATTRIBUTE a[] = { { CKA_CLASS, &cls, sizeof(cls) },
			             { CKA_CH_PRIMARY, &prim, sizeof(prim) },
			             { CKA_APPLICATION, app, sizeof(app) } };

		if (c->p11->C_GetAttributeValue(c->session, found[i], a, 3) == CKR_OK &&
		    cls == CKO_DATA && prim != CK_FALSE &&
		    a[2].ulValueLen == sizeof(CH_SECRET_APPLICATION) - 1 &&
		    memcmp(app, CH_SECRET_APPLICATION, a[2].ulValueLen) == 0) {
			*key = found[i];
			return CH_EXIT_OK;
		}
	}
	ch_cli_err(c,
	           best_n + pub_n == 0 ? "no token key or secret labelled '%s' that %s can see"
	                               : "the label '%s' names more than one key %s can see",
	           label, c->as);
	return CH_EXIT_USAGE;
}

/* Checks the grantee's form (a participant name or role:ROLE). */
static bool grantee_check(const ch_cli *c, const char *g)
{
	CK_FLAGS r;

	if (strncmp(g, "role:", 5) == 0)
		return ch_cli_roles_parse(c, g + 5, &r);
	return ch_cli_name_check(c, g, "grantee");
}

/* The other versions of key's family (issue 8) get the same grant, so the
 * grantee may also decrypt what older versions encrypted.  Destroyed ones
 * are left out.  Returns CH_EXIT_*. */
static int family_grant(ch_cli *c, const char *label, CK_OBJECT_HANDLE key, CH_C_GrantSet set,
                        const char *grantee, CK_FLAGS ops)
{
	CK_BBOOL yes = CK_TRUE;
	CK_OBJECT_CLASS cls = CK_UNAVAILABLE_INFORMATION;
	CK_ATTRIBUTE ca = { CKA_CLASS, &cls, sizeof(cls) };
	CK_ATTRIBUTE t[] = {
		{ CKA_LABEL, (CK_VOID_PTR)label, (CK_ULONG)strlen(label) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_APPLICATION, CH_SECRET_APPLICATION, sizeof(CH_SECRET_APPLICATION) - 1 },
	};
	CK_OBJECT_HANDLE found[256];
	CK_ULONG n = 0, i;
	CK_RV rv;

	if (c->p11->C_GetAttributeValue(c->session, key, &ca, 1) != CKR_OK)
		return CH_EXIT_OK;
	/* A secret's versions: the data objects of its name that are secrets. */
	if ((rv = c->p11->C_FindObjectsInit(c->session, t, cls == CKO_DATA ? 4 : 3)) != CKR_OK)
		return ch_cli_fail_rv(c, "C_FindObjectsInit", rv, c->label);
	rv = c->p11->C_FindObjects(c->session, found, 256, &n);
	(void)c->p11->C_FindObjectsFinal(c->session);
	if (rv != CKR_OK)
		return ch_cli_fail_rv(c, "C_FindObjects", rv, c->label);
	for (i = 0; i < n; i++) {
		CK_ULONG st = 0;
		CK_ATTRIBUTE a = { CKA_CH_STATE, &st, sizeof(st) };

		if (found[i] == key ||
		    c->p11->C_GetAttributeValue(c->session, found[i], &a, 1) != CKR_OK ||
		    st == CH_KEY_STATE_DESTROYED)
			continue;
		rv = set(c->session, found[i], (CK_UTF8CHAR_PTR)grantee, (CK_ULONG)strlen(grantee),
		         ops);
		if (rv != CKR_OK)
			return ch_cli_fail_rv(c, "CH_GrantSet", rv, c->label);
	}
	return CH_EXIT_OK;
}

static int grant_set(ch_cli *c, char **args, CK_FLAGS ops)
{
	CK_OBJECT_HANDLE key;
	CH_C_GrantSet set;
	char words[128];
	CK_RV rv;
	int ex;

	if (!grantee_check(c, args[1]))
		return CH_EXIT_USAGE;
	if ((ex = ch_cli_prepare(c, CH_CLI_LOGIN_READER)) != CH_EXIT_OK ||
	    (ex = key_by_label(c, args[0], &key)) != CH_EXIT_OK)
		return ex;
	if ((set = ch_cli_vendor_fn(c, CH_GrantSet)) == NULL)
		return CH_EXIT_UNSUPPORTED;
	/* A secret is read, a key used: "all" means what the object can do. */
	if (ops != 0) {
		CK_OBJECT_CLASS cls = CK_UNAVAILABLE_INFORMATION;
		CK_ATTRIBUTE a = { CKA_CLASS, &cls, sizeof(cls) };
		bool secret = c->p11->C_GetAttributeValue(c->session, key, &a, 1) == CKR_OK &&
		              cls == CKO_DATA;

		if (ops == CH_GRANT_ALL)
			ops = secret ? CH_GRANT_READ : CH_GRANT_ALL & ~CH_GRANT_READ;
		if (secret ? ops != CH_GRANT_READ : (ops & CH_GRANT_READ) != 0) {
			ch_cli_err(c,
			           secret ? "'%s' is a secret: its only operation is read"
			                  : "'%s' is a key: read is for secrets",
			           args[0]);
			return CH_EXIT_USAGE;
		}
	}
	rv = set(c->session, key, (CK_UTF8CHAR_PTR)args[1], (CK_ULONG)strlen(args[1]), ops);
	if (rv != CKR_OK)
		return ch_cli_fail_rv(c, "CH_GrantSet", rv, c->label);
	if ((ex = family_grant(c, args[0], key, set, args[1], ops)) != CH_EXIT_OK)
		return ex;
	if (c->json) {
		fputc('{', stdout);
		ch_cli_json_kv(stdout, "key", args[0]);
		fputc(',', stdout);
		ch_cli_json_kv(stdout, "grantee", args[1]);
		fputc(',', stdout);
		ch_cli_json_kv(stdout, "operations", ops_str(ops, words, sizeof(words)));
		printf("}\n");
	} else if (ops == 0) {
		printf("revoked every grant of '%s' on '%s'\n", args[1], args[0]);
	} else {
		printf("'%s' may use '%s' for %s\n", args[1], args[0],
		       ops_str(ops, words, sizeof(words)));
	}
	return CH_EXIT_OK;
}

int ch_cli_cmd_grant(ch_cli *c, char **args)
{
	CK_FLAGS ops;

	if (c->ops == NULL) {
		ch_cli_err(c, "grant needs --ops OPS (see 'cipherhub grant --help')");
		return CH_EXIT_USAGE;
	}
	if (!ops_parse(c, c->ops, &ops))
		return CH_EXIT_USAGE;
	return grant_set(c, args, ops);
}

int ch_cli_cmd_revoke(ch_cli *c, char **args)
{
	return grant_set(c, args, 0);
}

int ch_cli_cmd_grants(ch_cli *c, char **args)
{
	CH_GRANT_INFO *list = NULL;
	CK_OBJECT_HANDLE key;
	CH_C_GrantList list_fn;
	CK_ULONG n = 0, i;
	char who[CH_GRANTEE_MAX + 1], words[128];
	CK_RV rv;
	int ex;

	if ((ex = ch_cli_prepare(c, CH_CLI_LOGIN_READER)) != CH_EXIT_OK ||
	    (ex = key_by_label(c, args[0], &key)) != CH_EXIT_OK)
		goto out;
	ex = CH_EXIT_UNSUPPORTED;
	if ((list_fn = ch_cli_vendor_fn(c, CH_GrantList)) == NULL)
		goto out;
	if ((rv = list_fn(c->session, key, NULL, &n)) != CKR_OK) {
		ex = ch_cli_fail_rv(c, "CH_GrantList", rv, c->label);
		goto out;
	}
	ex = CH_EXIT_PKCS11;
	if ((list = calloc(n > 0 ? n : 1, sizeof(*list))) == NULL) {
		ch_cli_err(c, "out of memory");
		goto out;
	}
	if ((rv = list_fn(c->session, key, list, &n)) != CKR_OK) {
		ex = ch_cli_fail_rv(c, "CH_GrantList", rv, c->label);
		goto out;
	}
	if (!c->json)
		printf("%-40s %s\n", "GRANTEE", "OPERATIONS");
	for (i = 0; i < n; i++) {
		ch_cli_unpad(list[i].grantee, sizeof(list[i].grantee), who);
		ops_str(list[i].operations, words, sizeof(words));
		if (c->json) {
			fputc('{', stdout);
			ch_cli_json_kv(stdout, "key", args[0]);
			fputc(',', stdout);
			ch_cli_json_kv(stdout, "grantee", who);
			fputc(',', stdout);
			ch_cli_json_kv(stdout, "operations", words);
			printf("}\n");
		} else {
			ch_cli_text_safe(stdout, who);
			printf("%*s %s\n", 40 - (int)strlen(who), "", words);
		}
	}
	if (!c->json && n == 0)
		printf("(no grants: only the key's creator may use it)\n");
	ex = CH_EXIT_OK;
out:
	free(list);
	return ex;
}
