"""Credits: the ledger (milli-credits), grants, holds; later packages and Paddle."""
