-- +goose Up
-- The cluster's Graph budget (docs/graph.md#throttling): one token bucket per tenant and bucket
-- (any request, writes, directory) that every engine leases from, and a hold per tenant that a
-- Retry-After seen by one engine puts on all of them. Unlogged: after a crash the buckets start
-- full again, which is what an idle minute would do anyway. Expand only: new tables.
CREATE UNLOGGED TABLE graph_budgets (
    tenant      text NOT NULL,               -- the Entra tenant id, lower case
    bucket      text NOT NULL,
    tokens      double precision NOT NULL,   -- may be negative: leased ahead, repaid by time
    refilled_at timestamptz NOT NULL,
    PRIMARY KEY (tenant, bucket)
);
CREATE UNLOGGED TABLE graph_holds (
    tenant      text PRIMARY KEY,
    held_until  timestamptz NOT NULL
);

-- +goose Down
DROP TABLE graph_holds, graph_budgets;
