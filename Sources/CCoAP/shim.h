#include <coap3/coap.h>
#include <arpa/inet.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>

// Helpers for what Swift cannot reach directly: the socket address union and macros.

static inline coap_endpoint_t *cmc_coap_listen(coap_context_t *context, const char *host, uint16_t port, coap_proto_t proto) {
    coap_address_t address;
    coap_address_init(&address);
    address.addr.sin.sin_family = AF_INET;
    address.addr.sin.sin_port = htons(port);
    if (inet_pton(AF_INET, host, &address.addr.sin.sin_addr) != 1) return NULL;
    address.size = sizeof(address.addr.sin);
    return coap_new_endpoint(context, &address, proto);
}


static inline int cmc_coap_set_psk(coap_context_t *context, coap_dtls_id_callback_t callback, void *argument) {
    coap_dtls_spsk_t setup;
    memset(&setup, 0, sizeof(setup));
    setup.version = COAP_DTLS_SPSK_SETUP_VERSION;
    setup.validate_id_call_back = callback;
    setup.id_call_back_arg = argument;
    static const uint8_t hint[] = "cmc";
    setup.psk_info.hint.s = hint;
    setup.psk_info.hint.length = 3;
    return coap_context_set_psk2(context, &setup);
}

static inline coap_pdu_code_t cmc_coap_code(int code) {
    return (coap_pdu_code_t)COAP_RESPONSE_CODE(code);
}

static inline void cmc_coap_content_format(coap_pdu_t *pdu, uint16_t format) {
    uint8_t buffer[4];
    coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT, coap_encode_var_safe(buffer, sizeof(buffer), format), buffer);
}
