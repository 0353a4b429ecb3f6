/*-------------------------------------------------------------------------
 *
 * expiry_worker.h
 *		Background workers that expire lapsed reservations on a schedule.
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		src/expiry_worker.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef INVENTORY_EXPIRY_WORKER_H
#define INVENTORY_EXPIRY_WORKER_H

extern char *inv_expiry_databases;
extern int	inv_expiry_interval;

extern void inv_expiry_workers_register(void);

#endif							/* INVENTORY_EXPIRY_WORKER_H */
