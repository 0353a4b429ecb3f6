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
	src/expiry_worker.o \
	src/allocation.o \
	src/redis_sentinel.o \
	src/slots.o \
	src/csv_reader.o \
	src/bulk.o \
	src/privileges.o \
	src/extension_drop.o \
	src/stock_write.o

EXTENSION = inventory
DATA = inventory--1.0.sql inventory--1.0--1.1.sql
PGFILEDESC = "inventory - supplier stock that is never oversold"

# pg_regress suites, in run order: sql/NAME.sql against expected/NAME.out.
REGRESS = setup adjust reserve order_lines lifecycle expire ledger verify \
	alerts calendar ringfence slots bulk stock_write \
	cleanup

# Two-session races, run by isolationtester.
ISOLATION = last_unit confirm_vs_release adjust_vs_reserve double_release set_vs_slots \
	retried_line hot_slots made_to_order_flip bulk_vs_adjust config_cache \
	stock_chain slot_hint bulk_vs_confirm
ISOLATION_OPTS = --inputdir=test/isolation

# The suites run against an installed server (make installcheck);
# test/run_all.sh starts a private one for them.

PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter
SHLIB_LINK = -lhiredis -lcsv

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The alert consumer daemon, a libpq and libcurl client built beside the
# extension and installed with the server's programs.
ALERTS_PROGRAM = inventory-alerts
ALERTS_OBJS = src/alerts/inventory_alerts.o
EXTRA_CLEAN = $(ALERTS_PROGRAM) $(ALERTS_OBJS)

all: $(ALERTS_PROGRAM)

$(ALERTS_OBJS): CPPFLAGS := -I$(shell $(PG_CONFIG) --includedir) $(CPPFLAGS)

$(ALERTS_PROGRAM): $(ALERTS_OBJS)
	$(CC) $(CFLAGS) -o $@ $(ALERTS_OBJS) $(LDFLAGS) \
		-L$(shell $(PG_CONFIG) --libdir) -lpq -lcurl

install: install-alerts

install-alerts: $(ALERTS_PROGRAM)
	$(MKDIR_P) '$(DESTDIR)$(bindir)'
	$(INSTALL_PROGRAM) $(ALERTS_PROGRAM) '$(DESTDIR)$(bindir)/$(ALERTS_PROGRAM)'

.PHONY: install-alerts
