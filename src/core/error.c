#include "sluice/error.h"

const char *sl_strerror(sl_err err)
{
    switch (err) {
#define SL__ERR_TEXT(name, value, text)                                                            \
    case name:                                                                                     \
        return text;
        SL_ERR_LIST(SL__ERR_TEXT)
#undef SL__ERR_TEXT
    }
    return "unknown error";
}

const char *sl_errname(sl_err err)
{
    switch (err) {
#define SL__ERR_NAME(name, value, text)                                                            \
    case name:                                                                                     \
        return #name;
        SL_ERR_LIST(SL__ERR_NAME)
#undef SL__ERR_NAME
    }
    return "SL_EUNKNOWN";
}
