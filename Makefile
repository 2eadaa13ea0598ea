# The platform's two commands: `make run` and `make test`. Both install what is missing first.
SHELL := /bin/bash
.DEFAULT_GOAL := run

export PATH := /opt/swift/usr/bin:$(PATH)

# Debian packages: PostgreSQL 15 with PostGIS (second backend, tests), Mosquitto and libmosquitto
# (MQTT connector), libcoap3 with its coap-client (CoAP connector), zlib (GTFS zip archives), libxml2
# (DATEX II XML through Foundation), libsqlite3-dev (the SQLite backend) and sqlite3 (inspecting
# data files), python3 with venv (the test tools pinned in Tests/requirements.txt, installed into
# .venv); Leaflet and its marker clusters (the web map serves them from /usr/share/javascript),
# Chromium with its driver and Selenium (the web map's tests in a real browser), wrk and siege (the
# benchmarks' HTTP ceilings and command load, also run small by the tests).
DEBIAN_PACKAGES := postgresql-15 postgresql-15-postgis-3 postgresql-client-15 mosquitto mosquitto-clients libmosquitto-dev \
	libcoap3-dev libcoap3-bin zlib1g-dev libxml2 pkg-config libsqlite3-dev sqlite3 ca-certificates python3 python3-pip python3-venv \
	libjs-leaflet libjs-leaflet.markercluster chromium chromium-driver python3-selenium wrk siege

# More load tools for the benchmarks (make bench): JMeter with its HTTP sampler for the user
# pattern's test plan, and a JDK to compile bench/jmeter/CmcJMeter.java, which lets Debian's
# JMeter 2.13 load plans with Debian's XStream.
BENCH_PACKAGES := jmeter jmeter-http default-jdk-headless

PG_URL ?= postgres://postgres:cmc@127.0.0.1:5432/cmc_test
# The broker tests use, apart from the one `make run` starts on 1883.
TEST_BROKER_DIR ?= /tmp/cmc-mosquitto-test
TEST_MQTT_URL ?= mqtt://cmc:cmc-test@127.0.0.1:18830
CMC_PORT ?= 8080
CMC_ADMIN_EMAIL ?= admin@cmc.local
# The first admin's password: generated on the first `make run` into data/admin-password unless given.
CMC_ADMIN_PASSWORD ?=
SWIFT_BUILD_FLAGS ?=

.PHONY: run test portal-test api-test deps venv build release bench-build postgres broker test-broker bench bench-full bench-prepared bench-jmeter bench-deps bench-db openapi-check self-contained clean

## Install the Debian packages that are missing (needs root, as on a fresh Debian machine).
deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@command -v swift >/dev/null || { echo "swift is not on PATH (expected under /opt/swift)"; exit 1; }

build: deps
	swift build $(SWIFT_BUILD_FLAGS)

release: deps
	swift build -c release --product cmc

## The benchmarks' own executable (it runs `cmc simulate` beside it).
bench-build: release
	swift build -c release --product cmc-bench

## Start the local PostgreSQL 15 cluster on 127.0.0.1 and make the test database with PostGIS.
postgres: deps
	@pg_lsclusters -h | grep -q '^15 \+main' || pg_createcluster 15 main >/dev/null
	@pg_lsclusters -h | grep '^15 \+main' | grep -q online || pg_ctlcluster 15 main start
	@for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
	@# The tests run many platforms at once on both backends, each with its connection pool.
	@if [ "$$(su postgres -c "psql -qAt -c 'SHOW max_connections'")" -lt 400 ]; then \
		su postgres -c "psql -qAt -c 'ALTER SYSTEM SET max_connections = 400'" >/dev/null && pg_ctlcluster 15 main restart; \
		for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; \
	fi
	@su postgres -c "psql -qAt -c \"ALTER USER postgres PASSWORD 'cmc'\"" >/dev/null
	@su postgres -c "psql -qAt -c \"SELECT 1 FROM pg_database WHERE datname = 'cmc_test'\"" | grep -q 1 || su postgres -c "createdb cmc_test"
	@su postgres -c "psql -qAt -d cmc_test -c 'CREATE EXTENSION IF NOT EXISTS postgis; CREATE EXTENSION IF NOT EXISTS btree_gist'" >/dev/null
	@echo "PostgreSQL ready: $(PG_URL)"

## Mosquitto for the tests, with its dynamic security plugin (admin account "cmc").
test-broker: deps
	@connectors/mqtt/broker $(TEST_BROKER_DIR) 18830 cmc-test
	@echo "Mosquitto ready: $(TEST_MQTT_URL)"

## Mosquitto for `make run`, its state and generated admin password under data/mosquitto.
broker: deps
	@mkdir -p data/mosquitto
	@[ -s data/mosquitto/admin-password ] || head -c 18 /dev/urandom | base64 | tr -d '/+=' > data/mosquitto/admin-password
	@connectors/mqtt/broker data/mosquitto 1883 "$$(cat data/mosquitto/admin-password)"

## The PyPI test tools of Tests/requirements.txt in .venv, made again when the file changes.
VENV := .venv
venv: $(VENV)/installed
$(VENV)/installed: Tests/requirements.txt | deps
	@[ -x $(VENV)/bin/python ] || /usr/bin/python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r Tests/requirements.txt
	@touch $@

## The OpenAPI document must be valid OpenAPI 3.1 (route coverage is checked by the Swift tests).
openapi-check: venv
	$(VENV)/bin/python -m openapi_spec_validator Sources/Platform/openapi.json

## The API against its document (schemathesis, bounded and seeded), on SQLite and on PostgreSQL.
CONFORMANCE_PG := postgres://postgres:cmc@127.0.0.1:5432/cmc_conformance
api-test: venv postgres test-broker
	swift build $(SWIFT_BUILD_FLAGS) --product cmc
	CMC_TEST_MQTT_URL=$(TEST_MQTT_URL) $(VENV)/bin/python Tests/APIConformanceTests/api_conformance.py --schemathesis $(VENV)/bin/schemathesis
	@su postgres -c "dropdb --if-exists cmc_conformance && createdb cmc_conformance" && \
		su postgres -c "psql -qAt -d cmc_conformance -c 'CREATE EXTENSION IF NOT EXISTS postgis; CREATE EXTENSION IF NOT EXISTS btree_gist'" >/dev/null
	CMC_TEST_MQTT_URL=$(TEST_MQTT_URL) $(VENV)/bin/python Tests/APIConformanceTests/api_conformance.py --schemathesis $(VENV)/bin/schemathesis \
		--database $(CONFORMANCE_PG)

## Every test, on SQLite and on PostgreSQL + PostGIS, the API against its document, then the web
## map in headless Chromium.
test: deps postgres test-broker openapi-check self-contained
	@# One test at a time: each starts whole platforms (both backends, broker clients, servers),
	@# and on two cores a serial run is as fast as a parallel one and its timings are its own.
	CMC_TEST_POSTGRES_URL=$(PG_URL) CMC_REQUIRE_POSTGRES=1 CMC_TEST_MQTT_URL=$(TEST_MQTT_URL) CMC_REQUIRE_MQTT=1 \
		swift test --no-parallel $(SWIFT_BUILD_FLAGS)
	$(MAKE) --no-print-directory api-test
	$(MAKE) --no-print-directory portal-test

## Nothing a test, benchmark or target reads lies outside the repository, so a clone alone passes
## `make test`; the check first shows it catches each kind of escape.
self-contained: deps
	python3 Tests/SelfContained/check.py --self-test
	python3 Tests/SelfContained/check.py

## The web map against a running platform with the demo city; screenshots in data/portal-screenshots/.
## Debian's python3 (it has python3-selenium), whatever python3 comes first on PATH.
portal-test: deps test-broker
	swift build $(SWIFT_BUILD_FLAGS) --product cmc
	CMC_TEST_MQTT_URL=$(TEST_MQTT_URL) /usr/bin/python3 Tests/PortalTests/portal_test.py

## Build and start the platform on ./data/cmc.sqlite with the demo city: its feed publisher on
## 127.0.0.1:8090 (read by connectors/cagliari-*.json) runs beside the platform and stops with it.
run: release broker
	@mkdir -p data
	@[ -n "$(CMC_ADMIN_PASSWORD)" ] || [ -s data/admin-password ] || head -c 18 /dev/urandom | base64 | tr -d '/+=' > data/admin-password
	@echo "portal and API: http://127.0.0.1:$(CMC_PORT)/  (first admin: $(CMC_ADMIN_EMAIL), password: $(or $(CMC_ADMIN_PASSWORD),$$(cat data/admin-password)))"
	@.build/release/cmc demo feeds --port 8090 > data/demo-feeds.log 2>&1 & feeds=$$!; trap "kill $$feeds 2>/dev/null" EXIT INT TERM; \
	CMC_PORT=$(CMC_PORT) CMC_ADMIN_EMAIL=$(CMC_ADMIN_EMAIL) CMC_ADMIN_PASSWORD="$(or $(CMC_ADMIN_PASSWORD),$$(cat data/admin-password))" \
		CMC_MQTT_URL="mqtt://cmc:$$(cat data/mosquitto/admin-password)@127.0.0.1:1883" .build/release/cmc serve

## Benchmarks (release build): the published evaluations' workloads beside this machine's
## ceilings, figures and JSON in data/bench/, a chart in data/bench/pattern.svg; bench/RESULTS.md
## keeps the latest ones. `make bench` is a reduced set (under ten minutes); `make bench-full`
## the whole grid (440 to 440,000 devices, 10 to 10,000 users, both backends; about two hours).
BENCH_DIR := data/bench
BENCH_PG := postgres://postgres:cmc@127.0.0.1:5432/cmc_bench
BENCH_MQTT = mqtt://cmc:$$(cat data/mosquitto/admin-password)@127.0.0.1:1883
CMC_BIN := .build/release/cmc
BENCH_BIN := .build/release/cmc-bench

bench-deps: deps
	@missing=$$(for p in $(BENCH_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# A fresh benchmark database, before each PostgreSQL run.
BENCH_DB_RESET := su postgres -c "dropdb --if-exists cmc_bench && createdb cmc_bench" && \
	su postgres -c "psql -qAt -d cmc_bench -c 'CREATE EXTENSION IF NOT EXISTS postgis; CREATE EXTENSION IF NOT EXISTS btree_gist'" >/dev/null

bench-db: postgres
	@$(BENCH_DB_RESET)

bench: bench-build broker bench-deps
	@mkdir -p $(BENCH_DIR)
	$(BENCH_BIN) pattern --devices 440 --users 10,100 --iterations 50 --json $(BENCH_DIR)/pattern-440-sqlite.json
	$(BENCH_BIN) pattern --devices 44000 --users 100,1000 --iterations 50 --max-seconds 30 --ramp-up 1000 --json $(BENCH_DIR)/pattern-44000-sqlite.json
	$(MAKE) --no-print-directory bench-db
	$(BENCH_BIN) pattern --devices 440 --users 10,100 --iterations 50 --database $(BENCH_PG) --json $(BENCH_DIR)/pattern-440-postgres.json
	$(BENCH_BIN) commands --mqtt "$(BENCH_MQTT)" --users 50,100,150,200 --siege --json $(BENCH_DIR)/commands.json
	$(BENCH_BIN) commands --mqtt "$(BENCH_MQTT)" --users 1 --repetitions 30 --json $(BENCH_DIR)/commands-one-user.json
	$(BENCH_BIN) ingest --mqtt "$(BENCH_MQTT)" --readings 50000 --coap-requests 1000
	$(BENCH_BIN) chart --output $(BENCH_DIR)/pattern.svg $(BENCH_DIR)/pattern-*.json
	$(MAKE) --no-print-directory bench-jmeter JMETER_DEVICES=440 JMETER_USERS=100 JMETER_ITERATIONS=20

## PostgreSQL's hot statements prepared or not (`prepared_statements=off|on` in the URL): the
## user pattern on PostgreSQL at 440 and 44,000 devices, each both ways, in one run.
bench-prepared: bench-build postgres bench-deps
	@mkdir -p $(BENCH_DIR)
	for devices in 440 44000; do for prepared in off on; do \
		$(BENCH_DB_RESET) || exit 1; \
		$(BENCH_BIN) pattern --devices $$devices --users 100,1000 --iterations 50 --max-seconds 30 --ramp-up 1000 \
			--database "$(BENCH_PG)?prepared_statements=$$prepared" --json $(BENCH_DIR)/prepared-$$devices-$$prepared.json || exit 1; \
	done; done

bench-full: bench-build broker postgres bench-deps
	@mkdir -p $(BENCH_DIR)
	for devices in 440 4400 44000 440000; do \
		$(BENCH_BIN) pattern --devices $$devices --users 10,100,1000,10000 --iterations 50 --max-seconds 120 --ramp-up 1000 \
			--json $(BENCH_DIR)/pattern-$$devices-sqlite.json || exit 1; \
		$(BENCH_DB_RESET) || exit 1; \
		$(BENCH_BIN) pattern --devices $$devices --users 10,100,1000,10000 --iterations 50 --max-seconds 120 --ramp-up 1000 \
			--database $(BENCH_PG) --json $(BENCH_DIR)/pattern-$$devices-postgres.json || exit 1; \
	done
	$(BENCH_BIN) geo --devices 440000
	$(MAKE) --no-print-directory bench-db
	$(BENCH_BIN) geo --devices 440000 --database $(BENCH_PG)
	$(BENCH_BIN) commands --mqtt "$(BENCH_MQTT)" --users 50,100,150,200 --repetitions 10 --siege --json $(BENCH_DIR)/commands.json
	$(BENCH_BIN) commands --mqtt "$(BENCH_MQTT)" --users 1 --repetitions 100 --json $(BENCH_DIR)/commands-one-user.json
	$(BENCH_BIN) ingest --mqtt "$(BENCH_MQTT)"
	$(BENCH_BIN) chart --output $(BENCH_DIR)/pattern.svg $(BENCH_DIR)/pattern-*.json
	$(MAKE) --no-print-directory bench-jmeter JMETER_DEVICES=44000 JMETER_USERS=100 JMETER_ITERATIONS=50

## The user pattern driven by Apache JMeter (bench/jmeter/cmc-pattern.jmx) against the benchmark
## device set served by `cmc-bench pattern --serve-port`; its summary from the results file.
JMETER_DEVICES ?= 440
JMETER_USERS ?= 100
JMETER_ITERATIONS ?= 50
JMETER_PORT ?= 8091
JMETER_CP := /usr/share/jmeter/bin/ApacheJMeter.jar:/usr/share/jmeter/lib/*:/usr/share/jmeter/lib/ext/*
bench-jmeter: bench-build bench-deps
	@mkdir -p $(BENCH_DIR)/jmeter-launcher
	@javac -d $(BENCH_DIR)/jmeter-launcher -cp "$(JMETER_CP)" bench/jmeter/CmcJMeter.java
	@rm -f $(BENCH_DIR)/jmeter.jtl
	@$(BENCH_BIN) pattern --devices $(JMETER_DEVICES) --serve-port $(JMETER_PORT) > $(BENCH_DIR)/jmeter-server.log 2>&1 & server=$$!; \
	trap "kill $$server 2>/dev/null" EXIT INT TERM; \
	for i in $$(seq 1 600); do grep -q serving $(BENCH_DIR)/jmeter-server.log && break; sleep 0.5; done; \
	java -Djmeter.home=/usr/share/jmeter -cp "$(BENCH_DIR)/jmeter-launcher:$(JMETER_CP)" CmcJMeter \
		-n -t bench/jmeter/cmc-pattern.jmx -Jport=$(JMETER_PORT) -Jusers=$(JMETER_USERS) -Jiterations=$(JMETER_ITERATIONS) \
		-Jjmeter.save.saveservice.output_format=csv -Jjmeter.save.saveservice.print_field_names=true \
		-l $(BENCH_DIR)/jmeter.jtl -j $(BENCH_DIR)/jmeter.log > /dev/null && \
	/usr/bin/python3 bench/jmeter/summary.py $(BENCH_DIR)/jmeter.jtl

clean:
	rm -rf .build data $(VENV)
