-- The ATS's four-eyes check of paper scans (issue 17): entries confirmed on a signed paper
-- diary carry the check of its scan (`awaiting_check`, `checked`, `refused`; NULL for
-- confirmations through FirmaLOM), so the cost report can hold them as "awaiting check".
-- A read model column like the others: a rebuild recomputes it from the log.
ALTER TABLE rm_entries ADD COLUMN scan_check TEXT;
