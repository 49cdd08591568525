-- A schema exercising every catalog feature the introspection reads.
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE SCHEMA billing;

CREATE TABLE public.users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL,
    handle varchar(40) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    CONSTRAINT users_handle_key UNIQUE (handle)
);
CREATE UNIQUE INDEX users_email_lower_uidx ON public.users (lower(email));
CREATE INDEX users_created_desc_idx ON public.users (created_at DESC NULLS LAST, id);
CREATE INDEX users_deleted_first_idx ON public.users (deleted_at NULLS FIRST);
CREATE INDEX users_active_idx ON public.users (created_at) WHERE deleted_at IS NULL;
CREATE INDEX users_handle_pattern_idx ON public.users (handle varchar_pattern_ops);
CREATE INDEX users_email_pattern_idx ON public.users (email text_pattern_ops);
CREATE INDEX users_email_c_idx ON public.users (email COLLATE "C");
CREATE INDEX users_email_incl_idx ON public.users (email) INCLUDE (handle, created_at);

CREATE TABLE billing."Invoices" (
    "InvoiceId" integer NOT NULL,
    "userId" bigint NOT NULL REFERENCES public.users (id),
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    period tstzrange NOT NULL,
    room int NOT NULL,
    PRIMARY KEY ("InvoiceId"),
    CONSTRAINT no_overlap EXCLUDE USING gist (room WITH =, period WITH &&)
);
CREATE INDEX "Invoices_user_amount_idx" ON billing."Invoices" ("userId", amount DESC);

CREATE TABLE billing.lines (
    invoice_id integer NOT NULL,
    line_no smallint NOT NULL,
    sku text,
    PRIMARY KEY (invoice_id, line_no),
    FOREIGN KEY (invoice_id) REFERENCES billing."Invoices" ("InvoiceId")
);

CREATE TABLE public.events (
    id bigint NOT NULL,
    occurred_at date NOT NULL,
    user_id bigint,
    payload jsonb,
    PRIMARY KEY (id, occurred_at)
) PARTITION BY RANGE (occurred_at);
CREATE TABLE public.events_2024 PARTITION OF public.events
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE public.events_2025 PARTITION OF public.events
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE INDEX events_user_idx ON public.events (user_id);
CREATE INDEX events_payload_gin ON public.events USING gin (payload jsonb_path_ops);
CREATE UNIQUE INDEX events_id_uidx ON public.events (id, occurred_at) WHERE user_id IS NOT NULL;

CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    NEW.created_at := now(); -- a semicolon inside a dollar-quoted body
    RETURN NEW;
END
$fn$;
COMMENT ON TABLE public.users IS 'people; with a semicolon';
