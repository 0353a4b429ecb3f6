/*-------------------------------------------------------------------------
 *
 * redis_sentinel.h
 *		Finding the Redis master through Redis Sentinel, for the lock
 *		service worker.
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		src/redis_sentinel.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef INVENTORY_REDIS_SENTINEL_H
#define INVENTORY_REDIS_SENTINEL_H

/* Longest host name, and most sentinels, that the settings accept */
#define INV_REDIS_HOST_LEN		256
#define INV_MAX_SENTINELS		16

/* Settings */
extern char *inv_redis_sentinels;
extern char *inv_redis_master_name;

extern void inv_sentinel_define_settings(void);
extern void inv_sentinel_shmem_init(void);
extern bool inv_sentinel_enabled(void);
extern bool inv_sentinel_find_master(char *host, int *port, char *error);
extern bool inv_redis_error_demoted(const char *message);
extern void inv_sentinel_note_server(const char *host, int port);

#endif							/* INVENTORY_REDIS_SENTINEL_H */
