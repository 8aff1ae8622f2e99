/* SPDX-License-Identifier: ISC */
/*
 * The cluster database layer without a database: the conninfo refusals
 * (made before any connection), the notification payload rule and the
 * checks of hostile rows, built as libpq results. The statements
 * themselves run against a real PostgreSQL in
 * tests/integration/test_cluster_db.sh.
 */
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "cluster_db.h"
#include "testlib.h"

#define TLS                                                                    \
	" sslmode=verify-full sslrootcert=/ca.pem sslcert=/r1.pem "            \
	"sslkey=/r1.key"

static void
test_conninfo(void)
{
	static const struct {
		const char *conninfo;
		int code;
		const char *msg;
	} rows[] = {
		{ "", SIGNET_ERR_INVALID_ARG, "is empty" },
		{ "host='open", SIGNET_ERR_INVALID_ARG, "cannot be parsed" },
		{ "nosuch=1" TLS, SIGNET_ERR_INVALID_ARG,
		    "invalid connection option \"nosuch\"" },
		{ "host=db", SIGNET_ERR_INVALID_ARG,
		    "must have sslmode=verify-full (it has none)" },
		{ "host=db sslmode=require sslrootcert=/ca sslcert=/c sslkey=/k",
		    SIGNET_ERR_INVALID_ARG,
		    "must have sslmode=verify-full (it has another sslmode)" },
		{ "host=db sslmode=verify-ca sslrootcert=/ca sslcert=/c "
		  "sslkey=/k",
		    SIGNET_ERR_INVALID_ARG, "must have sslmode=verify-full" },
		{ "host=db sslmode=verify-full sslcert=/c sslkey=/k",
		    SIGNET_ERR_INVALID_ARG, "has no sslrootcert" },
		{ "host=db sslmode=verify-full sslrootcert=/ca sslkey=/k",
		    SIGNET_ERR_INVALID_ARG, "has no sslcert" },
		{ "host=db sslmode=verify-full sslrootcert=/ca sslcert=/c",
		    SIGNET_ERR_INVALID_ARG, "has no sslkey" },
		{ "host=db sslmode=verify-full sslrootcert='' sslcert=/c "
		  "sslkey=/k",
		    SIGNET_ERR_INVALID_ARG, "has no sslrootcert" },
		{ "host=db password=x" TLS, SIGNET_ERR_INVALID_ARG,
		    "has a password: signet connects with a client certificate "
		    "only" },
		{ "host=db passfile=/p" TLS, SIGNET_ERR_INVALID_ARG,
		    "has a passfile" },
		{ "service=signet" TLS, SIGNET_ERR_INVALID_ARG,
		    "names a service" },
		{ "postgresql://u:secret@db/x?sslmode=verify-full&sslrootcert=/"
		  "ca&sslcert=/c&sslkey=/k",
		    SIGNET_ERR_INVALID_ARG, "has a password" },
		{ "postgresql://db/x?sslmode=prefer", SIGNET_ERR_INVALID_ARG,
		    "must have sslmode=verify-full" },
		/* Accepted, then the connection fails: nothing listens. */
		{ "host=127.0.0.1 port=1 dbname=x user=signet" TLS,
		    SIGNET_ERR_UNAVAILABLE,
		    "cannot connect to the cluster database: " },
	};
	struct cluster_db *db;
	struct err_msg msg;
	size_t i;
	int r;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		db = (struct cluster_db *)&msg; /* must come back NULL */
		r = cluster_db_open(rows[i].conninfo, 2, 1000, &db, &msg);
		CHECKF(r == rows[i].code, "row %zu: %d", i, r);
		CHECK(db == NULL);
		CHECK_CONTAINS(msg.text, rows[i].msg);
		CHECK(strchr(msg.text, '\n') == NULL);
		cluster_db_close(db);
	}
	db = NULL;
	r = cluster_db_open(NULL, 2, 1000, &db, &msg);
	CHECK(r == SIGNET_ERR_INVALID_ARG && db == NULL);
	r = cluster_db_open("host=db" TLS, 0, 1000, &db, &msg);
	CHECK(r == SIGNET_ERR_INVALID_ARG && db == NULL);
	r = cluster_db_open("host=db" TLS, 2, 0, &db, &msg);
	CHECK(r == SIGNET_ERR_INVALID_ARG && db == NULL);
}

static void
test_notification_valid(void)
{
	static const struct {
		const char *channel, *payload;
		bool ok;
	} rows[] = {
		{ CLUSTER_CHANNEL_QUEUE, "h1", true },
		{ CLUSTER_CHANNEL_HOSTS, "web-01.example", true },
		{ CLUSTER_CHANNEL_DONE, "0123456789abcdef0123456789abcdef",
		    true },
		{ CLUSTER_CHANNEL_DONE, "h1", false },
		{ CLUSTER_CHANNEL_DONE, "0123456789ABCDEF0123456789ABCDEF",
		    false },
		{ CLUSTER_CHANNEL_DONE, "0123456789abcdef0123456789abcdef0",
		    false },
		{ CLUSTER_CHANNEL_QUEUE, "", false },
		{ CLUSTER_CHANNEL_QUEUE, "../x", false },
		{ CLUSTER_CHANNEL_HOSTS, "H1", false },
		{ CLUSTER_CHANNEL_HOSTS, "h1\n", false },
		{ "signet_other", "h1", false },
		{ NULL, "h1", false },
		{ CLUSTER_CHANNEL_QUEUE, NULL, false },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		CHECKF(cluster_db_notification_valid(rows[i].channel,
		           rows[i].payload) == rows[i].ok,
		    "row %zu", i);
}

#define NUL_FIELD ((const char *)1) /* SQL NULL */

/* A one-row text result of n columns (NUL_FIELD: NULL). */
static PGresult *
result_of(const char *const *fields, int n)
{
	PGresAttDesc attrs[16];
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	int i;

	if (res == NULL || n > 16)
		abort();
	memset(attrs, 0, sizeof(attrs));
	for (i = 0; i < n; i++) {
		attrs[i].name = (char *)"c";
		attrs[i].typid = 25;
		attrs[i].typlen = -1;
		attrs[i].atttypmod = -1;
	}
	if (!PQsetResultAttrs(res, n, attrs))
		abort();
	for (i = 0; i < n; i++) {
		if (fields[i] == NUL_FIELD) {
			if (!PQsetvalue(res, 0, i, NULL, -1))
				abort();
		} else if (!PQsetvalue(res, 0, i, (char *)fields[i],
		               (int)strlen(fields[i]))) {
			abort();
		}
	}
	return res;
}

static void
test_host_rows(void)
{
	static const struct {
		const char *f[7];
		const char *err; /* NULL: accepted */
	} rows[] = {
		{ { "h1", "r2", "7", "t", "1764892800000", "{}", "[]" }, NULL },
		{ { "h1", "", "0", "f", "0", NUL_FIELD, NUL_FIELD }, NULL },
		{ { "H1", "r2", "7", "t", "1", "{}", "[]" },
		    "invalid host_id \"H1\"" },
		{ { NUL_FIELD, "r2", "7", "t", "1", "{}", "[]" },
		    "a NULL host_id" },
		{ { "h1", "r 2", "7", "t", "1", "{}", "[]" },
		    "host h1: the cluster database gave an invalid holder" },
		{ { "h1", "r2", "-1", "t", "1", "{}", "[]" },
		    "holder epoch \"-1\"" },
		{ { "h1", "r2", "7x", "t", "1", "{}", "[]" }, "holder epoch" },
		{ { "h1", "r2", "7", "yes", "1", "{}", "[]" }, "held" },
		{ { "h1", "r2", "7", "f", "1", "{}", "[]" },
		    "inconsistent holder" },
		{ { "h1", "", "0", "t", "1", "{}", "[]" },
		    "inconsistent holder" },
		{ { "h1", "r2", "0", "t", "1", "{}", "[]" },
		    "inconsistent holder" },
		{ { "h1", "r2", "7", "t", "99999999999999999", "{}", "[]" },
		    "updated_at" },
	};
	struct cluster_db_host h;
	struct err_msg msg;
	PGresult *res;
	size_t i;
	int r;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		res = result_of(rows[i].f, 7);
		r = cluster_db_host_row(res, 0, &h, &msg);
		if (rows[i].err == NULL) {
			CHECKF(r == 0, "row %zu: %s", i, msg.text);
		} else {
			CHECKF(r == SIGNET_ERR_FORMAT, "row %zu", i);
			CHECK_CONTAINS(msg.text, rows[i].err);
			CHECK(h.info == NULL && h.inventory == NULL);
		}
		cluster_db_host_free(&h);
		PQclear(res);
	}
	/* The wrong shape: 6 columns, or a row that is not there. */
	res = result_of(rows[0].f, 6);
	CHECK(cluster_db_host_row(res, 0, &h, &msg) == SIGNET_ERR_FORMAT);
	PQclear(res);
	res = result_of(rows[0].f, 7);
	CHECK(cluster_db_host_row(res, 1, &h, &msg) == SIGNET_ERR_FORMAT);
	PQclear(res);
}

#define AID "0123456789abcdef0123456789abcdef"

static void
test_action_rows(void)
{
	static const struct {
		const char *f[12];
		const char *err;
	} rows[] = {
		{ { AID, "h1", "r1", "SUCCESS", "r2", "1", "2", "3", "4", "{}",
		      "{\"f\":1}", "{\"r\":1}" },
		    NULL },
		{ { AID, "h1", "r1", "PENDING", "", "1", "2", "3", "0", "{}",
		      "{}", NUL_FIELD },
		    NULL },
		{ { "0123", "h1", "r1", "PENDING", "", "1", "2", "3", "0", "{}",
		      "{}", NUL_FIELD },
		    "invalid action_id \"0123\"" },
		{ { AID, "h1", "r1", "DONE", "", "1", "2", "3", "0", "{}", "{}",
		      NUL_FIELD },
		    "action " AID ": the cluster database gave an unknown "
		    "action status \"DONE\"" },
		{ { AID, "h1", "r1", "PENDING", "", "1", "2", "3", "0",
		      NUL_FIELD, "{}", NUL_FIELD },
		    "a NULL action info" },
		{ { AID, "h1", "r1", "PENDING", "", "1", "2", "3", "0", "{}",
		      NUL_FIELD, NUL_FIELD },
		    "a NULL action frame" },
		{ { AID, "h/1", "r1", "PENDING", "", "1", "2", "3", "0", "{}",
		      "{}", NUL_FIELD },
		    "invalid action host_id" },
		{ { AID, "h1", "", "PENDING", "", "1", "2", "3", "0", "{}",
		      "{}", NUL_FIELD },
		    "invalid action origin" },
		{ { AID, "h1", "r1", "PENDING", "R2", "1", "2", "3", "0", "{}",
		      "{}", NUL_FIELD },
		    "invalid action result_by" },
		{ { AID, "h1", "r1", "PENDING", "", "-1", "2", "3", "0", "{}",
		      "{}", NUL_FIELD },
		    "requested_at \"-1\"" },
		{ { AID, "h1", "r1", "PENDING", "", "1", "", "3", "0", "{}",
		      "{}", NUL_FIELD },
		    "expires_at" },
	};
	struct cluster_db_action a;
	struct err_msg msg;
	PGresult *res;
	size_t i;
	int r;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		res = result_of(rows[i].f, 12);
		r = cluster_db_action_row(res, 0, &a, &msg);
		if (rows[i].err == NULL) {
			CHECKF(r == 0, "row %zu: %s", i, msg.text);
		} else {
			CHECKF(r == SIGNET_ERR_FORMAT, "row %zu", i);
			CHECK_CONTAINS(msg.text, rows[i].err);
			CHECK(a.info == NULL && a.frame == NULL &&
			    a.result == NULL);
		}
		cluster_db_action_free(&a);
		PQclear(res);
	}
	res = result_of(rows[0].f, 12);
	r = cluster_db_action_row(res, 0, &a, &msg);
	CHECK(r == 0 && strcmp(a.status, "SUCCESS") == 0 &&
	    strcmp(a.result_by, "r2") == 0 && a.requested_at_ms == 1 &&
	    a.expires_at_ms == 2 && a.deadline_ms == 3 &&
	    a.finished_at_ms == 4 && strcmp(a.frame, "{\"f\":1}") == 0 &&
	    strcmp(a.result, "{\"r\":1}") == 0);
	cluster_db_action_free(&a);
	PQclear(res);
}

/* A value over CLUSTER_DB_TEXT_MAX, and one with a NUL inside. */
static void
test_text_bounds(void)
{
	const char *f[7] = { "h1", "r2", "7", "t", "1", "{}", "[]" };
	struct cluster_db_host h;
	struct err_msg msg;
	PGresult *res;
	char *big = malloc((size_t)CLUSTER_DB_TEXT_MAX + 2);

	if (big == NULL)
		abort();
	memset(big, 'x', (size_t)CLUSTER_DB_TEXT_MAX + 1);
	big[CLUSTER_DB_TEXT_MAX + 1] = '\0';
	f[6] = big;
	res = result_of(f, 7);
	CHECK(cluster_db_host_row(res, 0, &h, &msg) == SIGNET_ERR_FORMAT);
	CHECK_CONTAINS(msg.text,
	    "inventory of 4194305 bytes (at most "
	    "4194304)");
	PQclear(res);
	big[CLUSTER_DB_TEXT_MAX] = '\0';
	res = result_of(f, 7);
	CHECK(cluster_db_host_row(res, 0, &h, &msg) == 0 &&
	    strlen(h.inventory) == CLUSTER_DB_TEXT_MAX);
	cluster_db_host_free(&h);
	PQclear(res);
	free(big);

	f[6] = "[]";
	res = result_of(f, 7);
	if (!PQsetvalue(res, 0, 5, (char *)"{}\0{}", 5))
		abort();
	CHECK(cluster_db_host_row(res, 0, &h, &msg) == SIGNET_ERR_FORMAT);
	CHECK_CONTAINS(msg.text, "host info with a NUL byte");
	PQclear(res);
}

int
main(void)
{
	test_conninfo();
	test_notification_valid();
	test_host_rows();
	test_action_rows();
	test_text_bounds();
	return test_finish("test_cluster_db");
}
