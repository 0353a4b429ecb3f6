# inventory/Makefile

MODULE_big = inventory
OBJS = \
	$(WIN32RES) \
	src/inventory.o \
	src/catalog.o \
	src/spi_util.o \
	src/ledger.o \
	src/stock.o \
	src/reservation.o \
	src/verify.o \
	src/lock_shmem.o \
	src/lock_worker.o \
	src/order_lock.o \
	src/expiry_worker.o

EXTENSION = inventory
DATA = inventory--1.0.sql
PGFILEDESC = "inventory - supplier stock that is never oversold"

# pg_regress suites, in run order: sql/NAME.sql against expected/NAME.out.
REGRESS = setup adjust reserve order_lines lifecycle expire ledger verify \
	cleanup

# Two-session races, run by isolationtester.
ISOLATION = last_unit confirm_vs_release adjust_vs_reserve double_release \
	retried_line
ISOLATION_OPTS = --inputdir=test/isolation

# The suites run against an installed server (make installcheck);
# test/run_all.sh starts a private one for them.

PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter
SHLIB_LINK = -lhiredis

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
