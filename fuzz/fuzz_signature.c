/* libFuzzer: any Stripe-Signature header is parsed without crashing, and only a real signature
 * over the body passes. */
#include <stdlib.h>
#include <string.h>

#include "sluice/webhook.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
    char header[512];
    size_t n = len < sizeof header - 1 ? len : sizeof header - 1;
    memcpy(header, data, n);
    header[n] = '\0';
    const char *secrets[1] = {"whsec_fuzz"};
    const char body[] = "{\"id\":\"evt_1\"}";
    if (sl_webhook_verify(header, body, sizeof body - 1, secrets, 1, 0, 0) == SL_WEBHOOK_OK)
        abort(); /* forging an HMAC-SHA256 by chance would be news */
    return 0;
}
