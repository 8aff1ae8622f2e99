/* SPDX-License-Identifier: ISC */
/*
 * The cluster's shared state in PostgreSQL (server/cluster_db.h): one
 * libpq connection, the schema (created here, printed in docs/cluster.md)
 * and every statement the replicas run, each sent with PQexecParams and
 * its values as parameters, never built into the SQL text. Answers are
 * hostile: their shape (status, rows, columns), NULLs, lengths, names and
 * ids are checked before anything is copied out. Where one statement can
 * do a write and its NOTIFY (data-modifying WITH), it does, so that a
 * write is atomic and costs one round trip.
 */
#include "cluster_db.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "jsonx.h"
#include "registry.h"
#include "text.h"

/* pg_advisory_xact_lock key of schema creation ("signet" in ASCII). */
#define DB_SCHEMA_LOCK "115105103110101116"
#define DB_TTL_MAX_MS 86400000LL         /* a claim's ttl or a lease: one day */
#define DB_TIME_MAX_MS 253402300799999LL /* 9999-12-31, unix ms */
#define DB_EXPIRED_BATCH 64
#define DB_EXPIRED_ERROR "the action expired in the queue"

static const char *const db_channels[] = {
	CLUSTER_CHANNEL_QUEUE,
	CLUSTER_CHANNEL_DONE,
	CLUSTER_CHANNEL_HOSTS,
};
#define DB_NCHANNELS (sizeof(db_channels) / sizeof(db_channels[0]))
/* LISTEN takes an identifier, not a parameter: one fixed text each. */
static const char *const db_listen_sql[] = {
	"LISTEN " CLUSTER_CHANNEL_QUEUE,
	"LISTEN " CLUSTER_CHANNEL_DONE,
	"LISTEN " CLUSTER_CHANNEL_HOSTS,
};

static const char *const db_statuses[] = {
	"PENDING",
	"SUCCESS",
	"FAILURE",
	"DENIED",
	"REJECTED",
	"TIMEOUT",
	"UNDELIVERED",
	"UNKNOWN",
};

/*
 * The schema, version CLUSTER_DB_SCHEMA_VERSION (docs/cluster.md prints
 * it). Text columns, not jsonb: the bytes of a signed frame are kept
 * exactly. The CHECKs are the cheap ones; readers check again.
 */
static const char *const db_schema[] = {
	"CREATE TABLE signet_schema (version integer NOT NULL)",
	"CREATE SEQUENCE signet_claim_epoch AS bigint MINVALUE 1",
	"CREATE TABLE signet_replicas ("
	" name text PRIMARY KEY"
	"  CONSTRAINT signet_replicas_name CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),"
	" seen_at timestamptz NOT NULL)",
	"CREATE TABLE signet_claims ("
	" host_id text PRIMARY KEY"
	"  CONSTRAINT signet_claims_host CHECK (host_id ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),"
	" replica text NOT NULL"
	"  CONSTRAINT signet_claims_replica CHECK (replica ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),"
	" epoch bigint NOT NULL CONSTRAINT signet_claims_epoch CHECK (epoch > 0),"
	" claimed_at timestamptz NOT NULL,"
	" expires_at timestamptz NOT NULL)",
	"CREATE INDEX signet_claims_by_replica ON signet_claims (replica)",
	"CREATE TABLE signet_hosts ("
	" host_id text PRIMARY KEY"
	"  CONSTRAINT signet_hosts_host CHECK (host_id ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),"
	" replica text NOT NULL,"
	" epoch bigint NOT NULL,"
	" info text CONSTRAINT signet_hosts_info CHECK (octet_length(info) <= 4194304),"
	" inventory text"
	"  CONSTRAINT signet_hosts_inventory CHECK (octet_length(inventory) <= 4194304),"
	" updated_at timestamptz NOT NULL)",
	"CREATE TABLE signet_actions ("
	" action_id text PRIMARY KEY"
	"  CONSTRAINT signet_actions_id CHECK (action_id ~ '^[0-9a-f]{32}$'),"
	" host_id text NOT NULL"
	"  CONSTRAINT signet_actions_host CHECK (host_id ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),"
	" origin text NOT NULL"
	"  CONSTRAINT signet_actions_origin CHECK (origin ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),"
	" status text NOT NULL CONSTRAINT signet_actions_status CHECK (status IN"
	"  ('PENDING', 'SUCCESS', 'FAILURE', 'DENIED', 'REJECTED', 'TIMEOUT',"
	"   'UNDELIVERED', 'UNKNOWN')),"
	" result_by text NOT NULL DEFAULT '',"
	" requested_at bigint NOT NULL,"
	" expires_at bigint NOT NULL,"
	" deadline bigint NOT NULL,"
	" finished_at bigint NOT NULL DEFAULT 0,"
	" info text NOT NULL"
	"  CONSTRAINT signet_actions_info CHECK (octet_length(info) <= 4194304),"
	" frame text NOT NULL"
	"  CONSTRAINT signet_actions_frame CHECK (octet_length(frame) <= 4194304),"
	" result text"
	"  CONSTRAINT signet_actions_result CHECK (octet_length(result) <= 4194304))",
	"CREATE INDEX signet_actions_by_host ON signet_actions (host_id)",
	"CREATE TABLE signet_queue ("
	" action_id text PRIMARY KEY"
	"  REFERENCES signet_actions (action_id) ON DELETE CASCADE,"
	" host_id text NOT NULL,"
	" queued_at timestamptz NOT NULL,"
	" taken_by text,"
	" taken_epoch bigint,"
	" taken_at timestamptz)",
	"CREATE INDEX signet_queue_by_host ON signet_queue (host_id, queued_at)",
};

struct cluster_db {
	PGconn *conn;
	int statement_timeout_ms;
	uint64_t statements;
	bool listening[DB_NCHANNELS];
};

/* ---- messages and statements ------------------------------------------ */

/* libpq's message on one line, escaped. */
static void
db_libpq_text(const char *in, char *out, size_t outlen)
{
	char line[ERR_MSG_MAX];
	size_t i, j = 0;

	if (in == NULL)
		in = "";
	for (i = 0; in[i] != '\0' && j + 1 < sizeof(line); i++) {
		char ch = in[i] == '\n' || in[i] == '\r' || in[i] == '\t' ?
		    ' ' :
		    in[i];

		if (ch == ' ' && (j == 0 || line[j - 1] == ' '))
			continue;
		line[j++] = ch;
	}
	while (j > 0 && line[j - 1] == ' ')
		j--;
	line[j] = '\0';
	(void)text_vis(line, j, out, outlen);
}

static bool
db_broken(const struct cluster_db *db)
{
	return db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK;
}

/*
 * The error of a failed statement: UNAVAILABLE for a broken connection
 * and for what a retry later may cure (SQLSTATE classes 08 connection,
 * 40 rollback, 53 resources, 57 operator intervention, which holds the
 * statement timeout); FORMAT for a statement the database refused.
 */
static int
db_fail(struct cluster_db *db, const PGresult *res, const char *what,
    struct err_msg *msg)
{
	const char *state = NULL;
	char why[ERR_MSG_MAX / 2];

	if (res != NULL)
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	db_libpq_text(res != NULL && PQresultErrorMessage(res)[0] != '\0' ?
	        PQresultErrorMessage(res) :
	        (db->conn != NULL ? PQerrorMessage(db->conn) : "not connected"),
	    why, sizeof(why));
	if (db_broken(db) || state == NULL || strlen(state) != 5 ||
	    strncmp(state, "08", 2) == 0 || strncmp(state, "40", 2) == 0 ||
	    strncmp(state, "53", 2) == 0 || strncmp(state, "57", 2) == 0)
		return err_set(msg, SIGNET_ERR_UNAVAILABLE,
		    "the cluster database is unreachable (%s): %s", what, why);
	return err_set(msg, SIGNET_ERR_FORMAT,
	    "the cluster database refused %s: %s (SQLSTATE %s)", what, why,
	    state);
}

/*
 * Runs sql with n text parameters. want is PGRES_COMMAND_OK or
 * PGRES_TUPLES_OK; for tuples, fields is the column count required.
 * *out owns the result on success (PQclear), NULL on failure.
 */
static int
db_exec(struct cluster_db *db, const char *what, const char *sql, int n,
    const char *const *values, ExecStatusType want, int fields, PGresult **out,
    struct err_msg *msg)
{
	PGresult *res = NULL;
	int r;

	*out = NULL;
	if (db->conn == NULL)
		return err_set(msg, SIGNET_ERR_UNAVAILABLE,
		    "the cluster database is unreachable (%s): not connected",
		    what);
	db->statements++;
	res = PQexecParams(db->conn, sql, n, NULL, values, NULL, NULL, 0);
	if (res == NULL || PQresultStatus(res) != want) {
		if (res != NULL &&
		    (PQresultStatus(res) == PGRES_FATAL_ERROR ||
		        PQresultStatus(res) == PGRES_NONFATAL_ERROR ||
		        PQresultStatus(res) == PGRES_BAD_RESPONSE))
			r = db_fail(db, res, what, msg);
		else if (res == NULL)
			r = db_fail(db, NULL, what, msg);
		else
			r = err_set(msg, SIGNET_ERR_FORMAT,
			    "the cluster database answered %s with %s", what,
			    PQresStatus(PQresultStatus(res)));
		PQclear(res);
		return r;
	}
	if (want == PGRES_TUPLES_OK && PQnfields(res) != fields) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "the cluster database answered %s with %d columns, not %d",
		    what, PQnfields(res), fields);
		PQclear(res);
		return r;
	}
	*out = res;
	return 0;
}

static int
db_command(struct cluster_db *db, const char *what, const char *sql, int n,
    const char *const *values, struct err_msg *msg)
{
	PGresult *res = NULL;
	int r;

	r = db_exec(db, what, sql, n, values, PGRES_COMMAND_OK, 0, &res, msg);
	PQclear(res);
	return r;
}

/* Rolls back after a failure (its own failure changes nothing). */
static void
db_rollback(struct cluster_db *db)
{
	PGresult *res;

	if (db_broken(db) || PQtransactionStatus(db->conn) == PQTRANS_IDLE)
		return;
	db->statements++;
	res = PQexec(db->conn, "ROLLBACK");
	PQclear(res);
}

/* ---- reading answers ---------------------------------------------------- */

/* Column col of row as text of at most max bytes; NULL allowed or not. */
static int
db_get_text(const PGresult *res, int row, int col, const char *what,
    bool null_ok, size_t max, const char **out, struct err_msg *msg)
{
	const char *v;
	int len;

	*out = NULL;
	if (PQgetisnull(res, row, col)) {
		if (null_ok)
			return 0;
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "the cluster database gave a NULL %s", what);
	}
	v = PQgetvalue(res, row, col);
	len = PQgetlength(res, row, col);
	if (v == NULL || len < 0 || (size_t)len > max)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "the cluster database gave a %s of %d bytes (at most %zu)",
		    what, len, max);
	if (strlen(v) != (size_t)len)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "the cluster database gave a %s with a NUL byte", what);
	*out = v;
	return 0;
}

/* Column col as a name (text_valid_name), or "" when empty_ok. */
static int
db_get_name(const PGresult *res, int row, int col, const char *what,
    bool empty_ok, char out[static CLUSTER_NAME_MAX + 1], struct err_msg *msg)
{
	const char *v = NULL;
	char esc[96];
	int r;

	out[0] = '\0';
	r = db_get_text(res, row, col, what, false, CLUSTER_NAME_MAX + 8, &v,
	    msg);
	if (r != 0)
		return r;
	if (v[0] == '\0' && empty_ok)
		return 0;
	if (!text_valid_name(v))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "the cluster database gave an invalid %s \"%s\"", what,
		    text_escape_str(v, esc, sizeof(esc)));
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

static int
db_get_int64(const PGresult *res, int row, int col, const char *what,
    int64_t min, int64_t max, int64_t *out, struct err_msg *msg)
{
	const char *v = NULL;
	char esc[64];
	int r;

	*out = 0;
	r = db_get_text(res, row, col, what, false, 24, &v, msg);
	if (r != 0)
		return r;
	if (text_to_int64(v, min, max, out) != 0)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "the cluster database gave a %s \"%s\" out of [%" PRId64
		    ", %" PRId64 "]",
		    what, text_escape_str(v, esc, sizeof(esc)), min, max);
	return 0;
}

static int
db_get_bool(const PGresult *res, int row, int col, const char *what, bool *out,
    struct err_msg *msg)
{
	const char *v = NULL;
	int r;

	*out = false;
	r = db_get_text(res, row, col, what, false, 1, &v, msg);
	if (r != 0)
		return r;
	if (strcmp(v, "t") != 0 && strcmp(v, "f") != 0)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "the cluster database gave a %s that is not a boolean",
		    what);
	*out = v[0] == 't';
	return 0;
}

/* A copy of a text column (NULL stays NULL when null_ok). */
static int
db_dup_text(const PGresult *res, int row, int col, const char *what,
    bool null_ok, char **out, struct err_msg *msg)
{
	const char *v = NULL;
	int r;

	*out = NULL;
	r = db_get_text(res, row, col, what, null_ok, CLUSTER_DB_TEXT_MAX, &v,
	    msg);
	if (r != 0 || v == NULL)
		return r;
	*out = strdup(v);
	if (*out == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	return 0;
}

/* ---- checking arguments ------------------------------------------------- */

static int
db_check_name(const char *s, const char *what, struct err_msg *msg)
{
	char esc[96];

	if (s == NULL || !text_valid_name(s))
		return err_set(msg, SIGNET_ERR_INVALID_ARG, "invalid %s \"%s\"",
		    what, text_escape_str(s, esc, sizeof(esc)));
	return 0;
}

static int
db_check_id(const char *s, struct err_msg *msg)
{
	char esc[96];

	if (s == NULL || !text_is_hex(s, CLUSTER_ACTION_ID_LEN))
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "invalid action_id \"%s\" (%d lowercase hex digits)",
		    text_escape_str(s, esc, sizeof(esc)),
		    CLUSTER_ACTION_ID_LEN);
	return 0;
}

/* NULL passes when null_ok; else at most CLUSTER_DB_TEXT_MAX bytes. */
static int
db_check_text(const char *s, const char *what, bool null_ok,
    struct err_msg *msg)
{
	size_t len;

	if (s == NULL) {
		if (null_ok)
			return 0;
		return err_set(msg, SIGNET_ERR_INVALID_ARG, "no %s", what);
	}
	len = strnlen(s, (size_t)CLUSTER_DB_TEXT_MAX + 1);
	if (len > CLUSTER_DB_TEXT_MAX)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "the %s is over %u bytes", what, CLUSTER_DB_TEXT_MAX);
	return 0;
}

static int
db_check_ms(int64_t v, int64_t min, int64_t max, const char *what,
    struct err_msg *msg)
{
	if (v < min || v > max)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "%s %" PRId64 " out of [%" PRId64 ", %" PRId64 "]", what, v,
		    min, max);
	return 0;
}

/* Index of status in db_statuses, or -1. */
static int
db_status_index(const char *status)
{
	size_t i;

	for (i = 0;
	     status != NULL && i < sizeof(db_statuses) / sizeof(db_statuses[0]);
	     i++)
		if (strcmp(status, db_statuses[i]) == 0)
			return (int)i;
	return -1;
}

/* Prefixes msg with "what name: " (name is a checked name or id). */
static int
db_context(struct err_msg *msg, int r, const char *what, const char *name)
{
	struct err_msg copy;

	if (msg == NULL)
		return r;
	copy = *msg;
	return err_set(msg, r, "%s %s: %s", what, name, copy.text);
}

static void
db_i64(int64_t v, char buf[static 24])
{
	(void)snprintf(buf, 24, "%" PRId64, v);
}

/* ---- opening ------------------------------------------------------------ */

/* Refuses a conninfo asking for less than verify-full with a certificate. */
static int
db_check_conninfo(const char *conninfo, struct err_msg *msg)
{
	PQconninfoOption *opts = NULL, *o;
	char *perr = NULL;
	char why[ERR_MSG_MAX / 2];
	const char *sslmode = NULL, *rootcert = NULL, *cert = NULL, *key = NULL;
	int r;

	if (conninfo == NULL || conninfo[0] == '\0') {
		r = err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "the cluster database conninfo is empty");
		goto out;
	}
	opts = PQconninfoParse(conninfo, &perr);
	if (opts == NULL) {
		db_libpq_text(perr != NULL ? perr : "out of memory", why,
		    sizeof(why));
		r = err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "the cluster database conninfo cannot be parsed: %s", why);
		goto out;
	}
	for (o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (strcmp(o->keyword, "password") == 0 ||
		    strcmp(o->keyword, "passfile") == 0) {
			r = err_set(msg, SIGNET_ERR_INVALID_ARG,
			    "the cluster database conninfo has a %s: signet "
			    "connects with a client certificate only",
			    o->keyword);
			goto out;
		}
		if (strcmp(o->keyword, "service") == 0) {
			r = err_set(msg, SIGNET_ERR_INVALID_ARG,
			    "the cluster database conninfo names a service: "
			    "give every setting in the conninfo itself");
			goto out;
		}
		if (strcmp(o->keyword, "sslmode") == 0)
			sslmode = o->val;
		else if (strcmp(o->keyword, "sslrootcert") == 0)
			rootcert = o->val;
		else if (strcmp(o->keyword, "sslcert") == 0)
			cert = o->val;
		else if (strcmp(o->keyword, "sslkey") == 0)
			key = o->val;
	}
	if (sslmode == NULL || strcmp(sslmode, "verify-full") != 0) {
		r = err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "the cluster database conninfo must have "
		    "sslmode=verify-full (it has %s)",
		    sslmode != NULL ? "another sslmode" : "none");
		goto out;
	}
	if (rootcert == NULL || cert == NULL || key == NULL) {
		r = err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "the cluster database conninfo has no %s: it needs "
		    "sslrootcert (the signet CA), sslcert and sslkey (the "
		    "replica's certificate and key, signet-pki role replica)",
		    rootcert == NULL ? "sslrootcert" :
		                       (cert == NULL ? "sslcert" : "sslkey"));
		goto out;
	}
	r = 0;
out:
	PQfreemem(perr);
	PQconninfoFree(opts);
	return r;
}

/* What every new connection runs: the statement timeout, then LISTENs. */
static int
db_session(struct cluster_db *db, struct err_msg *msg)
{
	PGresult *res = NULL;
	char tmo[24];
	const char *v[1];
	size_t i;
	int r;

	if (!PQsslInUse(db->conn)) {
		r = err_set(msg, SIGNET_ERR_UNAVAILABLE,
		    "the cluster database connection is not TLS");
		goto out;
	}
	if (PQconnectionUsedPassword(db->conn)) {
		r = err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "the cluster database asked for a password: signet "
		    "connects with a client certificate only (pg_hba.conf: "
		    "hostssl ... cert)");
		goto out;
	}
	db_i64(db->statement_timeout_ms, tmo);
	v[0] = tmo;
	r = db_exec(db, "setting statement_timeout",
	    "SELECT set_config('statement_timeout', $1, false)", 1, v,
	    PGRES_TUPLES_OK, 1, &res, msg);
	if (r != 0)
		goto out;
	for (i = 0; i < DB_NCHANNELS; i++) {
		if (!db->listening[i])
			continue;
		r = db_command(db, "LISTEN", db_listen_sql[i], 0, NULL, msg);
		if (r != 0)
			goto out;
	}
	r = 0;
out:
	PQclear(res);
	return r;
}

/*
 * Creates the schema when absent, or checks its version, in one
 * transaction under an advisory lock: replicas starting together wait
 * for the first one's schema rather than racing to create it.
 */
static int
db_schema_ensure(struct cluster_db *db, struct err_msg *msg)
{
	PGresult *res = NULL;
	const char *v[2];
	char ver[24];
	int64_t found = 0;
	bool exists = false;
	size_t i;
	int r;

	r = db_command(db, "BEGIN", "BEGIN", 0, NULL, msg);
	if (r != 0)
		goto out;
	v[0] = DB_SCHEMA_LOCK;
	r = db_exec(db, "the schema lock",
	    "SELECT pg_advisory_xact_lock($1::bigint)", 1, v, PGRES_TUPLES_OK,
	    1, &res, msg);
	if (r != 0)
		goto out;
	PQclear(res);
	res = NULL;
	r = db_exec(db, "the schema check",
	    "SELECT to_regclass('signet_schema') IS NOT NULL", 0, NULL,
	    PGRES_TUPLES_OK, 1, &res, msg);
	if (r != 0)
		goto out;
	if (PQntuples(res) != 1) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "the cluster database answered the schema check with %d "
		    "rows",
		    PQntuples(res));
		goto out;
	}
	r = db_get_bool(res, 0, 0, "schema check", &exists, msg);
	if (r != 0)
		goto out;
	PQclear(res);
	res = NULL;
	if (exists) {
		r = db_exec(db, "the schema version",
		    "SELECT version FROM signet_schema", 0, NULL,
		    PGRES_TUPLES_OK, 1, &res, msg);
		if (r != 0)
			goto out;
		if (PQntuples(res) != 1) {
			r = err_set(msg, SIGNET_ERR_FORMAT,
			    "the cluster database's signet_schema holds %d "
			    "rows, not one: not a signet schema",
			    PQntuples(res));
			goto out;
		}
		r = db_get_int64(res, 0, 0, "schema version", INT32_MIN,
		    INT32_MAX, &found, msg);
		if (r != 0)
			goto out;
		if (found != CLUSTER_DB_SCHEMA_VERSION) {
			r = err_set(msg, SIGNET_ERR_FORMAT,
			    "the cluster database holds signet schema version "
			    "%" PRId64 "; this signet-server uses version %d",
			    found, CLUSTER_DB_SCHEMA_VERSION);
			goto out;
		}
	} else {
		for (i = 0; i < sizeof(db_schema) / sizeof(db_schema[0]); i++) {
			r = db_command(db, "creating the schema", db_schema[i],
			    0, NULL, msg);
			if (r != 0)
				goto out;
		}
		db_i64(CLUSTER_DB_SCHEMA_VERSION, ver);
		v[0] = ver;
		r = db_command(db, "recording the schema version",
		    "INSERT INTO signet_schema (version) VALUES ($1::integer)",
		    1, v, msg);
		if (r != 0)
			goto out;
	}
	r = db_command(db, "COMMIT", "COMMIT", 0, NULL, msg);
	if (r != 0)
		goto out;
	r = 0;
out:
	PQclear(res);
	if (r != 0)
		db_rollback(db);
	return r;
}

int
cluster_db_open(const char *conninfo, int connect_timeout_s,
    int statement_timeout_ms, struct cluster_db **out, struct err_msg *msg)
{
	struct cluster_db *db = NULL;
	const char *keys[11], *vals[11];
	char tmo[24], utmo[24], why[ERR_MSG_MAX / 2];
	int r;

	*out = NULL;
	err_clear(msg);
	if (connect_timeout_s <= 0 || connect_timeout_s > 3600 ||
	    statement_timeout_ms <= 0 || statement_timeout_ms > 3600000) {
		r = err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "cluster database timeouts out of range (connect %d s, "
		    "statement %d ms)",
		    connect_timeout_s, statement_timeout_ms);
		goto out;
	}
	r = db_check_conninfo(conninfo, msg);
	if (r != 0)
		goto out;
	db = calloc(1, sizeof(*db));
	if (db == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	db->statement_timeout_ms = statement_timeout_ms;
	db_i64(connect_timeout_s, tmo);
	db_i64((int64_t)statement_timeout_ms + 1000, utmo);
	/*
	 * Later keys win over the same keys in the expanded conninfo. TCP
	 * keepalives and tcp_user_timeout: a database cut off without a FIN
	 * (a partition) fails the statement within seconds instead of TCP's
	 * minutes. No GSSAPI encryption: TLS with the certificates checked is
	 * the only transport (db_session refuses a connection without it).
	 */
	keys[0] = "dbname";
	vals[0] = conninfo;
	keys[1] = "connect_timeout";
	vals[1] = tmo;
	keys[2] = "application_name";
	vals[2] = "signet-server";
	keys[3] = "client_encoding";
	vals[3] = "UTF8";
	keys[4] = "gssencmode";
	vals[4] = "disable";
	keys[5] = "keepalives";
	vals[5] = "1";
	keys[6] = "keepalives_idle";
	vals[6] = "1";
	keys[7] = "keepalives_interval";
	vals[7] = "1";
	keys[8] = "keepalives_count";
	vals[8] = "3";
	keys[9] = "tcp_user_timeout";
	vals[9] = utmo;
	keys[10] = NULL;
	vals[10] = NULL;
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (db->conn == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	if (PQstatus(db->conn) != CONNECTION_OK) {
		db_libpq_text(PQerrorMessage(db->conn), why, sizeof(why));
		r = err_set(msg, SIGNET_ERR_UNAVAILABLE,
		    "cannot connect to the cluster database: %s", why);
		goto out;
	}
	r = db_session(db, msg);
	if (r != 0)
		goto out;
	r = db_schema_ensure(db, msg);
	if (r != 0)
		goto out;
	*out = db;
	db = NULL;
	r = 0;
out:
	cluster_db_close(db);
	return r;
}

void
cluster_db_close(struct cluster_db *db)
{
	if (db == NULL)
		return;
	if (db->conn != NULL)
		PQfinish(db->conn);
	free(db);
}

int
cluster_db_reset(struct cluster_db *db, struct err_msg *msg)
{
	char why[ERR_MSG_MAX / 2];

	err_clear(msg);
	if (db == NULL || db->conn == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG, "no connection");
	PQreset(db->conn);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		db_libpq_text(PQerrorMessage(db->conn), why, sizeof(why));
		return err_set(msg, SIGNET_ERR_UNAVAILABLE,
		    "cannot connect to the cluster database: %s", why);
	}
	return db_session(db, msg);
}

int
cluster_db_socket(struct cluster_db *db)
{
	if (db == NULL || db_broken(db))
		return -1;
	return PQsocket(db->conn);
}

int
cluster_db_listen(struct cluster_db *db, const char *channel,
    struct err_msg *msg)
{
	char esc[96];
	size_t i;
	int r;

	err_clear(msg);
	for (i = 0; i < DB_NCHANNELS; i++)
		if (channel != NULL && strcmp(channel, db_channels[i]) == 0)
			break;
	if (i == DB_NCHANNELS)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "unknown notification channel \"%s\"",
		    text_escape_str(channel, esc, sizeof(esc)));
	r = db_command(db, "LISTEN", db_listen_sql[i], 0, NULL, msg);
	if (r != 0)
		return r;
	db->listening[i] = true;
	return 0;
}

bool
cluster_db_notification_valid(const char *channel, const char *payload)
{
	if (channel == NULL || payload == NULL)
		return false;
	if (strcmp(channel, CLUSTER_CHANNEL_DONE) == 0)
		return text_is_hex(payload, CLUSTER_ACTION_ID_LEN);
	if (strcmp(channel, CLUSTER_CHANNEL_QUEUE) == 0 ||
	    strcmp(channel, CLUSTER_CHANNEL_HOSTS) == 0)
		return text_valid_name(payload);
	return false;
}

int
cluster_db_notification(struct cluster_db *db, char *channel,
    size_t channel_len, char *payload, size_t payload_len, struct err_msg *msg)
{
	PGnotify *n = NULL;
	char why[ERR_MSG_MAX / 2];
	size_t i, plen;
	bool ok;

	err_clear(msg);
	if (channel_len > 0)
		channel[0] = '\0';
	if (payload_len > 0)
		payload[0] = '\0';
	if (db == NULL || db->conn == NULL)
		return err_set(msg, SIGNET_ERR_UNAVAILABLE,
		    "the cluster database is unreachable: not connected");
	if (!PQconsumeInput(db->conn)) {
		db_libpq_text(PQerrorMessage(db->conn), why, sizeof(why));
		return err_set(msg, SIGNET_ERR_UNAVAILABLE,
		    "the cluster database is unreachable (notifications): %s",
		    why);
	}
	for (;;) {
		n = PQnotifies(db->conn);
		if (n == NULL)
			return 0;
		for (i = 0; i < DB_NCHANNELS; i++)
			if (n->relname != NULL &&
			    strcmp(n->relname, db_channels[i]) == 0)
				break;
		ok = i < DB_NCHANNELS && n->extra != NULL &&
		    strlen(db_channels[i]) < channel_len &&
		    strnlen(n->extra, payload_len) < payload_len &&
		    cluster_db_notification_valid(n->relname, n->extra);
		plen = ok ? strlen(n->extra) : 0;
		if (ok) {
			memcpy(channel, db_channels[i],
			    strlen(db_channels[i]) + 1);
			memcpy(payload, n->extra, plen + 1);
		}
		PQfreemem(n);
		if (ok)
			return 1;
	}
}

/* ---- replicas and claims ------------------------------------------------ */

int
cluster_db_replica_seen(struct cluster_db *db, const char *replica,
    struct err_msg *msg)
{
	const char *v[1];

	err_clear(msg);
	if (db_check_name(replica, "replica name", msg) != 0)
		return SIGNET_ERR_INVALID_ARG;
	v[0] = replica;
	return db_command(db, "recording the replica",
	    "INSERT INTO signet_replicas (name, seen_at) VALUES ($1, now()) "
	    "ON CONFLICT (name) DO UPDATE SET seen_at = EXCLUDED.seen_at",
	    1, v, msg);
}

int
cluster_db_claim(struct cluster_db *db, const char *host_id,
    const char *replica, int64_t ttl_ms, int64_t *epoch, struct err_msg *msg)
{
	PGresult *res = NULL;
	const char *v[3];
	char ttl[24];
	int r;

	*epoch = 0;
	err_clear(msg);
	if (db_check_name(host_id, "host_id", msg) != 0 ||
	    db_check_name(replica, "replica name", msg) != 0 ||
	    db_check_ms(ttl_ms, 1, DB_TTL_MAX_MS, "claim ttl_ms", msg) != 0)
		return SIGNET_ERR_INVALID_ARG;
	db_i64(ttl_ms, ttl);
	v[0] = host_id;
	v[1] = replica;
	v[2] = ttl;
	/*
	 * The epoch of a re-claim is drawn once the row is locked, so that
	 * the claim committed last has the highest epoch of the host.
	 */
	r = db_exec(db, "the claim",
	    "INSERT INTO signet_claims AS c"
	    " (host_id, replica, epoch, claimed_at, expires_at)"
	    " VALUES ($1, $2, nextval('signet_claim_epoch'), now(),"
	    "  now() + $3::bigint * interval '1 millisecond')"
	    " ON CONFLICT (host_id) DO UPDATE SET replica = EXCLUDED.replica,"
	    "  epoch = nextval('signet_claim_epoch'),"
	    "  claimed_at = EXCLUDED.claimed_at,"
	    "  expires_at = EXCLUDED.expires_at"
	    " RETURNING c.epoch",
	    3, v, PGRES_TUPLES_OK, 1, &res, msg);
	if (r != 0)
		goto out;
	if (PQntuples(res) != 1) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "the cluster database answered the claim with %d rows",
		    PQntuples(res));
		goto out;
	}
	r = db_get_int64(res, 0, 0, "claim epoch", 1, INT64_MAX, epoch, msg);
out:
	PQclear(res);
	return r;
}

int
cluster_db_renew(struct cluster_db *db, const char *replica, int64_t ttl_ms,
    struct cluster_db_held *held, size_t max, size_t *n, struct err_msg *msg)
{
	PGresult *res = NULL;
	const char *v[2];
	char ttl[24];
	size_t i, rows;
	int r;

	*n = 0;
	err_clear(msg);
	if (db_check_name(replica, "replica name", msg) != 0 ||
	    db_check_ms(ttl_ms, 1, DB_TTL_MAX_MS, "claim ttl_ms", msg) != 0)
		return SIGNET_ERR_INVALID_ARG;
	db_i64(ttl_ms, ttl);
	v[0] = replica;
	v[1] = ttl;
	r = db_exec(db, "the renewal",
	    "UPDATE signet_claims"
	    " SET expires_at = now() + $2::bigint * interval '1 millisecond'"
	    " WHERE replica = $1 AND expires_at > now()"
	    " RETURNING host_id, epoch",
	    2, v, PGRES_TUPLES_OK, 2, &res, msg);
	if (r != 0)
		goto out;
	rows = (size_t)PQntuples(res);
	if (rows > max) {
		*n = rows;
		r = err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "replica holds %zu claims, more than %zu", rows, max);
		goto out;
	}
	for (i = 0; i < rows; i++) {
		r = db_get_name(res, (int)i, 0, "claimed host_id", false,
		    held[i].host_id, msg);
		if (r != 0)
			goto out;
		r = db_get_int64(res, (int)i, 1, "claim epoch", 1, INT64_MAX,
		    &held[i].epoch, msg);
		if (r != 0)
			goto out;
	}
	*n = rows;
	r = 0;
out:
	if (r != 0 && r != SIGNET_ERR_TOO_LARGE)
		*n = 0;
	PQclear(res);
	return r;
}

int
cluster_db_release(struct cluster_db *db, const char *host_id,
    const char *replica, int64_t epoch, struct err_msg *msg)
{
	const char *v[3];
	char ep[24];

	err_clear(msg);
	if (db_check_name(host_id, "host_id", msg) != 0 ||
	    db_check_name(replica, "replica name", msg) != 0 ||
	    db_check_ms(epoch, 1, INT64_MAX, "epoch", msg) != 0)
		return SIGNET_ERR_INVALID_ARG;
	db_i64(epoch, ep);
	v[0] = host_id;
	v[1] = replica;
	v[2] = ep;
	return db_command(db, "the release",
	    "DELETE FROM signet_claims"
	    " WHERE host_id = $1 AND replica = $2 AND epoch = $3::bigint",
	    3, v, msg);
}

int
cluster_db_holder(struct cluster_db *db, const char *host_id, char *replica,
    size_t replica_len, int64_t *epoch, struct err_msg *msg)
{
	PGresult *res = NULL;
	char name[CLUSTER_NAME_MAX + 1];
	const char *v[1];
	int r;

	*epoch = 0;
	if (replica_len > 0)
		replica[0] = '\0';
	err_clear(msg);
	if (db_check_name(host_id, "host_id", msg) != 0)
		return SIGNET_ERR_INVALID_ARG;
	v[0] = host_id;
	r = db_exec(db, "the holder",
	    "SELECT replica, epoch FROM signet_claims"
	    " WHERE host_id = $1 AND expires_at > now()",
	    1, v, PGRES_TUPLES_OK, 2, &res, msg);
	if (r != 0)
		goto out;
	if (PQntuples(res) > 1) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "the cluster database gave %d claims of one host",
		    PQntuples(res));
		goto out;
	}
	if (PQntuples(res) == 0) {
		r = 0;
		goto out;
	}
	r = db_get_name(res, 0, 0, "claim replica", false, name, msg);
	if (r != 0)
		goto out;
	r = db_get_int64(res, 0, 1, "claim epoch", 1, INT64_MAX, epoch, msg);
	if (r != 0)
		goto out;
	if (strlen(name) >= replica_len) {
		*epoch = 0;
		r = err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "no room for the replica name");
		goto out;
	}
	memcpy(replica, name, strlen(name) + 1);
	r = 1;
out:
	PQclear(res);
	return r;
}

/* ---- hosts -------------------------------------------------------------- */

int
cluster_db_put_host(struct cluster_db *db, const char *host_id,
    const char *replica, int64_t epoch, const char *info, const char *inventory,
    struct err_msg *msg)
{
	PGresult *res = NULL;
	const char *v[6];
	char ep[24];
	int r;

	err_clear(msg);
	if (db_check_name(host_id, "host_id", msg) != 0 ||
	    db_check_name(replica, "replica name", msg) != 0 ||
	    db_check_ms(epoch, 1, INT64_MAX, "epoch", msg) != 0 ||
	    db_check_text(info, "host info", true, msg) != 0 ||
	    db_check_text(inventory, "inventory", true, msg) != 0)
		return SIGNET_ERR_INVALID_ARG;
	db_i64(epoch, ep);
	v[0] = host_id;
	v[1] = replica;
	v[2] = ep;
	v[3] = info;
	v[4] = inventory;
	v[5] = CLUSTER_CHANNEL_HOSTS;
	/*
	 * Written only while (replica, epoch) is the host's live claim; FOR
	 * SHARE keeps a new claim from committing before this write does.
	 */
	r = db_exec(db, "the host update",
	    "WITH c AS (SELECT host_id FROM signet_claims"
	    "  WHERE host_id = $1 AND replica = $2 AND epoch = $3::bigint"
	    "  AND expires_at > now() FOR SHARE),"
	    " w AS (INSERT INTO signet_hosts AS h"
	    "  (host_id, replica, epoch, info, inventory, updated_at)"
	    "  SELECT c.host_id, $2, $3::bigint, $4::text, $5::text, now()"
	    "  FROM c"
	    "  ON CONFLICT (host_id) DO UPDATE SET replica = EXCLUDED.replica,"
	    "   epoch = EXCLUDED.epoch,"
	    "   info = COALESCE(EXCLUDED.info, h.info),"
	    "   inventory = COALESCE(EXCLUDED.inventory, h.inventory),"
	    "   updated_at = EXCLUDED.updated_at"
	    "  RETURNING h.host_id)"
	    " SELECT pg_notify($6, w.host_id)::text FROM w",
	    6, v, PGRES_TUPLES_OK, 1, &res, msg);
	if (r != 0)
		goto out;
	if (PQntuples(res) == 0) {
		r = err_set(msg, SIGNET_ERR_STALE,
		    "host %s: epoch %" PRId64 " of %s is not its live claim",
		    host_id, epoch, replica);
		goto out;
	}
	if (PQntuples(res) != 1) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "the cluster database answered the host update with %d "
		    "rows",
		    PQntuples(res));
		goto out;
	}
	r = 0;
out:
	PQclear(res);
	return r;
}

#define DB_HOST_NCOLUMNS 7

void
cluster_db_host_free(struct cluster_db_host *h)
{
	if (h == NULL)
		return;
	free(h->info);
	free(h->inventory);
	h->info = NULL;
	h->inventory = NULL;
}

int
cluster_db_host_row(const struct pg_result *res, int row,
    struct cluster_db_host *h, struct err_msg *msg)
{
	int r;

	memset(h, 0, sizeof(*h));
	if (res == NULL || PQnfields(res) != DB_HOST_NCOLUMNS || row < 0 ||
	    row >= PQntuples(res))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "the cluster database gave a host row of the wrong shape");
	r = db_get_name(res, row, 0, "host_id", false, h->host_id, msg);
	if (r == 0)
		r = db_get_name(res, row, 1, "holder", true, h->replica, msg);
	if (r == 0)
		r = db_get_int64(res, row, 2, "holder epoch", 0, INT64_MAX,
		    &h->epoch, msg);
	if (r == 0)
		r = db_get_bool(res, row, 3, "held", &h->held, msg);
	if (r == 0)
		r = db_get_int64(res, row, 4, "updated_at", 0, DB_TIME_MAX_MS,
		    &h->updated_at_ms, msg);
	if (r == 0)
		r = db_dup_text(res, row, 5, "host info", true, &h->info, msg);
	if (r == 0)
		r = db_dup_text(res, row, 6, "inventory", true, &h->inventory,
		    msg);
	if (r == 0 &&
	    (h->held != (h->replica[0] != '\0') || h->held != (h->epoch != 0)))
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "the cluster database gave an inconsistent holder");
	if (r != 0 && h->host_id[0] != '\0')
		r = db_context(msg, r, "host", h->host_id);
	if (r != 0)
		cluster_db_host_free(h);
	return r;
}

int
cluster_db_hosts(struct cluster_db *db, const char *host_id,
    struct cluster_db_host *out, size_t max, size_t *n, struct err_msg *msg)
{
	PGresult *res = NULL;
	const char *v[2];
	char lim[24];
	size_t i, rows = 0;
	int r;

	*n = 0;
	err_clear(msg);
	if (host_id != NULL && db_check_name(host_id, "host_id", msg) != 0)
		return SIGNET_ERR_INVALID_ARG;
	if (max == 0 || max > 1000000)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "hosts: max %zu out of [1, 1000000]", max);
	memset(out, 0, max * sizeof(*out));
	db_i64((int64_t)max + 1, lim);
	v[0] = host_id;
	v[1] = lim;
	r = db_exec(db, "the host list",
	    "SELECT h.host_id,"
	    " CASE WHEN c.expires_at > now() THEN c.replica ELSE '' END,"
	    " CASE WHEN c.expires_at > now() THEN c.epoch ELSE 0 END,"
	    " COALESCE(c.expires_at > now(), false),"
	    " (extract(epoch FROM h.updated_at) * 1000)::bigint,"
	    " h.info, h.inventory"
	    " FROM signet_hosts h LEFT JOIN signet_claims c"
	    "  ON c.host_id = h.host_id"
	    " WHERE $1::text IS NULL OR h.host_id = $1::text"
	    " ORDER BY h.host_id LIMIT $2::bigint",
	    2, v, PGRES_TUPLES_OK, DB_HOST_NCOLUMNS, &res, msg);
	if (r != 0)
		goto out;
	rows = (size_t)PQntuples(res);
	if (rows > max) {
		r = err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "the cluster database holds more than %zu hosts", max);
		goto out;
	}
	for (i = 0; i < rows; i++) {
		r = cluster_db_host_row(res, (int)i, &out[i], msg);
		if (r != 0)
			goto out;
	}
	*n = rows;
	r = 0;
out:
	if (r != 0)
		for (i = 0; i < rows && i < max; i++)
			cluster_db_host_free(&out[i]);
	PQclear(res);
	return r;
}

/* ---- actions ------------------------------------------------------------ */

void
cluster_db_action_free(struct cluster_db_action *a)
{
	if (a == NULL)
		return;
	free(a->info);
	free(a->frame);
	free(a->result);
	a->info = NULL;
	a->frame = NULL;
	a->result = NULL;
}

/* The columns cluster_db_action_row reads, in its order. */
#define DB_ACTION_COLUMNS                                                      \
	"a.action_id, a.host_id, a.origin, a.status, a.result_by,"             \
	" a.requested_at, a.expires_at, a.deadline, a.finished_at, a.info,"    \
	" a.frame, a.result"
#define DB_ACTION_NCOLUMNS 12

int
cluster_db_action_row(const struct pg_result *res, int row,
    struct cluster_db_action *a, struct err_msg *msg)
{
	const char *v = NULL;
	char esc[96];
	int r;

	memset(a, 0, sizeof(*a));
	if (res == NULL || PQnfields(res) != DB_ACTION_NCOLUMNS || row < 0 ||
	    row >= PQntuples(res))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "the cluster database gave an action row of the wrong "
		    "shape");
	r = db_get_text(res, row, 0, "action_id", false, 64, &v, msg);
	if (r != 0)
		goto out;
	if (!text_is_hex(v, CLUSTER_ACTION_ID_LEN)) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "the cluster database gave an invalid action_id \"%s\"",
		    text_escape_str(v, esc, sizeof(esc)));
		goto out;
	}
	memcpy(a->action_id, v, CLUSTER_ACTION_ID_LEN + 1);
	r = db_get_name(res, row, 1, "action host_id", false, a->host_id, msg);
	if (r == 0)
		r = db_get_name(res, row, 2, "action origin", false, a->origin,
		    msg);
	if (r == 0)
		r = db_get_text(res, row, 3, "action status", false,
		    sizeof(a->status) - 1, &v, msg);
	if (r == 0 && db_status_index(v) < 0)
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "the cluster database gave an unknown action status "
		    "\"%s\"",
		    text_escape_str(v, esc, sizeof(esc)));
	if (r == 0)
		memcpy(a->status, v, strlen(v) + 1);
	if (r == 0)
		r = db_get_name(res, row, 4, "action result_by", true,
		    a->result_by, msg);
	if (r == 0)
		r = db_get_int64(res, row, 5, "requested_at", 0, DB_TIME_MAX_MS,
		    &a->requested_at_ms, msg);
	if (r == 0)
		r = db_get_int64(res, row, 6, "expires_at", 0, DB_TIME_MAX_MS,
		    &a->expires_at_ms, msg);
	if (r == 0)
		r = db_get_int64(res, row, 7, "deadline", 0, DB_TIME_MAX_MS,
		    &a->deadline_ms, msg);
	if (r == 0)
		r = db_get_int64(res, row, 8, "finished_at", 0, DB_TIME_MAX_MS,
		    &a->finished_at_ms, msg);
	if (r == 0)
		r = db_dup_text(res, row, 9, "action info", false, &a->info,
		    msg);
	if (r == 0)
		r = db_dup_text(res, row, 10, "action frame", false, &a->frame,
		    msg);
	if (r == 0)
		r = db_dup_text(res, row, 11, "action result", true, &a->result,
		    msg);
	if (r != 0 && a->action_id[0] != '\0')
		r = db_context(msg, r, "action", a->action_id);
out:
	if (r != 0)
		cluster_db_action_free(a);
	return r;
}

int
cluster_db_action_add(struct cluster_db *db, const struct cluster_db_action *a,
    bool queue, struct err_msg *msg)
{
	PGresult *res = NULL;
	char req[24], exp[24], dl[24];
	const char *v[11];
	int64_t added = 0, queued = 0;
	int r;

	err_clear(msg);
	if (a == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG, "no action");
	if (db_check_id(a->action_id, msg) != 0 ||
	    db_check_name(a->host_id, "host_id", msg) != 0 ||
	    db_check_name(a->origin, "origin replica", msg) != 0 ||
	    db_check_ms(a->requested_at_ms, 0, DB_TIME_MAX_MS, "requested_at",
	        msg) != 0 ||
	    db_check_ms(a->expires_at_ms, 0, DB_TIME_MAX_MS, "expires_at",
	        msg) != 0 ||
	    db_check_ms(a->deadline_ms, 0, DB_TIME_MAX_MS, "deadline", msg) !=
	        0 ||
	    db_check_text(a->info, "action info", false, msg) != 0 ||
	    db_check_text(a->frame, "action frame", false, msg) != 0)
		return SIGNET_ERR_INVALID_ARG;
	db_i64(a->requested_at_ms, req);
	db_i64(a->expires_at_ms, exp);
	db_i64(a->deadline_ms, dl);
	v[0] = a->action_id;
	v[1] = a->host_id;
	v[2] = a->origin;
	v[3] = req;
	v[4] = exp;
	v[5] = dl;
	v[6] = a->info;
	v[7] = a->frame;
	v[8] = queue ? "true" : "false";
	v[9] = CLUSTER_CHANNEL_QUEUE;
	v[10] = "PENDING";
	r = db_exec(db, "the new action",
	    "WITH a AS (INSERT INTO signet_actions"
	    "  (action_id, host_id, origin, status, result_by, requested_at,"
	    "   expires_at, deadline, finished_at, info, frame, result)"
	    "  VALUES ($1, $2, $3, $11, '', $4::bigint, $5::bigint,"
	    "   $6::bigint, 0, $7::text, $8::text, NULL)"
	    "  ON CONFLICT (action_id) DO NOTHING"
	    "  RETURNING action_id, host_id),"
	    " q AS (INSERT INTO signet_queue (action_id, host_id, queued_at)"
	    "  SELECT action_id, host_id, now() FROM a WHERE $9::boolean"
	    "  RETURNING host_id),"
	    " n AS (SELECT pg_notify($10, q.host_id) FROM q)"
	    " SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM n)",
	    11, v, PGRES_TUPLES_OK, 2, &res, msg);
	if (r != 0)
		goto out;
	if (PQntuples(res) != 1) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "the cluster database answered the new action with %d "
		    "rows",
		    PQntuples(res));
		goto out;
	}
	r = db_get_int64(res, 0, 0, "inserted count", 0, 1, &added, msg);
	if (r == 0)
		r = db_get_int64(res, 0, 1, "queued count", 0, 1, &queued, msg);
	if (r != 0)
		goto out;
	if (added == 0) {
		r = err_set(msg, SIGNET_ERR_EXISTS,
		    "action %s is already in the cluster database",
		    a->action_id);
		goto out;
	}
	if (queued != (queue ? 1 : 0)) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "the cluster database queued action %s %" PRId64 " times",
		    a->action_id, queued);
		goto out;
	}
	r = 0;
out:
	PQclear(res);
	return r;
}

/* The queue rows replica may take now (its live claims; never taken, or
 * taken over lease_ms ago by an epoch that is no longer the host's). */
#define DB_TAKEABLE                                                            \
	" FROM signet_queue q"                                                 \
	" JOIN signet_claims c ON c.host_id = q.host_id"                       \
	" JOIN signet_actions a ON a.action_id = q.action_id"                  \
	" WHERE c.replica = $1 AND c.expires_at > now()"                       \
	" AND (q.taken_at IS NULL OR (q.taken_at < now() -"                    \
	"  $2::bigint * interval '1 millisecond'"                              \
	"  AND q.taken_epoch IS DISTINCT FROM c.epoch))"

/*
 * info with status UNDELIVERED, the error and finished_at, for an action
 * that expired in the queue; NULL when info is not a JSON object (then
 * the stored info stays: the status column says what happened).
 */
static char *
db_undelivered_info(const char *info, int64_t now_ms)
{
	cJSON *o = NULL, *s = NULL, *e = NULL, *f = NULL;
	char when[40], *out = NULL;

	if (jsonx_parse_object("action info", info, strlen(info), 16, &o,
	        NULL) != 0)
		goto out;
	registry_format_time(now_ms, when, sizeof(when));
	s = cJSON_CreateString("UNDELIVERED");
	e = cJSON_CreateString(DB_EXPIRED_ERROR);
	f = cJSON_CreateString(when);
	if (s == NULL || e == NULL || f == NULL)
		goto out;
	/* Replace or add: each item belongs to o once it is placed. */
	if ((cJSON_GetObjectItemCaseSensitive(o, "status") != NULL ?
	            !cJSON_ReplaceItemInObjectCaseSensitive(o, "status", s) :
	            !cJSON_AddItemToObject(o, "status", s)))
		goto out;
	s = NULL;
	if ((cJSON_GetObjectItemCaseSensitive(o, "error") != NULL ?
	            !cJSON_ReplaceItemInObjectCaseSensitive(o, "error", e) :
	            !cJSON_AddItemToObject(o, "error", e)))
		goto out;
	e = NULL;
	if ((cJSON_GetObjectItemCaseSensitive(o, "finished_at") != NULL ?
	            !cJSON_ReplaceItemInObjectCaseSensitive(o, "finished_at",
	                f) :
	            !cJSON_AddItemToObject(o, "finished_at", f)))
		goto out;
	f = NULL;
	out = jsonx_print(o);
out:
	cJSON_Delete(s);
	cJSON_Delete(e);
	cJSON_Delete(f);
	cJSON_Delete(o);
	return out;
}

/*
 * Drops the takeable frames whose action expired or already ended; a
 * PENDING one ends UNDELIVERED. Runs inside queue_expire's transaction.
 */
static int
db_drop_expired(struct cluster_db *db, const char *const take[2],
    const char *now, int64_t now_ms, struct err_msg *msg)
{
	PGresult *res = NULL, *res2 = NULL;
	const char *v[6];
	char batch[24], *info = NULL;
	const char *id = NULL, *status = NULL, *old = NULL;
	int i, r;

	db_i64(DB_EXPIRED_BATCH, batch);
	v[0] = take[0];
	v[1] = take[1];
	v[2] = now;
	v[3] = batch;
	r = db_exec(db, "the expired queue rows",
	    "SELECT q.action_id, a.status, a.info" DB_TAKEABLE
	    " AND (a.expires_at <= $3::bigint OR a.status <> 'PENDING')"
	    " LIMIT $4::bigint FOR UPDATE OF q SKIP LOCKED",
	    4, v, PGRES_TUPLES_OK, 3, &res, msg);
	if (r != 0)
		goto out;
	for (i = 0; i < PQntuples(res); i++) {
		r = db_get_text(res, i, 0, "queued action_id", false, 64, &id,
		    msg);
		if (r == 0)
			r = db_get_text(res, i, 1, "queued action status",
			    false, 16, &status, msg);
		if (r == 0)
			r = db_get_text(res, i, 2, "queued action info", false,
			    CLUSTER_DB_TEXT_MAX, &old, msg);
		if (r != 0)
			goto out;
		v[0] = id;
		r = db_command(db, "dropping an expired queue row",
		    "DELETE FROM signet_queue WHERE action_id = $1", 1, v, msg);
		if (r != 0)
			goto out;
		if (strcmp(status, "PENDING") != 0)
			continue;
		free(info);
		info = db_undelivered_info(old, now_ms);
		v[0] = id;
		v[1] = "UNDELIVERED";
		v[2] = info != NULL ? info : old;
		v[3] = now;
		v[4] = CLUSTER_CHANNEL_DONE;
		PQclear(res2);
		res2 = NULL;
		r = db_exec(db, "ending an expired action",
		    "WITH u AS (UPDATE signet_actions SET status = $2,"
		    "  info = $3::text, finished_at = $4::bigint"
		    "  WHERE action_id = $1 AND status = 'PENDING'"
		    "  RETURNING action_id)"
		    " SELECT pg_notify($5, u.action_id)::text FROM u",
		    5, v, PGRES_TUPLES_OK, 1, &res2, msg);
		if (r != 0)
			goto out;
	}
	r = 0;
out:
	free(info);
	PQclear(res2);
	PQclear(res);
	return r;
}

/* The arguments of a queue take or expire: 0 or SIGNET_ERR_INVALID_ARG. */
static int
db_check_take(const char *replica, int64_t lease_ms, int64_t now_ms,
    struct err_msg *msg)
{
	if (db_check_name(replica, "replica name", msg) != 0 ||
	    db_check_ms(lease_ms, 0, DB_TTL_MAX_MS, "queue lease_ms", msg) !=
	        0 ||
	    db_check_ms(now_ms, 0, DB_TIME_MAX_MS, "now", msg) != 0)
		return SIGNET_ERR_INVALID_ARG;
	return 0;
}

int
cluster_db_queue_take(struct cluster_db *db, const char *replica,
    int64_t lease_ms, int64_t now_ms, struct cluster_db_action *out, size_t max,
    size_t *n, struct err_msg *msg)
{
	PGresult *res = NULL;
	const char *v[4];
	char lease[24], now[24], lim[24];
	size_t i, rows = 0;
	int r;

	*n = 0;
	err_clear(msg);
	if (db_check_take(replica, lease_ms, now_ms, msg) != 0)
		return SIGNET_ERR_INVALID_ARG;
	if (max == 0 || max > 10000)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "queue take: max %zu out of [1, 10000]", max);
	memset(out, 0, max * sizeof(*out));
	db_i64(lease_ms, lease);
	db_i64(now_ms, now);
	db_i64((int64_t)max, lim);
	v[0] = replica;
	v[1] = lease;
	v[2] = now;
	v[3] = lim;
	/* One statement, so one transaction: the locks last until it ends. */
	r = db_exec(db, "the queue take",
	    "WITH t AS (SELECT q.action_id, c.epoch" DB_TAKEABLE
	    "  AND a.expires_at > $3::bigint AND a.status = 'PENDING'"
	    "  ORDER BY q.queued_at, q.action_id LIMIT $4::bigint"
	    "  FOR UPDATE OF q SKIP LOCKED),"
	    " u AS (UPDATE signet_queue q SET taken_by = $1,"
	    "  taken_epoch = t.epoch, taken_at = now()"
	    "  FROM t WHERE q.action_id = t.action_id"
	    "  RETURNING q.action_id, q.queued_at)"
	    " SELECT " DB_ACTION_COLUMNS
	    " FROM signet_actions a JOIN u ON u.action_id = a.action_id"
	    " ORDER BY u.queued_at, a.action_id",
	    4, v, PGRES_TUPLES_OK, DB_ACTION_NCOLUMNS, &res, msg);
	if (r != 0)
		goto out;
	rows = (size_t)PQntuples(res);
	if (rows > max) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "the cluster database gave %zu queued actions, asked for "
		    "at most %zu",
		    rows, max);
		rows = 0;
		goto out;
	}
	for (i = 0; i < rows; i++) {
		r = cluster_db_action_row(res, (int)i, &out[i], msg);
		if (r != 0) {
			rows = i;
			goto out;
		}
	}
	*n = rows;
	r = 0;
out:
	if (r != 0)
		for (i = 0; i < rows; i++)
			cluster_db_action_free(&out[i]);
	PQclear(res);
	return r;
}

int
cluster_db_queue_expire(struct cluster_db *db, const char *replica,
    int64_t lease_ms, int64_t now_ms, struct err_msg *msg)
{
	const char *take[2];
	char lease[24], now[24];
	int r;

	err_clear(msg);
	if (db_check_take(replica, lease_ms, now_ms, msg) != 0)
		return SIGNET_ERR_INVALID_ARG;
	db_i64(lease_ms, lease);
	db_i64(now_ms, now);
	take[0] = replica;
	take[1] = lease;
	r = db_command(db, "BEGIN", "BEGIN", 0, NULL, msg);
	if (r == 0)
		r = db_drop_expired(db, take, now, now_ms, msg);
	if (r == 0)
		r = db_command(db, "COMMIT", "COMMIT", 0, NULL, msg);
	if (r != 0)
		db_rollback(db);
	return r;
}

int
cluster_db_queue_done(struct cluster_db *db, const char *action_id,
    struct err_msg *msg)
{
	const char *v[1];

	err_clear(msg);
	if (db_check_id(action_id, msg) != 0)
		return SIGNET_ERR_INVALID_ARG;
	v[0] = action_id;
	return db_command(db, "the queue removal",
	    "DELETE FROM signet_queue WHERE action_id = $1", 1, v, msg);
}

int
cluster_db_action_end(struct cluster_db *db, const char *action_id,
    const char *status, const char *info, const char *result,
    const char *replica, int64_t now_ms, struct err_msg *msg)
{
	PGresult *res = NULL;
	const char *v[7];
	char now[24], esc[32];
	int64_t ended = 0;
	bool known = false;
	int r;

	err_clear(msg);
	if (db_check_id(action_id, msg) != 0 ||
	    db_check_name(replica, "replica name", msg) != 0 ||
	    db_check_text(info, "action info", false, msg) != 0 ||
	    db_check_text(result, "action result", true, msg) != 0 ||
	    db_check_ms(now_ms, 0, DB_TIME_MAX_MS, "now", msg) != 0)
		return SIGNET_ERR_INVALID_ARG;
	if (db_status_index(status) <= 0)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "invalid end status \"%s\"",
		    text_escape_str(status, esc, sizeof(esc)));
	db_i64(now_ms, now);
	v[0] = action_id;
	v[1] = status;
	v[2] = info;
	v[3] = result;
	v[4] = replica;
	v[5] = now;
	v[6] = CLUSTER_CHANNEL_DONE;
	/* PENDING ends any way; TIMEOUT only with a (late) result. */
	r = db_exec(db, "the action end",
	    "WITH u AS (UPDATE signet_actions SET status = $2, info = $3::text,"
	    "  result = COALESCE($4::text, result),"
	    "  result_by = CASE WHEN $4::text IS NULL THEN result_by"
	    "   ELSE $5 END,"
	    "  finished_at = $6::bigint"
	    "  WHERE action_id = $1 AND (status = 'PENDING' OR"
	    "   (status = 'TIMEOUT' AND $4::text IS NOT NULL))"
	    "  RETURNING action_id),"
	    " d AS (DELETE FROM signet_queue"
	    "  WHERE action_id IN (SELECT action_id FROM u)),"
	    " n AS (SELECT pg_notify($7, u.action_id) FROM u)"
	    " SELECT (SELECT count(*) FROM n),"
	    "  EXISTS (SELECT 1 FROM signet_actions WHERE action_id = $1)",
	    7, v, PGRES_TUPLES_OK, 2, &res, msg);
	if (r != 0)
		goto out;
	if (PQntuples(res) != 1) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "the cluster database answered the action end with %d "
		    "rows",
		    PQntuples(res));
		goto out;
	}
	r = db_get_int64(res, 0, 0, "ended count", 0, 1, &ended, msg);
	if (r == 0)
		r = db_get_bool(res, 0, 1, "action known", &known, msg);
	if (r != 0)
		goto out;
	if (ended == 1)
		r = 0;
	else if (known)
		r = err_set(msg, SIGNET_ERR_EXISTS,
		    "action %s had ended already", action_id);
	else
		r = err_set(msg, SIGNET_ERR_NOT_FOUND,
		    "action %s is not in the cluster database", action_id);
out:
	PQclear(res);
	return r;
}

int
cluster_db_action_get(struct cluster_db *db, const char *action_id,
    struct cluster_db_action *out, struct err_msg *msg)
{
	PGresult *res = NULL;
	const char *v[1];
	int r;

	memset(out, 0, sizeof(*out));
	err_clear(msg);
	if (db_check_id(action_id, msg) != 0)
		return SIGNET_ERR_INVALID_ARG;
	v[0] = action_id;
	r = db_exec(db, "the action",
	    "SELECT " DB_ACTION_COLUMNS
	    " FROM signet_actions a WHERE a.action_id = $1",
	    1, v, PGRES_TUPLES_OK, DB_ACTION_NCOLUMNS, &res, msg);
	if (r != 0)
		goto out;
	if (PQntuples(res) == 0) {
		r = err_set(msg, SIGNET_ERR_NOT_FOUND,
		    "action %s is not in the cluster database", action_id);
		goto out;
	}
	if (PQntuples(res) != 1) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "the cluster database gave %d rows of action %s",
		    PQntuples(res), action_id);
		goto out;
	}
	r = cluster_db_action_row(res, 0, out, msg);
	if (r == 0 && strcmp(out->action_id, action_id) != 0) {
		cluster_db_action_free(out);
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "the cluster database gave another action than %s",
		    action_id);
	}
out:
	PQclear(res);
	return r;
}

int
cluster_db_prune(struct cluster_db *db, int64_t before_ms, int limit, size_t *n,
    struct err_msg *msg)
{
	PGresult *res = NULL;
	const char *v[2];
	char before[24], lim[24];
	long long removed;
	int r;

	err_clear(msg);
	if (n != NULL)
		*n = 0;
	if (db_check_ms(before_ms, 0, DB_TIME_MAX_MS, "before", msg) != 0)
		return SIGNET_ERR_INVALID_ARG;
	if (limit < 1 || limit > 100000)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "a prune limit of %d is not 1 to 100000", limit);
	db_i64(before_ms, before);
	db_i64(limit, lim);
	v[0] = before;
	v[1] = lim;
	/* The queue rows go with their actions (ON DELETE CASCADE). */
	r = db_exec(db, "the removal of old actions",
	    "DELETE FROM signet_actions WHERE action_id IN ("
	    "SELECT action_id FROM signet_actions WHERE "
	    "(status <> 'PENDING' AND finished_at > 0 AND "
	    "finished_at < $1::bigint) OR deadline < $1::bigint "
	    "LIMIT $2::integer)",
	    2, v, PGRES_COMMAND_OK, 0, &res, msg);
	if (r != 0)
		return r;
	removed = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	if (n != NULL && removed > 0)
		*n = (size_t)removed;
	return 0;
}

uint64_t
cluster_db_statements(const struct cluster_db *db)
{
	return db != NULL ? db->statements : 0;
}
