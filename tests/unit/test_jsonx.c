/* SPDX-License-Identifier: ISC */
/*
 * jsonx_parse_object's message for malformed JSON names the byte where
 * parsing stopped in *this* input, also while other threads parse other
 * inputs at the same time (the verifier of audit logs parses on every
 * CPU): the offset must not come from cJSON's process-wide error pointer,
 * which another thread's parse overwrites.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "testlib.h"

#define THREADS 4
#define ROUNDS 200000

struct worker {
	const char *doc;  /* malformed */
	const char *want; /* the message expected for it */
	unsigned wrong;   /* messages that differed */
	char seen[ERR_MSG_MAX];
};

static void *
work(void *arg)
{
	struct worker *w = arg;
	struct err_msg msg;
	cJSON *root;
	int i;

	for (i = 0; i < ROUNDS; i++) {
		err_clear(&msg);
		root = NULL;
		if (jsonx_parse_object("doc", w->doc, strlen(w->doc), 8, &root,
		        &msg) == 0) {
			cJSON_Delete(root);
			w->wrong++;
			continue;
		}
		if (strcmp(msg.text, w->want) != 0) {
			w->wrong++;
			(void)snprintf(w->seen, sizeof(w->seen), "%s",
			    msg.text);
		}
	}
	return NULL;
}

int
main(void)
{
	/* Each breaks at another byte: 6, 17, 30 and 1. */
	static const char *const docs[THREADS] = {
		"{\"a\":x}",
		"{\"a\":1,\"bbbbbb\":y}",
		"{\"a\":1,\"b\":2,\"c\":[1,2,3,]}   ",
		"{,}",
	};
	struct worker w[THREADS];
	pthread_t t[THREADS];
	struct err_msg msg;
	cJSON *root = NULL;
	int i;

	/* Alone first: the offsets each document's message must carry. */
	for (i = 0; i < THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].doc = docs[i];
		err_clear(&msg);
		CHECK(jsonx_parse_object("doc", docs[i], strlen(docs[i]), 8,
		          &root, &msg) == SIGNET_ERR_FORMAT);
		CHECK(strstr(msg.text, "doc: malformed JSON near byte ") ==
		    msg.text);
		w[i].want = strdup(msg.text);
		CHECK(w[i].want != NULL);
	}
	CHECK(strcmp(w[0].want, "doc: malformed JSON near byte 5") == 0);
	CHECK(strcmp(w[1].want, w[0].want) != 0);
	CHECK(strcmp(w[2].want, w[1].want) != 0);

	for (i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, work, &w[i]) == 0);
	for (i = 0; i < THREADS; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	for (i = 0; i < THREADS; i++) {
		CHECKF(w[i].wrong == 0,
		    "thread %d: %u of %d messages wrong (\"%s\", want \"%s\")",
		    i, w[i].wrong, ROUNDS, w[i].seen, w[i].want);
		free((void *)w[i].want);
	}
	return test_finish("test_jsonx");
}
