/* lib/core/status.c -- status names and the thread-local last-error message. */
#include "core/core.h"

#include <stdio.h>
#include <string.h>

#define DH_ERRBUF 1024
static _Thread_local char tl_err[DH_ERRBUF];

const char *dh_status_str(dh_status st)
{
    switch (st) {
    case DH_OK: return "DH_OK: success";
    case DH_E_INVALID_ARG: return "DH_E_INVALID_ARG: invalid argument";
    case DH_E_NO_MEMORY: return "DH_E_NO_MEMORY: out of memory";
    case DH_E_SHAPE: return "DH_E_SHAPE: dimensions disagree";
    case DH_E_FORMAT: return "DH_E_FORMAT: malformed or corrupt input";
    case DH_E_VERSION: return "DH_E_VERSION: newer format or struct than this library";
    case DH_E_BACKEND: return "DH_E_BACKEND: oneDNN/BLAS failure";
    case DH_E_IO: return "DH_E_IO: file operation failed";
    case DH_E_NOT_FOUND: return "DH_E_NOT_FOUND: not found";
    case DH_E_UNSUPPORTED: return "DH_E_UNSUPPORTED: not supported by this build or CPU";
    case DH_E_STATE: return "DH_E_STATE: call not valid in the object's state";
    case DH_E_INTERRUPTED: return "DH_E_INTERRUPTED: stopped by callback";
    case DH_E_INTERNAL: return "DH_E_INTERNAL: internal error";
    default: return "DH_E_UNKNOWN: unknown status code";
    }
}

const char *dh_last_error(void) { return tl_err; }

void dh_clear_error(void) { tl_err[0] = '\0'; }

dh_status dh_set_error(dh_status st, const char *message)
{
    snprintf(tl_err, sizeof tl_err, "%s", message ? message : "");
    return st;
}

dh_status dh__set_errorv(dh_status st, const char *fmt, va_list ap)
{
    vsnprintf(tl_err, sizeof tl_err, fmt, ap);
    return st;
}

dh_status dh__set_error(dh_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dh__set_errorv(st, fmt, ap);
    va_end(ap);
    return st;
}

void dh__error_prefix(const char *fmt, ...)
{
    char old[DH_ERRBUF], pre[256];
    va_list ap;
    memcpy(old, tl_err, sizeof old);
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    snprintf(tl_err, sizeof tl_err, "%s: %s", pre, old);
}
