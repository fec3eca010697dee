/* echo.c: an example dagu plugin in C, a native library with dagu's C ABI (kind "dylib").
 *
 * Build: cc -shared -fPIC -O2 -o libc_echo.so echo.c
 *
 * The step type c-echo logs config.message to the step's stdout and returns it as the
 * output MESSAGE. config.mode "wait" waits until the host cancels the run; "crash" aborts
 * the whole process (the host fails the step and starts the plugin again for the next).
 *
 * To stay dependency-free it reads the request with a deliberately small JSON lookup that
 * knows only what dagu sends (compact JSON, "config" an object of plain fields); a real
 * plugin would use a JSON library (cJSON, jansson, ...). It keeps no global state, so runs
 * on several threads at once are safe. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dagu_plugin.h"

static const char MANIFEST[] =
    "{\"name\":\"c-echo\",\"version\":\"0.1.0\",\"protocol\":\"dagu-plugin/1\","
    "\"step_types\":[{\"name\":\"c-echo\","
    "\"description\":\"Logs a message and returns it as the output MESSAGE\","
    "\"config_schema\":{\"type\":\"object\",\"properties\":{"
    "\"message\":{\"type\":\"string\"},\"mode\":{\"enum\":[\"normal\",\"wait\",\"crash\"]}},"
    "\"required\":[\"message\"],\"additionalProperties\":false}}],"
    "\"capabilities\":{}}";

/* The end of the JSON string starting at `p` (just past its opening quote). */
static const char *string_end(const char *p)
{
    while (*p && *p != '"') {
        if (*p == '\\' && p[1])
            p++;
        p++;
    }
    return p;
}

/* A copy of the request's "config" object, or NULL. */
static char *config_object(const char *request)
{
    const char *start = strstr(request, "\"config\":{");
    if (!start)
        return NULL;
    start += strlen("\"config\":");
    int depth = 0;
    for (const char *p = start; *p; p++) {
        if (*p == '"') {
            p = string_end(p + 1);
            if (!*p)
                return NULL;
        } else if (*p == '{' || *p == '[') {
            depth++;
        } else if ((*p == '}' || *p == ']') && --depth == 0) {
            return strndup(start, (size_t)(p - start + 1));
        }
    }
    return NULL;
}

/* The raw (still escaped) text of the string field `key` of `object`, or NULL. */
static const char *string_field(const char *object, const char *key, size_t *len)
{
    char needle[64];
    snprintf(needle, sizeof needle, "\"%s\":\"", key);
    const char *start = strstr(object, needle);
    if (!start)
        return NULL;
    start += strlen(needle);
    *len = (size_t)(string_end(start) - start);
    return start;
}

/* The text of an escaped JSON string (\uXXXX becomes '?'). */
static char *unescape(const char *raw, size_t len)
{
    char *out = malloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = raw[i];
        if (c == '\\' && i + 1 < len) {
            c = raw[++i];
            switch (c) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'u': c = '?'; i += (len - i > 4) ? 4 : len - i - 1; break;
            default: break; /* \" \\ \/ */
            }
        }
        out[n++] = c;
    }
    out[n] = '\0';
    return out;
}

/* Every string returned is malloc'd, for dagu_plugin_free. */
char *dagu_plugin_describe(void)
{
    return strdup(MANIFEST);
}

char *dagu_plugin_run(const char *request_json, const DaguHost *host)
{
    char *config = config_object(request_json);
    size_t len = 0, mode_len = 0;
    const char *message = config ? string_field(config, "message", &len) : NULL;
    if (!message) {
        free(config);
        return strdup("{\"err\":{\"kind\":\"invalid_config\","
                      "\"message\":\"config.message must be a string\"}}");
    }
    char *line = unescape(message, len);
    host->log(host->ctx, DAGU_STDOUT, line);
    free(line);

    const char *mode = string_field(config, "mode", &mode_len);
    if (mode && mode_len == 5 && strncmp(mode, "crash", 5) == 0) {
        host->log(host->ctx, DAGU_STDERR, "crashing on purpose");
        abort();
    }
    if (mode && mode_len == 4 && strncmp(mode, "wait", 4) == 0) {
        const struct timespec tick = {0, 10 * 1000 * 1000};
        while (!host->is_cancelled(host->ctx))
            nanosleep(&tick, NULL);
        free(config);
        return strdup("{\"err\":{\"kind\":\"cancelled\"}}");
    }

    /* The escaped text goes into the answer as it came: it is valid JSON already. */
    const char *format = "{\"ok\":{\"exit_code\":0,\"outputs\":[[\"MESSAGE\",\"%.*s\"]]}}";
    size_t size = strlen(format) + len + 1;
    char *out = malloc(size);
    snprintf(out, size, format, (int)len, message);
    free(config);
    return out;
}

void dagu_plugin_free(char *text)
{
    free(text);
}
