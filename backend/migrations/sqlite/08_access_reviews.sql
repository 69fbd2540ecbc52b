-- Access review campaigns: one row per campaign, one per client in it (its
-- decision once made); an org's `review_enforcement` says whether clients
-- undecided after the due date are suspended; daily introspection counts.

ALTER TABLE orgs ADD COLUMN review_enforcement TEXT NOT NULL DEFAULT 'report';
CREATE TABLE review_campaigns (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    cause TEXT NOT NULL,
    note TEXT NOT NULL,
    opened_by TEXT NOT NULL,
    opened_at INTEGER NOT NULL,
    due_at INTEGER NOT NULL
);
CREATE INDEX review_campaigns_org ON review_campaigns(org_id);
CREATE TABLE review_items (
    campaign_id TEXT NOT NULL REFERENCES review_campaigns(id),
    client_ref TEXT NOT NULL REFERENCES clients(id),
    decision TEXT CHECK (decision IN ('keep', 'revoke')),
    comment TEXT,
    decided_by TEXT,
    decided_at INTEGER,
    PRIMARY KEY (campaign_id, client_ref)
);
CREATE INDEX review_items_undecided ON review_items(client_ref) WHERE decision IS NULL;
-- Successful introspections per client and UTC day (unix day number), for usage drift.
CREATE TABLE client_usage_daily (
    client_ref TEXT NOT NULL REFERENCES clients(id),
    day INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (client_ref, day)
);
