-- The installation's certificate authority: it signs every instance's server certificate, and
-- clients verify against it (GET /v1/ca.pem). The newest row signs; older rows stay trusted
-- until their certificates expire. The private key is sealed with KEEL_SECRET_KEY.
create table certificate_authorities (
    id           uuid           primary key,
    certificate  varchar(8000)  not null,
    private_key  bytea          not null,
    created_at   timestamptz    not null default now()
);
