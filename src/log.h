/*
 * Logging: one line per event, to stderr or a configured file.
 *
 * What is logged is for operators: which call failed and why, which object
 * failed its integrity check.  Never a PIN, a key or plaintext: callers pass
 * names, handles and codes only.
 */
#ifndef CH_SRC_LOG_H
#define CH_SRC_LOG_H

typedef enum ch_log_level {
	CH_LOG_ERROR,
	CH_LOG_WARNING,
	CH_LOG_INFO,
	CH_LOG_DEBUG,
} ch_log_level;

/* Sets the level and destination (path NULL: stderr).  Returns 0, or -1 when
 * the file cannot be opened (logging then goes to stderr). */
int ch_log_setup(ch_log_level level, const char *path);

/* Parses "error", "warning", "info", "debug"; returns -1 for anything else. */
int ch_log_level_parse(const char *s);

/* Closes a log file opened by ch_log_setup. */
void ch_log_close(void);

/* Writes one line "cipherhub[pid]: LEVEL: message" if level is enabled. */
void ch_log(ch_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
