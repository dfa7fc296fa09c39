/*
 * http_whoami.c - GET /api/v1/whoami: the calling token's role, tenant, name
 * and id, and the actions its role may perform (pw_auth_allows, auth.c), so
 * a client (the web dashboard) knows what to show without probing endpoints
 * for 403s. Any valid token may ask; the answer is about the token only and
 * holds no stored data.
 *
 *   {"status":"success","data":{"role":"tenant","tenant":"unit-a","name":"ops",
 *    "token_id":"0123456789ab","scope":"tenant","actions":["read_metrics",...]}}
 *
 * tenant is null for roles other than tenant; scope is "all" or "tenant"
 * (what the tenant scope of scope.h makes of the token); actions are in the
 * order of pw_action.
 */
#include "http.h"

void
pw_http_whoami(pw_http_call *c)
{
    const pw_principal *who = c->who;
    json_t             *d = json_object(), *acts = json_array();
    bool                ok;

    if (who == NULL) {          /* the route needs a token: cannot happen */
        json_decref(d);
        json_decref(acts);
        pw_http_error(c, 401, "unauthorized", "authentication required");
        return;
    }
    ok = d != NULL && acts != NULL;
    for (int a = 0; ok && a < PW_ACT_COUNT_; a++)
        if (pw_auth_allows(who, (pw_action) a) && pw_action_name((pw_action) a) != NULL)
            ok = json_array_append_new(acts, json_string(pw_action_name((pw_action) a))) == 0;
    ok = ok && json_object_set_new(d, "role", json_string(pw_role_name(who->role))) == 0
        && json_object_set_new(d, "tenant", who->role == PW_ROLE_TENANT ? json_string(who->tenant)
                                                                         : json_null()) == 0
        && json_object_set_new(d, "name", json_string(who->name)) == 0
        && json_object_set_new(d, "token_id", json_string(who->token_id)) == 0
        && json_object_set_new(d, "scope", json_string(pw_scope_is_all(c->scope) ? "all"
                                                       : "tenant")) == 0
        && json_object_set(d, "actions", acts) == 0;
    json_decref(acts);
    if (!ok) {
        json_decref(d);
        pw_http_error(c, 503, "unavailable", "out of memory");
        return;
    }
    pw_http_success(c, d);
}
