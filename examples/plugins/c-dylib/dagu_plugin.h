/* dagu_plugin.h: the C ABI (version 1) of dagu's native plugin libraries, kind "dylib".
 * Specified in docs/plugin-protocol.md, section "Native libraries". */
#ifndef DAGU_PLUGIN_H
#define DAGU_PLUGIN_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* `stream` of DaguHost.log. */
#define DAGU_STDOUT 0u
#define DAGU_STDERR 1u

/* What a running step can reach; valid only during the dagu_plugin_run call it is
 * passed to. Pass `ctx` back to both functions. */
typedef struct DaguHost {
    void *ctx;
    /* One line of UTF-8 text (NUL-terminated, no newline needed) to the step's log. */
    void (*log)(void *ctx, uint32_t stream, const char *line);
    /* Whether the host asked this run to stop. */
    bool (*is_cancelled)(void *ctx);
} DaguHost;

/* The manifest as JSON, allocated so that dagu_plugin_free can free it. */
char *dagu_plugin_describe(void);

/* Runs one step: `request_json` is a run request; returns the outcome as JSON,
 * {"ok": response} or {"err": error}, allocated for dagu_plugin_free. Called on one thread
 * per run, several at once. */
char *dagu_plugin_run(const char *request_json, const DaguHost *host);

/* Frees a string the two functions above returned. */
void dagu_plugin_free(char *text);

#ifdef __cplusplus
}
#endif

#endif
