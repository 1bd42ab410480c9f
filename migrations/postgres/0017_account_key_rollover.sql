-- Account key rollover (RFC 8555 §7.3.5). A new key is stored sealed as `pending_credentials`
-- before the CA is asked to change keys, so a crash between the CA accepting and the store
-- recording it cannot lose the only key the CA still accepts; once the CA has answered, one
-- statement makes it the account's `sealed_credentials` and clears the pending one. On the next
-- use of the account a leftover pending key is resolved by asking the CA which key it holds.
-- `key_thumbprint` is the RFC 7638 thumbprint of the current key (it ends every key
-- authorization); NULL for accounts registered before this migration until their actor next
-- restores them. `key_rolled_at` is when the key was last changed (unix milliseconds).

ALTER TABLE acme_accounts ADD COLUMN pending_credentials BYTEA;
ALTER TABLE acme_accounts ADD COLUMN key_thumbprint TEXT;
ALTER TABLE acme_accounts ADD COLUMN key_rolled_at BIGINT;
