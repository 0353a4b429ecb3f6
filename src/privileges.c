/*-------------------------------------------------------------------------
 *
 * privileges.c
 *		Who is calling: the role the ledger records, and who may name an
 *		actor.
 *
 * The extension's functions that write run as SECURITY DEFINER, so inside
 * them current_user is the extension's owner, not the caller.  The role
 * that called is the "outer" user: the session user, or the role chosen
 * with SET ROLE.  A SECURITY DEFINER function changes only the current
 * user and leaves the outer one alone, so the ledger and the retailer views
 * ask for the outer user.
 *
 * The actor (inventory.actor) is a claim made by the caller on behalf of
 * someone else, so only a role trusted to make it may set it: a member of
 * inventory_admin, a member of inventory_proxy (the role a trusted
 * application server is granted), or a superuser.  Any other role that
 * changes stock with an actor set is refused: silently dropping the claim
 * would hide a misconfigured application, and recording it would let the
 * role forge the ledger.
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		src/privileges.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"

#include "inventory.h"

/* The roles that may name an actor, besides superusers */
#define INV_ADMIN_ROLE	"inventory_admin"
#define INV_PROXY_ROLE	"inventory_proxy"

PG_FUNCTION_INFO_V1(inv_caller);

/*
 * inv_caller_name
 *		The name of the role that called, whatever SECURITY DEFINER
 *		function we are in.
 */
const char *
inv_caller_name(void)
{
	return GetUserNameFromId(GetOuterUserId(), false);
}

/*
 * inv_caller()
 *		SQL-callable: the calling role, for the extension's own SECURITY
 *		DEFINER functions (where current_user is their owner).
 */
Datum
inv_caller(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(DirectFunctionCall1(namein,
										CStringGetDatum(inv_caller_name())));
}

/*
 * inv_may_name_actor
 *		Whether role may set inventory.actor for the ledger.
 */
static bool
inv_may_name_actor(Oid role)
{
	Oid			admin = get_role_oid(INV_ADMIN_ROLE, true);
	Oid			proxy = get_role_oid(INV_PROXY_ROLE, true);

	if (superuser_arg(role))
		return true;
	if (OidIsValid(admin) && has_privs_of_role(role, admin))
		return true;
	if (OidIsValid(proxy) && has_privs_of_role(role, proxy))
		return true;
	return false;
}

/*
 * inv_ledger_actor
 *		The actor to record for a stock change, as a text datum, or null
 *		(with *null_flag set to 'n') when none is set.  Raises an error when
 *		the calling role may not name one.
 */
Datum
inv_ledger_actor(char *null_flag)
{
	Oid			caller = GetOuterUserId();

	if (inv_actor == NULL || inv_actor[0] == '\0')
	{
		*null_flag = 'n';
		return (Datum) 0;
	}

	if (!inv_may_name_actor(caller))
		ereport(ERROR,
				(errcode(ERRCODE_INV_ACTOR_NOT_ALLOWED),
				 errmsg("role \"%s\" may not name an actor for the inventory ledger",
						GetUserNameFromId(caller, false)),
				 errdetail("inventory.actor is set, but only members of %s or %s may record changes on behalf of someone else.",
						   INV_ADMIN_ROLE, INV_PROXY_ROLE),
				 errhint("Reset inventory.actor, or have an administrator grant %s to the application's role.",
						 INV_PROXY_ROLE)));

	*null_flag = ' ';
	return CStringGetTextDatum(inv_actor);
}
