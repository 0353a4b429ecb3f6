/*-------------------------------------------------------------------------
 *
 * order_lock.h
 *		The order path's use of the cross-node lock service.
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		src/order_lock.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef INVENTORY_ORDER_LOCK_H
#define INVENTORY_ORDER_LOCK_H

#include "lock_service.h"

extern void inv_order_lock_init(void);
extern InvLockScope inv_order_lock_scope(void);
extern void inv_lock_key(int64 supplier_id, int64 product_id, char *key);
extern int64 inv_order_lock_acquire(int64 supplier_id, int64 product_id,
									char *token_out);
extern int64 inv_order_lock_refence(int64 supplier_id, int64 product_id,
									const char *token, int64 floor);
extern void inv_order_lock_note(int64 supplier_id, int64 product_id,
								const char *token, int64 reservation_id,
								TimestampTz expires_at);
extern void inv_order_lock_release_at_commit(int64 supplier_id,
											 int64 product_id,
											 const char *token);

#endif							/* INVENTORY_ORDER_LOCK_H */
