/* SPDX-License-Identifier: ISC */
/*
 * signetctl audit export: the records of one audit log (one file, or the
 * files of a rotated log in chain order) as JSON lines of the schema
 * signet.audit.export/v1, for SIEMs (common/audit_export.h). With --key
 * the chain, the links between files and every signature are checked as
 * the records go out ("verified": true), and the export stops at the
 * first bad line, having written only the records before it; without,
 * each line is only parsed and goes out with "verified": false.
 * Exit 0 when every record was read (and verified), 1 at a bad line or
 * when the output cannot be written, 2 for usage and for keys or files
 * that cannot be read.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "audit_export.h"
#include "cmd.h"
#include "keys.h"
#include "text.h"

#define PROG "signetctl audit export"

enum {
	OPT_KEY = CMD_OPT_FIRST_OWN,
	OPT_SINCE,
	OPT_UNTIL,
	OPT_EVENT,
};

static void
usage_export(FILE *f)
{
	fprintf(f,
	    "usage: signetctl audit export FILE... [--key AUDIT.pub] "
	    "[--since TIME] [--until TIME] [--event PATTERN]... [-o FILE]\n"
	    "  the records as JSON lines (schema signet.audit.export/v1, "
	    "docs/audit.md)\n"
	    "  several FILEs: the files of a rotated log, oldest first, e.g.\n"
	    "  audit.log.[0-9]* audit.log\n"
	    "  --key FILE        the writer's audit public key: check chain "
	    "and\n"
	    "                    signatures as the records go out "
	    "(\"verified\": true);\n"
	    "                    stops with exit 1 at the first bad line\n"
	    "  --since TIME      records written at or after TIME (RFC 3339, "
	    "e.g.\n"
	    "                    2026-12-05T07:00:00Z, or a date 2026-12-05)\n"
	    "  --until TIME      records written before TIME\n"
	    "  --event PATTERN   events matching the glob (repeat it: any "
	    "matches),\n"
	    "                    e.g. 'action.*'\n"
	    "  -o, --output FILE write to FILE (replaced when the export "
	    "ends)\n"
	    "                    instead of standard output\n");
}

/* What the verifier's callback hands on. */
struct sink {
	struct audit_export *x;
	bool write_failed;
	struct err_msg werr; /* why, when write_failed */
};

static int
on_record(const struct audit_record *rec, const char *line,
    const char hash[static AUDIT_HASH_HEX + 1], void *arg, struct err_msg *msg)
{
	struct sink *s = arg;
	int r;

	r = audit_export_record(s->x, rec, line, hash, true, msg);
	if (r == SIGNET_ERR_IO || r == SIGNET_ERR_ALLOC) {
		s->write_failed = true;
		s->werr = *msg;
	}
	return r;
}

/*
 * Without a key: each line of each file, parsed, out with "verified":
 * false. Returns 0, or an error with msg naming the file and line
 * (*bad_line set for a line that is not a record).
 */
static int
export_unverified(const char **files, size_t n, struct sink *s, bool *bad_line,
    struct err_msg *msg)
{
	struct audit_reader *rd = NULL;
	struct audit_record rec;
	struct err_msg sub;
	char hash[AUDIT_HASH_HEX + 1];
	char *line;
	size_t len, k;
	uint64_t lineno;
	bool had_nl;
	int r = 0;

	memset(&rec, 0, sizeof(rec));
	for (k = 0; k < n; k++) {
		r = audit_reader_open(files[k], &rd, msg);
		if (r != 0)
			goto out;
		for (lineno = 1;; lineno++) {
			r = audit_reader_next(rd, &line, &len, &had_nl);
			if (r == 0)
				break;
			if (r < 0 || !had_nl) {
				*bad_line = true;
				r = err_set(msg, r < 0 ? r : SIGNET_ERR_FORMAT,
				    "%s:%" PRIu64 ": %s", files[k], lineno,
				    r == SIGNET_ERR_TOO_LARGE ?
				        "line longer than any audit record" :
				        r < 0 ?
				        "read error" :
				        "incomplete last line (a torn write)");
				goto out;
			}
			r = audit_parse_line(line, len, &rec, &sub);
			if (r != 0) {
				*bad_line = true;
				r = err_set(msg, r, "%s:%" PRIu64 ": %s",
				    files[k], lineno, sub.text);
				goto out;
			}
			audit_line_hash(line, len, hash);
			r = audit_export_record(s->x, &rec, line, hash, false,
			    &sub);
			audit_record_free(&rec);
			if (r == SIGNET_ERR_FORMAT) {
				*bad_line = true;
			} else if (r != 0) {
				s->write_failed = true;
				s->werr = sub;
			}
			if (r != 0) {
				r = err_set(msg, r, "%s:%" PRIu64 ": %s",
				    files[k], lineno, sub.text);
				goto out;
			}
		}
		audit_reader_close(rd);
		rd = NULL;
	}
	r = 0;
out:
	audit_record_free(&rec);
	audit_reader_close(rd);
	return r;
}

/* Every file must be readable before anything goes out. */
static bool
files_readable(const char **files, size_t n)
{
	size_t k;
	int fd;

	for (k = 0; k < n; k++) {
		fd = open(files[k], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, PROG ": %s: cannot open: %s\n",
			    files[k], strerror(errno));
			return false;
		}
		(void)close(fd);
	}
	return true;
}

/* Parses a --since / --until value, saying why not. */
static bool
parse_time(const char *opt, const char *v, int64_t *ms)
{
	char esc[160];

	if (audit_export_parse_time(v, ms) == 0)
		return true;
	fprintf(stderr,
	    PROG ": %s \"%s\": give an RFC 3339 time, e.g. "
	         "2026-12-05T07:00:00Z or 2026-12-05T08:00:00.250+01:00, or a "
	         "date, 2026-12-05 (1970 to 9999)\n",
	    opt, text_escape_str(v, esc, sizeof(esc)));
	return false;
}

int
cmd_audit_export(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = { { "key", required_argument,
		                                      NULL, OPT_KEY },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "until", required_argument, NULL, OPT_UNTIL },
		{ "event", required_argument, NULL, OPT_EVENT },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	const char *key_path = NULL, *out_path = NULL;
	const char **files = NULL;
	struct audit_export_filter filter;
	struct audit_verify_opts opts;
	struct audit_verify_report rep;
	struct keys_public audit_key;
	struct sink sink;
	struct err_msg msg;
	char tmp[PATH_MAX], esc[160];
	FILE *out = NULL;
	size_t nfiles = 0;
	bool bad_line = false, tmp_made = false;
	int opt, r, fd, n, rc = CMD_USAGE;

	memset(&filter, 0, sizeof(filter));
	memset(&opts, 0, sizeof(opts));
	memset(&sink, 0, sizeof(sink));
	err_clear(&msg);
	files = calloc((size_t)argc + 1, sizeof(*files));
	if (files == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		goto out;
	}
	while ((opt = getopt_long(argc, argv, ":ho:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage_export(stdout);
			rc = CMD_OK;
			goto out;
		case OPT_KEY: key_path = optarg; break;
		case 'o': out_path = optarg; break;
		case OPT_SINCE:
			if (!parse_time("--since", optarg, &filter.since_ms))
				goto out;
			filter.has_since = true;
			break;
		case OPT_UNTIL:
			if (!parse_time("--until", optarg, &filter.until_ms))
				goto out;
			filter.has_until = true;
			break;
		case OPT_EVENT:
			if (audit_export_check_pattern(optarg) != 0 ||
			    filter.npatterns >= AUDIT_EXPORT_PATTERNS_MAX) {
				fprintf(stderr, PROG ": --event \"%s\": %s\n",
				    text_escape_str(optarg, esc, sizeof(esc)),
				    filter.npatterns >=
				            AUDIT_EXPORT_PATTERNS_MAX ?
				        "at most 32 patterns" :
				        "give an event name or a glob of "
				        "a-z . _ * ? [ ] ! (at most 64 bytes), "
				        "e.g. 'action.*'");
				goto out;
			}
			filter.patterns[filter.npatterns++] = optarg;
			break;
		default:
			/* Says what is wrong (no common option is taken). */
			(void)cmd_common_opt(ctx, "audit export", opt, argv);
			usage_export(stderr);
			goto out;
		}
	}
	for (; optind < argc; optind++)
		files[nfiles++] = argv[optind];
	if (nfiles == 0) {
		fprintf(stderr, PROG ": no log file given\n");
		usage_export(stderr);
		goto out;
	}
	if (filter.has_since && filter.has_until &&
	    filter.since_ms >= filter.until_ms) {
		fprintf(stderr, PROG ": --since must be before --until\n");
		goto out;
	}
	if (!files_readable(files, nfiles))
		goto out;
	if (key_path != NULL) {
		r = keys_load_public(key_path, &audit_key, &msg);
		if (r != 0) {
			fprintf(stderr, PROG ": %s\n", msg.text);
			goto out;
		}
		opts.audit_key = &audit_key;
	}
	out = stdout;
	if (out_path != NULL) {
		n = snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", out_path);
		if (n < 0 || (size_t)n >= sizeof(tmp)) {
			fprintf(stderr, PROG ": -o: path too long\n");
			goto out;
		}
		fd = mkstemp(tmp);
		if (fd < 0) {
			fprintf(stderr, PROG ": %s: cannot create: %s\n", tmp,
			    strerror(errno));
			goto out;
		}
		tmp_made = true;
		out = fdopen(fd, "w");
		if (out == NULL) {
			(void)close(fd);
			fprintf(stderr, PROG ": out of memory\n");
			goto out;
		}
	}
	if (audit_export_new(out, &filter, &sink.x, &msg) != 0) {
		fprintf(stderr, PROG ": %s\n", msg.text);
		goto out;
	}
	if (key_path != NULL) {
		opts.on_record = on_record;
		opts.on_record_arg = &sink;
		r = audit_verify_files(files, nfiles, &opts, NULL, &rep, &msg);
		bad_line = r != 0 && !sink.write_failed &&
		    (rep.bad_line > 0 || r == SIGNET_ERR_CHAIN);
	} else {
		r = export_unverified(files, nfiles, &sink, &bad_line, &msg);
	}
	if (r != 0 && !sink.write_failed && !bad_line) {
		/* A file that could not be read on the way. */
		fprintf(stderr, PROG ": %s\n", msg.text);
		goto out;
	}
	if (r != 0 && sink.write_failed) {
		fprintf(stderr, PROG ": %s: %s\n",
		    out_path != NULL ? tmp : "standard output", sink.werr.text);
		rc = CMD_FAIL;
		goto out;
	}
	if (audit_export_finish(sink.x, &sink.werr) != 0) {
		fprintf(stderr, PROG ": %s: %s\n",
		    out_path != NULL ? tmp : "standard output", sink.werr.text);
		rc = CMD_FAIL;
		goto out;
	}
	if (out_path != NULL) {
		r = fsync(fileno(out)) == 0 ? 0 : errno;
		if (fclose(out) != 0 && r == 0)
			r = errno;
		out = NULL;
		if (r != 0) {
			fprintf(stderr, PROG ": %s: cannot write: %s\n", tmp,
			    strerror(r));
			rc = CMD_FAIL;
			goto out;
		}
	}
	if (out_path != NULL) {
		if (rename(tmp, out_path) != 0) {
			fprintf(stderr, PROG ": %s: cannot rename to %s: %s\n",
			    tmp, out_path, strerror(errno));
			rc = CMD_FAIL;
			goto out;
		}
		tmp_made = false;
	}
	if (bad_line) {
		fprintf(stderr,
		    PROG ": FAILED: %s\n" PROG
		         ": records written before the bad line: %" PRIu64
		         "%s\n",
		    msg.text, audit_export_count(sink.x),
		    key_path != NULL ? " (all verified)" : "");
		rc = CMD_FAIL;
		goto out;
	}
	if (out_path != NULL)
		fprintf(stderr, PROG ": %" PRIu64 " records to %s\n",
		    audit_export_count(sink.x), out_path);
	rc = CMD_OK;
out:
	if (out != NULL && out != stdout)
		(void)fclose(out);
	if (tmp_made)
		(void)unlink(tmp);
	audit_export_free(sink.x);
	free(files);
	return rc;
}
