-- CoAP connector: each device's key, for `?k=` over UDP and as its DTLS pre-shared key.
-- Kept readable because a PSK handshake needs the key itself, not a hash of it.
CREATE TABLE coap_device_keys (
    device_id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    issued_at BIGINT NOT NULL
);
