#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd
# The private test dockerd works as later tests need it: the busybox image
# runs with --network none, labels and names stick, and dockerd answers
# 304 to START of a running container over its unix socket (what the
# agent and the benchmarks rely on).
. "$(dirname "$0")/lib.sh"
need_docker
sock=${DOCKER_HOST#unix://}
name=signet-fixture-check-$$
id=$(docker run -d --network none --stop-timeout 1 --name "$name" \
	--label tier=test "$SIGNET_TEST_IMAGE" sleep 100000)
check "container runs from the test image" test -n "$id"
state=$(docker inspect -f '{{.State.Running}} {{index .Config.Labels "tier"}}' "$id")
check "running with its label" test "$state" = "true test"
code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$sock" \
	-X POST "http://localhost/v1.41/containers/$id/start")
check "START of a running container answers 304" test "$code" = 304
docker rm -f "$id" >/dev/null
check "container removed" test -z "$(docker ps -aq --filter "name=$name")"
finish
