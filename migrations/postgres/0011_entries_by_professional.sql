-- A professional's entries by day across cases and measures (GET /v1/me/entries; the per-person
-- daily view of issue 17 reads the same index).
CREATE INDEX rm_entries_professional ON rm_entries (professional, service_date);
