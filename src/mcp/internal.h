/* What the files of the MCP server share (internal to src/mcp/). */
#ifndef SLUICE_MCP_INTERNAL_H
#define SLUICE_MCP_INTERNAL_H

#include <jansson.h>

#include "mcp/mcp.h"
#include "sluice/catalog.h"

/* sluice's own tools: one request to its REST API each. */
typedef struct sl_mcp_local {
    const char *name;
    const char *title;
    const char *description;
    const char *method;
    const char *path; /* under /api/; "%s" stands for the value of id_arg */
    const char *id_arg;
    const char *query_args[4]; /* optional string (or number) arguments passed as query */
    const char *body_arg;      /* the argument sent as the JSON body (POST), or NULL */
} sl_mcp_local_t;

typedef enum {
    SL_MCP_SEARCH,
    SL_MCP_DESCRIBE,
    SL_MCP_CALL,
    SL_MCP_ALIAS, /* a seed's named action */
    SL_MCP_OP,    /* one catalog operation (--all-operations) */
    SL_MCP_LOCAL, /* sluice's own */
} sl_mcp_kind;

typedef struct sl_mcp_tool {
    sl_mcp_kind kind;
    const char *name;
    const sl_op_t *op;       /* SL_MCP_ALIAS, SL_MCP_OP */
    const sl_alias_t *alias; /* SL_MCP_ALIAS */
    const sl_mcp_local_t *local;
    json_t *listed; /* its tools/list entry, made at first use */
} sl_mcp_tool_t;

struct sl_mcp {
    sl_mcp_config_t cfg;
    sl_mcp_tool_t *tools;
    size_t ntools;
};

/* The tools the configuration allows, in the order tools/list gives them (m->tools). */
int sl__mcp_tools_build(sl_mcp_t *m);

/* The tools/list entry of a tool (borrowed; made at first use). */
const json_t *sl__mcp_tool_json(sl_mcp_t *m, sl_mcp_tool_t *t);

/* Finds a listed tool by name; NULL if none. */
sl_mcp_tool_t *sl__mcp_tool_find(sl_mcp_t *m, const char *name);

/* Runs a tool with `args` (an object or NULL) and returns its CallToolResult (new reference). */
json_t *sl__mcp_tool_call(sl_mcp_t *m, sl_mcp_tool_t *t, const json_t *args);

/* JSON Schema of an operation's parameters, from sl_op_describe(): path parameters as
 * required strings, the others with their types, enums, required ones and nested objects. An
 * alias that takes an id its own way (its note says how) gets an `id` argument and optional path
 * parameters. Objects nested deeper than max_depth (0: no limit) keep only their type, and
 * nested descriptions their first sentence. New reference. */
json_t *sl__mcp_op_schema(const sl_op_t *op, const sl_alias_t *alias, int max_depth);

/* How deep the schemas of tools/list go (describe_operation has no limit). */
#define SL_MCP_LIST_DEPTH 2

/* Whether an operation writes (anything but GET). */
int sl__mcp_op_writes(const sl_op_t *op);

#endif
