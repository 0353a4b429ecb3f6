/*-------------------------------------------------------------------------
 *
 * inventory.h
 *		Declarations shared by the inventory extension's source files.
 *
 * The extension keeps a supplier's stock of record in SQL tables and changes
 * it only through the functions declared here, each of which runs its
 * statements through plans prepared once per backend.  A stock change made by
 * one of these functions tells the ledger trigger what kind of change it is
 * through inv_current_change; a change made by plain SQL arrives with no
 * such context and is recorded as a direct one.
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		src/inventory.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef INVENTORY_H
#define INVENTORY_H

#include "executor/spi.h"

/*
 * SQLSTATEs of the class "IV", one per failure a caller may want to tell
 * apart.  The class lies in the range the SQL standard leaves to
 * implementations, so it cannot collide with PostgreSQL's own codes.
 */
#define ERRCODE_INV_UNKNOWN_PRODUCT			MAKE_SQLSTATE('I','V','0','0','1')
#define ERRCODE_INV_INSUFFICIENT_STOCK		MAKE_SQLSTATE('I','V','0','0','2')
#define ERRCODE_INV_INVALID_QUANTITY		MAKE_SQLSTATE('I','V','0','0','3')
#define ERRCODE_INV_UNKNOWN_RESERVATION		MAKE_SQLSTATE('I','V','0','0','4')
#define ERRCODE_INV_RESERVATION_FINISHED	MAKE_SQLSTATE('I','V','0','0','5')
#define ERRCODE_INV_STALE_STOCK_LEVEL		MAKE_SQLSTATE('I','V','0','0','6')
#define ERRCODE_INV_BELOW_RESERVED			MAKE_SQLSTATE('I','V','0','0','7')
#define ERRCODE_INV_ORDER_LINE_CONFLICT		MAKE_SQLSTATE('I','V','0','0','8')
#define ERRCODE_INV_NOT_CONFIGURED			MAKE_SQLSTATE('I','V','0','0','9')
#define ERRCODE_INV_ALREADY_CONFIGURED		MAKE_SQLSTATE('I','V','0','1','0')
#define ERRCODE_INV_LOCK_TIMEOUT			MAKE_SQLSTATE('I','V','0','1','1')
#define ERRCODE_INV_LOCK_UNAVAILABLE		MAKE_SQLSTATE('I','V','0','1','2')
#define ERRCODE_INV_STALE_FENCE				MAKE_SQLSTATE('I','V','0','1','3')
#define ERRCODE_INV_PRODUCT_IN_USE			MAKE_SQLSTATE('I','V','0','1','4')
#define ERRCODE_INV_CSV_SYNTAX				MAKE_SQLSTATE('I','V','0','2','0')
#define ERRCODE_INV_CSV_ENCODING			MAKE_SQLSTATE('I','V','0','2','1')
#define ERRCODE_INV_CSV_HEADER				MAKE_SQLSTATE('I','V','0','2','2')
#define ERRCODE_INV_BULK_CONCURRENT_CHANGE	MAKE_SQLSTATE('I','V','0','2','3')
#define ERRCODE_INV_CSV_FIELD_TOO_LONG		MAKE_SQLSTATE('I','V','0','2','4')
#define ERRCODE_INV_INVALID_SLOT_COUNT		MAKE_SQLSTATE('I','V','0','3','0')
#define ERRCODE_INV_SLOTS_WITH_ALLOCATION	MAKE_SQLSTATE('I','V','0','3','1')
#define ERRCODE_INV_ACTOR_NOT_ALLOWED		MAKE_SQLSTATE('I','V','0','4','0')

/* Longest order reference, in characters, as the reservation table allows */
#define INV_MAX_ORDER_REF	200

/*
 * A statement prepared on first use and kept for the life of the backend.
 * Declare one as a static variable next to the code that runs it.
 */
typedef struct InvPlan
{
	const char *sql;
	int			nargs;
	Oid			argtypes[16];
	SPIPlanPtr	plan;
} InvPlan;

/*
 * What a stock change is, as the ledger will record it.  kind is one of the
 * values the ledger's CHECK constraint allows; the other fields may be NULL
 * or zero.
 */
typedef struct InvChange
{
	const char *kind;
	const char *reason;
	const char *order_ref;
	int64		reservation_id;
	int64		batch_id;		/* the bulk load making it, or 0 */
	/* a per-product reason overriding reason, or NULL (bulk loads) */
	const char *(*reason_of) (int64 product_id, void *arg);
	void	   *reason_arg;
	/* if set, counts the ledger rows whose stock level moved (bulk loads) */
	int64	   *levels_moved;
} InvChange;

/* GUC variables (inventory.c) */
extern int	inv_reservation_timeout;
extern char *inv_actor;
extern char *inv_reason;

/* inventory.c */
extern int64 inv_get_supplier_id(void);

/* spi_util.c */
extern SPIPlanPtr inv_plan_get(InvPlan *plan);
extern int	inv_plan_run(InvPlan *plan, Datum *values, const char *nulls,
						 bool read_only, long count);
extern int	inv_plan_run_change(InvPlan *plan, Datum *values,
								const char *nulls, const InvChange *change);
extern const InvChange *inv_current_change(void);
extern const InvChange *inv_swap_change(const InvChange *change);
extern const char *inv_change_reason(const InvChange *change,
									 int64 product_id);
extern int64 inv_spi_int64(int row, int col, bool *isnull);
extern char *inv_spi_text(int row, int col);

/* allocation.c */
extern int64 inv_lock_stock_row(int64 supplier_id, int64 product_id);
extern int64 inv_fence_backed(int64 supplier_id, int64 product_id,
							  const char *retailer_id, int64 available);
extern void inv_fence_draw(int64 supplier_id, int64 product_id,
						   const char *retailer_id, int64 units);
extern int64 inv_fence_return(int64 supplier_id, int64 product_id,
							  const char *retailer_id, int64 units);

/* catalog.c */
extern int64 inv_resolve_product(int64 supplier_id, FunctionCallInfo fcinfo,
								 int argno);
extern int64 inv_product_by_id(int64 supplier_id, int64 product_id);
extern int64 inv_product_by_sku(int64 supplier_id, const char *sku);
extern void inv_report_missing_slot(int64 product_id) pg_attribute_noreturn();
extern int64 inv_resolve_product_slots(int64 supplier_id,
									   FunctionCallInfo fcinfo, int argno,
									   int *nslots);
extern int	inv_product_slots(int64 supplier_id, int64 product_id);

/* Most stock slots a product may have */
#define INV_MAX_SLOTS	64

/* slots.c */
extern int	inv_slot_claim(int64 supplier_id, int64 product_id, int nslots,
						   int64 quantity);
extern int	inv_slots_rebalance(int64 supplier_id, int64 product_id,
								int target, int64 need);
extern int64 inv_slots_gather(int64 supplier_id, int64 product_id);

/* privileges.c */
extern const char *inv_caller_name(void);
extern Datum inv_ledger_actor(char *null_flag);

/* extension_drop.c */
extern void inv_extension_drop_init(void);

/*
 * A change of one stock slot made by stock_write.c: each quantity grows by
 * its delta (stock_level only for stocked products), lock_fence becomes at
 * least fence, and the row qualifies only if no newer lock holder wrote to
 * it (fence > 0) and, with need_available, if it is made to order or its
 * shared pool holds reserved - ring_fenced units.
 */
typedef struct InvStockUpdate
{
	int64		supplier_id;
	int64		product_id;
	int16		slot;
	int64		stock_level;
	int64		reserved;
	int64		committed;
	int64		ring_fenced;
	int64		fence;
	bool		need_available;
} InvStockUpdate;

/* stock_write.c */
extern int	inv_stock_update(const InvStockUpdate *update,
							 const InvChange *change);
extern int	inv_stock_slot_count(int64 supplier_id, int64 product_id);
extern bool inv_constraint_columns(HeapTuple tuple, AttrNumber attnum,
								   int16 *columns);

/* What inv_stock_claim_slot returns besides a slot number */
#define INV_CLAIM_NONE		(-1)	/* no slot holds the units on its own */
#define INV_CLAIM_STATEMENT	(-2)	/* use the statements instead */

extern int	inv_stock_claim_slot(int64 supplier_id, int64 product_id,
								 int nslots, int64 quantity, int rounds);

/* A reservation row locked by inv_reservation_lock (stock_write.c) */
typedef struct InvHeldReservation
{
	ItemPointerData tid;		/* the locked version */
	HeapTuple	tuple;
	char	   *order_ref;
	int64		product_id;
	int16		slot;
	int64		quantity;
	Datum		state;
	bool		lapsed;			/* expires_at <= statement_timestamp() */
	Datum		expires_at;
	char	   *lock_token;		/* or NULL */
	char	   *retailer_id;	/* or NULL */
	int64		fenced_quantity;
} InvHeldReservation;

/* A new order line's reservation, for inv_reservation_insert */
typedef struct InvNewReservation
{
	int64		supplier_id;
	const char *order_ref;
	int64		product_id;
	int16		slot;
	const char *retailer_id;	/* or NULL */
	int64		quantity;
	double		timeout;		/* seconds from the statement's start */
	const char *lock_token;		/* or NULL */
	int64		lock_fence;		/* 0 for none */
	bool		stocked_product_locked; /* a stocked product, locked FOR
										 * KEY SHARE already */
} InvNewReservation;

extern int	inv_reservation_insert(const InvNewReservation *line,
								   HeapTuple *tuple, TupleDesc *tupdesc);
extern int	inv_reservation_line_before_claim(int64 supplier_id,
											  const char *order_ref,
											  int64 product_id);
extern int	inv_reservation_lock(int64 supplier_id, int64 reservation_id,
								 bool skip_locked, InvHeldReservation *held);
extern int	inv_reservation_set_state(const InvHeldReservation *held,
									  const char *state, Datum *new_state);

#endif							/* INVENTORY_H */
