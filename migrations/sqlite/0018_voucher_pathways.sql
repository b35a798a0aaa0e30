-- Seed 003 (autonomia 2016): the voucher pathway of a case (intensity, start, suspensions,
-- documents, confirmed service days, objectives, formal check), shown in the case view and
-- read by the voucher report. No case held a voucher before this migration, so no rebuild.
ALTER TABLE rm_cases ADD COLUMN voucher TEXT;
-- The ATS dashboard and the report read the voucher cases of an ATS only.
CREATE INDEX rm_cases_vouchers ON rm_cases (ats) WHERE voucher IS NOT NULL;
