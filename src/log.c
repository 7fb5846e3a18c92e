/*
 * Logging (see log.h).  A line is formatted in full and written with one
 * call, so lines from several threads or processes never interleave.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static ch_log_level log_level = CH_LOG_WARNING;
static FILE *log_file; /* NULL: stderr */

static const char *const level_names[] = { "error", "warning", "info", "debug" };

int ch_log_level_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(s, level_names[i]) == 0)
			return (int)i;
	return -1;
}

int ch_log_setup(ch_log_level level, const char *path)
{
	ch_log_close();
	log_level = level;
	if (path == NULL || *path == '\0')
		return 0;
	log_file = fopen(path, "ae");
	return log_file != NULL ? 0 : -1;
}

void ch_log_close(void)
{
	if (log_file != NULL)
		fclose(log_file);
	log_file = NULL;
}

void ch_log(ch_log_level level, const char *fmt, ...)
{
	char line[1024];
	int n;
	va_list ap;

	if (level > log_level)
		return;
	n = snprintf(line, sizeof(line), "cipherhub[%ld]: %s: ", (long)getpid(),
	             level_names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	n = (int)strlen(line);
	line[n++] = '\n';
	FILE *f = log_file != NULL ? log_file : stderr;
	fwrite(line, 1, (size_t)n, f);
	fflush(f);
}
